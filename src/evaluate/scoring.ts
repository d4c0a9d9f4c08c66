/**
 * Scores from ONNX Runtime on the ONNX file itself (never from a gradient engine): pixels in [0,1]
 * are normalised by the model's preprocessing and run in batches; the score output is reduced to one
 * number per image. NaN scores are an error naming the image, never a number in a report.
 */
import { scoresOf, type ScoreSpec } from '../attacks/score.js';
import type { PixelMap } from '../attacks/pixels.js';
import { UserError } from '../errors.js';
import { openRunner, type ExecutionProvider, type Runner } from '../runtime/index.js';

export interface Scorer {
  /** Scores of n images [n,3,H,W] in [0,1]. */
  score(pixels: Float32Array, n: number, names?: readonly string[]): Promise<number[]>;
  readonly provider: string;
  dispose(): Promise<void>;
}

/** A NaN or infinite score is an error naming the image, never a number in a report. */
export function checkScore(v: number, image: string): void {
  if (!Number.isFinite(v)) throw new UserError('nan-score', `the model's score for ${image} is ${v}: a NaN score is a failure, not a number (check the model's input domain)`);
}

export async function openScorer(file: string, score: ScoreSpec, pixels: PixelMap, imageDims: readonly [number, number, number], opts: { ep?: ExecutionProvider; batch?: number; threads?: number } = {}): Promise<Scorer> {
  // ONNX Runtime's own default optimisations (all: fusions and, on CPU, the blocked conv layout);
  // the runtime's default (none) is for exact comparisons (a ResNet-50 at 498x664: 612 vs 465 ms)
  const runner: Runner = await openRunner(file, { provider: opts.ep ?? 'cpu', optimization: 'all', ...(opts.threads !== undefined ? { intraOpThreads: opts.threads } : {}) });
  const input = runner.inputs()[0]!.name;
  const per = imageDims[0] * imageDims[1] * imageDims[2];
  const batch = opts.batch ?? 8;
  return {
    provider: runner.provider,
    async score(px, n, names) {
      const out: number[] = [];
      for (let s = 0; s < n; s += batch) {
        const k = Math.min(batch, n - s);
        const data = pixels.toModel(px.subarray(s * per, (s + k) * per));
        const y = (await runner.run({ [input]: { elemType: 1, dims: [k, ...imageDims], data } }, [score.output]))[score.output]!;
        const scores = scoresOf(score, { dims: y.dims, data: y.data as Float32Array });
        scores.forEach((v, i) => {
          checkScore(v, names?.[s + i] ?? `image ${s + i}`);
        });
        out.push(...scores);
      }
      return out;
    },
    dispose: () => runner.dispose(),
  };
}

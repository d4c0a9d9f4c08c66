/**
 * The function attacks differentiate: pixels in [0,1] -> the model's input (its preprocessing) ->
 * the engine -> one quality score per image; its gradient with respect to the pixels comes from
 * the engine's vector-Jacobian product with the score's cotangent. Engines are reached only
 * through `DifferentiableModel` (any engine the factory builds).
 */
import type { DifferentiableModel } from '../differentiable/model.js';
import { UserError } from '../errors.js';
import type { PixelMap } from './pixels.js';
import { scoreCotangent, scoresOf, type ScoreSpec } from './score.js';

export type Direction = 'up' | 'down';

export interface ScoreObjective {
  /** Scores of a batch of pixel images [N,3,H,W]. */
  scores(pixels: Float32Array, n: number): Promise<number[]>;
  /** Scores and d(sum_n sign * score_n)/d(pixels): the direction that moves every score the chosen way. */
  gradient(pixels: Float32Array, n: number, direction: Direction): Promise<{ scores: number[]; grad: Float32Array }>;
  readonly inputName: string;
  readonly imageDims: readonly [number, number, number];
}

export function scoreObjective(engine: DifferentiableModel, score: ScoreSpec, pixels: PixelMap, imageDims: readonly [number, number, number], inputName?: string): ScoreObjective {
  const input = inputName ?? engine.inputNames[0];
  if (input === undefined) throw new UserError('attack', 'the model has no inputs to attack');
  if (engine.inputNames.length > 1 && inputName === undefined) throw new UserError('attack', `the model has ${engine.inputNames.length} inputs (${engine.inputNames.join(', ')}): choose the image input`);
  const per = imageDims[0] * imageDims[1] * imageDims[2];
  // the per-image dims of the score output: declared by the model when static, else read from a forward
  const dims = engine.declaredDims(score.output);
  const declared = dims && dims.length > 0 ? dims.slice(1) : undefined;
  let outRest: number[] | undefined = declared?.every((d): d is number => typeof d === 'number' && d > 0) ? declared : undefined;
  const feeds = (p: Float32Array, n: number): Record<string, { dims: number[]; data: Float32Array }> => {
    if (p.length !== n * per) throw new RangeError(`attack: ${p.length} pixel values for ${n} images of [${imageDims.join(',')}]`);
    return { [input]: { dims: [n, ...imageDims], data: pixels.toModel(p) } };
  };
  const outputDims = async (p: Float32Array, n: number): Promise<number[]> => {
    if (outRest === undefined) {
      const y = (await engine.forward(feeds(p, n), [score.output]))[score.output]!;
      outRest = y.dims.slice(1);
    }
    return [n, ...outRest];
  };
  return {
    inputName: input,
    imageDims,
    async scores(p, n) {
      const y = (await engine.forward(feeds(p, n), [score.output]))[score.output]!;
      outRest ??= y.dims.slice(1);
      return scoresOf(score, y);
    },
    async gradient(p, n, direction) {
      const cot = scoreCotangent(score, await outputDims(p, n), direction);
      const r = await engine.gradients(feeds(p, n), { [score.output]: cot }, { inputs: [input], params: [] });
      const g = r.inputGrads[input];
      if (!g) throw new Error(`internal: the engine returned no gradient for input '${input}'`);
      return { scores: scoresOf(score, r.outputs[score.output]!), grad: pixels.gradToPixels(g.data as Float32Array) };
    },
  };
}

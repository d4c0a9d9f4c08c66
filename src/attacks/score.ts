/**
 * Which model output is "the quality score", how it reduces to one number per image, and which
 * direction is better. Recorded in a model's metadata under `iqa-surgeon.score` (JSON) and
 * overridable by flags; a model with several outputs and no choice is refused, naming them.
 */
import { UserError } from '../errors.js';
import type { HostTensor } from '../differentiable/model.js';

export const SCORE_KEY = 'iqa-surgeon.score';

export type ScoreReduce = { kind: 'none' } | { kind: 'mean' } | { kind: 'expectation'; bins: number };

export interface ScoreSpec {
  output: string;
  reduce: ScoreReduce;
  /** True for metrics where a lower value means better quality (e.g. distortion scores). */
  lowerIsBetter: boolean;
}

export class ScoreError extends UserError {
  constructor(message: string) {
    super('score', message);
  }
}

/** `none`, `mean` or `expectation:<bins>` (bins 2..1000). */
export function parseScoreReduce(s: string): ScoreReduce {
  if (s === 'none' || s === 'mean') return { kind: s };
  const m = /^expectation:(\d{1,4})$/.exec(s);
  if (m) {
    const bins = Number(m[1]);
    if (bins >= 2 && bins <= 1000) return { kind: 'expectation', bins };
  }
  throw new ScoreError(`--score-reduce must be none, mean or expectation:<bins> with 2..1000 bins (got '${s}')`);
}

/** Where each field of a resolved score spec came from. */
export type ScoreSource = 'flag' | 'metadata' | 'only output' | 'default';

export interface ScoreChoice {
  spec: ScoreSpec;
  from: { output: ScoreSource; reduce: ScoreSource; lowerIsBetter: ScoreSource };
}

/** The spec stored in a model's `iqa-surgeon.score` metadata (fields it lacks are absent). */
export function readScoreMetadata(metadata: ReadonlyMap<string, string>): Partial<ScoreSpec> | undefined {
  const raw = metadata.get(SCORE_KEY);
  if (raw === undefined) return undefined;
  try {
    const v = JSON.parse(raw) as { output?: unknown; reduce?: unknown; lowerIsBetter?: unknown };
    if (typeof v !== 'object' || v === null) throw new ScoreError('not a JSON object');
    return {
      ...(typeof v.output === 'string' ? { output: v.output } : {}),
      ...(typeof v.reduce === 'string' ? { reduce: parseScoreReduce(v.reduce) } : {}),
      ...(typeof v.lowerIsBetter === 'boolean' ? { lowerIsBetter: v.lowerIsBetter } : {}),
    };
  } catch (e) {
    if (e instanceof ScoreError) throw new ScoreError(`metadata ${SCORE_KEY}: ${e.message}`);
    throw new ScoreError(`metadata ${SCORE_KEY} is not valid JSON`);
  }
}

/**
 * The score spec from, in order: explicit choices (flags), the model's metadata, and the model
 * itself (its only output, reduced with `none`, higher is better), with where each field came from.
 */
export function resolveScoreChoice(outputNames: readonly string[], metadata: ReadonlyMap<string, string>, flags: Partial<ScoreSpec> = {}): ScoreChoice {
  const stored = readScoreMetadata(metadata) ?? {};
  const pick = <K extends keyof ScoreSpec>(k: K): [ScoreSpec[K] | undefined, ScoreSource] => (flags[k] !== undefined ? [flags[k], 'flag'] : stored[k] !== undefined ? [stored[k] as ScoreSpec[K], 'metadata'] : [undefined, 'default']);
  let [output, outputFrom] = pick('output');
  if (output === undefined && outputNames.length === 1) [output, outputFrom] = [outputNames[0], 'only output'];
  if (output === undefined) throw new ScoreError(`the model has ${outputNames.length} outputs (${outputNames.map((n) => `'${n}'`).join(', ')}): choose the score with --score-output <name> (or store it once with 'iqa-surgeon score <model> --score-output <name> -o <out>')`);
  if (!outputNames.includes(output)) throw new ScoreError(`${outputFrom === 'metadata' ? `the output '${output}' named by metadata ${SCORE_KEY}` : `--score-output '${output}'`} is not an output of the model (outputs: ${outputNames.map((n) => `'${n}'`).join(', ')})`);
  const [reduce, reduceFrom] = pick('reduce');
  const [lower, lowerFrom] = pick('lowerIsBetter');
  return { spec: { output, reduce: reduce ?? { kind: 'none' }, lowerIsBetter: lower ?? false }, from: { output: outputFrom, reduce: reduceFrom, lowerIsBetter: lowerFrom } };
}

/** `resolveScoreChoice` without the provenance. */
export function resolveScoreSpec(outputNames: readonly string[], metadata: ReadonlyMap<string, string>, flags: Partial<ScoreSpec> = {}): ScoreSpec {
  return resolveScoreChoice(outputNames, metadata, flags).spec;
}

/** One line saying which score is used and where each part came from. */
export function describeScoreChoice(c: ScoreChoice): string {
  const from = (s: ScoreSource): string => (s === 'flag' ? 'flag' : s === 'metadata' ? `metadata ${SCORE_KEY}` : s);
  return `score: output '${c.spec.output}' (${from(c.from.output)}), reduce ${formatScoreReduce(c.spec.reduce)} (${from(c.from.reduce)}), ${c.spec.lowerIsBetter ? 'lower' : 'higher'} is better (${from(c.from.lowerIsBetter)})`;
}

/**
 * Check a spec against the declared shape of its output where the per-image size is static
 * (throws ScoreError on a mismatch); returns the per-image value count, or undefined when unknown.
 */
export function checkScoreShape(spec: ScoreSpec, declared: readonly (number | string | undefined)[] | undefined): number | undefined {
  if (!declared || declared.length === 0) return undefined;
  const rest = declared.slice(1);
  if (!rest.every((d): d is number => typeof d === 'number' && d > 0)) return undefined;
  const per = rest.reduce((a, b) => a * b, 1);
  weights(spec, [1, per]);
  return per;
}

export function formatScoreReduce(r: ScoreReduce): string {
  return r.kind === 'expectation' ? `expectation:${r.bins}` : r.kind;
}

/** Metadata value recording a spec. */
export function scoreMetadata(spec: ScoreSpec): string {
  return JSON.stringify({ output: spec.output, reduce: formatScoreReduce(spec.reduce), lowerIsBetter: spec.lowerIsBetter });
}

/** Per-image weights w such that score[n] = sum_k w[k] * y[n, k] (the reduction is linear). */
function weights(spec: ScoreSpec, dims: readonly number[]): Float32Array {
  const n = dims[0] ?? 1;
  const total = dims.reduce((a, b) => a * b, 1);
  const per = n === 0 ? 0 : total / n;
  const where = `score output '${spec.output}' with shape [${dims.join(',')}]`;
  if (dims.length === 0) throw new ScoreError(`${where} has no batch dimension`);
  const w = new Float32Array(per);
  if (spec.reduce.kind === 'none') {
    if (per !== 1) throw new ScoreError(`${where} has ${per} values per image: choose --score-reduce mean or expectation:<bins>`);
    w[0] = 1;
  } else if (spec.reduce.kind === 'mean') w.fill(1 / per);
  else {
    if (per !== spec.reduce.bins) throw new ScoreError(`${where} has ${per} values per image, not the ${spec.reduce.bins} bins of --score-reduce expectation:${spec.reduce.bins}`);
    // a distribution over bins scored 1..bins (e.g. NIMA's 1..10)
    for (let k = 0; k < per; k++) w[k] = k + 1;
  }
  return w;
}

/** One score per image from the score output. */
export function scoresOf(spec: ScoreSpec, y: HostTensor): number[] {
  const w = weights(spec, y.dims);
  const n = y.dims[0]!;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < w.length; k++) s += w[k]! * y.data[i * w.length + k]!;
    out.push(s);
  }
  return out;
}

/** The cotangent on the score output for a loss with dL/d(score_n) = perImage[n]. */
export function scoreCotangentFrom(spec: ScoreSpec, dims: readonly number[], perImage: ArrayLike<number>): HostTensor {
  const w = weights(spec, dims);
  const n = dims[0]!;
  if (perImage.length !== n) throw new RangeError(`score cotangent: ${perImage.length} values for ${n} images`);
  const data = new Float32Array(n * w.length);
  for (let i = 0; i < n; i++) for (let k = 0; k < w.length; k++) data[i * w.length + k] = perImage[i]! * w[k]!;
  return { dims: [...dims], data };
}

/**
 * The cotangent on the score output for the objective sum_n sign * score[n], where sign is +1 to
 * raise the predicted quality (or -1 to lower it), flipped for lower-is-better scores.
 */
export function scoreCotangent(spec: ScoreSpec, dims: readonly number[], direction: 'up' | 'down'): HostTensor {
  const w = weights(spec, dims);
  const sign = (direction === 'up' ? 1 : -1) * (spec.lowerIsBetter ? -1 : 1);
  const n = dims[0]!;
  const data = new Float32Array(n * w.length);
  for (let i = 0; i < n; i++) for (let k = 0; k < w.length; k++) data[i * w.length + k] = sign * w[k]!;
  return { dims: [...dims], data };
}

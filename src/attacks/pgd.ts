/**
 * PGD / I-FGSM under an L-infinity budget, and FGSM as its one-step case:
 *   delta <- clip_eps(delta + step * sign(grad)),  x_adv = clip_[0,1](x + delta),
 * ascending sum_n score_n (`up`, the default: raise the predicted quality) or descending it.
 * eps and step are on [0,1] pixels (callers convert from 1/255 units). Random start draws delta
 * uniformly from [-eps, eps] with a seeded generator.
 */
import { mulberry32 } from '../util/random.js';
import type { Direction, ScoreObjective } from './objective.js';

export interface PgdOptions {
  /** Budget on [0,1] pixels. */
  eps: number;
  /** Step on [0,1] pixels (PGD default 1/255; FGSM uses eps). */
  step: number;
  iters: number;
  direction?: Direction;
  randomStart?: boolean;
  seed?: number;
  /** Also score the clean and the attacked images through the objective (one more forward; default off: callers that report scores use their own scorer). */
  scores?: boolean;
}

export interface AttackOutput {
  attacked: Float32Array;
  /**
   * The objective's scores at the starting point, read from the first gradient call (no extra
   * forward): the clean images' scores unless `randomStart`.
   */
  startScores: number[];
}

/** With `scores`: the scores of the clean images (from the first gradient call) and of the attacked ones, per image. */
export interface ScoredAttackOutput extends AttackOutput {
  cleanScores: number[];
  attackedScores: number[];
}

function clip01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/**
 * One step in place: x <- clip to [max(c - eps, 0), min(c + eps, 1)] of x + step * sign(grad)
 * (sign 0 for a zero or NaN gradient). Written without branches on the gradient's sign, which is
 * as good as random per pixel: 1M values at 498x664 take about 12 ms instead of 20 ms with a
 * sign branch (mispredicted half the time), with the same results.
 */
function signStep(x: Float32Array, clean: Float32Array, grad: Float32Array, eps: number, step: number): void {
  const len = x.length;
  for (let i = 0; i < len; i++) {
    const g = grad[i]!;
    const c = clean[i]!;
    const s = Number(g > 0) - Number(g < 0);
    x[i] = Math.min(Math.min(c + eps, 1), Math.max(Math.max(c - eps, 0), x[i]! + step * s));
  }
}

export function checkPgdOptions(o: PgdOptions): void {
  if (!(o.eps >= 0 && o.eps <= 1)) throw new RangeError(`eps must be in [0, 255]/255 (got ${o.eps * 255}/255)`);
  if (!(o.step > 0 && o.step <= 1)) throw new RangeError(`step must be in (0, 255]/255 (got ${o.step * 255}/255)`);
  if (!Number.isInteger(o.iters) || o.iters < 1 || o.iters > 10000) throw new RangeError(`iterations must be an integer in [1, 10000] (got ${o.iters})`);
}

/** Attack a batch of n images [n,3,H,W] in [0,1]. The clean pixels are not modified. */
export async function pgd(objective: ScoreObjective, clean: Float32Array, n: number, o: PgdOptions & { scores: true }): Promise<ScoredAttackOutput>;
export async function pgd(objective: ScoreObjective, clean: Float32Array, n: number, o: PgdOptions): Promise<AttackOutput>;
export async function pgd(objective: ScoreObjective, clean: Float32Array, n: number, o: PgdOptions): Promise<AttackOutput | ScoredAttackOutput> {
  checkPgdOptions(o);
  const direction = o.direction ?? 'up';
  const x = new Float32Array(clean);
  if (o.randomStart) {
    const rnd = mulberry32(o.seed ?? 0);
    for (let i = 0; i < x.length; i++) x[i] = clip01(clean[i]! + (2 * rnd() - 1) * o.eps);
  }
  let startScores: number[] = [];
  for (let it = 0; it < o.iters; it++) {
    const { scores, grad } = await objective.gradient(x, n, direction);
    if (it === 0) startScores = scores;
    signStep(x, clean, grad, o.eps, o.step);
  }
  if (!o.scores) return { attacked: x, startScores };
  const cleanScores = o.randomStart ? await objective.scores(clean, n) : startScores;
  return { attacked: x, startScores, cleanScores, attackedScores: await objective.scores(x, n) };
}

/** FGSM: one step of size eps from the clean image. */
export function fgsm(objective: ScoreObjective, clean: Float32Array, n: number, o: { eps: number; direction?: Direction; scores: true }): Promise<ScoredAttackOutput>;
export function fgsm(objective: ScoreObjective, clean: Float32Array, n: number, o: { eps: number; direction?: Direction; scores?: boolean }): Promise<AttackOutput>;
export function fgsm(objective: ScoreObjective, clean: Float32Array, n: number, o: { eps: number; direction?: Direction; scores?: boolean }): Promise<AttackOutput> {
  return pgd(objective, clean, n, { eps: o.eps, step: Math.max(o.eps, Number.MIN_VALUE), iters: 1, direction: o.direction, scores: o.scores === true });
}

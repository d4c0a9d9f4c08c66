/**
 * Robustness metrics of an IQA model under attack, as ../shared/docs/METHOD.md defines them:
 * min-max normalisation of scores, absolute gain, R-score (the MSU benchmark's form and the
 * paper's), and the area under a metric-vs-eps curve. Scores are plain numbers per image; which
 * model output is "the score" and its direction are decided by the caller.
 */

/** The range scores are normalised with, and where it came from (the report states it). */
export interface ScoreRange {
  readonly min: number;
  readonly max: number;
  /** e.g. 'clean predictions on the evaluation set' or 'fixed: training MOS range'. */
  readonly source: string;
}

function finiteList(values: ArrayLike<number>, what: string): void {
  if (values.length === 0) throw new RangeError(`${what}: no scores`);
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) throw new RangeError(`${what}: score ${i} is not a finite number (${values[i]})`);
}

function pairs(clean: ArrayLike<number>, attacked: ArrayLike<number>, what: string): void {
  if (clean.length !== attacked.length) throw new RangeError(`${what}: ${clean.length} clean scores but ${attacked.length} attacked scores`);
  finiteList(clean, `${what} (clean)`);
  finiteList(attacked, `${what} (attacked)`);
}

/** The MSU convention: the range of the model's own clean predictions on the evaluation set. */
export function cleanScoreRange(clean: ArrayLike<number>): ScoreRange {
  finiteList(clean, 'score range');
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < clean.length; i++) {
    min = Math.min(min, clean[i]!);
    max = Math.max(max, clean[i]!);
  }
  return fixedScoreRange(min, max, 'clean predictions on the evaluation set');
}

/** A given range (e.g. the training set's MOS range, as the paper's text says). */
export function fixedScoreRange(min: number, max: number, source = 'fixed'): ScoreRange {
  if (!Number.isFinite(min) || !Number.isFinite(max)) throw new RangeError(`score range: bounds must be finite (got ${min}, ${max})`);
  if (!(max > min)) throw new RangeError(`score range: max must exceed min (got [${min}, ${max}]): all scores are equal, normalisation is undefined`);
  return { min, max, source };
}

export function normalize(v: number, range: ScoreRange): number {
  return (v - range.min) / (range.max - range.min);
}

/**
 * Per-image gains f(x_adv) - f(x) on normalised scores; their mean is the absolute gain
 * (paper Eq. 8). Positive when the attack raised the score.
 */
export function gains(clean: ArrayLike<number>, attacked: ArrayLike<number>, range: ScoreRange): number[] {
  pairs(clean, attacked, 'absolute gain');
  return Array.from(clean, (c, i) => normalize(attacked[i]!, range) - normalize(c, range));
}

export function mean(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]!;
  return s / values.length;
}

export function absGain(clean: ArrayLike<number>, attacked: ArrayLike<number>, range: ScoreRange): number {
  return mean(gains(clean, attacked, range));
}

/**
 * R-score variants: `msu` (default; the MSU benchmark's code): betas 0 and 1 on normalised scores,
 * numerator max(1 - f(x), f(x)); `paper`: the paper's Eq. 9, numerator max(beta1 - f(x_adv),
 * f(x) - beta0) with data-dependent betas (min and max of the normalised clean and attacked scores
 * together, as the authors' code takes them).
 */
export type RScoreVariant = 'msu' | 'paper';

/** The guard MSU adds to the denominator |f(x_adv) - f(x)| (and, for the paper variant, to the numerator). */
export const R_SCORE_GUARD = 1e-6;

/** Per-image log10 ratios of the largest change the clean score allowed to the change the attack made. */
export function rScores(clean: ArrayLike<number>, attacked: ArrayLike<number>, range: ScoreRange, variant: RScoreVariant = 'msu'): number[] {
  pairs(clean, attacked, 'R-score');
  const c = Array.from(clean, (v) => normalize(v, range));
  const a = Array.from(attacked, (v) => normalize(v, range));
  let beta0 = 0;
  let beta1 = 1;
  if (variant === 'paper') {
    beta0 = Math.min(...c, ...a);
    beta1 = Math.max(...c, ...a);
  }
  return c.map((fx, i) => {
    const change = Math.abs(a[i]! - fx) + R_SCORE_GUARD;
    const room = variant === 'msu' ? Math.max(beta1 - fx, fx - beta0) : Math.max(beta1 - a[i]!, fx - beta0) + R_SCORE_GUARD;
    return Math.log10(room / change);
  });
}

export function rScore(clean: ArrayLike<number>, attacked: ArrayLike<number>, range: ScoreRange, variant: RScoreVariant = 'msu'): number {
  return mean(rScores(clean, attacked, range, variant));
}

/**
 * Area under a metric-vs-eps curve by the trapezoid rule, eps in units of 1/255 (so eps 2,4,..,10
 * has spacing 2), points sorted numerically. Needs two or more distinct eps values; duplicates and
 * non-finite values are refused.
 */
export function aucOverEps(points: readonly { eps: number; value: number }[]): number {
  if (points.length < 2) throw new RangeError(`AUC over eps: needs at least two eps values (got ${points.length})`);
  const sorted = [...points].sort((p, q) => p.eps - q.eps);
  for (let i = 0; i < sorted.length; i++) {
    const p = sorted[i]!;
    if (!Number.isFinite(p.eps) || !Number.isFinite(p.value)) throw new RangeError(`AUC over eps: eps ${p.eps} has a non-finite value (${p.value})`);
    if (i > 0 && p.eps === sorted[i - 1]!.eps) throw new RangeError(`AUC over eps: eps ${p.eps} appears twice`);
  }
  let area = 0;
  for (let i = 1; i < sorted.length; i++) area += ((sorted[i]!.eps - sorted[i - 1]!.eps) * (sorted[i]!.value + sorted[i - 1]!.value)) / 2;
  return area;
}

/**
 * Bootstrap confidence intervals over images: resample the images with replacement, recompute the
 * statistic, take the percentile interval. Seeded, so a report is reproducible.
 */
import { mulberry32 } from '../util/random.js';

export interface ConfidenceInterval {
  readonly low: number;
  readonly high: number;
  /** e.g. 0.95 */
  readonly level: number;
  readonly resamples: number;
}

export interface BootstrapOptions {
  /** Number of resamples (default 1000; 10..1e6). */
  readonly resamples?: number;
  /** Coverage of the interval (default 0.95; strictly between 0 and 1). */
  readonly level?: number;
  readonly seed?: number;
}

/** The q-quantile of sorted values by linear interpolation (numpy's default). */
export function quantileSorted(sorted: readonly number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/**
 * Percentile bootstrap CI of `statistic` over `n` items. `statistic` receives the resampled item
 * indices; resamples whose statistic is not finite (e.g. a correlation of a constant resample) are
 * dropped, and the interval is NaN when more than half are.
 */
export function bootstrapCi(n: number, statistic: (indices: Int32Array) => number, opts: BootstrapOptions = {}): ConfidenceInterval {
  const resamples = opts.resamples ?? 1000;
  const level = opts.level ?? 0.95;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`bootstrap: needs at least one item (got ${n})`);
  if (!Number.isInteger(resamples) || resamples < 10 || resamples > 1e6) throw new RangeError(`bootstrap: resamples must be an integer in [10, 1000000] (got ${resamples})`);
  if (!(level > 0 && level < 1)) throw new RangeError(`bootstrap: level must be strictly between 0 and 1 (got ${level})`);
  const rnd = mulberry32(opts.seed ?? 0);
  const values: number[] = [];
  const idx = new Int32Array(n);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < n; i++) idx[i] = Math.floor(rnd() * n);
    const v = statistic(idx);
    if (Number.isFinite(v)) values.push(v);
  }
  if (values.length * 2 < resamples) return { low: NaN, high: NaN, level, resamples };
  values.sort((a, b) => a - b);
  return { low: quantileSorted(values, (1 - level) / 2), high: quantileSorted(values, 1 - (1 - level) / 2), level, resamples };
}

/** Pick `values[indices[i]]` for each i. */
export function take(values: ArrayLike<number>, indices: Int32Array): Float64Array {
  const out = new Float64Array(indices.length);
  for (let i = 0; i < indices.length; i++) out[i] = values[indices[i]!]!;
  return out;
}

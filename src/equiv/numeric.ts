/**
 * Numeric comparison of two tensors, after Polygraphy's comparator: per tensor the max, mean and
 * median of the absolute and relative errors; an element passes when it is within `atol` OR
 * within `rtol` relative to the reference (|a - b| <= atol or |a - b| <= rtol * |a|, where `a`,
 * the first model, is the reference); the smallest tolerances that would have passed; and a
 * histogram of the absolute errors (shown on failure).
 *
 * NaN in both at the same place counts as equal, NaN in one only as an infinite error; equal
 * infinities are equal. The relative error of an element whose reference is 0 is infinite when
 * the element differs (and 0 when it does not).
 */
export interface Tolerances {
  atol: number;
  rtol: number;
}

export const DEFAULT_TOLERANCES: Tolerances = { atol: 1e-4, rtol: 1e-3 };

export interface HistogramBin {
  /** Lower bound (inclusive; the first bin is exactly 0) and upper bound (exclusive) of |a - b|. */
  lo: number;
  hi: number;
  count: number;
}

export interface TensorComparison {
  name: string;
  pass: boolean;
  /** Why it failed before any element was compared (shape or type mismatch, missing). */
  problem?: string;
  shapeA: number[];
  shapeB: number[];
  elements: number;
  /** Elements outside tolerance. */
  failing: number;
  maxAbs: number;
  meanAbs: number;
  medianAbs: number;
  maxRel: number;
  meanRel: number;
  medianRel: number;
  /** Flat index of the element with the largest absolute error, with both values. */
  worst: { index: number; a: number; b: number } | null;
  /** Smallest tolerances that would pass: atol alone (rtol 0), rtol alone (atol 0), atol with the given rtol. */
  minAtol: number;
  minRtol: number;
  minAtolAtRtol: number;
  histogram: HistogramBin[];
}

/** Decade bins of |a - b|: [0,0], (0,1e-9), [1e-9,1e-8), ..., [1,10), [10, inf). */
function histogramOf(abs: Float64Array): HistogramBin[] {
  const edges = [0, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10, Infinity];
  const bins: HistogramBin[] = edges.slice(0, -1).map((lo, i) => ({ lo, hi: edges[i + 1]!, count: 0 }));
  const zero: HistogramBin = { lo: 0, hi: 0, count: 0 };
  for (const d of abs) {
    if (d === 0) {
      zero.count++;
      continue;
    }
    let k = 0;
    while (k < bins.length - 1 && d >= bins[k]!.hi) k++;
    bins[k]!.count++;
  }
  return [zero, ...bins];
}

function median(sorted: Float64Array): number {
  const n = sorted.length;
  if (n === 0) return 0;
  return n % 2 ? sorted[(n - 1) >> 1]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
}

function mean(x: Float64Array): number {
  if (x.length === 0) return 0;
  let s = 0;
  for (const v of x) s += v;
  return s / x.length;
}

const emptyStats = { elements: 0, failing: 0, maxAbs: 0, meanAbs: 0, medianAbs: 0, maxRel: 0, meanRel: 0, medianRel: 0, worst: null, minAtol: 0, minRtol: 0, minAtolAtRtol: 0, histogram: [] };

/** Compare tensor `b` against the reference `a` (both as float64 values with their shapes). */
export function compareTensors(
  name: string,
  a: { dims: readonly number[]; data: Float64Array } | undefined,
  b: { dims: readonly number[]; data: Float64Array } | undefined,
  tol: Tolerances,
): TensorComparison {
  const shapeA = a ? [...a.dims] : [];
  const shapeB = b ? [...b.dims] : [];
  if (!a || !b) {
    return { name, pass: false, problem: `'${name}' is ${a ? '' : 'not '}produced by A and ${b ? '' : 'not '}by B`, shapeA, shapeB, ...emptyStats, failing: 1 };
  }
  if (shapeA.join() !== shapeB.join() || a.data.length !== b.data.length) {
    return { name, pass: false, problem: `shape [${shapeA.join(',')}] vs [${shapeB.join(',')}]`, shapeA, shapeB, ...emptyStats, failing: Math.max(a.data.length, b.data.length) };
  }
  const n = a.data.length;
  const abs = new Float64Array(n);
  const rel = new Float64Array(n);
  let failing = 0;
  let maxAbs = 0;
  let maxRel = 0;
  let minAtolAtRtol = 0;
  let worst: TensorComparison['worst'] = null;
  for (let i = 0; i < n; i++) {
    const x = a.data[i]!;
    const y = b.data[i]!;
    let d: number;
    if (x === y || (Number.isNaN(x) && Number.isNaN(y))) d = 0;
    else if (Number.isNaN(x) || Number.isNaN(y)) d = Infinity;
    else d = Math.abs(x - y);
    if (Number.isNaN(d)) d = Infinity; // inf - inf of opposite signs cannot happen here; -inf vs inf gives inf
    const r = d === 0 ? 0 : d / Math.abs(x);
    abs[i] = d;
    rel[i] = Number.isNaN(r) ? Infinity : r;
    const ok = d <= tol.atol || d <= tol.rtol * Math.abs(x);
    if (!ok) {
      failing++;
      if (d > minAtolAtRtol) minAtolAtRtol = d;
    }
    if (d > maxAbs || (worst === null && n > 0)) {
      if (d >= maxAbs) {
        maxAbs = d;
        worst = { index: i, a: x, b: y };
      }
    }
    if (rel[i]! > maxRel) maxRel = rel[i]!;
  }
  const sortedAbs = Float64Array.from(abs).sort();
  const sortedRel = Float64Array.from(rel).sort();
  return {
    name,
    pass: failing === 0,
    shapeA,
    shapeB,
    elements: n,
    failing,
    maxAbs,
    meanAbs: mean(abs),
    medianAbs: median(sortedAbs),
    maxRel,
    meanRel: mean(rel),
    medianRel: median(sortedRel),
    worst,
    minAtol: maxAbs,
    minRtol: maxRel,
    minAtolAtRtol,
    histogram: histogramOf(abs),
  };
}

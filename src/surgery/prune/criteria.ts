/**
 * Filter-pruning criteria on a conv's weight [Cout, Cin/g, kh, kw]: the norm of each output filter
 * (l2, the paper's; l1), and which filters a ratio removes.
 */
export type NormCriterion = 'l1' | 'l2';

/** Per output filter: sum |w| (l1) or sqrt(sum w^2) (l2), in float64. */
export function filterNorms(weight: ArrayLike<number>, cout: number, criterion: NormCriterion): Float64Array {
  if (cout < 1 || weight.length % cout !== 0) throw new RangeError(`filter norms: ${weight.length} weights do not split into ${cout} filters`);
  const per = weight.length / cout;
  const out = new Float64Array(cout);
  for (let o = 0; o < cout; o++) {
    let s = 0;
    for (let i = o * per; i < (o + 1) * per; i++) s += criterion === 'l1' ? Math.abs(weight[i]!) : weight[i]! * weight[i]!;
    out[o] = criterion === 'l1' ? s : Math.sqrt(s);
  }
  return out;
}

/**
 * round(ratio * filters), keeping at least one filter. With `align` > 1 the number kept is rounded
 * to the nearest multiple of `align` (at least `align`, at most all): ONNX Runtime's CPU conv
 * kernels run channel counts in blocks of 8, and a shrunk model with ragged counts can be slower
 * than the masked one (docs/BENCHMARKS.md).
 */
export function prunedCount(filters: number, ratio: number, align = 1): number {
  const count = Math.min(Math.round(ratio * filters), filters - 1);
  if (align <= 1 || filters <= align) return count;
  const kept = Math.min(filters, Math.max(align, Math.round((filters - count) / align) * align));
  return filters - kept;
}

/** The `count` filters with the smallest scores (ties: lower index first), sorted by index. */
export function smallest(scores: ArrayLike<number>, count: number): number[] {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]! || a - b);
  return order.slice(0, Math.max(0, count)).sort((a, b) => a - b);
}

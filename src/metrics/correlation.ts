/**
 * Correlation between predicted and reference quality scores, as IQA papers report them:
 * SROCC (Spearman rank-order correlation, tied values get the average of their ranks) and
 * PLCC (Pearson linear correlation, no nonlinear mapping).
 */

function check(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  if (a.length !== b.length) throw new RangeError(`${what}: the two lists have different lengths (${a.length} and ${b.length})`);
  if (a.length < 2) throw new RangeError(`${what}: needs at least two pairs (got ${a.length})`);
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i]!) || !Number.isFinite(b[i]!)) throw new RangeError(`${what}: value ${i} is not a finite number`);
  }
}

/** 1-based ranks; equal values share the average of the ranks they span. */
export function averageRanks(values: ArrayLike<number>): number[] {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => values[i]! - values[j]! || i - j);
  const ranks = new Array<number>(n);
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && values[order[j + 1]!] === values[order[i]!]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k]!] = r;
    i = j + 1;
  }
  return ranks;
}

function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i]! - ma;
    const db = b[i]! - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  // a constant list has no defined correlation
  if (saa === 0 || sbb === 0) return NaN;
  return sab / Math.sqrt(saa * sbb);
}

/** Pearson linear correlation coefficient; NaN when either list is constant. */
export function plcc(a: ArrayLike<number>, b: ArrayLike<number>): number {
  check(a, b, 'plcc');
  return pearson(a, b);
}

/** Spearman rank-order correlation (Pearson of the average ranks); NaN when either list is constant. */
export function srocc(a: ArrayLike<number>, b: ArrayLike<number>): number {
  check(a, b, 'srocc');
  return pearson(averageRanks(a), averageRanks(b));
}

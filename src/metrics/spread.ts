/**
 * Spread of a metric over repeats of a randomised attack (`--seeds`): mean, sample standard
 * deviation (n - 1 in the denominator; 0 for a single value), minimum and maximum.
 */
export interface Spread {
  mean: number;
  std: number;
  min: number;
  max: number;
}

export function spread(values: readonly number[]): Spread {
  if (values.length === 0) throw new RangeError('spread of an empty list');
  values.forEach((v, i) => {
    if (!Number.isFinite(v)) throw new RangeError(`spread: value ${i} is ${v}`);
  });
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const ss = values.reduce((a, v) => a + (v - mean) ** 2, 0);
  return { mean, std: n > 1 ? Math.sqrt(ss / (n - 1)) : 0, min: Math.min(...values), max: Math.max(...values) };
}

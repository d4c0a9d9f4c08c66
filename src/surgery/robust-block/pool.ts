/**
 * Pooling to a square: PyTorch's adaptive average pooling as two constant matrices (exact for
 * sizes that do not divide), and the reference code's max-pool kernel.
 */

/** PyTorch adaptive-pool bins: output i averages input [floor(i*L/s), ceil((i+1)*L/s)). */
export function adaptiveBins(length: number, s: number): [number, number][] {
  const bins: [number, number][] = [];
  for (let i = 0; i < s; i++) bins.push([Math.floor((i * length) / s), Math.ceil(((i + 1) * length) / s)]);
  return bins;
}

/** P [s, L]: row i averages bin i. x_pooled = P_h @ x @ P_w^T. */
export function adaptivePoolMatrix(length: number, s: number): Float64Array {
  const p = new Float64Array(s * length);
  adaptiveBins(length, s).forEach(([a, b], i) => {
    for (let j = a; j < b; j++) p[i * length + j] = 1 / (b - a);
  });
  return p;
}

/**
 * The reference code's max pool (stride 1): for W > H the kernel is (up, up + W - H) with
 * up = ceil(0.02 H) + 1, and symmetrically for H > W; the output is square, H - up + 1.
 */
export function paperMaxPoolKernel(h: number, w: number): [number, number] {
  const short = Math.min(h, w);
  const up = Math.ceil(0.02 * short) + 1;
  return h <= w ? [up, up + w - h] : [up + h - w, up];
}

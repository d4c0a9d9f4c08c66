/**
 * AOL (Prach & Lampert 2022): rescale a conv kernel so the layer is 1-Lipschitz.
 * v = conv2d(W^T, W^T, padding = k-1) with W^T = W transposed to [cin, cout, k, k];
 * d_j = sum_{i,x,y} |v[j,i,x,y]|; W'[:, j] = W[:, j] / sqrt(d_j + 1e-6).
 */
export const AOL_EPS = 1e-6;

/** W [cout, cin, kh, kw] (row-major) -> W' of the same shape, computed in float64. */
export function aolRescale(w: ArrayLike<number>, cout: number, cin: number, kh: number, kw: number): Float64Array {
  const at = (o: number, i: number, a: number, b: number): number => w[((o * cin + i) * kh + a) * kw + b]!;
  const d = new Float64Array(cin);
  // v[j,i,x,y] = sum_o sum_{a,b} W[o,i,a,b] * W[o,j,a + x - (kh-1), b + y - (kw-1)] (cross-correlation)
  for (let j = 0; j < cin; j++) {
    let sum = 0;
    for (let i = 0; i < cin; i++) {
      for (let x = 0; x < 2 * kh - 1; x++) {
        for (let y = 0; y < 2 * kw - 1; y++) {
          let v = 0;
          for (let o = 0; o < cout; o++) {
            for (let a = 0; a < kh; a++) {
              const a2 = a + x - (kh - 1);
              if (a2 < 0 || a2 >= kh) continue;
              for (let b = 0; b < kw; b++) {
                const b2 = b + y - (kw - 1);
                if (b2 < 0 || b2 >= kw) continue;
                v += at(o, j, a, b) * at(o, i, a2, b2);
              }
            }
          }
          sum += Math.abs(v);
        }
      }
    }
    d[j] = sum;
  }
  const out = new Float64Array(cout * cin * kh * kw);
  for (let o = 0; o < cout; o++) {
    for (let j = 0; j < cin; j++) {
      const s = 1 / Math.sqrt(d[j]! + AOL_EPS);
      for (let a = 0; a < kh; a++) for (let b = 0; b < kw; b++) out[((o * cin + j) * kh + a) * kw + b] = at(o, j, a, b) * s;
    }
  }
  return out;
}

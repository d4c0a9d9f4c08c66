/**
 * Mirror kernels: the com.microsoft family (ONNX Runtime contrib ops).
 *
 * Inverse: the batched inverse of the last two dims. tfjs has no matrix inverse, so the forward
 * reads the (float32) input to the host and runs Gauss-Jordan elimination with partial pivoting
 * in float64, the one kernel that reads float data to the host; it is wrapped in tf.customGrad
 * with the exact gradient: for Y = A^-1 and upstream G, dA = -Y^T G Y^T.
 */
import { DataType } from '../onnx/data-types.js';
import type { KernelContext, KernelTable, Tensor } from './types.js';

/**
 * Invert the n x n matrices stored one after another in `a` (row-major) into a new array;
 * returns the index of the first singular matrix instead when there is one.
 */
export function invertBatch(a: ArrayLike<number>, n: number): Float64Array | number {
  const count = n === 0 ? 0 : a.length / (n * n);
  const out = new Float64Array(a.length);
  const m = new Float64Array(n * 2 * n);
  const w = 2 * n;
  for (let b = 0; b < count; b++) {
    const base = b * n * n;
    let norm = 0;
    for (let i = 0; i < n; i++) {
      let row = 0;
      for (let j = 0; j < n; j++) {
        const v = Number(a[base + i * n + j]);
        m[i * w + j] = v;
        m[i * w + n + j] = i === j ? 1 : 0;
        row += Math.abs(v);
      }
      norm = Math.max(norm, row);
    }
    const tiny = n * Number.EPSILON * norm;
    for (let c = 0; c < n; c++) {
      let p = c;
      for (let r = c + 1; r < n; r++) if (Math.abs(m[r * w + c]!) > Math.abs(m[p * w + c]!)) p = r;
      const pv = m[p * w + c]!;
      if (!(Math.abs(pv) > tiny)) return b;
      if (p !== c) {
        for (let j = 0; j < w; j++) {
          const t = m[c * w + j]!;
          m[c * w + j] = m[p * w + j]!;
          m[p * w + j] = t;
        }
      }
      const inv = 1 / pv;
      for (let j = 0; j < w; j++) m[c * w + j]! *= inv;
      for (let r = 0; r < n; r++) {
        if (r === c) continue;
        const f = m[r * w + c]!;
        if (f === 0) continue;
        for (let j = 0; j < w; j++) m[r * w + j]! -= f * m[c * w + j]!;
      }
    }
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[base + i * n + j] = m[i * w + n + j]!;
  }
  return out;
}

function inverse(ctx: KernelContext, a: Tensor): Tensor {
  const tf = ctx.tf;
  if (a.rank < 2 || a.shape[a.rank - 1] !== a.shape[a.rank - 2]) ctx.fail(`input [${a.shape.join(',')}] is not a batch of square matrices`);
  const n = a.shape[a.rank - 1]!;
  const f = tf.customGrad((...args: unknown[]) => {
    const x = args[0] as Tensor;
    const save = args[1] as (ts: Tensor[]) => void;
    const inv = invertBatch(x.dataSync() as Float32Array, n);
    if (typeof inv === 'number') {
      const batch = x.shape.slice(0, -2);
      return ctx.fail(`matrix ${inv}${batch.length ? ` of the batch [${batch.join(',')}]` : ''} is singular`);
    }
    const y = tf.tensor(Float32Array.from(inv), x.shape, 'float32');
    save([y]);
    return {
      value: y,
      gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
        const yy = saved[0]!;
        const g = Array.isArray(dy) ? dy[0]! : dy;
        // dA = -Y^T G Y^T
        return [tf.neg(tf.matMul(yy, tf.matMul(g, yy, false, true), true, false))];
      },
    };
  });
  return f(a) as Tensor;
}

export const MICROSOFT_KERNELS: KernelTable = {
  'com.microsoft::Inverse': {
    types: [DataType.FLOAT],
    forward: (ctx: KernelContext, [a]) => [inverse(ctx, a!)],
  },
};

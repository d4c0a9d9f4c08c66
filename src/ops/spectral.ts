/**
 * Mirror kernels: the spectral family (DFT, opsets 17 and 20).
 *
 * DFT: the input is [..., n, ..., 1] (real) or [..., n, ..., 2] (complex), the transform runs
 * along `axis` (an attribute at opset 17, default 1; an optional scalar input from opset 20,
 * default -2; negative counts from the back, the trailing complex dim included), zero-padded or
 * truncated to `dft_length` when given. The output is complex ([..., 2]); with `onesided` only
 * the first floor(n/2) + 1 frequencies are kept; `inverse` uses e^{+2 pi i k m / n} and divides by
 * n. The transform is two matmuls per part with cos / sin matrices built on the host (float64,
 * angles reduced mod n, then float32), so it is exact to float32 rounding and differentiable.
 */
import { DataType } from '../onnx/data-types.js';
import type { KernelContext, KernelTable, Tensor } from './types.js';

type T2 = import('@tensorflow/tfjs-core').Tensor2D;

/** cos and sin of 2 pi m k / n for m < rows, k < cols, as [rows, cols] float32. */
function trigMatrices(ctx: KernelContext, n: number, cols: number): [Tensor, Tensor] {
  const c = new Float32Array(n * cols);
  const s = new Float32Array(n * cols);
  for (let m = 0; m < n; m++) {
    for (let k = 0; k < cols; k++) {
      const a = (2 * Math.PI * ((m * k) % n)) / n;
      c[m * cols + k] = Math.cos(a);
      s[m * cols + k] = Math.sin(a);
    }
  }
  return [ctx.tf.tensor2d(c, [n, cols]), ctx.tf.tensor2d(s, [n, cols])];
}

function dftForward(ctx: KernelContext, [x0, lenT, axisT]: readonly (Tensor | null)[]): Tensor[] {
  const tf = ctx.tf;
  if (!x0) ctx.fail('missing input');
  const x = x0;
  const r = x.rank;
  if (r < 2) ctx.fail(`DFT input of rank ${r} (needs [..., n, ..., 1 or 2])`);
  const parts = x.shape[r - 1]!;
  if (parts !== 1 && parts !== 2) ctx.fail(`the last dim of the input is ${parts} (1: real, 2: complex)`);
  let axis: number;
  if (ctx.opset >= 20) {
    const a = axisT ? ctx.ints(axisT) : [-2];
    if (!a || a.length !== 1) ctx.fail('axis must be a scalar');
    axis = a[0]!;
  } else axis = ctx.node.attrInt('axis', 1);
  if (axis < 0) axis += r;
  if (axis < 0 || axis > r - 2) ctx.fail(`axis ${axis} outside the signal dims [0, ${r - 2}] (rank ${r})`);
  const inverse = ctx.node.attrInt('inverse', 0) !== 0;
  const onesided = ctx.node.attrInt('onesided', 0) !== 0;
  const L = x.shape[axis]!;
  let n = L;
  if (lenT) {
    const v = ctx.ints(lenT);
    if (!v || v.length !== 1) ctx.fail('dft_length must be a scalar');
    n = v[0]!;
    if (n < 1) ctx.fail(`dft_length ${n} must be positive`);
  }
  const nOut = onesided ? Math.floor(n / 2) + 1 : n;
  if (n * nOut > 1 << 26) ctx.fail(`a DFT of length ${n} (the mirror builds [n, n] matrices; at most 2^26 entries)`);
  // real and imaginary parts [..., L, ...] -> signal axis last -> [rows, L] -> padded / cut to n
  const perm = Array.from({ length: r - 1 }, (_, i) => i).filter((i) => i !== axis);
  perm.push(axis);
  const inv = perm.map((_, i) => perm.indexOf(i));
  const outer = perm.slice(0, -1).map((i) => x.shape[i]!);
  const rows = outer.reduce((p, q) => p * q, 1);
  const part = (k: number): Tensor => {
    let p = tf.reshape(tf.transpose(tf.reshape(tf.slice(x, [...Array<number>(r - 1).fill(0), k], [...x.shape.slice(0, -1), 1]), x.shape.slice(0, -1)), perm), [rows, L]);
    if (n > L) p = tf.pad(p, [
      [0, 0],
      [0, n - L],
    ]);
    else if (n < L) p = tf.slice(p, [0, 0], [rows, n]);
    return p;
  };
  const xr = part(0) as T2;
  const xi = parts === 2 ? (part(1) as T2) : undefined;
  const [C, S] = trigMatrices(ctx, n, nOut) as [T2, T2];
  // forward: e^{-i a}: yr = xr C + xi S, yi = xi C - xr S; inverse: e^{+i a}: yr = xr C - xi S, yi = xi C + xr S
  let yr = tf.matMul(xr, C) as Tensor;
  let yi = tf.neg(tf.matMul(xr, S)) as Tensor;
  if (inverse) yi = tf.neg(yi);
  if (xi) {
    const xiS = tf.matMul(xi, S);
    yr = inverse ? tf.sub(yr, xiS) : tf.add(yr, xiS);
    yi = tf.add(yi, tf.matMul(xi, C));
  }
  if (inverse) {
    yr = tf.div(yr, tf.scalar(n));
    yi = tf.div(yi, tf.scalar(n));
  }
  const back = (t: Tensor): Tensor => tf.transpose(tf.reshape(t, [...outer, nOut]), inv);
  return [tf.stack([back(yr), back(yi)], r - 1)];
}

export const SPECTRAL_KERNELS: KernelTable = {
  DFT: {
    types: [DataType.FLOAT],
    sinceVersion: 17,
    unsupported: (node) => (node.attrInt('inverse', 0) !== 0 && node.attrInt('onesided', 0) !== 0 ? 'DFT with both inverse and onesided (a one-sided inverse is not defined by the mirror)' : undefined),
    forward: dftForward,
  },
};

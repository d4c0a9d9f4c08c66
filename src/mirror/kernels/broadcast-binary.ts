/**
 * Fast broadcasting float32 Add / Sub / Multiply / RealDiv for the tfjs cpu backend.
 *
 * The stock kernels handle a broadcast (a conv bias [1,C,1,1] added to [N,C,H,W], a per-channel
 * scale) by converting every output index to coordinates and back, allocating arrays per element.
 * Here the output is walked as runs along its innermost dimension with an odometer over the outer
 * ones, each operand advancing by its own stride (0 along broadcast dims): the same IEEE operations
 * in the same order per element, so results are identical. Anything but float32 inputs of equal
 * dtype (int32, bool, complex) goes to the stock kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import { KernelSwap, type CpuBackendLike } from './gemm.js';

type Op = (x: number, y: number) => number;

/** Per-dim strides of `shape` aligned to the output rank, 0 where the operand is broadcast. */
function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const rank = out.length;
  const strides = new Array<number>(rank).fill(0);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const o = rank - shape.length + i;
    strides[o] = shape[i] === 1 && out[o] !== 1 ? 0 : s;
    s *= shape[i]!;
  }
  return strides;
}

/** result[i] = op(a[ia], b[ib]) over the broadcast shape `out`. */
export function broadcastBinary(a: Float32Array, aShape: readonly number[], b: Float32Array, bShape: readonly number[], out: readonly number[], op: Op): Float32Array {
  const size = out.reduce((p, d) => p * d, 1);
  const result = new Float32Array(size);
  if (size === 0) return result;
  const rank = out.length;
  if (rank === 0) {
    result[0] = op(a[0]!, b[0]!);
    return result;
  }
  const as = broadcastStrides(aShape, out);
  const bs = broadcastStrides(bShape, out);
  const inner = out[rank - 1]!;
  const ai = as[rank - 1]!;
  const bi = bs[rank - 1]!;
  const outer = size / inner;
  const idx = new Array<number>(rank - 1).fill(0);
  let ao = 0;
  let bo = 0;
  let r = 0;
  for (let k = 0; k < outer; k++) {
    if (ai === 1 && bi === 1) for (let j = 0; j < inner; j++) result[r++] = op(a[ao + j]!, b[bo + j]!);
    else if (ai === 1 && bi === 0) {
      const y = b[bo]!;
      for (let j = 0; j < inner; j++) result[r++] = op(a[ao + j]!, y);
    } else if (ai === 0 && bi === 1) {
      const x = a[ao]!;
      for (let j = 0; j < inner; j++) result[r++] = op(x, b[bo + j]!);
    } else for (let j = 0; j < inner; j++) result[r++] = op(a[ao + j * ai]!, b[bo + j * bi]!);
    // odometer over the outer dims
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      ao += as[d]!;
      bo += bs[d]!;
      if (idx[d]! < out[d]!) break;
      ao -= as[d]! * out[d]!;
      bo -= bs[d]! * out[d]!;
      idx[d] = 0;
    }
  }
  return result;
}

function kernel(name: string, op: Op): KernelSwap {
  let swap: KernelSwap;
  const kernelFunc: tf.KernelFunc = (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const backend = args.backend as unknown as CpuBackendLike;
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return swap.stock()!(args);
    const out = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const av = backend.data.get(a.dataId).values as Float32Array;
    const bv = backend.data.get(b.dataId).values as Float32Array;
    return backend.makeTensorInfo(out, 'float32', broadcastBinary(av, a.shape, bv, b.shape, out, op));
  };
  swap = new KernelSwap(name, kernelFunc);
  return swap;
}

const SWAPS = [
  kernel(tf.Add, (x, y) => x + y),
  kernel(tf.Sub, (x, y) => x - y),
  kernel(tf.Multiply, (x, y) => x * y),
  kernel(tf.RealDiv, (x, y) => x / y),
];

/** Register the fast kernels on the cpu backend (idempotent). */
export function registerFastBinaryKernels(): void {
  for (const s of SWAPS) s.register();
}

/** Put the stock kernels back (tests and benchmarks compare both). */
export function restoreStockBinaryKernels(): void {
  for (const s of SWAPS) s.restore();
}

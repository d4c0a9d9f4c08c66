/**
 * Mirror kernels: the matmul family (MatMul with numpy semantics, Gemm).
 *
 * MatMul: a 1-D first operand is a row (prepended 1, removed after), a 1-D second operand a
 * column (appended 1, removed after); batch dims broadcast (made explicit with broadcastTo, then
 * one batched tf.matMul on rank 3). Integer types run in int32 (the cpu backend sums in float64
 * and stores int32: exact while the products and sums fit).
 *
 * Gemm: Y = alpha * A' B' + beta * C, A' / B' transposed by transA / transB, C (optional from
 * opset 11) broadcast unidirectionally to [M, N].
 */
import { DataType } from '../onnx/data-types.js';
import type { KernelContext, KernelTable, Tensor, TF } from './types.js';

const INTS = [DataType.INT32, DataType.INT64, DataType.UINT32, DataType.UINT64];

type tf3 = import('@tensorflow/tfjs-core').Tensor3D;

function broadcastShapes(ctx: KernelContext, a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) ctx.fail(`batch dims [${a.join(',')}] and [${b.join(',')}] do not broadcast`);
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** numpy matmul of two tensors (rank >= 1). */
export function numpyMatMul(ctx: KernelContext, a0: Tensor, b0: Tensor): Tensor {
  const tf = ctx.tf;
  if (a0.rank === 0 || b0.rank === 0) ctx.fail('MatMul of a scalar');
  const a = a0.rank === 1 ? tf.reshape(a0, [1, a0.shape[0]!]) : a0;
  const b = b0.rank === 1 ? tf.reshape(b0, [b0.shape[0]!, 1]) : b0;
  const [M, K] = a.shape.slice(-2) as [number, number];
  const [K2, N] = b.shape.slice(-2) as [number, number];
  if (K !== K2) ctx.fail(`inner dims differ: [${a0.shape.join(',')}] x [${b0.shape.join(',')}]`);
  let y: Tensor;
  if (a.rank === 2 && b.rank === 2) {
    y = tf.matMul(a as import('@tensorflow/tfjs-core').Tensor2D, b as import('@tensorflow/tfjs-core').Tensor2D);
  } else {
    const batch = broadcastShapes(ctx, a.shape.slice(0, -2), b.shape.slice(0, -2));
    const B = batch.reduce((p, q) => p * q, 1);
    const a3 = tf.reshape(broadcastTo(tf, a, [...batch, M, K]), [B, M, K]) as tf3;
    // a 2-D right operand with a batched left one: one [B*M, K] x [K, N] product
    if (b.rank === 2) {
      y = tf.reshape(tf.matMul(tf.reshape(a3, [B * M, K]) as import('@tensorflow/tfjs-core').Tensor2D, b as import('@tensorflow/tfjs-core').Tensor2D), [...batch, M, N]);
    } else {
      const b3 = tf.reshape(broadcastTo(tf, b, [...batch, K, N]), [B, K, N]) as tf3;
      y = tf.reshape(tf.matMul(a3, b3), [...batch, M, N]);
    }
  }
  if (a0.rank === 1 && b0.rank === 1) return tf.reshape(y, []);
  if (a0.rank === 1) return tf.reshape(y, [...y.shape.slice(0, -2), N]);
  if (b0.rank === 1) return tf.reshape(y, [...y.shape.slice(0, -2), M]);
  return y;
}

function broadcastTo(tf: TF, t: Tensor, shape: number[]): Tensor {
  const r = shape.length;
  const t2 = t.rank < r ? tf.reshape(t, [...Array<number>(r - t.rank).fill(1), ...t.shape]) : t;
  return t2.shape.every((d, i) => d === shape[i]) ? t2 : tf.broadcastTo(t2, shape);
}

function gemmForward(ctx: KernelContext, inputs: readonly (Tensor | null)[]): Tensor[] {
  const tf = ctx.tf;
  const [a, b, c] = inputs;
  if (!a || !b) ctx.fail('missing input A or B');
  if (a.rank !== 2 || b.rank !== 2) ctx.fail(`Gemm needs 2-D A and B, got ranks ${a.rank} and ${b.rank}`);
  const transA = ctx.node.attrInt('transA', 0) !== 0;
  const transB = ctx.node.attrInt('transB', 0) !== 0;
  const alpha = ctx.node.attrFloat('alpha', 1);
  const beta = ctx.node.attrFloat('beta', 1);
  const K = transA ? a.shape[0]! : a.shape[1]!;
  const K2 = transB ? b.shape[1]! : b.shape[0]!;
  if (K !== K2) ctx.fail(`inner dims differ: A [${a.shape.join(',')}]${transA ? '^T' : ''} x B [${b.shape.join(',')}]${transB ? '^T' : ''}`);
  const isInt = a.dtype === 'int32';
  const scalar = (v: number): Tensor => tf.scalar(v, isInt ? 'int32' : 'float32');
  if (isInt && (!Number.isInteger(alpha) || !Number.isInteger(beta))) ctx.fail(`integer Gemm with alpha ${alpha}, beta ${beta}`);
  let y = tf.matMul(a as import('@tensorflow/tfjs-core').Tensor2D, b as import('@tensorflow/tfjs-core').Tensor2D, transA, transB) as Tensor;
  if (alpha !== 1) y = tf.mul(y, scalar(alpha));
  if (c && beta !== 0) {
    const M = y.shape[0]!;
    const N = y.shape[1]!;
    if (c.rank > 2 || c.shape.some((d, i) => d !== 1 && d !== [M, N][i + 2 - c.rank])) ctx.fail(`C [${c.shape.join(',')}] does not broadcast to [${M},${N}]`);
    y = tf.add(y, beta === 1 ? c : tf.mul(c, scalar(beta)));
  }
  return [y];
}

export const MATMUL_KERNELS: KernelTable = {
  MatMul: {
    types: [DataType.FLOAT, ...INTS],
    forward: (ctx: KernelContext, [a, b]) => {
      if (!a || !b) ctx.fail('missing input A or B');
      return [numpyMatMul(ctx, a, b)];
    },
  },
  Gemm: { types: [DataType.FLOAT, ...INTS], forward: gemmForward },
};

/**
 * Mirror kernels: the reduce family (ReduceMean, ReduceSum, ReduceMax, ReduceMin, ReduceProd,
 * ReduceSumSquare, ReduceL1, ReduceL2, ReduceLogSum, ReduceLogSumExp, ArgMax, ArgMin, CumSum).
 *
 * Axes are an attribute before the opset where they became an input (ReduceSum 13, the others
 * 18); from then on `noop_with_empty_axes` makes an empty axes list reduce nothing (the op's
 * elementwise part still applies, as in ONNX's reference: ReduceSumSquare squares, ReduceL1 takes
 * |x|, ...), otherwise an empty list reduces every axis. Reductions over an empty set give the
 * reduction's identity (0, 1, -inf, +inf; NaN for the mean).
 *
 * ArgMax/ArgMin are computed with tfjs ops exactly (first or last index of the extreme value),
 * independent of the backend's tie-breaking.
 *
 * TopK (k an attribute before opset 10, an input from 10; axis, largest and sorted from 11): the
 * indices come from tf.topk along the last axis (of -x for the smallest), which puts the lower
 * index first among equal values as ONNX requires; the values are then gathered from x with those
 * indices, so they are differentiable in x (tf.topk has no gradient; the indices are integers read
 * back to the host). The output is always sorted
 * (sorted=0 leaves the order unspecified in ONNX). NaN inputs are refused at run time (tf.topk
 * does not order them).
 */
import { DataType } from '../onnx/data-types.js';
import { NUMERIC_TYPES, normAxes, normAxis } from './shape.js';
import type { KernelContext, KernelTable, OpKernel, Tensor, TF } from './types.js';

interface Reduction {
  /** Elementwise part before the reduction (identity if absent). */
  pre?: (tf: TF, x: Tensor) => Tensor;
  /** The reduction proper over axes (non-empty), keeping dims as asked. */
  reduce: (tf: TF, x: Tensor, axes: number[], keep: boolean) => Tensor;
  /** Elementwise part after the reduction. */
  post?: (tf: TF, y: Tensor) => Tensor;
  /** Value of a reduction over an empty set. */
  empty: number;
  types: readonly number[];
  /** Opset from which axes are an input. */
  axesInputSince: number;
}

/** The axes of a Reduce* node: [] means none given. */
function reduceAxes(ctx: KernelContext, inputs: readonly (Tensor | null)[], since: number): number[] {
  return (ctx.opset >= since ? ctx.ints(inputs[1]) : ctx.node.attrInts('axes')) ?? [];
}

function reduceKernel(r: Reduction): OpKernel {
  return {
    types: r.types,
    forward: (ctx: KernelContext, inputs) => {
      const tf = ctx.tf;
      const x = inputs[0]!;
      const given = reduceAxes(ctx, inputs, r.axesInputSince);
      const keep = ctx.node.attrInt('keepdims', 1) === 1;
      const noop = ctx.opset >= r.axesInputSince && ctx.node.attrInt('noop_with_empty_axes', 0) === 1;
      const pre = (t: Tensor): Tensor => (r.pre ? r.pre(tf, t) : t);
      const post = (t: Tensor): Tensor => (r.post ? r.post(tf, t) : t);
      if (given.length === 0 && noop) {
        const y = post(pre(x));
        return [y === x ? tf.clone(x) : y];
      }
      const axes = given.length === 0 ? x.shape.map((_, i) => i) : normAxes(ctx, given, x.rank);
      if (x.rank === 0) return [tf.clone(post(pre(x)))];
      const outShape = x.shape.flatMap((d, i) => (axes.includes(i) ? (keep ? [1] : []) : [d]));
      if (axes.some((a) => x.shape[a] === 0)) {
        const dtype = x.dtype === 'int32' && Number.isFinite(r.empty) ? 'int32' : 'float32';
        if (x.dtype === 'int32' && dtype !== 'int32') ctx.fail('reduction of an empty set of integers has no value');
        return [tf.fill(outShape, r.empty, dtype)];
      }
      return [post(r.reduce(tf, pre(x), axes, keep))];
    },
  };
}

/** Exact first (or last) index of the max (or min) along axis, as int32. */
function argExtreme(ctx: KernelContext, x: Tensor, max: boolean): Tensor {
  const tf = ctx.tf;
  const axis = normAxis(ctx, ctx.node.attrInt('axis', 0), x.rank);
  const keep = ctx.node.attrInt('keepdims', 1) === 1;
  const last = ctx.opset >= 12 && ctx.node.attrInt('select_last_index', 0) === 1;
  const n = x.shape[axis]!;
  if (n === 0) ctx.fail(`cannot take the arg${max ? 'max' : 'min'} of an empty axis ${axis}`);
  const ext = max ? tf.max(x, axis, true) : tf.min(x, axis, true);
  const hit = tf.equal(x, ext);
  const idx = tf.reshape(tf.range(0, n, 1, 'int32'), x.shape.map((_, i) => (i === axis ? n : 1)));
  const full = tf.broadcastTo(idx, x.shape);
  const res = last
    ? tf.max(tf.where(hit, full, tf.fill(x.shape, -1, 'int32')), axis, keep)
    : tf.min(tf.where(hit, full, tf.fill(x.shape, n, 'int32')), axis, keep);
  return res;
}

const FLOAT = [DataType.FLOAT];

function topK(ctx: KernelContext, [x0, kT]: readonly (Tensor | null)[]): Tensor[] {
  const tf = ctx.tf;
  if (!x0) ctx.fail('missing input X');
  const x = x0;
  if (x.rank === 0) ctx.fail('TopK of a scalar');
  let k: number;
  if (ctx.opset < 10) k = ctx.node.attrInt('k', -1);
  else {
    const kv = ctx.ints(kT);
    if (!kv || kv.length !== 1) ctx.fail('K must hold one value');
    k = kv[0]!;
  }
  const axis = normAxis(ctx, ctx.node.attrInt('axis', -1), x.rank);
  const largest = ctx.opset < 11 || ctx.node.attrInt('largest', 1) !== 0;
  const n = x.shape[axis]!;
  if (k < 0 || k > n) ctx.fail(`k = ${k} outside [0, ${n}] (axis ${axis} of [${x.shape.join(',')}])`);
  if (x.dtype === 'float32' && tf.any(tf.isNaN(x)).dataSync()[0]) ctx.fail('TopK of data holding NaN (the mirror cannot order NaN)');
  const perm = x.shape.map((_, i) => i);
  perm.splice(axis, 1);
  perm.push(axis);
  const inv = perm.map((_, i) => perm.indexOf(i));
  const xt = axis === x.rank - 1 ? x : tf.transpose(x, perm);
  const rows = x.size / Math.max(n, 1);
  const x2 = tf.reshape(xt, [rows, n]);
  const key = largest ? x2 : tf.neg(x2);
  // the indices are read back and rebuilt so that no gradient path runs through them (tfjs'
  // Gather gradient would otherwise hand an int32 gradient to its indices)
  const idx = k === 0 || rows === 0 ? tf.zeros([rows, k], 'int32') : tf.tensor(tf.topk(key, k, true).indices.dataSync(), [rows, k], 'int32');
  // values gathered from x (differentiable), not taken from tf.topk
  const flat = tf.add(idx, tf.mul(tf.reshape(tf.range(0, rows, 1, 'int32'), [rows, 1]), tf.scalar(n, 'int32')));
  const vals = tf.reshape(tf.gather(tf.reshape(x2, [-1]), tf.reshape(flat, [-1])), [rows, k]);
  const outT = [...xt.shape.slice(0, -1), k];
  const back = (t: Tensor): Tensor => (axis === x.rank - 1 ? tf.reshape(t, outT) : tf.transpose(tf.reshape(t, outT), inv));
  return [back(vals), back(idx)];
}

export const REDUCE_KERNELS: KernelTable = {
  ReduceMean: reduceKernel({ types: FLOAT, axesInputSince: 18, empty: NaN, reduce: (tf, x, a, k) => tf.mean(x, a, k) }),
  ReduceSum: reduceKernel({ types: NUMERIC_TYPES, axesInputSince: 13, empty: 0, reduce: (tf, x, a, k) => tf.sum(x, a, k) }),
  ReduceMax: reduceKernel({ types: NUMERIC_TYPES, axesInputSince: 18, empty: -Infinity, reduce: (tf, x, a, k) => tf.max(x, a, k) }),
  ReduceMin: reduceKernel({ types: NUMERIC_TYPES, axesInputSince: 18, empty: Infinity, reduce: (tf, x, a, k) => tf.min(x, a, k) }),
  ReduceProd: reduceKernel({ types: NUMERIC_TYPES, axesInputSince: 18, empty: 1, reduce: (tf, x, a, k) => tf.prod(x, a, k) }),
  ReduceSumSquare: reduceKernel({ types: NUMERIC_TYPES, axesInputSince: 18, empty: 0, pre: (tf, x) => tf.square(x), reduce: (tf, x, a, k) => tf.sum(x, a, k) }),
  ReduceL1: reduceKernel({ types: NUMERIC_TYPES, axesInputSince: 18, empty: 0, pre: (tf, x) => tf.abs(x), reduce: (tf, x, a, k) => tf.sum(x, a, k) }),
  ReduceL2: reduceKernel({
    types: FLOAT,
    axesInputSince: 18,
    empty: 0,
    pre: (tf, x) => tf.square(x),
    reduce: (tf, x, a, k) => tf.sum(x, a, k),
    post: (tf, y) => tf.sqrt(y),
  }),
  ReduceLogSum: reduceKernel({ types: FLOAT, axesInputSince: 18, empty: -Infinity, reduce: (tf, x, a, k) => tf.sum(x, a, k), post: (tf, y) => tf.log(y) }),
  ReduceLogSumExp: reduceKernel({
    types: FLOAT,
    axesInputSince: 18,
    empty: -Infinity,
    // noop: log(exp(x)) = x
    reduce: (tf, x, a, k) => tf.logSumExp(x, a, k),
  }),

  ArgMax: { types: NUMERIC_TYPES, forward: (ctx: KernelContext, [x]) => [argExtreme(ctx, x!, true)] },
  ArgMin: { types: NUMERIC_TYPES, forward: (ctx: KernelContext, [x]) => [argExtreme(ctx, x!, false)] },

  TopK: {
    types: NUMERIC_TYPES,
    outputs: 2,
    unsupported: (node, opset) => (opset < 10 && node.attrInt('k', -1) < 0 ? "TopK-1 without a 'k' attribute" : undefined),
    forward: topK,
  },

  CumSum: {
    types: NUMERIC_TYPES,
    sinceVersion: 11,
    forward: (ctx: KernelContext, [x, axisT]) => {
      const a = ctx.ints(axisT);
      if (!a || a.length !== 1) ctx.fail('axis must be a scalar');
      const axis = normAxis(ctx, a[0]!, x!.rank);
      const exclusive = ctx.node.attrInt('exclusive', 0) === 1;
      const reverse = ctx.node.attrInt('reverse', 0) === 1;
      return [ctx.tf.cumsum(x!, axis, exclusive, reverse)];
    },
  },
};

/**
 * Mirror kernels: the norm family (BatchNormalization, InstanceNormalization, LayerNormalization,
 * GroupNormalization, LRN, MeanVarianceNormalization) and the softmax family (Softmax,
 * LogSoftmax, Hardmax). Float32; variances are population variances as ONNX defines them.
 *
 * BatchNormalization runs the inference form (running statistics); from opset 14 training_mode=1
 * is computed too (batch statistics for Y, and the updated running mean / variance outputs).
 * Before opset 14 the training outputs (mean, var, saved_mean, saved_var) are unsupported. Before
 * opset 9, spatial=0 takes per-element statistics of shape [C, D1, ...].
 *
 * Softmax / LogSoftmax / Hardmax: before opset 13 the input is coerced to 2-D at `axis` (default 1)
 * and the op runs over the second dim; from 13 along `axis` (default -1).
 */
import type { Node } from '../ir/node.js';
import { DataType } from '../onnx/data-types.js';
import type { KernelContext, KernelTable, Tensor, TF } from './types.js';

const F = [DataType.FLOAT];

function need(ctx: KernelContext, t: Tensor | null | undefined, what: string): Tensor {
  if (!t) ctx.fail(`missing input ${what}`);
  return t;
}

function normAxis(ctx: KernelContext, axis: number, rank: number, allowRank = false): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a > rank || (!allowRank && a === rank)) ctx.fail(`axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** A per-channel vector [C] (or, with rank > 1, a per-element tensor) shaped to broadcast on NC... */
function channelParam(tf: TF, p: Tensor, rank: number): Tensor {
  if (p.rank === 1) return tf.reshape(p, [1, p.shape[0]!, ...Array<number>(Math.max(0, rank - 2)).fill(1)]);
  return tf.reshape(p, [1, ...p.shape]);
}

function moments(tf: TF, x: Tensor, axes: number[]): { mean: Tensor; variance: Tensor } {
  const mean = tf.mean(x, axes, true);
  const variance = tf.mean(tf.square(tf.sub(x, mean)), axes, true);
  return { mean, variance };
}

function usedOutputs(node: Node): number[] {
  return node.outputs.map((o, i) => (o && (o.uses().length > 0 || o.isGraphOutput) ? i : -1)).filter((i) => i >= 0);
}

function batchNormProblem(node: Node, opset: number): string | undefined {
  if (opset < 14) {
    if (usedOutputs(node).some((i) => i > 0)) return `the training outputs of BatchNormalization-${opset < 7 ? 6 : opset < 9 ? 7 : 9}`;
    return undefined;
  }
  const tm = node.attrInt('training_mode', 0);
  if (tm !== 0 && tm !== 1) return `training_mode ${tm}`;
  if (tm === 0 && usedOutputs(node).some((i) => i > 0)) return 'running mean / variance outputs without training_mode';
  return undefined;
}

function batchNormForward(ctx: KernelContext, inputs: readonly (Tensor | null)[]): Tensor[] {
  const tf = ctx.tf;
  const x = need(ctx, inputs[0], 'X');
  const scale = need(ctx, inputs[1], 'scale');
  const bias = need(ctx, inputs[2], 'B');
  const mean = need(ctx, inputs[3], 'mean');
  const variance = need(ctx, inputs[4], 'var');
  if (x.rank < 2) ctx.fail(`input of rank ${x.rank}`);
  const eps = ctx.node.attrFloat('epsilon', 1e-5);
  const r = x.rank;
  const training = ctx.opset >= 14 && ctx.node.attrInt('training_mode', 0) === 1;
  if (!training) {
    const spatial = ctx.opset < 9 ? ctx.node.attrInt('spatial', 1) : 1;
    if (spatial === 1 && [scale, bias, mean, variance].some((p) => p.rank !== 1)) ctx.fail('scale, B, mean and var must be 1-D');
    const sh = (p: Tensor): Tensor => channelParam(tf, p, r);
    // y = (x - mean) / sqrt(var + eps) * scale + B
    const inv = tf.div(sh(scale), tf.sqrt(tf.add(sh(variance), tf.scalar(eps))));
    return [tf.add(tf.mul(tf.sub(x, sh(mean)), inv), sh(bias))];
  }
  const axes = [0, ...x.shape.slice(2).map((_, i) => i + 2)];
  const m = moments(tf, x, axes);
  const sh = (p: Tensor): Tensor => channelParam(tf, p, r);
  const y = tf.add(tf.mul(tf.div(tf.sub(x, m.mean), tf.sqrt(tf.add(m.variance, tf.scalar(eps)))), sh(scale)), sh(bias));
  const momentum = ctx.node.attrFloat('momentum', 0.9);
  const flat = (t: Tensor): Tensor => tf.reshape(t, [x.shape[1]!]);
  const mom = tf.scalar(momentum);
  const rest = tf.scalar(1 - momentum);
  const runMean = tf.add(tf.mul(mean, mom), tf.mul(flat(m.mean), rest));
  const runVar = tf.add(tf.mul(variance, mom), tf.mul(flat(m.variance), rest));
  return [y, runMean, runVar];
}

function instanceNormForward(ctx: KernelContext, inputs: readonly (Tensor | null)[]): Tensor[] {
  const tf = ctx.tf;
  const x = need(ctx, inputs[0], 'input');
  const scale = need(ctx, inputs[1], 'scale');
  const bias = need(ctx, inputs[2], 'B');
  if (x.rank < 3) ctx.fail(`input of rank ${x.rank}: InstanceNormalization needs N, C and a spatial axis`);
  const eps = ctx.node.attrFloat('epsilon', 1e-5);
  const m = moments(tf, x, x.shape.slice(2).map((_, i) => i + 2));
  const norm = tf.div(tf.sub(x, m.mean), tf.sqrt(tf.add(m.variance, tf.scalar(eps))));
  return [tf.add(tf.mul(norm, channelParam(tf, scale, x.rank)), channelParam(tf, bias, x.rank))];
}

function layerNormForward(ctx: KernelContext, inputs: readonly (Tensor | null)[]): Tensor[] {
  const tf = ctx.tf;
  const x = need(ctx, inputs[0], 'X');
  const scale = need(ctx, inputs[1], 'Scale');
  const bias = inputs[2] ?? null;
  const axis = normAxis(ctx, ctx.node.attrInt('axis', -1), x.rank);
  const eps = ctx.node.attrFloat('epsilon', 1e-5);
  const axes = x.shape.slice(axis).map((_, i) => i + axis);
  const mean = tf.mean(x, axes, true);
  const d = tf.sub(x, mean);
  const variance = tf.mean(tf.mul(d, d), axes, true);
  const invStd = tf.reciprocal(tf.sqrt(tf.add(variance, tf.scalar(eps))));
  let y = tf.mul(tf.mul(d, invStd), scale);
  if (bias) y = tf.add(y, bias);
  return [y, mean, invStd];
}

function groupNormForward(ctx: KernelContext, inputs: readonly (Tensor | null)[]): Tensor[] {
  const tf = ctx.tf;
  const x = need(ctx, inputs[0], 'X');
  const scale = need(ctx, inputs[1], 'scale');
  const bias = need(ctx, inputs[2], 'bias');
  const G = ctx.node.attrInt('num_groups');
  if (G === undefined) ctx.fail('missing attribute num_groups');
  if (x.rank < 2) ctx.fail(`input of rank ${x.rank}`);
  const [N, C] = [x.shape[0]!, x.shape[1]!];
  if (G < 1 || C % G !== 0) ctx.fail(`num_groups ${G} does not divide the ${C} channels`);
  const eps = ctx.node.attrFloat('epsilon', 1e-5);
  const xg = tf.reshape(x, [N, G, -1]);
  const m = moments(tf, xg, [2]);
  const norm = tf.div(tf.sub(xg, m.mean), tf.sqrt(tf.add(m.variance, tf.scalar(eps))));
  if (ctx.opset < 21) {
    // opset 18: scale and bias per group
    if (scale.size !== G || bias.size !== G) ctx.fail(`scale and bias must have num_groups (${G}) values at opset ${ctx.opset}`);
    const y = tf.add(tf.mul(norm, tf.reshape(scale, [1, G, 1])), tf.reshape(bias, [1, G, 1]));
    return [tf.reshape(y, x.shape)];
  }
  if (scale.size !== C || bias.size !== C) ctx.fail(`scale and bias must have C (${C}) values`);
  const y = tf.reshape(norm, x.shape);
  return [tf.add(tf.mul(y, channelParam(tf, tf.reshape(scale, [C]), x.rank)), channelParam(tf, tf.reshape(bias, [C]), x.rank))];
}

function lrnForward(ctx: KernelContext, inputs: readonly (Tensor | null)[]): Tensor[] {
  const tf = ctx.tf;
  const x = need(ctx, inputs[0], 'X');
  const size = ctx.node.attrInt('size');
  if (size === undefined || size < 1) ctx.fail(`size ${size ?? 'missing'}`);
  if (x.rank < 2) ctx.fail(`input of rank ${x.rank}`);
  const alpha = ctx.node.attrFloat('alpha', 1e-4);
  const beta = ctx.node.attrFloat('beta', 0.75);
  const bias = ctx.node.attrFloat('bias', 1);
  const lo = Math.floor((size - 1) / 2);
  const hi = Math.ceil((size - 1) / 2);
  const C = x.shape[1]!;
  const sq = tf.pad(tf.square(x), x.shape.map((_, i) => (i === 1 ? [lo, hi] : [0, 0]) as [number, number]));
  let sum: Tensor | undefined;
  for (let k = 0; k < size; k++) {
    const s = tf.slice(sq, x.shape.map((_, i) => (i === 1 ? k : 0)), x.shape.map((n, i) => (i === 1 ? C : n)));
    sum = sum ? tf.add(sum, s) : s;
  }
  const denom = tf.pow(tf.add(tf.scalar(bias), tf.mul(tf.scalar(alpha / size), sum!)), tf.scalar(beta));
  return [tf.div(x, denom)];
}

function mvnForward(ctx: KernelContext, inputs: readonly (Tensor | null)[]): Tensor[] {
  const tf = ctx.tf;
  const x = need(ctx, inputs[0], 'X');
  const axes = (ctx.node.attrInts('axes') ?? [0, 2, 3]).map((a) => normAxis(ctx, a, x.rank));
  const mean = tf.mean(x, axes, true);
  const variance = tf.sub(tf.mean(tf.square(x), axes, true), tf.square(mean));
  const std = tf.sqrt(variance);
  return [tf.div(tf.sub(x, mean), tf.add(std, tf.scalar(1e-9)))];
}

/** Run `f` along one axis: the opset-13 form, or (before 13) on the 2-D coercion at `axis`. */
function alongAxis(ctx: KernelContext, x: Tensor, f: (t: Tensor, axis: number) => Tensor): Tensor {
  const tf = ctx.tf;
  if (ctx.opset >= 13) {
    if (x.rank === 0) ctx.fail('input is a scalar');
    return f(x, normAxis(ctx, ctx.node.attrInt('axis', -1), x.rank));
  }
  const axis = normAxis(ctx, ctx.node.attrInt('axis', 1), x.rank, true);
  const rows = x.shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const cols = x.shape.slice(axis).reduce((a, b) => a * b, 1);
  return tf.reshape(f(tf.reshape(x, [rows, cols]), 1), x.shape);
}

function softmax(tf: TF, x: Tensor, axis: number): Tensor {
  const e = tf.exp(tf.sub(x, tf.max(x, axis, true)));
  return tf.div(e, tf.sum(e, axis, true));
}

function logSoftmax(tf: TF, x: Tensor, axis: number): Tensor {
  const d = tf.sub(x, tf.max(x, axis, true));
  return tf.sub(d, tf.log(tf.sum(tf.exp(d), axis, true)));
}

/** One-hot of the first maximum along `axis`. */
function hardmax(tf: TF, x: Tensor, axis: number): Tensor {
  const depth = x.shape[axis]!;
  const oh = tf.cast(tf.oneHot(tf.argMax(x, axis), depth), 'float32'); // the new axis is last
  if (axis === x.rank - 1) return oh;
  const perm: number[] = [];
  for (let i = 0; i < x.rank - 1; i++) {
    if (i === axis) perm.push(x.rank - 1);
    perm.push(i);
  }
  return tf.transpose(oh, perm);
}

export const NORM_KERNELS: KernelTable = {
  BatchNormalization: { types: F, outputs: 3, unsupported: batchNormProblem, forward: batchNormForward },
  InstanceNormalization: { types: F, forward: instanceNormForward },
  LayerNormalization: { types: F, outputs: 3, forward: layerNormForward },
  GroupNormalization: { types: F, forward: groupNormForward },
  LRN: { types: F, forward: lrnForward },
  MeanVarianceNormalization: { types: F, forward: mvnForward },
  Softmax: { types: F, forward: (ctx, [x]) => [alongAxis(ctx, need(ctx, x, 'input'), (t, a) => softmax(ctx.tf, t, a))] },
  LogSoftmax: { types: F, forward: (ctx, [x]) => [alongAxis(ctx, need(ctx, x, 'input'), (t, a) => logSoftmax(ctx.tf, t, a))] },
  Hardmax: { types: F, forward: (ctx, [x]) => [alongAxis(ctx, need(ctx, x, 'input'), (t, a) => hardmax(ctx.tf, t, a))] },
};

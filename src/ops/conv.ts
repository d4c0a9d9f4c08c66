/**
 * Mirror kernels: the conv family (Conv, ConvTranspose), NCHW as in ONNX.
 *
 * Conv: 1-D runs as 2-D (a unit height), 2-D on tf.conv2d / tf.depthwiseConv2d (group == C_in with
 * one input channel per group) / a split-concat over groups, 3-D on tf.conv3d. On the tfjs cpu
 * backend 2-D (and 1-D) convs run in NCHW as they are: tf.conv2d with dataFormat 'NCHW' and the
 * ONNX pads as explicit padding (no tf.pad, no layout transposes; only the small weight transpose
 * OIHW -> HWIO), grouped convs as a split-concat of those; depthwise convs (tfjs' cpu depthwise
 * kernel is NHWC only) transpose to NHWC and take explicit padding too. Elsewhere (tfjs-node's
 * TensorFlow kernels have no NCHW conv on the CPU) pads (explicit, asymmetric, or from auto_pad)
 * are applied with tf.pad, the input is transposed to NHWC, and the conv runs 'valid'.
 * Dilations > 1 are always applied by dilating the kernel explicitly (zeros inserted between its
 * taps), which computes the same sums: tfjs refuses strides > 1 together with dilations > 1, and
 * its conv gradients refuse dilations > 1 altogether.
 *
 * ConvTranspose: the full transposed conv (size s*(in-1) + (k-1)*d + 1) on tf.conv2dTranspose
 * (1-D, 2-D) or, for 3-D, as a conv of the stride-dilated input with the flipped kernel (tfjs has
 * no gradient for conv3dTranspose); then output_padding / pads / output_shape crop or zero-extend
 * its ends, and the bias is added.
 */
import type { Node } from '../ir/node.js';
import { DataType } from '../onnx/data-types.js';
import type { KernelContext, KernelTable, Tensor, TF } from './types.js';

type AutoPad = 'NOTSET' | 'SAME_UPPER' | 'SAME_LOWER' | 'VALID';
const AUTO_PADS: readonly string[] = ['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'];

/** auto_pad of a node (refusing unknown values). */
export function autoPad(ctx: KernelContext): AutoPad {
  const a = ctx.node.attrString('auto_pad', 'NOTSET');
  if (!AUTO_PADS.includes(a)) ctx.fail(`unknown auto_pad '${a}'`);
  return a as AutoPad;
}

export function autoPadProblem(node: Node): string | undefined {
  const a = node.attrString('auto_pad', 'NOTSET');
  return AUTO_PADS.includes(a) ? undefined : `auto_pad '${a}' is not an ONNX value`;
}

/** A per-spatial-axis attribute list of length r (default filled with `dflt`). */
export function spatialAttr(ctx: KernelContext, name: string, r: number, dflt: number): number[] {
  const v = ctx.node.attrInts(name);
  if (v === undefined || v.length === 0) return Array<number>(r).fill(dflt);
  if (v.length !== r) ctx.fail(`${name} has ${v.length} values for ${r} spatial axes`);
  return v;
}

/**
 * Begin/end pads of a conv or pool: explicit `pads` (NOTSET), zeros (VALID), or SAME_UPPER /
 * SAME_LOWER (output ceil(in / stride), the odd pad at the end / the beginning).
 */
export function convPads(ctx: KernelContext, ap: AutoPad, inSize: readonly number[], kernel: readonly number[], strides: readonly number[], dilations: readonly number[]): { begin: number[]; end: number[] } {
  const r = inSize.length;
  if (ap === 'NOTSET') {
    const p = ctx.node.attrInts('pads');
    if (p === undefined || p.length === 0) return { begin: Array<number>(r).fill(0), end: Array<number>(r).fill(0) };
    if (p.length !== 2 * r) ctx.fail(`pads has ${p.length} values for ${r} spatial axes`);
    if (p.some((v) => v < 0)) ctx.fail('negative pads');
    return { begin: p.slice(0, r), end: p.slice(r) };
  }
  if (ap === 'VALID') return { begin: Array<number>(r).fill(0), end: Array<number>(r).fill(0) };
  const begin: number[] = [];
  const end: number[] = [];
  for (let i = 0; i < r; i++) {
    const ke = (kernel[i]! - 1) * dilations[i]! + 1;
    const out = Math.ceil(inSize[i]! / strides[i]!);
    const total = Math.max(0, (out - 1) * strides[i]! + ke - inSize[i]!);
    const small = Math.floor(total / 2);
    const b = ap === 'SAME_UPPER' ? small : total - small;
    begin.push(b);
    end.push(total - b);
  }
  return { begin, end };
}

/** Pad the spatial axes (2..) of an N-C-... tensor with a constant. */
export function padSpatial(tf: TF, x: Tensor, begin: readonly number[], end: readonly number[], value = 0): Tensor {
  if (begin.every((v) => v === 0) && end.every((v) => v === 0)) return x;
  const p: [number, number][] = [[0, 0], [0, 0], ...begin.map((b, i) => [b, end[i]!] as [number, number])];
  return tf.pad(x, p, value);
}

/**
 * Crop (positive) or zero-extend (negative) each spatial axis at its beginning and end.
 */
export function cropOrPad(tf: TF, x: Tensor, cropBegin: readonly number[], cropEnd: readonly number[]): Tensor {
  const r = cropBegin.length;
  let y = x;
  if (cropBegin.some((v) => v > 0) || cropEnd.some((v) => v > 0)) {
    const begin = [0, 0, ...cropBegin.map((v) => Math.max(0, v))];
    const size = [-1, -1, ...cropBegin.map((v, i) => y.shape[i + 2]! - Math.max(0, v) - Math.max(0, cropEnd[i]!))];
    if (size.some((s) => s !== -1 && s <= 0)) throw new Error('the crop leaves no output');
    y = tf.slice(y, begin, size);
  }
  if (cropBegin.some((v) => v < 0) || cropEnd.some((v) => v < 0)) {
    y = padSpatial(tf, y, cropBegin.map((v) => Math.max(0, -v)), cropEnd.slice(0, r).map((v) => Math.max(0, -v)));
  }
  return y;
}

/** Insert d-1 zeros between the taps of a kernel along axis `axis` (differentiable). */
function dilateAxis(tf: TF, w: Tensor, axis: number, d: number): Tensor {
  const k = w.shape[axis]!;
  if (d === 1 || k === 1) return w;
  const shape = w.shape;
  const e = tf.expandDims(w, axis + 1); // [..., k, 1, ...]
  const pads: [number, number][] = e.shape.map((_, i) => (i === axis + 1 ? [0, d - 1] : [0, 0]) as [number, number]);
  const p = tf.pad(e, pads); // [..., k, d, ...]
  const merged = tf.reshape(p, [...shape.slice(0, axis), k * d, ...shape.slice(axis + 1)]);
  const begin = shape.map(() => 0);
  const size = shape.map((s, i) => (i === axis ? (k - 1) * d + 1 : s));
  return tf.slice(merged, begin, size);
}

/** An ONNX-layout kernel [O, I, k...] with its spatial taps spread by `dilations`. */
export function dilateKernel(tf: TF, w: Tensor, dilations: readonly number[]): Tensor {
  let y = w;
  dilations.forEach((d, i) => (y = dilateAxis(tf, y, i + 2, d)));
  return y;
}

function splitChannels(tf: TF, t: Tensor, groups: number, axis: number): Tensor[] {
  return groups === 1 ? [t] : tf.split(t, groups, axis);
}

/** The kernel with its taps spread when any dilation is > 1 (tfjs' conv gradients only take dilations of 1). */
function undilated(tf: TF, w: Tensor, dilations: readonly number[]): Tensor {
  return dilations.some((d) => d > 1) ? dilateKernel(tf, w, dilations) : w;
}

/** 2-D conv, NCHW in and out, already padded; w [M, C/g, kh, kw]. Runs in NHWC (transposes around it). */
function conv2dValid(tf: TF, x: Tensor, w: Tensor, strides: number[], dilations: number[], group: number): Tensor {
  const ww = undilated(tf, w, dilations);
  const xh = tf.transpose(x, [0, 2, 3, 1]) as tf4;
  const C = x.shape[1]!;
  const M = ww.shape[0]!;
  const st = strides as [number, number];
  let y: Tensor;
  if (group === 1) {
    y = tf.conv2d(xh, tf.transpose(ww, [2, 3, 1, 0]) as tf4, st, 'valid', 'NHWC');
  } else if (group === C && ww.shape[1] === 1) {
    y = tf.depthwiseConv2d(xh, depthwiseFilter(tf, ww, C, M), st, 'valid', 'NHWC');
  } else {
    const xs = splitChannels(tf, xh, group, 3);
    const ws = splitChannels(tf, ww, group, 0);
    y = tf.concat(
      xs.map((xg, g) => tf.conv2d(xg as tf4, tf.transpose(ws[g]!, [2, 3, 1, 0]) as tf4, st, 'valid', 'NHWC')),
      3,
    );
  }
  return tf.transpose(y, [0, 3, 1, 2]);
}

/** [M, 1, kh, kw] (M = C * multiplier) -> tfjs' depthwise filter [kh, kw, C, multiplier]. */
function depthwiseFilter(tf: TF, w: Tensor, C: number, M: number): tf4 {
  return tf.transpose(tf.reshape(w, [C, M / C, w.shape[2]!, w.shape[3]!]), [2, 3, 0, 1]) as tf4;
}

/**
 * 2-D conv, NCHW in and out, unpadded input, pads [top, left] / [bottom, right] passed to the conv
 * as explicit padding; w [M, C/g, kh, kw]. For backends whose conv2d takes NCHW (the tfjs cpu
 * backend): no tf.pad, no transposes of the activations.
 */
function conv2dPaddedNCHW(tf: TF, x: Tensor, w: Tensor, strides: number[], dilations: number[], group: number, begin: readonly number[], end: readonly number[]): Tensor {
  const ww = undilated(tf, w, dilations);
  const C = x.shape[1]!;
  const M = ww.shape[0]!;
  const st = strides as [number, number];
  const hw: [number, number][] = [[begin[0]!, end[0]!], [begin[1]!, end[1]!]];
  const padNCHW = [[0, 0], [0, 0], ...hw] as ExplicitPadding;
  const hwio = (k: Tensor): tf4 => tf.transpose(k, [2, 3, 1, 0]) as tf4;
  if (group === 1) return tf.conv2d(x as tf4, hwio(ww), st, padNCHW, 'NCHW');
  if (group === C && ww.shape[1] === 1) {
    // tfjs' cpu depthwise kernel reads NHWC only
    const y = tf.depthwiseConv2d(tf.transpose(x, [0, 2, 3, 1]) as tf4, depthwiseFilter(tf, ww, C, M), st, [[0, 0], ...hw, [0, 0]] as ExplicitPadding, 'NHWC');
    return tf.transpose(y, [0, 3, 1, 2]);
  }
  const xs = splitChannels(tf, x, group, 1);
  const ws = splitChannels(tf, ww, group, 0);
  return tf.concat(
    xs.map((xg, g) => tf.conv2d(xg as tf4, hwio(ws[g]!), st, padNCHW, 'NCHW')),
    1,
  );
}

/** Whether the backend's conv2d (and its gradients) run NCHW directly: the tfjs cpu backend. */
export function convRunsNCHW(tf: TF): boolean {
  return tf.getBackend() === 'cpu';
}

type tf4 = import('@tensorflow/tfjs-core').Tensor4D;
type tf5 = import('@tensorflow/tfjs-core').Tensor5D;
type ExplicitPadding = import('@tensorflow/tfjs-core').backend_util.ExplicitPadding;

/** 3-D conv, NCDHW in and out, already padded; w [M, C/g, kd, kh, kw]. */
function conv3dValid(tf: TF, x: Tensor, w: Tensor, strides: number[], dilations: number[], group: number): Tensor {
  const ww = undilated(tf, w, dilations);
  const xh = tf.transpose(x, [0, 2, 3, 4, 1]);
  const st = strides as [number, number, number];
  const xs = splitChannels(tf, xh, group, 4);
  const ws = splitChannels(tf, ww, group, 0);
  const ys = xs.map((xg, g) => tf.conv3d(xg as tf5, tf.transpose(ws[g]!, [2, 3, 4, 1, 0]) as tf5, st, 'valid', 'NDHWC'));
  const y = ys.length === 1 ? ys[0]! : tf.concat(ys, 4);
  return tf.transpose(y, [0, 4, 1, 2, 3]);
}

/** N-d conv (r = 1, 2, 3 spatial axes) on a padded input. */
export function convNd(tf: TF, x: Tensor, w: Tensor, strides: number[], dilations: number[], group: number): Tensor {
  const r = x.rank - 2;
  if (r === 1) {
    const x2 = tf.expandDims(x, 2);
    const w2 = tf.expandDims(w, 2);
    const y = conv2dValid(tf, x2, w2, [1, strides[0]!], [1, dilations[0]!], group);
    return tf.squeeze(y, [2]);
  }
  if (r === 2) return conv2dValid(tf, x, w, strides, dilations, group);
  if (r === 3) return conv3dValid(tf, x, w, strides, dilations, group);
  throw new Error(`${r}-D convolution is not supported`);
}

function addBias(tf: TF, y: Tensor, b: Tensor | null): Tensor {
  if (!b) return y;
  return tf.add(y, tf.reshape(b, [1, b.size, ...Array<number>(y.rank - 2).fill(1)]));
}

function spatialRankProblem(node: Node, op: string): string | undefined {
  const rank = node.inputs[0]?.declaredShape?.length;
  if (rank !== undefined && (rank < 3 || rank > 5)) return `${op} on ${rank - 2} spatial axes (the mirror has 1-D, 2-D and 3-D)`;
  return undefined;
}

function checkConvShapes(ctx: KernelContext, x: Tensor, w: Tensor, group: number, transposed: boolean): void {
  const r = x.rank - 2;
  if (r < 1 || r > 3) ctx.fail(`${r}-D convolution: the mirror has 1-D, 2-D and 3-D`);
  if (w.rank !== x.rank) ctx.fail(`weight of rank ${w.rank} for input of rank ${x.rank}`);
  const C = x.shape[1]!;
  if (group < 1 || C % group !== 0) ctx.fail(`group ${group} does not divide the ${C} input channels`);
  if (!transposed) {
    if (w.shape[1]! * group !== C) ctx.fail(`weight has ${w.shape[1]} input channels per group, input ${C} channels in ${group} groups`);
    if (w.shape[0]! % group !== 0) ctx.fail(`group ${group} does not divide the ${w.shape[0]} output channels`);
  } else if (w.shape[0] !== C) ctx.fail(`weight has ${w.shape[0]} input channels, input ${C}`);
  const ks = ctx.node.attrInts('kernel_shape');
  if (ks && ks.length > 0 && ks.some((k, i) => k !== w.shape[i + 2])) ctx.fail(`kernel_shape [${ks.join(',')}] disagrees with the weight [${w.shape.join(',')}]`);
}

function convForward(ctx: KernelContext, inputs: readonly (Tensor | null)[]): Tensor[] {
  const tf = ctx.tf;
  const [x, w, b] = inputs;
  if (!x || !w) ctx.fail('missing input X or W');
  const group = ctx.node.attrInt('group', 1);
  checkConvShapes(ctx, x, w, group, false);
  const r = x.rank - 2;
  const kernel = w.shape.slice(2);
  const strides = spatialAttr(ctx, 'strides', r, 1);
  const dilations = spatialAttr(ctx, 'dilations', r, 1);
  const { begin, end } = convPads(ctx, autoPad(ctx), x.shape.slice(2), kernel, strides, dilations);
  for (let i = 0; i < r; i++) {
    if (x.shape[i + 2]! + begin[i]! + end[i]! < (kernel[i]! - 1) * dilations[i]! + 1) ctx.fail(`the kernel (${kernel.join('x')}, dilations ${dilations.join(',')}) is larger than the padded input`);
  }
  if (r <= 2 && convRunsNCHW(tf)) {
    let y: Tensor;
    if (r === 2) y = conv2dPaddedNCHW(tf, x, w, strides, dilations, group, begin, end);
    else {
      const y4 = conv2dPaddedNCHW(tf, tf.expandDims(x, 2), tf.expandDims(w, 2), [1, strides[0]!], [1, dilations[0]!], group, [0, begin[0]!], [0, end[0]!]);
      y = tf.squeeze(y4, [2]);
    }
    return [addBias(tf, y, b ?? null)];
  }
  const xp = padSpatial(tf, x, begin, end);
  return [addBias(tf, convNd(tf, xp, w, strides, dilations, group), b ?? null)];
}

/** The full transposed conv (no pads, no output_padding): size s*(in-1) + (k-1)*d + 1. */
function convTransposeFull(tf: TF, x: Tensor, w: Tensor, strides: number[], dilations: number[], group: number): Tensor {
  const r = x.rank - 2;
  const wd = dilateKernel(tf, w, dilations);
  const ke = wd.shape.slice(2);
  const full = x.shape.slice(2).map((n, i) => strides[i]! * (n - 1) + ke[i]!);
  if (r <= 2) {
    const x4 = r === 1 ? tf.expandDims(x, 2) : x;
    const w4 = r === 1 ? tf.expandDims(wd, 2) : wd;
    const st: [number, number] = r === 1 ? [1, strides[0]!] : [strides[0]!, strides[1]!];
    const fh = r === 1 ? 1 : full[0]!;
    const fw = r === 1 ? full[0]! : full[1]!;
    const xh = tf.transpose(x4, [0, 2, 3, 1]);
    const xs = splitChannels(tf, xh, group, 3);
    const ws = splitChannels(tf, w4, group, 0);
    const N = x.shape[0]!;
    const ys = xs.map((xg, g) => {
      const wg = ws[g]!; // [C/g, M/g, kh, kw]
      return tf.conv2dTranspose(xg as tf4, tf.transpose(wg, [2, 3, 1, 0]) as tf4, [N, fh, fw, wg.shape[1]!], st, 'valid');
    });
    const y = tf.transpose(ys.length === 1 ? ys[0]! : tf.concat(ys, 3), [0, 3, 1, 2]);
    return r === 1 ? tf.squeeze(y, [2]) : y;
  }
  // 3-D: spread the input by the strides, pad by k-1, conv with the flipped, channel-swapped kernel
  let xs = x;
  for (let i = 0; i < r; i++) xs = dilateAxis(tf, xs, i + 2, strides[i]!);
  const xp = padSpatial(tf, xs, ke.map((k) => k - 1), ke.map((k) => k - 1));
  const C = x.shape[1]!;
  const Mg = wd.shape[1]!;
  // [C, M/g, k...] -> per group [M/g, C/g, k...], flipped spatially
  const wg = tf.reshape(wd, [group, C / group, Mg, ...ke]);
  const wt = tf.transpose(wg, [0, 2, 1, ...ke.map((_, i) => i + 3)]);
  const wf = tf.reverse(tf.reshape(wt, [group * Mg, C / group, ...ke]), ke.map((_, i) => i + 2));
  return convNd(tf, xp, wf, Array<number>(r).fill(1), Array<number>(r).fill(1), group);
}

function convTransposeForward(ctx: KernelContext, inputs: readonly (Tensor | null)[]): Tensor[] {
  const tf = ctx.tf;
  const [x, w, b] = inputs;
  if (!x || !w) ctx.fail('missing input X or W');
  const group = ctx.node.attrInt('group', 1);
  checkConvShapes(ctx, x, w, group, true);
  const r = x.rank - 2;
  const inSize = x.shape.slice(2);
  const kernel = w.shape.slice(2);
  const strides = spatialAttr(ctx, 'strides', r, 1);
  const dilations = spatialAttr(ctx, 'dilations', r, 1);
  const outPad = spatialAttr(ctx, 'output_padding', r, 0);
  const ap = autoPad(ctx);
  let outShape = ctx.node.attrInts('output_shape');
  if (outShape && outShape.length === r + 2) outShape = outShape.slice(2);
  if (outShape && outShape.length > 0 && outShape.length !== r) ctx.fail(`output_shape has ${outShape.length} values for ${r} spatial axes`);
  const natural = inSize.map((n, i) => strides[i]! * (n - 1) + outPad[i]! + (kernel[i]! - 1) * dilations[i]! + 1);
  let begin: number[];
  let end: number[];
  if ((outShape && outShape.length > 0) || ap === 'SAME_UPPER' || ap === 'SAME_LOWER') {
    const target = outShape && outShape.length > 0 ? outShape : inSize.map((n, i) => n * strides[i]!);
    begin = [];
    end = [];
    natural.forEach((n, i) => {
      const total = n - target[i]!;
      if (total < 0) {
        // output bigger than the transposed conv: zeros at the end
        begin.push(0);
        end.push(total);
        return;
      }
      const half = Math.floor(total / 2);
      const bb = ap === 'SAME_UPPER' ? half : total - half;
      begin.push(bb);
      end.push(total - bb);
    });
  } else {
    const p = ap === 'VALID' ? [] : (ctx.node.attrInts('pads') ?? []);
    if (p.length !== 0 && p.length !== 2 * r) ctx.fail(`pads has ${p.length} values for ${r} spatial axes`);
    begin = p.length ? p.slice(0, r) : Array<number>(r).fill(0);
    end = p.length ? p.slice(r) : Array<number>(r).fill(0);
  }
  const full = convTransposeFull(tf, x, w, strides, dilations, group);
  // output_padding extends the end of the full result with zeros before the pads crop it
  const y = cropOrPad(tf, full, begin, end.map((e, i) => e - outPad[i]!));
  return [addBias(tf, y, b ?? null)];
}

function convProblem(op: string) {
  return (node: Node): string | undefined => autoPadProblem(node) ?? spatialRankProblem(node, op);
}

export const CONV_KERNELS: KernelTable = {
  Conv: { types: [DataType.FLOAT], unsupported: convProblem('Conv'), forward: convForward },
  ConvTranspose: { types: [DataType.FLOAT], unsupported: convProblem('ConvTranspose'), forward: convTransposeForward },
};

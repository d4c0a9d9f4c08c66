/**
 * Mirror kernels: Resize (opsets 10 to 19) and Upsample (opsets 1 to 9), any rank; GridSample
 * (opsets 16 and 20, 4-D; see its section below).
 *
 * Exact and separable: for each resized axis the source taps and their weights depend only on the
 * sizes, so they are computed on the host (float64, as ONNX's reference does) and the axis is
 * resized as one tf.gather of all taps followed by a weighted sum over the taps (differentiable in
 * the data). Per output index o along an axis:
 *
 *   x = the coordinate transform of o (half_pixel, half_pixel_symmetric, pytorch_half_pixel,
 *       align_corners, asymmetric, tf_half_pixel_for_nn, tf_crop_and_resize with roi)
 *   base = floor(x), or x - 1 when x is an integer; ratio = x - base, in (0, 1]
 *   n taps base - n/2 + 1 ... base + n/2 (indices clamped to the axis: ONNX's edge padding),
 *   weighted by the mode's coefficients of ratio (nearest: one-hot by nearest_mode; linear: 2 taps;
 *   cubic: 4 taps with cubic_coeff_a; antialias: the widened linear / cubic kernels), with
 *   exclude_outside zeroing (and renormalising) taps outside the axis.
 *
 * Resize-10 and Upsample use the asymmetric transform; their nearest rounding is ONNX Runtime's
 * (floor when upsampling an axis, ceil when downsampling it).
 */
import type { Node } from '../ir/node.js';
import { DataType } from '../onnx/data-types.js';
import type { KernelContext, KernelTable, Tensor, TF } from './types.js';

const MODES = ['nearest', 'linear', 'cubic'];
const TRANSFORMS = ['half_pixel', 'half_pixel_symmetric', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'tf_half_pixel_for_nn', 'tf_crop_and_resize'];
const NEAREST_MODES = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'];
const POLICIES = ['stretch', 'not_larger', 'not_smaller'];

export interface ResizeSpec {
  mode: 'nearest' | 'linear' | 'cubic';
  transform: string;
  /** ONNX nearest_mode, or 'legacy' (Resize-10 / Upsample). */
  nearest: string;
  cubicA: number;
  excludeOutside: boolean;
  antialias: boolean;
  extrapolation: number;
}

/** Coefficients of the taps base - n/2 + 1 ... base + n/2 for a ratio in (0, 1]. */
function coefficients(spec: ResizeSpec, ratio: number, scale: number, x: number): number[] {
  if (spec.mode === 'nearest') {
    if (ratio === 1) return [0, 1];
    switch (spec.nearest) {
      case 'round_prefer_floor':
        return ratio <= 0.5 ? [1, 0] : [0, 1];
      case 'round_prefer_ceil':
        return ratio < 0.5 ? [1, 0] : [0, 1];
      case 'floor':
        return [1, 0];
      case 'ceil':
        return [0, 1];
      default: {
        // legacy: ceil when downsampling, truncation otherwise
        const pick = scale < 1 ? Math.ceil(x) : Math.trunc(x);
        return pick === Math.floor(x) && ratio !== 1 ? [1, 0] : [0, 1];
      }
    }
  }
  if (spec.mode === 'linear') {
    if (!spec.antialias) return [1 - ratio, ratio];
    const s = Math.min(scale, 1);
    const start = Math.floor(-1 / s) + 1;
    const footprint = 2 - 2 * start;
    const c: number[] = [];
    for (let i = 0; i < footprint; i++) c.push(Math.min(1, Math.max(0, 1 - Math.abs((start + i - ratio) * s))));
    const sum = c.reduce((a, b) => a + b, 0);
    return c.map((v) => v / sum);
  }
  const A = spec.cubicA;
  if (!spec.antialias) {
    const r1 = ratio + 1;
    const q = 1 - ratio;
    const q1 = q + 1;
    return [((A * r1 - 5 * A) * r1 + 8 * A) * r1 - 4 * A, ((A + 2) * ratio - (A + 3)) * ratio * ratio + 1, ((A + 2) * q - (A + 3)) * q * q + 1, ((A * q1 - 5 * A) * q1 + 8 * A) * q1 - 4 * A];
  }
  const s = Math.min(scale, 1);
  const kernel = (v: number): number => {
    const t = Math.abs(v);
    if (t <= 1) return (A + 2) * t * t * t - (A + 3) * t * t + 1;
    if (t < 2) return A * t * t * t - 5 * A * t * t + 8 * A * t - 4 * A;
    return 0;
  };
  const iStart = Math.floor(-2 / s) + 1;
  const iEnd = 2 - iStart;
  const c: number[] = [];
  for (let i = iStart; i < iEnd; i++) c.push(kernel(s * (i - ratio)));
  const sum = c.reduce((a, b) => a + b, 0);
  return c.map((v) => v / sum);
}

export interface AxisPlan {
  out: number;
  /** Taps per output index (n of them), flattened tap-major: idx[j * out + o]. */
  n: number;
  idx: Int32Array;
  w: Float32Array;
  /** Output indices whose coordinate falls outside the roi'd input (tf_crop_and_resize). */
  outside: Uint8Array | undefined;
  identity: boolean;
}

function sourceCoordinate(spec: ResizeSpec, o: number, inSize: number, outSize: number, scale: number, roi: [number, number] | undefined): number {
  const outF = scale * inSize;
  switch (spec.transform) {
    case 'align_corners':
      return outF === 1 ? 0 : (o * (inSize - 1)) / (outF - 1);
    case 'asymmetric':
      return o / scale;
    case 'pytorch_half_pixel':
      return outF === 1 ? -0.5 : (o + 0.5) / scale - 0.5;
    case 'tf_half_pixel_for_nn':
      return (o + 0.5) / scale;
    case 'half_pixel_symmetric': {
      const adjustment = outSize / outF;
      const center = inSize / 2;
      return center * (1 - adjustment) + (o + 0.5) / scale - 0.5;
    }
    case 'tf_crop_and_resize': {
      const [r0, r1] = roi!;
      const x = outF === 1 ? ((r1 - r0) * (inSize - 1)) / 2 : (o * (r1 - r0) * (inSize - 1)) / (outF - 1);
      return x + r0 * (inSize - 1);
    }
    default:
      return (o + 0.5) / scale - 0.5;
  }
}

export function planAxis(spec: ResizeSpec, inSize: number, outSize: number, scale: number, roi: [number, number] | undefined): AxisPlan {
  const taps: { idx: number[]; w: number[] }[] = [];
  let outside: Uint8Array | undefined;
  let n = 0;
  for (let o = 0; o < outSize; o++) {
    const x = sourceCoordinate(spec, o, inSize, outSize, scale, roi);
    if (spec.transform === 'tf_crop_and_resize' && (x < 0 || x > inSize - 1)) {
      (outside ??= new Uint8Array(outSize))[o] = 1;
    }
    const base = Number.isInteger(x) ? x - 1 : Math.floor(x);
    const ratio = x - base;
    const c = coefficients(spec, ratio, scale, x);
    const first = base - c.length / 2 + 1;
    const idx: number[] = [];
    for (let j = 0; j < c.length; j++) {
      const p = first + j;
      if (spec.excludeOutside && (p < 0 || p >= inSize)) c[j] = 0;
      idx.push(Math.min(inSize - 1, Math.max(0, p)));
    }
    if (spec.excludeOutside) {
      const sum = c.reduce((a, b) => a + b, 0);
      for (let j = 0; j < c.length; j++) c[j]! /= sum;
    }
    // drop zero taps (nearest keeps one)
    const keep = c.map((v, j) => (v !== 0 ? j : -1)).filter((j) => j >= 0);
    const ks = keep.length ? keep : [0];
    taps.push({ idx: ks.map((j) => idx[j]!), w: ks.map((j) => c[j]!) });
    n = Math.max(n, ks.length);
  }
  const idx = new Int32Array(n * outSize);
  const w = new Float32Array(n * outSize);
  taps.forEach((t, o) => {
    for (let j = 0; j < n; j++) {
      idx[j * outSize + o] = t.idx[j] ?? t.idx[0]!;
      w[j * outSize + o] = t.w[j] ?? 0;
    }
  });
  const identity = !outside && inSize === outSize && n === 1 && taps.every((t, o) => t.idx[0] === o && t.w[0] === 1);
  return { out: outSize, n, idx, w, outside, identity };
}

function resizeAxis(tf: TF, x: Tensor, axis: number, plan: AxisPlan, extrapolation: number): Tensor {
  const { out, n } = plan;
  const g = tf.gather(x, tf.tensor1d(plan.idx, 'int32'), axis);
  let y: Tensor;
  if (n === 1 && plan.w.every((v) => v === 1)) y = g;
  else {
    const shape = x.shape.slice();
    const split = [...shape.slice(0, axis), n, out, ...shape.slice(axis + 1)];
    const wShape = split.map((d, i) => (i === axis || i === axis + 1 ? d : 1));
    y = tf.sum(tf.mul(tf.reshape(g, split), tf.tensor(plan.w, wShape, 'float32')), axis);
  }
  if (plan.outside) {
    const mShape = y.shape.map((d, i) => (i === axis ? d : 1));
    const keep = tf.tensor(Float32Array.from(plan.outside, (v) => 1 - v), mShape, 'float32');
    const fill = tf.tensor(Float32Array.from(plan.outside, (v) => v * extrapolation), mShape, 'float32');
    y = tf.add(tf.mul(y, keep), fill);
  }
  return y;
}

function nonEmpty(t: Tensor | null | undefined): Tensor | undefined {
  return t && t.size > 0 ? t : undefined;
}

export function resizeSpec(node: Node, opset: number, op: 'Resize' | 'Upsample'): ResizeSpec {
  const legacy = op === 'Upsample' || opset < 11;
  let mode = node.attrString('mode', 'nearest');
  if (mode === 'bilinear' && op === 'Upsample') mode = 'linear';
  return {
    mode: mode as ResizeSpec['mode'],
    transform: legacy ? 'asymmetric' : node.attrString('coordinate_transformation_mode', 'half_pixel'),
    nearest: legacy ? 'legacy' : node.attrString('nearest_mode', 'round_prefer_floor'),
    cubicA: node.attrFloat('cubic_coeff_a', -0.75),
    excludeOutside: !legacy && node.attrInt('exclude_outside', 0) === 1,
    antialias: !legacy && opset >= 18 && node.attrInt('antialias', 0) === 1,
    extrapolation: node.attrFloat('extrapolation_value', 0),
  };
}

function resizeProblem(op: 'Resize' | 'Upsample') {
  return (node: Node, opset: number): string | undefined => {
    const spec = resizeSpec(node, opset, op);
    const legacy = op === 'Upsample' || opset < 11;
    if (!MODES.includes(spec.mode) || (legacy && spec.mode === 'cubic')) return `mode '${node.attrString('mode', 'nearest')}'`;
    if (!legacy) {
      if (!TRANSFORMS.includes(spec.transform)) return `coordinate_transformation_mode '${spec.transform}'`;
      if (!NEAREST_MODES.includes(spec.nearest)) return `nearest_mode '${spec.nearest}'`;
      if (spec.antialias && spec.mode === 'nearest') return 'antialias with mode nearest';
      const policy = opset >= 18 ? node.attrString('keep_aspect_ratio_policy', 'stretch') : 'stretch';
      if (!POLICIES.includes(policy)) return `keep_aspect_ratio_policy '${policy}'`;
      if (spec.transform === 'tf_crop_and_resize' && !node.inputs[3]) return 'tf_crop_and_resize with scales (the output size rule differs between the spec and its reference); give sizes';
      if (spec.transform === 'tf_crop_and_resize' && !node.inputs[1]) return 'tf_crop_and_resize without roi';
    }
    return undefined;
  };
}

function resizeForward(op: 'Resize' | 'Upsample') {
  return (ctx: KernelContext, inputs: readonly (Tensor | null)[]): Tensor[] => {
    const tf = ctx.tf;
    const x = inputs[0];
    if (!x) ctx.fail('missing input X');
    const r = x.rank;
    const spec = resizeSpec(ctx.node, ctx.opset, op);
    let scalesIn: number[] | undefined;
    let sizesIn: number[] | undefined;
    let roiIn: number[] | undefined;
    if (op === 'Upsample') {
      if (ctx.opset >= 9) scalesIn = ctx.floats(nonEmpty(inputs[1]));
      else if (ctx.opset >= 7) scalesIn = ctx.node.attrFloats('scales');
      else scalesIn = [1, 1, ctx.node.attrFloat('height_scale', 1), ctx.node.attrFloat('width_scale', 1)];
      if (!scalesIn) ctx.fail('missing scales');
    } else if (ctx.opset < 11) {
      scalesIn = ctx.floats(nonEmpty(inputs[1]));
      if (!scalesIn) ctx.fail('missing scales');
    } else {
      roiIn = ctx.floats(nonEmpty(inputs[1]));
      scalesIn = ctx.floats(nonEmpty(inputs[2]));
      sizesIn = ctx.ints(nonEmpty(inputs[3]));
      if (scalesIn && sizesIn) ctx.fail('both scales and sizes are given');
      if (!scalesIn && !sizesIn) ctx.fail('neither scales nor sizes is given');
    }
    let axes = Array.from({ length: r }, (_, i) => i);
    const axesAttr = op === 'Resize' && ctx.opset >= 18 ? ctx.node.attrInts('axes') : undefined;
    if (axesAttr && axesAttr.length > 0) {
      axes = axesAttr.map((a) => (a < 0 ? a + r : a));
      if (axes.some((a) => a < 0 || a >= r) || new Set(axes).size !== axes.length) ctx.fail(`axes [${axesAttr.join(',')}] invalid for rank ${r}`);
    }
    const given = scalesIn ?? sizesIn!;
    if (given.length !== axes.length) ctx.fail(`${scalesIn ? 'scales' : 'sizes'} has ${given.length} values for ${axes.length} axes`);
    const inShape = x.shape;
    const scale = inShape.map(() => 1);
    const out = inShape.slice();
    if (scalesIn) {
      axes.forEach((a, i) => {
        const s = Math.fround(scalesIn![i]!);
        if (!(s > 0)) ctx.fail(`scale ${s} for axis ${a}`);
        scale[a] = s;
        out[a] = Math.floor(inShape[a]! * s);
      });
    } else {
      const policy = ctx.opset >= 18 ? ctx.node.attrString('keep_aspect_ratio_policy', 'stretch') : 'stretch';
      const ratios = axes.map((a, i) => sizesIn![i]! / inShape[a]!);
      if (policy === 'stretch') {
        axes.forEach((a, i) => {
          out[a] = sizesIn![i]!;
          scale[a] = ratios[i]!;
        });
      } else {
        const s = policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios);
        axes.forEach((a) => {
          scale[a] = s;
          out[a] = Math.trunc(s * inShape[a]! + 0.5);
        });
      }
    }
    if (out.some((n) => n < 1)) ctx.fail(`output shape [${out.join(',')}]`);
    let roi: [number, number][] | undefined;
    if (spec.transform === 'tf_crop_and_resize') {
      if (!roiIn || roiIn.length !== 2 * axes.length) ctx.fail(`roi has ${roiIn?.length ?? 0} values for ${axes.length} axes`);
      roi = inShape.map(() => [0, 1] as [number, number]);
      axes.forEach((a, i) => (roi![a] = [roiIn![i]!, roiIn![axes.length + i]!]));
    }
    let y = x;
    for (let a = 0; a < r; a++) {
      const plan = planAxis(spec, inShape[a]!, out[a]!, scale[a]!, roi?.[a]);
      if (plan.identity) continue;
      y = resizeAxis(tf, y, a, plan, spec.extrapolation);
    }
    return [y === x ? tf.clone(x) : y];
  };
}

export const RESIZE_KERNELS: KernelTable = {
  Resize: { types: [DataType.FLOAT], unsupported: resizeProblem('Resize'), forward: resizeForward('Resize') },
  Upsample: { types: [DataType.FLOAT], unsupported: resizeProblem('Upsample'), forward: resizeForward('Upsample') },
  GridSample: { types: [DataType.FLOAT], sinceVersion: 16, unsupported: (node, opset) => gridSampleProblem(node, opset), forward: (ctx, inputs) => gridSampleForward(ctx, inputs) },
};

// ---------------------------------------------------------------------------------------------
// GridSample (opsets 16 and 20), 4-D NCHW.
//
// As ONNX's reference: each grid point (x, y) in [-1, 1] is denormalised to pixel coordinates
// (align_corners: (g + 1) / 2 * (L - 1); otherwise ((g + 1) L - 1) / 2), rounded half to even for
// nearest; a coordinate outside [lo, hi] ([0, L-1] with align_corners, [-0.5, L-0.5] without) is
// clamped to [0, L-1] (border) or reflected into [lo, hi] (reflection). The taps (1, 2 or 4 per
// axis) read X at their integer index: zeros padding weights an index outside the axis by 0,
// border clamps it, reflection reflects it into [lo, hi]. Linear weights are 1 - t and t, cubic
// ones the cubic convolution with A = -0.75, t the coordinate's fractional part.
//
// All of it is tfjs ops on the grid, so the output is differentiable in X (through a gather of
// rows of X) and in the grid (through the weights). The gather is wrapped in a custom gradient
// whose index input gets a zero gradient (tfjs' own Gather gradient would hand an int32 gradient
// to indices computed from the grid); indices are computed in float32, exact below 2^24 pixels.

const GS_MODES: Readonly<Record<string, 'linear' | 'nearest' | 'cubic'>> = { bilinear: 'linear', linear: 'linear', nearest: 'nearest', bicubic: 'cubic', cubic: 'cubic' };
const GS_MODES_16 = ['bilinear', 'nearest', 'bicubic'];
const GS_MODES_20 = ['linear', 'nearest', 'cubic'];
const GS_PADDING = ['zeros', 'border', 'reflection'];

function gridSampleProblem(node: Node, opset: number): string | undefined {
  const mode = node.attrString('mode', opset >= 20 ? 'linear' : 'bilinear');
  const modes = opset >= 20 ? GS_MODES_20 : GS_MODES_16;
  if (!modes.includes(mode)) return `GridSample mode '${mode}' (opset ${opset}: ${modes.join(', ')})`;
  const pad = node.attrString('padding_mode', 'zeros');
  if (!GS_PADDING.includes(pad)) return `GridSample padding_mode '${pad}'`;
  // ONNX's reference clamps the coordinate and then each tap; ONNX Runtime (as PyTorch) clamps only the taps
  if (GS_MODES[mode] === 'cubic' && pad === 'border') return "GridSample cubic with padding_mode 'border' (ONNX's reference and ONNX Runtime disagree)";
  const rank = node.inputs[0]?.declaredShape?.length;
  if (rank !== undefined && rank !== 4) return `GridSample on a rank-${rank} input (the mirror implements 4-D NCHW)`;
  return undefined;
}

/** Rows of `params` [R, C] at float32 row indices `idx` [M] (integers); differentiable in params only. */
function gatherRows(tf: TF, params: Tensor, idx: Tensor): Tensor {
  const rows = params.shape[0]!;
  const f = tf.customGrad((...args: unknown[]) => {
    const [p, i, save] = args as [Tensor, Tensor, (t: Tensor[]) => void];
    const ii = tf.cast(i, 'int32');
    save([ii]);
    return {
      value: tf.gather(p, ii),
      gradFunc: (dy: Tensor, saved: Tensor[]) => [tf.unsortedSegmentSum(dy, saved[0]! as import('@tensorflow/tfjs-core').Tensor1D, rows), tf.zerosLike(i)],
    };
  });
  return f(params, idx);
}

/** x reflected into [lo, hi] as ONNX's reference does (repeatedly, about the nearer bound first). */
function reflect(tf: TF, x: Tensor, lo: number, hi: number): Tensor {
  const rng = hi - lo;
  if (rng <= 0) return tf.fill(x.shape, lo, 'float32');
  const below = tf.less(x, tf.scalar(lo));
  const above = tf.greater(x, tf.scalar(hi));
  const dx = tf.where(below, tf.sub(tf.scalar(lo), x), tf.where(above, tf.sub(x, tf.scalar(hi)), tf.zerosLike(x)));
  const n = tf.floor(tf.div(dx, tf.scalar(rng)));
  const r = tf.sub(dx, tf.mul(n, tf.scalar(rng)));
  const even = tf.equal(tf.mod(n, tf.scalar(2)), tf.scalar(0));
  const fromLo = tf.add(tf.scalar(lo), r);
  const fromHi = tf.sub(tf.scalar(hi), r);
  return tf.where(below, tf.where(even, fromLo, fromHi), tf.where(above, tf.where(even, fromHi, fromLo), x));
}

interface Taps {
  /** Pixel index along the axis (float32 integers, in range). */
  idx: Tensor[];
  /** Weight of each tap (0 for a zeros-padded index). */
  w: Tensor[];
}

function cubicCoeffs(tf: TF, t: Tensor): Tensor[] {
  const A = -0.75;
  const s = (v: number): Tensor => tf.scalar(v);
  const c = (x: Tensor, far: boolean): Tensor =>
    far
      ? tf.sub(tf.mul(tf.add(tf.mul(tf.sub(tf.mul(s(A), x), s(5 * A)), x), s(8 * A)), x), s(4 * A))
      : tf.add(tf.mul(tf.mul(tf.sub(tf.mul(s(A + 2), x), s(A + 3)), x), x), s(1));
  const one = s(1);
  return [c(tf.add(t, one), true), c(t, false), c(tf.sub(one, t), false), c(tf.sub(s(2), t), true)];
}

/** The taps along one axis of length L for grid coordinates g (normalised). */
function axisTaps(tf: TF, g: Tensor, L: number, mode: 'linear' | 'nearest' | 'cubic', pad: string, alignCorners: boolean): Taps {
  const s = (v: number): Tensor => tf.scalar(v);
  let x = alignCorners ? tf.mul(tf.add(g, s(1)), s((L - 1) / 2)) : tf.div(tf.sub(tf.mul(tf.add(g, s(1)), s(L)), s(1)), s(2));
  if (mode === 'nearest') x = tf.round(x);
  const lo = alignCorners ? 0 : -0.5;
  const hi = alignCorners ? L - 1 : L - 0.5;
  if (pad !== 'zeros') {
    const out = tf.logicalOr(tf.less(x, s(lo)), tf.greater(x, s(hi)));
    x = tf.where(out, pad === 'border' ? tf.clipByValue(x, 0, L - 1) : reflect(tf, x, lo, hi), x);
  }
  const base = mode === 'nearest' ? x : tf.floor(x);
  const t = tf.sub(x, base);
  const offsets = mode === 'nearest' ? [0] : mode === 'linear' ? [0, 1] : [-1, 0, 1, 2];
  const weights = mode === 'nearest' ? [tf.onesLike(x)] : mode === 'linear' ? [tf.sub(s(1), t), t] : cubicCoeffs(tf, t);
  const idx: Tensor[] = [];
  const w: Tensor[] = [];
  offsets.forEach((o, k) => {
    const i = o === 0 ? base : tf.add(base, s(o));
    if (pad === 'zeros') {
      const inside = tf.cast(tf.logicalAnd(tf.greaterEqual(i, s(0)), tf.lessEqual(i, s(L - 1))), 'float32');
      idx.push(tf.clipByValue(i, 0, L - 1));
      w.push(tf.mul(weights[k]!, inside));
    } else {
      const j = pad === 'border' ? i : reflect(tf, i, lo, hi);
      // the reference truncates a reflected index (int()); in range it is already an integer
      idx.push(tf.clipByValue(tf.floor(j), 0, L - 1));
      w.push(weights[k]!);
    }
  });
  return { idx, w };
}

function gridSampleForward(ctx: KernelContext, [x0, g0]: readonly (Tensor | null)[]): Tensor[] {
  const tf = ctx.tf;
  if (!x0 || !g0) ctx.fail('missing input X or grid');
  const x = x0;
  const grid = g0;
  if (x.rank !== 4) ctx.fail(`GridSample on a rank-${x.rank} input (the mirror implements 4-D NCHW)`);
  const [N, C, H, W] = x.shape as [number, number, number, number];
  if (grid.rank !== 4 || grid.shape[0] !== N || grid.shape[3] !== 2) ctx.fail(`grid [${grid.shape.join(',')}] must be [${N}, H_out, W_out, 2]`);
  if (N * H * W >= 2 ** 24) ctx.fail(`GridSample over ${N * H * W} pixels (the mirror indexes below 2^24)`);
  const Ho = grid.shape[1]!;
  const Wo = grid.shape[2]!;
  const mode = GS_MODES[ctx.node.attrString('mode', ctx.opset >= 20 ? 'linear' : 'bilinear')]!;
  const pad = ctx.node.attrString('padding_mode', 'zeros');
  const ac = ctx.node.attrInt('align_corners', 0) !== 0;
  if (N * Ho * Wo * C === 0 || H * W === 0) return [tf.zeros([N, C, Ho, Wo], 'float32')];
  const [gx, gy] = tf.split(grid, 2, 3).map((t) => tf.reshape(t, [N, Ho, Wo]));
  const tx = axisTaps(tf, gx!, W, mode, pad, ac);
  const ty = axisTaps(tf, gy!, H, mode, pad, ac);
  // X as rows [N*H*W, C]; row of (n, iy, ix) = n*H*W + iy*W + ix
  const rows = tf.reshape(tf.transpose(x, [0, 2, 3, 1]), [N * H * W, C]);
  const nBase = tf.reshape(tf.mul(tf.range(0, N, 1, 'float32'), tf.scalar(H * W)), [N, 1, 1]);
  let acc: Tensor | undefined;
  ty.idx.forEach((iy, a) => {
    tx.idx.forEach((ix, b) => {
      const r = tf.add(nBase, tf.add(tf.mul(iy, tf.scalar(W)), ix));
      const v = tf.reshape(gatherRows(tf, rows, tf.reshape(r, [-1])), [N, Ho, Wo, C]);
      const term = tf.mul(v, tf.expandDims(tf.mul(ty.w[a]!, tx.w[b]!), 3));
      acc = acc ? tf.add(acc, term) : term;
    });
  });
  return [tf.transpose(acc!, [0, 3, 1, 2])];
}

/**
 * Mirror kernels: the pool family (MaxPool, AveragePool, LpPool, and their Global forms), NCHW.
 *
 * Geometry follows ONNX: explicit pads or auto_pad, ceil_mode (extra room at the end, the last
 * window starting inside the input or its left pad), dilations. The input is padded explicitly
 * (-inf for max, 0 for sums) and pooled 'valid': on tf.maxPool / tf.avgPool for 1-D and 2-D
 * without dilations (tf.maxPool takes the pads as explicit padding instead: it skips them), otherwise as a max / sum over the kernel taps, each tap a strided view built
 * from slice + reshape (differentiable; tfjs has no strided-slice gradient).
 *
 * AveragePool divides by the number of counted elements of each window: the input only
 * (count_include_pad=0), or the input and its pads (=1); the ceil_mode room is never counted. The
 * divisor is a host tensor (it depends on shapes only).
 */
import type { Node } from '../ir/node.js';
import { DataType } from '../onnx/data-types.js';
import { autoPad, autoPadProblem, convPads, padSpatial, spatialAttr } from './conv.js';
import type { KernelContext, KernelTable, Tensor, TF } from './types.js';

type tf4 = import('@tensorflow/tfjs-core').Tensor4D;
type ExplicitPadding = import('@tensorflow/tfjs-core').backend_util.ExplicitPadding;

interface PoolGeometry {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** Pads of the op (explicit or auto). */
  begin: number[];
  end: number[];
  /** Extra room at the end for ceil_mode (never counted). */
  extra: number[];
  out: number[];
}

function poolGeometry(ctx: KernelContext, x: Tensor): PoolGeometry {
  const r = x.rank - 2;
  if (r < 1) ctx.fail(`input of rank ${x.rank}: pooling needs N, C and a spatial axis`);
  const kernel = ctx.node.attrInts('kernel_shape');
  if (!kernel || kernel.length !== r) ctx.fail(`kernel_shape ${kernel ? `has ${kernel.length} values` : 'is missing'} for ${r} spatial axes`);
  const strides = spatialAttr(ctx, 'strides', r, 1);
  const dilations = spatialAttr(ctx, 'dilations', r, 1);
  const ap = autoPad(ctx);
  const inSize = x.shape.slice(2);
  const { begin, end } = convPads(ctx, ap, inSize, kernel, strides, dilations);
  const ceil = ctx.node.attrInt('ceil_mode', 0) === 1;
  const out: number[] = [];
  const extra: number[] = [];
  for (let i = 0; i < r; i++) {
    const ke = (kernel[i]! - 1) * dilations[i]! + 1;
    const span = inSize[i]! + begin[i]! + end[i]!;
    let o: number;
    if (ap === 'SAME_UPPER' || ap === 'SAME_LOWER') o = Math.ceil(inSize[i]! / strides[i]!);
    else if (ap === 'VALID') o = Math.floor((inSize[i]! - ke) / strides[i]!) + 1;
    else if (ceil) {
      o = Math.ceil((span - ke) / strides[i]!) + 1;
      // the last window must start inside the input or its left pad
      if ((o - 1) * strides[i]! >= inSize[i]! + begin[i]!) o--;
    } else o = Math.floor((span - ke) / strides[i]!) + 1;
    if (o < 1) ctx.fail(`the kernel (${kernel.join('x')}) is larger than the padded input (${inSize.join('x')})`);
    out.push(o);
    extra.push(Math.max(0, (o - 1) * strides[i]! + ke - span));
  }
  return { kernel, strides, dilations, begin, end, extra, out };
}

/** Every `s`-th element of axis `axis`, `count` of them, starting at `start` (slice + reshape). */
function strided(tf: TF, x: Tensor, axis: number, start: number, count: number, s: number): Tensor {
  if (s === 1) {
    const begin = x.shape.map((_, i) => (i === axis ? start : 0));
    const size = x.shape.map((n, i) => (i === axis ? count : n));
    return tf.slice(x, begin, size);
  }
  const avail = x.shape[axis]! - start;
  const len = Math.min(avail, count * s);
  const begin = x.shape.map((_, i) => (i === axis ? start : 0));
  const size = x.shape.map((n, i) => (i === axis ? len : n));
  let y = tf.slice(x, begin, size);
  if (len < count * s) {
    y = tf.pad(y, y.shape.map((_, i) => (i === axis ? [0, count * s - len] : [0, 0]) as [number, number]));
  }
  y = tf.reshape(y, [...y.shape.slice(0, axis), count, s, ...y.shape.slice(axis + 1)]);
  const b2 = y.shape.map(() => 0);
  const s2 = y.shape.map((n, i) => (i === axis + 1 ? 1 : n));
  return tf.reshape(tf.slice(y, b2, s2), [...x.shape.slice(0, axis), count, ...x.shape.slice(axis + 1)]);
}

/** Max or sum over the kernel taps of a padded input (any rank, strides, dilations). */
function poolTaps(tf: TF, xp: Tensor, g: PoolGeometry, kind: 'max' | 'sum'): Tensor {
  const r = g.kernel.length;
  let acc: Tensor | undefined;
  const idx = Array<number>(r).fill(0);
  for (;;) {
    let v = xp;
    for (let i = 0; i < r; i++) v = strided(tf, v, i + 2, idx[i]! * g.dilations[i]!, g.out[i]!, g.strides[i]!);
    acc = acc === undefined ? v : kind === 'max' ? tf.maximum(acc, v) : tf.add(acc, v);
    let i = r - 1;
    while (i >= 0 && ++idx[i]! === g.kernel[i]!) idx[i--] = 0;
    if (i < 0) break;
  }
  return acc!;
}

/**
 * tf.maxPool / tf.avgPool on an NC(H)W input, 1-D and 2-D without dilations: padded already, or
 * (max only) unpadded with the pads and the ceil_mode room given to tf.maxPool as explicit padding,
 * which skips them as -inf padding would.
 */
function poolNative(tf: TF, xp: Tensor, g: PoolGeometry, kind: 'max' | 'avg', explicitPads = false): Tensor {
  const r = g.kernel.length;
  const x4 = r === 1 ? tf.expandDims(xp, 2) : xp;
  const k: [number, number] = r === 1 ? [1, g.kernel[0]!] : [g.kernel[0]!, g.kernel[1]!];
  const s: [number, number] = r === 1 ? [1, g.strides[0]!] : [g.strides[0]!, g.strides[1]!];
  const xh = tf.transpose(x4, [0, 2, 3, 1]) as tf4;
  const hw = g.begin.map((b, i) => [b, g.end[i]! + g.extra[i]!] as [number, number]);
  const pad: 'valid' | ExplicitPadding = explicitPads ? ([[0, 0], ...(r === 1 ? [[0, 0], hw[0]!] : hw), [0, 0]] as ExplicitPadding) : 'valid';
  if (explicitPads && kind !== 'max') throw new Error('explicit pads are for max pooling only');
  const y = kind === 'max' ? tf.maxPool(xh, k, s, pad) : tf.avgPool(xh, k, s, 'valid');
  let yc = tf.transpose(y, [0, 3, 1, 2]);
  if (r === 1) yc = tf.squeeze(yc, [2]);
  // 'valid' may fit more windows than ONNX counts (ceil_mode's rule on the last window)
  if (yc.shape.slice(2).some((n, i) => n !== g.out[i])) yc = tf.slice(yc, yc.shape.map(() => 0), [-1, -1, ...g.out]);
  return yc;
}

function native(g: PoolGeometry): boolean {
  return g.kernel.length <= 2 && g.dilations.every((d) => d === 1);
}

function padded(tf: TF, x: Tensor, g: PoolGeometry, value: number): Tensor {
  return padSpatial(
    tf,
    x,
    g.begin,
    g.end.map((e, i) => e + g.extra[i]!),
    value,
  );
}

/** Sum of each window over the zero-padded input (and the tap count K). */
function windowSums(tf: TF, x: Tensor, g: PoolGeometry): Tensor {
  const xp = padded(tf, x, g, 0);
  if (native(g)) return tf.mul(poolNative(tf, xp, g, 'avg'), tf.scalar(g.kernel.reduce((a, b) => a * b, 1)));
  return poolTaps(tf, xp, g, 'sum');
}

/**
 * Per output position, how many taps of its window fall in [lo, hi) along each axis, multiplied
 * over axes (row-major over the output's spatial axes).
 */
function windowCounts(g: PoolGeometry, inSize: readonly number[], includePad: boolean): { counts: Float64Array; all: boolean } {
  const r = g.kernel.length;
  const perAxis: number[][] = [];
  for (let i = 0; i < r; i++) {
    const lo = includePad ? -g.begin[i]! : 0;
    const hi = includePad ? inSize[i]! + g.end[i]! : inSize[i]!;
    const c: number[] = [];
    for (let o = 0; o < g.out[i]!; o++) {
      let n = 0;
      for (let k = 0; k < g.kernel[i]!; k++) {
        const p = o * g.strides[i]! - g.begin[i]! + k * g.dilations[i]!;
        if (p >= lo && p < hi) n++;
      }
      c.push(n);
    }
    perAxis.push(c);
  }
  const total = g.out.reduce((a, b) => a * b, 1);
  const counts = new Float64Array(total);
  const K = g.kernel.reduce((a, b) => a * b, 1);
  let all = true;
  for (let f = 0; f < total; f++) {
    let rem = f;
    let n = 1;
    for (let i = r - 1; i >= 0; i--) {
      const o = rem % g.out[i]!;
      rem = Math.floor(rem / g.out[i]!);
      n *= perAxis[i]![o]!;
    }
    counts[f] = n;
    if (n !== K) all = false;
  }
  return { counts, all };
}

function need(ctx: KernelContext, t: Tensor | null | undefined): Tensor {
  if (!t) ctx.fail('missing input X');
  return t;
}

const SMALL_INTS = [DataType.INT8, DataType.UINT8, DataType.INT16, DataType.UINT16];

/**
 * MaxPool with its Indices output: the max over the taps keeping the flat input index of the first
 * maximum (row-major over N, C and the spatial axes; column-major over the spatial axes with
 * storage_order 1).
 */
function maxPoolIndices(tf: TF, x: Tensor, g: PoolGeometry, columnMajor: boolean): [Tensor, Tensor] {
  const r = g.kernel.length;
  const inSize = x.shape.slice(2);
  const plane = inSize.reduce((a, b) => a * b, 1);
  const [N, C] = [x.shape[0]!, x.shape[1]!];
  const stride: number[] = Array<number>(r).fill(1);
  if (columnMajor) for (let i = 1; i < r; i++) stride[i] = stride[i - 1]! * inSize[i - 1]!;
  else for (let i = r - 2; i >= 0; i--) stride[i] = stride[i + 1]! * inSize[i + 1]!;
  const base = tf.tensor(Int32Array.from({ length: N * C }, (_, i) => i * plane), [N, C, ...Array<number>(r).fill(1)], 'int32');
  const total = g.out.reduce((a, b) => a * b, 1);
  const xp = padded(tf, x, g, -Infinity);
  let best: Tensor | undefined;
  let bestIdx: Tensor | undefined;
  const k = Array<number>(r).fill(0);
  for (;;) {
    let v = xp;
    for (let i = 0; i < r; i++) v = strided(tf, v, i + 2, k[i]! * g.dilations[i]!, g.out[i]!, g.strides[i]!);
    const flat = new Int32Array(total);
    for (let f = 0; f < total; f++) {
      let rem = f;
      let idx = 0;
      for (let i = r - 1; i >= 0; i--) {
        const o = rem % g.out[i]!;
        rem = Math.floor(rem / g.out[i]!);
        const p = o * g.strides[i]! - g.begin[i]! + k[i]! * g.dilations[i]!;
        idx += Math.min(Math.max(p, 0), inSize[i]! - 1) * stride[i]!;
      }
      flat[f] = idx;
    }
    const tapIdx = tf.add(base, tf.tensor(flat, [1, 1, ...g.out], 'int32'));
    if (best === undefined) {
      best = v;
      bestIdx = tf.broadcastTo(tapIdx, v.shape);
    } else {
      const better = tf.greater(v, best);
      bestIdx = tf.where(better, tf.broadcastTo(tapIdx, v.shape), bestIdx!);
      best = tf.maximum(best, v);
    }
    let i = r - 1;
    while (i >= 0 && ++k[i]! === g.kernel[i]!) k[i--] = 0;
    if (i < 0) break;
  }
  return [best!, bestIdx!];
}

function maxPoolForward(ctx: KernelContext, inputs: readonly (Tensor | null)[]): Tensor[] {
  const tf = ctx.tf;
  let x = need(ctx, inputs[0]);
  const isInt = x.dtype === 'int32';
  // 8/16-bit ints are exact in float32
  if (isInt) x = tf.cast(x, 'float32');
  const g = poolGeometry(ctx, x);
  if (ctx.node.outputs[1]) {
    const [y, idx] = maxPoolIndices(tf, x, g, ctx.node.attrInt('storage_order', 0) === 1);
    return [isInt ? tf.cast(y, 'int32') : y, idx];
  }
  // the cpu backend's maxPool skips explicit padding (as -inf pads would be): no tf.pad there
  // (TensorFlow's MaxPool, under tfjs-node, has no explicit padding)
  let y: Tensor;
  if (!native(g)) y = poolTaps(tf, padded(tf, x, g, -Infinity), g, 'max');
  else if (tf.getBackend() === 'cpu') y = poolNative(tf, x, g, 'max', true);
  else y = poolNative(tf, padded(tf, x, g, -Infinity), g, 'max');
  return [isInt ? tf.cast(y, 'int32') : y];
}

function averagePoolForward(ctx: KernelContext, inputs: readonly (Tensor | null)[]): Tensor[] {
  const tf = ctx.tf;
  const x = need(ctx, inputs[0]);
  const g = poolGeometry(ctx, x);
  const includePad = ctx.node.attrInt('count_include_pad', 0) === 1;
  const { counts, all } = windowCounts(g, x.shape.slice(2), includePad);
  const K = g.kernel.reduce((a, b) => a * b, 1);
  if (all && native(g)) return [poolNative(tf, padded(tf, x, g, 0), g, 'avg')];
  const sums = windowSums(tf, x, g);
  if (counts.some((c) => c === 0)) ctx.fail('a pooling window covers no counted element');
  const inv = tf.tensor(Float32Array.from(counts, (c) => 1 / c), [1, 1, ...g.out], 'float32');
  return [all ? tf.div(sums, tf.scalar(K)) : tf.mul(sums, inv)];
}

function lpP(ctx: KernelContext): number {
  // a float attribute at opset 1, an int from opset 2
  const p = ctx.node.attribute('p')?.type === 1 ? ctx.node.attrFloat('p', 2) : ctx.node.attrInt('p', 2);
  if (!(p > 0)) ctx.fail(`p = ${p}`);
  return p;
}

function lpPow(tf: TF, x: Tensor, p: number): Tensor {
  const a = tf.abs(x);
  return p === 1 ? a : p === 2 ? tf.square(x) : tf.pow(a, tf.scalar(p));
}

function lpRoot(tf: TF, s: Tensor, p: number): Tensor {
  return p === 1 ? s : p === 2 ? tf.sqrt(s) : tf.pow(s, tf.scalar(1 / p));
}

function lpPoolForward(ctx: KernelContext, inputs: readonly (Tensor | null)[]): Tensor[] {
  const tf = ctx.tf;
  const x = need(ctx, inputs[0]);
  const p = lpP(ctx);
  const g = poolGeometry(ctx, x);
  return [lpRoot(tf, windowSums(tf, lpPow(tf, x, p), g), p)];
}

function spatialAxes(ctx: KernelContext, x: Tensor): number[] {
  if (x.rank < 3) ctx.fail(`input of rank ${x.rank}: global pooling needs N, C and a spatial axis`);
  return x.shape.slice(2).map((_, i) => i + 2);
}

function poolProblem(op: string) {
  return (node: Node, opset: number): string | undefined => {
    const bad = autoPadProblem(node);
    if (bad) return bad;
    if (op === 'MaxPool') {
      const so = node.attrInt('storage_order', 0);
      if (so !== 0 && so !== 1) return `storage_order ${so}`;
    }
    if (op === 'LpPool' && opset >= 2 && node.attribute('p')?.type === 1) return 'p as a float attribute at opset >= 2';
    return undefined;
  };
}

export const POOL_KERNELS: KernelTable = {
  MaxPool: { types: [DataType.FLOAT, ...SMALL_INTS], outputs: 2, unsupported: poolProblem('MaxPool'), forward: maxPoolForward },
  AveragePool: { types: [DataType.FLOAT], unsupported: poolProblem('AveragePool'), forward: averagePoolForward },
  LpPool: { types: [DataType.FLOAT], unsupported: poolProblem('LpPool'), forward: lpPoolForward },
  GlobalAveragePool: { types: [DataType.FLOAT], forward: (ctx, [x]) => [ctx.tf.mean(need(ctx, x), spatialAxes(ctx, x!), true)] },
  GlobalMaxPool: { types: [DataType.FLOAT], forward: (ctx, [x]) => [ctx.tf.max(need(ctx, x), spatialAxes(ctx, x!), true)] },
  GlobalLpPool: {
    types: [DataType.FLOAT],
    forward: (ctx, [x]) => {
      const t = need(ctx, x);
      const p = lpP(ctx);
      return [lpRoot(ctx.tf, ctx.tf.sum(lpPow(ctx.tf, t, p), spatialAxes(ctx, t), true), p)];
    },
  },
};

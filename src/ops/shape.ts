/**
 * Mirror kernels: the shape family (Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Shape, Size,
 * Expand, Tile, DepthToSpace, SpaceToDepth). Shapes, axes and repeats are small integer inputs
 * read to the host; the data only moves through tfjs ops (reshape, transpose, broadcastTo, tile),
 * which tfjs differentiates. Integer and bool data are carried as int32/bool (PyTorch exports
 * compute shapes in int64 with Shape -> Gather -> Unsqueeze -> Concat chains).
 *
 * A kernel never returns one of its inputs as its output (a no-op reshape returns a clone): the
 * executor owns and may free what a kernel returns.
 */
import { INT_TYPES } from './tensor-proto.js';
import { DataType } from '../onnx/data-types.js';
import type { KernelContext, KernelTable, Tensor, TF } from './types.js';

/** Float and every integer type. */
export const NUMERIC_TYPES: readonly number[] = [DataType.FLOAT, ...INT_TYPES];
/** Float, every integer type, bool. */
export const ALL_TYPES: readonly number[] = [...NUMERIC_TYPES, DataType.BOOL];

/** An axis in [-rank, rank) as a non-negative axis; ctx.fail otherwise. */
export function normAxis(ctx: KernelContext, axis: number, rank: number, what = 'axis'): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) ctx.fail(`${what} ${axis} is out of range for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}

/** Normalised, distinct axes. */
export function normAxes(ctx: KernelContext, axes: readonly number[], rank: number, what = 'axes'): number[] {
  const out = axes.map((a) => normAxis(ctx, a, rank, what));
  if (new Set(out).size !== out.length) ctx.fail(`${what} [${axes.join(',')}] repeat an axis`);
  return out;
}

export function product(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** A fresh tensor with x's data (never x itself). */
export function fresh(tf: TF, x: Tensor): Tensor {
  return tf.clone(x);
}

/** Reshape, returning a fresh tensor even when the shape does not change. */
export function reshapeTo(tf: TF, x: Tensor, shape: readonly number[]): Tensor {
  return tf.reshape(x, [...shape]);
}

/**
 * Run `f` on x, passing bool through int32 when `viaInt` (for tfjs ops whose cpu kernels do not
 * take bool).
 */
export function boolSafe(tf: TF, x: Tensor, f: (x: Tensor) => Tensor): Tensor {
  if (x.dtype !== 'bool') return f(x);
  return tf.cast(f(tf.cast(x, 'int32')), 'bool');
}

/** ONNX bidirectional (numpy) broadcast of two shapes. */
export function broadcastShapes(ctx: KernelContext, a: readonly number[], b: readonly number[]): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1;
    const db = b[b.length - r + i] ?? 1;
    if (da === db || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else ctx.fail(`shapes [${a.join(',')}] and [${b.join(',')}] do not broadcast`);
  }
  return out;
}

/** Axes of Squeeze/Unsqueeze: the attribute before opset 13, the optional input from 13. */
function squeezeAxes(ctx: KernelContext, inputs: readonly (Tensor | null)[]): number[] | undefined {
  return ctx.opset < 13 ? ctx.node.attrInts('axes') : ctx.ints(inputs[1]);
}

/** Reshape's target: 0 copies the input's dim (unless allowzero), -1 is inferred. */
function reshapeTarget(ctx: KernelContext, inShape: readonly number[], spec: readonly number[], allowzero: boolean): number[] {
  const out = spec.map((d, i) => {
    if (d === 0 && !allowzero) {
      if (i >= inShape.length) ctx.fail(`shape [${spec.join(',')}] copies dim ${i} of a rank-${inShape.length} input`);
      return inShape[i]!;
    }
    return d;
  });
  const neg = out.filter((d) => d === -1).length;
  if (neg > 1 || out.some((d) => d < -1)) ctx.fail(`shape [${spec.join(',')}] is not a valid reshape target`);
  if (allowzero && neg > 0 && out.includes(0)) ctx.fail(`shape [${spec.join(',')}] has both 0 and -1 with allowzero=1`);
  const size = product(inShape);
  if (neg === 1) {
    const known = product(out.filter((d) => d !== -1));
    if (known === 0 || size % known !== 0) ctx.fail(`cannot infer the -1 of shape [${spec.join(',')}] from input [${inShape.join(',')}]`);
    out[out.indexOf(-1)] = size / known;
  }
  if (product(out) !== size) ctx.fail(`cannot reshape [${inShape.join(',')}] to [${spec.join(',')}]`);
  return out;
}

export const SHAPE_KERNELS: KernelTable = {
  Reshape: {
    types: ALL_TYPES,
    forward: (ctx: KernelContext, [x, s]) => {
      const spec = ctx.opset < 5 ? ctx.node.attrInts('shape') : ctx.ints(s);
      if (!spec) ctx.fail('no target shape');
      const allowzero = ctx.opset >= 14 && ctx.node.attrInt('allowzero', 0) === 1;
      return [reshapeTo(ctx.tf, x!, reshapeTarget(ctx, x!.shape, spec, allowzero))];
    },
  },

  Flatten: {
    types: ALL_TYPES,
    forward: (ctx: KernelContext, [x]) => {
      const r = x!.rank;
      let axis = ctx.node.attrInt('axis', 1);
      if (axis < -r || axis > r) ctx.fail(`axis ${axis} is out of range for rank ${r}`);
      if (axis < 0) axis += r;
      return [reshapeTo(ctx.tf, x!, [product(x!.shape.slice(0, axis)), product(x!.shape.slice(axis))])];
    },
  },

  Transpose: {
    types: ALL_TYPES,
    forward: (ctx: KernelContext, [x]) => {
      const r = x!.rank;
      const perm = ctx.node.attrInts('perm') ?? Array.from({ length: r }, (_, i) => r - 1 - i);
      const p = normAxes(ctx, perm, r, 'perm');
      if (p.length !== r) ctx.fail(`perm [${perm.join(',')}] does not match rank ${r}`);
      return [ctx.tf.transpose(x!, p)];
    },
  },

  Squeeze: {
    types: ALL_TYPES,
    forward: (ctx: KernelContext, inputs) => {
      const x = inputs[0]!;
      const given = squeezeAxes(ctx, inputs);
      let axes: number[];
      if (given === undefined || given.length === 0) axes = x.shape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0);
      else {
        axes = normAxes(ctx, given, x.rank);
        for (const a of axes) if (x.shape[a] !== 1) ctx.fail(`cannot squeeze axis ${a} of size ${x.shape[a]}`);
      }
      return [reshapeTo(ctx.tf, x, x.shape.filter((_, i) => !axes.includes(i)))];
    },
  },

  Unsqueeze: {
    types: ALL_TYPES,
    forward: (ctx: KernelContext, inputs) => {
      const x = inputs[0]!;
      const given = squeezeAxes(ctx, inputs);
      if (!given) ctx.fail('no axes');
      const outRank = x.rank + given.length;
      const axes = normAxes(ctx, given, outRank);
      const out: number[] = [];
      let k = 0;
      for (let i = 0; i < outRank; i++) out.push(axes.includes(i) ? 1 : x.shape[k++]!);
      return [reshapeTo(ctx.tf, x, out)];
    },
  },

  Shape: {
    types: ALL_TYPES,
    forward: (ctx: KernelContext, [x]) => {
      const r = x!.rank;
      const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
      const start = ctx.opset >= 15 ? clamp(ctx.node.attrInt('start', 0)) : 0;
      const end = ctx.opset >= 15 ? clamp(ctx.node.attrInt('end', r)) : r;
      const dims = x!.shape.slice(start, Math.max(start, end));
      return [ctx.tf.tensor1d(dims, 'int32')];
    },
  },

  Size: {
    types: ALL_TYPES,
    forward: (ctx: KernelContext, [x]) => [ctx.tf.scalar(x!.size, 'int32')],
  },

  Expand: {
    types: ALL_TYPES,
    sinceVersion: 8,
    forward: (ctx: KernelContext, [x, s]) => {
      const tf = ctx.tf;
      const spec = ctx.ints(s);
      if (!spec) ctx.fail('no shape');
      const out = broadcastShapes(ctx, x!.shape, spec);
      const x2 = x!.rank < out.length ? tf.reshape(x!, [...new Array<number>(out.length - x!.rank).fill(1), ...x!.shape]) : x!;
      if (x2.shape.every((d, i) => d === out[i])) return [fresh(tf, x2)];
      if (product(out) === 0) return [tf.zeros(out, x!.dtype)];
      return [boolSafe(tf, x2, (v) => tf.broadcastTo(v, out))];
    },
  },

  Tile: {
    types: ALL_TYPES,
    sinceVersion: 6,
    forward: (ctx: KernelContext, [x, rep]) => {
      const tf = ctx.tf;
      const reps = ctx.ints(rep);
      if (!reps || reps.length !== x!.rank) ctx.fail(`repeats [${reps?.join(',')}] do not match rank ${x!.rank}`);
      if (reps.some((v) => v < 0)) ctx.fail(`negative repeats [${reps.join(',')}]`);
      if (reps.includes(0) || x!.size === 0) return [tf.zeros(x!.shape.map((d, i) => d * reps[i]!), x!.dtype)];
      return [boolSafe(tf, x!, (v) => tf.tile(v, reps))];
    },
  },

  DepthToSpace: {
    types: ALL_TYPES,
    unsupported: (node) => {
      const mode = node.attrString('mode', 'DCR');
      return mode === 'DCR' || mode === 'CRD' ? undefined : `DepthToSpace mode '${mode}' is not DCR or CRD`;
    },
    forward: (ctx: KernelContext, [x]) => {
      const tf = ctx.tf;
      if (x!.rank !== 4) ctx.fail(`input of rank ${x!.rank}, not 4`);
      const b = ctx.node.attrInt('blocksize', 0);
      const [n, c, h, w] = x!.shape as [number, number, number, number];
      if (b < 1 || c % (b * b) !== 0) ctx.fail(`blocksize ${b} does not divide ${c} channels`);
      const crd = ctx.opset >= 11 && ctx.node.attrString('mode', 'DCR') === 'CRD';
      const c2 = c / (b * b);
      const t = crd
        ? tf.transpose(tf.reshape(x!, [n, c2, b, b, h, w]), [0, 1, 4, 2, 5, 3])
        : tf.transpose(tf.reshape(x!, [n, b, b, c2, h, w]), [0, 3, 4, 1, 5, 2]);
      return [tf.reshape(t, [n, c2, h * b, w * b])];
    },
  },

  SpaceToDepth: {
    types: ALL_TYPES,
    forward: (ctx: KernelContext, [x]) => {
      const tf = ctx.tf;
      if (x!.rank !== 4) ctx.fail(`input of rank ${x!.rank}, not 4`);
      const b = ctx.node.attrInt('blocksize', 0);
      const [n, c, h, w] = x!.shape as [number, number, number, number];
      if (b < 1 || h % b !== 0 || w % b !== 0) ctx.fail(`blocksize ${b} does not divide ${h}x${w}`);
      const t = tf.transpose(tf.reshape(x!, [n, c, h / b, b, w / b, b]), [0, 3, 5, 1, 2, 4]);
      return [tf.reshape(t, [n, c * b * b, h / b, w / b])];
    },
  },
};

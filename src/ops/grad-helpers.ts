/**
 * Small builders the ONNX gradient rules (`src/ops/<family>.grad.ts`) share: arithmetic on value
 * names, reductions and (un)squeezes in the form the gradient graph's opset wants (axes as an
 * attribute or as an input), expanding a reduced gradient back over the reduced axes, zeros of a
 * value's shape, and applying a constant matrix along one axis (the adjoint of Resize, Pad).
 *
 * Float attributes are never emitted (an integral float would be written as an INT attribute):
 * scalars are float constants instead.
 */
import type { GradientEmitter } from './types.js';

export const FLOAT = 1;
export const INT64 = 7;

export const one = (g: GradientEmitter, op: string, inputs: readonly (string | null)[], attrs?: Parameters<GradientEmitter['emit']>[2]): string => g.emit(op, inputs, attrs)[0]!;
export const mul = (g: GradientEmitter, a: string, b: string): string => one(g, 'Mul', [a, b]);
export const add = (g: GradientEmitter, a: string, b: string): string => one(g, 'Add', [a, b]);
export const sub = (g: GradientEmitter, a: string, b: string): string => one(g, 'Sub', [a, b]);
export const div = (g: GradientEmitter, a: string, b: string): string => one(g, 'Div', [a, b]);
export const neg = (g: GradientEmitter, a: string): string => one(g, 'Neg', [a]);
export const scalar = (g: GradientEmitter, v: number): string => g.constFloat([v], []);
/** a * v for a constant v. */
export const scale = (g: GradientEmitter, a: string, v: number): string => mul(g, a, scalar(g, v));
export const shapeOf = (g: GradientEmitter, x: string): string => one(g, 'Shape', [x]);
/** t broadcast to x's (run-time) shape. */
export const expandLike = (g: GradientEmitter, t: string, x: string): string => one(g, 'Expand', [t, shapeOf(g, x)]);
/** Float zeros of x's (run-time) shape. */
export const zerosLike = (g: GradientEmitter, x: string): string => one(g, 'ConstantOfShape', [shapeOf(g, x)]);
/** cond ? a : 0 (a float). */
export const whereOrZero = (g: GradientEmitter, cond: string, a: string): string => one(g, 'Where', [cond, a, scalar(g, 0)]);
export const castFloat = (g: GradientEmitter, x: string): string => (g.elemType(x) === FLOAT ? x : one(g, 'Cast', [x], { to: FLOAT }));

/** The forward value name of input i (throws a user error when it is missing). */
export function inputName(g: GradientEmitter, i: number): string {
  const v = g.node.inputs[i];
  if (!v) g.fail(`missing input ${i}`);
  return v.name;
}

export function outputName(g: GradientEmitter, i: number): string {
  const v = g.node.outputs[i];
  if (!v) g.fail(`missing output ${i}`);
  return v.name;
}

/** The static rank of a forward value; a user error naming the node when shape inference does not know it. */
export function rankOf(g: GradientEmitter, x: string): number {
  const d = g.dims(x);
  if (!d) g.fail(`the rank of '${x}' is unknown (shape inference did not reach it)`);
  return d.length;
}

/** Static dims of a forward value, every one a number; a user error otherwise. */
export function staticDims(g: GradientEmitter, x: string): number[] {
  const d = g.dims(x);
  if (!d || d.some((v) => typeof v !== 'number')) g.fail(`the shape of '${x}' is not static (${d ? `[${d.join(',')}]` : 'unknown'}); this gradient needs it`);
  return d as number[];
}

/** ReduceSum over `axes` (null: every axis), in the form of the gradient graph's opset. */
export function reduceSum(g: GradientEmitter, x: string, axes: readonly number[] | null, keepdims: boolean): string {
  const keep = keepdims ? 1 : 0;
  if (axes === null) return one(g, 'ReduceSum', [x], { keepdims: keep });
  if (axes.length === 0) return x;
  if (g.opset >= 13) return one(g, 'ReduceSum', [x, g.constInt64(axes)], { keepdims: keep });
  return one(g, 'ReduceSum', [x], { axes: [...axes], keepdims: keep });
}

/** ReduceMean over `axes`, in the form of the gradient graph's opset. */
export function reduceMean(g: GradientEmitter, x: string, axes: readonly number[], keepdims: boolean): string {
  const keep = keepdims ? 1 : 0;
  if (g.opset >= 18) return one(g, 'ReduceMean', [x, g.constInt64(axes)], { keepdims: keep });
  return one(g, 'ReduceMean', [x], { axes: [...axes], keepdims: keep });
}

export function reduceMax(g: GradientEmitter, x: string, axes: readonly number[], keepdims: boolean): string {
  const keep = keepdims ? 1 : 0;
  if (g.opset >= 18) return one(g, 'ReduceMax', [x, g.constInt64(axes)], { keepdims: keep });
  return one(g, 'ReduceMax', [x], { axes: [...axes], keepdims: keep });
}

/** Unsqueeze at `axes` (constant list, or an int64 value name), in the form of the opset. */
export function unsqueeze(g: GradientEmitter, x: string, axes: readonly number[] | string): string {
  if (typeof axes === 'string') {
    if (g.opset < 13) g.fail('axes computed at run time need opset 13 or later');
    return one(g, 'Unsqueeze', [x, axes]);
  }
  if (axes.length === 0) return x;
  if (g.opset >= 13) return one(g, 'Unsqueeze', [x, g.constInt64(axes)]);
  return one(g, 'Unsqueeze', [x], { axes: [...axes] });
}

export function squeeze(g: GradientEmitter, x: string, axes: readonly number[]): string {
  if (axes.length === 0) return x;
  if (g.opset >= 13) return one(g, 'Squeeze', [x, g.constInt64(axes)]);
  return one(g, 'Squeeze', [x], { axes: [...axes] });
}

/** The axes a Reduce* node reduces: 'all', 'none' (noop_with_empty_axes), a constant list, or a run-time int64 value. */
export type ReduceAxes = { kind: 'all' } | { kind: 'none' } | { kind: 'list'; axes: number[] } | { kind: 'dynamic'; value: string };

/** Axes of a Reduce* node: an attribute before `inputSince` (13 for ReduceSum, 18 for the others), an optional input from then. */
export function reduceAxesOf(g: GradientEmitter, inputSince: number): ReduceAxes {
  const node = g.node;
  let axes: number[] | undefined;
  if (g.opset >= inputSince) {
    const v = node.inputs[1];
    if (v) {
      axes = g.constantInts(v.name);
      if (axes === undefined) return { kind: 'dynamic', value: v.name };
    }
    if (!axes || axes.length === 0) return node.attrInt('noop_with_empty_axes', 0) === 1 ? { kind: 'none' } : { kind: 'all' };
    return { kind: 'list', axes };
  }
  axes = node.attrInts('axes');
  return !axes || axes.length === 0 ? { kind: 'all' } : { kind: 'list', axes };
}

/**
 * A reduced value (the gradient dy, or the forward output) brought back to x's shape: unsqueezed at
 * the reduced axes when keepdims = 0, then expanded over them.
 */
export function unreduce(g: GradientEmitter, t: string, x: string, axes: ReduceAxes, keepdims: boolean): string {
  if (axes.kind === 'none') return t;
  let u = t;
  if (!keepdims) {
    if (axes.kind === 'list') u = unsqueeze(g, t, axes.axes);
    else if (axes.kind === 'dynamic') u = unsqueeze(g, t, axes.value);
    // 'all' without keepdims: a scalar, which Expand broadcasts as it is
  }
  return expandLike(g, u, x);
}

/**
 * t (a float value) with the constant matrix m [rows = t's size along axis, cols] applied along
 * `axis` of a rank-`rank` value: out[..., j, ...] = sum_i t[..., i, ...] m[i, j].
 */
export function applyAlongAxis(g: GradientEmitter, t: string, axis: number, rank: number, m: readonly number[] | Float32Array, rows: number, cols: number): string {
  const mat = g.constFloat(Array.from(m), [rows, cols]);
  if (axis === rank - 1) return one(g, 'MatMul', [t, mat]);
  if (axis === rank - 2) {
    // m^T [cols, rows] @ t [..., rows, w]
    const mt = new Array<number>(rows * cols);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) mt[j * rows + i] = m[i * cols + j]!;
    return one(g, 'MatMul', [g.constFloat(mt, [cols, rows]), t]);
  }
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[axis] = rank - 1;
  perm[rank - 1] = axis;
  const moved = one(g, 'Transpose', [t], { perm });
  return one(g, 'Transpose', [one(g, 'MatMul', [moved, mat])], { perm });
}

/** A value produced through `Cast`: bool (or any) condition as float 0/1. */
export function asFloat(g: GradientEmitter, cond: string): string {
  return one(g, 'Cast', [cond], { to: FLOAT });
}

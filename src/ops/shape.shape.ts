/**
 * Shape rules of the shape family: Shape and Size (their outputs carry the dims as contents), and
 * ops that rearrange dims: Reshape, Flatten, Squeeze, Unsqueeze,
 * Transpose, Expand, Tile, DepthToSpace, SpaceToDepth. Contents of small tensors pass through
 * Reshape/Flatten/Squeeze/Unsqueeze (PyTorch's shape chains go through them).
 */
import { DataType } from '../onnx/data-types.js';
import { dimFloorDiv, dimMul, dimProduct, broadcastShapes, formatShape } from './shape-common/dims.js';
import type { Dim, ShapeInfo, ShapeRule } from './shape-common/types.js';
import { contents, fail, has, normAxis, numbers, out, setContents, where } from './shape-common/util.js';
import type { ShapeRuleTable } from './types.js';

function withContentsOf(info: ShapeInfo, from: ShapeInfo | undefined): ShapeInfo {
  const data = contents(from);
  if (data) setContents(info, data);
  return info;
}

const reshape: ShapeRule = (node, inputs, ctx) => {
  const x = inputs[0]?.shape;
  const target = ctx.opset < 5 ? node.attrInts('shape') : contents(inputs[1]);
  if (!target) {
    const n = inputs[1]?.shape?.[0];
    if (inputs[1]?.shape?.length === 1 && typeof n === 'number') {
      return [out(Array.from({ length: n }, () => ctx.fresh()), inputs[0]?.elemType)];
    }
    return undefined;
  }
  const allowZero = ctx.opset >= 14 && node.attrInt('allowzero', 0) === 1;
  const dims: Dim[] = target.map((t, i) => {
    if (t !== 0 || allowZero) return t;
    if (!x) return ctx.fresh();
    if (i >= x.length) fail(node, `target ${formatShape(target)} copies dim ${i} (0) but the input ${formatShape(x)} has rank ${x.length}`);
    return x[i]!;
  });
  const infer = dims.flatMap((d, i) => (d === -1 ? [i] : []));
  if (infer.length > 1) fail(node, `target ${formatShape(target)} has more than one -1`);
  if (dims.some((d) => typeof d === 'number' && d < -1)) fail(node, `target ${formatShape(target)} has a negative dim`);
  if (infer.length === 1) {
    const i = infer[0]!;
    if (!x) dims[i] = ctx.fresh();
    else {
      const total = dimProduct(x);
      const rest = dimProduct(dims.filter((_, k) => k !== i));
      if (typeof total === 'number' && typeof rest === 'number') {
        if (rest === 0 ? total !== 0 : total % rest !== 0) fail(node, `cannot reshape ${formatShape(x)} to ${formatShape(target)}`);
        dims[i] = rest === 0 ? 0 : total / rest;
      } else dims[i] = rest === 0 ? ctx.fresh() : dimFloorDiv(total, rest);
    }
  }
  if (x) {
    const a = dimProduct(x);
    const b = dimProduct(dims);
    if (typeof a === 'number' && typeof b === 'number' && a !== b) fail(node, `cannot reshape ${formatShape(x)} (${a} elements) to ${formatShape(dims)} (${b})`);
  }
  return [withContentsOf(out(dims, inputs[0]?.elemType), inputs[0])];
};

const flatten: ShapeRule = (node, inputs) => {
  const x = inputs[0]?.shape;
  if (!x) return undefined;
  let axis = node.attrInt('axis', 1);
  if (axis < 0) axis += x.length;
  if (axis < 0 || axis > x.length) fail(node, `axis ${node.attrInt('axis', 1)} is out of range for rank ${x.length}`);
  const shape = [dimProduct(x.slice(0, axis)), dimProduct(x.slice(axis))];
  return [withContentsOf(out(shape, inputs[0]?.elemType), inputs[0])];
};

/** Axes from the attribute (before opset 13) or input 1 (from 13); null = not given. */
function axesOf(node: Parameters<ShapeRule>[0], inputs: readonly (ShapeInfo | undefined)[], opset: number): number[] | null | undefined {
  if (opset < 13) return node.attrInts('axes') ?? null;
  if (!has(node, 1)) return null;
  return numbers(inputs[1]);
}

const squeeze: ShapeRule = (node, inputs, ctx) => {
  const x = inputs[0]?.shape;
  if (!x) return undefined;
  const axes = axesOf(node, inputs, ctx.opset);
  if (axes === undefined) return undefined;
  let shape: Dim[];
  if (axes === null || axes.length === 0) {
    // a symbolic dim might be 1: cannot decide
    if (x.some((d) => typeof d !== 'number')) return undefined;
    shape = x.filter((d) => d !== 1);
  } else {
    const set = new Set(axes.map((a) => normAxis(node, a, x.length)));
    for (const a of set) {
      const d = x[a]!;
      if (typeof d === 'number' && d !== 1) fail(node, `cannot squeeze axis ${a} of ${formatShape(x)}: its size is ${d}`);
    }
    shape = x.filter((_, i) => !set.has(i));
  }
  return [withContentsOf(out(shape, inputs[0]?.elemType), inputs[0])];
};

const unsqueeze: ShapeRule = (node, inputs, ctx) => {
  const x = inputs[0]?.shape;
  const axes = axesOf(node, inputs, ctx.opset);
  if (!x || !axes) return undefined;
  const rank = x.length + axes.length;
  const set = new Set(axes.map((a) => normAxis(node, a, rank)));
  if (set.size !== axes.length) fail(node, `axes [${axes.join(', ')}] repeat an axis`);
  const shape: Dim[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) shape.push(set.has(i) ? 1 : x[k++]!);
  return [withContentsOf(out(shape, inputs[0]?.elemType), inputs[0])];
};

const transpose: ShapeRule = (node, inputs) => {
  const x = inputs[0]?.shape;
  if (!x) return undefined;
  const perm = node.attrInts('perm') ?? x.map((_, i) => x.length - 1 - i);
  if (perm.length !== x.length || new Set(perm).size !== perm.length || perm.some((p) => p < 0 || p >= x.length)) {
    fail(node, `perm [${perm.join(', ')}] is not a permutation of the axes of ${formatShape(x)}`);
  }
  const info = out(perm.map((p) => x[p]!), inputs[0]?.elemType);
  return [x.length <= 1 ? withContentsOf(info, inputs[0]) : info];
};

const expand: ShapeRule = (node, inputs, ctx) => {
  const x = inputs[0]?.shape;
  if (!x) return undefined;
  const target = contents(inputs[1]);
  if (!target) {
    const n = inputs[1]?.shape?.[0];
    if (typeof n !== 'number') return undefined;
    return [out(Array.from({ length: Math.max(n, x.length) }, () => ctx.fresh()), inputs[0]?.elemType)];
  }
  return [out(broadcastShapes([x, target], () => ctx.fresh(), where(node)), inputs[0]?.elemType)];
};

const tile: ShapeRule = (node, inputs) => {
  const x = inputs[0]?.shape;
  const repeats = contents(inputs[1]);
  if (!x || !repeats) return undefined;
  if (repeats.length !== x.length) fail(node, `repeats has ${repeats.length} entries for input ${formatShape(x)}`);
  return [out(x.map((d, i) => dimMul(d, repeats[i]!)), inputs[0]?.elemType)];
};

function blocks(node: Parameters<ShapeRule>[0], x: readonly Dim[]): number {
  if (x.length !== 4) fail(node, `needs a 4-D input, got ${formatShape(x)}`);
  return node.attrInt('blocksize', 1);
}

const depthToSpace: ShapeRule = (node, inputs) => {
  const x = inputs[0]?.shape;
  if (!x) return undefined;
  const b = blocks(node, x);
  const c = x[1]!;
  if (typeof c === 'number' && c % (b * b) !== 0) fail(node, `channels ${c} are not divisible by blocksize^2 = ${b * b}`);
  return [out([x[0]!, dimFloorDiv(c, b * b), dimMul(x[2]!, b), dimMul(x[3]!, b)], inputs[0]?.elemType)];
};

const spaceToDepth: ShapeRule = (node, inputs) => {
  const x = inputs[0]?.shape;
  if (!x) return undefined;
  const b = blocks(node, x);
  for (const d of [x[2]!, x[3]!]) {
    if (typeof d === 'number' && d % b !== 0) fail(node, `spatial size ${d} is not divisible by blocksize ${b}`);
  }
  return [out([x[0]!, dimMul(x[1]!, b * b), dimFloorDiv(x[2]!, b), dimFloorDiv(x[3]!, b)], inputs[0]?.elemType)];
};

const shapeOp: ShapeRule = (node, inputs, ctx) => {
  const x = inputs[0]?.shape;
  if (!x) return undefined;
  let start = 0;
  let end = x.length;
  if (ctx.opset >= 15) {
    const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + x.length : v, 0), x.length);
    start = clamp(node.attrInt('start', 0));
    end = clamp(node.attrInt('end', x.length));
  }
  const dims = x.slice(start, Math.max(start, end));
  return [out([dims.length], DataType.INT64, dims)];
};

const size: ShapeRule = (_node, inputs) => {
  const x = inputs[0]?.shape;
  if (!x) return undefined;
  return [out([], DataType.INT64, [dimProduct(x)])];
};

export const SHAPE_SHAPE_RULES: ShapeRuleTable = {
  Shape: shapeOp,
  Size: size,
  Reshape: reshape,
  Flatten: flatten,
  Squeeze: squeeze,
  Unsqueeze: unsqueeze,
  Transpose: transpose,
  Expand: expand,
  Tile: tile,
  DepthToSpace: depthToSpace,
  SpaceToDepth: spaceToDepth,
};

/**
 * Shape rules of the slice family: ops that cut or join along axes: Slice (attributes before
 * opset 10, inputs after), Split (sizes as attribute before 13, input after, num_outputs from 18),
 * Concat, Pad (pads as attribute before opset 11), Trilu; and indexing: Gather, GatherElements,
 * GatherND, Scatter*, OneHot. Contents of small 1-D tensors are sliced, split, joined and gathered too.
 */
import type { Node } from '../ir/node.js';
import { DataType } from '../onnx/data-types.js';
import { dimAdd, dimCeilDiv, dimEq, dimFloorDiv, dimSub, formatShape } from './shape-common/dims.js';
import type { Dim, RuleContext, ShapeInfo, ShapeRule } from './shape-common/types.js';
import { contents, fail, has, MAX_TRACKED_ELEMENTS, normAxis, numbers, out, same } from './shape-common/util.js';
import type { ShapeRuleTable } from './types.js';
import { sameShape } from './unary.shape.js';

/** Starts/ends at or beyond this mean "to the end" (exporters write INT64_MAX or INT32_MAX). */
const OPEN = 2 ** 31 - 1;

/** Length of a slice of a dim of size `d`, or undefined when it depends on an unknown size. */
function sliceLength(d: Dim, start: number, end: number, step: number): Dim | undefined {
  if (typeof d === 'number') return sliceIndices(d, start, end, step).length;
  if (step > 0) {
    const s: Dim | undefined = start < 0 ? (start <= -OPEN ? 0 : dimAdd(d, start)) : start === 0 ? 0 : start >= OPEN ? d : start;
    const e: Dim | undefined = end >= OPEN ? d : end < 0 ? (end <= -OPEN ? 0 : dimAdd(d, end)) : undefined;
    if (e === undefined) return undefined;
    return step === 1 ? dimSub(e, s) : dimCeilDiv(dimSub(e, s), step);
  }
  const s: Dim | undefined = start >= OPEN ? dimSub(d, 1) : start < 0 ? dimAdd(d, start) : undefined;
  const e: Dim | undefined = end <= -OPEN ? -1 : end < 0 ? dimAdd(d, end) : undefined;
  if (s === undefined || e === undefined) return undefined;
  return dimCeilDiv(dimSub(s, e), -step);
}

/** Indices taken by a slice of a dim of known size (ONNX clamping rules). */
function sliceIndices(d: number, start: number, end: number, step: number): number[] {
  let s = start < 0 ? start + d : start;
  let e = end < 0 ? end + d : end;
  if (step > 0) {
    s = Math.min(Math.max(s, 0), d);
    e = Math.min(Math.max(e, 0), d);
  } else {
    s = Math.min(Math.max(s, 0), d - 1);
    e = Math.min(Math.max(e, -1), d - 1);
  }
  const idx: number[] = [];
  if (step > 0) for (let i = s; i < e; i += step) idx.push(i);
  else for (let i = s; i > e; i += step) idx.push(i);
  return idx;
}

interface SliceParams {
  starts: number[];
  ends: number[];
  axes: number[] | undefined;
  steps: number[] | undefined;
}

function sliceParams(node: Node, inputs: readonly (ShapeInfo | undefined)[], opset: number): SliceParams | undefined {
  if (opset < 10) {
    const starts = node.attrInts('starts');
    const ends = node.attrInts('ends');
    if (!starts || !ends) return fail(node, 'starts and ends are required');
    return { starts, ends, axes: node.attrInts('axes'), steps: undefined };
  }
  const starts = numbers(inputs[1]);
  const ends = numbers(inputs[2]);
  const axes = has(node, 3) ? numbers(inputs[3]) : undefined;
  const steps = has(node, 4) ? numbers(inputs[4]) : undefined;
  if (!starts || !ends || (has(node, 3) && !axes) || (has(node, 4) && !steps)) return undefined;
  return { starts, ends, axes, steps };
}

const slice: ShapeRule = (node, inputs, ctx) => {
  const x = inputs[0]?.shape;
  if (!x) return undefined;
  const p = sliceParams(node, inputs, ctx.opset);
  if (!p) {
    // rank is kept; which axes are cut is unknown
    const axes = has(node, 3) ? numbers(inputs[3]) : undefined;
    const cut = axes ? new Set(axes.map((a) => normAxis(node, a, x.length))) : undefined;
    return [out(x.map((d, i) => (!cut || cut.has(i) ? ctx.fresh() : d)), inputs[0]?.elemType)];
  }
  const axes = (p.axes ?? p.starts.map((_, i) => i)).map((a) => normAxis(node, a, x.length));
  if (p.ends.length !== p.starts.length || axes.length !== p.starts.length || (p.steps && p.steps.length !== p.starts.length)) {
    fail(node, 'starts, ends, axes and steps differ in length');
  }
  const shape = [...x];
  const picks = new Map<number, number[]>();
  axes.forEach((a, i) => {
    const step = p.steps?.[i] ?? 1;
    if (step === 0) fail(node, 'a step is 0');
    const d = x[a]!;
    shape[a] = sliceLength(d, p.starts[i]!, p.ends[i]!, step) ?? ctx.fresh();
    if (typeof d === 'number') picks.set(a, sliceIndices(d, p.starts[i]!, p.ends[i]!, step));
  });
  const data = contents(inputs[0]);
  const sliced = data && x.length === 1 ? (picks.get(0) ?? []).map((i) => data[i]!) : undefined;
  return [out(shape, inputs[0]?.elemType, x.length === 1 && picks.has(0) ? sliced : undefined)];
};

/** Split sizes, or undefined when not known statically. */
function splitSizes(node: Node, inputs: readonly (ShapeInfo | undefined)[], d: Dim, opset: number): Dim[] | undefined {
  const given = opset < 13 ? node.attrInts('split') : has(node, 1) ? numbers(inputs[1]) : null;
  if (given === undefined) return opset < 13 ? evenSplit(node, d, node.outputs.length, false) : undefined;
  if (given !== null && given.length > 0) return given;
  const numOutputs = opset >= 18 ? node.attrInt('num_outputs') : undefined;
  return evenSplit(node, d, numOutputs ?? node.outputs.length, numOutputs !== undefined);
}

function evenSplit(node: Node, d: Dim, n: number, uneven: boolean): Dim[] {
  if (!uneven) {
    if (typeof d === 'number' && d % n !== 0) fail(node, `dim ${d} does not split evenly into ${n} outputs`);
    return new Array<Dim>(n).fill(dimFloorDiv(d, n));
  }
  const chunk = dimCeilDiv(d, n);
  if (typeof d !== 'number') return new Array<Dim>(n).fill(chunk);
  const c = chunk as number;
  return Array.from({ length: n }, (_, i) => Math.max(0, Math.min(c, d - c * i)));
}

const split: ShapeRule = (node, inputs, ctx) => {
  const x = inputs[0]?.shape;
  if (!x) return undefined;
  const axis = normAxis(node, node.attrInt('axis', 0), x.length);
  const sizes = splitSizes(node, inputs, x[axis]!, ctx.opset);
  if (!sizes) return node.outputs.map(() => out(x.map((d, i) => (i === axis ? ctx.fresh() : d)), inputs[0]?.elemType));
  if (sizes.length !== node.outputs.length) fail(node, `${sizes.length} split sizes for ${node.outputs.length} outputs`);
  const total = sizes.reduce<Dim>((s, v) => dimAdd(s, v), 0);
  if (typeof total === 'number' && typeof x[axis] === 'number' && total !== x[axis]) {
    fail(node, `split sizes [${sizes.join(', ')}] do not add up to dim ${x[axis]} of ${formatShape(x)}`);
  }
  const data = contents(inputs[0]);
  let offset = 0;
  return sizes.map((size) => {
    const part = data && x.length === 1 && typeof size === 'number' ? data.slice(offset, offset + size) : undefined;
    if (typeof size === 'number') offset += size;
    return out(x.map((d, i) => (i === axis ? size : d)), inputs[0]?.elemType, part);
  });
};

const concat: ShapeRule = (node, inputs, ctx) => {
  const present = inputs.filter((_, i) => has(node, i));
  if (present.length === 0 || present.some((i) => !i?.shape)) return undefined;
  const shapes = present.map((i) => i!.shape!);
  const rank = shapes[0]!.length;
  if (shapes.some((s) => s.length !== rank)) fail(node, `inputs differ in rank: ${shapes.map((s) => formatShape(s)).join(', ')}`);
  const axisAttr = node.attrInt('axis');
  if (axisAttr === undefined) return fail(node, 'axis is required');
  const axis = normAxis(node, axisAttr, rank);
  const shape = [...shapes[0]!];
  for (const s of shapes.slice(1)) {
    for (let i = 0; i < rank; i++) {
      if (i === axis) shape[i] = dimAdd(shape[i]!, s[i]!);
      else shape[i] = unify(node, shape[i]!, s[i]!, shapes, ctx);
    }
  }
  const data = present.map(contents);
  const joined = axis === 0 && data.every((d) => d !== undefined) ? (data as Dim[][]).flat() : undefined;
  return [out(shape, present[0]!.elemType, joined && joined.length <= MAX_TRACKED_ELEMENTS ? joined : undefined)];
};

function unify(node: Node, a: Dim, b: Dim, shapes: Dim[][], ctx: RuleContext): Dim {
  if (dimEq(a, b)) return a;
  if (typeof a === 'number' && typeof b === 'number') fail(node, `inputs disagree off the concat axis: ${shapes.map((s) => formatShape(s)).join(', ')}`);
  if (typeof a === 'number') return a;
  if (typeof b === 'number') return b;
  return ctx.fresh();
}

function padAmounts(node: Node, inputs: readonly (ShapeInfo | undefined)[], opset: number): number[] | undefined {
  if (opset < 2) return node.attrInts('paddings') ?? fail(node, 'paddings is required');
  if (opset < 11) return node.attrInts('pads') ?? fail(node, 'pads is required');
  return numbers(inputs[1]);
}

const pad: ShapeRule = (node, inputs, ctx) => {
  const x = inputs[0]?.shape;
  if (!x) return undefined;
  const pads = padAmounts(node, inputs, ctx.opset);
  let axes = x.map((_, i) => i);
  if (ctx.opset >= 18 && has(node, 3)) {
    const given = numbers(inputs[3]);
    if (!given) return [out(x.map(() => ctx.fresh()), inputs[0]?.elemType)];
    axes = given.map((a) => normAxis(node, a, x.length));
  }
  if (!pads) return [out(x.map((d, i) => (axes.includes(i) ? ctx.fresh() : d)), inputs[0]?.elemType)];
  if (pads.length !== 2 * axes.length) fail(node, `${pads.length} pads for ${axes.length} axes of ${formatShape(x)}`);
  const shape = [...x];
  axes.forEach((a, i) => {
    shape[a] = dimAdd(shape[a]!, pads[i]! + pads[i + axes.length]!);
    if (typeof shape[a] === 'number' && (shape[a] as number) < 0) fail(node, `pads make axis ${a} of ${formatShape(x)} negative`);
  });
  return [out(shape, inputs[0]?.elemType)];
};

// indexing: Gather (with contents, for PyTorch's Shape -> Gather chains), GatherElements,
// GatherND, the Scatter family, OneHot

const gather: ShapeRule = (node, inputs) => {
  const data = inputs[0]?.shape;
  const indices = inputs[1]?.shape;
  if (!data || !indices) return undefined;
  if (data.length === 0) fail(node, 'data must have rank >= 1');
  const axis = normAxis(node, node.attrInt('axis', 0), data.length);
  const shape = [...data.slice(0, axis), ...indices, ...data.slice(axis + 1)];
  // contents: picking entries of a 1-D tensor (a shape) by constant indices
  const values = contents(inputs[0]);
  const idx = numbers(inputs[1]);
  let picked: Dim[] | undefined;
  if (values && idx && data.length === 1) {
    const n = values.length;
    picked = idx.map((i) => {
      const k = i < 0 ? i + n : i;
      if (k < 0 || k >= n) fail(node, `index ${i} is out of range for ${n} entries`);
      return values[k]!;
    });
  }
  return [out(shape, inputs[0]?.elemType, picked)];
};

const gatherElements: ShapeRule = (_node, inputs) => {
  const indices = inputs[1]?.shape;
  if (!indices) return undefined;
  return [out([...indices], inputs[0]?.elemType)];
};

const gatherND: ShapeRule = (node, inputs) => {
  const data = inputs[0]?.shape;
  const indices = inputs[1]?.shape;
  if (!data || !indices) return undefined;
  const b = node.attrInt('batch_dims', 0);
  const last = indices[indices.length - 1];
  if (typeof last !== 'number') return undefined;
  if (b + last > data.length) fail(node, `indices ${formatShape(indices)} index past the rank of data ${formatShape(data)}`);
  return [out([...indices.slice(0, -1), ...data.slice(b + last)], inputs[0]?.elemType)];
};

const likeData: ShapeRule = (_node, inputs) => [same(inputs[0])];

/** OneHot(indices, depth, values): depth inserted at `axis`, typed like `values`. */
const oneHot: ShapeRule = (node, inputs, ctx) => {
  const indices = inputs[0]?.shape;
  if (!indices) return undefined;
  const depth = numbers(inputs[1])?.[0];
  const axis = normAxis(node, node.attrInt('axis', -1), indices.length + 1);
  const shape: Dim[] = [...indices];
  shape.splice(axis, 0, depth === undefined ? ctx.fresh() : Math.trunc(depth));
  return [out(shape, inputs[2]?.elemType ?? DataType.FLOAT)];
};

export const SLICE_SHAPE_RULES: ShapeRuleTable = {
  Slice: slice,
  Split: split,
  Concat: concat,
  Pad: pad,
  Trilu: sameShape,
  Gather: gather,
  GatherElements: gatherElements,
  GatherND: gatherND,
  Scatter: likeData,
  ScatterElements: likeData,
  ScatterND: likeData,
  OneHot: oneHot,
};

/**
 * Indexing ops: Gather (with contents, for PyTorch's Shape->Gather chains), GatherElements,
 * GatherND, the Scatter family, OneHot.
 */
import { DataType } from '../../../onnx/data-types.js';
import { formatShape } from '../dims.js';
import type { Dim, ShapeRule } from '../types.js';
import { contents, fail, normAxis, numbers, out, same } from './util.js';

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

export const GATHER_RULES: Record<string, ShapeRule> = {
  Gather: gather,
  GatherElements: gatherElements,
  GatherND: gatherND,
  Scatter: likeData,
  ScatterElements: likeData,
  ScatterND: likeData,
  OneHot: oneHot,
};

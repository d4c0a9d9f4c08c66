/**
 * Shape rules of the constant family: ops that make tensors from attributes: Constant,
 * ConstantOfShape, Range, EyeLike, RandomNormal/RandomUniform. Small integer outputs carry
 * contents, so PyTorch's shape chains resolve statically.
 */
import { DataType } from '../onnx/data-types.js';
import { tensorShapeInfo } from './shape-common/tensor-info.js';
import { dimCeilDiv, dimSub } from './shape-common/dims.js';
import type { Dim, ShapeRule } from './shape-common/types.js';
import { contents, elemCount, fail, MAX_TRACKED_ELEMENTS, out } from './shape-common/util.js';
import type { ShapeRuleTable } from './types.js';
import { likeWithDtype } from './unary.shape.js';

const constant: ShapeRule = (node) => {
  const t = node.attribute('value')?.t;
  if (t) return [tensorShapeInfo(t, 'rule')];
  const sparse = node.attribute('sparse_value')?.sparse_tensor;
  if (sparse) return [out((sparse.dims ?? []).map(Number), sparse.values?.data_type)];
  const f = node.attribute('value_float');
  if (f) return [out([], DataType.FLOAT, [node.attrFloat('value_float', 0)])];
  const fs = node.attrFloats('value_floats');
  if (fs) return [out([fs.length], DataType.FLOAT, fs)];
  const i = node.attrInt('value_int');
  if (i !== undefined) return [out([], DataType.INT64, [i])];
  const is = node.attrInts('value_ints');
  if (is) return [out([is.length], DataType.INT64, is)];
  if (node.attribute('value_string')) return [out([], DataType.STRING)];
  const ss = node.attrStrings('value_strings');
  if (ss) return [out([ss.length], DataType.STRING)];
  return fail(node, 'Constant has no value attribute');
};

const constantOfShape: ShapeRule = (node, inputs, ctx) => {
  const t = node.attribute('value')?.t;
  const filler = t ? tensorShapeInfo(t, 'rule') : undefined;
  const elemType = filler?.elemType ?? DataType.FLOAT;
  const shape = contents(inputs[0]);
  if (!shape) {
    const n = inputs[0]?.shape?.[0];
    return typeof n === 'number' ? [out(Array.from({ length: n }, () => ctx.fresh()), elemType)] : undefined;
  }
  const count = elemCount(shape);
  const fill = filler?.value?.[0] ?? 0;
  const data = count !== undefined && count <= MAX_TRACKED_ELEMENTS && (filler === undefined || filler.value) ? new Array<number>(count).fill(fill) : undefined;
  return [out([...shape], elemType, data)];
};

/** Range(start, limit, delta): max(ceil((limit - start) / delta), 0) elements. */
const range: ShapeRule = (node, inputs, ctx) => {
  const elemType = inputs[0]?.elemType;
  const [start, limit, delta] = [0, 1, 2].map((i) => contents(inputs[i])?.[0]);
  if (start === undefined || limit === undefined || typeof delta !== 'number') return [out([ctx.fresh()], elemType)];
  if (delta === 0) fail(node, 'delta is 0');
  if (typeof start === 'number' && typeof limit === 'number') {
    const n = Math.max(Math.ceil((limit - start) / delta), 0);
    const data = n <= MAX_TRACKED_ELEMENTS ? Array.from({ length: n }, (_, i) => start + i * delta) : undefined;
    return [out([n], elemType, data)];
  }
  const n: Dim = delta > 0 && Number.isInteger(delta) && Number.isInteger(start) ? dimCeilDiv(dimSub(limit, start), delta) : ctx.fresh();
  return [out([n], elemType)];
};

const random: ShapeRule = (node) => {
  const shape = node.attrInts('shape');
  if (!shape) return fail(node, 'shape is required');
  return [out(shape, node.attrInt('dtype', DataType.FLOAT))];
};

export const CONSTANT_SHAPE_RULES: ShapeRuleTable = {
  Constant: constant,
  ConstantOfShape: constantOfShape,
  Range: range,
  RandomNormal: random,
  RandomUniform: random,
  EyeLike: likeWithDtype,
};

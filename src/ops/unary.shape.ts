/**
 * Ops whose output has the input's shape: activations (Relu, LeakyRelu, Clip, Sigmoid, Tanh...),
 * math functions, Identity, Dropout, Cast/CastLike, Quantize/Dequantize (Softmax and friends: norm;
 * Not: elementwise; CumSum: reduce; Trilu: slice; EyeLike: constant).
 * Identity, Cast and a few integer functions carry small constant contents through.
 */
import { DataType } from '../onnx/data-types.js';
import type { Dim, ShapeInfo, ShapeRule } from './shape-common/types.js';
import { contents, isIntegerType, out, same } from './shape-common/util.js';
import type { ShapeRuleTable } from './types.js';

type MapFn = (x: number) => number;

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Same shape and type; contents mapped through `fn` when given (symbolic entries only by Identity). */
export function unary(fn?: MapFn): ShapeRule {
  return (_node, inputs) => {
    const x = inputs[0];
    const info = same(x);
    if (!info) return undefined;
    const data = contents(x);
    if (fn && data && data.every((d) => typeof d === 'number')) {
      const mapped = (data as number[]).map(fn);
      info.value = x?.elemType === DataType.FLOAT ? mapped.map(Math.fround) : mapped;
    }
    return [info];
  };
}

/** Same shape and type as the first input, contents unknown (e.g. com.microsoft Inverse). */
export const sameShapeOnly: ShapeRule = (_node, inputs) => {
  const info = same(inputs[0]);
  return info ? [info] : undefined;
};

const identity: ShapeRule = (_node, inputs) => {
  const info = same(inputs[0]);
  if (!info) return undefined;
  copyContents(inputs[0], info);
  return [info];
};

function copyContents(from: ShapeInfo | undefined, to: ShapeInfo): void {
  if (from?.value) to.value = [...from.value];
  if (from?.symbolicValue) to.symbolicValue = [...from.symbolicValue];
}

/** Convert contents to the target type (symbolic dims stay as they are for integer targets). */
function castContents(data: readonly Dim[] | undefined, to: number): Dim[] | undefined {
  if (!data) return undefined;
  if (to === DataType.BOOL) return data.every((d) => typeof d === 'number') ? data.map((d) => (d !== 0 ? 1 : 0)) : undefined;
  if (isIntegerType(to)) return data.map((d) => (typeof d === 'number' ? Math.trunc(d) : d));
  if (to === DataType.FLOAT) return data.map((d) => (typeof d === 'number' ? Math.fround(d) : d));
  if (to === DataType.DOUBLE) return [...data];
  return undefined;
}

const cast: ShapeRule = (node, inputs) => {
  const to = node.attrInt('to');
  const info = same(inputs[0], to);
  if (!info || to === undefined) return undefined;
  const data = castContents(contents(inputs[0]), to);
  if (data) {
    if (data.every((d) => typeof d === 'number')) info.value = data as number[];
    else info.symbolicValue = data;
  }
  return [info];
};

const castLike: ShapeRule = (_node, inputs) => {
  const to = inputs[1]?.elemType;
  const info = same(inputs[0], to);
  if (!info) return undefined;
  const data = to === undefined ? undefined : castContents(contents(inputs[0]), to);
  if (data) {
    if (data.every((d) => typeof d === 'number')) info.value = data as number[];
    else info.symbolicValue = data;
  }
  return [info];
};

const dropout: ShapeRule = (_node, inputs, ctx) => {
  const y = same(inputs[0]);
  if (!y) return undefined;
  copyContents(inputs[0], y);
  const mask = same(inputs[0], ctx.opset >= 10 ? DataType.BOOL : inputs[0]?.elemType);
  return [y, mask];
};

const toBool: ShapeRule = (_node, inputs) => [same(inputs[0], DataType.BOOL)];

/** Output type from the `dtype` attribute, else the input's. */
export const likeWithDtype: ShapeRule = (node, inputs) => [same(inputs[0], node.attrInt('dtype') ?? inputs[0]?.elemType)];

const quantizeLinear: ShapeRule = (node, inputs) => [same(inputs[0], inputs[2]?.elemType ?? node.attrInt('output_dtype') ?? DataType.UINT8)];

const dequantizeLinear: ShapeRule = (_node, inputs) => [same(inputs[0], inputs[1]?.elemType ?? DataType.FLOAT)];

const dynamicQuantizeLinear: ShapeRule = (_node, inputs) => {
  const y = same(inputs[0], DataType.UINT8);
  if (!y) return undefined;
  return [y, out([], DataType.FLOAT), out([], DataType.UINT8)];
};

/** Same shape and type as the input, no contents. */
export const sameShape = unary();

export const UNARY_SHAPE_RULES: ShapeRuleTable = {
  Identity: identity,
  Dropout: dropout,
  Cast: cast,
  CastLike: castLike,
  Relu: unary((x) => Math.max(0, x)),
  Neg: unary((x) => -x),
  Abs: unary(Math.abs),
  Floor: unary(Math.floor),
  Ceil: unary(Math.ceil),
  Round: unary(roundHalfEven),
  Sign: unary(Math.sign),
  Sqrt: unary(Math.sqrt),
  Reciprocal: unary((x) => 1 / x),
  ...Object.fromEntries(
    [
      'LeakyRelu', 'Clip', 'Sigmoid', 'Tanh', 'Exp', 'Log', 'Erf', 'Elu', 'Selu', 'Celu', 'HardSigmoid', 'HardSwish',
      'Softplus', 'Softsign', 'Sin', 'Cos', 'Tan', 'Asin', 'Acos', 'Atan', 'Sinh', 'Cosh', 'Asinh', 'Acosh', 'Atanh',
      'Mish', 'Gelu', 'ThresholdedRelu', 'Shrink', 'LpNormalization', 'ReverseSequence', 'BitwiseNot',
    ].map((op) => [op, sameShape]),
  ),
  IsNaN: toBool,
  IsInf: toBool,
  RandomNormalLike: likeWithDtype,
  RandomUniformLike: likeWithDtype,
  Bernoulli: likeWithDtype,
  QuantizeLinear: quantizeLinear,
  DequantizeLinear: dequantizeLinear,
  DynamicQuantizeLinear: dynamicQuantizeLinear,
};

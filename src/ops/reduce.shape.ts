/**
 * Reductions (ReduceMean, ReduceSum, ReduceMax... with axes as an attribute or, from opset 13 for
 * ReduceSum and 18 for the others, as an input), ArgMax/ArgMin, TopK, CumSum.
 */
import type { Node } from '../ir/node.js';
import { DataType } from '../onnx/data-types.js';
import { dimAdd, dimMul } from './shape-common/dims.js';
import type { Dim, ShapeInfo, ShapeRule } from './shape-common/types.js';
import { contents, has, normAxis, numbers, out } from './shape-common/util.js';
import type { ShapeRuleTable } from './types.js';
import { sameShape } from './unary.shape.js';

/** Reduced axes (normalized), or undefined when they are not known statically. */
function reducedAxes(node: Node, inputs: readonly (ShapeInfo | undefined)[], rank: number, axesInput: boolean): number[] | undefined {
  let axes: number[] | undefined;
  if (!axesInput) axes = node.attrInts('axes');
  else if (has(node, 1)) {
    axes = numbers(inputs[1]);
    if (!axes) return undefined;
  }
  if (!axes || axes.length === 0) {
    const noop = axesInput && node.attrInt('noop_with_empty_axes', 0) === 1;
    return noop ? [] : Array.from({ length: rank }, (_, i) => i);
  }
  return [...new Set(axes.map((a) => normAxis(node, a, rank)))];
}

const FOLD: Partial<Record<string, (a: Dim, b: Dim) => Dim>> = { ReduceSum: dimAdd, ReduceProd: dimMul };

function reduce(axesInputSince: number): ShapeRule {
  return (node, inputs, ctx) => {
    const x = inputs[0]?.shape;
    if (!x) return undefined;
    const axes = reducedAxes(node, inputs, x.length, ctx.opset >= axesInputSince);
    if (!axes) return undefined;
    const keep = node.attrInt('keepdims', 1) === 1;
    const set = new Set(axes);
    const shape: Dim[] = [];
    x.forEach((d, i) => {
      if (!set.has(i)) shape.push(d);
      else if (keep) shape.push(1);
    });
    // shape arithmetic: the sum or product of a 1-D tensor of dims
    const fold = FOLD[node.opType];
    const data = contents(inputs[0]);
    const folded = fold && data && x.length === 1 && set.has(0) ? [data.reduce<Dim>(fold, node.opType === 'ReduceProd' ? 1 : 0)] : undefined;
    return [out(shape, inputs[0]?.elemType, folded)];
  };
}

const argReduce: ShapeRule = (node, inputs) => {
  const x = inputs[0]?.shape;
  if (!x) return undefined;
  const axis = normAxis(node, node.attrInt('axis', 0), x.length);
  const keep = node.attrInt('keepdims', 1) === 1;
  const shape = keep ? x.map((d, i) => (i === axis ? 1 : d)) : x.filter((_, i) => i !== axis);
  return [out(shape, DataType.INT64)];
};

const since18 = reduce(18);

const topK: ShapeRule = (node, inputs, ctx) => {
  const x = inputs[0]?.shape;
  if (!x) return undefined;
  const axis = normAxis(node, node.attrInt('axis', -1), x.length);
  const k: Dim = (ctx.opset < 10 ? node.attrInt('k') : numbers(inputs[1])?.[0]) ?? ctx.fresh();
  const shape = x.map((d, i) => (i === axis ? k : d));
  return [out(shape, inputs[0]?.elemType), out([...shape], DataType.INT64)];
};

export const REDUCE_SHAPE_RULES: ShapeRuleTable = {
  ReduceSum: reduce(13),
  ReduceMean: since18,
  ReduceMax: since18,
  ReduceMin: since18,
  ReduceProd: since18,
  ReduceL1: since18,
  ReduceL2: since18,
  ReduceLogSum: since18,
  ReduceLogSumExp: since18,
  ReduceSumSquare: since18,
  ArgMax: argReduce,
  ArgMin: argReduce,
  TopK: topK,
  CumSum: sameShape,
};

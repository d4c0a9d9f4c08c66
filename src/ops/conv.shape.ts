/**
 * Conv, ConvTranspose and their quantized forms (ConvInteger, QLinearConv).
 */
import type { Node } from '../ir/node.js';
import { DataType } from '../onnx/data-types.js';
import { dimAdd, dimEq, dimMul, dimSub, formatShape } from './shape-common/dims.js';
import type { Dim, ShapeInfo, ShapeRule } from './shape-common/types.js';
import { fail, out, requireRank } from './shape-common/util.js';
import type { ShapeRuleTable } from './types.js';
import { windowAttrs, windowOut } from './shape-common/window.js';

/** Kernel sizes from the attribute or the weight's spatial dims (undefined when symbolic). */
function kernelOf(node: Node, w: readonly Dim[]): number[] | undefined {
  const k = node.attrInts('kernel_shape') ?? w.slice(2);
  return k.every((d): d is number => typeof d === 'number') ? (k as number[]) : undefined;
}

function convShape(node: Node, x: readonly Dim[] | undefined, w: readonly Dim[] | undefined): Dim[] | undefined {
  if (!x || !w) return undefined;
  requireRank(node, x, 3, 'input X');
  if (w.length !== x.length) fail(node, `weight ${formatShape(w)} and input ${formatShape(x)} differ in rank`);
  const group = node.attrInt('group', 1);
  const c = x[1]!;
  const cw = w[1]!;
  if (typeof c === 'number' && typeof cw === 'number' && c !== cw * group) {
    fail(node, `input has ${c} channels but weight ${formatShape(w)} with group ${group} expects ${cw * group}`);
  }
  const kernel = kernelOf(node, w);
  if (!kernel) return undefined;
  if (kernel.length !== x.length - 2) fail(node, `kernel_shape [${kernel.join(', ')}] does not match input ${formatShape(x)}`);
  const attrs = windowAttrs(node, kernel);
  return [x[0]!, w[0]!, ...kernel.map((_, i) => windowOut(node, x[i + 2]!, attrs, i))];
}

const conv: ShapeRule = (node, inputs) => {
  const shape = convShape(node, inputs[0]?.shape, inputs[1]?.shape);
  return shape && [out(shape, inputs[0]?.elemType)];
};

const convInteger: ShapeRule = (node, inputs) => {
  const shape = convShape(node, inputs[0]?.shape, inputs[1]?.shape);
  return shape && [out(shape, DataType.INT32)];
};

/** QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B): output typed like y_zp. */
const qlinearConv: ShapeRule = (node, inputs) => {
  const shape = convShape(node, inputs[0]?.shape, inputs[3]?.shape);
  return shape && [out(shape, inputs[7]?.elemType ?? inputs[0]?.elemType)];
};

function convTransposeSpatial(node: Node, x: readonly Dim[], w: readonly Dim[]): Dim[] | undefined {
  const n = x.length - 2;
  const kernel = kernelOf(node, w);
  if (!kernel) return undefined;
  if (kernel.length !== n) fail(node, `kernel_shape [${kernel.join(', ')}] does not match input ${formatShape(x)}`);
  const strides = node.attrInts('strides') ?? new Array<number>(n).fill(1);
  const dilations = node.attrInts('dilations') ?? new Array<number>(n).fill(1);
  const outPad = node.attrInts('output_padding') ?? new Array<number>(n).fill(0);
  const pads = node.attrInts('pads') ?? new Array<number>(2 * n).fill(0);
  const given = node.attrInts('output_shape');
  if (given && given.length > 0) return given.length === n ? [...given] : given.slice(given.length - n);
  const autoPad = node.attrString('auto_pad', 'NOTSET');
  return x.slice(2).map((size, i) => {
    const s = strides[i]!;
    const dk = (kernel[i]! - 1) * dilations[i]! + 1;
    // full = s*(in-1) + output_padding + dk
    const full = dimAdd(dimMul(dimSub(size, 1), s), outPad[i]! + dk);
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      // pads chosen so the output is in*s (never negative: ONNX Runtime clamps the total at 0)
      return dimSub(full, Math.max(0, outPad[i]! + dk - s));
    }
    if (autoPad === 'VALID') return full;
    if (autoPad !== 'NOTSET' && autoPad !== '') fail(node, `unknown auto_pad '${autoPad}'`);
    const o = dimSub(full, pads[i]! + pads[i + n]!);
    if (typeof o === 'number' && o <= 0) fail(node, `output size ${o} on spatial axis ${i} is not positive`);
    return o;
  });
}

const convTranspose: ShapeRule = (node, inputs) => {
  const x = inputs[0]?.shape;
  const w = inputs[1]?.shape;
  if (!x || !w) return undefined;
  requireRank(node, x, 3, 'input X');
  if (w.length !== x.length) fail(node, `weight ${formatShape(w)} and input ${formatShape(x)} differ in rank`);
  const group = node.attrInt('group', 1);
  if (!dimEq(x[1]!, w[0]!) && typeof x[1] === 'number' && typeof w[0] === 'number') {
    fail(node, `input has ${x[1]} channels but weight ${formatShape(w)} expects ${w[0]}`);
  }
  const spatial = convTransposeSpatial(node, x, w);
  if (!spatial) return undefined;
  const info: ShapeInfo = out([x[0]!, dimMul(w[1]!, group), ...spatial], inputs[0]?.elemType);
  return [info];
};

export const CONV_SHAPE_RULES: ShapeRuleTable = {
  Conv: conv,
  ConvInteger: convInteger,
  QLinearConv: qlinearConv,
  ConvTranspose: convTranspose,
};

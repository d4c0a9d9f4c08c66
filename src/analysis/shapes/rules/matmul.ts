/**
 * MatMul (numpy semantics: 1-D operands, broadcast batch dims), Gemm, and the quantized forms
 * (MatMulInteger, QLinearMatMul).
 */
import type { Node } from '../../../ir/node.js';
import { DataType } from '../../../onnx/data-types.js';
import { broadcastShapes, dimEq, formatShape } from '../dims.js';
import type { Dim, RuleContext, ShapeRule } from '../types.js';
import { fail, out, where } from './util.js';

function matmulShape(node: Node, a: readonly Dim[] | undefined, b: readonly Dim[] | undefined, ctx: RuleContext): Dim[] | undefined {
  if (!a || !b) return undefined;
  if (a.length === 0 || b.length === 0) fail(node, 'MatMul operands must have rank >= 1');
  const a2 = a.length === 1 ? [1, a[0]!] : a;
  const b2 = b.length === 1 ? [b[0]!, 1] : b;
  const k1 = a2[a2.length - 1]!;
  const k2 = b2[b2.length - 2]!;
  if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) {
    fail(node, `inner dims differ: ${formatShape(a)} x ${formatShape(b)}`);
  }
  const batch = broadcastShapes([a2.slice(0, -2), b2.slice(0, -2)], () => ctx.fresh(), where(node));
  const shape = [...batch];
  if (a.length > 1) shape.push(a2[a2.length - 2]!);
  if (b.length > 1) shape.push(b2[b2.length - 1]!);
  return shape;
}

const matmul: ShapeRule = (node, inputs, ctx) => {
  const shape = matmulShape(node, inputs[0]?.shape, inputs[1]?.shape, ctx);
  return shape && [out(shape, inputs[0]?.elemType)];
};

const matmulInteger: ShapeRule = (node, inputs, ctx) => {
  const shape = matmulShape(node, inputs[0]?.shape, inputs[1]?.shape, ctx);
  return shape && [out(shape, DataType.INT32)];
};

/** QLinearMatMul(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp). */
const qlinearMatmul: ShapeRule = (node, inputs, ctx) => {
  const shape = matmulShape(node, inputs[0]?.shape, inputs[3]?.shape, ctx);
  return shape && [out(shape, inputs[7]?.elemType ?? inputs[0]?.elemType)];
};

/** Y = alpha * A' B' + beta * C with A' = [M, K], B' = [K, N]: Y is [M, N]. */
const gemm: ShapeRule = (node, inputs) => {
  const a = inputs[0]?.shape;
  const b = inputs[1]?.shape;
  if (!a || !b) return undefined;
  if (a.length !== 2 || b.length !== 2) fail(node, `Gemm needs 2-D operands, got ${formatShape(a)} and ${formatShape(b)}`);
  const [m, ka] = node.attrInt('transA', 0) ? [a[1]!, a[0]!] : [a[0]!, a[1]!];
  const [kb, n] = node.attrInt('transB', 0) ? [b[1]!, b[0]!] : [b[0]!, b[1]!];
  if (typeof ka === 'number' && typeof kb === 'number' && !dimEq(ka, kb)) {
    fail(node, `inner dims differ: A ${formatShape(a)} (transA ${node.attrInt('transA', 0)}) and B ${formatShape(b)} (transB ${node.attrInt('transB', 0)})`);
  }
  return [out([m, n], inputs[0]?.elemType)];
};

export const MATMUL_RULES: Record<string, ShapeRule> = {
  MatMul: matmul,
  MatMulInteger: matmulInteger,
  QLinearMatMul: qlinearMatmul,
  Gemm: gemm,
};

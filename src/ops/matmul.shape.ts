/**
 * Shape rules of the matmul family: MatMul (numpy semantics: 1-D operands, broadcast batch dims),
 * Gemm, the quantized forms (MatMulInteger, QLinearMatMul), and Einsum.
 */
import type { Node } from '../ir/node.js';
import { DataType } from '../onnx/data-types.js';
import { broadcastShapes, dimEq, formatShape } from './shape-common/dims.js';
import type { Dim, RuleContext, ShapeRule } from './shape-common/types.js';
import { fail, out, where } from './shape-common/util.js';
import type { ShapeRuleTable } from './types.js';

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

/**
 * Einsum (opset 12): terms of letters with at most one '...' each. A label's dim is the same in
 * every operand that has it (1 broadcasts); ellipsis dims are aligned right and broadcast as in
 * numpy (ONNX's own inference wants the same number of ellipsis dims in every operand; this rule,
 * like the kernel, also broadcasts ranks). Explicit output ('->'): its labels in its order, '...'
 * where it says (an output without '...' while operands have ellipsis dims is refused, as numpy
 * does). Implicit output: the ellipsis dims, then the labels that occur once, sorted as numpy and
 * ONNX's reference sort them (A-Z before a-z; ONNX Runtime 1.2x refuses upper-case labels).
 */
const einsum: ShapeRule = (node, inputs, ctx) => {
  const eq = node.attrString('equation', '').replace(/\s+/g, '');
  if (eq === '') fail(node, 'Einsum without an equation');
  const [lhs, rhs, ...extra] = eq.split('->') as [string, string | undefined];
  const terms = lhs.split(',');
  const bad = (t: string): boolean => !/^[A-Za-z]*(\.\.\.)?[A-Za-z]*$/.test(t);
  if (extra.length > 0 || terms.some(bad) || (rhs !== undefined && bad(rhs))) fail(node, `cannot parse equation '${eq}'`);
  if (terms.length !== node.inputs.length) fail(node, `equation '${eq}' has ${terms.length} operands, the node ${node.inputs.length}`);
  const shapes = inputs.map((i) => i?.shape);
  if (shapes.some((s) => s === undefined)) return undefined;
  const w = where(node);
  const labelDims = new Map<string, Dim[]>();
  const ellipses: Dim[][] = [];
  terms.forEach((term, k) => {
    const shape = shapes[k]!;
    const at = term.indexOf('...');
    const letters = term.replace('...', '');
    const n = shape.length - letters.length;
    if (n < 0 || (n > 0 && at < 0)) fail(node, `term '${term}' does not match operand ${k} ${formatShape(shape)}`);
    if (at >= 0) ellipses.push(shape.slice(at, at + n));
    [...letters].forEach((l, i) => {
      const d = shape[at >= 0 && i >= at ? i + n : i]!;
      labelDims.set(l, [...(labelDims.get(l) ?? []), d]);
    });
  });
  // every label is checked, summed ones too
  const merged = new Map([...labelDims].map(([l, ds]) => [l, broadcastShapes(ds.map((d) => [d]), () => ctx.fresh(), `${w}: label '${l}'`)[0]!]));
  const dimOf = (l: string): Dim => merged.get(l)!;
  const ell = broadcastShapes(ellipses, () => ctx.fresh(), `${w}: ellipsis dims`);
  let shape: Dim[];
  if (rhs !== undefined) {
    if (!rhs.includes('...') && ell.length > 0) fail(node, `equation '${eq}': operands have ellipsis dims but the output has no '...'`);
    const letters = [...rhs.replace('...', '')];
    if (new Set(letters).size !== letters.length) fail(node, `output of '${eq}' repeats a label`);
    const missing = letters.find((l) => !labelDims.has(l));
    if (missing) fail(node, `output label '${missing}' is in no operand of '${eq}'`);
    const at = rhs.indexOf('...');
    const dims = letters.map(dimOf);
    shape = at < 0 ? dims : [...dims.slice(0, at), ...ell, ...dims.slice(at)];
  } else {
    const once = [...labelDims.keys()].filter((l) => terms.reduce((c, t) => c + [...t].filter((x) => x === l).length, 0) === 1);
    shape = [...ell, ...once.sort().map(dimOf)];
  }
  return [out(shape, inputs[0]?.elemType)];
};

export const MATMUL_SHAPE_RULES: ShapeRuleTable = {
  Einsum: einsum,
  MatMul: matmul,
  MatMulInteger: matmulInteger,
  QLinearMatMul: qlinearMatmul,
  Gemm: gemm,
};

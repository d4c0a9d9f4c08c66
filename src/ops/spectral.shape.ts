/**
 * Shape rules of the spectral family: DFT (opsets 17 and 20).
 *
 * The input is [..., n, ..., 1] (real) or [..., n, ..., 2] (complex); the output is complex, its
 * last dim 2. Along the signal axis (opset 17: the `axis` attribute, default 1; opset 20: the
 * optional scalar input 2, default -2; negative counts from the back, the complex dim included)
 * the length becomes `dft_length` (input 1) when given, and floor(n / 2) + 1 with `onesided`.
 * ONNX defines no one-sided inverse, so `inverse` with `onesided` is refused as ONNX's own
 * inference does.
 */
import { dimAdd, dimFloorDiv, formatShape } from './shape-common/dims.js';
import type { Dim, ShapeRule } from './shape-common/types.js';
import { fail, has, numbers, out } from './shape-common/util.js';
import type { ShapeRuleTable } from './types.js';

const dft: ShapeRule = (node, inputs, ctx) => {
  const x = inputs[0]?.shape;
  if (!x) return undefined;
  const r = x.length;
  if (r < 2) fail(node, `input ${formatShape(x)} needs rank >= 2 ([..., n, ..., 1 or 2])`);
  const parts = x[r - 1]!;
  if (typeof parts === 'number' && parts !== 1 && parts !== 2) fail(node, `the last dim of ${formatShape(x)} is ${parts} (1: real, 2: complex)`);
  const inverse = node.attrInt('inverse', 0) !== 0;
  const onesided = node.attrInt('onesided', 0) !== 0;
  if (inverse && onesided) fail(node, 'inverse and onesided cannot both be set');
  // axis: opset 17 attribute, opset 20 input (undefined when the input is not a known constant)
  let axis: number | undefined;
  if (ctx.opset >= 20) axis = has(node, 2) ? numbers(inputs[2])?.[0] : -2;
  else axis = node.attrInt('axis', 1);
  if (axis !== undefined) {
    if (axis < 0) axis += r;
    if (!Number.isInteger(axis) || axis < 0 || axis > r - 2) fail(node, `axis ${axis < 0 ? axis - r : axis} is outside the signal dims of ${formatShape(x)}`);
  }
  let length: Dim | undefined;
  if (has(node, 1)) {
    const v = numbers(inputs[1]);
    if (v !== undefined && v.length !== 1) fail(node, 'dft_length must be a scalar');
    length = v?.[0] ?? ctx.fresh();
    if (typeof length === 'number' && length < 1) fail(node, `dft_length ${length} must be positive`);
  }
  const changes = length !== undefined || onesided;
  const shape: Dim[] = x.map((d, i) => {
    if (i === r - 1) return 2;
    if (!changes) return d;
    if (axis === undefined) return ctx.fresh(); // which dim changes is not known
    if (i !== axis) return d;
    const n = length ?? d;
    return onesided ? dimAdd(dimFloorDiv(n, 2), 1) : n;
  });
  return [out(shape, inputs[0]?.elemType)];
};

export const SPECTRAL_SHAPE_RULES: ShapeRuleTable = {
  DFT: dft,
};

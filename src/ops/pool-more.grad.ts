/**
 * ONNX gradient rules of GlobalLpPool and LpPool (pool family; the other pools are in pool.grad.ts).
 *
 * - GlobalLpPool: y = (sum |x|^p)^(1/p) over the spatial axes, so dx = dy sign(x) |x|^(p-1) / y^(p-1).
 * - LpPool (pads, strides, auto_pad, dilations and ceil_mode where the opset has them; p = 1, 2 or
 *   any p > 0, int or float): per window w, y_w = (sum_{i in w} |x_i|^p)^(1/p), so
 *   dx_i = sign(x_i) |x_i|^(p-1) sum_{w containing i} dy_w / y_w^(p-1). The window sum's adjoint is
 *   AveragePool's: a ConvTranspose with a ones kernel over [N*C, 1, ...] (pads and output_padding
 *   give back x's extent; padded positions hold zeros in the forward and take no gradient). A
 *   window whose y is 0 (all zeros) passes no gradient (p > 1: the limit; p = 1 there is no such
 *   division).
 */
import { spatialDims, transposeGeometry, windowOf } from './grad-common.js';
import { inputName, mul, one, outputName, scalar } from './grad-helpers.js';
import type { GradientEmitter, GradientRule, GradientTable } from './types.js';

function pOf(g: GradientEmitter): number {
  const a = g.node.attribute('p');
  return a?.type === 1 ? g.node.attrFloat('p', 2)! : g.node.attrInt('p', 2)!;
}

/** sign(x) |x|^(p-1): x for p = 2, sign(x) for p = 1. */
function localDerivative(g: GradientEmitter, x: string, p: number): string {
  if (p === 2) return x;
  const sign = one(g, 'Sign', [x]);
  return p === 1 ? sign : mul(g, sign, one(g, 'Pow', [one(g, 'Abs', [x]), scalar(g, p - 1)]));
}

/** dy / y^(p-1), 0 where y is 0 (p != 1). */
function scaledDy(g: GradientEmitter, d: string, y: string, p: number): string {
  if (p === 1) return d;
  const den = p === 2 ? y : one(g, 'Pow', [y, scalar(g, p - 1)]);
  const zero = one(g, 'Equal', [y, scalar(g, 0)]);
  const safe = one(g, 'Where', [zero, scalar(g, 1), den]);
  return one(g, 'Where', [zero, scalar(g, 0), one(g, 'Div', [d, safe])]);
}

const globalLpPool: GradientRule = {
  backward: (g, dy, wanted) => {
    const d = dy[0];
    if (!d || !wanted[0]) return [null];
    const x = inputName(g, 0);
    const y = outputName(g, 0);
    const p = g.node.attrInt('p', 2)!;
    const num = p === 1 ? one(g, 'Sign', [x]) : mul(g, one(g, 'Sign', [x]), one(g, 'Pow', [one(g, 'Abs', [x]), scalar(g, p - 1)]));
    const den = p === 1 ? null : one(g, 'Pow', [y, scalar(g, p - 1)]);
    return [mul(g, num, den ? one(g, 'Div', [d, den]) : d)];
  },
};

const lpPool: GradientRule = {
  backward: (g, dy, wanted) => {
    const d = dy[0];
    if (!d || !wanted[0]) return [null];
    const node = g.node;
    const x = inputName(g, 0);
    const y = outputName(g, 0);
    const p = pOf(g);
    const sp = spatialDims(g, x) ?? g.fail(`the spatial dims of '${x}' are not known statically`);
    const kernel = node.attrInts('kernel_shape') ?? g.fail('no kernel_shape');
    const w = windowOf(node, sp, kernel);
    const t = scaledDy(g, d, y, p);
    const flat = one(g, 'Reshape', [t, g.constInt64([-1, 1, ...w.out])]);
    const ones = g.constFloat(new Array<number>(kernel.reduce((a, b) => a * b, 1)).fill(1), [1, 1, ...kernel]);
    const { pads, outputPadding } = transposeGeometry(w, sp);
    const attrs: Record<string, number[]> = { strides: w.strides, pads, kernel_shape: [...kernel] };
    if (w.dilations.some((v) => v !== 1)) attrs.dilations = w.dilations;
    if (outputPadding.some((v) => v !== 0)) attrs.output_padding = outputPadding;
    const summed = g.reshapeLike(one(g, 'ConvTranspose', [flat, ones], attrs), x);
    return [mul(g, summed, localDerivative(g, x, p))];
  },
};

export const POOL_MORE_GRADIENTS: GradientTable = { GlobalLpPool: globalLpPool, LpPool: lpPool };

/**
 * ONNX gradient rule of GlobalLpPool (pool family; the other pools are in pool.grad.ts):
 * y = (sum |x|^p)^(1/p) over the spatial axes, so dx = dy sign(x) |x|^(p-1) / y^(p-1).
 */
import { inputName, mul, one, outputName, scalar } from './grad-helpers.js';
import type { GradientRule, GradientTable } from './types.js';

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

export const POOL_MORE_GRADIENTS: GradientTable = { GlobalLpPool: globalLpPool };

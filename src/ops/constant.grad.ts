/**
 * ONNX-graph gradient rules of the constant family, for src/autodiff/:
 * - Constant has no inputs, so nothing flows back through it (it is never on a differentiated
 *   path; the entry says so); ConstantOfShape reads only a shape.
 * - EyeLike reads only its input's shape: no gradient to it.
 * - Range (float): y[i] = start + i delta, so d start = sum(dy), d delta = sum(i dy); limit only
 *   sets the length (no gradient).
 */
import { FLOAT, mul, one, reduceSum } from './grad-helpers.js';
import type { GradientRule, GradientTable } from './types.js';

const range: GradientRule = {
  nonDifferentiable: [1],
  backward: (g, dy, wanted) => {
    const d = dy[0];
    const out: (string | null)[] = [null, null, null];
    if (!d) return out;
    if (wanted[0]) out[0] = reduceSum(g, d, null, false);
    if (wanted[2]) {
      const n = one(g, 'Cast', [one(g, 'Size', [d])], { to: FLOAT });
      const i = one(g, 'Range', [g.constFloat([0], []), n, g.constFloat([1], [])]);
      out[2] = reduceSum(g, mul(g, d, i), null, false);
    }
    return out;
  },
};

export const CONSTANT_GRADIENTS: GradientTable = {
  Constant: { backward: () => [] },
  ConstantOfShape: { nonDifferentiable: [0], backward: () => [null] },
  EyeLike: { nonDifferentiable: [0], backward: () => [null] },
  Range: range,
};

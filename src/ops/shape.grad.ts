/**
 * ONNX-graph gradient rules of the shape family (Reshape, Flatten, Squeeze, Unsqueeze, Transpose),
 * for src/autodiff/: the data is only rearranged, so the gradient is rearranged back (a Reshape to
 * the input's run-time shape, or the inverse permutation). Shape inputs carry no gradient.
 */
import { rankOf } from './grad-common.js';
import type { GradientRule, GradientTable } from './types.js';

const back: GradientRule['backward'] = (g, dy) => [dy[0] ? g.reshapeLike(dy[0], g.node.inputs[0]!.name) : null];

const transpose: GradientRule = {
  backward: (g, dy) => {
    const d = dy[0];
    if (!d) return [null];
    const x = g.node.inputs[0]!.name;
    const perm = g.node.attrInts('perm') ?? Array.from({ length: rankOf(g, x) }, (_, i) => rankOf(g, x) - 1 - i);
    const inv = new Array<number>(perm.length);
    perm.forEach((p, i) => (inv[p] = i));
    return [g.emit('Transpose', [d], { perm: inv })[0]!];
  },
};

export const SHAPE_GRADIENTS: GradientTable = {
  Reshape: { nonDifferentiable: [1], backward: back },
  Flatten: { backward: back },
  Squeeze: { nonDifferentiable: [1], backward: back },
  Unsqueeze: { nonDifferentiable: [1], backward: back },
  Transpose: transpose,
};

/**
 * ONNX gradient rules of the shape family beyond Reshape, Flatten, Transpose, Squeeze, Unsqueeze
 * (shape.grad.ts): Expand (dy summed over the broadcast axes), Tile (dy viewed as
 * [r0, d0, r1, d1, ...] and summed over the repeats), DepthToSpace and SpaceToDepth (each the
 * other's inverse permutation).
 */
import { inputName, one, rankOf, reduceSum, shapeOf } from './grad-helpers.js';
import type { GradientRule, GradientTable } from './types.js';

const expand: GradientRule = {
  nonDifferentiable: [1],
  backward: (g, dy, wanted) => [wanted[0] && dy[0] ? g.unbroadcast(dy[0], inputName(g, 0)) : null, null],
};

const tile: GradientRule = {
  nonDifferentiable: [1],
  backward: (g, dy, wanted) => {
    if (!wanted[0] || !dy[0]) return [null, null];
    const x = inputName(g, 0);
    const r = rankOf(g, x);
    const reps = inputName(g, 1);
    const col = (v: string): string => one(g, 'Unsqueeze', [v, g.constInt64([1])]);
    const r64 = g.elemType(reps) === 7 ? reps : one(g, 'Cast', [reps], { to: 7 });
    // [r0, d0, r1, d1, ...]
    const pairs = one(g, 'Reshape', [one(g, 'Concat', [col(r64), col(shapeOf(g, x))], { axis: 1 }), g.constInt64([2 * r])]);
    const viewed = one(g, 'Reshape', [dy[0], pairs]);
    return [reduceSum(g, viewed, Array.from({ length: r }, (_, i) => 2 * i), false), null];
  },
};

const depthToSpace: GradientRule = {
  backward: (g, dy, wanted) => {
    if (!wanted[0] || !dy[0]) return [null];
    const b = g.node.attrInt('blocksize')!;
    const crd = g.opset >= 11 && g.node.attrString('mode', 'DCR') === 'CRD';
    if (!crd) return [one(g, 'SpaceToDepth', [dy[0]], { blocksize: b })];
    // CRD: y = reshape(transpose(reshape(x, [n, c2, b, b, h, w]), [0, 1, 4, 2, 5, 3]), [n, c2, h b, w b])
    const x = inputName(g, 0);
    const shp = shapeOf(g, x);
    const dims = (i: number): string => one(g, 'Slice', [shp, g.constInt64([i]), g.constInt64([i + 1])]);
    const c2 = one(g, 'Div', [dims(1), g.constInt64([b * b])]);
    const hb = g.constInt64([b]);
    const six = one(g, 'Concat', [dims(0), c2, dims(2), hb, dims(3), hb], { axis: 0 });
    const t = one(g, 'Transpose', [one(g, 'Reshape', [dy[0], six])], { perm: [0, 1, 3, 5, 2, 4] });
    return [one(g, 'Reshape', [t, shp])];
  },
};

const spaceToDepth: GradientRule = {
  backward: (g, dy, wanted) => (wanted[0] && dy[0] ? [one(g, 'DepthToSpace', [dy[0]], { blocksize: g.node.attrInt('blocksize')!, ...(g.opset >= 11 ? { mode: 'DCR' } : {}) })] : [null]),
};

export const SHAPE_MORE_GRADIENTS: GradientTable = {
  Expand: expand,
  Tile: tile,
  DepthToSpace: depthToSpace,
  SpaceToDepth: spaceToDepth,
};

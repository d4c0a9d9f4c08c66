/**
 * ONNX gradient rule of LRN (norm family; the other normalizations are in norm.grad.ts and
 * norm-more.grad.ts). With S[c] = sum of x[i]^2 over the channel window i in
 * [c - floor((size-1)/2), c + ceil((size-1)/2)] (cut to [0, C-1]) and s = bias + (alpha / size) S,
 * y = x s^-beta, so
 *   dx = dy s^-beta - 2 (alpha / size) beta x Wt(dy x s^(-beta-1)),
 * Wt the transposed window sum (channel c' takes every c whose window holds c'). Both window sums
 * are a constant [C, C] band matrix applied along the channel axis (MatMul; static C). s is
 * recomputed from x, nothing extra is kept.
 */
import { applyAlongAxis, inputName, mul, one, rankOf, scalar, sub } from './grad-helpers.js';
import type { GradientRule, GradientTable } from './types.js';

const lrn: GradientRule = {
  backward: (g, dy, wanted) => {
    const d = dy[0];
    if (!d || !wanted[0]) return [null];
    const node = g.node;
    const x = inputName(g, 0);
    const r = rankOf(g, x);
    const size = node.attrInt('size') ?? g.fail('LRN without size');
    const c = g.dims(x)?.[1];
    const C = typeof c === 'number' ? c : g.fail(`the channel count of '${x}' is not static; LRN's gradient needs it`);
    const alpha = node.attrFloat('alpha', 1e-4);
    const beta = node.attrFloat('beta', 0.75);
    const bias = node.attrFloat('bias', 1);
    const lo = Math.floor((size - 1) / 2);
    const hi = Math.ceil((size - 1) / 2);
    // band [C (source i), C (window c)]: m[i, c] = 1 when c - lo <= i <= c + hi
    const m = new Float32Array(C * C);
    const mt = new Float32Array(C * C);
    for (let i = 0; i < C; i++)
      for (let c = 0; c < C; c++)
        if (i >= c - lo && i <= c + hi) {
          m[i * C + c] = 1;
          mt[c * C + i] = 1;
        }
    const sq = mul(g, x, x);
    const s = one(g, 'Add', [scalar(g, bias), mul(g, applyAlongAxis(g, sq, 1, r, m, C, C), scalar(g, alpha / size))]);
    const sNeg = one(g, 'Pow', [s, scalar(g, -beta)]);
    const sNeg1 = one(g, 'Div', [sNeg, s]);
    const inner = mul(g, mul(g, d, x), sNeg1);
    const back = applyAlongAxis(g, inner, 1, r, mt, C, C);
    const second = mul(g, mul(g, x, back), scalar(g, (2 * alpha * beta) / size));
    return [sub(g, mul(g, d, sNeg), second)];
  },
};

export const LRN_GRADIENTS: GradientTable = { LRN: lrn };

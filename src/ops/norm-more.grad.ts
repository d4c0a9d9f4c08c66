/**
 * ONNX gradient rules of the norm family beyond BatchNormalization (norm.grad.ts): Softmax,
 * LogSoftmax, Hardmax (no gradient), LayerNormalization, InstanceNormalization,
 * GroupNormalization.
 *
 * Softmax: dx = y (dy - sum(dy y)); LogSoftmax: dx = dy - exp(y) sum(dy), along the axis (from
 * opset 13) or over the 2-D coercion at the axis (before 13, through Flatten and back).
 *
 * The normalizations share one formula: with xhat = (x - mean) r, r = 1 / sqrt(var + eps) over the
 * normalized axes and g = dy * scale, dx = r (g - mean(g) - xhat mean(g xhat)). The statistics are
 * recomputed in the gradient graph from x (ReduceMean), never stored by the forward.
 */
import { add, inputName, mul, one, outputName, rankOf, reduceMean, reduceSum, scalar, sub, unsqueeze } from './grad-helpers.js';
import type { GradientEmitter, GradientRule, GradientTable } from './types.js';

/** Softmax-like rule along one axis: f(g, y, dy, axes) on values of the same shape. */
function alongAxis(f: (g: GradientEmitter, y: string, d: string, axes: number[]) => string): GradientRule {
  return {
    backward: (g, dy, wanted) => {
      if (!wanted[0] || !dy[0]) return [null];
      const y = outputName(g, 0);
      if (g.opset >= 13) return [f(g, y, dy[0], [g.node.attrInt('axis', -1)!])];
      const axis = g.node.attrInt('axis', 1)!;
      const y2 = one(g, 'Flatten', [y], { axis });
      const d2 = one(g, 'Flatten', [dy[0]], { axis });
      return [one(g, 'Reshape', [f(g, y2, d2, [1]), one(g, 'Shape', [y])])];
    },
  };
}

const softmax = alongAxis((g, y, d, axes) => mul(g, y, sub(g, d, reduceSum(g, mul(g, d, y), axes, true))));
const logSoftmax = alongAxis((g, y, d, axes) => sub(g, d, mul(g, one(g, 'Exp', [y]), reduceSum(g, d, axes, true))));

/**
 * The normalization's input gradient over `axes` (kept dims): x's statistics recomputed, gs = the
 * gradient at the normalized value (dy times the scale). Returns dx and xhat (for the scale's gradient).
 */
function normalizeBackward(g: GradientEmitter, x: string, gs: string, axes: number[], eps: number): { dx: string; xhat: string } {
  const mean = reduceMean(g, x, axes, true);
  const d = sub(g, x, mean);
  const variance = reduceMean(g, mul(g, d, d), axes, true);
  const r = one(g, 'Reciprocal', [one(g, 'Sqrt', [add(g, variance, scalar(g, eps))])]);
  const xhat = mul(g, d, r);
  const inner = sub(g, sub(g, gs, reduceMean(g, gs, axes, true)), mul(g, xhat, reduceMean(g, mul(g, gs, xhat), axes, true)));
  return { dx: mul(g, r, inner), xhat };
}

const layerNorm: GradientRule = {
  backward: (g, dy, wanted) => {
    const out: (string | null)[] = g.node.inputs.map(() => null);
    if (dy[1] || dy[2]) g.fail('a gradient reaching the Mean or InvStdDev output (only Y is differentiated)');
    const d = dy[0];
    if (!d) return out;
    const x = inputName(g, 0);
    const scale = inputName(g, 1);
    const axisAttr = g.node.attrInt('axis', -1)!;
    // normalized axes, negative when the axis is (rank not needed)
    let axes: number[];
    if (axisAttr < 0) axes = Array.from({ length: -axisAttr }, (_, i) => axisAttr + i);
    else {
      const r = rankOf(g, x);
      axes = Array.from({ length: r - axisAttr }, (_, i) => axisAttr + i);
    }
    const eps = g.node.attrFloat('epsilon', 1e-5)!;
    const { dx, xhat } = normalizeBackward(g, x, mul(g, d, scale), axes, eps);
    if (wanted[0]) out[0] = dx;
    if (wanted[1]) out[1] = g.unbroadcast(mul(g, d, xhat), scale);
    const bias = g.node.inputs[2];
    if (bias && wanted[2]) out[2] = g.unbroadcast(d, bias.name);
    return out;
  },
};

/** [C] per-channel parameter as [C, 1, ..., 1] against a rank-r NC... value. */
function channelShaped(g: GradientEmitter, p: string, r: number): string {
  return unsqueeze(g, p, Array.from({ length: r - 2 }, (_, i) => i + 1));
}

const instanceNorm: GradientRule = {
  backward: (g, dy, wanted) => {
    const out: (string | null)[] = [null, null, null];
    const d = dy[0];
    if (!d) return out;
    const x = inputName(g, 0);
    const r = rankOf(g, x);
    if (r < 3) g.fail(`input of rank ${r}`);
    const spatial = Array.from({ length: r - 2 }, (_, i) => i + 2);
    const scale = inputName(g, 1);
    const { dx, xhat } = normalizeBackward(g, x, mul(g, d, channelShaped(g, scale, r)), spatial, g.node.attrFloat('epsilon', 1e-5)!);
    const notChannel = [0, ...spatial];
    if (wanted[0]) out[0] = dx;
    if (wanted[1]) out[1] = reduceSum(g, mul(g, d, xhat), notChannel, false);
    if (wanted[2]) out[2] = reduceSum(g, d, notChannel, false);
    return out;
  },
};

/**
 * GroupNormalization: x [N, C, ...] as [N, G, C/G * spatial]; scale and bias per group (opset 18)
 * or per channel (21).
 */
const groupNorm: GradientRule = {
  backward: (g, dy, wanted) => {
    const out: (string | null)[] = [null, null, null];
    const d = dy[0];
    if (!d) return out;
    const x = inputName(g, 0);
    const r = rankOf(g, x);
    const G = g.node.attrInt('num_groups') ?? g.fail('missing attribute num_groups');
    const scale = inputName(g, 1);
    const perChannel = g.opset >= 21;
    const eps = g.node.attrFloat('epsilon', 1e-5)!;
    const groupShape = g.constInt64([0, G, -1]);
    const xg = one(g, 'Reshape', [x, groupShape]);
    const shapeX = one(g, 'Shape', [x]);
    // gradient at the normalized value, grouped: dy * scale (per channel, or per group)
    let gsg: string;
    if (perChannel) gsg = one(g, 'Reshape', [mul(g, d, channelShaped(g, scale, r)), groupShape]);
    else gsg = mul(g, one(g, 'Reshape', [d, groupShape]), unsqueeze(g, scale, [1]));
    const { dx, xhat } = normalizeBackward(g, xg, gsg, [2], eps);
    if (wanted[0]) out[0] = one(g, 'Reshape', [dx, shapeX]);
    const notChannel = [0, ...Array.from({ length: r - 2 }, (_, i) => i + 2)];
    if (perChannel) {
      const xhatFull = one(g, 'Reshape', [xhat, shapeX]);
      if (wanted[1]) out[1] = reduceSum(g, mul(g, d, xhatFull), notChannel, false);
      if (wanted[2]) out[2] = reduceSum(g, d, notChannel, false);
    } else {
      const dg = one(g, 'Reshape', [d, groupShape]);
      if (wanted[1]) out[1] = reduceSum(g, mul(g, dg, xhat), [0, 2], false);
      if (wanted[2]) out[2] = reduceSum(g, dg, [0, 2], false);
    }
    return out;
  },
};

/**
 * MeanVarianceNormalization: y = d / (std + 1e-9), d = x - mean, std = sqrt(mean(x^2) - mean^2)
 * over `axes` (default [0, 2, 3]): dx = dy / s - mean(dy) / s - d mean(dy d) / (s^2 std), s = std + 1e-9.
 */
const mvn: GradientRule = {
  backward: (g, dy, wanted) => {
    const d0 = dy[0];
    if (!d0 || !wanted[0]) return [null];
    const x = inputName(g, 0);
    const axes = g.node.attrInts('axes') ?? [0, 2, 3];
    const mean = reduceMean(g, x, axes, true);
    const d = sub(g, x, mean);
    const std = one(g, 'Sqrt', [sub(g, reduceMean(g, mul(g, x, x), axes, true), mul(g, mean, mean))]);
    const s = add(g, std, scalar(g, 1e-9));
    const first = one(g, 'Div', [sub(g, d0, reduceMean(g, d0, axes, true)), s]);
    const second = one(g, 'Div', [mul(g, d, reduceMean(g, mul(g, d0, d), axes, true)), mul(g, mul(g, s, s), std)]);
    return [sub(g, first, second)];
  },
};

export const NORM_MORE_GRADIENTS: GradientTable = {
  MeanVarianceNormalization: mvn,
  Softmax: softmax,
  LogSoftmax: logSoftmax,
  Hardmax: { backward: () => [null] },
  LayerNormalization: layerNorm,
  InstanceNormalization: instanceNorm,
  GroupNormalization: groupNorm,
};

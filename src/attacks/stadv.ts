/**
 * stAdv (Xiao et al. 2018) for IQA: a per-pixel flow field warps each image (bilinear sampling);
 * L = 50 * L_adv + 1e-5 * L_flow, with L_adv = s_other / (s_adv + s_other), s_other = 1.5 (scores
 * normalised to the given range, so 1.5 x range), minimised by L-BFGS for a few iterations (5 by
 * default, as the paper). `down` uses L_adv = s_adv / (s_adv + s_other). There is no L-infinity
 * budget: the output reports the flow magnitude and the L-infinity change it caused.
 */
import type { Direction, ScoreObjective } from './objective.js';
import { lbfgs } from './lbfgs.js';
import { flowSmoothness, warp, warpFlowGrad } from './warp.js';

export interface StadvOptions {
  iterations?: number;
  /** Score range for normalisation (default: the clean scores' min..max, or [0,1] when they are equal). */
  range?: { min: number; max: number };
  direction?: Direction;
  advWeight?: number;
  flowWeight?: number;
}

export interface StadvOutput {
  attacked: Float32Array;
  flow: Float32Array;
  cleanScores: number[];
  attackedScores: number[];
  /** Mean per-pixel flow magnitude (pixels). */
  flowMean: number;
  /** Largest |attacked - clean| over all values, on [0,1]. */
  linf: number;
}

export async function stadv(objective: ScoreObjective, clean: Float32Array, n: number, o: StadvOptions = {}): Promise<StadvOutput> {
  const [, H, W] = objective.imageDims;
  const direction = o.direction ?? 'up';
  const wAdv = o.advWeight ?? 50;
  const wFlow = o.flowWeight ?? 1e-5;
  const cleanScores = await objective.scores(clean, n);
  let range = o.range;
  if (!range) {
    const lo = Math.min(...cleanScores);
    const hi = Math.max(...cleanScores);
    range = hi > lo ? { min: lo, max: hi } : { min: 0, max: 1 };
  }
  const span = range.max - range.min;
  const sOther = 1.5;
  const f = async (flat: Float64Array): Promise<{ value: number; grad: Float64Array }> => {
    const flow = Float32Array.from(flat);
    const adv = warp(clean, flow, n, H, W);
    // d(sum score)/d(pixels), raising scores; the loss's chain rule supplies each image's factor
    const { scores, grad } = await objective.gradient(adv, n, 'up');
    const per = 3 * H * W;
    let value = 0;
    const gPix = new Float32Array(grad.length);
    for (let b = 0; b < n; b++) {
      const s = (scores[b]! - range!.min) / span;
      const denom = s + sOther;
      const lAdv = direction === 'up' ? sOther / denom : s / denom;
      const dLds = direction === 'up' ? -sOther / (denom * denom) : sOther / (denom * denom);
      value += wAdv * lAdv;
      const k = (wAdv * dLds) / span;
      for (let i = 0; i < per; i++) gPix[b * per + i] = k * grad[b * per + i]!;
    }
    const gFlow = warpFlowGrad(clean, flow, gPix, n, H, W);
    const smooth = flowSmoothness(flow, n, H, W);
    value += wFlow * smooth.loss;
    const g = new Float64Array(flat.length);
    for (let i = 0; i < g.length; i++) g[i] = gFlow[i]! + wFlow * smooth.grad[i]!;
    return { value, grad: g };
  };
  const result = await lbfgs(f, new Float64Array(n * 2 * H * W), { iterations: o.iterations ?? 5 });
  const flow = Float32Array.from(result.x);
  const attacked = warp(clean, flow, n, H, W);
  let mag = 0;
  const hw = H * W;
  for (let b = 0; b < n; b++) for (let p = 0; p < hw; p++) mag += Math.hypot(flow[(b * 2) * hw + p]!, flow[(b * 2 + 1) * hw + p]!);
  let linf = 0;
  for (let i = 0; i < clean.length; i++) linf = Math.max(linf, Math.abs(attacked[i]! - clean[i]!));
  return { attacked, flow, cleanScores, attackedScores: await objective.scores(attacked, n), flowMean: mag / (n * hw), linf };
}

/**
 * Attacks work on pixels in [0,1] (RGB, NCHW, resized to the model's input size): budgets are in
 * that space, before the model's own normalisation. This maps pixels to the tensor the model
 * receives (range, per-channel mean/std, colour order: the affine part of the preprocessing, see
 * src/data/preprocess.ts) and carries gradients back.
 */
import type { PreprocessSpec } from '../data/preprocess.js';

export interface PixelMap {
  /** Pixels [N,3,H,W] in [0,1] (RGB) -> the model's input tensor data (same layout). */
  toModel(pixels: Float32Array): Float32Array;
  /** dL/d(model input) -> dL/d(pixels). */
  gradToPixels(grad: Float32Array): Float32Array;
  /** One line for the output ("range [0,1], mean ..., std ..., RGB"). */
  readonly description: string;
}

export function pixelMap(spec: Pick<PreprocessSpec, 'range' | 'mean' | 'std' | 'colorOrder'>, hw: number): PixelMap {
  const [lo, hi] = spec.range;
  const r = hi - lo;
  const src = (c: number): number => (spec.colorOrder === 'RGB' ? c : 2 - c);
  const per = 3 * hw;
  const check = (x: Float32Array): void => {
    if (x.length % per !== 0) throw new RangeError(`pixel map: ${x.length} values is not a whole number of [3,H,W] images of ${hw} pixels`);
  };
  // plain loops per channel (no callback per value: these run on every attack step, 1M values at 498x664)
  return {
    toModel: (p) => {
      check(p);
      const out = new Float32Array(p.length);
      for (let n = 0; n < p.length / per; n++) {
        for (let c = 0; c < 3; c++) {
          const s = src(c);
          const from = n * per + s * hw;
          const to = n * per + c * hw;
          const m = spec.mean[s]!;
          const d = spec.std[s]!;
          for (let i = 0; i < hw; i++) out[to + i] = (p[from + i]! * r + lo - m) / d;
        }
      }
      return out;
    },
    gradToPixels: (g) => {
      check(g);
      const out = new Float32Array(g.length);
      for (let n = 0; n < g.length / per; n++) {
        for (let c = 0; c < 3; c++) {
          const s = src(c);
          const from = n * per + c * hw;
          const to = n * per + s * hw;
          const d = spec.std[s]!;
          for (let i = 0; i < hw; i++) out[to + i] = (g[from + i]! * r) / d;
        }
      }
      return out;
    },
    description: `pixels [0,1] -> range [${lo}, ${hi}], mean [${spec.mean.join(', ')}], std [${spec.std.join(', ')}], ${spec.colorOrder}`,
  };
}

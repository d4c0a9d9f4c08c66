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
  const src = (c: number): number => (spec.colorOrder === 'RGB' ? c : 2 - c);
  const per = 3 * hw;
  const map = (x: Float32Array, f: (v: number, c: number) => number, inverseOrder: boolean): Float32Array => {
    if (x.length % per !== 0) throw new RangeError(`pixel map: ${x.length} values is not a whole number of [3,H,W] images of ${hw} pixels`);
    const out = new Float32Array(x.length);
    for (let n = 0; n < x.length / per; n++) {
      for (let c = 0; c < 3; c++) {
        const from = n * per + (inverseOrder ? c : src(c)) * hw;
        const to = n * per + (inverseOrder ? src(c) : c) * hw;
        const k = inverseOrder ? src(c) : src(c);
        for (let i = 0; i < hw; i++) out[to + i] = f(x[from + i]!, k);
      }
    }
    return out;
  };
  return {
    toModel: (p) => map(p, (v, s) => (v * (hi - lo) + lo - spec.mean[s]!) / spec.std[s]!, false),
    gradToPixels: (g) => map(g, (v, s) => (v * (hi - lo)) / spec.std[s]!, true),
    description: `pixels [0,1] -> range [${lo}, ${hi}], mean [${spec.mean.join(', ')}], std [${spec.std.join(', ')}], ${spec.colorOrder}`,
  };
}

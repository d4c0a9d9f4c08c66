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
  // out = (x * r + add - sub[s]) / std[s] per channel, in plain loops (no callback per value: this
  // runs on every attack step, 1M values at 498x664); `back` swaps the channel order the other way
  const affine = (x: Float32Array, add: number, sub: readonly number[], back: boolean): Float32Array => {
    if (x.length % per !== 0) throw new RangeError(`pixel map: ${x.length} values is not a whole number of [3,H,W] images of ${hw} pixels`);
    const out = new Float32Array(x.length);
    for (let n = 0; n < x.length / per; n++) {
      for (let c = 0; c < 3; c++) {
        const s = src(c);
        const from = n * per + (back ? c : s) * hw;
        const to = n * per + (back ? s : c) * hw;
        const m = sub[s]!;
        const d = spec.std[s]!;
        for (let i = 0; i < hw; i++) out[to + i] = (x[from + i]! * r + add - m) / d;
      }
    }
    return out;
  };
  return {
    toModel: (p) => affine(p, lo, spec.mean, false),
    gradToPixels: (g) => affine(g, 0, [0, 0, 0], true),
    description: `pixels [0,1] -> range [${lo}, ${hi}], mean [${spec.mean.join(', ')}], std [${spec.std.join(', ')}], ${spec.colorOrder}`,
  };
}

/**
 * The paper's baseline defences as training-loss terms (../shared/docs/METHOD.md):
 * - NT (gradient-norm regularisation by finite differences, Liu et al. 2024): v = sign(df/dx),
 *   dl = (f(x + h v) - f(x)) / h, reg = mean(dl^2) / 2, added with weight w (h = 1e-2, w = 1e-3).
 *   x is the image in [0,1] pixels (before the model's normalisation, as attacks see it).
 * - AT (adversarial training for IQA, Chistyakova et al. 2024): FGSM examples (eps 4/255, zero
 *   start; the reference's step 5/255 is clipped to eps) join each batch, labelled
 *   clamp(MOS - (1 - SSIM(x_adv, x)) * (MOS_max - MOS_min), MOS_min, MOS_max).
 */
import { pixelsToRgb } from '../data/pixels.js';
import { ssim } from '../data/ssim.js';

export const NT_DEFAULTS = { h: 1e-2, weight: 1e-3 };
export const AT_DEFAULTS = { eps: 4 / 255, step: 5 / 255 };

/** The NT regulariser and its derivative with respect to each dl_n: reg = mean(dl^2)/2. */
export function ntRegulariser(fx: ArrayLike<number>, fxh: ArrayLike<number>, h: number): { reg: number; dl: Float64Array; dRegDdl: Float64Array } {
  const n = fx.length;
  const dl = Float64Array.from(fx, (v, i) => (fxh[i]! - v) / h);
  let reg = 0;
  for (const d of dl) reg += d * d;
  return { reg: reg / (2 * n), dl, dRegDdl: dl.map((d) => d / n) };
}

/** x + h * sign(g) (not clipped: a finite-difference probe, not an image). */
export function ntProbe(x: Float32Array, grad: Float32Array, h: number): Float32Array {
  return x.map((v, i) => v + h * Math.sign(grad[i]!));
}

/** AT labels for adversarial images: MOS lowered by the SSIM loss, clamped to the score range. */
export function atLabels(clean: Float32Array, adv: Float32Array, mos: ArrayLike<number>, dims: readonly [number, number, number, number], range: { min: number; max: number }): Float64Array {
  const [n, , h, w] = dims;
  const out = new Float64Array(n);
  for (let b = 0; b < n; b++) {
    const s = ssim(pixelsToRgb(adv, b, h, w), pixelsToRgb(clean, b, h, w));
    out[b] = Math.min(range.max, Math.max(range.min, mos[b]! - (1 - s) * (range.max - range.min)));
  }
  return out;
}

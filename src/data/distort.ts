/**
 * Distortions at graded levels, each a function of the pixels and (for noise) a seed: Gaussian
 * blur, additive Gaussian noise, JPEG compression (through sharp/libjpeg) and contrast reduction.
 * Level 1 is the mildest, level 5 the strongest.
 */
import { gaussianKernel } from './ssim.js';
import { jpegRoundTrip, type RgbImage } from './image.js';
import { gaussian, mulberry32 } from '../util/random.js';

export type DistortionType = 'blur' | 'noise' | 'jpeg' | 'contrast';
export const DISTORTION_TYPES: readonly DistortionType[] = ['blur', 'noise', 'jpeg', 'contrast'];
export const LEVELS = 5;

/** The parameter of each level: blur sigma (px), noise sigma (of 255), JPEG quality, contrast factor. */
export const LEVEL_PARAMS: Record<DistortionType, readonly number[]> = {
  blur: [0.8, 1.4, 2.2, 3.5, 5.5],
  noise: [6, 12, 22, 36, 56],
  jpeg: [45, 25, 14, 8, 4],
  contrast: [0.8, 0.62, 0.46, 0.32, 0.2],
};

const clamp8 = (v: number): number => (v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v));

/** Gaussian blur of sigma px with edge replication; kernel radius ceil(3 sigma). */
export function gaussianBlur(img: RgbImage, sigma: number): RgbImage {
  const r = Math.max(1, Math.ceil(3 * sigma));
  const k = gaussianKernel(2 * r + 1, sigma);
  const { width: w, height: h } = img;
  const tmp = new Float64Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let i = -r; i <= r; i++) {
          const xx = Math.min(w - 1, Math.max(0, x + i));
          s += k[i + r]! * img.data[(y * w + xx) * 3 + c]!;
        }
        tmp[(y * w + x) * 3 + c] = s;
      }
    }
  }
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let i = -r; i <= r; i++) {
          const yy = Math.min(h - 1, Math.max(0, y + i));
          s += k[i + r]! * tmp[(yy * w + x) * 3 + c]!;
        }
        out[(y * w + x) * 3 + c] = clamp8(s);
      }
    }
  }
  return { width: w, height: h, data: out };
}

/** Additive white Gaussian noise of `sigma` (0..255 scale), independent per channel, seeded. */
export function addNoise(img: RgbImage, sigma: number, seed: number): RgbImage {
  const g = gaussian(mulberry32(seed));
  const out = new Uint8Array(img.data.length);
  for (let i = 0; i < out.length; i++) out[i] = clamp8(img.data[i]! + sigma * g());
  return { width: img.width, height: img.height, data: out };
}

/** Contrast scaled by `factor` about the image's mean luma. */
export function reduceContrast(img: RgbImage, factor: number): RgbImage {
  let mean = 0;
  for (let i = 0; i < img.data.length; i++) mean += img.data[i]!;
  mean /= img.data.length;
  const out = new Uint8Array(img.data.length);
  for (let i = 0; i < out.length; i++) out[i] = clamp8(mean + factor * (img.data[i]! - mean));
  return { width: img.width, height: img.height, data: out };
}

/** Apply one distortion at `level` (1..LEVELS). */
export async function distort(img: RgbImage, type: DistortionType, level: number, seed: number): Promise<RgbImage> {
  const p = LEVEL_PARAMS[type][level - 1];
  if (p === undefined) throw new RangeError(`distortion level ${level} is not 1..${LEVELS}`);
  switch (type) {
    case 'blur':
      return gaussianBlur(img, p);
    case 'noise':
      return addNoise(img, p, seed);
    case 'jpeg':
      return jpegRoundTrip(img, p);
    case 'contrast':
      return reduceContrast(img, p);
  }
}

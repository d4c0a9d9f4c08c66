/**
 * SSIM (Wang, Bovik, Sheikh, Simoncelli 2004, "Image quality assessment: from error visibility to
 * structural similarity"): local statistics under an 11x11 Gaussian window (sigma 1.5, normalised
 * to sum 1), K1 = 0.01, K2 = 0.03, dynamic range L = 255, computed on luma
 * Y = 0.299 R + 0.587 G + 0.114 B, over the window positions that fit inside the image ("valid",
 * as the authors' ssim_index.m), the mean of the SSIM map. Unlike the authors' later ssim.m this
 * does not downsample large images first (it makes no difference below 256 pixels on a side).
 */
import type { RgbImage } from './image.js';

export const SSIM_WINDOW = 11;
export const SSIM_SIGMA = 1.5;
export const SSIM_K1 = 0.01;
export const SSIM_K2 = 0.03;
export const SSIM_L = 255;

/** A normalised 1-D Gaussian kernel of odd length `size`. */
export function gaussianKernel(size: number, sigma: number): Float64Array {
  const k = new Float64Array(size);
  const c = (size - 1) / 2;
  let sum = 0;
  for (let i = 0; i < size; i++) {
    k[i] = Math.exp(-((i - c) ** 2) / (2 * sigma * sigma));
    sum += k[i]!;
  }
  for (let i = 0; i < size; i++) k[i]! /= sum;
  return k;
}

/** Luma of interleaved RGB, as float64. */
export function luma(img: RgbImage): Float64Array {
  const n = img.width * img.height;
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) y[i] = 0.299 * img.data[i * 3]! + 0.587 * img.data[i * 3 + 1]! + 0.114 * img.data[i * 3 + 2]!;
  return y;
}

/** Separable "valid" filtering of a W x H plane: output (W-k+1) x (H-k+1). */
function filterValid(src: Float64Array, w: number, h: number, k: Float64Array): Float64Array {
  const ks = k.length;
  const ow = w - ks + 1;
  const oh = h - ks + 1;
  const tmp = new Float64Array(ow * h);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let i = 0; i < ks; i++) s += k[i]! * src[row + x + i]!;
      tmp[y * ow + x] = s;
    }
  }
  const out = new Float64Array(ow * oh);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let i = 0; i < ks; i++) s += k[i]! * tmp[(y + i) * ow + x]!;
      out[y * ow + x] = s;
    }
  }
  return out;
}

/** Mean SSIM of two planes of the same size (values on a 0..L scale). */
export function ssimPlanes(a: Float64Array, b: Float64Array, width: number, height: number): number {
  if (a.length !== width * height || b.length !== width * height) throw new Error('internal: ssim planes of different sizes');
  if (width < SSIM_WINDOW || height < SSIM_WINDOW) throw new RangeError(`SSIM needs images of at least ${SSIM_WINDOW}x${SSIM_WINDOW} pixels`);
  const k = gaussianKernel(SSIM_WINDOW, SSIM_SIGMA);
  const n = width * height;
  const aa = new Float64Array(n);
  const bb = new Float64Array(n);
  const ab = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    aa[i] = a[i]! * a[i]!;
    bb[i] = b[i]! * b[i]!;
    ab[i] = a[i]! * b[i]!;
  }
  const muA = filterValid(a, width, height, k);
  const muB = filterValid(b, width, height, k);
  const sAA = filterValid(aa, width, height, k);
  const sBB = filterValid(bb, width, height, k);
  const sAB = filterValid(ab, width, height, k);
  const c1 = (SSIM_K1 * SSIM_L) ** 2;
  const c2 = (SSIM_K2 * SSIM_L) ** 2;
  let sum = 0;
  for (let i = 0; i < muA.length; i++) {
    const ma = muA[i]!;
    const mb = muB[i]!;
    const va = sAA[i]! - ma * ma;
    const vb = sBB[i]! - mb * mb;
    const cov = sAB[i]! - ma * mb;
    sum += ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
  }
  return sum / muA.length;
}

/** Mean SSIM of two RGB images of the same size, on luma. */
export function ssim(a: RgbImage, b: RgbImage): number {
  if (a.width !== b.width || a.height !== b.height) throw new RangeError(`SSIM of images of different sizes (${a.width}x${a.height} and ${b.width}x${b.height})`);
  return ssimPlanes(luma(a), luma(b), a.width, a.height);
}

/**
 * Images as pixels in [0,1] (RGB, NCHW) at the model's input size: what attacks perturb and what
 * fine-tuning's defences (NT, AT) work on; the model's own normalisation is applied afterwards
 * (src/attacks/pixels.ts). Resizing follows the preprocessing spec exactly as the loader does.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic-write.js';
import type { DatasetItem } from './dataset.js';
import { decodeResized, encodePng, type RgbImage } from './image.js';
import type { PreprocessSpec } from './preprocess.js';

export interface PixelBatch {
  /** n*3*H*W values in [0,1]. */
  data: Float32Array;
  dims: [number, number, number, number];
  /** Opinion scores (NaN where an item has none). */
  mos: Float32Array;
}

/** Load `items` (all of them; a bad image is an ImageError naming the file). */
export async function loadPixelBatch(items: readonly DatasetItem[], spec: PreprocessSpec, concurrency = 8): Promise<PixelBatch> {
  const [h, w] = spec.size;
  const per = 3 * h * w;
  const data = new Float32Array(items.length * per);
  for (let start = 0; start < items.length; start += concurrency) {
    const chunk = items.slice(start, start + concurrency);
    const imgs = await Promise.all(chunk.map((it) => decodeResized(it.path, spec)));
    imgs.forEach((img, k) => {
      const base = (start + k) * per;
      for (let c = 0; c < 3; c++) for (let i = 0; i < h * w; i++) data[base + c * h * w + i] = img.data[i * 3 + c]! / 255;
    });
  }
  return { data, dims: [items.length, 3, h, w], mos: Float32Array.from(items, (it) => it.mos ?? NaN) };
}

/** Image `k` of an [n,3,H,W] pixel batch in [0,1] as 8-bit RGB (rounded, clipped). */
export function pixelsToRgb(px: Float32Array, k: number, h: number, w: number): RgbImage {
  const data = new Uint8Array(h * w * 3);
  const base = k * 3 * h * w;
  for (let c = 0; c < 3; c++) for (let i = 0; i < h * w; i++) data[i * 3 + c] = Math.round(Math.min(1, Math.max(0, px[base + c * h * w + i]!)) * 255);
  return { width: w, height: h, data };
}

/** Save image `k` of a pixel batch as a PNG, atomically (the folder is created). */
export async function savePixelsPng(px: Float32Array, k: number, h: number, w: number, file: string): Promise<void> {
  const bytes = await encodePng(pixelsToRgb(px, k, h, w));
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, (wr) => wr.write(bytes));
}

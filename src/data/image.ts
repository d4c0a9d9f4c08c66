/**
 * Images through sharp (libvips): decode any format sharp reads into 8-bit RGB, and turn an image
 * into the float32 CHW tensor a preprocessing spec describes. Every failure is an `ImageError`
 * naming the file.
 */
import { currentLimits, LIMIT_FLAGS } from '../onnx/model-io.js';
import sharp, { type OutputInfo, type Sharp } from 'sharp';
import { UserError } from '../errors.js';
import { MAX_IMAGE_FILE_BYTES, readRegularFile } from '../util/safe-read.js';
import type { PreprocessSpec } from './preprocess.js';

export class ImageError extends UserError {
  readonly file: string;
  constructor(file: string, message: string) {
    super('image', message);
    this.file = file;
  }
}

/** Interleaved 8-bit RGB pixels. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0]!.trim();
}

/** The image's bytes, through the one safe reader (regular files only, size capped). */
function readImageFile(file: string): Buffer {
  try {
    return readRegularFile(file, { what: 'image file', maxBytes: MAX_IMAGE_FILE_BYTES });
  } catch (e) {
    if (e instanceof UserError) throw new ImageError(file, e.message);
    throw e;
  }
}

/** Refuse an image whose header declares more pixels than the limit, before decoding it. */
async function checkPixels(file: string, bytes: Buffer): Promise<void> {
  const max = currentLimits().maxImagePixels;
  let meta: { width?: number | undefined; height?: number | undefined };
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata(); // header only; the cap is ours, below
  } catch (e) {
    throw new ImageError(file, `image '${file}' cannot be decoded: ${firstLine(e)}`);
  }
  const pixels = (meta.width ?? 0) * (meta.height ?? 0);
  if (pixels > max) {
    throw new ImageError(file, `image '${file}' is ${meta.width}x${meta.height} = ${pixels} pixels, over the limit of ${max} (raise it with ${LIMIT_FLAGS.maxImagePixels})`);
  }
}

/** A sharp pipeline from a file: EXIF orientation applied, alpha dropped, sRGB, 3 channels. */
function rgbPipeline(bytes: Buffer): Sharp {
  return sharp(bytes, { failOn: 'warning', limitInputPixels: currentLimits().maxImagePixels }).autoOrient().removeAlpha().toColourspace('srgb');
}

async function rawRgb(pipeline: Sharp, file: string): Promise<RgbImage> {
  let out: { data: Buffer; info: OutputInfo };
  try {
    out = await pipeline.raw().toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw new ImageError(file, `image '${file}' cannot be decoded: ${firstLine(e)}`);
  }
  const { width, height, channels } = out.info;
  if (channels === 3) return { width, height, data: new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.length) };
  // grey images come back with one channel on some inputs: replicate it
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const g = out.data[i * channels]!;
    rgb[i * 3] = g;
    rgb[i * 3 + 1] = g;
    rgb[i * 3 + 2] = g;
  }
  return { width, height, data: rgb };
}

/** Decode a file to RGB at its own size. */
export async function decodeImage(file: string): Promise<RgbImage> {
  const bytes = readImageFile(file);
  await checkPixels(file, bytes);
  return rawRgb(rgbPipeline(bytes), file);
}

/** Decode a file and resize it to the spec's size (kernel and fit as the spec says). */
export async function decodeResized(file: string, spec: PreprocessSpec): Promise<RgbImage> {
  const bytes = readImageFile(file);
  await checkPixels(file, bytes);
  const [h, w] = spec.size;
  const p = rgbPipeline(bytes).resize(w, h, { kernel: spec.kernel, fit: spec.fit, position: 'centre' });
  return rawRgb(p, file);
}

/** RGB pixels to a float32 CHW tensor (3*H*W) per the spec's range, mean/std and colour order. */
export function toChw(img: RgbImage, spec: PreprocessSpec, out = new Float32Array(3 * img.width * img.height), offset = 0): Float32Array {
  const n = img.width * img.height;
  const [lo, hi] = spec.range;
  const scale = (hi - lo) / 255;
  for (let c = 0; c < 3; c++) {
    const src = spec.colorOrder === 'RGB' ? c : 2 - c;
    const m = spec.mean[src]!;
    const s = spec.std[src]!;
    const base = offset + c * n;
    for (let i = 0; i < n; i++) out[base + i] = (img.data[i * 3 + src]! * scale + lo - m) / s;
  }
  return out;
}

/** Encode RGB pixels as PNG (no metadata, fixed settings: the same pixels give the same bytes). */
export async function encodePng(img: RgbImage): Promise<Uint8Array> {
  const buf = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .png({ compressionLevel: 9, adaptiveFiltering: false, palette: false })
    .toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
}

/** Round-trip RGB pixels through baseline JPEG at `quality` (1..100); 4:2:0 chroma subsampling. */
export async function jpegRoundTrip(img: RgbImage, quality: number): Promise<RgbImage> {
  const jpg = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .jpeg({ quality, chromaSubsampling: '4:2:0', mozjpeg: false, progressive: false })
    .toBuffer();
  const out = await sharp(jpg).raw().toBuffer({ resolveWithObject: true });
  return { width: out.info.width, height: out.info.height, data: new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.length) };
}

/** The sharp and libvips versions (recorded in generated datasets: PNG/JPEG bytes depend on them). */
export function imageLibraryVersions(): { sharp: string; libvips: string } {
  return { sharp: sharp.versions.sharp ?? 'unknown', libvips: sharp.versions.vips };
}

/**
 * Preprocessing of images for a model: input size, value range, per-channel mean/std, colour
 * order, resize kernel and fit. Stored in the model's metadata_props under
 * `iqa-surgeon.preprocess` (JSON, see docs/DATA.md) and overridable by command-line flags.
 *
 * The tensor a model sees is ((pixel / 255) * (range[1] - range[0]) + range[0] - mean[c]) / std[c],
 * channels in `colorOrder`, NCHW float32.
 */
import { UsageError, UserError } from '../errors.js';

export const PREPROCESS_KEY = 'iqa-surgeon.preprocess';

export type ColorOrder = 'RGB' | 'BGR';
/** sharp's resize kernels. */
export type ResizeKernel = 'nearest' | 'linear' | 'cubic' | 'mitchell' | 'lanczos2' | 'lanczos3';
export const RESIZE_KERNELS: readonly ResizeKernel[] = ['nearest', 'linear', 'cubic', 'mitchell', 'lanczos2', 'lanczos3'];
/** `fill` stretches to the size; `cover` keeps the aspect ratio and crops the centre. */
export type ResizeFit = 'fill' | 'cover';

export interface PreprocessSpec {
  /** [H, W] of the model input. */
  size: [number, number];
  /** Pixel values are mapped linearly from 0..255 to this range. */
  range: [number, number];
  mean: [number, number, number];
  std: [number, number, number];
  colorOrder: ColorOrder;
  kernel: ResizeKernel;
  fit: ResizeFit;
}

/** ImageNet statistics on [0,1] RGB, the usual choice of the torchvision backbones IQA models use. */
export const DEFAULT_PREPROCESS: PreprocessSpec = {
  size: [224, 224],
  range: [0, 1],
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  colorOrder: 'RGB',
  kernel: 'lanczos3',
  fit: 'fill',
};

export class PreprocessError extends UserError {
  constructor(message: string) {
    super('preprocess', message);
  }
}

/** The parts of a Model this module needs (src/ir/model.ts satisfies it). */
export interface MetadataHolder {
  metadata(): Map<string, string>;
  setMetadata(key: string, value: string): void;
}

function isNumberArray(v: unknown, n: number): v is number[] {
  return Array.isArray(v) && v.length === n && v.every((x) => typeof x === 'number' && Number.isFinite(x));
}

/** Check a (partial) spec; throws naming the bad field. `where` says where it came from. */
export function validatePreprocess(v: unknown, where: string): Partial<PreprocessSpec> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new PreprocessError(`${where}: preprocessing must be a JSON object`);
  const o = v as Record<string, unknown>;
  const out: Partial<PreprocessSpec> = {};
  for (const key of Object.keys(o)) {
    const x = o[key];
    switch (key) {
      case 'size':
        if (!isNumberArray(x, 2) || !x.every((d) => Number.isInteger(d) && d > 0 && d <= 16384)) throw new PreprocessError(`${where}: size must be [H, W], positive integers up to 16384`);
        out.size = [x[0]!, x[1]!];
        break;
      case 'range':
        if (!isNumberArray(x, 2) || !(x[1]! > x[0]!)) throw new PreprocessError(`${where}: range must be [lo, hi] with lo < hi, e.g. [0, 1] or [0, 255]`);
        out.range = [x[0]!, x[1]!];
        break;
      case 'mean':
        if (!isNumberArray(x, 3)) throw new PreprocessError(`${where}: mean must be three numbers (R, G, B)`);
        out.mean = [x[0]!, x[1]!, x[2]!];
        break;
      case 'std':
        if (!isNumberArray(x, 3) || !x.every((s) => s > 0)) throw new PreprocessError(`${where}: std must be three positive numbers (R, G, B)`);
        out.std = [x[0]!, x[1]!, x[2]!];
        break;
      case 'colorOrder':
        if (x !== 'RGB' && x !== 'BGR') throw new PreprocessError(`${where}: colorOrder must be "RGB" or "BGR"`);
        out.colorOrder = x;
        break;
      case 'kernel':
        if (!RESIZE_KERNELS.includes(x as ResizeKernel)) throw new PreprocessError(`${where}: kernel must be one of ${RESIZE_KERNELS.join(', ')}`);
        out.kernel = x as ResizeKernel;
        break;
      case 'fit':
        if (x !== 'fill' && x !== 'cover') throw new PreprocessError(`${where}: fit must be "fill" or "cover"`);
        out.fit = x;
        break;
      default:
        throw new PreprocessError(`${where}: unknown preprocessing field '${key}' (known: size, range, mean, std, colorOrder, kernel, fit)`);
    }
  }
  return out;
}

/** The spec stored in a model, or undefined when it has none. */
export function readPreprocess(model: MetadataHolder): Partial<PreprocessSpec> | undefined {
  const text = model.metadata().get(PREPROCESS_KEY);
  if (text === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new PreprocessError(`metadata ${PREPROCESS_KEY} is not valid JSON; rewrite it with the preprocessing flags`);
  }
  return validatePreprocess(v, `metadata ${PREPROCESS_KEY}`);
}

/** Store a complete spec in a model (keys in a fixed order). */
export function writePreprocess(model: MetadataHolder, spec: PreprocessSpec): void {
  const full = resolvePreprocess(spec);
  const ordered = { size: full.size, range: full.range, mean: full.mean, std: full.std, colorOrder: full.colorOrder, kernel: full.kernel, fit: full.fit };
  model.setMetadata(PREPROCESS_KEY, JSON.stringify(ordered));
}

/**
 * The spec in force: later layers override earlier ones field by field, over the defaults
 * (typically: defaults < the model's input shape < the model's metadata < flags).
 */
export function resolvePreprocess(...layers: (Partial<PreprocessSpec> | undefined)[]): PreprocessSpec {
  const out: PreprocessSpec = { ...DEFAULT_PREPROCESS };
  for (const l of layers) {
    if (!l) continue;
    for (const [k, v] of Object.entries(l)) if (v !== undefined) (out as unknown as Record<string, unknown>)[k] = v;
  }
  return validatePreprocess(out, 'preprocessing') as PreprocessSpec;
}

/** Command-line flag values (strings as typed). */
export interface PreprocessFlags {
  inputSize?: string;
  range?: string;
  mean?: string;
  std?: string;
  colorOrder?: string;
  resizeKernel?: string;
  fit?: string;
}

function numbers(text: string, n: number, option: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  const xs = parts.map(Number);
  if (parts.length !== n || parts.some((p) => p === '') || !xs.every(Number.isFinite)) throw new UsageError(`${option} '${text}' must be ${n} comma-separated numbers`);
  return xs;
}

/** Parse the flags into a partial spec (UsageError naming the flag). */
export function preprocessFromFlags(f: PreprocessFlags): Partial<PreprocessSpec> {
  const out: Record<string, unknown> = {};
  if (f.inputSize !== undefined) {
    const parts = f.inputSize.split(/[,x]/).map((s) => s.trim());
    if (parts.length !== 2 || !parts.every((p) => /^\d+$/.test(p) && Number(p) > 0)) throw new UsageError(`--input-size '${f.inputSize}' must be H,W (positive integers)`);
    out.size = parts.map(Number);
  }
  if (f.range !== undefined) out.range = numbers(f.range, 2, '--range');
  if (f.mean !== undefined) out.mean = numbers(f.mean, 3, '--mean');
  if (f.std !== undefined) out.std = numbers(f.std, 3, '--std');
  if (f.colorOrder !== undefined) out.colorOrder = f.colorOrder.toUpperCase();
  if (f.resizeKernel !== undefined) out.kernel = f.resizeKernel;
  if (f.fit !== undefined) out.fit = f.fit;
  try {
    return validatePreprocess(out, 'the preprocessing flags');
  } catch (e) {
    if (e instanceof PreprocessError) throw new UsageError(e.message);
    throw e;
  }
}

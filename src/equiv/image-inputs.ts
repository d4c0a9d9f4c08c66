/**
 * Real images as the inputs of a numeric comparison (`equiv --inputs <dir | dataset spec>`):
 * the dataset's images (sorted by name, at most `maxImages`) decoded and preprocessed as the
 * model says (its `iqa-surgeon.preprocess` metadata, with the input size taken from the model's
 * static input shape when it has one), stacked into one float32 batch for the model's single
 * image input. A model with a fixed batch dim takes exactly that many images.
 */
import type { Dim } from '../analysis/shapes/types.js';
import { listDataset, parseDatasetSpec, describeSpec } from '../data/dataset.js';
import { loadImageTensor } from '../data/loader.js';
import { readPreprocess, resolvePreprocess, type PreprocessSpec } from '../data/preprocess.js';
import { UsageError, UserError } from '../errors.js';
import type { Model } from '../ir/model.js';
import { DataType } from '../onnx/data-types.js';
import type { Feed } from './runner.js';

export interface ImageFeeds {
  feeds: Record<string, Feed>;
  source: string;
  files: string[];
  preprocess: PreprocessSpec;
  dims: number[];
}

export const DEFAULT_MAX_IMAGES = 8;

/** Most images one comparison batch may take (each is a [3,H,W] float32 tensor in one batch). */
export const MAX_IMAGES_BOUND = 1024;

export async function imageFeeds(model: Model, spec: string, opts: { maxImages?: number; inputShapes?: Record<string, Dim[]> } = {}): Promise<ImageFeeds> {
  const inputs = model.graph.inputs.filter((v) => !v.isInitializer);
  if (inputs.length !== 1) throw new UserError('equiv-images', `--inputs with images needs a model with one image input; this one has ${inputs.length} (${inputs.map((v) => v.name).join(', ')})`);
  const input = inputs[0]!;
  if (input.elemType !== DataType.FLOAT) throw new UserError('equiv-images', `--inputs with images needs a float32 image input; '${input.name}' is not float32`);
  const declared = opts.inputShapes?.[input.name] ?? input.declaredShape;
  if (declared && (declared.length !== 4 || (typeof declared[1] === 'number' && declared[1] !== 3))) {
    throw new UserError('equiv-images', `--inputs with images needs an [N,3,H,W] input; '${input.name}' is [${declared.join(',')}]`);
  }
  const h = declared?.[2];
  const w = declared?.[3];
  const fromShape = typeof h === 'number' && typeof w === 'number' ? { size: [h, w] as [number, number] } : undefined;
  const pre = resolvePreprocess(readPreprocess(model), fromShape);
  const ds = listDataset(parseDatasetSpec(spec));
  const fixedBatch = typeof declared?.[0] === 'number' ? declared[0] : undefined;
  const max = opts.maxImages ?? DEFAULT_MAX_IMAGES;
  if (!(Number.isInteger(max) && max >= 1 && max <= MAX_IMAGES_BOUND)) throw new UsageError(`--max-images must be an integer from 1 to ${MAX_IMAGES_BOUND}; got ${max}`);
  const items = [...ds.items].sort((a, b) => a.name.localeCompare(b.name)).slice(0, fixedBatch ?? max);
  if (items.length === 0) throw new UserError('equiv-images', `no images in ${describeSpec(ds.spec)}`);
  if (fixedBatch !== undefined && items.length < fixedBatch) throw new UserError('equiv-images', `the model takes a batch of ${fixedBatch} images; ${describeSpec(ds.spec)} has ${items.length}`);
  const [ph, pw] = pre.size;
  const per = 3 * ph * pw;
  const data = new Float32Array(items.length * per);
  for (let i = 0; i < items.length; i++) data.set(await loadImageTensor(items[i]!.path, pre), i * per);
  const dims = [items.length, 3, ph, pw];
  return { feeds: { [input.name]: { elemType: DataType.FLOAT, dims, data } }, source: describeSpec(ds.spec), files: items.map((it) => it.name), preprocess: pre, dims };
}

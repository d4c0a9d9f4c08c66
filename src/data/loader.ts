/**
 * Batches of model input: dataset items decoded and preprocessed into float32 NCHW tensors.
 * A missing or corrupt image stops the run with an `ImageError` naming the file, or with
 * `skipBad` is left out and counted.
 */
import type { DatasetItem } from './dataset.js';
import { decodeResized, ImageError, toChw } from './image.js';
import type { PreprocessSpec } from './preprocess.js';

export interface Batch {
  /** N*3*H*W values. */
  data: Float32Array;
  dims: [number, number, number, number];
  items: DatasetItem[];
  /** Scores of the items (NaN where an item has none). */
  mos: Float32Array;
}

export interface LoadOptions {
  batchSize?: number;
  skipBad?: boolean;
  /** Called for each image left out with `skipBad`. */
  onSkip?: (item: DatasetItem, error: ImageError) => void;
  /** Images decoded at the same time (sharp runs them on libvips' threads). */
  concurrency?: number;
}

/** Load one image as a [1,3,H,W] tensor's data. */
export async function loadImageTensor(file: string, spec: PreprocessSpec): Promise<Float32Array> {
  return toChw(await decodeResized(file, spec), spec);
}

/** Yield batches in item order; the last batch may be smaller. */
export async function* loadBatches(items: readonly DatasetItem[], spec: PreprocessSpec, opts: LoadOptions = {}): AsyncGenerator<Batch> {
  const batchSize = opts.batchSize ?? 16;
  const concurrency = Math.max(1, opts.concurrency ?? 8);
  const [h, w] = spec.size;
  const per = 3 * h * w;
  let pending: { item: DatasetItem; tensor: Float32Array }[] = [];
  const flush = (): Batch => {
    const n = pending.length;
    const data = new Float32Array(n * per);
    const mos = new Float32Array(n);
    pending.forEach((p, i) => {
      data.set(p.tensor, i * per);
      mos[i] = p.item.mos ?? NaN;
    });
    const batch: Batch = { data, dims: [n, 3, h, w], items: pending.map((p) => p.item), mos };
    pending = [];
    return batch;
  };
  for (let start = 0; start < items.length; start += concurrency) {
    const chunk = items.slice(start, start + concurrency);
    const results = await Promise.allSettled(chunk.map((it) => loadImageTensor(it.path, spec)));
    for (let i = 0; i < chunk.length; i++) {
      const r = results[i]!;
      const item = chunk[i]!;
      if (r.status === 'rejected') {
        const err = r.reason;
        if (!(err instanceof ImageError)) throw err;
        if (!opts.skipBad) throw new ImageError(err.file, `${err.message}${item.line ? ` (dataset line ${item.line})` : ''}; --skip-bad leaves bad images out`);
        opts.onSkip?.(item, err);
        continue;
      }
      pending.push({ item, tensor: r.value });
      if (pending.length === batchSize) yield flush();
    }
  }
  if (pending.length > 0) yield flush();
}

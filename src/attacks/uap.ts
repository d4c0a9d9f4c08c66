/**
 * Universal adversarial perturbation: one perturbation for every image, trained with Adam on
 * batches of training images to raise (or lower) the mean predicted score, kept within +-eps, and
 * tiled to any image size when applied. Defaults as the reference: Adam lr 1e-3, 5 epochs, batch 8.
 */
import { Adam } from '../differentiable/adam.js';
import { mulberry32 } from '../util/random.js';
import type { Direction, ScoreObjective } from './objective.js';

export interface UapOptions {
  /** Budget on [0,1] pixels. */
  eps: number;
  lr?: number;
  epochs?: number;
  batch?: number;
  direction?: Direction;
  seed?: number;
  /** Called after each batch with the epoch, batch index and the batch's mean score. */
  onBatch?: (epoch: number, batch: number, meanScore: number) => void;
}

/** A perturbation [3,h,w] on [0,1] pixels. */
export interface Perturbation {
  dims: [3, number, number];
  data: Float32Array;
}

function clip01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/** x + tile(u), clipped to [0,1]; x is [n,3,H,W] of any H, W. */
export function applyPerturbation(x: Float32Array, dims: readonly [number, number, number, number], u: Perturbation): Float32Array {
  const [n, c, H, W] = dims;
  const [, h, w] = u.dims;
  if (c !== 3) throw new RangeError(`UAP: images must have 3 channels (got ${c})`);
  const out = new Float32Array(x.length);
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < 3; ch++) {
      for (let y = 0; y < H; y++) {
        const row = ((b * 3 + ch) * H + y) * W;
        const urow = (ch * h + (y % h)) * w;
        for (let xx = 0; xx < W; xx++) out[row + xx] = clip01(x[row + xx]! + u.data[urow + (xx % w)]!);
      }
    }
  }
  return out;
}

/**
 * Train a UAP over `images` ([N,3,h,w] pixels in [0,1], the model's input size). Batches are drawn
 * in a seeded shuffled order each epoch.
 */
export async function trainUap(objective: ScoreObjective, images: Float32Array, count: number, o: UapOptions): Promise<Perturbation> {
  const [c, h, w] = objective.imageDims;
  const per = c * h * w;
  if (images.length !== count * per) throw new RangeError(`UAP: ${images.length} values for ${count} images of [${c},${h},${w}]`);
  if (!(o.eps >= 0 && o.eps <= 1)) throw new RangeError(`UAP: eps must be in [0, 255]/255 (got ${o.eps * 255}/255)`);
  const epochs = o.epochs ?? 5;
  const batch = o.batch ?? 8;
  if (!Number.isInteger(epochs) || epochs < 1 || epochs > 1000) throw new RangeError(`UAP: epochs must be an integer in [1, 1000] (got ${epochs})`);
  if (!Number.isInteger(batch) || batch < 1 || batch > 4096) throw new RangeError(`UAP: batch must be an integer in [1, 4096] (got ${batch})`);
  const u: Perturbation = { dims: [3, h, w], data: new Float32Array(per) };
  const adam = new Adam(per, { lr: o.lr ?? 1e-3 });
  const rnd = mulberry32(o.seed ?? 0);
  const order = Array.from({ length: count }, (_, i) => i);
  const dims4 = (n: number): [number, number, number, number] => [n, 3, h, w];
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (let start = 0, bi = 0; start < count; start += batch, bi++) {
      const idx = order.slice(start, start + batch);
      const x = new Float32Array(idx.length * per);
      idx.forEach((k, r) => x.set(images.subarray(k * per, (k + 1) * per), r * per));
      const adv = applyPerturbation(x, dims4(idx.length), u);
      const { scores, grad } = await objective.gradient(adv, idx.length, o.direction ?? 'up');
      // loss = -mean(sign * score): descend its gradient, the batch mean of -d(score)/d(pixels)
      const g = new Float32Array(per);
      for (let r = 0; r < idx.length; r++) for (let k = 0; k < per; k++) g[k]! -= grad[r * per + k]! / idx.length;
      adam.step(u.data, g);
      for (let k = 0; k < per; k++) u.data[k] = Math.min(o.eps, Math.max(-o.eps, u.data[k]!));
      o.onBatch?.(epoch, bi, scores.reduce((a, b) => a + b, 0) / scores.length);
    }
  }
  return u;
}

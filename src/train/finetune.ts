/**
 * Fine-tuning (the method's third step): Adam over the trainable parameters of any engine the
 * factory builds (never a concrete engine), with a learning rate for the new parameters (the
 * RobustBlock's, plus `newSelectors`) and a ratio of it for the pretrained ones, a task loss on the
 * score output (norm-in-norm, L1, MSE), optionally the NT or AT defence, validation SROCC/PLCC after
 * each epoch (the best epoch's weights win), a checkpoint after each epoch and resumption from it
 * that ends bit-identical to an uninterrupted run with the same seed on the same engine.
 */
import { scoreObjective, type ScoreObjective } from '../attacks/objective.js';
import { fgsm } from '../attacks/pgd.js';
import { scoreCotangentFrom, scoresOf, type ScoreSpec } from '../attacks/score.js';
import type { DatasetItem } from '../data/dataset.js';
import { loadPixelBatch } from '../data/pixels.js';
import type { PreprocessSpec } from '../data/preprocess.js';
import { Adam } from '../differentiable/adam.js';
import type { DifferentiableModel, HostTensor } from '../differentiable/model.js';
import { blockParameters, selectTrainable } from '../differentiable/parameters.js';
import { createEngine, type EngineChoice } from '../engines/factory.js';
import { UserError } from '../errors.js';
import type { Model } from '../ir/model.js';
import { plcc, srocc } from '../metrics/correlation.js';
import { readBlockEntries } from '../surgery/block-metadata.js';
import { mulberry32 } from '../util/random.js';
import { pixelMap, type PixelMap } from '../attacks/pixels.js';
import { readCheckpoint, writeCheckpoint, type Checkpoint } from './checkpoint.js';
import { AT_DEFAULTS, atLabels, NT_DEFAULTS, ntProbe, ntRegulariser } from './defences.js';
import { taskLoss, type LossKind, type NormInNormOptions } from './losses.js';
import { microSlices, summedParamGrads } from './micro-batches.js';

export type Defence = 'none' | 'nt' | 'at';

export interface FinetuneOptions {
  train: readonly DatasetItem[];
  val: readonly DatasetItem[];
  preprocess: PreprocessSpec;
  score: ScoreSpec;
  epochs?: number;
  batch?: number;
  /**
   * Images per engine call (default: the whole batch). A batch is still one optimisation step with
   * its loss over all its images; only the engine's forward and gradient calls go in slices of this
   * many images, with the parameter gradients summed, so the engine's memory is that of a
   * micro-batch (docs/TRAINING.md).
   */
  microBatch?: number;
  /** Learning rate of the new parameters (default 1e-4). */
  lr?: number;
  /** Learning rate of the pretrained parameters as a fraction of `lr` (default 0.1). */
  lrPretrainedRatio?: number;
  loss?: LossKind;
  normInNorm?: NormInNormOptions;
  defence?: Defence;
  /** Trainable selectors (default ['all']). */
  trainable?: readonly string[];
  /** Extra selectors counted as new parameters (besides the RobustBlock's). */
  newSelectors?: readonly string[];
  /** Keep the orthogonal conv's W and alpha fixed. */
  freezeOrth?: boolean;
  engine?: EngineChoice;
  /** Execution provider of the ort engine (default cpu). */
  ep?: 'cpu' | 'cuda';
  /** Intra-op threads of the ort engine (default: ONNX Runtime's). */
  threads?: number;
  /** The ort engine's `stageSumMaxBytes` (the RobustBlock's Cayley summed through once per micro-batched step up to this size; default 1/16 of memory). */
  stageSumMaxBytes?: number;
  seed?: number;
  /** Folder for per-epoch checkpoints; with `resume`, continue from the last one there. */
  checkpointDir?: string;
  resume?: boolean;
  onEvent?: (e: FinetuneEvent) => void;
}

export type FinetuneEvent =
  | { kind: 'start'; engine: string; trainable: number; newParams: number; images: number; batches: number; startEpoch: number; epochs: number; microBatch?: number }
  | { kind: 'batch'; epoch: number; batch: number; batches: number; loss: number; images: number }
  | { kind: 'epoch'; summary: EpochSummary };

export interface EpochSummary {
  epoch: number;
  trainLoss: number;
  valLoss: number;
  valSrocc: number;
  valPlcc: number;
}

export interface FinetuneResult {
  schema: 'finetune@1';
  engine: string;
  /** Epoch 0 is the model as given (validation only; trainLoss NaN, written as null in JSON). */
  epochs: EpochSummary[];
  /** The epoch whose weights were kept (highest validation SROCC, ties to the lower validation loss; 0 when no epoch beat the start). */
  best: number;
  trainable: string[];
  newParams: string[];
}

/** Batches of the shuffled training items; a last batch under 2 images joins the previous one. */
export function epochBatches(items: readonly DatasetItem[], batch: number, seed: number, epoch: number): DatasetItem[][] {
  const order = [...items];
  const rnd = mulberry32((seed * 1000003 + epoch) >>> 0);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const out: DatasetItem[][] = [];
  for (let i = 0; i < order.length; i += batch) out.push(order.slice(i, i + batch));
  if (out.length > 1 && out[out.length - 1]!.length < 2) out[out.length - 2]!.push(...out.pop()!);
  return out;
}

function checkOptions(o: FinetuneOptions): Required<Pick<FinetuneOptions, 'epochs' | 'batch' | 'microBatch' | 'lr' | 'lrPretrainedRatio' | 'loss' | 'defence' | 'seed'>> {
  const batch = o.batch ?? 8;
  // the default micro-batch (twice the batch) also covers adversarial training's doubled batch
  const r = { epochs: o.epochs ?? 5, batch, microBatch: o.microBatch ?? 2 * batch, lr: o.lr ?? 1e-4, lrPretrainedRatio: o.lrPretrainedRatio ?? 0.1, loss: o.loss ?? 'norm-in-norm', defence: o.defence ?? 'none', seed: o.seed ?? 0 };
  if (!Number.isInteger(r.epochs) || r.epochs < 1 || r.epochs > 1000) throw new UserError('usage', `--epochs must be an integer in [1, 1000] (got ${r.epochs})`);
  if (!Number.isInteger(r.batch) || r.batch < 2 || r.batch > 1024) throw new UserError('usage', `--batch must be an integer in [2, 1024] (got ${r.batch}): norm-in-norm needs 2 images`);
  if (o.microBatch !== undefined && (!Number.isInteger(o.microBatch) || o.microBatch < 1 || o.microBatch > 1024)) throw new UserError('usage', `--micro-batch must be an integer in [1, 1024] (got ${o.microBatch})`);
  if (!(r.lr > 0 && r.lr <= 1)) throw new UserError('usage', `--lr must be in (0, 1] (got ${r.lr})`);
  if (!(r.lrPretrainedRatio >= 0 && r.lrPretrainedRatio <= 10)) throw new UserError('usage', `--lr-pretrained-ratio must be in [0, 10] (got ${r.lrPretrainedRatio})`);
  if (!['norm-in-norm', 'l1', 'mse'].includes(r.loss)) throw new UserError('usage', `--loss must be norm-in-norm, l1 or mse (got '${r.loss}')`);
  if (!['none', 'nt', 'at'].includes(r.defence)) throw new UserError('usage', `--defence must be none, nt or at (got '${r.defence}')`);
  if (!Number.isInteger(r.seed) || r.seed < 0 || r.seed > 2 ** 31) throw new UserError('usage', `--seed must be an integer in [0, 2^31] (got ${r.seed})`);
  if (o.train.length < 2) throw new UserError('data', `fine-tuning needs at least 2 training images (got ${o.train.length})`);
  if (o.val.length < 2) throw new UserError('data', `validation needs at least 2 images (got ${o.val.length})`);
  for (const it of [...o.train, ...o.val]) if (it.mos === undefined || !Number.isFinite(it.mos)) throw new UserError('data', `image '${it.name}' has no opinion score: fine-tuning needs scored data`);
  return r;
}

/** The orthogonal conv parameters of every spliced block (W and alpha of the Cayley conv). */
function orthParameters(model: Model): Set<string> {
  const out = new Set<string>();
  for (const e of readBlockEntries(model) ?? []) if (e.cayley) for (const n of [e.cayley.weight, e.cayley.alpha]) out.add(n);
  return out;
}

function scoresRange(items: readonly DatasetItem[]): { min: number; max: number } {
  const m = items.map((i) => i.mos!);
  return { min: Math.min(...m), max: Math.max(...m) };
}

class Trainer {
  private readonly adams = new Map<string, Adam>();
  private readonly pixels: PixelMap;
  private readonly objective: ScoreObjective;

  constructor(
    private readonly engine: DifferentiableModel,
    private readonly o: FinetuneOptions,
    private readonly cfg: ReturnType<typeof checkOptions>,
    readonly trainable: string[],
    readonly newParams: Set<string>,
  ) {
    const [h, w] = o.preprocess.size;
    this.pixels = pixelMap(o.preprocess, h * w);
    this.objective = scoreObjective(engine, o.score, this.pixels, [3, h, w]);
    for (const name of trainable) {
      const p = engine.getParameter(name);
      this.adams.set(name, new Adam(p.data.length, { lr: newParams.has(name) ? cfg.lr : cfg.lr * cfg.lrPretrainedRatio }));
    }
  }

  private feeds(px: Float32Array, n: number): Record<string, HostTensor> {
    const [h, w] = this.o.preprocess.size;
    return { [this.engine.inputNames[0]!]: { dims: [n, 3, h, w], data: this.pixels.toModel(px) } };
  }

  private slices(n: number): [number, number][] {
    return microSlices(n, this.cfg.microBatch);
  }

  /** Images [s, s + c) of a pixel batch (a view). */
  private images(px: Float32Array, s: number, c: number): Float32Array {
    const [h, w] = this.o.preprocess.size;
    return px.subarray(s * 3 * h * w, (s + c) * 3 * h * w);
  }

  async predict(px: Float32Array, n: number): Promise<{ scores: number[]; dims: number[] }> {
    const scores: number[] = [];
    let dims: number[] = [];
    for (const [s, c] of this.slices(n)) {
      const y = (await this.engine.forward(this.feeds(this.images(px, s, c), c), [this.o.score.output]))[this.o.score.output]!;
      scores.push(...scoresOf(this.o.score, y));
      dims = [n, ...y.dims.slice(1)];
    }
    return { scores, dims };
  }

  /** Parameter gradients of sum_n dLds[n] * score_n at pixels px (summed over the micro-batches). */
  async paramGrads(px: Float32Array, n: number, dims: number[], dLds: ArrayLike<number>): Promise<Record<string, HostTensor>> {
    return summedParamGrads(this.engine, n, this.cfg.microBatch, (s, c) => ({
      feeds: this.feeds(this.images(px, s, c), c),
      cotangents: { [this.o.score.output]: scoreCotangentFrom(this.o.score, [c, ...dims.slice(1)], Array.from(dLds).slice(s, s + c)) },
    }), { params: this.trainable });
  }

  async inputGrad(px: Float32Array, n: number, dims: number[]): Promise<Float32Array> {
    const out = new Float32Array(px.length);
    for (const [s, c] of this.slices(n)) {
      const cot = scoreCotangentFrom(this.o.score, [c, ...dims.slice(1)], new Array(c).fill(this.o.score.lowerIsBetter ? -1 : 1));
      const r = await this.engine.gradients(this.feeds(this.images(px, s, c), c), { [this.o.score.output]: cot }, { inputs: [this.engine.inputNames[0]!], params: [] });
      this.images(out, s, c).set(this.pixels.gradToPixels(r.inputGrads[this.engine.inputNames[0]!]!.data as Float32Array));
    }
    return out;
  }

  /** One optimisation step on a batch; returns the batch's loss. */
  async step(items: readonly DatasetItem[], range: { min: number; max: number }): Promise<number> {
    const batch = await loadPixelBatch(items, this.o.preprocess);
    let px = batch.data;
    let n = items.length;
    let labels: ArrayLike<number> = batch.mos;
    if (this.cfg.defence === 'at') {
      // FGSM examples on the current model (raise the predicted quality; the reference's step
      // 5/255 within eps 4/255 is one step of eps), labels lowered by SSIM
      const adv = new Float32Array(px.length);
      for (const [s, c] of this.slices(n)) {
        this.images(adv, s, c).set((await fgsm(this.objective, this.images(px, s, c), c, { eps: Math.min(AT_DEFAULTS.eps, AT_DEFAULTS.step) })).attacked);
      }
      const advLabels = atLabels(px, adv, batch.mos, batch.dims, range);
      const both = new Float32Array(px.length * 2);
      both.set(px);
      both.set(adv, px.length);
      px = both;
      labels = [...Array.from(batch.mos), ...Array.from(advLabels)];
      n *= 2;
    }
    const { scores, dims } = await this.predict(px, n);
    const task = taskLoss(this.cfg.loss, scores, labels, this.o.normInNorm ?? {});
    let loss = task.loss;
    let grads: Record<string, HostTensor>;
    if (this.cfg.defence === 'nt') {
      const { h, weight } = NT_DEFAULTS;
      const v = await this.inputGrad(px, n, dims);
      const probe = ntProbe(px, v, h);
      const probeScores = (await this.predict(probe, n)).scores;
      const nt = ntRegulariser(scores, probeScores, h);
      loss += weight * nt.reg;
      // d reg / d f(x) = -dRegDdl / h, d reg / d f(x + h v) = +dRegDdl / h (v held fixed)
      const atX = task.grad.map((g, i) => g - (weight * nt.dRegDdl[i]!) / h);
      const atProbe = nt.dRegDdl.map((d) => (weight * d) / h);
      const g1 = await this.paramGrads(px, n, dims, atX);
      const g2 = await this.paramGrads(probe, n, dims, atProbe);
      grads = {};
      for (const k of Object.keys(g1)) grads[k] = { dims: g1[k]!.dims, data: (g1[k]!.data as Float32Array).map((x, i) => x + (g2[k]!.data as Float32Array)[i]!) };
    } else grads = await this.paramGrads(px, n, dims, task.grad);
    if (!Number.isFinite(loss)) throw new UserError('nan-loss', `the training loss became ${loss} (learning rate too high, or bad scores); the last checkpoint is intact`);
    for (const name of this.trainable) {
      const p = this.engine.getParameter(name);
      const data = Float32Array.from(p.data as Float32Array);
      this.adams.get(name)!.step(data, grads[name]!.data as Float32Array);
      this.engine.setParameter(name, { dims: p.dims, data });
    }
    return loss;
  }

  async validate(items: readonly DatasetItem[], batch: number): Promise<{ loss: number; srocc: number; plcc: number; scores: number[] }> {
    const preds: number[] = [];
    for (let i = 0; i < items.length; i += batch) {
      const chunk = items.slice(i, i + batch);
      const b = await loadPixelBatch(chunk, this.o.preprocess);
      preds.push(...(await this.predict(b.data, chunk.length)).scores);
    }
    const mos = items.map((it) => it.mos!);
    return { loss: taskLoss(this.cfg.loss, preds, mos, this.o.normInNorm ?? {}).loss, srocc: srocc(preds, mos), plcc: plcc(preds, mos), scores: preds };
  }

  snapshot(): Map<string, Float32Array> {
    return new Map(this.trainable.map((n) => [n, Float32Array.from(this.engine.getParameter(n).data as Float32Array)]));
  }

  adamStates(): Record<string, { t: number; m: Float64Array; v: Float64Array }> {
    return Object.fromEntries([...this.adams].map(([k, a]) => [k, a.state()]));
  }

  restore(c: Checkpoint): void {
    for (const name of this.trainable) {
      const v = c.params.get(name);
      const a = c.adam[name];
      if (!v || !a) throw new UserError('checkpoint', `the checkpoint has no state for parameter '${name}': it was made with other trainable parameters`);
      this.engine.setParameter(name, { dims: this.engine.getParameter(name).dims, data: v });
      this.adams.get(name)!.restore(a);
    }
  }
}

/**
 * Fine-tune `model` in place: at the end the best epoch's weights are written back into the IR
 * (bit-exactly; untouched initializers keep their bytes). Returns the `finetune@1` record.
 */
export async function finetune(model: Model, o: FinetuneOptions): Promise<FinetuneResult> {
  const cfg = checkOptions(o);
  const engine = await createEngine({ model, engine: o.engine ?? 'auto', trainable: o.trainable ?? ['all'], ...(o.ep ? { ep: o.ep } : {}), ...(o.threads !== undefined ? { threads: o.threads } : {}), ...(o.stageSumMaxBytes !== undefined ? { stageSumMaxBytes: o.stageSumMaxBytes } : {}) });
  try {
    const orth = o.freezeOrth ? orthParameters(model) : new Set<string>();
    const trainable = engine.trainableNames().filter((n) => !orth.has(n));
    if (trainable.length === 0) throw new UserError('usage', 'no parameters left to train (check --trainable and --freeze-orth)');
    const newSet = new Set<string>([...blockParameters(model)]);
    if (o.newSelectors?.length) for (const n of await selectTrainable(model, o.newSelectors)) newSet.add(n);
    const newParams = new Set(trainable.filter((n) => newSet.has(n)));
    const trainer = new Trainer(engine, o, cfg, trainable, newParams);
    const range = scoresRange(o.train);
    let history: EpochSummary[] = [];
    let best = { epoch: 0, srocc: -Infinity, params: trainer.snapshot() };
    let startEpoch = 1;
    if (o.resume && o.checkpointDir) {
      const c = readCheckpoint(o.checkpointDir);
      if (c) {
        if (c.seed !== cfg.seed) throw new UserError('checkpoint', `the checkpoint was made with --seed ${c.seed}, not ${cfg.seed}`);
        trainer.restore(c);
        history = c.history;
        best = { epoch: c.best.epoch, srocc: c.best.srocc, params: c.best.params };
        startEpoch = c.epoch + 1;
      }
    }
    const batchesPerEpoch = epochBatches(o.train, cfg.batch, cfg.seed, 1).length;
    o.onEvent?.({ kind: 'start', engine: engine.describe(), trainable: trainable.length, newParams: newParams.size, images: o.train.length, batches: batchesPerEpoch, startEpoch, epochs: cfg.epochs, ...(o.microBatch !== undefined ? { microBatch: o.microBatch } : {}) });
    if (startEpoch === 1) {
      // epoch 0: the model as given, the baseline every later epoch must beat to be kept
      const val = await trainer.validate(o.val, cfg.batch);
      const summary: EpochSummary = { epoch: 0, trainLoss: NaN, valLoss: val.loss, valSrocc: val.srocc, valPlcc: val.plcc };
      history = [summary];
      best = { epoch: 0, srocc: val.srocc, params: trainer.snapshot() };
      o.onEvent?.({ kind: 'epoch', summary });
    }
    for (let epoch = startEpoch; epoch <= cfg.epochs; epoch++) {
      const batches = epochBatches(o.train, cfg.batch, cfg.seed, epoch);
      let sum = 0;
      let count = 0;
      for (const [bi, items] of batches.entries()) {
        const loss = await trainer.step(items, range);
        sum += loss * items.length;
        count += items.length;
        o.onEvent?.({ kind: 'batch', epoch, batch: bi + 1, batches: batches.length, loss, images: items.length });
      }
      const val = await trainer.validate(o.val, cfg.batch);
      const summary: EpochSummary = { epoch, trainLoss: sum / count, valLoss: val.loss, valSrocc: val.srocc, valPlcc: val.plcc };
      history.push(summary);
      // highest validation SROCC; a tie goes to the lower validation loss
      const bestLoss = history.find((h) => h.epoch === best.epoch)?.valLoss ?? Infinity;
      if (val.srocc > best.srocc || (val.srocc === best.srocc && val.loss < bestLoss)) best = { epoch, srocc: val.srocc, params: trainer.snapshot() };
      if (o.checkpointDir) writeCheckpoint(o.checkpointDir, { epoch, seed: cfg.seed, history, best, params: trainer.snapshot(), adam: trainer.adamStates() });
      o.onEvent?.({ kind: 'epoch', summary });
    }
    // the best epoch's weights into the model
    for (const [name, data] of best.params) engine.setParameter(name, { dims: engine.getParameter(name).dims, data });
    engine.writeBack(trainable);
    return { schema: 'finetune@1', engine: engine.describe(), epochs: history, best: best.epoch, trainable, newParams: [...newParams] };
  } finally {
    engine.dispose();
  }
}

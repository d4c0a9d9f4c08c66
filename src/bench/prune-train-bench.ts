/**
 * Benchmarks of the pruning and fine-tuning issue:
 * - shrink: ONNX Runtime CPU inference of the 10%-pruned masked model vs the shrunk one (full-width
 *   ResNet-50 IQA export at 224x224, generated here, never committed), parameter counts;
 * - fine-tuning throughput: images/s of one training step through the engine factory, as a ratio to
 *   ONNX Runtime forward images/s on the same model and batch (default Linearity-style model);
 * - end to end: splice after layer3, prune 10%, fine-tune 5 epochs on the embedded dataset (200
 *   images, as `npm start` makes it): time and validation SROCC before/after.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { listDataset, parseDatasetSpec, selectSplit } from '../data/dataset.js';
import { makeDefaultDataset } from '../data/make-default.js';
import { readPreprocess, resolvePreprocess } from '../data/preprocess.js';
import { Model } from '../ir/model.js';
import { DataType } from '../onnx/data-types.js';
import { tensorDims } from '../onnx/tensor-data.js';
import { openRunner } from '../runtime/session.js';
import { pruneModel } from '../surgery/prune/prune.js';
import { shrinkPruned } from '../surgery/prune/shrink.js';
import { spliceRobustBlock } from '../surgery/splice.js';
import { finetune } from '../train/finetune.js';
import { widenResnet } from './make-large-model.js';
import { medianMs } from './measure.js';

function params(m: Model): number {
  return m.graph.initializers().reduce((s, v) => s + (v.initializer!.data_type === DataType.FLOAT && !v.name.endsWith('.prune_mask') ? tensorDims(v.initializer!).reduce((a, b) => a * b, 1) : 0), 0);
}

function input(dims: number[], seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1);
}

async function ortForwardMs(model: Model, dims: number[], reps: number): Promise<number> {
  const name = model.graph.inputs.find((v) => !v.isInitializer)!.name;
  const runner = await openRunner(model, { optimization: 'all', logSeverity: 3 });
  try {
    const feed = { [name]: { elemType: DataType.FLOAT, dims, data: input(dims, 3) } };
    return await medianMs(reps, () => runner.run(feed));
  } finally {
    await runner.dispose();
  }
}

export interface ShrinkBenchRow {
  model: string;
  batch: number;
  paramsOriginal: number;
  paramsShrunk: number;
  paramReduction: number;
  maskedMs: number;
  shrunkMs: number;
  speedup: number;
}

export async function runShrinkBench(repoRoot: string, log: (s: string) => void): Promise<ShrinkBenchRow[]> {
  const rows: ShrinkBenchRow[] = [];
  const base = widenResnet(path.join(repoRoot, 'fixtures/models/resnet50_iqa.onnx'), 8);
  // the export's input is [batch,3,64,64]; its head (global pooling) takes any size: 224 x 224
  const dims = base.graph.inputs[0]!.info!.type!.tensor_type!.shape!.dim!;
  dims[2] = { dim_value: 224 };
  dims[3] = { dim_value: 224 };
  const paramsOriginal = params(base);
  for (const align of [1, 8, 16]) {
  const masked = Model.fromBytes(base.toBytes());
  const report = pruneModel(masked, { criterion: 'l2', ratio: 0.1, align });
  const shrunk = Model.fromBytes(masked.toBytes());
  shrinkPruned(shrunk);
  log(`  ResNet-50 (full width, random weights), ratio 0.1, --align ${align}: ${report.pruned.length} convs pruned (${report.filtersPruned} filters), ${report.leftOut.length} left out (residual joins)`);
  for (const batch of [1, 8]) {
    const dims = [batch, 3, 224, 224];
    const maskedMs = await ortForwardMs(masked, dims, batch === 1 ? 15 : 5);
    const shrunkMs = await ortForwardMs(shrunk, dims, batch === 1 ? 15 : 5);
    const row: ShrinkBenchRow = { model: `resnet50 x8 @224x224, align ${align}`, batch, paramsOriginal, paramsShrunk: params(shrunk), paramReduction: 1 - params(shrunk) / paramsOriginal, maskedMs, shrunkMs, speedup: maskedMs / shrunkMs };
    rows.push(row);
    log(`    batch ${batch}: masked ${maskedMs.toFixed(1)} ms, shrunk ${shrunkMs.toFixed(1)} ms -> ${row.speedup.toFixed(2)}x faster; parameters ${paramsOriginal} -> ${row.paramsShrunk} (${(100 * row.paramReduction).toFixed(1)}% fewer) (goal: faster, >= 5% fewer)`);
  }
  }
  return rows;
}

export interface FinetuneBenchResult {
  /** The default engine's step throughput (images/s over the first epoch's steps). */
  trainImagesPerSecond: number;
  ortForwardImagesPerSecond: number;
  ratio: number;
  /** Step throughput per engine on the same model (one epoch on the first 24 training images each; tfjs's steps are minutes at full size). */
  engines: { engine: string; imagesPerSecond: number; ratio: number }[];
  endToEnd: { images: number; train: number; val: number; seconds: number; valSroccBefore: number; valSroccAfter: number; valPlccBefore: number; valPlccAfter: number; best: number };
}

export async function runFinetuneBench(repoRoot: string, log: (s: string) => void): Promise<FinetuneBenchResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'iqa-finetune-bench-'));
  try {
    const data = path.join(dir, 'data');
    await makeDefaultDataset({ out: data, size: 200, seed: 0 });
    const items = listDataset(parseDatasetSpec(data)).items;
    const train = selectSplit(items, 'train', { seed: 0 });
    const val = selectSplit(items, 'val', { seed: 0 });
    const original = Model.load(path.join(repoRoot, 'graphs/linearity_r18w16.onnx'));
    const spliced = Model.fromBytes(original.toBytes());
    await spliceRobustBlock(spliced, { stage: 'layer3' });
    pruneModel(spliced, { criterion: 'l2', ratio: 0.1 });
    const preprocess = resolvePreprocess(readPreprocess(spliced));
    const score = { output: spliced.graph.outputs[0]!.name, reduce: { kind: 'none' as const }, lowerIsBetter: false };
    // throughput: images/s over the first epoch's steps vs ONNX Runtime forward at the same batch
    const [h, w] = preprocess.size;
    const ortMs = await ortForwardMs(spliced, [8, 3, h, w], 10);
    const ortIps = 8 / (ortMs / 1000);
    // step throughput per engine, same model, batch and images
    const engines: FinetuneBenchResult['engines'] = [];
    for (const engine of ['tfjs', 'ort'] as const) {
      let images = 0;
      let ms = 0;
      let prev = performance.now();
      const one = await finetune(Model.fromBytes(spliced.toBytes()), {
        train: train.slice(0, 24),
        val: val.slice(0, 8),
        preprocess,
        score,
        epochs: 1,
        batch: 8,
        lr: 1e-4,
        seed: 0,
        engine,
        onEvent: (e) => {
          const now = performance.now();
          if (e.kind === 'batch' && e.batch > 1) {
            images += e.images;
            ms += now - prev;
          }
          prev = now;
        },
      });
      const ips = images / (ms / 1000);
      engines.push({ engine: one.engine, imagesPerSecond: ips, ratio: ips / ortIps });
      log(`  fine-tuning step, ${one.engine}: ${ips.toFixed(2)} images/s (${(ips / ortIps).toExponential(2)}x ONNX Runtime forward)`);
    }
    const t0 = performance.now();
    let stepImages = 0;
    let stepMs = 0;
    let last = performance.now();
    const r = await finetune(spliced, {
      train,
      val,
      preprocess,
      score,
      epochs: 5,
      batch: 8,
      lr: 1e-4,
      seed: 0,
      onEvent: (e) => {
        const now = performance.now();
        if (e.kind === 'batch' && e.epoch === 1 && e.batch > 1) {
          stepImages += e.images;
          stepMs += now - last;
        }
        if (e.kind === 'epoch') log(`    epoch ${e.summary.epoch}: val SROCC ${e.summary.valSrocc.toFixed(4)}, PLCC ${e.summary.valPlcc.toFixed(4)}, val loss ${e.summary.valLoss.toFixed(4)}`);
        last = now;
      },
    });
    const seconds = (performance.now() - t0) / 1000;
    const trainIps = stepImages / (stepMs / 1000);
    const before = r.epochs[0]!;
    const best = r.epochs.find((e) => e.epoch === r.best)!;
    const result: FinetuneBenchResult = {
      trainImagesPerSecond: trainIps,
      ortForwardImagesPerSecond: ortIps,
      ratio: trainIps / ortIps,
      engines,
      endToEnd: { images: items.length, train: train.length, val: val.length, seconds, valSroccBefore: before.valSrocc, valSroccAfter: best.valSrocc, valPlccBefore: before.valPlcc, valPlccAfter: best.valPlcc, best: r.best },
    };
    log(`  fine-tuning step (${r.engine.split(':')[0]}, batch 8, splice+prune 10%): ${trainIps.toFixed(2)} images/s vs ONNX Runtime forward ${ortIps.toFixed(0)} images/s -> ${result.ratio.toExponential(2)}x`);
    log(`  5 epochs on ${train.length} training images: ${seconds.toFixed(0)} s; validation SROCC ${before.valSrocc.toFixed(4)} -> ${best.valSrocc.toFixed(4)} (best epoch ${r.best}), PLCC ${before.valPlcc.toFixed(4)} -> ${best.valPlcc.toFixed(4)}`);
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

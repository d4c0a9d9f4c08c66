/**
 * Benchmarks of the attacks issue, on the default Linearity-style model (graphs/linearity_r18w16.onnx,
 * 96x128 inputs) and images of the embedded dataset, each as a ratio to a baseline measured in the
 * same process: ONNX Runtime forward throughput (images/s, batch 8) on the same model.
 * - attack throughput per gradient engine the factory builds (tfjs today; `ort` once it exists):
 *   PGD-8 (eps 4/255, step 1/255) attacked images/s, and UAP training images/s (image-gradients per
 *   second over its epochs);
 * - evaluation throughput: images/s of `evaluateModels` with clean + PGD-1 + PGD-8 scoring at one
 *   eps (attacks crafted by the engine, every score from ONNX Runtime).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { scoreObjective } from '../attacks/objective.js';
import { pgd } from '../attacks/pgd.js';
import { pixelMap } from '../attacks/pixels.js';
import { resolveScoreSpec } from '../attacks/score.js';
import { trainUap } from '../attacks/uap.js';
import { listDataset, parseDatasetSpec } from '../data/dataset.js';
import { makeDefaultDataset } from '../data/make-default.js';
import { loadPixelBatch } from '../data/pixels.js';
import { readPreprocess, resolvePreprocess } from '../data/preprocess.js';
import { createEngine, type EngineChoice } from '../engines/factory.js';
import { UserError } from '../errors.js';
import { evaluateModels } from '../evaluate/evaluate.js';
import { Model } from '../ir/model.js';
import { DataType } from '../onnx/data-types.js';
import { openRunner } from '../runtime/session.js';
import { medianMs } from './measure.js';

export interface AttackBenchEngineRow {
  engine: string;
  pgd8ImagesPerSecond: number;
  pgd8Ratio: number;
  uapImagesPerSecond: number;
  uapRatio: number;
}

export interface AttackBenchResult {
  model: string;
  imageSize: [number, number];
  images: number;
  ortForwardImagesPerSecond: number;
  engines: AttackBenchEngineRow[];
  /** Engines the factory refused (name and reason). */
  unavailable: { engine: string; reason: string }[];
  evaluation: { engine: string; images: number; attacks: string; eps: number; seconds: number; imagesPerSecond: number; ratio: number };
}


export async function runAttackBench(repoRoot: string, log: (s: string) => void, opts: { images?: number; engines?: EngineChoice[] } = {}): Promise<AttackBenchResult> {
  const file = path.join(repoRoot, 'graphs/linearity_r18w16.onnx');
  const model = Model.load(file);
  const preprocess = resolvePreprocess(readPreprocess(model));
  const score = resolveScoreSpec(model.graph.outputs.map((v) => v.name), model.metadata());
  const [h, w] = preprocess.size;
  const dims: [number, number, number] = [3, h, w];
  const count = opts.images ?? 16;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'iqa-attack-bench-'));
  try {
    const data = path.join(dir, 'data');
    await makeDefaultDataset({ out: data, size: Math.max(count, 10), seed: 1 });
    const items = listDataset(parseDatasetSpec(data)).items.slice(0, count);
    const px = (await loadPixelBatch(items, preprocess)).data;
    const map = pixelMap(preprocess, h * w);
    // baseline: ONNX Runtime forward of the same model, batch 8, images already normalised
    const runner = await openRunner(model, { optimization: 'all', logSeverity: 3 });
    let ortMs: number;
    try {
      const input = runner.inputs()[0]!.name;
      const feed = { [input]: { elemType: DataType.FLOAT, dims: [8, ...dims], data: map.toModel(px.subarray(0, 8 * 3 * h * w)) } };
      ortMs = await medianMs(10, () => runner.run(feed));
    } finally {
      await runner.dispose();
    }
    const ortIps = 8 / (ortMs / 1000);
    log(`  ONNX Runtime forward (batch 8, ${h}x${w}): ${ortIps.toFixed(0)} images/s`);
    const rows: AttackBenchEngineRow[] = [];
    const unavailable: AttackBenchResult['unavailable'] = [];
    const per = 3 * h * w;
    for (const engineName of opts.engines ?? (['tfjs', 'ort'] as EngineChoice[])) {
      let engine;
      try {
        engine = await createEngine({ model: Model.load(file), engine: engineName });
      } catch (e) {
        if (!(e instanceof UserError)) throw e;
        unavailable.push({ engine: engineName, reason: e.message });
        log(`  ${engineName}: not available (${e.message})`);
        continue;
      }
      try {
        const objective = scoreObjective(engine, score, map, dims);
        // warm-up: one gradient of a batch (kernels, caches)
        await objective.gradient(px.subarray(0, 8 * per), 8, 'up');
        let t0 = performance.now();
        for (let s = 0; s < count; s += 8) {
          const k = Math.min(8, count - s);
          await pgd(objective, px.subarray(s * per, (s + k) * per), k, { eps: 4 / 255, step: 1 / 255, iters: 8 });
        }
        const pgdIps = count / ((performance.now() - t0) / 1000);
        const epochs = 2;
        t0 = performance.now();
        await trainUap(objective, px, count, { eps: 10 / 255, epochs, batch: 8, seed: 0 });
        const uapIps = (count * epochs) / ((performance.now() - t0) / 1000);
        const row = { engine: engine.describe(), pgd8ImagesPerSecond: pgdIps, pgd8Ratio: pgdIps / ortIps, uapImagesPerSecond: uapIps, uapRatio: uapIps / ortIps };
        rows.push(row);
        log(`  ${row.engine}: PGD-8 ${pgdIps.toFixed(3)} images/s (${row.pgd8Ratio.toExponential(2)}x ORT forward); UAP training ${uapIps.toFixed(3)} images/s (${row.uapRatio.toExponential(2)}x)`);
      } finally {
        engine.dispose();
      }
    }
    // evaluation: clean + PGD-1 + PGD-8 at eps 4, scores from ONNX Runtime
    const t0 = performance.now();
    await evaluateModels([{ file, name: 'linearity_r18w16', role: 'evaluated', preprocess, score }], {
      images: items,
      mosImages: null,
      dataSpec: data,
      mosSpec: null,
      attacks: [
        { attack: 'pgd', iters: 1 },
        { attack: 'pgd', iters: 8 },
      ],
      eps: [4],
      engine: 'auto',
      bootstrapResamples: 200,
    });
    const seconds = (performance.now() - t0) / 1000;
    const evalIps = count / seconds;
    const evaluation = { engine: 'auto', images: count, attacks: 'clean + pgd-1 + pgd-8', eps: 4, seconds, imagesPerSecond: evalIps, ratio: evalIps / ortIps };
    log(`  evaluation (clean + PGD-1 + PGD-8 at eps 4, ${count} images): ${seconds.toFixed(1)} s = ${evalIps.toFixed(3)} images/s (${evaluation.ratio.toExponential(2)}x ORT forward)`);
    return { model: 'graphs/linearity_r18w16.onnx', imageSize: [h, w], images: count, ortForwardImagesPerSecond: ortIps, engines: rows, unavailable, evaluation };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

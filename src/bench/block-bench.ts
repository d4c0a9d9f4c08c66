/**
 * RobustBlock benchmark: inference time of a patched full-width ResNet-50 IQA model over the
 * original, on ONNX Runtime CPU, with the block on layer3's output (the paper's Linearity
 * position; block input [1024, 32, 42] at 498 x 664), for AOL and Cayley in their deployable
 * (materialized) and trainable (parametric, in-graph) forms, plus file size and session-creation
 * time. Random weights, generated at run time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openRunner, type RunnerOptions } from '../runtime/session.js';
import { DataType } from '../onnx/data-types.js';
import { materialize } from '../surgery/materialize.js';
import { spliceRobustBlock, type SpliceOptions } from '../surgery/splice.js';
import { widenResnet } from './make-large-model.js';
import type { InverseMethod } from '../surgery/robust-block/cayley-graph.js';
import { fileSize, seededUniform } from './measure.js';

export interface BlockBenchRow {
  variant: string;
  fileBytes: number;
  sessionMs: number;
  /** Median inference ms per batch size. */
  inferMs: Record<string, number>;
  /** Ratio to the original model at the same batch size. */
  ratio: Record<string, number>;
  note?: string;
}

export interface BlockBenchConfig {
  widen: number;
  height: number;
  width: number;
  batches: number[];
  reps: number;
  /** Also run the parametric Cayley forms (in-graph Q on every run: costly at paper scale). */
  parametricCayley: InverseMethod[];
  label: string;
}

/** The paper's setting: full-width ResNet-50 at 498 x 664, block input [1024, 32, 42]. */
export const PAPER_SCALE: BlockBenchConfig = { label: 'paper scale', widen: 8, height: 498, width: 664, batches: [1, 8], reps: 3, parametricCayley: [] };
/** A reduced setting (widths / 4, 128 x 160) where the in-graph Cayley forms can be timed too. */
export const REDUCED_SCALE: BlockBenchConfig = { label: 'reduced scale', widen: 2, height: 128, width: 160, batches: [1, 8], reps: 5, parametricCayley: ['schur', 'newton-schulz', 'com.microsoft'] };


async function timeModel(file: string, cfg: BlockBenchConfig, log: (s: string) => void, opts: RunnerOptions = {}): Promise<{ sessionMs: number; inferMs: Record<string, number> }> {
  const t0 = performance.now();
  // deployment settings: ONNX Runtime's full optimisations
  const session = await openRunner(file, { optimization: 'all', logSeverity: 3, ...opts });
  const sessionMs = performance.now() - t0;
  const inferMs: Record<string, number> = {};
  try {
    for (const b of cfg.batches) {
      const shape = [b, 3, cfg.height, cfg.width];
      const x = { elemType: DataType.FLOAT, dims: shape, data: seededUniform(shape.reduce((a, c) => a * c, 1)) };
      await session.run({ input: x }); // warm-up
      const ts: number[] = [];
      for (let r = 0; r < cfg.reps; r++) {
        const t = performance.now();
        await session.run({ input: x });
        ts.push(performance.now() - t);
      }
      ts.sort((a, c) => a - c);
      inferMs[`batch${b}`] = ts[Math.floor(ts.length / 2)]!;
      log(`    batch ${b}: ${inferMs[`batch${b}`]!.toFixed(0)} ms`);
    }
  } finally {
    await session.dispose();
  }
  return { sessionMs, inferMs };
}

export async function runBlockBench(repoRoot: string, cfg: BlockBenchConfig, log: (s: string) => void): Promise<BlockBenchRow[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'iqa-block-bench-'));
  try {
    const fixture = path.join(repoRoot, 'fixtures/models/resnet50_iqa.onnx');
    const base = widenResnet(fixture, cfg.widen);
    const bdims = base.graph.inputs[0]!.info!.type!.tensor_type!.shape!.dim!;
    bdims[2] = { dim_value: cfg.height };
    bdims[3] = { dim_value: cfg.width };
    const baseFile = path.join(dir, 'original.onnx');
    base.save(baseFile);
    const rows: BlockBenchRow[] = [];
    const bench = async (variant: string, file: string, note?: string, opts?: RunnerOptions): Promise<void> => {
      log(`  ${variant}`);
      const t = await timeModel(file, cfg, log, opts);
      const row: BlockBenchRow = { variant, fileBytes: fileSize(file), sessionMs: t.sessionMs, inferMs: t.inferMs, ratio: {} };
      if (note) row.note = note;
      rows.push(row);
    };
    await bench('original', baseFile);

    const spliced = async (name: string, opts: SpliceOptions, mat: boolean): Promise<string> => {
      const m = widenResnet(fixture, cfg.widen);
      const r = await spliceRobustBlock(m, { stage: 'layer3', inputShapes: { input: [1, 3, cfg.height, cfg.width] }, ...opts });
      // keep the batch dynamic: the block works per sample
      const dims = m.graph.inputs[0]!.info!.type!.tensor_type!.shape!.dim!;
      dims[0] = { dim_param: 'batch' };
      log(`  (${name}: block input [${r.inShape.join(',')}] -> [${r.outShape.join(',')}])`);
      if (mat) await materialize(m);
      const file = path.join(dir, `${name}.onnx`);
      m.save(file);
      return file;
    };

    await bench('AOL, materialized', await spliced('aol_mat', { orth: 'aol' }, true));
    await bench('AOL, parametric (in-graph rescaling)', await spliced('aol_param', { orth: 'aol' }, false));
    await bench('Cayley, materialized', await spliced('cayley_mat', { orth: 'cayley' }, true));
    for (const inverse of cfg.parametricCayley) {
      await bench(`Cayley, parametric (in-graph Q, ${inverse})`, await spliced(`cayley_param_${inverse}`, { orth: 'cayley', inverse }, false));
    }
    const baseRow = rows[0]!;
    for (const r of rows) for (const k of Object.keys(r.inferMs)) r.ratio[k] = r.inferMs[k]! / baseRow.inferMs[k]!;
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

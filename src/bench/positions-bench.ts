/**
 * The paper's four positions (issue 12): Linearity (ResNet-50 at 498 x 664, after layer3),
 * KonCept512 (Inception-ResNet-v2 at 384 x 512, after block8), DBCNN (VGG-16 + S-CNN with bilinear
 * pooling at 384 x 512, before conv5_3, with --restore-size so the bilinear join's sizes agree) and
 * TReS (ResNet-50 + transformer at 224 x 224, after layer3), full width with seeded weights
 * (paper-models.ts, make-large-model.ts). Per position: splice (trainable Cayley form, exact
 * inverse) and materialize, timed; then, each in a fresh child process, ONNX Runtime session
 * creation + one forward at batch 1 of the original, trainable and materialized files with the
 * child's peak RSS, and batch-8 inference of the original and materialized files run alternately
 * in one child (the overhead).
 * `half` halves the input sizes (full widths; a quicker check of the wiring, not the paper's setting).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Model } from '../ir/model.js';
import { materialize } from '../surgery/materialize.js';
import { spliceRobustBlock, type SpliceOptions } from '../surgery/splice.js';
import { widenResnet } from './make-large-model.js';
import { dbcnn, inceptionResnetV2, tres } from './paper-models.js';
import { fileSize, peakRss } from './measure.js';

export interface ChildRun {
  sessionMs: number;
  forwardMs: number;
  batch8Ms?: number;
  otherBatch8Ms?: number;
  peakRssBytes: number;
  score: number;
}

export interface PositionRow {
  position: string;
  input: [number, number];
  edge: string;
  blockIn: number[];
  blockOut: number[];
  spliceMs: number;
  materializeMs: number;
  /** Peak RSS of the benchmark process so far (build, splice, materialize, save). */
  parentPeakRssBytes: number;
  files: Record<'original' | 'trainable' | 'materialized', { bytes: number; run: ChildRun }>;
  /** Batch-8 medians of the original and the materialized model, run alternately in one process. */
  batch8Ms: { original: number; materialized: number };
  /** Materialized over original, batch 8. */
  overheadBatch8: number;
}


interface Position {
  name: string;
  build: () => { model: Model; edge?: string; stage?: string; input: [number, number] };
  splice: Partial<SpliceOptions>;
}

export function paperPositions(repoRoot: string): Position[] {
  return [
    {
      name: 'Linearity (ResNet-50, after layer3)',
      build: () => ({ model: widenResnet(path.join(repoRoot, 'fixtures/models/resnet50_iqa.onnx'), 8), stage: 'layer3', input: [498, 664] }),
      splice: {},
    },
    { name: 'KonCept512 (Inception-ResNet-v2, after block8)', build: () => fromProto(inceptionResnetV2()), splice: {} },
    { name: 'DBCNN (VGG-16 + S-CNN, before conv5_3)', build: () => fromProto(dbcnn()), splice: { restoreSize: true } },
    { name: 'TReS (ResNet-50 + transformer, after layer3)', build: () => fromProto(tres()), splice: {} },
  ];
}

function fromProto(p: { model: import('../onnx/proto-types.js').ModelProto; edge: string; input: [number, number] }): { model: Model; edge: string; input: [number, number] } {
  return { model: new Model(p.model), edge: p.edge, input: p.input };
}

function setInputSize(m: Model, [h, w]: [number, number]): void {
  const dims = m.graph.inputs[0]!.info!.type!.tensor_type!.shape!.dim!;
  dims[0] = { dim_param: 'batch' };
  dims[2] = { dim_value: h };
  dims[3] = { dim_value: w };
}

export async function runPositionsBench(repoRoot: string, log: (s: string) => void, opts: { only?: string[]; reps?: number; half?: boolean } = {}): Promise<PositionRow[]> {
  const child = fileURLToPath(new URL('./positions-child.js', import.meta.url));
  const rows: PositionRow[] = [];
  for (const pos of paperPositions(repoRoot)) {
    if (opts.only && !opts.only.some((o) => pos.name.toLowerCase().startsWith(o))) continue;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'iqa-positions-'));
    try {
      log(`== ${pos.name}`);
      const built = pos.build();
      if (opts.half) built.input = [Math.round(built.input[0] / 2), Math.round(built.input[1] / 2)];
      setInputSize(built.model, built.input);
      const files = { original: path.join(dir, 'original.onnx'), trainable: path.join(dir, 'trainable.onnx'), materialized: path.join(dir, 'materialized.onnx') };
      built.model.save(files.original);
      const shape = [1, 3, ...built.input];
      const where = built.stage !== undefined ? { stage: built.stage } : { edge: built.edge! };
      const t0 = performance.now();
      const r = await spliceRobustBlock(built.model, { ...where, inputShapes: { input: shape }, ...pos.splice });
      const spliceMs = performance.now() - t0;
      setInputSize(built.model, built.input);
      built.model.save(files.trainable);
      log(`  spliced on '${r.edge}': [${r.inShape.join(',')}] -> [${r.outShape.join(',')}], ${r.nodes.length} block nodes, ${(spliceMs / 1000).toFixed(1)} s`);
      const t1 = performance.now();
      await materialize(built.model);
      const materializeMs = performance.now() - t1;
      built.model.save(files.materialized);
      const parentPeakRssBytes = peakRss();
      log(`  materialized in ${(materializeMs / 1000).toFixed(1)} s; benchmark process peak RSS so far ${(parentPeakRssBytes / 1024 ** 3).toFixed(2)} GiB`);
      const results = {} as PositionRow['files'];
      for (const [kind, file] of Object.entries(files) as [keyof typeof files, string][]) {
        // the trainable file as a training engine runs it: without graph optimisations, which would
        // constant-fold the whole Q computation (it reads initializers only) at session creation
        const args = [child, file, String(built.input[0]), String(built.input[1]), kind === 'trainable' ? 'disabled' : 'all'];
        const run = JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 20 })) as ChildRun;
        results[kind] = { bytes: fileSize(file), run };
        log(
          `  ${kind.padEnd(12)} ${(fileSize(file) / 1e6).toFixed(0).padStart(6)} MB  session ${(run.sessionMs / 1000).toFixed(1)} s + forward ${(run.forwardMs / 1000).toFixed(1)} s (batch 1), peak RSS ${(run.peakRssBytes / 1024 ** 3).toFixed(2)} GiB`,
        );
      }
      const cmp = JSON.parse(
        execFileSync(process.execPath, [child, files.original, String(built.input[0]), String(built.input[1]), 'all', files.materialized, String(opts.reps ?? 5)], { encoding: 'utf8', maxBuffer: 1 << 20 }),
      ) as ChildRun;
      const batch8Ms = { original: cmp.batch8Ms!, materialized: cmp.otherBatch8Ms! };
      const overheadBatch8 = batch8Ms.materialized / batch8Ms.original;
      log(`  batch 8 (alternating, medians): original ${batch8Ms.original.toFixed(0)} ms, materialized ${batch8Ms.materialized.toFixed(0)} ms: overhead ${overheadBatch8.toFixed(2)}x (goal <= 1.3x)`);
      rows.push({ position: pos.name, input: built.input, edge: r.edge, blockIn: r.inShape, blockOut: r.outShape, spliceMs, materializeMs, parentPeakRssBytes, files: results, batch8Ms, overheadBatch8 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
}

/**
 * `npm run bench [-- --only io,startup,block,convgrad,mirror,structural,shrink,finetune,ortgrad,attacks]` (`--only positions [--positions linearity,koncept,dbcnn,tres] [--positions-half]`: the paper's four positions; `--only torch [--torch-size HxW]`: ONNX Runtime vs Debian's PyTorch; `--only nchwc`: ONNX Runtime's blocked-layout Conv on weights reordered in the graph; `--only blockstep [--blockstep-size half] [--blockstep-batches 8,32] [--blockstep-reps n] [--blockstep-micro n] [--blockstep-whole] [--blockstep-stage-sum-max-gb g]`: the RobustBlock training step; none of them in a default run): every benchmark, as ratios against a baseline measured in
 * the same process, printed and written to docs/benchmarks/latest.json (docs/BENCHMARKS.md
 * records the runs that matter, with the machine).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PAPER_SCALE, REDUCED_SCALE, runBlockBench, type BlockBenchRow } from './block-bench.js';
import { benchConvGrad, formatConvGradTable } from './conv-grad-bench.js';
import { runIoBench } from './io-bench.js';
import { runMirrorBench } from './mirror-bench.js';
import { runStructuralBench } from './structural-bench.js';
import { runFinetuneBench, runShrinkBench } from './prune-train-bench.js';
import { runOrtGradBench } from './ortgrad-bench.js';
import { runAttackBench } from './attack-bench.js';
import { runPositionsBench } from './positions-bench.js';
import { runTorchBench } from './torch-bench.js';
import { runBlockStepBench } from './block-step-bench.js';
import { runNchwcProbe } from './nchwc-probe.js';
import { runStartupBench } from './startup-bench.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
  return `${cpu}, ${os.cpus().length} cores, ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}`;
}

const onlyArg = process.argv.indexOf('--only');
const only = onlyArg >= 0 ? new Set((process.argv[onlyArg + 1] ?? '').split(',')) : undefined;
const want = (name: string): boolean => !only || only.has(name);

const results: Record<string, unknown> = { machine: machine(), date: new Date().toISOString() };
console.log(`machine: ${results.machine}`);

if (want('io')) {
  console.log('== I/O: load and save of a full-width ResNet-50 export (random weights)');
  const io = runIoBench(repoRoot);
  results.io = io;
  console.log(`file              ${(io.fileBytes / 1e6).toFixed(1)} MB`);
  console.log(`load  ${io.loadMs.toFixed(1)} ms vs fs.readFile ${io.rawReadMs.toFixed(1)} ms  -> ${io.loadRatio.toFixed(2)}x (goal <= 3x)`);
  console.log(`save  ${io.saveMs.toFixed(1)} ms vs fs write+fsync ${io.rawWriteMs.toFixed(1)} ms -> ${io.saveRatio.toFixed(2)}x (goal <= 3x)`);
  console.log(`peak memory (load+save, fresh process) ${(io.peakLoadSaveBytes / 1e6).toFixed(1)} MB -> ${io.peakRatio.toFixed(2)}x file (goal < 2.5x)`);
  console.log(`saved file byte-identical to the input: ${io.byteIdentical}`);
}

function printRows(rows: BlockBenchRow[]): void {
  for (const r of rows) {
    const ratios = Object.entries(r.ratio)
      .map(([k, v]) => `${k} ${r.inferMs[k]!.toFixed(0)} ms = ${v.toFixed(2)}x`)
      .join(', ');
    console.log(`  ${r.variant.padEnd(48)} ${(r.fileBytes / 1e6).toFixed(1).padStart(8)} MB  session ${r.sessionMs.toFixed(0).padStart(6)} ms  ${ratios}`);
  }
}

if (want('startup')) {
  console.log('== CLI start-up: esbuild bundle (what bin/iqa-surgeon.js runs) vs tsc modules, child processes');
  results.startup = await runStartupBench(repoRoot, (s) => console.log(s));
}

if (want('block')) {
  for (const cfg of [PAPER_SCALE, REDUCED_SCALE]) {
    console.log(`== RobustBlock on layer3 of a ResNet-50 IQA model (${cfg.label}: widths x${cfg.widen / 8}, ${cfg.height}x${cfg.width}), ONNX Runtime CPU`);
    const rows = await runBlockBench(repoRoot, cfg, (s) => console.log(s));
    results[`block_${cfg.label.replace(/ /g, '_')}`] = rows;
    printRows(rows);
  }
}

if (want('convgrad')) {
  console.log('== Conv2DBackpropFilter on the tfjs cpu backend: stock kernel vs the fast one, with the forward conv2d');
  const cg = await benchConvGrad({ log: (s) => console.log(s) });
  results.convgrad = cg;
  console.log(formatConvGradTable(cg));
}

if (want('mirror')) {
  console.log('== TensorFlow.js mirror vs ONNX Runtime (same model, batch and process): forward, forward+backward');
  results.mirror = await runMirrorBench(repoRoot, (s) => console.log(s));
}

if (want('shrink')) {
  console.log('== pruning: ONNX Runtime inference of the masked vs the shrunk model (10% l2)');
  results.shrink = await runShrinkBench(repoRoot, (s) => console.log(s));
}

if (want('finetune')) {
  console.log('== fine-tuning: step throughput vs ONNX Runtime forward; 5 epochs end to end on the embedded dataset');
  results.finetune = await runFinetuneBench(repoRoot, (s) => console.log(s));
}

if (want('ortgrad')) {
  console.log('== ONNX Runtime gradient engine (CPU): forward+backward vs forward of the unmodified file, PGD-8 end to end, ort vs tfjs');
  results.ortgrad = await runOrtGradBench(repoRoot, (s) => console.log(s));
}

if (want('attacks')) {
  console.log('== attacks: PGD-8 and UAP images/s per gradient engine, and a clean + PGD-1 + PGD-8 evaluation, vs ONNX Runtime forward');
  results.attacks = await runAttackBench(repoRoot, (s) => console.log(s));
}

if (want('structural')) {
  console.log('== structural commands on long chain models (fresh child processes, --max-nodes raised)');
  results.structural = await runStructuralBench((s) => console.log(s));
}

// never part of the default run: PyTorch (Debian's, /usr/bin/python3) against ONNX Runtime, minutes
if (only?.has('nchwc')) {
  console.log('== NCHWc probe (record): trained convs in ONNX Runtime\'s blocked layout, weights reordered in the graph');
  results.nchwc = await runNchwcProbe(repoRoot, (s) => console.log(s));
}

if (only?.has('torch')) {
  console.log('== ONNX Runtime vs PyTorch (record): ResNet-50 IQA, forward and PGD-8 per image, 1 thread and default threads');
  const sizeArg = process.argv.indexOf('--torch-size');
  const size = sizeArg >= 0 ? (process.argv[sizeArg + 1] ?? '').split('x').map(Number) : undefined;
  if (size && !(size.length === 2 && size.every((v) => Number.isInteger(v) && v >= 16 && v <= 4096))) throw new Error(`--torch-size '${process.argv[sizeArg + 1]}' must be HxW, integers 16..4096`);
  const repsArg = process.argv.indexOf('--torch-reps');
  const reps = repsArg >= 0 ? Number(process.argv[repsArg + 1]) : undefined;
  if (reps !== undefined && !(Number.isInteger(reps) && reps >= 1 && reps <= 100)) throw new Error('--torch-reps must be an integer 1..100');
  results.torch = await runTorchBench(repoRoot, (s) => console.log(s), { ...(size ? { size: [size[0]!, size[1]!] as [number, number] } : {}), ...(reps !== undefined ? { reps } : {}) });
}

// never part of the default run: the RobustBlock's training step at the paper's position (minutes, GBs; a child process under a memory cap)
if (only?.has('blockstep')) {
  const sizeArg = process.argv.indexOf('--blockstep-size');
  const size = sizeArg >= 0 ? process.argv[sizeArg + 1] : 'full';
  if (size !== 'full' && size !== 'half') throw new Error(`--blockstep-size must be full or half (got '${size}')`);
  const bArg = process.argv.indexOf('--blockstep-batches');
  const batches = bArg >= 0 ? (process.argv[bArg + 1] ?? '').split(',').map(Number) : undefined;
  if (batches && !batches.every((b) => Number.isInteger(b) && b >= 1 && b <= 256)) throw new Error('--blockstep-batches must list integers 1..256');
  console.log(`== RobustBlock training step (all weights trainable), patched vs unpatched ResNet-50 IQA (${size} size), ONNX Runtime CPU`);
  const rArg = process.argv.indexOf('--blockstep-reps');
  const reps = rArg >= 0 ? Number(process.argv[rArg + 1]) : undefined;
  if (reps !== undefined && !(Number.isInteger(reps) && reps >= 1 && reps <= 20)) throw new Error('--blockstep-reps must be an integer 1..20');
  const mArg = process.argv.indexOf('--blockstep-micro');
  const micro = mArg >= 0 ? Number(process.argv[mArg + 1]) : undefined;
  if (micro !== undefined && !(Number.isInteger(micro) && micro >= 1 && micro <= 256)) throw new Error('--blockstep-micro must be an integer 1..256');
  const sArg = process.argv.indexOf('--blockstep-stage-sum-max-gb');
  const stageGb = sArg > 0 ? Number(process.argv[sArg + 1]) : undefined;
  if (stageGb !== undefined && !(stageGb >= 0 && stageGb <= 1024)) throw new Error('--blockstep-stage-sum-max-gb must be a number of GB in [0, 1024]');
  results.blockstep = await runBlockStepBench(repoRoot, (s) => console.log(s), { size, ...(batches ? { batches } : {}), ...(reps !== undefined ? { reps } : {}), ...(micro !== undefined ? { micro } : {}), dryRun: process.argv.includes('--blockstep-dry'), whole: process.argv.includes('--blockstep-whole'), ...(stageGb !== undefined ? { stageSumMaxBytes: stageGb * 1e9 } : {}) });
}

// never part of the default run: full-width models of the paper's four positions (minutes, GBs)
if (only?.has('positions')) {
  const which = process.argv.indexOf('--positions');
  const sel = which >= 0 ? (process.argv[which + 1] ?? '').split(',').map((s) => s.toLowerCase()) : undefined;
  console.log('== the paper\'s four positions: splice + materialize, ONNX Runtime runs of the trainable and materialized files');
  const half = process.argv.includes('--positions-half');
  results.positions = await runPositionsBench(repoRoot, (s) => console.log(s), { ...(sel ? { only: sel } : {}), half });
}

const outDir = path.join(repoRoot, 'docs/benchmarks');
mkdirSync(outDir, { recursive: true });
writeFileSync(path.join(outDir, 'latest.json'), JSON.stringify(results, null, 2) + '\n');

/**
 * RobustBlock training-step cost (issue 15, a record): `npm run bench -- --only blockstep
 * [--blockstep-size half] [--blockstep-batches 8,32] [--blockstep-micro n] [--blockstep-dry]` (`--blockstep-dry`: the estimates only).
 *
 * Model: the full-width ResNet-50 IQA export (make-large-model.ts `widenResnet`) at 498x664 (the
 * Linearity position of positions-bench.ts), and the same model with the RobustBlock spliced after
 * layer3 in its trainable form (default splice options: parametric Cayley, Schur inverse; block
 * input [N,1024,32,42], reduce 1024 -> 512, orth 512 -> 1024, n = 32). `half` halves the input
 * (249x332, block input [N,1024,16,21]): a quick check of the wiring, not the paper's setting.
 * A training step is one gradient call of the ort engine with every weight trainable (what
 * finetune does), at batch 8 and 32; patched and unpatched run interleaved in one child process;
 * the ratio is patched / unpatched (medians).
 *
 * Memory: before anything runs, the static estimate (src/analysis/memory-estimate.ts) of each
 * all-weight gradient graph at each batch; a batch whose child (the larger of the two graphs plus
 * both engines' parameter copies) is estimated over 20 GB, or over the memory available now, is
 * skipped with the reason printed. The child runs with its oom_score_adj at 1000 and a watchdog
 * that kills it when its resident memory passes the cap (the smaller of 20 GB and what is
 * available when it starts), so it cannot take the machine down. After a batch whose patched step
 * took over 5 minutes, larger batches are skipped (said so). The estimate is of one session with
 * optimisations off; the child measured 1.6-1.8x its estimate at half size (two engines, the
 * gradient graphs built in JavaScript, ONNX Runtime's optimised copies), so the watchdog, not the
 * estimate, is what bounds it.
 * The selector `all` (finetune's default) takes the block's trainable weights but never its float
 * constants (DFT bases, the Schur inverse's unit vectors, the pool matrix; `blockConstants` in
 * src/differentiable/parameters.ts); runs before that fix differentiated those too.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { estimateMemory } from '../analysis/memory-estimate.js';
import { buildGradientGraph } from '../autodiff/index.js';
import { gradientForm } from '../differentiable/gradient-form.js';
import { selectTrainable } from '../differentiable/parameters.js';
import { Model } from '../ir/model.js';
import { spliceRobustBlock } from '../surgery/splice.js';
import type { BlockStepChildArgs, BlockStepChildResult } from './block-step-child.js';
import { widenResnet } from './make-large-model.js';
import { largeGraphEnv } from './measure.js';

export const ESTIMATE_LIMIT_BYTES = 20e9;
const SLOW_STEP_MS = 5 * 60 * 1000;

export interface BlockStepEstimate {
  variant: string;
  batch: number;
  bytes: number;
  peakActivationBytes: number;
  initializerBytes: number;
  unknownValues: number;
}

export interface BlockStepRow {
  batch: number;
  /** Images per engine call where the batch goes in slices (gradients summed). */
  micro?: number;
  /** Static estimate of the child (larger graph + both parameter copies). */
  childEstimateBytes: number;
  skipped?: string;
  result?: BlockStepChildResult;
  /** patched / unpatched, medians of the interleaved steps (wall time). */
  ratio?: number;
  /** The same in process CPU time. */
  cpuRatio?: number;
  /** With `whole`: the patched step run whole (the weight stage in every slice) over the patched step, wall time. */
  wholeRatio?: number;
  killed?: string;
}

export interface BlockStepBench {
  size: [number, number];
  block: { edge: string; inShape: number[]; outShape: number[]; options: string };
  params: { unpatched: number; patched: number };
  estimates: BlockStepEstimate[];
  rows: BlockStepRow[];
  load: { before: string; after?: string };
}

const GB = (b: number): string => `${(b / 1e9).toFixed(1)} GB`;

function setInputSize(m: Model, [h, w]: [number, number]): void {
  const dims = m.graph.inputs[0]!.info!.type!.tensor_type!.shape!.dim!;
  dims[0] = { dim_param: 'batch' };
  dims[2] = { dim_value: h };
  dims[3] = { dim_value: w };
}

/** MemAvailable of /proc/meminfo in bytes (the free memory of `free`), or the total where unreadable. */
export function availableBytes(): number {
  try {
    const m = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return os.freemem();
}

function rssOf(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

function uptime(): string {
  const [a, b, c] = os.loadavg();
  return `load average ${a!.toFixed(2)}, ${b!.toFixed(2)}, ${c!.toFixed(2)} (${os.availableParallelism()} cores)`;
}

/** Run the child with an RSS watchdog; resolves with its JSON, or the reason it was killed or failed. */
function runChild(args: BlockStepChildArgs, capBytes: number, log: (s: string) => void): Promise<{ result?: BlockStepChildResult; killed?: string }> {
  const script = fileURLToPath(new URL('./block-step-child.js', import.meta.url));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'], env: largeGraphEnv() });
    try {
      // the kernel's OOM killer takes this child first
      writeFileSync(`/proc/${child.pid}/oom_score_adj`, '1000');
    } catch {
      // not Linux, or not allowed: the watchdog still holds
    }
    let out = '';
    let killed: string | undefined;
    let peak = 0;
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => log(d.toString().replace(/\n$/, '')));
    const watch = setInterval(() => {
      const rss = rssOf(child.pid!);
      if (rss === undefined) return;
      peak = Math.max(peak, rss);
      if (rss > capBytes && !killed) {
        killed = `killed by the watchdog at ${GB(rss)} resident (cap ${GB(capBytes)})`;
        child.kill('SIGKILL');
      }
    }, 100);
    child.on('close', (code, signal) => {
      clearInterval(watch);
      if (killed) return resolve({ killed });
      if (code !== 0) return resolve({ killed: `exited ${code ?? signal} (peak resident seen ${GB(peak)})` });
      resolve({ result: JSON.parse(out.trim().split('\n').pop()!) as BlockStepChildResult });
    });
  });
}

export async function runBlockStepBench(repoRoot: string, log: (s: string) => void, opts: { size?: 'full' | 'half'; batches?: number[]; reps?: number; micro?: number; dryRun?: boolean; whole?: boolean; stageSumMaxBytes?: number } = {}): Promise<BlockStepBench> {
  const size: [number, number] = opts.size === 'half' ? [249, 332] : [498, 664];
  const batches = opts.batches ?? [8, 32];
  const reps = opts.reps ?? 2;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'iqa-blockstep-'));
  const load = { before: uptime() } as BlockStepBench['load'];
  try {
    const unpatched = widenResnet(path.join(repoRoot, 'fixtures/models/resnet50_iqa.onnx'), 8);
    setInputSize(unpatched, size);
    const files = { unpatched: path.join(dir, 'unpatched.onnx'), patched: path.join(dir, 'patched.onnx') };
    unpatched.save(files.unpatched);
    const patched = Model.load(files.unpatched);
    const r = await spliceRobustBlock(patched, { stage: 'layer3', inputShapes: { input: [1, 3, ...size] } });
    setInputSize(patched, size);
    patched.save(files.patched);
    const o = r.options;
    const block = { edge: r.edge, inShape: r.inShape, outShape: r.outShape, options: `${o.orth} ${o.form}${o.orth === 'cayley' && o.form === 'parametric' ? ` (${o.inverse} inverse)` : ''}` };
    log(`  ${size[0]}x${size[1]}: RobustBlock after layer3 on '${r.edge}': [${r.inShape.join(',')}] -> [${r.outShape.join(',')}] (${JSON.stringify(o)})`);

    // dry estimates of the all-weight gradient graphs (as the engine builds them) at each batch
    const estimates: BlockStepEstimate[] = [];
    const params = { unpatched: 0, patched: 0 };
    const paramBytes: Record<string, number> = {};
    for (const [variant, model] of [['unpatched', unpatched], ['patched', patched]] as const) {
      const names = await selectTrainable(model, ['all']);
      params[variant] = names.length;
      paramBytes[variant] = names.reduce((s, n) => s + 4 * model.graph.lookup(n)!.declaredShape!.reduce<number>((a, d) => a * (typeof d === 'number' ? d : 1), 1), 0);
      const grad = buildGradientGraph(gradientForm(model).model, { loss: { kind: 'cotangents', outputs: ['score'] }, inputs: [], params: names });
      for (const batch of new Set(batches.map((b) => Math.min(b, opts.micro ?? b)))) {
        // every input with a batch dim gets its size (a symbolic dim left open is taken as 1, which
        // would contradict the image's batch and leave every shape unknown)
        const e = estimateMemory(grad.model, { inputShapes: { input: [batch, 3, ...size], [grad.feeds.cotangents.score!]: [batch, 1] } });
        estimates.push({ variant, batch, bytes: e.bytes, peakActivationBytes: e.peakActivationBytes, initializerBytes: e.initializerBytes, unknownValues: e.unknownValues });
        log(`  estimate, ${variant}, batch ${batch}: ${GB(e.bytes)} (peak activations ${GB(e.peakActivationBytes)}, initializers ${GB(e.initializerBytes)}${e.unknownValues ? `, ${e.unknownValues} values of unknown size not counted` : ''})`);
      }
    }

    const rows: BlockStepRow[] = [];
    let tooSlow: string | undefined;
    for (const batch of batches) {
      // the engine's memory is a slice's: the estimate of the micro-batch, plus the summed gradients
      const micro = opts.micro !== undefined && opts.micro < batch ? opts.micro : undefined;
      const per = estimates.filter((e) => e.batch === (micro ?? batch));
      const childEstimateBytes = Math.max(...per.map((e) => e.bytes)) + paramBytes.unpatched! + paramBytes.patched! + (micro ? Math.max(paramBytes.unpatched!, paramBytes.patched!) : 0);
      const row: BlockStepRow = { batch, ...(micro ? { micro } : {}), childEstimateBytes };
      rows.push(row);
      const avail = availableBytes();
      if (opts.dryRun) row.skipped = 'dry run: estimates only';
      else if (tooSlow) row.skipped = tooSlow;
      else if (childEstimateBytes > ESTIMATE_LIMIT_BYTES) row.skipped = `estimated ${GB(childEstimateBytes)} (over ${GB(ESTIMATE_LIMIT_BYTES)}): not run`;
      else if (childEstimateBytes > avail - 1e9) row.skipped = `estimated ${GB(childEstimateBytes)}, but only ${GB(avail)} available now (the machine is shared): not run`;
      if (row.skipped) {
        log(`  batch ${batch}: skipped: ${row.skipped}`);
        continue;
      }
      const cap = Math.min(ESTIMATE_LIMIT_BYTES, avail - 1e9);
      log(`  batch ${batch}${micro ? ` in engine calls of ${micro}` : ''}: child estimated ${GB(childEstimateBytes)}, ${GB(avail)} available, watchdog cap ${GB(cap)}; ${uptime()}`);
      const variants: Record<string, string> = opts.whole ? { ...files, 'patched-whole': files.patched } : files;
      const res = await runChild({ files: variants, batch, ...(micro ? { micro } : {}), h: size[0], w: size[1], reps, ...(opts.whole ? { whole: ['patched-whole'] } : {}), ...(opts.stageSumMaxBytes !== undefined ? { stageSumMaxBytes: opts.stageSumMaxBytes } : {}) }, cap, log);
      if (res.killed) {
        row.killed = res.killed;
        log(`  batch ${batch}: ${res.killed}`);
        continue;
      }
      row.result = res.result!;
      const m = row.result.medianMs;
      const mc = row.result.medianCpuMs;
      row.ratio = m.patched! / m.unpatched!;
      row.cpuRatio = mc.patched! / mc.unpatched!;
      log(`  batch ${batch}: step unpatched ${(m.unpatched! / 1000).toFixed(1)} s (CPU ${(mc.unpatched! / 1000).toFixed(1)} s), patched ${(m.patched! / 1000).toFixed(1)} s (CPU ${(mc.patched! / 1000).toFixed(1)} s) -> ${row.ratio.toFixed(2)}x wall, ${row.cpuRatio.toFixed(2)}x CPU (child peak RSS ${GB(row.result.peakRssBytes)})`);
      if (m['patched-whole'] !== undefined) {
        row.wholeRatio = m['patched-whole'] / m.patched!;
        log(`  batch ${batch}: patched run whole (the weight stage in every engine call) ${(m['patched-whole'] / 1000).toFixed(1)} s (CPU ${(mc['patched-whole']! / 1000).toFixed(1)} s): ${row.wholeRatio.toFixed(2)}x the patched step with the stage hoisted`);
      }
      if (row.result.medianMs.patched! > SLOW_STEP_MS) tooSlow = `the patched step at batch ${batch} took ${(row.result.medianMs.patched! / 60000).toFixed(1)} min (over 5 min): larger batches not run`;
    }
    load.after = uptime();
    return { size, block, params, estimates, rows, load };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * ONNX Runtime gradient engine benchmark (issue 15), `npm run bench -- --only ortgrad`.
 *
 * Model: a full-width ResNet-50 IQA export (torchvision widths, random weights) generated when
 * the benchmark runs (make-large-model.ts), at 224x224 and 498x664, batch 1. Every ratio's
 * baseline is ONNX Runtime's forward of the unmodified file with default session options, timed
 * in the same process. Measured on ORT CPU:
 * - forward+backward / forward, steady state (median of `reps` after a warm-up), for input
 *   gradients (every weight constant; also with the textbook rule forms, src/ops/grad-layout.ts
 *   off) and for all-weight gradients (every weight an input);
 * - PGD-8 on one image at 498x664 end to end through `iqa-surgeon attack` in a child process
 *   (start-up, model load, sessions, 8 gradient steps, scoring, PNG writing), in forwards;
 * - PGD-8 images/s of the ort engine against the tfjs engine on the same model (a smaller one
 *   than the paper's: the mirror needs minutes per image at full width and 498x664);
 * - an ORT profile of one gradient run per request: time by op type, forward nodes vs the
 *   gradient graph's nodes (named grad/...), so the costly gradient rules are visible.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { scoreObjective } from '../attacks/objective.js';
import { pgd } from '../attacks/pgd.js';
import { pixelMap } from '../attacks/pixels.js';
import { resolveScoreSpec } from '../attacks/score.js';
import { resolvePreprocess } from '../data/preprocess.js';
import type { DifferentiableModel, HostTensor } from '../differentiable/model.js';
import { createEngine, type EngineChoice } from '../engines/factory.js';
import { OrtEngine } from '../engines/ort-engine.js';
import { Model } from '../ir/model.js';
import { DataType } from '../onnx/data-types.js';
import { BLOCKED_LAYOUT } from '../ops/grad-layout.js';
import { openRunner } from '../runtime/index.js';
import { makeDefaultDataset } from '../data/make-default.js';
import { widenResnet } from './make-large-model.js';
import { median } from './measure.js';

export interface GradRow {
  size: string;
  forwardMs: number;
  /** stepMs over forwardMs, both medians of the interleaved runs. */
  inputGrad: { sessionMs: number; stepMs: number; forwardMs: number; ratio: number; cpuRatio: number };
  /** Input gradients with the textbook rule forms (src/ops/grad-layout.ts off), for comparison. */
  inputGradTextbook?: { stepMs: number; forwardMs: number; ratio: number; cpuRatio: number };
  weightGrad?: { sessionMs: number; stepMs: number; forwardMs: number; ratio: number; cpuRatio: number; params: number };
}

export interface ProfileRow {
  request: string;
  totalMs: number;
  forwardNodesMs: number;
  gradientNodesMs: number;
  top: { opType: string; part: 'forward' | 'gradient'; ms: number; share: number; nodes: number }[];
}

export interface OrtGradBench {
  model: string;
  threads: string;
  rows: GradRow[];
  /** The median of three end-to-end runs, each divided by the mean of forward timings just before and after it. */
  pgd?: { size: string; wallMs: number; forwardMs: number; forwards: number; runs: { wallMs: number; forwardMs: number; forwards: number }[]; goal: number };
  vsTfjs?: { model: string; size: string; ortImagesPerSecond: number; tfjsImagesPerSecond: number; ratio: number; note: string };
  profile: ProfileRow[];
}


export function seeded(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 4294967296 - 0.5) * 2;
  }
  return out;
}

async function timeIt(reps: number, f: () => Promise<unknown>): Promise<number> {
  await f();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await f();
    ts.push(performance.now() - t);
  }
  return median(ts);
}

/** The widened ResNet-50 with its input declared [batch, 3, h, w], saved to `file`. */
export function makeModel(repoRoot: string, widen: number, h: number, w: number, file: string): void {
  const m = widenResnet(path.join(repoRoot, 'fixtures/models/resnet50_iqa.onnx'), widen);
  const dims = m.graph.inputs[0]!.info!.type!.tensor_type!.shape!.dim!;
  dims[2] = { dim_value: h };
  dims[3] = { dim_value: w };
  m.save(file);
}

export type Baseline = { run(): Promise<unknown>; dispose(): Promise<void> };

/** ORT forward of the unmodified file, default session options (ORT's: full optimisation, default threads). */
export async function baseline(file: string, x: HostTensor, threads?: number): Promise<Baseline> {
  const r = await openRunner(file, { optimization: 'all', ...(threads !== undefined ? { intraOpThreads: threads } : {}) });
  const feed = { input: { elemType: DataType.FLOAT, dims: x.dims, data: x.data as Float32Array } };
  await r.run(feed);
  return { run: () => r.run(feed), dispose: () => r.dispose() };
}

/**
 * Steady-state gradient step against the baseline forward, interleaved (forward, step, forward,
 * step, ...) so that the load of a shared machine weighs on both alike; medians of each.
 */
async function gradStep(file: string, x: HostTensor, reps: number, weights: boolean, base: Baseline, log: (s: string) => void, opts: { textbook?: boolean } = {}): Promise<{ sessionMs: number; stepMs: number; forwardMs: number; cpuRatio: number; params: number }> {
  const engine = await OrtEngine.create(Model.load(file), weights ? { trainable: ['all'] } : {});
  try {
    const ct = { score: { dims: [x.dims[0]!, 1], data: new Float32Array(x.dims[0]!).fill(1) } };
    const wrt = weights ? {} : { inputs: ['input'], params: [] };
    const t0 = performance.now();
    // the gradient graph is built on the first call: the textbook forms only for that build
    const was = BLOCKED_LAYOUT.enabled;
    BLOCKED_LAYOUT.enabled = was && opts.textbook !== true;
    try {
      await engine.gradients({ input: x }, ct, wrt);
    } finally {
      BLOCKED_LAYOUT.enabled = was;
    }
    const sessionMs = performance.now() - t0;
    const fs: number[] = [];
    const gs: number[] = [];
    // process CPU time too (user + system, all threads): less sensitive to other processes' load
    const fc: number[] = [];
    const gc: number[] = [];
    for (let i = 0; i < reps; i++) {
      let t = performance.now();
      let c = cpuMs();
      await base.run();
      fs.push(performance.now() - t);
      fc.push(cpuMs() - c);
      t = performance.now();
      c = cpuMs();
      await engine.gradients({ input: x }, ct, wrt);
      gs.push(performance.now() - t);
      gc.push(cpuMs() - c);
    }
    log(`    ${weights ? 'all-weight' : 'input'} gradients${opts.textbook ? ' (textbook forms)' : ''}: first call (session build + run) ${sessionMs.toFixed(0)} ms; interleaved forward ${fs.map((t) => t.toFixed(0)).join(', ')} ms, step ${gs.map((t) => t.toFixed(0)).join(', ')} ms`);
    const cpuRatio = median(gc) / median(fc);
    log(`      CPU time: forward ${median(fc).toFixed(0)} ms, step ${median(gc).toFixed(0)} ms = ${cpuRatio.toFixed(2)}x`);
    return { sessionMs, stepMs: median(gs), forwardMs: median(fs), cpuRatio, params: engine.trainableNames().length };
  } finally {
    engine.dispose();
  }
}

interface TraceEvent {
  cat?: string;
  name?: string;
  dur?: number;
  args?: { op_name?: string };
}

/** Time by op type and part (forward / gradient nodes) of one ORT profile file. */
function summarizeProfile(file: string, request: string): ProfileRow {
  const events = JSON.parse(readFileSync(file, 'utf8')) as TraceEvent[];
  const by = new Map<string, { opType: string; part: 'forward' | 'gradient'; us: number; nodes: Set<string> }>();
  let total = 0;
  let fwd = 0;
  let grad = 0;
  // one profiled run after the warm-up run: kernel events of the last run only
  const kernels = events.filter((e) => e.cat === 'Node' && e.name?.endsWith('_kernel_time'));
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
  const lastRunStart = runs.length ? (runs[runs.length - 1] as { ts?: number }).ts ?? 0 : 0;
  for (const e of kernels) {
    if (((e as { ts?: number }).ts ?? 0) < lastRunStart) continue;
    const node = e.name!.slice(0, -'_kernel_time'.length);
    const part = node.startsWith('grad/') || node.includes('grad/') ? 'gradient' : 'forward';
    const opType = e.args?.op_name ?? '?';
    const key = `${part}:${opType}`;
    const entry = by.get(key) ?? { opType, part, us: 0, nodes: new Set<string>() };
    entry.us += e.dur ?? 0;
    entry.nodes.add(node);
    by.set(key, entry);
    total += e.dur ?? 0;
    if (part === 'gradient') grad += e.dur ?? 0;
    else fwd += e.dur ?? 0;
  }
  const top = [...by.values()].sort((a, b) => b.us - a.us).slice(0, 10).map((v) => ({ opType: v.opType, part: v.part, ms: v.us / 1000, share: total ? v.us / total : 0, nodes: v.nodes.size }));
  return { request, totalMs: total / 1000, forwardNodesMs: fwd / 1000, gradientNodesMs: grad / 1000, top };
}

async function profileRequest(file: string, x: HostTensor, weights: boolean, dir: string): Promise<ProfileRow> {
  const prefix = path.join(dir, `profile-${weights ? 'weights' : 'input'}`);
  const engine = await OrtEngine.create(Model.load(file), { ...(weights ? { trainable: ['all'] } : {}), profilePrefix: prefix });
  try {
    const ct = { score: { dims: [x.dims[0]!, 1], data: new Float32Array(x.dims[0]!).fill(1) } };
    const wrt = weights ? {} : { inputs: ['input'], params: [] };
    await engine.gradients({ input: x }, ct, wrt);
    await engine.gradients({ input: x }, ct, wrt);
    await engine.endProfiling();
  } finally {
    engine.dispose();
  }
  const files = readdirSync(dir).filter((f) => f.startsWith(path.basename(prefix)) && f.endsWith('.json'));
  const newest = files.map((f) => path.join(dir, f)).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  if (!newest) throw new Error(`no ONNX Runtime profile written under ${dir}`);
  return summarizeProfile(newest, weights ? 'all-weight gradients' : 'input gradients');
}

/** Process CPU time so far (user + system, all threads), ms. */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * PGD-8 (eps 8/255, step 1/255) through the library's pgd on `engine`, one image at a time: wall
 * and process CPU seconds per image; with `warmup`, one untimed PGD-1 first (session builds and
 * first-run allocations left out).
 */
export async function pgdSecondsPerImage(engine: DifferentiableModel, h: number, w: number, images: number, opts: { warmup?: boolean } = {}): Promise<{ wall: number; cpu: number }> {
  const pre = resolvePreprocess({ size: [h, w] });
  const objective = scoreObjective(engine, resolveScoreSpec(engine.outputNames, new Map()), pixelMap(pre, h * w), [3, h, w]);
  if (opts.warmup) await pgd(objective, Float32Array.from(seeded(3 * h * w, 4), (v) => 0.5 + 0.4 * v), 1, { eps: 8 / 255, step: 1 / 255, iters: 1, direction: 'up', randomStart: false, seed: 0 });
  const t = performance.now();
  const c = cpuMs();
  for (let i = 0; i < images; i++) {
    const px = Float32Array.from(seeded(3 * h * w, 5 + i), (v) => 0.5 + 0.4 * v);
    await pgd(objective, px, 1, { eps: 8 / 255, step: 1 / 255, iters: 8, direction: 'up', randomStart: false, seed: 0 });
  }
  return { wall: (performance.now() - t) / 1000 / images, cpu: (cpuMs() - c) / 1000 / images };
}

/** PGD-8 images per second (wall) through the library's pgd on `engine`. */
export async function pgdImagesPerSecond(engine: DifferentiableModel, h: number, w: number, images: number, opts: { warmup?: boolean } = {}): Promise<number> {
  return 1 / (await pgdSecondsPerImage(engine, h, w, images, opts)).wall;
}

export async function runOrtGradBench(repoRoot: string, log: (s: string) => void, opts: { reps?: number; sizes?: [number, number][]; weightsAtLarge?: boolean } = {}): Promise<OrtGradBench> {
  const reps = opts.reps ?? 5;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'iqa-ortgrad-bench-'));
  const out: OrtGradBench = { model: 'ResNet-50 IQA export widened to torchvision widths (random weights), batch 1', threads: `ONNX Runtime default intra-op threads (${os.availableParallelism()} cores)`, rows: [], profile: [] };
  try {
    for (const [h, w] of opts.sizes ?? [[224, 224], [498, 664]]) {
      const file = path.join(dir, `resnet50-${h}x${w}.onnx`);
      makeModel(repoRoot, 8, h, w, file);
      const x: HostTensor = { dims: [1, 3, h, w], data: seeded(3 * h * w, 1) };
      log(`  ${h}x${w}:`);
      let row: GradRow;
      const base = await baseline(file, x);
      let f: number;
      try {
        f = await timeIt(reps, () => base.run());
        log(`    ORT forward (unmodified file, default options) ${f.toFixed(0)} ms`);
        const ig = await gradStep(file, x, reps, false, base, log);
        row = { size: `${h}x${w}`, forwardMs: f, inputGrad: { sessionMs: ig.sessionMs, stepMs: ig.stepMs, forwardMs: ig.forwardMs, ratio: ig.stepMs / ig.forwardMs, cpuRatio: ig.cpuRatio } };
        log(`    input gradients ${ig.stepMs.toFixed(0)} ms = ${row.inputGrad.ratio.toFixed(2)}x forward (goal <= 3x)`);
        const tb = await gradStep(file, x, reps, false, base, log, { textbook: true });
        row.inputGradTextbook = { stepMs: tb.stepMs, forwardMs: tb.forwardMs, ratio: tb.stepMs / tb.forwardMs, cpuRatio: tb.cpuRatio };
        log(`    input gradients, textbook rule forms (no blocked layout): ${tb.stepMs.toFixed(0)} ms = ${row.inputGradTextbook.ratio.toFixed(2)}x forward`);
        if (h * w <= 224 * 224 || opts.weightsAtLarge !== false) {
          const wg = await gradStep(file, x, reps, true, base, log);
          row.weightGrad = { sessionMs: wg.sessionMs, stepMs: wg.stepMs, forwardMs: wg.forwardMs, ratio: wg.stepMs / wg.forwardMs, cpuRatio: wg.cpuRatio, params: wg.params };
          log(`    all-weight gradients (${wg.params} parameters) ${wg.stepMs.toFixed(0)} ms = ${row.weightGrad.ratio.toFixed(2)}x forward (goal <= 3.5x)`);
        }
        // the forward again, just before the end-to-end PGD below
        f = await timeIt(reps, () => base.run());
      } finally {
        await base.dispose();
      }
      out.rows.push(row);
      if (h === 224) {
        for (const weights of [false, true]) {
          const p = await profileRequest(file, x, weights, dir);
          out.profile.push(p);
          log(`    profile, ${p.request}: kernels ${p.totalMs.toFixed(0)} ms (forward nodes ${p.forwardNodesMs.toFixed(0)}, gradient nodes ${p.gradientNodesMs.toFixed(0)}); top: ${p.top.slice(0, 6).map((t) => `${t.part} ${t.opType} ${(t.share * 100).toFixed(0)}%`).join(', ')}`);
        }
      }
      if (h === 498) {
        // PGD-8 end to end through the CLI, in a child process (start-up included)
        const data = path.join(dir, 'data');
        await makeDefaultDataset({ out: data, size: 1, seed: 3, width: w, height: h });
        const bin = path.join(repoRoot, 'bin/iqa-surgeon.js');
        // three runs, each between two forward timings of the unmodified file in this process (the
        // host's speed drifts by tens of percent within minutes); the median run is reported
        const probe = await baseline(file, x);
        const runs: { wallMs: number; forwardMs: number; forwards: number }[] = [];
        try {
          for (let k = 0; k < 3; k++) {
            const before = await timeIt(reps, () => probe.run());
            const t = performance.now();
            execFileSync(process.execPath, [bin, 'attack', file, '--attack', 'pgd', '--eps', '8', '--iters', '8', '--engine', 'ort', '--data', data, '--max-images', '1', '--out', path.join(dir, `attack-out-${k}`)], { stdio: ['ignore', 'ignore', 'pipe'] });
            const wallMs = performance.now() - t;
            const after = await timeIt(reps, () => probe.run());
            runs.push({ wallMs, forwardMs: (before + after) / 2, forwards: wallMs / ((before + after) / 2) });
          }
        } finally {
          await probe.dispose();
        }
        const mid = [...runs].sort((a, b) => a.forwards - b.forwards)[1]!;
        out.pgd = { size: `${h}x${w}`, wallMs: mid.wallMs, forwardMs: mid.forwardMs, forwards: mid.forwards, runs, goal: 30 };
        log(`    PGD-8 through 'attack' (child process, start-up included), median of 3: ${(mid.wallMs / 1000).toFixed(1)} s = ${mid.forwards.toFixed(1)} forwards of ${mid.forwardMs.toFixed(0)} ms (runs: ${runs.map((r) => r.forwards.toFixed(1)).join(', ')}; goal <= 30)`);
      }
      rmSync(file, { force: true });
    }
    // PGD-8 throughput, ort vs tfjs, on a model the mirror finishes in minutes
    const [h, w] = [224, 224];
    const small = path.join(dir, 'resnet50-small.onnx');
    makeModel(repoRoot, 2, h, w, small);
    const rate = async (engine: EngineChoice, images: number): Promise<number> => {
      const e = await createEngine({ model: Model.load(small), engine, ...(engine === 'tfjs' ? { backend: 'cpu' as const } : {}) });
      try {
        return await pgdImagesPerSecond(e, h, w, images);
      } finally {
        e.dispose();
      }
    };
    const ort = await rate('ort', 4);
    log(`  PGD-8 ort engine: ${ort.toFixed(3)} images/s`);
    const tf = await rate('tfjs', 1);
    log(`  PGD-8 tfjs engine: ${tf.toFixed(4)} images/s -> ort ${(ort / tf).toFixed(1)}x (goal >= 20x)`);
    out.vsTfjs = { model: 'ResNet-50 IQA export at widths x2 of the reduced export (1/4 of torchvision widths)', size: `${h}x${w}`, ortImagesPerSecond: ort, tfjsImagesPerSecond: tf, ratio: ort / tf, note: 'the full-width model at 498x664 takes the tfjs mirror minutes per PGD step; both engines ran the same smaller model, batch 1 per image' };
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

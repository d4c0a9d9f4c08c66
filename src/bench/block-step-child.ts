/**
 * Child process of the RobustBlock training-step benchmark (block-step-bench.ts): one ort engine
 * per file, every weight trainable (what finetune does), ONNX Runtime's memory arena off (so the
 * process peaks at the larger step, not the sum of both); a training step is one `gradients`
 * call with the score's cotangent at batch `batch`, or with `micro`, the parameter gradients of
 * slices of that many images summed (src/train/micro-batches.ts, as `finetune --micro-batch`: the
 * engine computes the block's weight stage once per step, unless the variant is listed in `whole`). The first call of each engine (gradient
 * graph, session, first run) is timed apart; then `reps` rounds, each one step of every file in
 * turn (interleaved, so the load of a shared machine weighs on both alike). Prints JSON on stdout,
 * progress on stderr.
 */
import { fileURLToPath } from 'node:url';
import type { HostTensor } from '../differentiable/model.js';
import { OrtEngine } from '../engines/ort-engine.js';
import { Model } from '../ir/model.js';
import { summedParamGrads } from '../train/micro-batches.js';
import { median, peakRss } from './measure.js';
import { cpuMs, seeded } from './ortgrad-bench.js';

export interface BlockStepChildArgs {
  /** Variant name -> model file (steps run in this order within each round). */
  files: Record<string, string>;
  batch: number;
  /** Images per engine call (default: the whole batch). */
  micro?: number;
  h: number;
  w: number;
  reps: number;
  /** Variants whose engine runs the model whole (no weight stage hoisted: src/engines/weight-stage.ts). */
  whole?: string[];
  /** The engines' `stageSumMaxBytes` (default: theirs). */
  stageSumMaxBytes?: number;
}

export interface BlockStepChildResult {
  batch: number;
  firstMs: Record<string, number>;
  stepsMs: Record<string, number[]>;
  /** Process CPU time of each step (all threads, user + system): less sensitive to other processes. */
  stepsCpuMs: Record<string, number[]>;
  medianMs: Record<string, number>;
  medianCpuMs: Record<string, number>;
  params: Record<string, number>;
  peakRssBytes: number;
}

async function main(): Promise<void> {
  const a = JSON.parse(process.argv[2] ?? '{}') as BlockStepChildArgs;
  const names = Object.keys(a.files);
  const engines = new Map<string, OrtEngine>();
  for (const n of names) engines.set(n, await OrtEngine.create(Model.load(a.files[n]!), { trainable: ['all'], memoryArena: false, hoistWeights: !a.whole?.includes(n), ...(a.stageSumMaxBytes !== undefined ? { stageSumMaxBytes: a.stageSumMaxBytes } : {}) }));
  const x: HostTensor = { dims: [a.batch, 3, a.h, a.w], data: seeded(a.batch * 3 * a.h * a.w, 1) };
  const ct = { score: { dims: [a.batch, 1], data: new Float32Array(a.batch).fill(1 / a.batch) } };
  let lastCpu = 0;
  const step = async (n: string): Promise<number> => {
    const t = performance.now();
    const c = cpuMs();
    const per = 3 * a.h * a.w;
    const grads = await summedParamGrads(engines.get(n)!, a.batch, a.micro ?? a.batch, (s, k) => ({
      feeds: { input: { dims: [k, 3, a.h, a.w], data: x.data.subarray(s * per, (s + k) * per) } },
      cotangents: { score: { dims: [k, 1], data: ct.score.data.subarray(s, s + k) } },
    }), {});
    for (const [p, g] of Object.entries(grads)) if (!(g.data as Float32Array).every(Number.isFinite)) throw new Error(`${n}: the gradient of '${p}' is not finite`);
    lastCpu = cpuMs() - c;
    return performance.now() - t;
  };
  const out: BlockStepChildResult = { batch: a.batch, firstMs: {}, stepsMs: {}, stepsCpuMs: {}, medianMs: {}, medianCpuMs: {}, params: {}, peakRssBytes: 0 };
  for (const n of names) {
    out.firstMs[n] = await step(n);
    out.stepsMs[n] = [];
    out.stepsCpuMs[n] = [];
    out.params[n] = engines.get(n)!.trainableNames().length;
    process.stderr.write(`    batch ${a.batch} ${n}: first call (gradient graph, session, run) ${(out.firstMs[n] / 1000).toFixed(1)} s, peak RSS so far ${(peakRss() / 2 ** 30).toFixed(2)} GiB\n`);
  }
  for (let r = 0; r < a.reps; r++) {
    for (const n of names) {
      const ms = await step(n);
      out.stepsMs[n]!.push(ms);
      out.stepsCpuMs[n]!.push(lastCpu);
      process.stderr.write(`    batch ${a.batch} ${n}: step ${(ms / 1000).toFixed(1)} s (CPU ${(lastCpu / 1000).toFixed(1)} s)\n`);
    }
  }
  for (const n of names) {
    out.medianMs[n] = median(out.stepsMs[n]!);
    out.medianCpuMs[n] = median(out.stepsCpuMs[n]!);
  }
  for (const e of engines.values()) e.dispose();
  out.peakRssBytes = peakRss();
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await main();

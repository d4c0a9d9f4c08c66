/**
 * ONNX Runtime against Debian's PyTorch on the same architecture (issue 15, a record, not a goal):
 * `npm run bench -- --only torch [--torch-size HxW] [--torch-reps n]`.
 *
 * PyTorch side: scripts/torch-pgd-bench.py under /usr/bin/python3 (Debian's python3-torch; the
 * benchmark prints one skip line when that python cannot import torch and torchvision), at 1 and
 * 2 threads: forward, input-gradient step, all-weight gradient step, PGD-8 per image.
 * ONNX Runtime side, in this process, same run: the full-width ResNet-50 IQA export
 * (make-large-model.ts, the same architecture with BatchNorm folded into the convs, as the
 * PyTorch script does) at the same size, batch 1: forward of the unmodified file (default
 * session options, optimisation all) at 1 intra-op thread and at ONNX Runtime's default, and
 * PGD-8 per image through the library's pgd on the ort engine at 1 thread and the default.
 * Ratios are ORT time / PyTorch time (below 1: ONNX Runtime is faster), 1 thread against 1 thread
 * and default threads against PyTorch at 2 threads (this machine's core count, say the rows), in
 * wall time and in process CPU time (all threads), the latter less sensitive to other processes.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { HostTensor } from '../differentiable/model.js';
import { OrtEngine } from '../engines/ort-engine.js';
import { Model } from '../ir/model.js';
import { median } from './measure.js';
import { baseline, cpuMs, makeModel, pgdSecondsPerImage, seeded } from './ortgrad-bench.js';

export const TORCH_PYTHON = '/usr/bin/python3';

export interface TorchRow {
  threads: number;
  forward_ms: number;
  input_grad_ms: number;
  weight_grad_ms: number;
  input_grad_ratio: number;
  weight_grad_ratio: number;
  pgd8_s_per_image: number;
  pgd8_forwards: number;
  /** Process CPU time (all threads, user + system). */
  cpu: { forward_ms: number; input_grad_ms: number; weight_grad_ms: number; pgd8_s_per_image: number };
}

export interface TorchSide {
  torch: string;
  model: string;
  size: [number, number];
  params: number;
  rows: TorchRow[];
}

export interface OrtRow {
  threads: string;
  forwardMs: number;
  pgd8SecondsPerImage: number;
  pgd8Forwards: number;
  /** Process CPU time (all threads, user + system): median forward, PGD-8 per image. */
  cpu: { forwardMs: number; pgd8SecondsPerImage: number };
  /** ORT over PyTorch at the matching thread count, wall time and CPU time. */
  vsTorch: { torchThreads: number; forward: number; pgd8: number; cpuForward: number; cpuPgd8: number };
}

export type TorchBench = { skipped: string } | { size: string; torch: TorchSide; ort: OrtRow[]; cores: number };

/** Why /usr/bin/python3 cannot run the PyTorch side, or undefined when it can. */
export function torchUnavailable(): string | undefined {
  const r = spawnSync(TORCH_PYTHON, ['-c', 'import torch, torchvision'], { encoding: 'utf8' });
  if (r.error) return `${TORCH_PYTHON} cannot be run (${r.error.message})`;
  if (r.status !== 0) return `${TORCH_PYTHON} cannot import torch and torchvision (apt-get install python3-torch python3-torchvision)`;
  return undefined;
}

export async function runTorchBench(repoRoot: string, log: (s: string) => void, opts: { size?: [number, number]; reps?: number } = {}): Promise<TorchBench> {
  const why = torchUnavailable();
  if (why) {
    log(`  skipped: ${why}`);
    return { skipped: why };
  }
  const [h, w] = opts.size ?? [498, 664];
  const reps = opts.reps ?? 3;
  const torchThreads = [1, 2];
  log(`  PyTorch (${TORCH_PYTHON} scripts/torch-pgd-bench.py, threads ${torchThreads.join(',')}, ${h}x${w}, batch 1, ${reps} reps)...`);
  const text = execFileSync(TORCH_PYTHON, [path.join(repoRoot, 'scripts/torch-pgd-bench.py'), '--threads', torchThreads.join(','), '--height', String(h), '--width', String(w), '--reps', String(reps)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
  const torch = JSON.parse(text) as TorchSide;
  for (const r of torch.rows) {
    log(`    torch ${torch.torch}, ${r.threads} thread(s): forward ${r.forward_ms.toFixed(0)} ms, input-gradient step ${r.input_grad_ms.toFixed(0)} ms (${r.input_grad_ratio.toFixed(2)}x), all-weight step ${r.weight_grad_ms.toFixed(0)} ms (${r.weight_grad_ratio.toFixed(2)}x), PGD-8 ${r.pgd8_s_per_image.toFixed(2)} s/image (${r.pgd8_forwards.toFixed(1)} forwards)`);
    log(`      CPU time: forward ${r.cpu.forward_ms.toFixed(0)} ms, input-gradient step ${r.cpu.input_grad_ms.toFixed(0)} ms (${(r.cpu.input_grad_ms / r.cpu.forward_ms).toFixed(2)}x), all-weight step ${r.cpu.weight_grad_ms.toFixed(0)} ms (${(r.cpu.weight_grad_ms / r.cpu.forward_ms).toFixed(2)}x), PGD-8 ${r.cpu.pgd8_s_per_image.toFixed(2)} s/image`);
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'iqa-torch-bench-'));
  const ort: OrtRow[] = [];
  try {
    const file = path.join(dir, `resnet50-${h}x${w}.onnx`);
    makeModel(repoRoot, 8, h, w, file);
    const x: HostTensor = { dims: [1, 3, h, w], data: seeded(3 * h * w, 1) };
    for (const threads of [1, undefined]) {
      const label = threads === undefined ? `default (${os.availableParallelism()} cores)` : String(threads);
      const base = await baseline(file, x, threads);
      const walls: number[] = [];
      const cpus: number[] = [];
      try {
        await base.run();
        for (let i = 0; i < reps; i++) {
          const t0 = performance.now();
          const c0 = cpuMs();
          await base.run();
          walls.push(performance.now() - t0);
          cpus.push(cpuMs() - c0);
        }
      } finally {
        await base.dispose();
      }
      const forwardMs = median(walls);
      const engine = await OrtEngine.create(Model.load(file), threads !== undefined ? { threads } : {});
      let pgdS: { wall: number; cpu: number };
      try {
        pgdS = await pgdSecondsPerImage(engine, h, w, 1, { warmup: true });
      } finally {
        engine.dispose();
      }
      const tThreads = threads ?? Math.min(2, os.availableParallelism());
      const t = torch.rows.find((r) => r.threads === tThreads) ?? torch.rows[torch.rows.length - 1]!;
      const cpu = { forwardMs: median(cpus), pgd8SecondsPerImage: pgdS.cpu };
      const row: OrtRow = {
        threads: label,
        forwardMs,
        pgd8SecondsPerImage: pgdS.wall,
        pgd8Forwards: (pgdS.wall * 1000) / forwardMs,
        cpu,
        vsTorch: { torchThreads: t.threads, forward: forwardMs / t.forward_ms, pgd8: pgdS.wall / t.pgd8_s_per_image, cpuForward: cpu.forwardMs / t.cpu.forward_ms, cpuPgd8: cpu.pgd8SecondsPerImage / t.cpu.pgd8_s_per_image },
      };
      ort.push(row);
      log(`    ORT, ${label} intra-op thread(s): forward ${forwardMs.toFixed(0)} ms (CPU ${cpu.forwardMs.toFixed(0)} ms), PGD-8 ${pgdS.wall.toFixed(2)} s/image (CPU ${pgdS.cpu.toFixed(2)} s; ${row.pgd8Forwards.toFixed(1)} forwards)`);
      log(`      ORT/PyTorch (${t.threads} thread(s)): forward ${row.vsTorch.forward.toFixed(2)}x wall, ${row.vsTorch.cpuForward.toFixed(2)}x CPU; PGD-8 ${row.vsTorch.pgd8.toFixed(2)}x wall, ${row.vsTorch.cpuPgd8.toFixed(2)}x CPU`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { size: `${h}x${w}`, torch, ort, cores: os.availableParallelism() };
}

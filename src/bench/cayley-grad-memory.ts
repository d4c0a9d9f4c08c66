/**
 * Memory benchmark of issue 15 item 2 (not part of `npm test` or `npm run bench`): the gradient of
 * the parametric Cayley RobustBlock at the paper's position (block input [1, 1024, 32, 42],
 * reduce conv 1024 -> 512, Cayley 512 -> 1024 at n = 32), computed by the gradient graph in ONNX
 * Runtime on the CPU, in a child process whose peak resident memory (VmHWM) is reported.
 *
 *   node dist/bench/cayley-grad-memory.js [--c 1024] [--h 32] [--w 42] [--inverse schur|com.microsoft|newton-schulz] [--ns-iterations k] [--arena] [--dry-run] [--whole | --chunk-bytes B]
 *
 * By default the Cayley is differentiated as the ort engine does at this size: in frequency-row
 * chunks recomputed in the backward pass (src/differentiable/gradient-form.ts, 512 MiB chunks);
 * --whole differentiates it whole (every chunk's values kept: 15-17 GB here).
 * --dry-run builds the gradient graph and prints its static peak estimate without running it.
 * The machine is shared: run the full size rarely (it takes minutes on 2 cores).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildArgs } from './cayley-grad-memory-child.js';
import { largeGraphEnv } from './measure.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

export function runCayleyGradMemory(a: ChildArgs): Record<string, unknown> {
  const script = fileURLToPath(new URL('./cayley-grad-memory-child.js', import.meta.url));
  const r = spawnSync(process.execPath, [script, JSON.stringify(a)], { encoding: 'utf8', maxBuffer: 1 << 24, env: largeGraphEnv() });
  if (r.status !== 0) return { args: a, failed: `exit ${r.status ?? r.signal}`, stderr: (r.stderr ?? '').slice(-2000) };
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const a: ChildArgs = {
    c: Number(arg('c') ?? 1024),
    h: Number(arg('h') ?? 32),
    w: Number(arg('w') ?? 42),
    inverse: arg('inverse') ?? 'schur',
    ...(process.argv.includes('--whole') ? {} : { chunkBytes: Number(arg('chunk-bytes') ?? 512 * 2 ** 20) }),
    ...(arg('ns-iterations') ? { nsIterations: Number(arg('ns-iterations')) } : {}),
    ...(process.argv.includes('--dry-run') ? { dryRun: true } : {}),
    ...(process.argv.includes('--arena') ? { arena: true } : {}),
  };
  const res = runCayleyGradMemory(a);
  const gb = (b: unknown): string => (typeof b === 'number' ? `${(b / 2 ** 30).toFixed(2)} GiB` : '?');
  process.stdout.write(JSON.stringify(res) + '\n');
  process.stdout.write(`peak RSS ${gb(res.peakRssBytes)} (static estimate of the gradient graph ${gb(res.staticEstimateBytes)}), run ${String(res.runMs ?? '-')} ms\n`);
}

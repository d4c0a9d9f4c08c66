/**
 * What every benchmark measures with: medians, timed runs, peak memory, seeded inputs (one copy,
 * shared by the bench files and their child processes).
 */
import { readFileSync, statSync } from 'node:fs';

/** The median of `xs` (the upper one for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Median ms of `reps` runs of `f` after one warm-up run. */
export async function medianMs(reps: number, f: () => Promise<unknown>): Promise<number> {
  await f();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await f();
    t.push(performance.now() - t0);
  }
  return median(t);
}

/**
 * Median ms of each of `runs`, timed in turns (one of each per round, `reps` rounds) so that a
 * drifting host weighs on all alike; each runs `warmup` times first (default 1). With `alternate`,
 * odd rounds go in the reverse order.
 */
export async function interleavedMedians<K extends string>(reps: number, runs: Record<K, () => unknown>, opts: { warmup?: number; alternate?: boolean } = {}): Promise<Record<K, number>> {
  const keys = Object.keys(runs) as K[];
  for (let i = 0; i < (opts.warmup ?? 1); i++) for (const k of keys) await runs[k]();
  const t = Object.fromEntries(keys.map((k) => [k, [] as number[]])) as unknown as Record<K, number[]>;
  for (let r = 0; r < reps; r++) {
    for (const k of opts.alternate && r % 2 ? [...keys].reverse() : keys) {
      const t0 = performance.now();
      await runs[k]();
      t[k].push(performance.now() - t0);
    }
  }
  return Object.fromEntries(keys.map((k) => [k, median(t[k])])) as Record<K, number>;
}

/** The process's peak resident memory in bytes (VmHWM on Linux, else Node's maxRSS). */
export function peakRss(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}

/** `n` values in [0, 1) from a fixed linear congruential stream (the same on every run). */
export function seededUniform(n: number): Float32Array {
  const out = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 4294967296;
  }
  return out;
}

/** Bytes of a model file plus its external-data file (`<file>.data`) when there is one. */
export function fileSize(file: string): number {
  let n = statSync(file).size;
  try {
    n += statSync(`${file}.data`).size;
  } catch {
    // no external data
  }
  return n;
}

/**
 * Environment for a child process that runs large gradient graphs: glibc's malloc with at most 2
 * arenas and buffers of 8 MiB or more mapped (given back on free). With glibc's defaults (an arena
 * per thread, a moving mmap threshold) the resident memory of the RobustBlock's training step at
 * the paper's position grew from step to step (14.6 GiB after the first, killed at 20 GB in the
 * second); with these, 11.4 GiB after the first (docs/BENCHMARKS.md). Values the caller's
 * environment sets are kept.
 */
export function largeGraphEnv(): NodeJS.ProcessEnv {
  return { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: String(8 * 2 ** 20), ...process.env };
}


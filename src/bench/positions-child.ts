/**
 * Child process of the positions benchmark: opens one model with ONNX Runtime (graph
 * optimisations 'all' or 'disabled'), runs one forward at batch 1 and, if asked, `reps` timed forwards at batch 8
 * after a warm-up; prints the times and the process's peak resident memory (VmHWM) as JSON.
 */
import { readFileSync } from 'node:fs';
import { DataType } from '../onnx/data-types.js';
import { openRunner } from '../runtime/session.js';

function peakRss(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}

function input(n: number): Float32Array {
  const out = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 4294967296;
  }
  return out;
}

const [file, h, w, opt, reps] = process.argv.slice(2);
if (!file || !h || !w || !(opt === 'all' || opt === 'disabled')) {
  process.stderr.write('usage: positions-child <model> <height> <width> all|disabled [batch-8 reps]\n');
  process.exit(1);
}
const t0 = performance.now();
const session = await openRunner(file, { optimization: opt, logSeverity: 3 });
const sessionMs = performance.now() - t0;
const feed = (b: number) => {
  const dims = [b, 3, Number(h), Number(w)];
  return { input: { elemType: DataType.FLOAT, dims, data: input(dims.reduce((a, c) => a * c, 1)) } };
};
const t1 = performance.now();
const first = await session.run(feed(1));
const forwardMs = performance.now() - t1;
const score = first[Object.keys(first)[0]!]!.data[0];
let batch8Ms: number | undefined;
if (reps) {
  const x = feed(8);
  await session.run(x);
  const ts: number[] = [];
  for (let r = 0; r < Number(reps); r++) {
    const t = performance.now();
    await session.run(x);
    ts.push(performance.now() - t);
  }
  ts.sort((a, b) => a - b);
  batch8Ms = ts[Math.floor(ts.length / 2)];
}
await session.dispose();
process.stdout.write(`${JSON.stringify({ sessionMs, forwardMs, batch8Ms, peakRssBytes: peakRss(), score: Number(score) })}\n`);

/**
 * Child process of the positions benchmark: opens one model with ONNX Runtime (graph
 * optimisations 'all' or 'disabled'), runs one forward at batch 1 and, if asked, `reps` timed
 * forwards at batch 8 alternating with a second model, after a warm-up; prints the times and the process's peak resident memory (VmHWM) as JSON.
 */
import { DataType } from '../onnx/data-types.js';
import { openRunner } from '../runtime/session.js';
import { interleavedMedians, peakRss, seededUniform } from './measure.js';



const [file, h, w, opt, other, reps] = process.argv.slice(2);
if (!file || !h || !w || !(opt === 'all' || opt === 'disabled')) {
  process.stderr.write('usage: positions-child <model> <height> <width> all|disabled [<other model> <batch-8 reps>]\n');
  process.exit(1);
}
const feed = (b: number) => {
  const dims = [b, 3, Number(h), Number(w)];
  return { input: { elemType: DataType.FLOAT, dims, data: seededUniform(dims.reduce((a, c) => a * c, 1)) } };
};
const t0 = performance.now();
const session = await openRunner(file, { optimization: opt, logSeverity: 3 });
const sessionMs = performance.now() - t0;
const t1 = performance.now();
const first = await session.run(feed(1));
const forwardMs = performance.now() - t1;
const score = first[Object.keys(first)[0]!]!.data[0];
let batch8Ms: number | undefined;
let otherBatch8Ms: number | undefined;
if (other && reps) {
  // batch 8 of this model and the other one, alternating (A B A B ...) so that a changing load
  // on a shared machine affects both alike; medians
  const second = await openRunner(other, { optimization: opt, logSeverity: 3 });
  const x = feed(8);
  const m = await interleavedMedians(Number(reps), { self: () => session.run(x), other: () => second.run(x) });
  batch8Ms = m.self;
  otherBatch8Ms = m.other;
  await second.dispose();
}
await session.dispose();
process.stdout.write(`${JSON.stringify({ sessionMs, forwardMs, batch8Ms, otherBatch8Ms, peakRssBytes: peakRss(), score: Number(score) })}\n`);

/**
 * Inference overhead of a materialized RobustBlock at the paper's positions in the seed-style
 * fixtures (fixtures/seed-models, reduced widths), for docs/SEED-MODELS.md:
 *
 *     npx tsx scripts/measure-seed-overhead.ts [rounds]
 *
 * Per model: splice (default options) at the paper's position, materialize, save both files to a
 * temporary folder; open the original and the materialized file with ONNX Runtime (CPU, all graph
 * optimisations, as a deployment would; one intra-op thread, so that other load on a shared
 * machine disturbs the timing less); after a warm-up, alternate single runs of the two
 * at batch 1 and batch 8 (`rounds` each, default 15) and print the medians and their ratio, with the
 * file sizes. Numbers depend on the machine's load: run it on a quiet machine.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Model } from '../src/ir/model.js';
import { openRunner } from '../src/runtime/index.js';
import { materialize } from '../src/surgery/materialize.js';
import { spliceRobustBlocks, type SpliceSite } from '../src/surgery/splice.js';

const POSITIONS: [string, SpliceSite[], [number, number]][] = [
  ['linearity_r50', [{ stage: 'features.6' }], [96, 128]],
  ['koncept_irv2', [{ after: 'base.13' }], [192, 256]],
  ['dbcnn_vgg16_scnn', [{ stage: 'features1.block5', before: 'conv3' }], [100, 132]],
  ['tres_r50_transformer', [{ stage: 'layer3' }], [192, 192]],
];

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const rounds = Number(process.argv[2] ?? 15);
const dir = mkdtempSync(path.join(os.tmpdir(), 'seed-overhead-'));
try {
  console.log('| model | block at | original file | materialized file | batch 1: original / patched | batch 8: original / patched |');
  console.log('|---|---|---|---|---|---|');
  for (const [name, sites, [h, w]] of POSITIONS) {
    const src = path.join('fixtures/seed-models', `${name}.onnx`);
    const m = Model.load(src);
    const [r] = await spliceRobustBlocks(m, sites);
    await materialize(m);
    const patched = path.join(dir, `${name}.onnx`);
    m.save(patched);
    const a = await openRunner(src, { optimization: 'all', intraOpThreads: 1 });
    const b = await openRunner(patched, { optimization: 'all', intraOpThreads: 1 });
    const cells: string[] = [];
    for (const n of [1, 8]) {
      const x = { elemType: 1, dims: [n, 3, h, w], data: Float32Array.from({ length: n * 3 * h * w }, (_, i) => ((i * 7919) % 1000) / 1000) };
      for (let i = 0; i < 3; i++) {
        await a.run({ input: x });
        await b.run({ input: x });
      }
      const ta: number[] = [];
      const tb: number[] = [];
      for (let i = 0; i < rounds; i++) {
        let t = performance.now();
        await a.run({ input: x });
        ta.push(performance.now() - t);
        t = performance.now();
        await b.run({ input: x });
        tb.push(performance.now() - t);
      }
      const [ma, mb] = [median(ta), median(tb)];
      cells.push(`${ma.toFixed(1)} / ${mb.toFixed(1)} ms = **${(mb / ma).toFixed(2)}x**`);
    }
    await a.dispose();
    await b.dispose();
    const kb = (f: string): string => `${(statSync(f).size / 1e6).toFixed(2)} MB`;
    console.log(`| ${name} | [${r!.inShape.join(',')}] -> [${r!.outShape.join(',')}] | ${kb(src)} | ${kb(patched)} | ${cells[0]} | ${cells[1]} |`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

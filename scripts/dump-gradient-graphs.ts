/**
 * Write gradient graphs to a folder for the CUDA check (docs/AUTODIFF.md, "Gradient graphs on
 * CUDA"): run here, carry the folder to a machine with a GPU, run scripts/check-cuda.py there.
 *
 *     node --import tsx scripts/dump-gradient-graphs.ts <out-dir>
 *
 * For the default graphs (graphs/*.onnx) and the Linearity graph with a RobustBlock spliced on
 * layer3 in its trainable form (Schur inverse): the input-gradient and the all-weight gradient
 * graphs the ort engine builds (src/bench/gradient-dump.ts), the trained parameters graph inputs
 * with their values as initializer defaults, the loss cotangents graph inputs. Also writes
 * manifest.json (files, the inputs to feed, which outputs are gradients).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultDumpModels, dumpGradientGraphs } from '../src/bench/gradient-dump.js';

const out = process.argv[2];
if (!out || process.argv.length > 3) {
  process.stderr.write('usage: node --import tsx scripts/dump-gradient-graphs.ts <out-dir>\n');
  process.exit(1);
}
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dumped = await dumpGradientGraphs(out, await defaultDumpModels(repoRoot), (s) => process.stdout.write(`${s}\n`));
writeFileSync(path.join(out, 'manifest.json'), `${JSON.stringify(dumped.map((d) => ({ ...d, file: path.basename(d.file) })), null, 1)}\n`);
process.stdout.write(`wrote ${dumped.length} gradient graphs and manifest.json to ${out}\nnext, on a machine with a GPU and onnxruntime-gpu: python3 scripts/check-cuda.py ${path.join(out, '*.onnx')}\n`);

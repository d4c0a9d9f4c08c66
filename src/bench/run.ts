/**
 * `npm run bench`: every benchmark, as ratios against a baseline measured in the same process,
 * printed and written to docs/benchmarks/latest.json (docs/BENCHMARKS.md records the runs that
 * matter, with the machine).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runIoBench } from './io-bench.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
  return `${cpu}, ${os.cpus().length} cores, ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}`;
}

const results: Record<string, unknown> = { machine: machine(), date: new Date().toISOString() };

console.log(`machine: ${results.machine}`);
console.log('== I/O: load and save of a full-width ResNet-50 export (random weights)');
const io = runIoBench(repoRoot);
results.io = io;
console.log(`file              ${(io.fileBytes / 1e6).toFixed(1)} MB`);
console.log(`load  ${io.loadMs.toFixed(1)} ms vs fs.readFile ${io.rawReadMs.toFixed(1)} ms  -> ${io.loadRatio.toFixed(2)}x (goal <= 3x)`);
console.log(`save  ${io.saveMs.toFixed(1)} ms vs fs write+fsync ${io.rawWriteMs.toFixed(1)} ms -> ${io.saveRatio.toFixed(2)}x (goal <= 3x)`);
console.log(`peak memory (load+save, fresh process) ${(io.peakLoadSaveBytes / 1e6).toFixed(1)} MB -> ${io.peakRatio.toFixed(2)}x file (goal < 2.5x)`);
console.log(`saved file byte-identical to the input: ${io.byteIdentical}`);

const outDir = path.join(repoRoot, 'docs/benchmarks');
mkdirSync(outDir, { recursive: true });
writeFileSync(path.join(outDir, 'latest.json'), JSON.stringify(results, null, 2) + '\n');

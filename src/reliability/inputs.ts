/**
 * The inputs the fuzzer damages, one row per kind of file the toolkit reads. ONNX models are the
 * only kind today; images, dataset CSVs and patch files become one row each when their commands
 * exist (seeds from their fixtures, `genericByteMutators(ext)` plus a few format-aware mutators).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DATA_INPUT_KINDS } from './data-rows.js';
import { fileURLToPath } from 'node:url';
import { filesIn, type InputKind, type SeedInput } from './harness.js';
import { genericByteMutators, protobufByteMutators } from './mutate-bytes.js';
import { ONNX_PROTO_MUTATORS } from './mutate-onnx.js';
import { patchMutators, patchSeeds } from './mutate-patch.js';

/** The repository root (this file is src/reliability/ or dist/reliability/). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');


/** ONNX seeds: the project's fixtures and the shared real models (when present). */
export function onnxSeeds(): SeedInput[] {
  return [
    ...filesIn(path.join(REPO_ROOT, 'fixtures/models'), '.onnx'),
    ...filesIn(path.join(REPO_ROOT, 'fixtures/ir10'), '.onnx'),
    ...filesIn(path.resolve(REPO_ROOT, '../shared/realdata/onnx'), '.onnx'),
  ];
}

let splicedDir: string | undefined;
/**
 * Models with a spliced RobustBlock (what `materialize` reads), made once per process by the
 * built CLI's `splice` from the fixtures; none when splicing fails.
 */
export function splicedSeeds(): SeedInput[] {
  splicedDir ??= mkdtempSync(path.join(os.tmpdir(), 'iqa-fuzz-spliced-'));
  const dir = splicedDir;
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const out: SeedInput[] = [];
  const recipes: [string, string, string[]][] = [
    ['resnet18-cayley.onnx', 'fixtures/models/resnet18_iqa.onnx', ['--stage', '2']],
    ['linearity-aol.onnx', 'fixtures/models/linearity_iqa.onnx', ['--stage', 'layer3', '--orth', 'aol']],
  ];
  for (const [name, src, args] of recipes) {
    const file = path.join(dir, name);
    if (!existsSync(file)) {
      try {
        execFileSync(process.execPath, [path.join(REPO_ROOT, 'bin/iqa-surgeon.js'), 'splice', path.join(REPO_ROOT, src), '-o', file, ...args], { stdio: 'ignore', timeout: 60_000 });
      } catch {
        continue;
      }
    }
    out.push({ id: name, file });
  }
  return out;
}

export const INPUT_KINDS: InputKind[] = [
  {
    id: 'onnx',
    description: 'ONNX models (and their external data files)',
    ext: 'onnx',
    seeds: onnxSeeds,
    mutators: [...ONNX_PROTO_MUTATORS, ...protobufByteMutators('onnx'), ...genericByteMutators('onnx')],
  },
  {
    id: 'onnx-spliced',
    description: 'ONNX models with a spliced RobustBlock (made by splice from the fixtures)',
    ext: 'onnx',
    seeds: splicedSeeds,
    mutators: [...ONNX_PROTO_MUTATORS, ...protobufByteMutators('onnx'), ...genericByteMutators('onnx')],
  },
  {
    id: 'patch',
    description: 'patch files for `apply` (JSON or YAML lists of rewrite steps)',
    ext: 'json',
    seeds: patchSeeds,
    mutators: [...patchMutators(), ...genericByteMutators('yaml')],
  },
  // { id: 'image', ext: 'png', seeds: ..., mutators: [...genericByteMutators('png'), ...pngMutators] },
  // { id: 'dataset-csv', ext: 'csv', ... }
  ...DATA_INPUT_KINDS,
];

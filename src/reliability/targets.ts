/**
 * The commands the fuzzer runs, one row each: the input kind it reads, its arguments for a case,
 * and the commands that must succeed after it did (e.g. loading what it wrote). A new command
 * that reads a file is one more row.
 */
import path from 'node:path';
import { DATA_FUZZ_TARGETS } from './data-rows.js';
import type { FuzzTarget } from './harness.js';
import { REPO_ROOT } from './inputs.js';

const out = (dir: string, name = 'out.onnx'): string => path.join(dir, 'out', name);
/** What a command wrote must load (and save) again: a save never writes a file the load refuses. */
const reloads = (dir: string): string[][] => [['convert', out(dir), '-o', out(dir, 'again.onnx')]];
/** The model `apply` patches: the fixture the patch seeds were written for. */
const PATCH_MODEL = path.join(REPO_ROOT, 'fixtures/models/linearity_iqa.onnx');

export const FUZZ_TARGETS: FuzzTarget[] = [
  {
    id: 'inspect',
    input: 'onnx',
    weight: 2,
    argv: (file, _dir, rng) => ['inspect', file, ...(rng.chance(0.5) ? ['--json'] : [])],
  },
  {
    id: 'stages',
    input: 'onnx',
    weight: 2,
    // the probe runs ONNX Runtime on the damaged model; half the cases use static rules only
    argv: (file, _dir, rng) => ['stages', file, '--json', ...(rng.chance(0.5) ? ['--no-probe'] : [])],
  },
  {
    id: 'convert',
    input: 'onnx',
    weight: 2,
    argv: (file, dir, rng) => ['convert', file, '-o', out(dir), ...rng.pick([[], ['--external-data'], ['--inline'], ['--external-data', '--threshold', '1']])],
    after: (_file, dir) => reloads(dir),
  },
  {
    id: 'splice',
    input: 'onnx',
    argv: (file, dir, rng) => ['splice', file, '-o', out(dir), ...rng.pick([['--stage', String(rng.int(5))], ['--stage', 'layer3'], ['--edge', '/layer2/layer2.1/relu_1/Relu_output_0'], ['--stage', '1', '--orth', 'aol'], ['--stage', '2', '--form', 'materialized']])],
    after: (_file, dir) => reloads(dir),
  },
  {
    id: 'materialize',
    input: 'onnx-spliced',
    argv: (file, dir) => ['materialize', file, '-o', out(dir)],
    after: (_file, dir) => reloads(dir),
  },
  {
    id: 'rewrite',
    input: 'onnx',
    weight: 2,
    exits: [0, 1, 3], // the rewritten graph is validated: exit 3 when it does not validate
    argv: (file, dir, rng) => [
      ...rng.pick([
        ['cleanup'],
        ['fold'],
        ['rename', '--map', 'score=quality'],
        ['set-shape', '--input', 'input=1,3,64,96'],
        ['remove', '--node', '/relu/Relu'],
        ['replace-op', '--op', 'Relu', '--with', 'LeakyRelu[alpha=0.1]'],
        ['extract', '--outputs', '/layer1/layer1.0/relu/Relu_output_0'],
      ]),
      file,
      '-o',
      out(dir),
    ],
    after: (_file, dir) => reloads(dir),
  },
  {
    id: 'apply',
    input: 'patch',
    weight: 2,
    exits: [0, 1, 3],
    argv: (file, dir) => ['apply', PATCH_MODEL, file, '-o', out(dir)],
    after: (_file, dir) => reloads(dir),
  },
  {
    id: 'ops',
    input: 'onnx',
    // exit 3: the mirror cannot run some node (a mutated op type or attribute)
    exits: [0, 1, 3],
    argv: (file, _dir, rng) => ['ops', file, ...(rng.chance(0.5) ? ['--json'] : [])],
  },
  {
    id: 'equiv',
    input: 'onnx',
    // one model: a determinism check (two sessions); exit 3 if the runs differ
    exits: [0, 1, 3],
    timeLimitMs: 30_000,
    argv: (file, _dir, rng) => ['equiv', file, ...(rng.chance(0.3) ? ['--per-layer'] : []), ...(rng.chance(0.5) ? ['--json'] : [])],
  },
  {
    id: 'equiv-mirror',
    input: 'onnx',
    // the damaged model runs in ONNX Runtime and in the TensorFlow.js mirror; exit 3 when they differ
    exits: [0, 1, 3],
    // pure-JS tfjs runs the 224x224 super-resolution graph in seconds, not milliseconds
    timeLimitMs: 60_000,
    argv: (file, _dir, rng) => ['equiv', file, '--mirror', ...(rng.chance(0.3) ? ['--per-layer'] : []), ...(rng.chance(0.5) ? ['--json'] : [])],
  },
  ...DATA_FUZZ_TARGETS,
];

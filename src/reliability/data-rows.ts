/**
 * Rows for the fuzzing tables (src/reliability/inputs.ts and targets.ts) covering the data
 * commands: damaged images through `dataset info --load`, damaged KonIQ-format CSVs through
 * `dataset info`. INPUT_KINDS and FUZZ_TARGETS include them.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { filesIn, type FuzzTarget, type InputKind } from './harness.js';
import { genericByteMutators } from './mutate-bytes.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const KONIQ_MINI = path.join(REPO_ROOT, 'fixtures/koniq-mini');
const KONIQ_IMAGES = path.join(KONIQ_MINI, '1024x768');


export const DATA_INPUT_KINDS: InputKind[] = [
  {
    id: 'image',
    description: 'images read by the data loaders (sharp/libvips decoders)',
    ext: 'jpg',
    seeds: () => filesIn(KONIQ_IMAGES, '.jpg'),
    mutators: genericByteMutators('jpg'),
  },
  {
    id: 'dataset-csv',
    description: 'score files in the KonIQ-10k CSV format',
    ext: 'csv',
    seeds: () => filesIn(KONIQ_MINI, '.csv'),
    mutators: genericByteMutators('csv'),
  },
];

export const DATA_FUZZ_TARGETS: FuzzTarget[] = [
  {
    id: 'dataset-info-image',
    input: 'image',
    // the case folder holds only the damaged image (input.jpg): a one-image folder dataset
    argv: (file, _dir, rng) => ['dataset', 'info', '--data', `folder:${path.dirname(file)}`, '--load', '--input-size', rng.pick(['32,48', '7,5', '64,64']), ...(rng.chance(0.5) ? ['--skip-bad'] : []), '--json'],
  },
  {
    id: 'dataset-info-csv',
    input: 'dataset-csv',
    argv: (file, _dir, rng) => [
      'dataset',
      'info',
      '--data',
      `csv:${file},root=${KONIQ_IMAGES}`,
      ...rng.pick([[], ['--skip-bad'], ['--skip-bad', '--load', '--input-size', '16,16'], ['--skip-bad', '--split', 'test', '--split-seed', String(rng.int(100))]]),
    ],
  },
];

// The CLI's launch bundle (run by `npm run build`, `prepare` and `pretest`, after tsc): dist/cli/main.js
// and every module it imports, bundled by esbuild into dist/cli-bundle/ (one file per dynamic import,
// so the mirror's TensorFlow.js kernels still load only when the tfjs engine runs; packages stay
// external). Node 20 compiles and links the 230-odd ES modules of dist/ at every start; from one
// bundle the CLI reaches its command in about 0.15-0.2 s less (docs/BENCHMARKS.md, "CLI start-up").
// bin/iqa-surgeon.js runs the bundle; the library (dist/index.js) and the tests use tsc's output.
// The bundle sits two folders below the repository root, as every module of dist/ does, so paths
// computed from import.meta.url (src/reliability/) resolve the same from it.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist/cli-bundle');
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [path.join(root, 'dist/cli/main.js')],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
});

/**
 * CLI start-up (`npm run bench -- --only startup`; also in a default run): how long a fresh Node
 * process takes to load the CLI, from esbuild's bundle (dist/cli-bundle/main.js, what
 * bin/iqa-surgeon.js runs) against tsc's separate modules (dist/cli/main.js, the baseline), and
 * `iqa-surgeon --version` end to end (process start to exit) both ways. Child processes,
 * interleaved in pairs (the host's speed drifts), medians reported.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { interleavedMedians } from './measure.js';

export interface StartupRow {
  what: string;
  modulesMs: number;
  bundleMs: number;
  ratio: number;
}

export interface StartupResult {
  rows: StartupRow[];
  pairs: number;
}

/** One child `node <args>`, run to its end. */
function child(args: string[]): void {
  execFileSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export async function runStartupBench(repoRoot: string, log: (s: string) => void, pairs = 8): Promise<StartupResult> {
  const modules = pathToFileURL(path.join(repoRoot, 'dist/cli/main.js')).href;
  const bundle = pathToFileURL(path.join(repoRoot, 'dist/cli-bundle/main.js')).href;
  const importOf = (url: string): string[] => ['-e', `import(${JSON.stringify(url)}).then(() => {})`];
  // --version through the same main() both ways: a launcher per build
  const run = (url: string): string[] => ['--input-type=module', '-e', `const { main } = await import(${JSON.stringify(url)}); process.exitCode = await main(['node', 'iqa-surgeon', '--version']);`];
  const cases: { what: string; a: string[]; b: string[] }[] = [
    { what: 'import the CLI', a: importOf(modules), b: importOf(bundle) },
    { what: 'iqa-surgeon --version (process start to exit)', a: run(modules), b: run(bundle) },
  ];
  const rows: StartupRow[] = [];
  for (const c of cases) {
    const m = await interleavedMedians(pairs, { bundle: () => child(c.b), modules: () => child(c.a) }, { alternate: true });
    const row = { what: c.what, modulesMs: m.modules, bundleMs: m.bundle, ratio: m.bundle / m.modules };
    rows.push(row);
    log(`  ${c.what}: bundle ${row.bundleMs.toFixed(0)} ms vs modules ${row.modulesMs.toFixed(0)} ms = ${row.ratio.toFixed(2)}x (medians of ${pairs} interleaved pairs)`);
  }
  return { rows, pairs };
}

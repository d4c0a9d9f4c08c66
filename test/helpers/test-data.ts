/**
 * Where the external test corpora live, and the one rule for when they are missing: skip with a
 * message that says what to install, except on CI (`CI=true`), where a missing corpus fails.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Context } from 'mocha';

/** ONNX backend test data as installed by Debian's libonnx-testdata package. */
export const DEBIAN_ONNX_TESTDATA = '/usr/share/libonnx-testdata/data';
/** Real graphs shared beside the checkout (tests run from the repo root). */
export const REALDATA_ONNX = path.resolve('../shared/realdata/onnx');
export const FIXTURE_MODELS = path.resolve('fixtures/models');
/** Seed-style exports of the paper's four IQA models (scripts/make-seed-fixtures.py). */
export const SEED_MODELS = path.resolve('fixtures/seed-models');

export const onCI = (): boolean => process.env.CI === 'true';

/** Skip the current test (or fail on CI) when `what` is missing. */
export function requireOrSkip(ctx: Context, present: boolean, what: string): void {
  if (present) return;
  if (onCI()) throw new Error(`${what} is missing, and CI=true requires it`);
  console.log(`      (skipped: ${what} is missing)`);
  ctx.skip();
}

/**
 * The build the CLI tests spawn (`bin/iqa-surgeon.js` runs dist/cli-bundle/, esbuild's bundle of
 * dist/cli/). `npm test` builds both first, so a missing build is a failure, never a skip.
 */
export function requireBuild(files: readonly string[] = ['dist/cli/main.js', 'dist/cli-bundle/main.js']): void {
  const missing = files.filter((f) => !existsSync(path.resolve(f)));
  if (missing.length > 0) throw new Error(`${missing.join(', ')} is missing: run npm run build (npm test builds first)`);
}

export function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Every file under `dir` (recursively) whose name satisfies `match`, sorted. */
export function walkFiles(dir: string, match: (name: string) => boolean): string[] {
  const out: string[] = [];
  const visit = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) visit(p);
      else if (e.isFile() && match(e.name)) out.push(p);
    }
  };
  if (existsSync(dir)) visit(dir);
  return out.sort();
}

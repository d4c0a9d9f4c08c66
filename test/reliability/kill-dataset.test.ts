/**
 * Kills for `dataset make-default`, which writes a folder rather than one model file: killed with
 * SIGKILL at seeded random moments, the target folder is either absent or complete (every image
 * the CSV lists exists, the manifest is there), and the next run after a kill succeeds and makes
 * the same bytes as an unkilled run.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { mulberry32 } from '../helpers/seeded-random.js';
import { TempDirs } from '../helpers/temp-dir.js';
import { requireBuild } from '../helpers/test-data.js';

const BIN = path.resolve('bin/iqa-surgeon.js');
const tmp = new TempDirs('iqa-kill-dataset');
const SIZE = 30;

function run(args: string[], killAfterMs?: number): Promise<{ status: number | null; signal: string | null; ms: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [BIN, ...args], { stdio: 'ignore' });
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('exit', (status, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ status, signal, ms: performance.now() - t0 });
    });
  });
}

/** Hash of a dataset folder's files, or 'absent'; throws if it is present but incomplete. */
function folderState(dir: string): string {
  if (!existsSync(dir)) return 'absent';
  const csv = readFileSync(path.join(dir, 'scores.csv'), 'utf8').trim().split('\n');
  expect(csv.length - 1, `${dir}: rows in scores.csv`).to.equal(SIZE);
  for (const line of csv.slice(1)) expect(existsSync(path.join(dir, line.split(',')[0]!)), line).to.equal(true);
  expect(existsSync(path.join(dir, 'manifest.json'))).to.equal(true);
  const h = createHash('sha256');
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else h.update(e.name).update(readFileSync(p));
    }
  };
  walk(dir);
  return h.digest('hex');
}

describe('kills: dataset make-default leaves no folder or a complete one', function () {
  before(function () {
    requireBuild();
  });
  after(() => tmp.cleanup());

  it('8 kills at random moments, then a clean run', async () => {
    const refDir = tmp.make('ref');
    const ref = await run(['dataset', 'make-default', '--out', path.join(refDir, 'ds'), '--size', String(SIZE), '--seed', '3']);
    expect(ref.status).to.equal(0);
    const refHash = folderState(path.join(refDir, 'ds'));
    const rnd = mulberry32(20261125);
    const seen = { absent: 0, complete: 0 };
    for (let k = 0; k < 8; k++) {
      const dir = tmp.make(`trial${k}`);
      const target = path.join(dir, 'ds');
      await run(['dataset', 'make-default', '--out', target, '--size', String(SIZE), '--seed', '3'], Math.floor(rnd() * ref.ms * 1.1));
      const state = folderState(target);
      if (state === 'absent') seen.absent++;
      else {
        expect(state).to.equal(refHash);
        seen.complete++;
      }
      if (state === 'absent') {
        // the next run succeeds (stale temporary folders of the killed run do not get in the way)
        const again = await run(['dataset', 'make-default', '--out', target, '--size', String(SIZE), '--seed', '3']);
        expect(again.status).to.equal(0);
        expect(folderState(target)).to.equal(refHash);
      }
    }
    console.log(`      outcomes: absent ${seen.absent}, complete ${seen.complete}`);
    expect(seen.absent).to.be.greaterThan(0);
  });
});

/**
 * Resumable evaluation: `evaluate` killed (SIGKILL) part-way, then run again with the same command,
 * continues from the units in its state file and writes a report.json equal to an uninterrupted
 * run's (seeded random starts, noise and --seeds included); a changed command is refused instead of
 * reusing the saved scores, and --fresh starts over.
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { makeDefaultDataset } from '../../src/data/make-default.js';
import { STATE_FILE } from '../../src/evaluate/state.js';
import { requireBuild } from '../helpers/test-data.js';
import { TempDirs } from '../helpers/temp-dir.js';

const temps = new TempDirs('evaluate-resume');
after(() => temps.cleanup());

const BIN = path.resolve('bin/iqa-surgeon.js');
/** 12 images = batches of 8 and 4; PGD with random start and noise at 2 eps, 2 seeds: 16 units. */
const TOTAL_UNITS = 16;

function units(report: string): number {
  try {
    return Object.keys((JSON.parse(readFileSync(path.join(report, STATE_FILE), 'utf8')) as { units: object }).units).length;
  } catch {
    return 0;
  }
}

describe('evaluate: killed part-way, resumed', function () {
  this.timeout(1_800_000);
  let data: string;
  let dir: string;
  const args = (report: string, ...extra: string[]): string[] => [BIN, 'evaluate', 'graphs/linearity_r18w16.onnx', '--data', data, '--max-images', '12', '--attacks', 'pgd-2,noise', '--random-start', '--eps', '2,4', '--seeds', '2', '--examples', '2', '--report', report, ...extra];

  before(async () => {
    requireBuild();
    data = path.join(temps.make('data'), 'd');
    await makeDefaultDataset({ out: data, size: 24, seed: 9 });
    dir = temps.make('runs');
  });

  it('gives the report of an uninterrupted run', async () => {
    const whole = path.join(dir, 'whole');
    const w = spawnSync(process.execPath, args(whole), { encoding: 'utf8', timeout: 900_000 });
    expect(w.status, w.stderr).to.equal(0);
    expect(units(whole)).to.equal(TOTAL_UNITS);
    // the interrupted run: SIGKILL once a few units are saved
    const parted = path.join(dir, 'parted');
    const child = spawn(process.execPath, args(parted), { stdio: 'ignore' });
    const killedAt = await new Promise<number>((resolve, reject) => {
      const timer = setInterval(() => {
        const u = units(parted);
        if (u >= 3) {
          child.kill('SIGKILL');
          clearInterval(timer);
          resolve(u);
        }
      }, 10);
      child.on('exit', (code) => {
        clearInterval(timer);
        if (units(parted) < 3) reject(new Error(`the run ended (code ${code}) before three units were saved`));
        else resolve(units(parted));
      });
    });
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.on('exit', r)));
    const saved = units(parted);
    expect(killedAt).to.be.at.least(3);
    expect(saved, 'killed before the last unit').to.be.below(TOTAL_UNITS);
    expect(existsSync(path.join(parted, 'report.json')), 'no report from the killed run').to.equal(false);
    const r = spawnSync(process.execPath, args(parted), { encoding: 'utf8', timeout: 900_000 });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.include(`resuming: ${saved} finished unit(s)`);
    const a = JSON.parse(readFileSync(path.join(whole, 'report.json'), 'utf8'));
    const b = JSON.parse(readFileSync(path.join(parted, 'report.json'), 'utf8'));
    expect(b).to.deep.equal(a);
    expect(a.seeds).to.deep.equal([0, 1]);
    expect(a.models[0].attacks.every((x: { seedSpread?: unknown }) => x.seedSpread !== undefined)).to.equal(true);
    // different seeds draw different noise: the spread is not zero, and the mean is the seeds' mean
    for (const x of a.models[0].attacks.filter((t: { attack: string }) => t.attack === 'noise')) {
      expect(x.seedSpread.absGain.std).to.be.greaterThan(0);
      expect(x.absGain).to.be.closeTo(x.seedSpread.absGain.mean, 1e-12);
    }
    for (const e of b.examples) expect(existsSync(path.join(parted, e.attacked)), e.attacked).to.equal(true);
  });

  it('refuses a changed command on a saved state, and --fresh starts over', () => {
    const whole = path.join(dir, 'whole');
    const r = spawnSync(process.execPath, args(whole).map((x) => (x === '2,4' ? '2,6' : x)), { encoding: 'utf8', timeout: 900_000 });
    expect(r.status).to.equal(1);
    expect(r.stderr.trim().split('\n').at(-1)).to.match(/holds the saved scores of a different evaluation \(changed: attacks\).*--fresh/);
    const f = spawnSync(process.execPath, [...args(whole).map((x) => (x === 'pgd-2,noise' ? 'noise' : x)), '--fresh'], { encoding: 'utf8', timeout: 900_000 });
    expect(f.status, f.stderr).to.equal(0);
    expect(f.stderr).not.to.include('resuming');
    expect(units(whole)).to.equal(8);
  });
});

/**
 * `finetune` killed (SIGKILL) after its epoch-2 checkpoint and resumed with `--resume` ends with a
 * model whose bytes equal those of an uninterrupted run with the same seed: checkpoints are written
 * atomically and carry the parameters, the optimiser's moments and the best epoch.
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { makeDefaultDataset } from '../../src/data/make-default.js';
import { requireBuild } from '../helpers/test-data.js';
import { TempDirs } from '../helpers/temp-dir.js';

const temps = new TempDirs('finetune-kill');
after(() => temps.cleanup());

const BIN = path.resolve('bin/iqa-surgeon.js');

function checkpointEpoch(dir: string): number {
  try {
    return (JSON.parse(readFileSync(path.join(dir, 'checkpoint.json'), 'utf8')) as { epoch: number }).epoch;
  } catch {
    return 0;
  }
}

describe('finetune: killed after epoch 2, resumed', function () {
  this.timeout(1_200_000);

  it('ends bit-identical to an uninterrupted run', async () => {
    requireBuild();
    const data = path.join(temps.make('data'), 'd');
    await makeDefaultDataset({ out: data, size: 24, seed: 4 });
    const dir = temps.make('runs');
    const args = (out: string): string[] => [BIN, 'finetune', 'graphs/linearity_r18w16.onnx', '--data', data, '--epochs', '3', '--lr', '1e-3', '--seed', '5', '-o', out];
    const whole = path.join(dir, 'whole.onnx');
    const w = spawnSync(process.execPath, args(whole), { encoding: 'utf8', timeout: 900_000 });
    expect(w.status, w.stderr).to.equal(0);
    // the interrupted run: SIGKILL as soon as the epoch-2 checkpoint exists
    const parted = path.join(dir, 'parted.onnx');
    const ckpt = `${parted}.ckpt`;
    const child = spawn(process.execPath, args(parted), { stdio: 'ignore' });
    const killedAt = await new Promise<number>((resolve, reject) => {
      const timer = setInterval(() => {
        const e = checkpointEpoch(ckpt);
        if (e >= 2) {
          child.kill('SIGKILL');
          clearInterval(timer);
          resolve(e);
        }
      }, 20);
      child.on('exit', (code) => {
        clearInterval(timer);
        if (checkpointEpoch(ckpt) < 2) reject(new Error(`the run ended (code ${code}) before its epoch-2 checkpoint`));
        else resolve(checkpointEpoch(ckpt));
      });
    });
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.on('exit', r)));
    // killed during epoch 3 (or, rarely, after it finished): resuming must give the same model either way
    expect(killedAt).to.be.at.least(2);
    const r = spawnSync(process.execPath, [...args(parted), '--resume', ckpt], { encoding: 'utf8', timeout: 900_000 });
    expect(r.status, r.stderr).to.equal(0);
    expect(existsSync(parted)).to.equal(true);
    expect(Buffer.compare(readFileSync(parted), readFileSync(whole))).to.equal(0);
  });
});

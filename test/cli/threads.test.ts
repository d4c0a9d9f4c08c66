/**
 * `--threads <n>` on finetune, attack and evaluate: the ort engine runs with n intra-op threads
 * (its description, printed as the engine line, says so); values outside 1..1024 and anything but
 * decimal digits exit 1 with one line naming the option.
 */
import { expect } from 'chai';
import path from 'node:path';
import { makeDefaultDataset } from '../../src/data/make-default.js';
import { cli } from '../helpers/cli.js';
import { TempDirs } from '../helpers/temp-dir.js';

const temps = new TempDirs('threads-cli');
after(() => temps.cleanup());

const MODEL = 'graphs/linearity_r18w16.onnx';

describe('cli: --threads', function () {
  this.timeout(900_000);
  let data: string;
  before(async () => {
    data = path.join(temps.make('data'), 'd');
    await makeDefaultDataset({ out: data, size: 20, seed: 5 });
  });

  const engineLine = (err: string): string => err.split('\n').find((l) => l.includes('engine: ort')) ?? '';

  it('attack --threads 1 runs the ort engine with one intra-op thread, and the default says ONNX Runtime\'s', async () => {
    const r = await cli('attack', MODEL, '--attack', 'fgsm', '--eps', '2', '--engine', 'ort', '--threads', '1', '--data', data, '--max-images', '1', '--out', temps.make('a1'));
    expect(r.code, r.err).to.equal(0);
    expect(engineLine(r.err), r.err).to.include('1 intra-op threads');
    const d = await cli('attack', MODEL, '--attack', 'fgsm', '--eps', '2', '--engine', 'ort', '--data', data, '--max-images', '1', '--out', temps.make('a0'));
    expect(d.code, d.err).to.equal(0);
    expect(engineLine(d.err), d.err).to.include("ONNX Runtime's default intra-op threads").and.not.include('1 intra-op threads');
  });

  it('finetune --threads 2 trains on the ort engine with two intra-op threads', async () => {
    const out = path.join(temps.make('ft'), 'tuned.onnx');
    const r = await cli('finetune', MODEL, '--data', data, '--epochs', '1', '--engine', 'ort', '--threads', '2', '-o', out);
    expect(r.code, r.err).to.equal(0);
    expect(engineLine(r.err), r.err).to.include('2 intra-op threads');
  });

  it('evaluate --threads 3 attacks with three intra-op threads', async () => {
    const r = await cli('evaluate', MODEL, '--data', data, '--max-images', '2', '--attacks', 'fgsm', '--eps', '2', '--engine', 'ort', '--threads', '3', '--examples', '0', '--report', temps.make('ev'));
    expect(r.code, r.err).to.equal(0);
    expect(engineLine(r.err), r.err).to.include('3 intra-op threads');
  });

  for (const bad of ['0', '1025', '-1', '2.5', '1e2', 'abc', '']) {
    it(`--threads '${bad}' exits 1 with one line on finetune, attack and evaluate`, async () => {
      const runs = [
        await cli('finetune', MODEL, '--data', data, '--threads', bad, '-o', path.join(temps.make('bad'), 'x.onnx')),
        await cli('attack', MODEL, '--attack', 'fgsm', '--threads', bad, '--data', data, '--out', temps.make('bad')),
        await cli('evaluate', MODEL, '--data', data, '--threads', bad, '--report', temps.make('bad')),
      ];
      for (const r of runs) {
        expect(r.code, r.err).to.equal(1);
        const lines = r.err.trim().split('\n');
        expect(lines, r.err).to.have.length(1);
        expect(lines[0]).to.include('--threads');
      }
    });
  }
});

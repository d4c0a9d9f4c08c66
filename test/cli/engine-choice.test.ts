/**
 * `--engine` and `--ep` on the CLI: the engine and provider in use are printed; `--engine auto`
 * on a model with an op that has no gradient rule runs on the tfjs mirror and says why in one
 * line; `--engine ort` on it exits 1 with one line naming the op and node.
 */
import { expect } from 'chai';
import path from 'node:path';
import { makeDefaultDataset } from '../../src/data/make-default.js';
import { cli } from '../helpers/cli.js';
import { modelWithoutGradientRule } from '../helpers/no-rule-model.js';
import { requireOrSkip } from '../helpers/test-data.js';
import { TempDirs } from '../helpers/temp-dir.js';

const temps = new TempDirs('engine-cli');
after(() => temps.cleanup());

describe('cli: --engine and --ep', function () {
  this.timeout(600_000);
  let data: string;
  before(async () => {
    data = path.join(temps.make('data'), 'd');
    await makeDefaultDataset({ out: data, size: 2, seed: 4 });
  });

  it('attack on the default graph: auto runs the ort engine and prints it with its provider; --ep cuda falls back to the CPU in one line where CUDA is absent', async () => {
    const r = await cli('attack', 'graphs/linearity_r18w16.onnx', '--attack', 'fgsm', '--eps', '2', '--data', data, '--max-images', '1', '--out', temps.make('auto'));
    expect(r.code, r.err).to.equal(0);
    expect(r.err).to.match(/engine: ort on cpu: .*cpu execution provider/);
    expect(r.err).to.not.include('TensorFlow.js mirror computes');
    const c = await cli('attack', 'graphs/linearity_r18w16.onnx', '--attack', 'fgsm', '--eps', '2', '--engine', 'ort', '--ep', 'cuda', '--data', data, '--max-images', '1', '--out', temps.make('cuda'));
    expect(c.code, c.err).to.equal(0);
    if (!/engine: ort on cuda/.test(c.err)) {
      expect(c.err).to.match(/engine: ort on cpu/);
      // the one-line notice (the engine line repeats it in brackets)
      expect(c.err.split('\n').filter((l) => l.startsWith('iqa-surgeon: CUDA is not available')), c.err).to.have.length(1);
    }
  });

  it('a model with an op that has no gradient rule: auto falls back to tfjs with a one-line reason; --engine ort exits 1 with one line naming op and node', async function () {
    const found = modelWithoutGradientRule();
    requireOrSkip(this, found !== undefined, 'a unary op with a mirror kernel and no gradient rule');
    const file = path.join(temps.make('model'), 'no-rule.onnx');
    found!.model.save(file);
    const r = await cli('attack', file, '--attack', 'fgsm', '--eps', '2', '--data', data, '--max-images', '1', '--out', temps.make('fallback'));
    expect(r.code, r.err).to.equal(0);
    expect(r.err).to.match(/engine: tfjs mirror on /);
    const reason = r.err.split('\n').filter((l) => l.includes('engine auto:'));
    expect(reason, r.err).to.have.length(1);
    expect(reason[0]).to.include(found!.opType).and.include("'the_op'");
    const o = await cli('attack', file, '--attack', 'fgsm', '--eps', '2', '--engine', 'ort', '--data', data, '--max-images', '1', '--out', temps.make('ort'));
    expect(o.code).to.equal(1);
    const errors = o.err.split('\n').filter((l) => l.includes('error'));
    expect(errors, o.err).to.have.length(1);
    expect(errors[0]).to.include(found!.opType).and.include("'the_op'");
  });
});

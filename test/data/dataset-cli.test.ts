import { expect } from 'chai';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cli } from '../helpers/cli.js';
import { PREPROCESS_KEY } from '../../src/data/preprocess.js';
import { Model } from '../../src/ir/model.js';
import { TempDirs } from '../helpers/temp-dir.js';

const KONIQ = path.resolve('fixtures/koniq-mini');
const LINEARITY = path.resolve('fixtures/models/linearity_iqa.onnx');


describe('cli dataset', () => {
  const temps = new TempDirs('dataset-cli');
  after(() => temps.cleanup());

  it('make-default writes the dataset and reports it; info reads it back', async () => {
    const out = path.join(temps.make('mk'), 'ds');
    const r = await cli('dataset', 'make-default', '--out', out, '--size', '6', '--seed', '3', '--json');
    expect(r.code, r.err).to.equal(0);
    const j = JSON.parse(r.out);
    expect(j).to.include({ schema: 'iqa-surgeon/dataset-make-default@1', images: 6, scenes: 1, seed: 3 });
    expect(existsSync(path.join(out, 'scores.csv'))).to.equal(true);
    const info = await cli('dataset', 'info', '--data', out, '--load', '--input-size', '32,48', '--json');
    expect(info.code, info.err).to.equal(0);
    expect(JSON.parse(info.out)).to.include({ kind: 'csv', items: 6, loaded: 6 }).and.to.have.deep.property('tensorShape', [1, 3, 32, 48]);
    const again = await cli('dataset', 'make-default', '--out', out);
    expect(again.code).to.equal(1);
    expect(again.err).to.match(/^iqa-surgeon: error: --out '.*' is not empty/);
  });

  it('info on the KonIQ fixture: a bad row is exit 1 naming the line; --skip-bad counts it', async () => {
    const bad = await cli('dataset', 'info', '--data', `koniq:${KONIQ}`);
    expect(bad.code).to.equal(1);
    expect(bad.err.split('\n')).to.have.length(2);
    expect(bad.err).to.match(/koniq10k_scores_and_distributions\.csv' line 6 has 4 fields/);
    const ok = await cli('dataset', 'info', '--data', KONIQ, '--skip-bad');
    expect(ok.code, ok.err).to.equal(0);
    expect(ok.out).to.match(/items 8, 1 bad rows skipped/).and.match(/MOS 8 scored/);
  });

  it('info --load: a missing image is exit 1 naming the file; --skip-bad loads the rest', async () => {
    const bad = await cli('dataset', 'info', '--data', KONIQ, '--skip-bad', '--split', 'all', '--load', '--model', LINEARITY);
    expect(bad.code).to.equal(0);
    expect(bad.out).to.match(/loaded 7 images as \[1,3,64,96\] float32, 1 bad images skipped/);
    const d = temps.make('missing');
    writeFileSync(path.join(d, 'list.csv'), `path,mos\n${path.join(KONIQ, '1024x768/10004473376.jpg')},3\ngone.png,2\n`);
    const strict = await cli('dataset', 'info', '--data', `csv:${path.join(d, 'list.csv')}`, '--load');
    expect(strict.code).to.equal(1);
    expect(strict.err).to.equal(`iqa-surgeon: error: image file '${path.join(d, 'gone.png')}' does not exist (dataset line 3); --skip-bad leaves bad images out\n`);
    const split = await cli('dataset', 'info', '--data', KONIQ, '--skip-bad', '--split-file', '/nonexistent.csv', '--split', 'test');
    expect(split.code).to.equal(1);
    expect(split.err).to.match(/split file '\/nonexistent\.csv' does not exist/);
  });

  it('info --split gives 70/10/20 by seed', async () => {
    const counts = [];
    for (const s of ['train', 'val', 'test']) {
      const r = await cli('dataset', 'info', '--data', KONIQ, '--skip-bad', '--split', s, '--split-seed', '5', '--json');
      counts.push(JSON.parse(r.out).items);
    }
    expect(counts).to.deep.equal([6, 1, 1]);
  });

  it('usage errors exit 1', async () => {
    expect((await cli('dataset', 'info', '--data', KONIQ, '--split', 'holdout')).code).to.equal(1);
    expect((await cli('dataset', 'make-default', '--out', '/tmp/x', '--size', '0')).code).to.equal(1);
    const r = await cli('dataset', 'info', '--data', KONIQ, '--skip-bad', '--load', '--mean', '1,2');
    expect(r.code).to.equal(1);
    expect(r.err).to.match(/--mean '1,2' must be 3 comma-separated numbers/);
  });

  it('preprocess stores the resolved preprocessing in a copy of the model', async () => {
    const out = path.join(temps.make('pp'), 'm.onnx');
    const r = await cli('dataset', 'preprocess', LINEARITY, '--range', '0,255', '--mean', '123.675,116.28,103.53', '--std', '58.395,57.12,57.375', '-o', out, '--json');
    expect(r.code, r.err).to.equal(0);
    expect(JSON.parse(r.out).preprocess.size).to.deep.equal([64, 96]);
    const stored = JSON.parse(Model.load(out).metadata().get(PREPROCESS_KEY)!);
    expect(stored).to.deep.include({ size: [64, 96], range: [0, 255], colorOrder: 'RGB' });
    const show = await cli('dataset', 'preprocess', out);
    expect(show.out).to.match(/from metadata\): size 64x96, range \[0, 255\]/);
  });
});

/**
 * `finetune` and `evaluate` from the command line on the embedded dataset: JSON reports in their
 * documented shapes, a saved model ONNX Runtime runs, a report folder with the HTML page and plots,
 * and one-line refusals of bad options.
 */
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { makeDefaultDataset } from '../../src/data/make-default.js';
import { cli } from '../helpers/cli.js';
import { TempDirs } from '../helpers/temp-dir.js';

const temps = new TempDirs('ft-eval-cli');
after(() => temps.cleanup());

describe('cli: finetune and evaluate', function () {
  this.timeout(900_000);
  let data: string;
  before(async () => {
    data = path.join(temps.make('data'), 'd');
    await makeDefaultDataset({ out: data, size: 24, seed: 11 });
  });

  it('finetune --json (engine calls of 3 images) prints finetune@1 and writes a model and its checkpoint', async () => {
    const dir = temps.make('ft');
    const out = path.join(dir, 'tuned.onnx');
    const r = await cli('finetune', 'graphs/linearity_r18w16.onnx', '--data', data, '--epochs', '1', '--lr', '1e-4', '--micro-batch', '3', '-o', out, '--json');
    expect(r.code, r.err).to.equal(0);
    const j = JSON.parse(r.out);
    expect(j.schema).to.equal('finetune@1');
    expect(j.epochs.map((e: { epoch: number }) => e.epoch)).to.deep.equal([0, 1]);
    expect(j.epochs[0].trainLoss).to.equal(null);
    for (const k of ['trainLoss', 'valLoss', 'valSrocc', 'valPlcc']) expect(j.epochs[1][k]).to.be.a('number');
    expect(j.best).to.be.oneOf([0, 1]);
    expect(existsSync(out)).to.equal(true);
    expect(existsSync(path.join(`${out}.ckpt`, 'checkpoint.json'))).to.equal(true);
  });

  it('evaluate writes report.json (evaluate@1), the Table 4 summary, plots, images and index.html', async () => {
    const report = temps.make('report');
    const r = await cli('evaluate', 'graphs/linearity_r18w16.onnx', '--baseline', 'graphs/dbcnn_vgg_bilinear.onnx', '--data', data, '--max-images', '4', '--attacks', 'pgd-1,noise', '--eps', '2,4', '--examples', '2', '--report', report);
    expect(r.code, r.err).to.equal(0);
    expect(r.out).to.match(/SROCC/);
    const j = JSON.parse(readFileSync(path.join(report, 'report.json'), 'utf8'));
    expect(j.schema).to.equal('evaluate@1');
    expect(j.models.map((m: { role: string }) => m.role)).to.deep.equal(['original', 'patched']);
    for (const m of j.models) {
      expect(m.attacks.map((a: { attack: string; eps: number }) => `${a.attack}-${a.eps}`)).to.deep.equal(['pgd-2', 'pgd-4', 'noise-2', 'noise-4']);
      for (const a of m.attacks) expect(a.linf).to.be.at.most(a.eps + 1e-3);
      expect(m.auc['pgd-1']).to.have.keys(['absGain', 'rScore']);
      expect(m.srocc).to.be.a('number');
      // PGD raises the score more than random noise of the same budget
      const pgd = m.attacks.find((a: { attack: string; eps: number }) => a.attack === 'pgd' && a.eps === 4);
      const noise = m.attacks.find((a: { attack: string; eps: number }) => a.attack === 'noise' && a.eps === 4);
      expect(pgd.absGain).to.be.greaterThan(Math.abs(noise.absGain));
    }
    for (const f of ['index.html', 'report.md', 'schema.json', 'plots/abs-gain-vs-eps.svg', 'plots/r-score-vs-eps.svg', 'plots/clean-vs-attacked.svg']) expect(existsSync(path.join(report, f)), f).to.equal(true);
    expect(j.examples.length).to.be.greaterThan(0);
    for (const e of j.examples) {
      expect(existsSync(path.join(report, e.clean))).to.equal(true);
      expect(existsSync(path.join(report, e.attacked))).to.equal(true);
    }
  });

  for (const [args, re] of [
    [['finetune', 'graphs/linearity_r18w16.onnx', '--epochs', '0'], /--epochs '0' must be an integer from 1 to 1000/],
    [['finetune', 'graphs/linearity_r18w16.onnx', '--lr', 'abc'], /--lr 'abc' is not a finite number/],
    [['finetune', 'graphs/linearity_r18w16.onnx', '--loss', 'huber'], /--loss must be norm-in-norm, l1, mse/],
    [['finetune', 'graphs/linearity_r18w16.onnx', '--micro-batch', '0'], /--micro-batch '0' must be an integer from 1 to 1024/],
    [['finetune', 'graphs/linearity_r18w16.onnx', '--micro-batch', '1025'], /--micro-batch '1025' must be an integer from 1 to 1024/],
    [['finetune', 'graphs/linearity_r18w16.onnx', '--stage-sum-max-gb', '-1'], /--stage-sum-max-gb -1 is outside \[0, 1024\]/],
    [['finetune', 'graphs/linearity_r18w16.onnx', '--stage-sum-max-gb', '1e9'], /--stage-sum-max-gb 1e9 is outside \[0, 1024\]/],
    [['finetune', 'graphs/linearity_r18w16.onnx', '--stage-sum-max-gb', 'NaN'], /--stage-sum-max-gb 'NaN' is not a finite number/],
    [['evaluate', 'graphs/linearity_r18w16.onnx', '--attacks', 'pgd-0'], /PGD iterations must be in \[1, 1000\]/],
    [['evaluate', 'graphs/linearity_r18w16.onnx', '--attacks', 'cw'], /unknown attack 'cw'/],
    [['evaluate', 'graphs/linearity_r18w16.onnx', '--eps', '2,300'], /--eps '2,300' must be comma-separated numbers in \[0, 255\]/],
    [['evaluate', 'graphs/linearity_r18w16.onnx', '--seeds', '0'], /--seeds 0: a count must be in \[1, 1000\]/],
    [['evaluate', 'graphs/linearity_r18w16.onnx', '--seeds', '3,3'], /--seeds '3,3' lists a seed twice/],
    [['evaluate', 'graphs/linearity_r18w16.onnx', '--seeds', 'a,b'], /--seeds 'a,b' must be a count/],
  ] as const) {
    it(`refuses ${args.slice(2).join(' ')} with one line and exit 1`, async () => {
      const extra = args[0] === 'finetune' ? ['--data', data, '-o', path.join(temps.make('x'), 'x.onnx')] : ['--data', data, '--report', temps.make('r')];
      const r = await cli(...args, ...extra);
      expect(r.code, r.err).to.equal(1);
      expect(r.err.trim().split('\n')).to.have.length(1);
      expect(r.err).to.match(re);
    });
  }
});

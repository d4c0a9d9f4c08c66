/**
 * The score choice stored once in a model's `iqa-surgeon.score` metadata by `iqa-surgeon score -o`
 * and read by attack, evaluate and finetune when no flag is given; flags override it, and every
 * command prints what it used and where that came from.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SCORE_KEY } from '../../src/attacks/score.js';
import { makeDefaultDataset } from '../../src/data/make-default.js';
import { Model } from '../../src/ir/model.js';
import { cli } from '../helpers/cli.js';
import { TempDirs } from '../helpers/temp-dir.js';

const temps = new TempDirs('score-cli');
after(() => temps.cleanup());

describe('cli: score metadata', function () {
  this.timeout(900_000);
  let dir: string;
  let data: string;
  let two: string;
  let stored: string;

  before(async () => {
    dir = temps.make('m');
    data = path.join(temps.make('data'), 'd');
    await makeDefaultDataset({ out: data, size: 24, seed: 3 });
    // the default graph with a second output: neg_score = -score, a lower-is-better score
    const m = Model.load('graphs/linearity_r18w16.onnx');
    const s = m.graph.value('score');
    const neg = m.graph.addNode({ opType: 'Neg', inputs: [s], outputs: ['neg_score'] }).outputs[0]!;
    m.graph.outputs.push(neg);
    m.graph.setValueInfo(neg, { name: 'neg_score', type: s.info!.type });
    two = path.join(dir, 'two.onnx');
    m.save(two);
    stored = path.join(dir, 'stored.onnx');
  });

  it('a model with two outputs and no choice is refused naming them and the score command', async () => {
    const r = await cli('attack', two, '--attack', 'fgsm', '--eps', '2', '--data', data, '--max-images', '2', '--out', temps.make('a'));
    expect(r.code).to.equal(1);
    expect(r.err).to.match(/2 outputs \('score', 'neg_score'\): choose the score with --score-output <name> \(or store it once with 'iqa-surgeon score/);
  });

  it('score -o stores the choice; score shows it as metadata', async () => {
    const w = await cli('score', two, '--score-output', 'neg_score', '--lower-is-better', '-o', stored);
    expect(w.code, w.err).to.equal(0);
    expect(w.out).to.include("score: output 'neg_score' (flag), reduce none (default), lower is better (flag); 1 value(s) per image");
    expect(JSON.parse(Model.load(stored).metadata().get(SCORE_KEY)!)).to.deep.equal({ output: 'neg_score', reduce: 'none', lowerIsBetter: true });
    const r = await cli('score', stored, '--json');
    expect(r.code, r.err).to.equal(0);
    const j = JSON.parse(r.out);
    expect(j).to.deep.include({ schema: 'iqa-surgeon/score@1', stored: true, score: { output: 'neg_score', reduce: 'none', lowerIsBetter: true }, valuesPerImage: 1 });
    expect(j.from).to.deep.equal({ output: 'metadata', reduce: 'metadata', lowerIsBetter: 'metadata' });
  });

  it('a reduction that does not fit the output is refused', async () => {
    const r = await cli('score', two, '--score-output', 'score', '--score-reduce', 'expectation:5', '-o', path.join(dir, 'bad.onnx'));
    expect(r.code).to.equal(1);
    expect(r.err).to.match(/has 1 values per image, not the 5 bins of --score-reduce expectation:5/);
  });

  it('attack reads the stored choice (raising quality lowers a lower-is-better score); flags override it', async () => {
    const run = (...extra: string[]) => cli('attack', stored, '--attack', 'pgd', '--iters', '2', '--eps', '4', '--data', data, '--max-images', '3', '--out', temps.make('a'), '--json', ...extra);
    const a = await run();
    expect(a.code, a.err).to.equal(0);
    const ja = JSON.parse(a.out).runs[0];
    expect(ja.meanAttacked).to.be.lessThan(ja.meanClean);
    const b = await run('--score-output', 'score', '--higher-is-better');
    expect(b.code, b.err).to.equal(0);
    const jb = JSON.parse(b.out).runs[0];
    expect(jb.meanAttacked).to.be.greaterThan(jb.meanClean);
    // the same attack seen through the two outputs: neg_score = -score
    expect(ja.meanClean).to.be.closeTo(-jb.meanClean, 1e-5);
    const c = await cli('attack', stored, '--attack', 'fgsm', '--eps', '2', '--data', data, '--max-images', '2', '--out', temps.make('a'));
    expect(c.code, c.err).to.equal(0);
    expect(c.err).to.include(`score: output 'neg_score' (metadata ${SCORE_KEY}), reduce none (metadata ${SCORE_KEY}), lower is better (metadata ${SCORE_KEY})`);
    const d = await cli('attack', stored, '--attack', 'fgsm', '--eps', '2', '--data', data, '--max-images', '2', '--out', temps.make('a'), '--score-output', 'score', '--higher-is-better');
    expect(d.err).to.include(`score: output 'score' (flag), reduce none (metadata ${SCORE_KEY}), higher is better (flag)`);
  });

  it('evaluate and finetune print the stored choice', async () => {
    const report = temps.make('r');
    const e = await cli('evaluate', stored, '--data', data, '--max-images', '2', '--attacks', 'noise', '--eps', '2,4', '--report', report);
    expect(e.code, e.err).to.equal(0);
    expect(e.err).to.include(`stored: score: output 'neg_score' (metadata ${SCORE_KEY})`);
    expect(JSON.parse(readFileSync(path.join(report, 'report.json'), 'utf8')).schema).to.equal('evaluate@1');
    const f = await cli('finetune', stored, '--data', data, '--epochs', '1', '-o', path.join(temps.make('f'), 't.onnx'));
    expect(f.code, f.err).to.equal(0);
    expect(f.err).to.include(`score: output 'neg_score' (metadata ${SCORE_KEY}), reduce none (metadata ${SCORE_KEY}), lower is better (metadata ${SCORE_KEY})`);
  });

  it('--lower-is-better and --higher-is-better together are refused', async () => {
    const r = await cli('score', two, '--score-output', 'score', '--lower-is-better', '--higher-is-better');
    expect(r.code).to.equal(1);
    expect(r.err).to.match(/contradict each other/);
  });
});

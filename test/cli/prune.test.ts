/**
 * `iqa-surgeon prune`: masks or shrinks a model, reports what was pruned and left out, writes a file
 * ONNX Runtime runs, and refuses bad options with one line and exit 1.
 */
import { expect } from 'chai';
import path from 'node:path';
import { Model } from '../../src/ir/model.js';
import { PRUNE_METADATA_KEY } from '../../src/surgery/prune/prune.js';
import { cli } from '../helpers/cli.js';
import { TempDirs } from '../helpers/temp-dir.js';
import { randomInput, runValues } from '../rewrite/ort-values.js';

const temps = new TempDirs('prune-cli');
after(() => temps.cleanup());

describe('cli: prune', function () {
  this.timeout(300_000);

  it('masks the default model (JSON report), and --shrink writes a smaller model with the same scores', async () => {
    const dir = temps.make();
    const masked = path.join(dir, 'masked.onnx');
    const shrunk = path.join(dir, 'shrunk.onnx');
    const r = await cli('prune', 'graphs/linearity_r18w16.onnx', '--ratio', '0.1', '-o', masked, '--json');
    expect(r.code, r.err).to.equal(0);
    const report = JSON.parse(r.out);
    expect(report.schema).to.equal('iqa-surgeon/prune@1');
    expect(report.pruned.length).to.be.greaterThan(0);
    expect(report.leftOut.every((l: { reason: string }) => l.reason.length > 0)).to.equal(true);
    expect(report.shrink).to.equal(null);
    const s = await cli('prune', 'graphs/linearity_r18w16.onnx', '--ratio', '0.1', '--criterion', 'l1', '--shrink', '-o', shrunk);
    expect(s.code, s.err).to.equal(0);
    expect(s.out).to.match(/shrunk: \d+ -> \d+ parameters/);
    const m = Model.load(shrunk);
    expect(JSON.parse(m.metadata().get(PRUNE_METADATA_KEY)!).shrunk).to.equal(true);
    // the shrunk l1 model scores like its masked twin
    const l1Masked = path.join(dir, 'l1.onnx');
    expect((await cli('prune', 'graphs/linearity_r18w16.onnx', '--criterion', 'l1', '-o', l1Masked)).code).to.equal(0);
    const feed = { [m.graph.inputs[0]!.name]: randomInput([1, 3, 96, 128], 2) };
    const b = await runValues(m, feed);
    const c = await runValues(Model.load(l1Masked), feed);
    for (const k of Object.keys(c)) c[k]!.data.forEach((v, i) => expect(b[k]!.data[i]!).to.be.closeTo(v, 1e-5));
  });

  for (const [args, msg] of [
    [['--ratio', '0.95'], /--ratio 0.95 is outside \[0, 0.9\]/],
    [['--ratio', 'abc'], /--ratio 'abc' is not a finite number/],
    [['--ratio', 'NaN'], /--ratio 'NaN' is not a finite number/],
    [['--criterion', 'l3'], /--criterion must be l1, l2 or pls/],
    [['--criterion', 'pls'], /--criterion pls needs --data/],
    [['--scope', 'head'], /--scope must be all, backbone or block/],
  ] as const) {
    it(`refuses ${args.join(' ')} with one line and exit 1`, async () => {
      const r = await cli('prune', 'graphs/linearity_r18w16.onnx', ...args, '-o', path.join(temps.make(), 'x.onnx'));
      expect(r.code).to.equal(1);
      expect(r.err.trim().split('\n')).to.have.length(1);
      expect(r.err).to.match(msg);
    });
  }

  it('a pruned model is refused a second prune', async () => {
    const dir = temps.make();
    const once = path.join(dir, 'once.onnx');
    expect((await cli('prune', 'graphs/linearity_r18w16.onnx', '-o', once)).code).to.equal(0);
    const r = await cli('prune', once, '-o', path.join(dir, 'twice.onnx'));
    expect(r.code).to.equal(1);
    expect(r.err).to.match(/already pruned/);
  });
});

/**
 * PLS-VIP pruning end to end: features from ONNX Runtime on the embedded dataset, one global
 * threshold, masks as the norm criteria make them (pruned channels exactly zero), a count that is
 * the ratio of the candidate filters, and a shrink equivalent to the masked model.
 */
import { expect } from 'chai';
import path from 'node:path';
import { listDataset, parseDatasetSpec, type DatasetItem } from '../../src/data/dataset.js';
import { makeDefaultDataset } from '../../src/data/make-default.js';
import { readPreprocess, resolvePreprocess } from '../../src/data/preprocess.js';
import { UserError } from '../../src/errors.js';
import { Model } from '../../src/ir/model.js';
import { PRUNE_METADATA_KEY, planPrune } from '../../src/surgery/prune/prune.js';
import { shrinkPruned } from '../../src/surgery/prune/shrink.js';
import { prunePls } from '../../src/train/prune-pls.js';
import { TempDirs } from '../helpers/temp-dir.js';
import { randomInput, runValues } from '../rewrite/ort-values.js';

const temps = new TempDirs('prune-pls');
after(() => temps.cleanup());

describe('train/prune-pls on the default model', function () {
  this.timeout(300_000);
  let items: DatasetItem[];
  before(async () => {
    const dir = path.join(temps.make('data'), 'd');
    await makeDefaultDataset({ out: dir, size: 24, seed: 5 });
    items = listDataset(parseDatasetSpec(dir)).items;
  });

  it('removes round(ratio x candidate filters) by one global VIP threshold, never a whole conv; shrink is equivalent', async () => {
    const m = Model.load('graphs/linearity_r18w16.onnx');
    const candidates = planPrune(Model.load('graphs/linearity_r18w16.onnx')).candidates;
    const total = candidates.reduce((s, c) => s + c.weight.dims[0]!, 0);
    const report = await prunePls(m, { ratio: 0.2, items, preprocess: resolvePreprocess(readPreprocess(m)) });
    expect(report.criterion).to.equal('pls');
    expect(report.filtersPruned).to.equal(Math.round(0.2 * total));
    for (const c of report.pruned) expect(c.pruned.length).to.be.lessThan(c.filters);
    const meta = JSON.parse(m.metadata().get(PRUNE_METADATA_KEY)!);
    expect(meta.pls).to.include({ components: 2, scale: true, images: 24 });
    // a global threshold prunes unevenly across convs (per-conv ratios differ)
    const ratios = new Set(report.pruned.map((c) => (c.pruned.length / c.filters).toFixed(3)));
    expect(ratios.size).to.be.greaterThan(1);
    const shrunk = Model.fromBytes(m.toBytes());
    shrinkPruned(shrunk);
    const feed = { [m.graph.inputs[0]!.name]: randomInput([2, 3, 96, 128], 9) };
    const [a, b] = [await runValues(m, feed), await runValues(Model.fromBytes(shrunk.toBytes()), feed)];
    for (const k of Object.keys(a)) a[k]!.data.forEach((v, i) => expect(b[k]!.data[i]!).to.be.closeTo(v, 1e-4));
  });

  it('needs scored images', async () => {
    const m = Model.load('graphs/linearity_r18w16.onnx');
    try {
      await prunePls(m, { ratio: 0.1, items: items.map((i) => ({ ...i, mos: undefined })), preprocess: resolvePreprocess(readPreprocess(m)) });
      expect.fail('pruned without scores');
    } catch (e) {
      expect(e).to.be.instanceOf(UserError);
      expect((e as Error).message).to.match(/at least 3 scored images/);
    }
  });
});

/**
 * Pruning and shrinking across Concat on an Inception-style PyTorch export
 * (fixtures/prune/inception_iqa.onnx, made by scripts/make-prune-fixtures.py): four towers joined by
 * Concat along the channels, a BatchNormalization after each Concat (its channels come from four
 * convs at four offsets), global pooling and an FC head. The masks of the shared BatchNormalization
 * sit at each tower's offset, the pruned channels are exactly zero after it and its ReLU in ONNX
 * Runtime, and the shrunk model is equivalent to the masked one (`equiv`) with the Concat's channel
 * count reduced by exactly the pruned filters of its inputs.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { assertEquivalent } from '../../src/equiv/assert.js';
import { Model } from '../../src/ir/model.js';
import { tensorDims, tensorTypedData } from '../../src/onnx/tensor-data.js';
import { pruneModel, type PruneReport } from '../../src/surgery/prune/prune.js';
import { shrinkPruned } from '../../src/surgery/prune/shrink.js';
import { runValues } from '../rewrite/ort-values.js';

const FILE = 'fixtures/prune/inception_iqa.onnx';
const expected = JSON.parse(readFileSync('fixtures/prune/inception_iqa.expected.json', 'utf8')) as { input_shape: number[]; input_float32_base64: string; output: number[] };
const inputData = new Float32Array(new Uint8Array(Buffer.from(expected.input_float32_base64, 'base64')).buffer);
const feed = { input: { dims: expected.input_shape, data: inputData } };

/** The Concat nodes, each with its inputs' producing convs (through the tower's Relu) and channel offsets. */
function concatTowers(m: Model): { concat: string; bn: string; relu: string; towers: { conv: string; offset: number; channels: number }[] }[] {
  return m.graph.nodes
    .filter((n) => n.opType === 'Concat')
    .map((cat) => {
      let offset = 0;
      const towers = cat.inputs.map((v) => {
        const relu = v!.producer()!;
        const conv = relu.input(0)!.producer()!;
        const channels = tensorDims(conv.input(1)!.initializer!)[0]!;
        const t = { conv: conv.name, offset, channels };
        offset += channels;
        return t;
      });
      const bn = cat.output(0)!.uses()[0]!.node;
      const relu = bn.output(0)!.uses()[0]!.node;
      expect(bn.opType).to.equal('BatchNormalization');
      return { concat: cat.name, bn: bn.name, relu: relu.output(0)!.name, towers };
    });
}

describe('prune: Inception-style PyTorch export (Concat of towers, shared BatchNormalization)', function () {
  this.timeout(300_000);

  it('the fixture runs in ONNX Runtime as in PyTorch', async () => {
    const y = (await runValues(Model.load(FILE), feed))['score']!;
    y.data.forEach((v, i) => expect(v).to.be.closeTo(expected.output[i]!, 1e-4 * Math.max(1, Math.abs(expected.output[i]!))));
  });

  let masked: Model;
  let report: PruneReport;

  it("every tower conv is pruned; the shared BatchNormalization is masked at each tower's offset; pruned channels are zero after it", async () => {
    masked = Model.load(FILE);
    const cats = concatTowers(masked);
    expect(cats).to.have.length(2);
    report = pruneModel(masked, { criterion: 'l2', ratio: 0.25 });
    expect(report.leftOut).to.deep.equal([]);
    const byNode = new Map(report.pruned.map((c) => [c.node, c]));
    const values = await runValues(masked, feed, cats.map((c) => c.relu));
    for (const cat of cats) {
      const zeroAt = new Set<number>();
      for (const t of cat.towers) {
        const c = byNode.get(t.conv)!;
        expect(c, t.conv).to.not.equal(undefined);
        expect(c.batchNorms).to.deep.equal([cat.bn]);
        for (const p of c.pruned) zeroAt.add(p + t.offset);
      }
      const total = cat.towers.reduce((s, t) => s + t.channels, 0);
      // gamma and beta of the shared BN: zero exactly at the towers' pruned channels + offsets
      const bn = masked.graph.node(cat.bn)!;
      for (const i of [1, 2]) {
        const mul = bn.input(i)!.producer()!;
        const gamma = tensorTypedData(mul.input(0)!.initializer!) as Float32Array;
        const mask = tensorTypedData(mul.input(1)!.initializer!) as Float32Array;
        expect(mask.length).to.equal(total);
        for (let ch = 0; ch < total; ch++) {
          expect(mask[ch], `${cat.bn} input ${i} mask[${ch}]`).to.equal(zeroAt.has(ch) ? 0 : 1);
          if (zeroAt.has(ch)) expect(gamma[ch]).to.equal(0);
        }
      }
      // after the BN and ReLU: pruned channels exactly zero, kept ones not all zero
      const t = values[cat.relu]!;
      const [n, C, H, W] = t.dims as [number, number, number, number];
      expect(C).to.equal(total);
      let keptNonZero = 0;
      for (let b = 0; b < n; b++) {
        for (let ch = 0; ch < C; ch++) {
          const plane = t.data.subarray((b * C + ch) * H * W, (b * C + ch + 1) * H * W);
          if (zeroAt.has(ch)) expect(plane.every((x) => x === 0), `${cat.relu} channel ${ch}`).to.equal(true);
          else if (plane.some((x) => x !== 0)) keptNonZero++;
        }
      }
      expect(keptNonZero).to.be.greaterThan(n * (C - zeroAt.size) * 0.5);
    }
  });

  it('shrunk equals masked in ONNX Runtime (equiv), with each Concat narrowed by its towers\' pruned filters', async () => {
    const shrunk = Model.fromBytes(masked.toBytes());
    const s = shrinkPruned(shrunk);
    expect(s.keptMasked).to.deep.equal([]);
    expect(s.convs).to.equal(report.pruned.length);
    expect(s.parametersAfter).to.be.lessThan(s.parametersBefore * 0.8);
    const again = Model.fromBytes(shrunk.toBytes());
    const before = concatTowers(Model.load(FILE));
    const outs = before.map((c) => masked.graph.node(c.concat)!.output(0)!.name);
    const v = await runValues(again, feed, outs);
    for (const [i, cat] of before.entries()) {
      const removed = cat.towers.reduce((sum, t) => sum + report.pruned.find((c) => c.node === t.conv)!.pruned.length, 0);
      const total = cat.towers.reduce((sum, t) => sum + t.channels, 0);
      expect(v[outs[i]!]!.dims[1], cat.concat).to.equal(total - removed);
      expect(tensorDims(again.graph.node(cat.bn)!.input(1)!.initializer!)).to.deep.equal([total - removed]);
    }
    await assertEquivalent(masked, again, { atol: 1e-5, rtol: 1e-5, inputShapes: { input: [2, 3, 32, 32] } });
    // and on the fixture's own input, the score is PyTorch's
    const y = (await runValues(again, feed))['score']!;
    const ym = (await runValues(masked, feed))['score']!;
    y.data.forEach((x, i) => expect(x).to.be.closeTo(ym.data[i]!, 1e-5 * Math.max(1, Math.abs(ym.data[i]!))));
  });
});

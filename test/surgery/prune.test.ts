/**
 * Pruning masks: the l1/l2 choice, and on real graphs (a BatchNormalization-kept model built here,
 * the BN-folded PyTorch ResNet-18/VGG-16 exports, the shipped default graph) every pruned
 * parameter is exactly zero and every pruned channel is exactly zero after its normalisation and
 * activation in ONNX Runtime; residual joins are left out with the reason; masks never train.
 */
import { expect } from 'chai';
import { selectTrainable } from '../../src/differentiable/parameters.js';
import { UserError } from '../../src/errors.js';
import { Model } from '../../src/ir/model.js';
import type { Node } from '../../src/ir/node.js';
import { tensorDims, tensorTypedData } from '../../src/onnx/tensor-data.js';
import { assertEquivalent } from '../../src/equiv/assert.js';
import { filterNorms, prunedCount, smallest } from '../../src/surgery/prune/criteria.js';
import { PRUNE_METADATA_KEY, pruneMaskNames, pruneModel, type PruneReport } from '../../src/surgery/prune/prune.js';
import { shrinkPruned } from '../../src/surgery/prune/shrink.js';
import { spliceRobustBlock } from '../../src/surgery/splice.js';
import { FLOAT, floatTensor, model as buildModel, node, tensorInfo } from '../helpers/proto-build.js';
import { randomFloats } from '../helpers/seeded-random.js';
import { randomInput, runValues } from '../rewrite/ort-values.js';

describe('prune: criteria', () => {
  it('l1/l2 filter norms, round(ratio x filters) keeping one, smallest first with ties by index', () => {
    const w = [3, 4, 0, 0, 1, -1, -2, 2]; // 4 filters of 2
    expect(Array.from(filterNorms(w, 4, 'l2'))).to.deep.equal([5, 0, Math.SQRT2, 2 * Math.SQRT2]);
    expect(Array.from(filterNorms(w, 4, 'l1'))).to.deep.equal([7, 0, 2, 4]);
    expect(prunedCount(64, 0.1)).to.equal(6);
    expect(prunedCount(4, 0.1)).to.equal(0);
    expect(prunedCount(1, 0.9)).to.equal(0);
    expect(prunedCount(2, 0.9)).to.equal(1);
    // --align: kept filters rounded to a multiple (64 -> 58 kept -> 56; 256 -> 230 -> 224 at 16)
    expect(prunedCount(64, 0.1, 8)).to.equal(8);
    expect(prunedCount(256, 0.1, 16)).to.equal(32);
    expect(prunedCount(512, 0.1, 16)).to.equal(48);
    expect(prunedCount(16, 0.1, 16)).to.equal(2); // no larger than the alignment: plain rounding
    expect(prunedCount(24, 0.9, 16)).to.equal(8); // at least one block kept
    expect(smallest([5, 1, 1, 0], 2)).to.deep.equal([1, 3]);
    expect(smallest([2, 1, 1, 3], 2)).to.deep.equal([1, 2]);
  });
});

/** x -> Conv(3->8) -> BN -> Relu -> Conv(8->6) -> BN -> Relu -> GAP -> Flatten -> Gemm(6->1). */
function bnKeptModel(): Model {
  const f = (name: string, dims: number[], seed: number, lo = -1, hi = 1) => floatTensor(name, dims, randomFloats(seed, dims.reduce((a, b) => a * b, 1), lo, hi));
  return new Model(
    buildModel({
      inputs: [tensorInfo('x', FLOAT, [2, 3, 12, 12])],
      outputs: [tensorInfo('score', FLOAT, [2, 1])],
      initializers: [
        f('c1.w', [8, 3, 3, 3], 1), f('c1.b', [8], 2), f('bn1.s', [8], 3, 0.5, 1.5), f('bn1.b', [8], 4), f('bn1.m', [8], 5), f('bn1.v', [8], 6, 0.5, 2),
        f('c2.w', [6, 8, 3, 3], 7), f('bn2.s', [6], 8, 0.5, 1.5), f('bn2.b', [6], 9), f('bn2.m', [6], 10), f('bn2.v', [6], 11, 0.5, 2), f('fc.w', [1, 6], 12), f('fc.b', [1], 13),
      ],
      nodes: [
        node('Conv', ['x', 'c1.w', 'c1.b'], ['a1'], 'c1', { attribute: [{ name: 'pads', ints: [1, 1, 1, 1], type: 7 }] }),
        node('BatchNormalization', ['a1', 'bn1.s', 'bn1.b', 'bn1.m', 'bn1.v'], ['n1'], 'bn1'),
        node('Relu', ['n1'], ['r1'], 'relu1'),
        node('Conv', ['r1', 'c2.w'], ['a2'], 'c2', { attribute: [{ name: 'pads', ints: [1, 1, 1, 1], type: 7 }] }),
        node('BatchNormalization', ['a2', 'bn2.s', 'bn2.b', 'bn2.m', 'bn2.v'], ['n2'], 'bn2'),
        node('Relu', ['n2'], ['r2'], 'relu2'),
        node('GlobalAveragePool', ['r2'], ['g'], 'gap'),
        node('Flatten', ['g'], ['fl'], 'flat'),
        node('Gemm', ['fl', 'fc.w', 'fc.b'], ['score'], 'fc', { attribute: [{ name: 'transB', i: 1, type: 2 }] }),
      ],
    }),
  );
}

/** The activation after a conv (its chain through BN to the first Relu), by following single uses. */
function activationAfter(conv: Node): string {
  let v = conv.output(0)!;
  for (let i = 0; i < 4; i++) {
    const u = v.uses()[0]!.node;
    v = u.output(0)!;
    if (u.opType === 'Relu') return v.name;
  }
  throw new Error(`no Relu after ${conv.name}`);
}

async function checkPrunedChannelsZero(m: Model, report: PruneReport, inputDims: number[]): Promise<number> {
  const g = m.graph;
  let checked = 0;
  const acts = report.pruned.map((c) => ({ c, act: activationAfter(g.node(c.node)!) }));
  const values = await runValues(m, { [g.inputs[0]!.name]: randomInput(inputDims, 3) }, acts.map((a) => a.act));
  for (const { c, act } of acts) {
    // parameters: exactly zero in the file
    for (const mk of c.masks) {
      const data = tensorTypedData(g.value(mk.parameter).initializer!) as Float32Array;
      const per = data.length / c.filters;
      for (const ch of c.pruned) for (let i = ch * per; i < (ch + 1) * per; i++) expect(Object.is(data[i], 0) || data[i] === 0, `${mk.parameter}[${i}]`).to.equal(true);
    }
    // activations: exactly zero in every pruned channel, not all zero elsewhere
    const t = values[act]!;
    const [n, C, H, W] = t.dims as [number, number, number, number];
    for (let b = 0; b < n; b++) {
      for (let ch = 0; ch < C; ch++) {
        const plane = t.data.subarray(((b * C + ch) * H) * W, ((b * C + ch) * H + H) * W);
        const zero = plane.every((v) => v === 0);
        if (c.pruned.includes(ch)) expect(zero, `${act} channel ${ch} (pruned)`).to.equal(true);
      }
    }
    checked++;
  }
  return checked;
}

describe('prune: masks in real graphs', function () {
  this.timeout(300_000);

  it('BatchNormalization kept: weight, bias, gamma and beta masked; pruned channels are zero after BN and ReLU', async () => {
    const m = bnKeptModel();
    const report = pruneModel(m, { criterion: 'l2', ratio: 0.25 });
    expect(report.pruned.map((c) => [c.node, c.pruned.length, c.batchNorms])).to.deep.equal([
      ['c1', 2, ['bn1']],
      ['c2', 2, ['bn2']],
    ]);
    expect(report.pruned[0]!.masks.map((k) => k.parameter)).to.deep.equal(['c1.w', 'c1.b', 'bn1.s', 'bn1.b']);
    expect(report.leftOut).to.deep.equal([]);
    // the smallest-l2 filters were chosen
    const w = randomFloats(1, 8 * 27);
    expect(report.pruned[0]!.pruned).to.deep.equal(smallest(filterNorms(w, 8, 'l2'), 2));
    expect(await checkPrunedChannelsZero(m, report, [2, 3, 12, 12])).to.equal(2);
    // the masked model reloads from its bytes with the same record
    const again = Model.fromBytes(m.toBytes());
    expect(JSON.parse(again.metadata().get(PRUNE_METADATA_KEY)!).convs).to.have.length(2);
  });

  it('without masking BN, the pruned channels would not be zero (the check can fail)', async () => {
    const m = bnKeptModel();
    const report = pruneModel(m, { criterion: 'l2', ratio: 0.25 });
    // undo the beta mask of bn1: beta passes through ReLU where positive
    const bn1 = m.graph.node('bn1')!;
    const betaMask = m.graph.value('bn1.b.prune_mask');
    betaMask.initializer = floatTensor('bn1.b.prune_mask', [8], new Array(8).fill(1));
    const beta = Float32Array.from(randomFloats(4, 8, -1, 1)).map((v) => Math.abs(v) + 0.1);
    m.graph.value('bn1.b').initializer = floatTensor('bn1.b', [8], beta);
    let failed = false;
    try {
      await checkPrunedChannelsZero(m, report, [2, 3, 12, 12]);
    } catch {
      failed = true;
    }
    expect(failed, `bn1 ${bn1.name}`).to.equal(true);
  });

  for (const [file, dims] of [
    ['fixtures/models/resnet18_iqa.onnx', [1, 3, 64, 64]],
    ['fixtures/models/vgg16_iqa.onnx', [1, 3, 64, 64]],
  ] as const) {
    it(`${file} (BN folded): pruned channels exactly zero after ReLU; residual joins left out with the reason`, async () => {
      const m = Model.load(file);
      const report = pruneModel(m, { criterion: 'l2', ratio: 0.1 });
      expect(report.pruned.length).to.be.greaterThan(0);
      expect(await checkPrunedChannelsZero(m, report, [...dims])).to.equal(report.pruned.length);
      if (file.includes('resnet')) {
        // first conv of each BasicBlock prunable; the convs writing into the residual stream are not
        expect(report.pruned.every((c) => /conv1/.test(c.node))).to.equal(true, report.pruned.map((c) => c.node).join());
        expect(report.leftOut.some((l) => /join another path at Add/.test(l.reason))).to.equal(true);
      } else {
        expect(report.leftOut).to.deep.equal([]);
        expect(report.pruned.length).to.equal(13);
      }
      for (const c of report.pruned) expect(c.pruned.length).to.equal(Math.round(0.1 * c.filters));
    });
  }

  it('masks are never trainable; pruning twice is refused; bad options are refused', async () => {
    const m = bnKeptModel();
    pruneModel(m, { criterion: 'l1', ratio: 0.25 });
    const masks = pruneMaskNames(m);
    expect(masks.size).to.equal(7); // c1: w, b, gamma, beta; c2 (no bias): w, gamma, beta
    const all = await selectTrainable(m, ['all']);
    expect(all.filter((p) => masks.has(p))).to.deep.equal([]);
    expect(all).to.include('c1.w');
    try {
      await selectTrainable(m, ['c1.w.prune_mask']);
      expect.fail('a mask was selected');
    } catch (e) {
      expect(e).to.be.instanceOf(UserError);
      expect((e as Error).message).to.match(/pruning mask/);
    }
    expect(() => pruneModel(m, { criterion: 'l2', ratio: 0.1 })).to.throw(UserError, /already pruned/);
    expect(() => pruneModel(bnKeptModel(), { criterion: 'l2', ratio: 0.95 })).to.throw(UserError, /\[0, 0.9\]/);
    expect(() => pruneModel(bnKeptModel(), { criterion: 'l2', ratio: NaN })).to.throw(UserError, /ratio/);
    expect(() => pruneModel(bnKeptModel(), { criterion: 'l3' as 'l2', ratio: 0.1 })).to.throw(UserError, /criterion/);
  });
});

describe('prune: shrink (physical removal) is equivalent to the masked model', function () {
  this.timeout(300_000);

  /** Two branches concatenated (Inception-style): convs a, b -> Relu -> Concat -> conv c -> GAP -> Gemm. */
  function concatModel(): Model {
    const f = (name: string, dims: number[], seed: number) => floatTensor(name, dims, randomFloats(seed, dims.reduce((x, y) => x * y, 1)));
    const pads = { attribute: [{ name: 'pads', ints: [1, 1, 1, 1], type: 7 }] };
    return new Model(
      buildModel({
        inputs: [tensorInfo('x', FLOAT, ['N', 3, 10, 10])],
        outputs: [tensorInfo('score', FLOAT, ['N', 1])],
        initializers: [f('a.w', [6, 3, 3, 3], 1), f('a.b', [6], 2), f('b.w', [10, 3, 1, 1], 3), f('b.b', [10], 4), f('c.w', [8, 16, 3, 3], 5), f('c.b', [8], 6), f('s', [1, 8, 1, 1], 7), f('fc.w', [1, 8], 8), f('fc.b', [1], 9)],
        nodes: [
          node('Conv', ['x', 'a.w', 'a.b'], ['ya'], 'a', pads),
          node('Relu', ['ya'], ['ra'], 'ra'),
          node('Conv', ['x', 'b.w', 'b.b'], ['yb'], 'b'),
          node('Relu', ['yb'], ['rb'], 'rb'),
          node('Concat', ['ra', 'rb'], ['cat'], 'cat', { attribute: [{ name: 'axis', i: 1, type: 2 }] }),
          node('Conv', ['cat', 'c.w', 'c.b'], ['yc'], 'c', pads),
          node('Relu', ['yc'], ['rc'], 'rc'),
          node('Mul', ['rc', 's'], ['sc'], 'scale'),
          node('GlobalAveragePool', ['sc'], ['g'], 'gap'),
          node('Flatten', ['g'], ['fl'], 'flat'),
          node('Gemm', ['fl', 'fc.w', 'fc.b'], ['score'], 'fc', { attribute: [{ name: 'transB', i: 1, type: 2 }] }),
        ],
      }),
    );
  }

  const cases: [string, () => Model, number[], number][] = [
    ['BN kept (synthetic)', bnKeptModel, [2, 3, 12, 12], 0.25],
    ['Concat of two branches (synthetic, Inception-style)', concatModel, [2, 3, 10, 10], 0.25],
    ['fixtures/models/resnet18_iqa.onnx', () => Model.load('fixtures/models/resnet18_iqa.onnx'), [2, 3, 64, 64], 0.1],
    ['fixtures/models/resnet50_iqa.onnx', () => Model.load('fixtures/models/resnet50_iqa.onnx'), [2, 3, 64, 64], 0.1],
    ['fixtures/models/vgg16_iqa.onnx', () => Model.load('fixtures/models/vgg16_iqa.onnx'), [2, 3, 64, 64], 0.1],
    ['graphs/linearity_r18w16.onnx', () => Model.load('graphs/linearity_r18w16.onnx'), [2, 3, 96, 128], 0.1],
    ['graphs/dbcnn_vgg_bilinear.onnx', () => Model.load('graphs/dbcnn_vgg_bilinear.onnx'), [2, 3, 96, 128], 0.1],
  ];
  for (const [name, make, dims, ratio] of cases) {
    it(`${name}: same outputs in ONNX Runtime, fewer parameters`, async () => {
      const masked = make();
      const report = pruneModel(masked, { criterion: 'l2', ratio });
      expect(report.pruned.length, JSON.stringify(report.leftOut)).to.be.greaterThan(0);
      const shrunk = Model.fromBytes(masked.toBytes());
      const s = shrinkPruned(shrunk);
      expect(s.parametersAfter).to.be.lessThan(s.parametersBefore);
      // the masks are gone and the file reloads
      expect(shrunk.graph.nodes.some((n) => n.opType === 'Mul' && n.input(1)?.name.endsWith('.prune_mask'))).to.equal(false);
      const again = Model.fromBytes(shrunk.toBytes());
      const input = masked.graph.inputs[0]!.name;
      const feed = { [input]: randomInput(dims, 5) };
      const a = await runValues(masked, feed);
      const b = await runValues(again, feed);
      for (const k of Object.keys(a)) {
        const x = a[k]!.data;
        const y = b[k]!.data;
        expect(b[k]!.dims).to.deep.equal(a[k]!.dims);
        const scale = Math.max(...Array.from(x, Math.abs), 1e-6);
        x.forEach((v, i) => expect(Math.abs(v - y[i]!), `${k}[${i}]`).to.be.at.most(1e-5 * scale));
      }
    });
  }

  it('a spliced model: the RobustBlock reduce conv is masked (its channels exactly zero), shrink keeps it masked and removes the rest', async () => {
    const m = Model.load('graphs/linearity_r18w16.onnx');
    await spliceRobustBlock(m, { stage: 'layer3' });
    const report = pruneModel(m, { criterion: 'l2', ratio: 0.25, scope: 'block' });
    expect(report.pruned.map((c) => c.node)).to.deep.equal(['robust_block/reduce/Conv']);
    const reduce = m.graph.node('robust_block/reduce/Conv')!.output(0)!.name;
    const feed = { [m.graph.inputs[0]!.name]: randomInput([2, 3, 96, 128], 4) };
    const t = (await runValues(m, feed, [reduce]))[reduce]!;
    const [n, C, H, W] = t.dims as [number, number, number, number];
    for (let b = 0; b < n; b++) for (const ch of report.pruned[0]!.pruned) expect(t.data.subarray((b * C + ch) * H * W, (b * C + ch + 1) * H * W).every((v) => v === 0)).to.equal(true);
    const all = Model.load('graphs/linearity_r18w16.onnx');
    await spliceRobustBlock(all, { stage: 'layer3' });
    pruneModel(all, { criterion: 'l2', ratio: 0.1 });
    const shrunk = Model.fromBytes(all.toBytes());
    const s = shrinkPruned(shrunk);
    expect(s.keptMasked.map((k) => k.node)).to.deep.equal(['robust_block/reduce/Conv']);
    expect(s.keptMasked[0]!.reason).to.match(/MatMul 'robust_block\/orth/);
    expect(s.parametersAfter).to.be.lessThan(s.parametersBefore);
    const [a, b] = [await runValues(all, feed), await runValues(Model.fromBytes(shrunk.toBytes()), feed)];
    for (const k of Object.keys(a)) a[k]!.data.forEach((v, i) => expect(b[k]!.data[i]!).to.be.closeTo(v, 1e-5 * Math.max(1, Math.abs(v))));
  });

  it('a model without a pruning record, or shrunk twice, is refused', async () => {
    const shrink = shrinkPruned;
    expect(() => shrink(bnKeptModel())).to.throw(UserError, /no pruning record/);
    const m = bnKeptModel();
    pruneModel(m, { criterion: 'l2', ratio: 0.25 });
    shrink(m);
    expect(() => shrink(m)).to.throw(UserError, /already shrunk/);
  });
});

/**
 * MobileNet-style block: x -> Conv(3->8) -> BN -> Relu -> depthwise Conv(8, group 8, bias) -> BN ->
 * Relu -> pointwise Conv(8->12) -> BN -> Relu -> GAP -> Flatten -> Gemm; `group` > 1 and not
 * depthwise (group 2 over 8 channels) when `grouped`.
 */
function mobileNetBlock(opts: { grouped?: boolean } = {}): Model {
  const f = (name: string, dims: number[], seed: number, lo = -1, hi = 1) => floatTensor(name, dims, randomFloats(seed, dims.reduce((a, b) => a * b, 1), lo, hi));
  const bn = (p: string, c: number, seed: number) => [f(`${p}.s`, [c], seed, 0.5, 1.5), f(`${p}.b`, [c], seed + 1), f(`${p}.m`, [c], seed + 2), f(`${p}.v`, [c], seed + 3, 0.5, 2)];
  const pads = { name: 'pads', ints: [1, 1, 1, 1], type: 7 };
  const group = opts.grouped ? 2 : 8;
  return new Model(
    buildModel({
      inputs: [tensorInfo('x', FLOAT, [2, 3, 12, 12])],
      outputs: [tensorInfo('score', FLOAT, [2, 1])],
      initializers: [f('c1.w', [8, 3, 3, 3], 1), ...bn('bn1', 8, 2), f('dw.w', [8, 8 / group, 3, 3], 10), f('dw.b', [8], 11), ...bn('bn2', 8, 12), f('pw.w', [12, 8, 1, 1], 20), ...bn('bn3', 12, 21), f('fc.w', [1, 12], 30), f('fc.b', [1], 31)],
      nodes: [
        node('Conv', ['x', 'c1.w'], ['a1'], 'c1', { attribute: [pads] }),
        node('BatchNormalization', ['a1', 'bn1.s', 'bn1.b', 'bn1.m', 'bn1.v'], ['n1'], 'bn1'),
        node('Relu', ['n1'], ['r1'], 'relu1'),
        node('Conv', ['r1', 'dw.w', 'dw.b'], ['a2'], 'dw', { attribute: [pads, { name: 'group', i: group, type: 2 }] }),
        node('BatchNormalization', ['a2', 'bn2.s', 'bn2.b', 'bn2.m', 'bn2.v'], ['n2'], 'bn2'),
        node('Relu', ['n2'], ['r2'], 'relu2'),
        node('Conv', ['r2', 'pw.w'], ['a3'], 'pw'),
        node('BatchNormalization', ['a3', 'bn3.s', 'bn3.b', 'bn3.m', 'bn3.v'], ['n3'], 'bn3'),
        node('Relu', ['n3'], ['r3'], 'relu3'),
        node('GlobalAveragePool', ['r3'], ['g'], 'gap'),
        node('Flatten', ['g'], ['fl'], 'flat'),
        node('Gemm', ['fl', 'fc.w', 'fc.b'], ['score'], 'fc', { attribute: [{ name: 'transB', i: 1, type: 2 }] }),
      ],
    }),
  );
}

describe('prune: depthwise and grouped consumers', function () {
  this.timeout(300_000);

  it('a depthwise conv follows its producer: its weight and bias are masked, the channel is zero after its BN and ReLU; shrink removes it from both (equiv)', async () => {
    const masked = mobileNetBlock();
    const report = pruneModel(masked, { criterion: 'l2', ratio: 0.25 });
    expect(report.pruned.map((c) => [c.node, c.pruned.length, c.depthwise, c.batchNorms])).to.deep.equal([
      ['c1', 2, ['dw'], ['bn1', 'bn2']],
      ['pw', 3, [], ['bn3']],
    ]);
    expect(report.pruned[0]!.masks.map((k) => k.parameter)).to.deep.equal(['c1.w', 'dw.w', 'dw.b', 'bn1.s', 'bn1.b', 'bn2.s', 'bn2.b']);
    expect(report.leftOut).to.deep.equal([{ node: 'dw', reason: 'depthwise conv (group 8): not pruned on its own; its channels follow the conv that feeds it (masked and removed with that conv\'s)' }]);
    // c1's pruned channels are exactly zero after c1's BN+ReLU and after the depthwise conv's BN+ReLU
    const c1 = report.pruned[0]!;
    const feed = { x: randomInput([2, 3, 12, 12], 3) };
    const v = await runValues(masked, feed, ['r1', 'r2']);
    for (const name of ['r1', 'r2']) {
      const t = v[name]!;
      for (let b = 0; b < 2; b++) {
        for (let ch = 0; ch < 8; ch++) {
          const plane = t.data.subarray((b * 8 + ch) * 144, (b * 8 + ch + 1) * 144);
          if (c1.pruned.includes(ch)) expect(plane.every((x) => x === 0), `${name} channel ${ch}`).to.equal(true);
          else expect(plane.some((x) => x !== 0), `${name} channel ${ch} (kept)`).to.equal(true);
        }
      }
    }
    const shrunk = Model.fromBytes(masked.toBytes());
    const s = shrinkPruned(shrunk);
    expect(s.keptMasked).to.deep.equal([]);
    expect(s.touched).to.include.members(['c1', 'dw', 'bn1', 'bn2', 'pw', 'bn3', 'fc']);
    const dw = shrunk.graph.node('dw')!;
    expect(dw.attrInt('group', 1)).to.equal(6);
    expect(tensorDims(dw.input(1)!.initializer!)).to.deep.equal([6, 1, 3, 3]);
    expect(tensorDims(shrunk.graph.value('dw.b').initializer!)).to.deep.equal([6]);
    expect(tensorDims(shrunk.graph.value('pw.w').initializer!)).to.deep.equal([9, 6, 1, 1]);
    const eq = await assertEquivalent(masked, Model.fromBytes(shrunk.toBytes()), { atol: 1e-5, rtol: 1e-5, perLayer: false });
    expect(eq.equivalent).to.equal(true);
  });

  it('without masking the depthwise bias, the channel would not be zero after it (the check can fail)', async () => {
    const masked = mobileNetBlock();
    const report = pruneModel(masked, { criterion: 'l2', ratio: 0.25 });
    masked.graph.value('dw.b.prune_mask').initializer = floatTensor('dw.b.prune_mask', [8], new Array(8).fill(1));
    masked.graph.value('dw.b').initializer = floatTensor('dw.b', [8], new Array(8).fill(5));
    const t = (await runValues(masked, { x: randomInput([2, 3, 12, 12], 3) }, ['a2']))['a2']!;
    const ch = report.pruned[0]!.pruned[0]!;
    expect(t.data.subarray(ch * 144, (ch + 1) * 144).every((x) => x === 0)).to.equal(false);
  });

  it('a grouped conv that is not depthwise: its producer and itself are left out with the reason', () => {
    const m = mobileNetBlock({ grouped: true });
    const report = pruneModel(m, { criterion: 'l2', ratio: 0.25 });
    expect(report.pruned.map((c) => c.node)).to.deep.equal(['pw']);
    expect(report.leftOut).to.deep.equal([
      { node: 'c1', reason: "it feeds the grouped conv Conv 'dw' (group 2, not depthwise with one filter per channel: its input channels could only be removed in whole groups)" },
      { node: 'dw', reason: 'grouped conv (group 2, not depthwise with one filter per channel): its filters are not independent of its input channels (only whole groups could be removed)' },
    ]);
  });
});

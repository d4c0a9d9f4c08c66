/**
 * Issue 12, items 2 and 4: several blocks in one splice (each its own parameters, prefix and
 * metadata entry, all materialized), joins that a resizing block would break (named, with the
 * ways out), and ops whose input domain the replaced ReLU features respected (`--post-activation`).
 */
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { domainChecks, valueSigns } from '../../src/analysis/sign-domain.js';
import { makeDefaultDataset } from '../../src/data/make-default.js';
import { compareModels } from '../../src/equiv/compare.js';
import { UserError } from '../../src/errors.js';
import { Model } from '../../src/ir/model.js';
import { materialize } from '../../src/surgery/materialize.js';
import { SPLICE_METADATA_KEY, spliceRobustBlocks, type SpliceOptions, type SpliceSite } from '../../src/surgery/splice.js';
import { cli } from '../helpers/cli.js';
import { floatTensor, int64Tensor, node, tensorInfo } from '../helpers/proto-build.js';
import { randomFloats } from '../helpers/seeded-random.js';
import { TempDirs } from '../helpers/temp-dir.js';

const H = 12;
const W = 16;

/**
 * A DBCNN-style model with two branches: conv+ReLU (4 channels) and conv+ReLU+conv+ReLU (6
 * channels), both [H, W], joined by bilinear pooling (MatMul of the flattened maps, / HW), then
 * DBCNN's published head: sqrt(x + 1e-8), L2 normalisation (norm clipped at 1e-12), a Linear.
 */
function twoBranchModel(): Model {
  const conv = (name: string, cin: number, cout: number, seed: number) => [
    floatTensor(`${name}.weight`, [cout, cin, 3, 3], randomFloats(seed, cout * cin * 9, -0.3, 0.3)),
    floatTensor(`${name}.bias`, [cout], randomFloats(seed + 1, cout, -0.1, 0.1)),
  ];
  const pads = { attribute: [{ name: 'pads', ints: [1, 1, 1, 1], type: 7 }] };
  return new Model(
    {
      ir_version: 8,
      opset_import: [{ domain: '', version: 13 }],
      graph: {
        name: 'dbcnn2',
        input: [tensorInfo('input', 1, [1, 3, H, W])],
        output: [tensorInfo('score', 1, [1, 1])],
        initializer: [
          ...conv('vgg.conv1', 3, 4, 1),
          ...conv('scnn.conv1', 3, 6, 3),
          ...conv('scnn.conv2', 6, 6, 5),
          int64Tensor('shape_a', [3], [1, 4, -1]),
          int64Tensor('shape_b', [3], [1, 6, -1]),
          int64Tensor('shape_flat', [2], [1, 24]),
          floatTensor('hw', [], [H * W]),
          floatTensor('eps', [], [1e-8]),
          floatTensor('clip_min', [], [1e-12]),
          floatTensor('fc.weight', [1, 24], randomFloats(7, 24)),
          floatTensor('fc.bias', [1], [0.5]),
        ],
        node: [
          node('Conv', ['input', 'vgg.conv1.weight', 'vgg.conv1.bias'], ['vgg_c1'], '/vgg/conv1/Conv', pads),
          node('Relu', ['vgg_c1'], ['vgg_feat'], '/vgg/relu1/Relu'),
          node('Conv', ['input', 'scnn.conv1.weight', 'scnn.conv1.bias'], ['scnn_c1'], '/scnn/conv1/Conv', pads),
          node('Relu', ['scnn_c1'], ['scnn_r1'], '/scnn/relu1/Relu'),
          node('Conv', ['scnn_r1', 'scnn.conv2.weight', 'scnn.conv2.bias'], ['scnn_c2'], '/scnn/conv2/Conv', pads),
          node('Relu', ['scnn_c2'], ['scnn_feat'], '/scnn/relu2/Relu'),
          node('Reshape', ['vgg_feat', 'shape_a'], ['xa'], '/Reshape'),
          node('Reshape', ['scnn_feat', 'shape_b'], ['xb'], '/Reshape_1'),
          node('Transpose', ['xb'], ['xbt'], '/Transpose', { attribute: [{ name: 'perm', ints: [0, 2, 1], type: 7 }] }),
          node('MatMul', ['xa', 'xbt'], ['bil'], '/MatMul'),
          node('Div', ['bil', 'hw'], ['bil_mean'], '/Div'),
          node('Reshape', ['bil_mean', 'shape_flat'], ['flat'], '/Reshape_2'),
          node('Add', ['flat', 'eps'], ['flat_eps'], '/Add'),
          node('Sqrt', ['flat_eps'], ['root'], '/Sqrt'),
          node('ReduceL2', ['root'], ['norm'], '/ReduceL2', { attribute: [{ name: 'axes', ints: [1], type: 7 }] }),
          node('Clip', ['norm', 'clip_min'], ['norm_c'], '/Clip'),
          node('Div', ['root', 'norm_c'], ['normed'], '/Div_1'),
          node('Gemm', ['normed', 'fc.weight', 'fc.bias'], ['score'], '/fc/Gemm', { attribute: [{ name: 'transB', i: 1, type: 2 }] }),
        ],
      },
    },
  );
}

/** graphs/dbcnn_vgg_bilinear.onnx with DBCNN's published head, sqrt(x + eps), in place of its signed sqrt(|x| + eps). */
function dbcnnPublishedSqrt(): Model {
  const m = Model.load('graphs/dbcnn_vgg_bilinear.onnx');
  const add = m.graph.nodes.find((n) => n.name === '/Add')!;
  expect(add.input(0)!.producer()!.opType).to.equal('Abs');
  add.setInput(0, m.graph.value('/Reshape_1_output_0'));
  return m;
}
const DBCNN_LAST = '/features/features.23/Relu_output_0';

async function score(model: Model, seed = 11): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(model.toBytes());
  const out = await session.run({ input: new ort.Tensor('float32', randomFloats(seed, 3 * H * W, 0, 1), [1, 3, H, W]) });
  expect([...out.score!.dims]).to.deep.equal([1, 1]);
  return out.score!.data as Float32Array;
}

async function refusal(model: Model, sites: SpliceSite[], opts: SpliceOptions = {}): Promise<UserError> {
  try {
    await spliceRobustBlocks(model, sites, opts);
  } catch (e) {
    expect(e).to.be.instanceOf(UserError);
    return e as UserError;
  }
  throw new Error('the splice should have been refused');
}

describe('surgery/splice: several blocks, joins, input domains (issue 12)', () => {
  const tmp = new TempDirs('splice-multi');
  after(() => tmp.cleanup());

  it('sign analysis: the Sqrt of the bilinear features is proved safe before the splice', () => {
    const m = twoBranchModel();
    const signs = valueSigns(m);
    expect(signs.get(m.graph.value('vgg_feat'))).to.equal('nonneg');
    expect(signs.get(m.graph.value('flat_eps'))).to.equal('pos');
    expect(signs.get(m.graph.value('norm_c'))).to.equal('pos');
    expect(signs.get(m.graph.value('vgg_c1'))).to.equal('any');
    const held = domainChecks(m).map((d) => [d.node.name, d.held]);
    expect(held).to.deep.equal([
      ['/Div', true],
      ['/Sqrt', true],
      ['/Div_1', true],
    ]);
  });

  it('one branch only: refused, naming the bilinear join, the sibling edge and --restore-size', async () => {
    const e = await refusal(twoBranchModel(), [{ edge: 'vgg_feat' }], { postActivation: 'relu' });
    expect(e.code).to.equal('splice-breaks-join');
    expect(e.message).to.contain("'/MatMul' (MatMul)").and.contain("--edge 'scnn_feat'").and.contain('--restore-size').and.contain('[4,12,16]').and.contain('[4,12,12]');
    expect(e.message).to.not.contain('\n');
  });

  it('both branches at once: two blocks with their own parameters, prefixes and metadata, materialized, ORT runs with the original output shape', async () => {
    const base = twoBranchModel();
    const ref = await score(base);
    expect(Number.isFinite(ref[0]!)).to.equal(true);
    const m = twoBranchModel();
    const reports = await spliceRobustBlocks(m, [{ edge: 'vgg_feat' }, { edge: 'scnn_feat' }], { postActivation: 'relu' });
    expect(reports.map((r) => r.options.prefix)).to.deep.equal(['robust_block_1', 'robust_block_2']);
    expect(reports.map((r) => r.outShape)).to.deep.equal([
      [4, 12, 12],
      [6, 12, 12],
    ]);
    expect(reports.map((r) => r.options.seed)).to.deep.equal([0, 1]);
    const meta = JSON.parse(m.metadata().get(SPLICE_METADATA_KEY)!) as { edge: string; postActivation: string; options: { prefix: string }; cayley: { weight: string } }[];
    expect(meta.map((x) => [x.edge, x.options.prefix, x.postActivation, x.cayley.weight])).to.deep.equal([
      ['vgg_feat', 'robust_block_1', 'relu', 'robust_block_1.orth.weight'],
      ['scnn_feat', 'robust_block_2', 'relu', 'robust_block_2.orth.weight'],
    ]);
    // the post-activation Relu reads each block's output, and the join reads the Relus
    expect(m.graph.value('xa').producer()!.input(0)!.producer()!.opType).to.equal('Relu');
    const a = await score(m);
    expect(Number.isFinite(a[0]!)).to.equal(true);
    expect(a[0]).to.not.equal(ref[0]);
    const mat = m.clone();
    const rep = await materialize(mat);
    expect(rep.blocks.map((b) => [b.prefix, b.folded.length])).to.deep.equal([
      ['robust_block_1', 2],
      ['robust_block_2', 2],
    ]);
    expect(mat.graph.hasValue('robust_block_1.orth.weight') || mat.graph.hasValue('robust_block_2.orth.weight')).to.equal(false);
    const b = await score(mat);
    expect(Math.abs(b[0]! - a[0]!)).to.be.lessThan(1e-4 * Math.max(1, Math.abs(a[0]!)));
  });

  it('--restore-size on one branch keeps the join working', async () => {
    const m = twoBranchModel();
    const [r] = await spliceRobustBlocks(m, [{ edge: 'vgg_feat' }], { restoreSize: true, postActivation: 'relu' });
    expect(r!.outShape).to.deep.equal([4, 12, 16]);
    expect(Number.isFinite((await score(m))[0]!)).to.equal(true);
  });

  it('a signed block output reaching sqrt(x + 1e-8) is refused naming the Sqrt; --post-activation none makes it NaN, relu keeps it finite', async () => {
    const e = await refusal(twoBranchModel(), [{ edge: 'vgg_feat' }, { edge: 'scnn_feat' }]);
    expect(e.code).to.equal('splice-domain');
    expect(e.message).to.contain("'/Sqrt' (Sqrt)").and.contain('--post-activation relu').and.contain("'vgg_feat', 'scnn_feat'");
    expect(e.message).to.not.contain('/Div_1'); // the clipped norm stays positive
    const none = twoBranchModel();
    const [r] = await spliceRobustBlocks(none, [{ edge: 'vgg_feat' }, { edge: 'scnn_feat' }], { postActivation: 'none' });
    expect(r!.postActivation).to.equal('none');
    expect(JSON.parse(none.metadata().get(SPLICE_METADATA_KEY)!)[0].postActivation).to.equal('none');
    // the risk is real: the signed bilinear features make the score NaN
    expect(Number.isNaN((await score(none))[0]!)).to.equal(true);
    // and equiv reports it as a failure, even though both runs agree on the NaN
    const rep = await compareModels(none);
    expect(rep.equivalent).to.equal(false);
    expect(rep.summary).to.match(/NaN\/Inf/);
  });

  it('the published default DBCNN graph (signed sqrt, clipped norm) needs no --post-activation', async () => {
    const m = Model.load('graphs/dbcnn_vgg_bilinear.onnx');
    const edge = '/features/features.23/Relu_output_0';
    const shape = [1, 3, 96, 128];
    const ref = await ort.InferenceSession.create(Model.load('graphs/dbcnn_vgg_bilinear.onnx').toBytes());
    const x = new ort.Tensor('float32', randomFloats(3, 3 * 96 * 128, 0, 1), shape);
    const y0 = (await ref.run({ input: x })).score!;
    // two blocks on the one trunk (the file has a single branch): the last two stages
    const reports = await spliceRobustBlocks(m, [{ edge: '/features/features.19/Relu_output_0' }, { edge }], { inputShapes: { input: shape } });
    // the second block is built for the size the first one leaves: 24 x 24 pooled to 12 x 12
    expect(reports.map((r) => [r.inShape, r.outShape])).to.deep.equal([
      [
        [48, 24, 32],
        [48, 24, 24],
      ],
      [
        [32, 12, 12],
        [32, 12, 12],
      ],
    ]);
    const s = await ort.InferenceSession.create(m.toBytes());
    const y = (await s.run({ input: x })).score!;
    expect([...y.dims]).to.deep.equal([...y0.dims]);
    expect(Array.from(y.data as Float32Array).every(Number.isFinite)).to.equal(true);
  });

  it("the default DBCNN graph with the published sqrt(x + eps): refused naming '/Sqrt'; --post-activation relu keeps scores finite; evaluate on the NaN model is a one-line error", async () => {
    const e = await refusal(dbcnnPublishedSqrt(), [{ edge: DBCNN_LAST }]);
    expect(e.code).to.equal('splice-domain');
    expect(e.message).to.contain("'/Sqrt' (Sqrt)");
    const dir = tmp.make('dbcnn');
    const shape = [2, 3, 96, 128];
    const x = new ort.Tensor('float32', randomFloats(5, 2 * 3 * 96 * 128, 0, 1), shape);
    const outOf = async (m: Model): Promise<Float32Array> => (await (await ort.InferenceSession.create(m.toBytes())).run({ input: x })).score!.data as Float32Array;
    expect(Array.from(await outOf(dbcnnPublishedSqrt())).every(Number.isFinite)).to.equal(true);
    const relu = dbcnnPublishedSqrt();
    await spliceRobustBlocks(relu, [{ edge: DBCNN_LAST }], { postActivation: 'relu' });
    expect(Array.from(await outOf(relu)).every(Number.isFinite)).to.equal(true);
    const none = dbcnnPublishedSqrt();
    await spliceRobustBlocks(none, [{ edge: DBCNN_LAST }], { postActivation: 'none' });
    expect(Array.from(await outOf(none)).some(Number.isNaN)).to.equal(true);
    const file = path.join(dir, 'none.onnx');
    none.save(file);
    const data = path.join(dir, 'data');
    await makeDefaultDataset({ out: data, size: 4, seed: 3 });
    const r = await cli('evaluate', file, '--data', data, '--max-images', '2', '--attacks', 'noise', '--eps', '2', '--report', path.join(dir, 'report'));
    expect(r.code, r.err).to.equal(1);
    // progress lines, then one error line
    const errors = r.err.trim().split('\n').filter((l) => l.startsWith('iqa-surgeon: error'));
    expect(errors, r.err).to.have.length(1);
    expect(errors[0]).to.match(/score for .* is NaN/);
    expect(r.out).to.not.match(/SROCC/);
  });

  it('CLI: repeated --edge splices both branches; one branch alone exits 1 with one line; equiv exits 3 on NaN', async () => {
    const dir = tmp.make();
    const file = path.join(dir, 'dbcnn2.onnx');
    writeFileSync(file, twoBranchModel().toBytes());
    const one = await cli('splice', file, '-o', path.join(dir, 'one.onnx'), '--edge', 'vgg_feat', '--post-activation', 'relu');
    expect(one.code).to.equal(1);
    expect(one.err.trim().split('\n')).to.have.length(1);
    expect(one.err).to.contain("--edge 'scnn_feat'");
    const dom = await cli('splice', file, '-o', path.join(dir, 'dom.onnx'), '--edge', 'vgg_feat', '--edge', 'scnn_feat');
    expect(dom.code).to.equal(1);
    expect(dom.err.trim().split('\n')).to.have.length(1);
    expect(dom.err).to.contain('/Sqrt');
    const both = await cli('splice', file, '-o', path.join(dir, 'both.onnx'), '--edge', 'vgg_feat', '--edge', 'scnn_feat', '--post-activation', 'relu', '--json');
    expect(both.code, both.err).to.equal(0);
    const rep = JSON.parse(both.out) as { schema: string; blocks: { edge: string; postActivation: string }[] };
    expect(rep.schema).to.equal('iqa-surgeon/splices@1');
    expect(rep.blocks.map((b) => [b.edge, b.postActivation])).to.deep.equal([
      ['vgg_feat', 'relu'],
      ['scnn_feat', 'relu'],
    ]);
    expect((await cli('materialize', path.join(dir, 'both.onnx'), '-o', path.join(dir, 'both-mat.onnx'))).code).to.equal(0);
    expect((await cli('equiv', path.join(dir, 'both-mat.onnx'), '--mirror')).code).to.equal(0);
    const none = await cli('splice', file, '-o', path.join(dir, 'none.onnx'), '--edge', 'vgg_feat', '--edge', 'scnn_feat', '--post-activation', 'none');
    expect(none.code, none.err).to.equal(0);
    const eq = await cli('equiv', path.join(dir, 'none.onnx'));
    expect(eq.code).to.equal(3);
    expect(eq.err).to.match(/NaN\/Inf/);
  });
});

import { expect } from 'chai';
import path from 'node:path';
import { compareModels } from '../../src/equiv/compare.js';
import { formatReport } from '../../src/equiv/report.js';
import { inputSpecs, seededFeeds } from '../../src/equiv/runner.js';
import { Model } from '../../src/ir/model.js';
import { materialize } from '../../src/surgery/materialize.js';
import { spliceRobustBlock } from '../../src/surgery/splice.js';
import { FLOAT, floatTensor, model, modelBytes, node, tensorInfo } from '../helpers/proto-build.js';
import { walkFiles } from '../helpers/test-data.js';
import { TempDirs } from '../helpers/temp-dir.js';
import { identicalCopy, perturbedCopy, reorderedCopy, weightOf } from './variants.js';

const FIXTURES = walkFiles(path.resolve('fixtures/models'), (n) => n.endsWith('.onnx'));
const RESNET = path.resolve('fixtures/models/resnet18_iqa.onnx');
const LINEARITY = path.resolve('fixtures/models/linearity_iqa.onnx');

describe('equiv/compare (numeric, ONNX Runtime)', () => {
  const temps = new TempDirs('equiv-compare');
  after(() => temps.cleanup());

  for (const file of FIXTURES) {
    const name = path.basename(file);
    it(`${name}: equal outputs for its byte-identical copy and its reordered copy, and across two runs`, async () => {
      const dir = temps.make('fixture');
      const same = await compareModels(file, identicalCopy(file, dir));
      expect(same.equivalent, formatReport(same)).to.equal(true);
      expect(same.outputs.map((c) => c.name)).to.deep.equal(Model.load(file).graph.outputs.map((v) => v.name));
      for (const c of same.outputs) expect(c.maxAbs).to.equal(0);
      const re = await compareModels(file, reorderedCopy(file, dir).file);
      expect(re.equivalent, formatReport(re)).to.equal(true);
      const det = await compareModels(file);
      expect(det.determinism).to.equal(true);
      expect(det.equivalent, formatReport(det)).to.equal(true);
    });
  }

  it('a weight perturbed by 1e-2 fails: names the output, gives the smallest passing tolerances and a histogram', async () => {
    const dir = temps.make('perturbed');
    const b = perturbedCopy(RESNET, dir, 'fc.weight', 1e-2);
    const r = await compareModels(RESNET, b);
    expect(r.equivalent).to.equal(false);
    const c = r.outputs[0]!;
    expect(c.name).to.equal('score');
    expect(c.pass).to.equal(false);
    expect(c.maxAbs).to.be.greaterThan(1e-4);
    expect(c.minAtol).to.equal(c.maxAbs);
    expect(c.histogram.reduce((s, x) => s + x.count, 0)).to.equal(c.elements);
    const text = formatReport(r);
    expect(text).to.contain("output 'score' [1,1]: FAIL, 1 of 1 elements outside tolerance");
    expect(text).to.match(/smallest passing tolerances: atol \S+ \(with rtol 0\), or rtol \S+ \(with atol 0\)/);
    expect(text).to.contain('histogram of |a - b|:');
    expect(r.summary).to.match(/^NOT EQUIVALENT: 1 of 1 outputs outside tolerance; output 'score' max abs/);
    // the smallest tolerance reported passes; just below it does not
    expect((await compareModels(RESNET, b, { atol: c.minAtol, rtol: 0 })).equivalent).to.equal(true);
    expect((await compareModels(RESNET, b, { atol: c.minAtol * 0.999, rtol: 0 })).equivalent).to.equal(false);
    expect((await compareModels(RESNET, b, { atol: 0, rtol: c.minRtol })).equivalent).to.equal(true);
  });

  it('--per-layer names the perturbed middle conv as the first diverging node', async () => {
    const dir = temps.make('per-layer');
    const conv = '/layer2/layer2.1/conv1/Conv';
    const b = perturbedCopy(RESNET, dir, weightOf(RESNET, conv), 1e-2);
    const r = await compareModels(RESNET, b, { perLayer: true });
    expect(r.equivalent).to.equal(false);
    const d = r.perLayer!.firstDivergence!;
    expect(d.node).to.equal(conv);
    expect(d.opType).to.equal('Conv');
    expect(d.output).to.equal('/layer2/layer2.1/conv1/Conv_output_0');
    expect(d.inputsAgree).to.equal(true);
    expect(r.perLayer!.compared).to.equal(Model.load(RESNET).graph.nodes.length);
    // everything upstream of it agrees exactly
    const upstream = r.perLayer!.values.slice(0, r.perLayer!.values.findIndex((v) => v.node === conv));
    expect(upstream.length).to.be.greaterThan(10);
    for (const v of upstream) expect(v.maxAbs, v.output).to.equal(0);
    expect(formatReport(r)).to.contain(`first diverging node (topological order): '${conv}' (Conv)`);
    expect(r.summary).to.contain(`first diverging node '${conv}' (Conv)`);
  });

  it('--per-layer on a reordered copy compares every value and finds none diverging', async () => {
    const dir = temps.make('per-layer-ok');
    const r = await compareModels(LINEARITY, reorderedCopy(LINEARITY, dir).file, { perLayer: true });
    expect(r.equivalent, formatReport(r)).to.equal(true);
    expect(r.perLayer!.failing).to.equal(0);
    expect(r.perLayer!.firstDivergence).to.equal(null);
    expect(r.perLayer!.compared).to.equal(54);
  });

  for (const orth of ['cayley', 'aol'] as const) {
    it(`a spliced model (${orth}) and its materialized form pass at atol 1e-4 (files and Model objects)`, async () => {
      const dir = temps.make('splice');
      const spliced = Model.load(LINEARITY);
      await spliceRobustBlock(spliced, { stage: 'layer3', orth, inputShapes: { input: [2, 3, 64, 96] } });
      const mat = spliced.clone();
      await materialize(mat);
      const r = await compareModels(spliced, mat, { atol: 1e-4, rtol: 0, seed: 3 });
      expect(r.equivalent, formatReport(r)).to.equal(true);
      expect(r.inputs!.tensors).to.deep.equal([{ name: 'input', elemType: 'float32', shape: [2, 3, 64, 96] }]);
      const fa = path.join(dir, 'spliced.onnx');
      const fb = path.join(dir, 'materialized.onnx');
      spliced.save(fa);
      mat.save(fb);
      expect((await compareModels(fa, fb, { atol: 1e-4 })).equivalent).to.equal(true);
      // and the splice did change what the model computes: against the original it fails
      const vsOriginal = await compareModels(LINEARITY, fb, { inputShapes: { input: [2, 3, 64, 96] } });
      expect(vsOriginal.equivalent).to.equal(false);
    });
  }

  it('seeded inputs: the same seed gives the same inputs, another seed others; symbolic dims are 1 or given', () => {
    const m = Model.load(RESNET);
    const specs = inputSpecs(m, undefined);
    expect(specs).to.deep.equal([{ name: 'input', elemType: 1, dims: [1, 3, 64, 64] }]);
    expect(inputSpecs(m, undefined, { input: [4, 3, 32, 32] })[0]!.dims).to.deep.equal([4, 3, 32, 32]);
    const x = seededFeeds(specs, 1).input!.data as Float32Array;
    expect(x).to.deep.equal(seededFeeds(specs, 1).input!.data);
    expect(x).to.not.deep.equal(seededFeeds(specs, 2).input!.data);
    expect(Math.min(...x)).to.be.at.least(0);
    expect(Math.max(...x)).to.be.lessThan(1);
    // a static model's fixed dims win over the other model's symbolic ones
    expect(inputSpecs(m, Model.load(path.resolve('fixtures/models/resnet18_iqa_static.onnx')))[0]!.dims).to.deep.equal([1, 3, 64, 64]);
  });
  it('small graphs: a constant output, two inputs, a commuted Add (numerically equal, structurally not)', async () => {
    const spec = (addInputs: string[]) =>
      model({
        nodes: [node('Mul', ['x', 'w'], ['xw'], 'mul'), node('Add', addInputs, ['y'], 'add')],
        inputs: [tensorInfo('x', FLOAT, ['n', 4]), tensorInfo('z', FLOAT, [1, 4])],
        outputs: [tensorInfo('y', FLOAT, ['n', 4]), tensorInfo('c', FLOAT, [2])],
        initializers: [floatTensor('w', [4], [1, 2, 3, 4]), floatTensor('c', [2], [5, 6])],
      });
    const a = Model.fromBytes(modelBytes(spec(['xw', 'z'])));
    const b = Model.fromBytes(modelBytes(spec(['z', 'xw'])));
    const r = await compareModels(a, b, { inputShapes: { x: [3, 4] } });
    expect(r.equivalent, formatReport(r)).to.equal(true);
    expect(r.a).to.equal('(model A)');
    expect(r.outputs.map((c) => [c.name, c.shapeA])).to.deep.equal([
      ['y', [3, 4]],
      ['c', [2]],
    ]);
    const st = await compareModels(a, b, { structural: true });
    expect(st.equivalent).to.equal(false);
    expect(st.structural!.difference!.message).to.equal("node 'add' (Add) input 0: reads the output of 'mul' (Mul) in A but graph input 'z' in B");
  });
});

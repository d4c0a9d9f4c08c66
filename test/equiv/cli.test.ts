import { expect } from 'chai';
import path from 'node:path';
import { cli } from '../helpers/cli.js';
import { TempDirs } from '../helpers/temp-dir.js';
import { editedCopy, perturbedCopy, reorderedCopy, weightOf } from './variants.js';

const RESNET = path.resolve('fixtures/models/resnet18_iqa.onnx');
const LINEARITY = path.resolve('fixtures/models/linearity_iqa.onnx');


describe('cli: equiv', () => {
  const temps = new TempDirs('equiv-cli');
  after(() => temps.cleanup());
  let reordered: string;
  let perturbed: string;
  let convPerturbed: string;
  let renamedInput: string;
  const conv = '/layer3/layer3.0/conv2/Conv';
  before(() => {
    const dir = temps.make('models');
    reordered = reorderedCopy(RESNET, dir).file;
    perturbed = perturbedCopy(RESNET, dir, 'fc.weight', 1e-2);
    convPerturbed = perturbedCopy(RESNET, temps.make('conv'), weightOf(RESNET, conv), 1e-2);
    renamedInput = editedCopy(RESNET, dir, 'renamed-input', (m) => m.graph.renameValue(m.graph.value('input'), 'image'));
  });

  it('exit 0 for a reordered copy, numeric and structural', async () => {
    const r = await cli('equiv', RESNET, reordered);
    expect(r.code, r.err).to.equal(0);
    expect(r.out).to.match(/result: EQUIVALENT: 1 output within tolerance \(max abs error 0\)\n$/);
    // stderr: the one line of the largest session's memory estimate (issue 11, defect 5)
    expect(r.err).to.match(/^iqa-surgeon: estimated ONNX Runtime memory for '[^']+': [\d.]+ [KMG]iB \(initializers [^)]*; limit [\d.]+ GiB\)\n$/);
    const s = await cli('equiv', RESNET, reordered, '--structural');
    expect(s.code, s.err).to.equal(0);
    expect(s.out).to.contain('result: EQUIVALENT: structurally equal (49 nodes)');
  });

  it('one model: runs it twice and compares (determinism)', async () => {
    const r = await cli('equiv', LINEARITY, '--inputs', '5', '--input-shape', '2,3,64,96');
    expect(r.code, r.err).to.equal(0);
    expect(r.out).to.contain('(determinism: one model run twice)');
    expect(r.out).to.contain('inputs: seed 5; input float32[2,3,64,96]');
  });

  it('exit 3 with the report for a perturbed weight; --json gives iqa-surgeon/equiv@1', async () => {
    const r = await cli('equiv', RESNET, perturbed);
    expect(r.code).to.equal(3);
    expect(r.out).to.contain("output 'score' [1,1]: FAIL");
    expect(r.out).to.contain('histogram of |a - b|');
    expect(r.out).to.contain('smallest passing tolerances');
    expect(r.err).to.match(/^iqa-surgeon: check failed: NOT EQUIVALENT: 1 of 1 outputs outside tolerance; output 'score' max abs \S+, max rel \S+\n$/);
    const j = await cli('equiv', RESNET, perturbed, '--json', '--atol', '1e-5', '--rtol', '0');
    expect(j.code).to.equal(3);
    const rep = JSON.parse(j.out);
    expect(rep.schema).to.equal('iqa-surgeon/equiv@1');
    expect(rep.mode).to.equal('numeric');
    expect(rep.equivalent).to.equal(false);
    expect(rep.tolerances).to.deep.equal({ atol: 1e-5, rtol: 0 });
    expect(rep.outputs[0].name).to.equal('score');
    expect(rep.outputs[0].minAtol).to.be.greaterThan(1e-4);
    expect(rep.outputs[0].histogram.length).to.equal(13);
    // the reported smallest atol passes
    const ok = await cli('equiv', RESNET, perturbed, '--atol', String(rep.outputs[0].minAtol), '--rtol', '0');
    expect(ok.code, ok.out).to.equal(0);
  });

  it('float32 against float16: the same input values in each model\'s type; passes at a float16 tolerance', async () => {
    const fp16 = path.resolve('fixtures/models/resnet18_iqa_fp16.onnx');
    const r = await cli('equiv', RESNET, fp16, '--rtol', '1e-2', '--json');
    expect(r.code, r.out).to.equal(0);
    const rep = JSON.parse(r.out);
    expect(rep.inputs.tensors).to.deep.equal([{ name: 'input', elemType: 'float32', elemTypeB: 'float16', shape: [1, 3, 64, 64] }]);
    expect(rep.outputs[0].maxAbs).to.be.greaterThan(0);
    // per layer, float16 arithmetic departs from float32 at the first conv
    const p = await cli('equiv', RESNET, fp16, '--per-layer', '--json');
    expect(p.code).to.equal(3);
    expect(JSON.parse(p.out).perLayer.firstDivergence.node).to.equal('/conv1/Conv');
  });

  it('--per-layer names the perturbed conv', async () => {
    const r = await cli('equiv', RESNET, convPerturbed, '--per-layer', '--json');
    expect(r.code).to.equal(3);
    const rep = JSON.parse(r.out);
    expect(rep.perLayer.firstDivergence.node).to.equal(conv);
    expect(rep.perLayer.firstDivergence.opType).to.equal('Conv');
    const t = await cli('equiv', RESNET, convPerturbed, '--per-layer');
    expect(t.out).to.contain(`first diverging node (topological order): '${conv}' (Conv), output '${conv}_output_0'`);
    expect(t.out).to.contain('its inputs agree within tolerance: the difference starts at this node');
  });

  it('--structural: exit 3 naming the initializer; --atol is the weight tolerance', async () => {
    const r = await cli('equiv', RESNET, perturbed, '--structural');
    expect(r.code).to.equal(3);
    expect(r.out).to.contain("first difference: node '/fc/Gemm' (Gemm) input 1: initializer 'fc.weight' differs: max abs 0.01 > tolerance 0");
    expect((await cli('equiv', RESNET, perturbed, '--structural', '--atol', '0.02')).code).to.equal(0);
    const j = JSON.parse((await cli('equiv', RESNET, perturbed, '--structural', '--json')).out);
    expect(j.structural.difference.kind).to.equal('initializer');
  });

  it('--inputs <folder> feeds real images (preprocessed to the model input size) and names them in the report', async () => {
    const r = await cli('equiv', RESNET, reordered, '--inputs', path.resolve('fixtures/koniq-mini/1024x768'), '--max-images', '3', '--json');
    expect(r.code, r.err).to.equal(0);
    const j = JSON.parse(r.out);
    expect(j.inputs.seed).to.equal(null);
    expect(j.inputs.images.files).to.have.length(3);
    expect(j.inputs.tensors[0].shape).to.deep.equal([3, 3, 64, 64]);
    const bad = await cli('equiv', RESNET, perturbed, '--inputs', 'folder:' + path.resolve('fixtures/koniq-mini/1024x768'), '--max-images', '2');
    expect(bad.code).to.equal(3);
    expect(bad.out).to.match(/inputs: 2 images from folder:/);
  });

  it('a declared input dim that cannot be fed (negative, beyond 2^31) is exit 1 with one line (found by fuzzing)', async () => {
    for (const bad of [-1, 2 ** 53]) {
      const f = editedCopy(RESNET, temps.make(`dim${bad}`), `dim${bad}`, (m) => {
        m.graph.inputs[0]!.info!.type!.tensor_type!.shape!.dim![2] = { dim_value: bad };
      });
      for (const extra of [[], ['--mirror']]) {
        const r = await cli('equiv', f, ...extra);
        expect(r.code, r.err).to.equal(1);
        expect(r.err).to.match(/graph input 'input' declares dim .* at axis 2, which cannot be fed/);
        expect(r.err.trim().split('\n')).to.have.length(1);
      }
    }
  });

  it('exit 1 for bad input', async () => {
    const cases: [string[], RegExp][] = [
      [['equiv', RESNET, RESNET, '--inputs', path.resolve('fixtures/models')], /holds no images/],
      [['equiv', RESNET, RESNET, '--max-images', '2'], /--max-images applies to --inputs/],
      [['equiv', RESNET, RESNET, '--inputs', 'abc'], /--inputs 'abc' must be a seed/],
      [['equiv', RESNET, RESNET, '--atol', '-1'], /--atol '-1' must be a number >= 0/],
      [['equiv', RESNET, '--structural'], /a structural comparison needs two models/],
      [['equiv', RESNET, RESNET, '--structural', '--per-layer'], /cannot be combined with --structural/],
      [['equiv', RESNET, '/nonexistent/b.onnx'], /model file '\/nonexistent\/b\.onnx' does not exist/],
      [['equiv', RESNET, renamedInput], /the models take different inputs: A takes input, B takes image/],
      [['equiv', RESNET, RESNET, '--input-shape', 'x=1,3,64,64'], /names 'x', which is not a graph input/],
    ];
    for (const [args, msg] of cases) {
      const r = await cli(...args);
      expect(r.code, `${args.join(' ')}: ${r.err}`).to.equal(1);
      expect(r.err, args.join(' ')).to.match(/^iqa-surgeon: error: /).and.match(msg);
      expect(r.err.split('\n').length, r.err).to.equal(2);
    }
  });
});

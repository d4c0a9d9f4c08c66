/**
 * Whole models: the project's default graph (graphs/linearity_r18w16.onnx) and the ResNet-18 and
 * VGG-16 style PyTorch exports in fixtures/models. The gradient graph's input gradients and
 * all-weight gradients equal the TensorFlow.js mirror's (relative L2 <= 1e-3) and central finite
 * differences of ONNX Runtime's forward along random directions (relative error <= 1e-2, ReLU
 * steps: see harness.ts); every weight stays a constant initializer unless asked for.
 */
import { expect } from 'chai';
import path from 'node:path';
import { buildGradientGraph, checkDifferentiable } from '../../src/autodiff/index.js';
import { UserError } from '../../src/errors.js';
import type { HostTensor } from '../../src/differentiable/model.js';
import { createEngine } from '../../src/engines/factory.js';
import { Model } from '../../src/ir/model.js';
import { expectGradientsMatch, f32, lossFeeds, randn, relL2, RELU_STEPS, runGradientGraph, type GradCase } from './harness.js';

const MODELS: [string, number[]][] = [
  ['graphs/linearity_r18w16.onnx', [2, 3, 96, 128]],
  ['fixtures/models/resnet18_iqa.onnx', [2, 3, 64, 64]],
  ['fixtures/models/vgg16_iqa.onnx', [2, 3, 64, 64]],
];

const host = (t: { dims: number[]; data: unknown }): HostTensor => ({ dims: t.dims, data: t.data as Float32Array });

describe('autodiff on whole models vs the tfjs mirror and finite differences of ORT', function () {
  this.timeout(600000);

  it('a real model with an op lacking a rule is refused naming op and node, by the pre-flight check and by the builder', () => {
    const m = Model.load(path.resolve('fixtures/models/resnet18_iqa.onnx'));
    const relu = m.graph.nodes.filter((n) => n.opType === 'Relu')[5]!;
    relu.proto.op_type = 'Swish';
    relu.proto.domain = 'com.example';
    m.proto.opset_import!.push({ domain: 'com.example', version: 1 });
    const again = new Model(m.syncProto());
    const req = { loss: { kind: 'mean' as const, output: again.graph.outputs[0]!.name }, inputs: [again.graph.inputs[0]!.name] };
    const want = `cannot differentiate: no gradient rule for op 'com.example::Swish' (node '${relu.label}')`;
    expect(() => checkDifferentiable(again, req)).to.throw(UserError, want);
    expect(() => buildGradientGraph(again, req)).to.throw(UserError, want);
  });

  for (const [file, dims] of MODELS) {
    const load = (): Model => Model.load(path.resolve(file));
    const kase = (m: Model, params: string[], batch = dims[0]!): GradCase => {
      const input = m.graph.inputs[0]!.name;
      const out = m.graph.outputs[0]!.name;
      const d = [batch, ...dims.slice(1)];
      const x = Float32Array.from(randn(d.reduce((a, b) => a * b, 1), 3), (v) => 0.5 + 0.25 * v);
      return { model: m, feeds: { [input]: f32(d, x) }, inputs: [input], params, loss: { kind: 'mse', output: out }, seed: 5 };
    };

    it(`${path.basename(file)}: input and all-weight gradients equal the mirror's (relative L2 <= 1e-3)`, async () => {
      const m = load();
      const params = m.graph.initializers().filter((v) => v.initializer!.data_type === 1).map((v) => v.name);
      expect(params.length).to.be.greaterThan(10);
      const c = kase(m, params);
      const lf = await lossFeeds(c);
      const r = await runGradientGraph(c, lf);
      const input = c.inputs![0]!;
      const engine = await createEngine({ model: load(), engine: 'tfjs', trainable: params });
      try {
        const out = m.graph.outputs[0]!.name;
        const ref = await engine.gradients({ [input]: host(c.feeds[input]!) }, { kind: 'mse', output: out, target: host(lf.target!) }, { inputs: [input], params });
        expect(Math.abs(r.loss - ref.loss)).to.be.at.most(1e-4 * Math.max(1, Math.abs(ref.loss)));
        expect(relL2(r.inputGrads[input]!, ref.inputGrads[input]!.data as Float32Array), 'input gradient').to.be.at.most(1e-3);
        const worst = params.map((p) => [p, relL2(r.paramGrads[p]!, ref.paramGrads[p]!.data as Float32Array)] as const).sort((a, b) => b[1] - a[1])[0]!;
        expect(worst[1], `worst parameter ${worst[0]}`).to.be.at.most(1e-3);
        // the attack graph (every weight constant: stride-1 convs take the flipped-Conv dX)
        const attack = await runGradientGraph({ ...c, params: [] }, lf);
        expect(relL2(attack.inputGrads[input]!, ref.inputGrads[input]!.data as Float32Array), 'input gradient, weights constant').to.be.at.most(1e-3);
      } finally {
        engine.dispose();
      }
    });

    it(`${path.basename(file)}: input and joint all-weight gradients vs finite differences of ORT; attack graphs keep every weight constant`, async () => {
      const m = load();
      const params = m.graph.initializers().filter((v) => v.initializer!.data_type === 1).map((v) => v.name);
      // the mean loss (what attacks ascend): lower curvature leaves a wider step window between
      // kinks and rounding. Input directions of these ReLU/MaxPool networks cross kinks at every
      // step that rounding leaves usable: 2e-2 there, as the mirror's own tests allow
      // (docs/MIRROR.md); the weights keep 1e-2 and the mirror comparison above holds 1e-3.
      await expectGradientsMatch({ ...kase(m, params), loss: { kind: 'mean', output: m.graph.outputs[0]!.name } }, { steps: RELU_STEPS, jointParams: true, tolerance: { [m.graph.inputs[0]!.name]: 2e-2 } });
      const attack = buildGradientGraph(m, { loss: { kind: 'mean', output: m.graph.outputs[0]!.name }, inputs: [m.graph.inputs[0]!.name] });
      const g = attack.model.graph;
      expect(g.inputs.map((v) => v.name)).to.deep.equal([m.graph.inputs[0]!.name]);
      for (const p of params) expect(g.lookup(p)?.isInitializer, p).to.equal(true);
      expect(g.inputs[0]!.declaredShape![0]).to.equal('batch');
    });
  }
});

/**
 * Whole models whose gradients need the rules beyond the core (src/ops/*-more.grad.ts): the
 * project's DBCNN-style default graph (bilinear pooling, signed square root: Sign, Abs, Sqrt; L2
 * normalisation: ReduceL2, Clip; Expand, Cast). Gradients equal the tfjs mirror's (relative L2
 * <= 1e-3, input and every weight) and central finite differences of ONNX Runtime's forward for the
 * weights (<= 1e-2).
 */
import { expect } from 'chai';
import path from 'node:path';
import type { HostTensor } from '../../src/differentiable/model.js';
import { createEngine } from '../../src/engines/factory.js';
import { Model } from '../../src/ir/model.js';
import { expectGradientsMatch, f32, randn, relL2, RELU_STEPS, runGradientGraph, type GradCase } from './harness.js';

const host = (t: { dims: number[]; data: unknown }): HostTensor => ({ dims: t.dims, data: t.data as Float32Array });

function kase(m: Model, dims: number[], params: string[], output: string): GradCase {
  const input = m.graph.inputs.find((v) => !v.isInitializer)!.name;
  const x = Float32Array.from(randn(dims.reduce((a, b) => a * b, 1), 3), (v) => 0.5 + 0.25 * v);
  return { model: m, feeds: { [input]: f32(dims, x) }, inputs: [input], params, loss: { kind: 'mean', output }, seed: 5 };
}

async function againstMirror(file: string, dims: number[], output: string, allWeights: boolean): Promise<void> {
  const m = Model.load(file);
  const params = allWeights ? m.graph.initializers().filter((v) => v.initializer!.data_type === 1).map((v) => v.name) : [];
  const c = kase(m, dims, params, output);
  const r = await runGradientGraph(c);
  const input = c.inputs![0]!;
  const engine = await createEngine({ model: Model.load(file), engine: 'tfjs', trainable: params });
  try {
    const ref = await engine.gradients({ [input]: host(c.feeds[input]!) }, { kind: 'mean', output }, { inputs: [input], params });
    expect(Math.abs(r.loss - ref.loss)).to.be.at.most(1e-4 * Math.max(1, Math.abs(ref.loss)));
    expect(relL2(r.inputGrads[input]!, ref.inputGrads[input]!.data as Float32Array), 'input gradient').to.be.at.most(1e-3);
    if (params.length > 0) {
      const worst = params.map((p) => [p, relL2(r.paramGrads[p]!, ref.paramGrads[p]!.data as Float32Array)] as const).sort((a, b) => b[1] - a[1])[0]!;
      expect(worst[1], `worst parameter ${worst[0]}`).to.be.at.most(1e-3);
    }
  } finally {
    engine.dispose();
  }
}

describe('autodiff on whole models that need the extra rules', function () {
  this.timeout(600000);

  it('dbcnn_vgg_bilinear.onnx: input and all-weight gradients equal the mirror; the weights finite differences of ORT', async () => {
    const file = path.resolve('graphs/dbcnn_vgg_bilinear.onnx');
    await againstMirror(file, [2, 3, 96, 128], 'score', true);
    const m = Model.load(file);
    const params = m.graph.initializers().filter((v) => v.initializer!.data_type === 1).map((v) => v.name);
    // finite differences for the weights: along the image they cross ReLU / MaxPool kinks and the
    // signed square root's infinite slope at 0 (sign(x) sqrt(|x|)) at every usable step, so the
    // input gradient is checked against the mirror above
    await expectGradientsMatch({ ...kase(m, [2, 3, 96, 128], params, 'score'), inputs: [] }, { steps: RELU_STEPS, jointParams: true });
  });
});

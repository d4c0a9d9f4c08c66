/**
 * Conformance on real third-party graphs (../shared/realdata/onnx: a CNTK MNIST export at opset 8,
 * PyTorch's UltraFace at opset 9 with depthwise convs, Softmax and two outputs, a sub-pixel
 * super-resolution CNN at opset 11): the gradient graph builds at the model's own old opset, ONNX
 * Runtime runs it; its all-weight gradients agree with central finite differences of ORT's forward
 * along random directions, and its input gradients with the TensorFlow.js mirror's (relative L2
 * <= 1e-3: finite differences along a whole image cross ReLU/MaxPool kinks at every usable step on
 * models this deep, harness.ts). Skipped with a message where the folder is absent, a failure
 * under CI=true.
 */
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { buildGradientGraph } from '../../src/autodiff/index.js';
import type { HostTensor } from '../../src/differentiable/model.js';
import { createEngine } from '../../src/engines/factory.js';
import { Model } from '../../src/ir/model.js';
import { REALDATA_ONNX, requireOrSkip } from '../helpers/test-data.js';
import { expectGradientsMatch, expectWrongGradientFails, f32, lossFeeds, randn, relL2, RELU_STEPS, runGradientGraph, type GradCase } from './harness.js';

interface RealCase {
  file: string;
  dims: number[];
  /** Outputs the loss reads (cotangents: a random linear functional of each). */
  outputs?: string[];
}

const CASES: RealCase[] = [
  { file: 'mnist.onnx', dims: [1, 1, 28, 28] },
  { file: 'ultraface_RFB-320.onnx', dims: [1, 3, 240, 320] },
  { file: 'super_resolution_core_opset11.onnx', dims: [1, 1, 224, 224] },
];

describe('autodiff on real third-party graphs (../shared/realdata)', function () {
  this.timeout(900000);

  for (const rc of CASES) {
    const file = path.join(REALDATA_ONNX, rc.file);
    it(`${rc.file}: input and all-weight gradients agree with finite differences of ORT; a 5% wrong gradient fails`, async function () {
      requireOrSkip(this, existsSync(file), `${file} (the shared real-data folder)`);
      const m = Model.load(file);
      const input = m.graph.inputs.find((v) => !v.isInitializer)!.name;
      const outputs = m.graph.outputs.map((v) => v.name);
      const params = m.graph
        .initializers()
        .filter((v) => v.initializer!.data_type === 1 && (v.initializer!.dims ?? []).length > 0 && v.uses().some((u) => ['Conv', 'Gemm', 'MatMul', 'Add'].includes(u.node.opType)))
        .map((v) => v.name);
      expect(params.length).to.be.greaterThan(1);
      const n = rc.dims.reduce((a, b) => a * b, 1);
      const x = Float32Array.from(randn(n, 11), (v) => 0.5 + 0.2 * v);
      const c: GradCase = { model: m, feeds: { [input]: f32(rc.dims, x) }, inputs: [input], params, loss: { kind: 'cotangents', outputs }, seed: 3 };
      // old opsets: the graph is built (raised to 16 only where no forward node changes meaning)
      const g = buildGradientGraph(m, { loss: c.loss!, inputs: [input], params });
      expect(g.model.graph.nodes.length).to.be.greaterThan(m.graph.nodes.length);
      const weights: GradCase = { ...c, inputs: [] };
      const opts = { jointParams: true, steps: RELU_STEPS };
      const result = await expectGradientsMatch(weights, opts);
      await expectWrongGradientFails(weights, opts, result);
      // input gradients against the mirror, an independent implementation
      const lf = await lossFeeds(c);
      const r = await runGradientGraph(c, lf);
      const engine = await createEngine({ model: Model.load(file), engine: 'tfjs' });
      try {
        const host = (t: { dims: number[]; data: unknown }): HostTensor => ({ dims: t.dims, data: t.data as Float32Array });
        const cts = Object.fromEntries(Object.entries(lf.cotangents).map(([k, v]) => [k, host(v)]));
        const mg = await engine.gradients({ [input]: host(c.feeds[input]!) }, cts, { inputs: [input], params: [] });
        const mine = r.inputGrads[input]!;
        const theirs = mg.inputGrads[input]!.data as Float32Array;
        expect(relL2(mine, theirs)).to.be.at.most(1e-3);
        const wrong = Float32Array.from(mine, (v) => v * 1.05);
        expect(relL2(wrong, theirs)).to.be.greaterThan(1e-3);
      } finally {
        engine.dispose();
      }
    });
  }
});

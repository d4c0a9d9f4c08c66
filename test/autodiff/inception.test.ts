/**
 * An Inception-style block as PyTorch exports it (parallel 1x1 / 1x1->3x3 / avgpool->1x1 /
 * maxpool->1x1 branches, Concat, BatchNormalization, ReLU, global pooling, Flatten, Gemm): input
 * and all-weight gradients of the gradient graph equal the tfjs mirror's (relative L2 <= 1e-3)
 * and central finite differences of ONNX Runtime's forward (harness.ts).
 */
import { expect } from 'chai';
import type { HostTensor } from '../../src/differentiable/model.js';
import { createEngine } from '../../src/engines/factory.js';
import { Model } from '../../src/ir/model.js';
import type { AttributeProto, NodeProto } from '../../src/onnx/proto-types.js';
import { expectGradientsMatch, lossFeeds, randn, relL2, RELU_STEPS, runGradientGraph, smallCase, type TVal } from './harness.js';

const ints = (name: string, v: number[]): AttributeProto => ({ name, ints: v, type: 7 });
const int = (name: string, v: number): AttributeProto => ({ name, i: v, type: 2 });
const nd = (op: string, ins: string[], out: string, attrs: AttributeProto[] = []): NodeProto => ({ op_type: op, input: ins, output: [out], name: `/${out}/${op}`, attribute: attrs });
const w = (name: string, dims: number[], seed: number, scale: number): TVal => ({ name, dims, data: randn(dims.reduce((a, b) => a * b, 1), seed, scale), init: true });

function inceptionCase() {
  const p1 = [ints('pads', [1, 1, 1, 1])];
  const pool = [ints('kernel_shape', [3, 3]), ints('strides', [1, 1]), ints('pads', [1, 1, 1, 1])];
  const nodes = [
    nd('Conv', ['x', 'b1.w', 'b1.b'], 'b1'), nd('Relu', ['b1'], 'b1r'),
    nd('Conv', ['x', 'b2a.w', 'b2a.b'], 'b2a'), nd('Relu', ['b2a'], 'b2ar'), nd('Conv', ['b2ar', 'b2b.w', 'b2b.b'], 'b2b', p1), nd('Relu', ['b2b'], 'b2br'),
    nd('AveragePool', ['x'], 'b3p', pool), nd('Conv', ['b3p', 'b3.w', 'b3.b'], 'b3'),
    nd('MaxPool', ['x'], 'b4p', pool), nd('Conv', ['b4p', 'b4.w', 'b4.b'], 'b4'),
    nd('Concat', ['b1r', 'b2br', 'b3', 'b4'], 'cat', [int('axis', 1)]),
    nd('BatchNormalization', ['cat', 'bn.s', 'bn.b', 'bn.m', 'bn.v'], 'bn'), nd('Relu', ['bn'], 'bnr'),
    nd('GlobalAveragePool', ['bnr'], 'gap'), nd('Flatten', ['gap'], 'flat'),
    nd('Gemm', ['flat', 'fc.w', 'fc.b'], 'score', [int('transB', 1)]),
  ];
  const vals: TVal[] = [
    { name: 'x', dims: ['batch', 4, 9, 9], feedDims: [2, 4, 9, 9], data: Float32Array.from(randn(2 * 4 * 81, 1), (v) => 0.5 + 0.25 * v) },
    w('b1.w', [3, 4, 1, 1], 2, 0.5), w('b1.b', [3], 3, 0.1),
    w('b2a.w', [3, 4, 1, 1], 4, 0.5), w('b2a.b', [3], 5, 0.1), w('b2b.w', [4, 3, 3, 3], 6, 0.3), w('b2b.b', [4], 7, 0.1),
    w('b3.w', [2, 4, 1, 1], 8, 0.5), w('b3.b', [2], 9, 0.1), w('b4.w', [2, 4, 1, 1], 10, 0.5), w('b4.b', [2], 11, 0.1),
    w('bn.s', [11], 12, 0.5), w('bn.b', [11], 13, 0.1), w('bn.m', [11], 14, 0.1), { name: 'bn.v', dims: [11], data: Array.from({ length: 11 }, (_, i) => 0.5 + 0.1 * i), init: true },
    w('fc.w', [1, 11], 15, 0.5), w('fc.b', [1], 16, 0.1),
  ];
  const params = vals.filter((v) => v.init && !['bn.m', 'bn.v'].includes(v.name)).map((v) => v.name);
  return smallCase(nodes, vals, ['score'], { loss: { kind: 'mse', output: 'score' }, params, seed: 3 });
}

describe('autodiff on an Inception-style block', function () {
  this.timeout(300000);

  it('equals the tfjs mirror (relative L2 <= 1e-3) for the input and every weight', async () => {
    const c = inceptionCase();
    const lf = await lossFeeds(c);
    const r = await runGradientGraph(c, lf);
    const engine = await createEngine({ model: new Model(c.model.clone().proto), engine: 'tfjs', trainable: c.params! });
    try {
      const host = (t: { dims: number[]; data: unknown }): HostTensor => ({ dims: t.dims, data: t.data as Float32Array });
      const ref = await engine.gradients({ x: host(c.feeds.x!) }, { kind: 'mse', output: 'score', target: host(lf.target!) }, { inputs: ['x'], params: c.params! });
      expect(relL2(r.inputGrads.x!, ref.inputGrads.x!.data as Float32Array)).to.be.at.most(1e-3);
      for (const p of c.params!) expect(relL2(r.paramGrads[p]!, ref.paramGrads[p]!.data as Float32Array), p).to.be.at.most(1e-3);
    } finally {
      engine.dispose();
    }
  });

  it('matches finite differences of ORT for the input and each weight', async () => {
    await expectGradientsMatch(inceptionCase(), { steps: RELU_STEPS, directions: 1 });
  });
});

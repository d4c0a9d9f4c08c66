/**
 * A transformer-style IQA model as PyTorch exports one (opset 17): patch embedding Conv, tokens by
 * Reshape/Transpose, a class token Expanded to the run-time batch (Shape -> Gather -> Unsqueeze ->
 * Concat), position embedding, LayerNormalization, multi-head self-attention (q, k, v by Gather
 * from one projection, scaled MatMul, Softmax), an MLP with the exact Gelu as PyTorch writes it
 * (Div, Erf, Add, Mul), residuals, the class token Gathered, a Gemm head; batch symbolic. Its
 * gradients (input and every weight) equal the tfjs mirror's (relative L2 <= 1e-3) and central
 * finite differences of ONNX Runtime's forward (<= 1e-2).
 */
import { expect } from 'chai';
import type { HostTensor } from '../../src/differentiable/model.js';
import { createEngine } from '../../src/engines/factory.js';
import type { AttributeProto, NodeProto } from '../../src/onnx/proto-types.js';
import { expectGradientsMatch, expectWrongGradientFails, lossFeeds, randn, relL2, runGradientGraph, smallCase, type GradCase, type TVal } from './harness.js';

const ints = (name: string, v: number[]): AttributeProto => ({ name, ints: v, type: 7 });
const int = (name: string, v: number): AttributeProto => ({ name, i: v, type: 2 });
const flt = (name: string, v: number): AttributeProto => ({ name, f: v, type: 1 });
let k = 0;
const nd = (op: string, ins: string[], outs: string[], attrs: AttributeProto[] = []): NodeProto => ({ op_type: op, input: ins, output: outs, name: `/${op}_${k++}`, attribute: attrs });
const count = (d: number[]): number => d.reduce((a, b) => a * b, 1);
const w = (name: string, dims: number[], seed: number, scale: number): TVal => ({ name, dims, data: randn(count(dims), seed, scale), init: true });
const i64 = (name: string, data: number[], dims = [data.length]): TVal => ({ name, dims, data, init: true, type: 7 });
const f = (name: string, v: number): TVal => ({ name, dims: [], data: [v], init: true });

const D = 16;
const T = 17;

function vitCase(): GradCase {
  const nodes: NodeProto[] = [
    nd('Conv', ['x', 'pe.w', 'pe.b'], ['pe'], [ints('kernel_shape', [4, 4]), ints('strides', [4, 4])]),
    nd('Reshape', ['pe', 'shape_tok'], ['tok0']),
    nd('Transpose', ['tok0'], ['tok'], [ints('perm', [0, 2, 1])]),
    nd('Shape', ['x'], ['xs']),
    nd('Gather', ['xs', 'zero'], ['n'], [int('axis', 0)]),
    nd('Unsqueeze', ['n', 'ax0'], ['n1']),
    nd('Concat', ['n1', 'one_d'], ['cls_shape'], [int('axis', 0)]),
    nd('Expand', ['cls', 'cls_shape'], ['clsN']),
    nd('Concat', ['clsN', 'tok'], ['seq'], [int('axis', 1)]),
    nd('Add', ['seq', 'pos'], ['h0']),
    nd('LayerNormalization', ['h0', 'ln1.s', 'ln1.b'], ['l1'], [int('axis', -1), flt('epsilon', 1e-5)]),
    nd('MatMul', ['l1', 'qkv.w'], ['qkv0']),
    nd('Add', ['qkv0', 'qkv.b'], ['qkv1']),
    nd('Reshape', ['qkv1', 'shape_qkv'], ['qkv2']),
    nd('Transpose', ['qkv2'], ['qkv'], [ints('perm', [2, 0, 3, 1, 4])]),
    nd('Gather', ['qkv', 'zero'], ['q'], [int('axis', 0)]),
    nd('Gather', ['qkv', 'one'], ['kk'], [int('axis', 0)]),
    nd('Gather', ['qkv', 'two'], ['v'], [int('axis', 0)]),
    nd('Transpose', ['kk'], ['kt'], [ints('perm', [0, 1, 3, 2])]),
    nd('MatMul', ['q', 'kt'], ['s0']),
    nd('Div', ['s0', 'sqrt_dh'], ['s1']),
    nd('Softmax', ['s1'], ['att'], [int('axis', -1)]),
    nd('MatMul', ['att', 'v'], ['o0']),
    nd('Transpose', ['o0'], ['o1'], [ints('perm', [0, 2, 1, 3])]),
    nd('Reshape', ['o1', 'shape_tokD'], ['o2']),
    nd('MatMul', ['o2', 'proj.w'], ['o3']),
    nd('Add', ['o3', 'proj.b'], ['o4']),
    nd('Add', ['h0', 'o4'], ['h1']),
    nd('LayerNormalization', ['h1', 'ln2.s', 'ln2.b'], ['l2'], [int('axis', -1), flt('epsilon', 1e-5)]),
    nd('MatMul', ['l2', 'fc1.w'], ['m0']),
    nd('Add', ['m0', 'fc1.b'], ['m1']),
    nd('Div', ['m1', 'sqrt2'], ['g0']),
    nd('Erf', ['g0'], ['g1']),
    nd('Add', ['g1', 'onef'], ['g2']),
    nd('Mul', ['m1', 'g2'], ['g3']),
    nd('Mul', ['g3', 'half'], ['g4']),
    nd('MatMul', ['g4', 'fc2.w'], ['m2']),
    nd('Add', ['m2', 'fc2.b'], ['m3']),
    nd('Add', ['h1', 'm3'], ['h2']),
    nd('Gather', ['h2', 'zero'], ['c'], [int('axis', 1)]),
    nd('Gemm', ['c', 'head.w', 'head.b'], ['score'], [int('transB', 1)]),
  ];
  const vals: TVal[] = [
    { name: 'x', dims: ['N', 3, 16, 16], feedDims: [2, 3, 16, 16], data: randn(2 * 3 * 256, 1) },
    w('pe.w', [D, 3, 4, 4], 2, 0.15), w('pe.b', [D], 3, 0.1),
    w('cls', [1, 1, D], 4, 0.5), w('pos', [1, T, D], 5, 0.3),
    w('ln1.s', [D], 6, 0.3), w('ln1.b', [D], 7, 0.1), w('qkv.w', [D, 3 * D], 8, 0.25), w('qkv.b', [3 * D], 9, 0.1),
    w('proj.w', [D, D], 10, 0.25), w('proj.b', [D], 11, 0.1), w('ln2.s', [D], 12, 0.3), w('ln2.b', [D], 13, 0.1),
    w('fc1.w', [D, 2 * D], 14, 0.25), w('fc1.b', [2 * D], 15, 0.1), w('fc2.w', [2 * D, D], 16, 0.2), w('fc2.b', [D], 17, 0.1),
    w('head.w', [1, D], 18, 0.3), w('head.b', [1], 19, 0.1),
    f('sqrt_dh', Math.sqrt(8)), f('sqrt2', Math.SQRT2), f('onef', 1), f('half', 0.5),
    i64('shape_tok', [0, D, -1]), i64('shape_qkv', [0, T, 3, 2, 8]), i64('shape_tokD', [0, T, D]), i64('one_d', [1, D]), i64('ax0', [0]),
    i64('zero', [0], []), i64('one', [1], []), i64('two', [2], []),
  ];
  const params = vals.filter((v) => v.init && (v.type ?? 1) === 1 && v.dims.length > 0).map((v) => v.name);
  return smallCase(nodes, vals, ['score'], { opset: 17, loss: { kind: 'mse', output: 'score' }, params });
}

describe('autodiff on a transformer-style model (ViT-like block, opset 17)', function () {
  this.timeout(600000);

  it('input and every weight: equal to the tfjs mirror (relative L2 <= 1e-3)', async () => {
    const c = vitCase();
    const lf = await lossFeeds(c);
    const r = await runGradientGraph(c, lf);
    const params = c.params!;
    expect(params.length).to.equal(18);
    const engine = await createEngine({ model: c.model, engine: 'tfjs', trainable: params });
    try {
      const h = (t: { dims: number[]; data: unknown }): HostTensor => ({ dims: t.dims, data: t.data as Float32Array });
      const ref = await engine.gradients({ x: h(c.feeds.x!) }, { kind: 'mse', output: 'score', target: h(lf.target!) }, { inputs: ['x'], params });
      expect(relL2(r.inputGrads.x!, ref.inputGrads.x!.data as Float32Array), 'x').to.be.at.most(1e-3);
      for (const p of params) expect(relL2(r.paramGrads[p]!, ref.paramGrads[p]!.data as Float32Array), p).to.be.at.most(1e-3);
    } finally {
      engine.dispose();
    }
  });

  it('input and every weight: finite differences of ORT; a 5% wrong gradient fails', async () => {
    const c = vitCase();
    await expectGradientsMatch(c);
    await expectWrongGradientFails(c);
  });
});

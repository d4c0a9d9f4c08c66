/**
 * Gradient rules of the core ops (Conv, Relu, Add/Sub/Mul/Div, MatMul, Gemm) and the loss heads,
 * each on a one-node model: the gradient graph run in ONNX Runtime against central finite
 * differences of ONNX Runtime's forward (test/autodiff/harness.ts), and a 5% wrong gradient fails.
 */
import { expect } from 'chai';
import type { AttributeProto, NodeProto } from '../../src/onnx/proto-types.js';
import { buildGradientGraph } from '../../src/autodiff/index.js';
import { CONV_INPUT_GRAD, CONV_WEIGHT_GRAD } from '../../src/ops/conv.grad.js';
import { expectGradientsMatch, expectWrongGradientFails, randn, RELU_STEPS, smallCase, type TVal } from './harness.js';

const ints = (name: string, v: number[]): AttributeProto => ({ name, ints: v, type: 7 });
const int = (name: string, v: number): AttributeProto => ({ name, i: v, type: 2 });
const flt = (name: string, v: number): AttributeProto => ({ name, f: v, type: 1 });
const nd = (op: string, ins: string[], attrs: AttributeProto[] = [], outs = ['y']): NodeProto => ({ op_type: op, input: ins, output: outs, name: `n_${op}`, attribute: attrs });
const n = (dims: number[]): number => dims.reduce((a, b) => a * b, 1);
const val = (name: string, dims: number[], seed: number, init = false, scale = 1): TVal => ({ name, dims, data: randn(n(dims), seed, scale), init });

describe('autodiff core rules vs finite differences of ORT', function () {
  this.timeout(120000);

  const convCases: { what: string; x: number[]; w: number[]; attrs: AttributeProto[]; bias?: boolean }[] = [
    { what: 'plain 3x3, bias', x: [2, 3, 7, 6], w: [4, 3, 3, 3], attrs: [], bias: true },
    { what: 'stride 2, pads 1 (resnet stem style)', x: [2, 3, 9, 8], w: [5, 3, 3, 3], attrs: [ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1])], bias: true },
    { what: 'asymmetric pads, dilation 2', x: [1, 2, 9, 9], w: [3, 2, 3, 2], attrs: [ints('dilations', [2, 2]), ints('pads', [0, 1, 2, 1])] },
    { what: 'groups 2, stride 2 with an uneven remainder', x: [2, 4, 8, 7], w: [6, 2, 3, 3], attrs: [int('group', 2), ints('strides', [2, 2])], bias: true },
    { what: 'depthwise with multiplier 2, pads 1', x: [2, 3, 6, 6], w: [6, 1, 3, 3], attrs: [int('group', 3), ints('pads', [1, 1, 1, 1])] },
    { what: '1x1 stride 2 (downsample)', x: [2, 4, 7, 7], w: [6, 4, 1, 1], attrs: [ints('strides', [2, 2])] },
    { what: '1x1 stride 1 with bias', x: [2, 4, 5, 6], w: [6, 4, 1, 1], attrs: [], bias: true },
    { what: '1x1 strides 2, 3 on an even extent', x: [1, 3, 8, 9], w: [5, 3, 1, 1], attrs: [ints('strides', [2, 3])] },
    { what: 'auto_pad SAME_UPPER stride 2', x: [1, 2, 7, 6], w: [3, 2, 3, 3], attrs: [{ name: 'auto_pad', s: new TextEncoder().encode('SAME_UPPER'), type: 3 }, ints('strides', [2, 2])] },
    { what: 'few output positions (L < M: the unfold form folds the batch)', x: [3, 3, 4, 4], w: [12, 3, 3, 3], attrs: [ints('strides', [2, 2])], bias: true },
    { what: '1-D conv', x: [2, 3, 11], w: [4, 3, 3], attrs: [ints('strides', [2]), ints('pads', [1, 0])] },
  ];
  for (const form of ['transposed-conv', 'unfold', 'taps'] as const) {
    for (const c of convCases) {
      it(`Conv ${c.what}: dX (both forms), dW (${form}), dB`, async () => {
        const vals = [val('x', c.x, 1), val('w', c.w, 2, true, 0.5), ...(c.bias ? [val('b', [c.w[0]!], 3, true)] : [])];
        const kase = smallCase([nd('Conv', vals.map((v) => v.name), c.attrs)], vals, ['y']);
        const saved = [CONV_WEIGHT_GRAD.form, CONV_INPUT_GRAD.form] as const;
        CONV_WEIGHT_GRAD.form = form;
        try {
          // dX both ways: a Conv with the flipped weight (stride 1) and ConvTranspose
          for (const dx of ['conv', 'conv-transpose'] as const) {
            CONV_INPUT_GRAD.form = dx;
            const r = await expectGradientsMatch(kase);
            expect(r.paramGrads.w!.length).to.equal(n(c.w));
          }
          // attack graphs: constant weights (auto: the flip is a Slice on a constant)
          CONV_INPUT_GRAD.form = 'auto';
          await expectGradientsMatch({ ...kase, params: [] });
        } finally {
          [CONV_WEIGHT_GRAD.form, CONV_INPUT_GRAD.form] = saved;
        }
      });
    }
  }

  it('Conv with a symbolic batch, dW by unfolding (the batch sum by ones of run-time size, and the batch folded into the contraction)', async () => {
    const saved = CONV_WEIGHT_GRAD.form;
    CONV_WEIGHT_GRAD.form = 'unfold';
    try {
      // 3x3 pads 1 at 6x6 (L 36 >= M 4: MatMul by ones) and 3x3 stride 2 at 5x5 (L 4 < M 12: folded)
      for (const [w, attrs] of [[[4, 3, 3, 3], [ints('pads', [1, 1, 1, 1])]], [[12, 3, 3, 3], [ints('strides', [2, 2])]]] as const) {
        const vals: TVal[] = [{ name: 'x', dims: ['N', 3, w[0] === 4 ? 6 : 5, w[0] === 4 ? 6 : 5], feedDims: [3, 3, w[0] === 4 ? 6 : 5, w[0] === 4 ? 6 : 5], data: randn(3 * 3 * (w[0] === 4 ? 36 : 25), 1) }, val('w', [...w], 2, true, 0.5)];
        const kase = smallCase([nd('Conv', ['x', 'w'], [...attrs])], vals, ['y']);
        const r = await expectGradientsMatch(kase);
        expect(r.paramGrads.w!.length).to.equal(n([...w]));
        await expectWrongGradientFails(kase);
      }
    } finally {
      CONV_WEIGHT_GRAD.form = saved;
    }
  });

  it('Conv dX form auto: the flipped Conv at stride 1 (constant or trained weight), ConvTranspose at stride 2', () => {
    const vals = [val('x', [1, 2, 5, 5], 1), val('w', [3, 2, 3, 3], 2, true)];
    const ops = (strides: number[], params: string[]): string[] => {
      const kase = smallCase([nd('Conv', ['x', 'w'], [ints('pads', [1, 1, 1, 1]), ints('strides', strides)])], vals, ['y']);
      return buildGradientGraph(kase.model, { loss: { kind: 'mean', output: 'y' }, inputs: ['x'], params }).model.graph.nodes.map((x) => x.opType);
    };
    expect(CONV_INPUT_GRAD.form).to.equal('auto');
    expect(ops([1, 1], [])).to.include('Conv').and.not.include('ConvTranspose');
    expect(ops([1, 1], ['w'])).to.include('Conv').and.not.include('ConvTranspose');
    expect(ops([2, 2], ['w'])).to.include('ConvTranspose');
    expect(ops([2, 2], [])).to.include('ConvTranspose');
  });

  it('a 5% wrong Conv gradient fails the check', async () => {
    const vals = [val('x', [2, 3, 6, 6], 1), val('w', [4, 3, 3, 3], 2, true)];
    await expectWrongGradientFails(smallCase([nd('Conv', ['x', 'w'], [ints('pads', [1, 1, 1, 1])])], vals, ['y']));
  });

  it('Relu (inputs kept away from 0) and its kink caveat steps', async () => {
    const x = randn(60, 5).map((v) => (Math.abs(v) < 0.05 ? 0.3 : v));
    const kase = smallCase([nd('Relu', ['x'])], [{ name: 'x', dims: [3, 20], data: x }], ['y']);
    await expectGradientsMatch(kase, { steps: RELU_STEPS });
    await expectWrongGradientFails(kase, { steps: RELU_STEPS });
  });

  for (const op of ['Add', 'Sub', 'Mul', 'Div']) {
    it(`${op} with multidirectional broadcasting ([2,3,4] with [3,1] and with a scalar)`, async () => {
      const b = op === 'Div' ? { name: 'b', dims: [3, 1], data: randn(3, 9).map((v) => (v >= 0 ? v + 1 : v - 1)) } : val('b', [3, 1], 9);
      const kase = smallCase([nd(op, ['a', 'b'])], [val('a', [2, 3, 4], 8), b], ['y']);
      await expectGradientsMatch(kase);
      const s = op === 'Div' ? { name: 's', dims: [], data: [1.7], init: true } : { name: 's', dims: [], data: [0.7], init: true };
      const a = { ...val('a', [2, 3, 4], 8), data: randn(24, 8).map((v) => (op === 'Div' ? (v >= 0 ? v + 1 : v - 1) : v)) };
      await expectGradientsMatch(smallCase([nd(op, ['s', 'a'])], [a, s], ['y']));
    });
  }

  it('MatMul: batched with broadcasting, x @ W with a 2-D W, and 1-D operands', async () => {
    await expectGradientsMatch(smallCase([nd('MatMul', ['a', 'b'])], [val('a', [2, 1, 3, 4], 1), val('b', [3, 4, 5], 2)], ['y']));
    await expectGradientsMatch(smallCase([nd('MatMul', ['a', 'w'])], [val('a', [2, 3, 4], 1), val('w', [4, 5], 2, true)], ['y']));
    await expectGradientsMatch(smallCase([nd('MatMul', ['v', 'b'])], [val('v', [4], 3), val('b', [2, 4, 5], 4)], ['y']));
    await expectGradientsMatch(smallCase([nd('MatMul', ['a', 'v'])], [val('a', [2, 3, 4], 5), val('v', [4], 6)], ['y']));
  });

  for (const [tA, tB] of [[0, 0], [0, 1], [1, 0], [1, 1]] as const) {
    it(`Gemm transA=${tA} transB=${tB}, alpha 0.7, beta 1.3, bias broadcast`, async () => {
      const a = tA ? [4, 3] : [3, 4];
      const b = tB ? [5, 4] : [4, 5];
      const vals = [val('a', a, 1), val('b', b, 2, true), val('c', [5], 3, true)];
      await expectGradientsMatch(smallCase([nd('Gemm', ['a', 'b', 'c'], [int('transA', tA), int('transB', tB), flt('alpha', 0.7), flt('beta', 1.3)])], vals, ['y']));
    });
  }

  for (const kind of ['mse', 'l1', 'mean'] as const) {
    it(`loss head ${kind} (symbolic batch: one graph for batch 2)`, async () => {
      const vals: TVal[] = [{ name: 'x', dims: ['N', 4], feedDims: [2, 4], data: randn(8, 3) }, val('w', [3, 4], 4, true), val('c', [3], 5, true)];
      const kase = smallCase([nd('Gemm', ['x', 'w', 'c'], [int('transB', 1)])], vals, ['y'], { loss: { kind, output: 'y' } });
      const r = await expectGradientsMatch(kase);
      expect(r.graph.model.graph.inputs.find((v) => v.name === 'x')!.declaredShape![0]).to.equal('N');
      expect(r.loss).to.be.a('number');
    });
  }
});

describe('autodiff with dynamic spatial dims', function () {
  this.timeout(60000);

  it('a model with symbolic H and W is refused for Conv until inputShapes gives them; the graph input keeps its declared dims', async () => {
    const vals: TVal[] = [{ name: 'x', dims: ['N', 2, 'H', 'W'], feedDims: [2, 2, 7, 6], data: randn(2 * 2 * 42, 1) }, val('w', [3, 2, 3, 3], 2, true)];
    const kase = smallCase([nd('Conv', ['x', 'w'], [ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1])])], vals, ['y'], { loss: { kind: 'mean', output: 'y' } });
    expect(() => buildGradientGraph(kase.model, { loss: { kind: 'mean', output: 'y' }, inputs: ['x'] })).to.throw(/spatial dims of 'x' are not known statically/);
    const withShapes = { ...kase, inputShapes: { x: ['N', 2, 7, 6] } };
    const r = await expectGradientsMatch(withShapes);
    expect(r.graph.model.graph.inputs.find((v) => v.name === 'x')!.declaredShape).to.deep.equal(['N', 2, 'H', 'W']);
  });
});

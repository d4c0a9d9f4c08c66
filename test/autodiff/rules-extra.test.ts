/**
 * Gradient rules beyond the core set (src/ops/*-more.grad.ts, resize/microsoft/einsum .grad.ts),
 * each on a small model: the gradient graph run in ONNX Runtime against central finite
 * differences of ONNX Runtime's forward (test/autodiff/harness.ts), with broadcasting and
 * attribute variants, and a 5% wrong gradient failing the same check for every op family.
 */
import { expect } from 'chai';
import { checkDifferentiable } from '../../src/autodiff/index.js';
import { UserError } from '../../src/errors.js';
import { Model } from '../../src/ir/model.js';
import type { AttributeProto, NodeProto } from '../../src/onnx/proto-types.js';
import { expectGradientsMatch, expectWrongGradientFails, randn, RELU_STEPS, smallCase, type GradCase, type TVal } from './harness.js';

const ints = (name: string, v: number[]): AttributeProto => ({ name, ints: v, type: 7 });
const int = (name: string, v: number): AttributeProto => ({ name, i: v, type: 2 });
const flt = (name: string, v: number): AttributeProto => ({ name, f: v, type: 1 });
const str = (name: string, v: string): AttributeProto => ({ name, s: new TextEncoder().encode(v), type: 3 });
const nd = (op: string, ins: string[], attrs: AttributeProto[] = [], outs = ['y'], domain?: string): NodeProto => ({ op_type: op, input: ins, output: outs, name: `n_${op}`, attribute: attrs, ...(domain ? { domain } : {}) });
const count = (dims: number[]): number => dims.reduce((a, b) => a * b, 1);
const val = (name: string, dims: number[], seed: number, init = false, scale = 1): TVal => ({ name, dims, data: randn(count(dims), seed, scale), init });
/** Values bounded away from 0 (|v| >= lo): for kinks at 0 and for logs / divisions. */
const away = (name: string, dims: number[], seed: number, lo = 0.3, init = false): TVal => ({ name, dims, data: randn(count(dims), seed).map((v) => (v >= 0 ? v + lo : v - lo)), init });
const positive = (name: string, dims: number[], seed: number, lo = 0.5): TVal => ({ name, dims, data: randn(count(dims), seed).map((v) => Math.abs(v) + lo) });
const i64 = (name: string, data: number[], dims = [data.length]): TVal => ({ name, dims, data, init: true, type: 7 });

async function check(kase: GradCase, steps?: readonly number[]): Promise<void> {
  await expectGradientsMatch(kase, steps ? { steps } : {});
}

describe('autodiff rules beyond the core vs finite differences of ORT', function () {
  this.timeout(300000);

  describe('unary', () => {
    const smooth: [string, AttributeProto[], (s: number) => TVal][] = [
      ['Exp', [], (s) => val('x', [3, 5], s, false, 0.5)],
      ['Log', [], (s) => positive('x', [3, 5], s)],
      ['Sqrt', [], (s) => positive('x', [3, 5], s)],
      ['Reciprocal', [], (s) => away('x', [3, 5], s, 0.5)],
      ['Erf', [], (s) => val('x', [3, 5], s)],
      ['Softplus', [], (s) => val('x', [3, 5], s)],
      ['Softsign', [], (s) => away('x', [3, 5], s)],
      ['Mish', [], (s) => val('x', [3, 5], s)],
      ['Sin', [], (s) => val('x', [3, 5], s)],
      ['Cos', [], (s) => val('x', [3, 5], s)],
      ['Tan', [], (s) => val('x', [3, 5], s, false, 0.4)],
      ['Asin', [], (s) => ({ ...val('x', [3, 5], s), data: randn(15, s).map((v) => Math.tanh(v) * 0.8) })],
      ['Acos', [], (s) => ({ ...val('x', [3, 5], s), data: randn(15, s).map((v) => Math.tanh(v) * 0.8) })],
      ['Atan', [], (s) => val('x', [3, 5], s)],
      ['Sinh', [], (s) => val('x', [3, 5], s)],
      ['Cosh', [], (s) => away('x', [3, 5], s)],
      ['Asinh', [], (s) => val('x', [3, 5], s)],
      ['Acosh', [], (s) => ({ ...val('x', [3, 5], s), data: randn(15, s).map((v) => Math.abs(v) + 1.3) })],
      ['Atanh', [], (s) => ({ ...val('x', [3, 5], s), data: randn(15, s).map((v) => Math.tanh(v) * 0.8) })],
    ];
    for (const [op, attrs, x] of smooth) {
      it(op, async () => check(smallCase([nd(op, ['x'], attrs)], [x(11)], ['y'], { opset: op === 'Mish' ? 18 : 13 })));
    }
    const kinked: [string, AttributeProto[], number][] = [
      ['Abs', [], 0],
      ['LeakyRelu', [flt('alpha', 0.2)], 0],
      ['Elu', [flt('alpha', 0.7)], 0],
      ['Selu', [], 0],
      ['Celu', [flt('alpha', 1.5)], 0],
      ['ThresholdedRelu', [flt('alpha', 0.4)], 0.4],
      ['HardSigmoid', [flt('alpha', 0.3), flt('beta', 0.4)], 0],
      ['HardSwish', [], 0],
      ['Shrink', [flt('lambd', 0.3), flt('bias', 0.1)], 0],
    ];
    for (const [op, attrs, at] of kinked) {
      it(`${op} (inputs away from the kinks)`, async () => {
        // HardSigmoid kinks at alpha x + beta in {0, 1}; HardSwish at +-3; Shrink at +-lambd
        const data = randn(30, 13).map((v) => 2 * v);
        const bad = (v: number): boolean =>
          Math.abs(v - at) < 0.1 || (op === 'HardSigmoid' && (Math.abs(0.3 * v + 0.4) < 0.05 || Math.abs(0.3 * v - 0.6) < 0.05)) || (op === 'HardSwish' && Math.abs(Math.abs(v) - 3) < 0.1) || (op === 'Shrink' && Math.abs(Math.abs(v) - 0.3) < 0.1);
        const x = data.map((v) => (bad(v) ? v + 0.5 : v));
        await check(smallCase([nd(op, ['x'], attrs)], [{ name: 'x', dims: [5, 6], data: x }], ['y'], { opset: op === 'HardSwish' ? 14 : 13 }), RELU_STEPS);
      });
    }
    for (const approx of ['none', 'tanh']) {
      it(`Gelu approximate=${approx} (opset 20)`, async () => check(smallCase([nd('Gelu', ['x'], [str('approximate', approx)])], [val('x', [4, 5], 3)], ['y'], { opset: 20 })));
    }
    it('Floor / Round pass no gradient; Cast float->float is the identity; Dropout at inference', async () => {
      const kase = smallCase(
        [nd('Floor', ['x'], [], ['f']), nd('Add', ['x', 'f'], [], ['a']), nd('Cast', ['a'], [int('to', 1)], ['c']), nd('Dropout', ['c'], [], ['y'])],
        [away('x', [3, 4], 5)],
        ['y'],
      );
      const r = await expectGradientsMatch(kase, { steps: RELU_STEPS });
      // d(x + floor(x))/dx = 1
      for (const v of r.inputGrads.x!) expect(v).to.be.a('number');
    });
    it('a 5% wrong unary gradient fails (Erf)', async () => expectWrongGradientFails(smallCase([nd('Erf', ['x'])], [val('x', [3, 5], 2)], ['y'])));
  });

  describe('elementwise', () => {
    it('Pow: base and exponent, broadcast exponent [4] against [2,3,4]', async () => {
      await check(smallCase([nd('Pow', ['a', 'b'])], [positive('a', [2, 3, 4], 1), val('b', [4], 2, true, 0.5)], ['y']));
    });
    it('Pow with a constant exponent 2 (the Cayley norm, variance) and 0.5', async () => {
      await check(smallCase([nd('Pow', ['a', 'e'])], [val('a', [3, 4], 1), { name: 'e', dims: [], data: [2], init: true }], ['y'], { params: [] }));
      await check(smallCase([nd('Pow', ['a', 'e'])], [positive('a', [3, 4], 1), { name: 'e', dims: [], data: [0.5], init: true }], ['y'], { params: [] }));
    });
    it('Max / Min, three inputs with broadcasting; Sum and Mean', async () => {
      const vals = [val('a', [2, 3, 4], 1), val('b', [3, 1], 2), val('c', [4], 3)];
      for (const op of ['Max', 'Min', 'Sum', 'Mean']) await check(smallCase([nd(op, ['a', 'b', 'c'])], vals, ['y']), op === 'Max' || op === 'Min' ? RELU_STEPS : undefined);
    });
    it('Where with broadcast X and Y (the condition from a comparison: no gradient through it)', async () => {
      const kase = smallCase(
        [nd('Greater', ['m', 'zero'], [], ['c']), nd('Where', ['c', 'x', 'z'])],
        [val('x', [2, 3, 4], 1), val('z', [4], 2), { name: 'm', dims: [3, 4], data: randn(12, 4), init: true }, { name: 'zero', dims: [], data: [0], init: true }],
        ['y'],
        { params: [] },
      );
      await check(kase);
    });
    it('PRelu with a per-channel slope [C,1,1]', async () => {
      await check(smallCase([nd('PRelu', ['x', 's'])], [away('x', [2, 3, 4, 4], 1), val('s', [3, 1, 1], 2, true, 0.3)], ['y']), RELU_STEPS);
    });
    it('a 5% wrong Pow gradient fails', async () => expectWrongGradientFails(smallCase([nd('Pow', ['a', 'b'])], [positive('a', [2, 3], 1), val('b', [3], 2, true, 0.5)], ['y'])));
  });

  describe('reduce', () => {
    const cases: { op: string; opset: number; axes?: number[]; keep: number; positiveInput?: boolean }[] = [
      { op: 'ReduceSum', opset: 13, axes: [1, -1], keep: 0 },
      { op: 'ReduceSum', opset: 11, axes: [0], keep: 1 },
      { op: 'ReduceSum', opset: 13, keep: 0 },
      { op: 'ReduceSumSquare', opset: 13, axes: [2, 3], keep: 1 },
      { op: 'ReduceSumSquare', opset: 18, axes: [1], keep: 0 },
      { op: 'ReduceL1', opset: 13, axes: [1], keep: 1 },
      { op: 'ReduceL2', opset: 13, axes: [2], keep: 0 },
      { op: 'ReduceLogSum', opset: 13, axes: [1], keep: 0, positiveInput: true },
      { op: 'ReduceLogSumExp', opset: 18, axes: [3], keep: 1 },
      { op: 'ReduceMax', opset: 13, axes: [2, 3], keep: 1 },
      { op: 'ReduceMin', opset: 18, axes: [1], keep: 0 },
      { op: 'ReduceProd', opset: 13, axes: [3], keep: 0, positiveInput: true },
    ];
    for (const c of cases) {
      it(`${c.op} opset ${c.opset} axes ${c.axes ? `[${c.axes.join(',')}]` : 'all'} keepdims ${c.keep}`, async () => {
        const axesAsInput = c.axes && c.opset >= (c.op === 'ReduceSum' ? 13 : 18);
        const attrs = [int('keepdims', c.keep), ...(c.axes && !axesAsInput ? [ints('axes', c.axes)] : [])];
        const x = c.positiveInput ? positive('x', [2, 3, 4, 5], 1) : away('x', [2, 3, 4, 5], 1, 0.05);
        const vals: TVal[] = [x, ...(axesAsInput ? [i64('axes', c.axes!)] : [])];
        await check(smallCase([nd(c.op, axesAsInput ? ['x', 'axes'] : ['x'], attrs)], vals, ['y'], { opset: c.opset }), c.op === 'ReduceMax' || c.op === 'ReduceMin' || c.op === 'ReduceL1' ? RELU_STEPS : undefined);
      });
    }
    it('CumSum (reverse, exclusive) and TopK values', async () => {
      await check(smallCase([nd('CumSum', ['x', 'ax'], [int('reverse', 1), int('exclusive', 1)])], [val('x', [3, 5], 1), i64('ax', [1], [])], ['y']));
      await check(smallCase([nd('TopK', ['x', 'k'], [int('axis', 1)], ['y', 'i'])], [val('x', [3, 6], 2), i64('k', [3])], ['y'], { loss: { kind: 'cotangents', outputs: ['y'] } }), RELU_STEPS);
    });
    it('a 5% wrong ReduceSumSquare gradient fails', async () => expectWrongGradientFails(smallCase([nd('ReduceSumSquare', ['x'], [ints('axes', [1])])], [val('x', [3, 4], 1)], ['y'])));
  });

  describe('norm', () => {
    for (const opset of [11, 13]) {
      for (const axis of [1, -1]) {
        it(`Softmax and LogSoftmax opset ${opset} axis ${axis}`, async () => {
          for (const op of ['Softmax', 'LogSoftmax']) await check(smallCase([nd(op, ['x'], [int('axis', axis)])], [val('x', [2, 3, 4], 1)], ['y'], { opset }));
        });
      }
    }
    it('LayerNormalization axis -1 and axis 1 with scale and bias gradients (opset 17)', async () => {
      await check(smallCase([nd('LayerNormalization', ['x', 's', 'b'], [int('axis', -1), flt('epsilon', 1e-5)])], [val('x', [2, 3, 6], 1), val('s', [6], 2, true), val('b', [6], 3, true)], ['y'], { opset: 17 }));
      await check(smallCase([nd('LayerNormalization', ['x', 's'], [int('axis', 1)])], [val('x', [2, 3, 4], 1), val('s', [3, 4], 2, true)], ['y'], { opset: 17 }));
    });
    it('InstanceNormalization and GroupNormalization (opset 18 per group, 21 per channel)', async () => {
      await check(smallCase([nd('InstanceNormalization', ['x', 's', 'b'])], [val('x', [2, 3, 4, 5], 1), val('s', [3], 2, true), val('b', [3], 3, true)], ['y']));
      await check(smallCase([nd('GroupNormalization', ['x', 's', 'b'], [int('num_groups', 2)])], [val('x', [2, 4, 3, 3], 1), val('s', [2], 2, true), val('b', [2], 3, true)], ['y'], { opset: 18 }));
      await check(smallCase([nd('GroupNormalization', ['x', 's', 'b'], [int('num_groups', 2)])], [val('x', [2, 4, 3, 3], 1), val('s', [4], 2, true), val('b', [4], 3, true)], ['y'], { opset: 21 }));
    });
    it('a 5% wrong LayerNormalization gradient fails', async () =>
      expectWrongGradientFails(smallCase([nd('LayerNormalization', ['x', 's', 'b'])], [val('x', [2, 5], 1), val('s', [5], 2, true), val('b', [5], 3, true)], ['y'], { opset: 17 })));
  });

  describe('slice and shape', () => {
    it('Split into three (sizes input) with one output unused', async () => {
      const kase = smallCase([nd('Split', ['x', 'sp'], [int('axis', 1)], ['a', 'b', 'c']), nd('Mul', ['a', 'c'], [], ['y'])], [val('x', [2, 7, 3], 1), i64('sp', [2, 3, 2])], ['y']);
      await check(kase);
    });
    for (const opset of [13, 16]) {
      it(`Gather axis 1 with repeated and negative indices, and a scalar index (opset ${opset})`, async () => {
        await check(smallCase([nd('Gather', ['x', 'i'], [int('axis', 1)])], [val('x', [2, 4, 3], 1), i64('i', [0, 2, -1, 2, 0, 0], [2, 3])], ['y'], { opset }));
        await check(smallCase([nd('Gather', ['x', 'i'], [int('axis', 0)])], [val('x', [4, 3], 1), i64('i', [1, 1, 3])], ['y'], { opset }));
        await check(smallCase([nd('Gather', ['x', 'i'], [int('axis', 1)])], [val('x', [2, 4, 3], 1), i64('i', [-2], [])], ['y'], { opset }));
      });
    }
    it('GatherElements and GatherND (opset 16)', async () => {
      await check(smallCase([nd('GatherElements', ['x', 'i'], [int('axis', 1)])], [val('x', [2, 3], 1), i64('i', [0, 0, 2, 1, 1, 0], [2, 3])], ['y'], { opset: 16 }));
      await check(smallCase([nd('GatherND', ['x', 'i'])], [val('x', [3, 4, 2], 1), i64('i', [0, 1, 2, 3, 0, 1], [3, 2])], ['y'], { opset: 16 }));
    });
    it('ScatterElements (none and add) and ScatterND: data and updates', async () => {
      await check(smallCase([nd('ScatterElements', ['x', 'i', 'u'], [int('axis', 1)])], [val('x', [2, 4], 1), i64('i', [1, 3, 0, 2], [2, 2]), val('u', [2, 2], 2)], ['y'], { opset: 16 }));
      await check(smallCase([nd('ScatterElements', ['x', 'i', 'u'], [int('axis', 1), str('reduction', 'add')])], [val('x', [2, 4], 1), i64('i', [1, 1, 0, 2], [2, 2]), val('u', [2, 2], 2)], ['y'], { opset: 16 }));
      await check(smallCase([nd('ScatterND', ['x', 'i', 'u'])], [val('x', [4, 3], 1), i64('i', [2, 0], [2, 1]), val('u', [2, 3], 2)], ['y'], { opset: 16 }));
    });
    const padModes: [string, number[]][] = [
      ['constant', [0, 1, 2, 0, 1, 0]],
      ['constant', [0, -1, 1, 0, 2, -1]],
      ['reflect', [0, 2, 1, 0, 1, 2]],
      ['edge', [0, 1, 3, 0, 2, 1]],
      ['wrap', [0, 2, 2, 0, 1, 3]],
    ];
    for (const [mode, pads] of padModes) {
      it(`Pad ${mode} pads [${pads.join(',')}] (opset 13; and as an attribute at opset 10)`, async () => {
        await check(smallCase([nd('Pad', ['x', 'p'], [str('mode', mode)])], [val('x', [2, 4, 5], 1), i64('p', pads)], ['y']));
        if (mode !== 'wrap' && pads.every((p) => p >= 0)) await check(smallCase([nd('Pad', ['x'], [str('mode', mode), ints('pads', pads)])], [val('x', [2, 4, 5], 1)], ['y'], { opset: 10 }));
      });
    }
    it('Expand (rank grows, size-1 dims broadcast) and Tile', async () => {
      await check(smallCase([nd('Expand', ['x', 's'])], [val('x', [3, 1], 1), i64('s', [2, 3, 4])], ['y']));
      await check(smallCase([nd('Tile', ['x', 'r'])], [val('x', [2, 3, 2], 1), i64('r', [2, 1, 3])], ['y']));
    });
    it('DepthToSpace (DCR, CRD) and SpaceToDepth; Trilu', async () => {
      await check(smallCase([nd('DepthToSpace', ['x'], [int('blocksize', 2)])], [val('x', [1, 8, 2, 3], 1)], ['y']));
      await check(smallCase([nd('DepthToSpace', ['x'], [int('blocksize', 2), str('mode', 'CRD')])], [val('x', [2, 8, 2, 3], 1)], ['y']));
      await check(smallCase([nd('SpaceToDepth', ['x'], [int('blocksize', 2)])], [val('x', [1, 2, 4, 6], 1)], ['y']));
      await check(smallCase([nd('Trilu', ['x'], [int('upper', 0)])], [val('x', [2, 4, 4], 1)], ['y'], { opset: 14 }));
    });
    it('a 5% wrong Gather gradient fails', async () => expectWrongGradientFails(smallCase([nd('Gather', ['x', 'i'], [int('axis', 1)])], [val('x', [2, 4], 1), i64('i', [0, 3, 3])], ['y'], { opset: 16 })));
  });

  describe('resize', () => {
    const rc: { what: string; attrs: AttributeProto[]; x: number[]; scales?: number[]; sizes?: number[] }[] = [
      { what: 'linear half_pixel x2 (PyTorch align_corners=False)', attrs: [str('mode', 'linear')], x: [1, 2, 4, 5], scales: [1, 1, 2, 2] },
      { what: 'linear align_corners to sizes', attrs: [str('mode', 'linear'), str('coordinate_transformation_mode', 'align_corners')], x: [2, 2, 4, 5], sizes: [2, 2, 7, 9] },
      { what: 'linear pytorch_half_pixel downscale', attrs: [str('mode', 'linear'), str('coordinate_transformation_mode', 'pytorch_half_pixel')], x: [1, 2, 8, 6], scales: [1, 1, 0.5, 0.75] },
      { what: 'nearest asymmetric floor x2 (PyTorch nearest)', attrs: [str('mode', 'nearest'), str('coordinate_transformation_mode', 'asymmetric'), str('nearest_mode', 'floor')], x: [1, 3, 3, 4], scales: [1, 1, 2, 2] },
      { what: 'nearest half_pixel round_prefer_floor to sizes', attrs: [str('mode', 'nearest')], x: [1, 1, 5, 4], sizes: [1, 1, 7, 3] },
      { what: 'cubic half_pixel x1.5', attrs: [str('mode', 'cubic')], x: [1, 2, 4, 4], scales: [1, 1, 1.5, 1.5] },
    ];
    for (const c of rc) {
      it(`Resize ${c.what}`, async () => {
        const vals: TVal[] = [val('x', c.x, 1), c.scales ? { name: 'sc', dims: [4], data: c.scales, init: true } : i64('sz', c.sizes!)];
        const ins = c.scales ? ['x', '', 'sc'] : ['x', '', '', 'sz'];
        await check(smallCase([nd('Resize', ins, c.attrs)], vals, ['y'], { params: [] }));
      });
    }
    it('Resize to sizes computed at run time (PyTorch interpolate(size=...): Shape -> Slice -> Concat), symbolic batch', async () => {
      const nodes = [
        nd('Shape', ['x'], [], ['sh']),
        nd('Slice', ['sh', 'z', 'two'], [], ['nc']),
        nd('Concat', ['nc', 'hw'], [int('axis', 0)], ['sz']),
        nd('Resize', ['x', '', '', 'sz'], [str('mode', 'linear'), str('coordinate_transformation_mode', 'pytorch_half_pixel')]),
      ];
      const vals: TVal[] = [{ name: 'x', dims: ['N', 2, 4, 5], feedDims: [2, 2, 4, 5], data: randn(80, 3) }, i64('z', [0]), i64('two', [2]), i64('hw', [7, 3])];
      await check(smallCase(nodes, vals, ['y'], { params: [] }));
    });
    it('Upsample (opset 9) nearest and linear', async () => {
      for (const mode of ['nearest', 'linear']) await check(smallCase([nd('Upsample', ['x', 'sc'], [str('mode', mode)])], [val('x', [1, 2, 3, 4], 1), { name: 'sc', dims: [4], data: [1, 1, 2, 2], init: true }], ['y'], { opset: 9, params: [] }));
    });
    it('a 5% wrong Resize gradient fails', async () =>
      expectWrongGradientFails(smallCase([nd('Resize', ['x', '', 'sc'], [str('mode', 'linear')])], [val('x', [1, 1, 3, 4], 1), { name: 'sc', dims: [4], data: [1, 1, 2, 2], init: true }], ['y'], { params: [] })));
  });

  describe('conv', () => {
    const cases: { what: string; x: number[]; w: number[]; attrs: AttributeProto[]; bias?: boolean }[] = [
      { what: 'stride 2, pads 1, output_padding 1, bias', x: [2, 3, 4, 5], w: [3, 4, 3, 3], attrs: [ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1]), ints('output_padding', [1, 1])], bias: true },
      { what: 'dilation 2, asymmetric pads', x: [1, 2, 5, 4], w: [2, 3, 3, 2], attrs: [ints('dilations', [2, 2]), ints('pads', [0, 1, 2, 0])] },
      { what: '1-D stride 3', x: [2, 2, 6], w: [2, 3, 4], attrs: [ints('strides', [3])], bias: true },
    ];
    for (const c of cases) {
      it(`ConvTranspose ${c.what}: dX, dW, dB`, async () => {
        const vals = [val('x', c.x, 1), val('w', c.w, 2, true, 0.5), ...(c.bias ? [val('b', [c.w[1]!], 3, true)] : [])];
        await check(smallCase([nd('ConvTranspose', vals.map((v) => v.name), c.attrs)], vals, ['y']));
      });
    }
    it('grouped ConvTranspose (constant weight): dX', async () => {
      await check(smallCase([nd('ConvTranspose', ['x', 'w'], [int('group', 2), ints('strides', [2, 2])])], [val('x', [2, 4, 3, 3], 1), val('w', [4, 3, 3, 3], 2, true)], ['y'], { params: [] }));
    });
    it('a 5% wrong ConvTranspose gradient fails', async () =>
      expectWrongGradientFails(smallCase([nd('ConvTranspose', ['x', 'w'], [ints('strides', [2, 2])])], [val('x', [1, 2, 3, 3], 1), val('w', [2, 2, 3, 3], 2, true)], ['y'])));
  });

  describe('more pools and norms', () => {
    it('GlobalLpPool p = 2 and p = 3', async () => {
      await check(smallCase([nd('GlobalLpPool', ['x'])], [away('x', [2, 3, 4, 5], 1)], ['y']));
      await check(smallCase([nd('GlobalLpPool', ['x'], [int('p', 3)])], [away('x', [2, 3, 4, 5], 1)], ['y']));
    });
    it('MeanVarianceNormalization (default axes and axes [2, 3])', async () => {
      await check(smallCase([nd('MeanVarianceNormalization', ['x'])], [val('x', [2, 3, 4, 5], 1)], ['y']));
      await check(smallCase([nd('MeanVarianceNormalization', ['x'], [ints('axes', [2, 3])])], [val('x', [2, 3, 4, 5], 1)], ['y']));
    });
    it('Mod fmod = 1 with broadcasting (away from the jumps)', async () => {
      const a = { name: 'a', dims: [3, 4], data: [0.3, 1.7, -2.6, 3.2, -0.4, 2.3, 5.6, -3.3, 1.2, -1.4, 4.4, 0.7] };
      await check(smallCase([nd('Mod', ['a', 'b'], [int('fmod', 1)])], [a, { name: 'b', dims: [4], data: [1.5, -2, 2.5, 1.9] }], ['y']), RELU_STEPS);
    });
    it('a 5% wrong MeanVarianceNormalization gradient fails', async () => expectWrongGradientFails(smallCase([nd('MeanVarianceNormalization', ['x'])], [val('x', [2, 3, 4, 5], 1)], ['y'])));
  });

  describe('spectral', () => {
    const cases: { what: string; x: number[]; attrs: AttributeProto[]; len?: number; opset: number }[] = [
      { what: 'real input, axis 1', x: [2, 8, 1], attrs: [int('axis', 1)], opset: 17 },
      { what: 'complex input, axis 1 of [2,6,3,2]', x: [2, 6, 3, 2], attrs: [int('axis', 1)], opset: 17 },
      { what: 'real input, onesided', x: [2, 8, 1], attrs: [int('axis', 1), int('onesided', 1)], opset: 17 },
      { what: 'complex input, inverse', x: [2, 6, 2], attrs: [int('axis', 1), int('inverse', 1)], opset: 17 },
      { what: 'real input zero-padded by dft_length 8', x: [2, 5, 1], attrs: [int('axis', 1)], len: 8, opset: 17 },
      { what: 'complex input cut by dft_length 5, onesided off', x: [2, 8, 2], attrs: [int('axis', 1)], len: 5, opset: 17 },
    ];
    for (const c of cases) {
      it(`DFT ${c.what} (opset ${c.opset})`, async () => {
        const vals: TVal[] = [val('x', c.x, 1), ...(c.len ? [i64('len', [c.len], [])] : [])];
        await check(smallCase([nd('DFT', c.len ? ['x', 'len'] : ['x'], c.attrs)], vals, ['y'], { opset: c.opset }));
      });
    }
    it('DFT opset 20: axis as an input (complex, onesided off) and the default axis -2 (real, onesided)', async () => {
      await check(smallCase([nd('DFT', ['x', '', 'ax'])], [val('x', [2, 6, 3, 2], 1), i64('ax', [1], [])], ['y'], { opset: 20 }));
      await check(smallCase([nd('DFT', ['x'], [int('onesided', 1)])], [val('x', [2, 3, 8, 1], 1)], ['y'], { opset: 20 }));
    });
    it('a 5% wrong DFT gradient fails', async () => expectWrongGradientFails(smallCase([nd('DFT', ['x'], [int('axis', 1), int('onesided', 1)])], [val('x', [2, 8, 1], 1)], ['y'], { opset: 17 })));
  });

  describe('matmul and com.microsoft', () => {
    const eqs: [string, number[][]][] = [
      ['bhid,bhjd->bhij', [[2, 2, 3, 4], [2, 2, 5, 4]]],
      ['bhij,bhjd->bhid', [[2, 2, 3, 5], [2, 2, 5, 4]]],
      ['...ij,...jk->...ik', [[2, 3, 4], [2, 4, 5]]],
      ['ij,jk', [[3, 4], [4, 5]]],
      ['bij->bj', [[2, 3, 4]]],
      ['i,i->', [[5], [5]]],
    ];
    for (const [eq, shapes] of eqs) {
      it(`Einsum '${eq}'`, async () => {
        const vals = shapes.map((s, i) => val(`x${i}`, s, i + 1));
        await check(smallCase([nd('Einsum', vals.map((v) => v.name), [str('equation', eq)])], vals, ['y'], { opset: 13 }));
      });
    }
    it('Einsum with a diagonal is refused before anything runs, naming the node', () => {
      const kase = smallCase([nd('Einsum', ['x'], [str('equation', 'ii->i')])], [val('x', [3, 3], 1)], ['y'], { opset: 13 });
      expect(() => checkDifferentiable(kase.model, { loss: { kind: 'mean', output: 'y' }, inputs: ['x'] })).to.throw(UserError, /n_Einsum.*diagonal/);
    });
    it('com.microsoft Inverse: dB = -C^T dC C^T (batched)', async () => {
      // well-conditioned: I*3 + small noise
      const n = 4;
      const data = randn(2 * n * n, 3).map((v, k) => 0.3 * v + ((k % (n * n)) % (n + 1) === 0 ? 3 : 0));
      const base = smallCase([nd('Inverse', ['b'], [], ['y'], 'com.microsoft')], [{ name: 'b', dims: [2, n, n], data }], ['y']);
      const kase = { ...base, model: new Model({ ...base.model.proto, opset_import: [...base.model.proto.opset_import!, { domain: 'com.microsoft', version: 1 }] }) };
      await check(kase);
      await expectWrongGradientFails(kase);
    });
  });
});

import { expect } from 'chai';
import { Model } from '../../src/ir/model.js';
import { loadBackend } from '../../src/mirror/backend.js';
import { Mirror } from '../../src/mirror/mirror.js';
import type { Tensor } from '../../src/ops/types.js';
import { BOOL, buildNode as build, fails, FLOAT, flt as f, gradCheck, int as i, INT32, INT64, INT8, modelProblems as problems, requireGradients, runNode as run, str as s, tensorOf as proto, UINT8, vals, x1 } from '../helpers/op-harness.js';
import { modelBytes, node, tensorInfo } from '../helpers/proto-build.js';

describe('ops/unary: mirror kernels beyond the ONNX node tests', function () {
  before(async () => {
    await loadBackend('cpu');
  });

  it('Clip: attributes before opset 11, optional inputs after; min > max gives max; integer Clip', async () => {
    expect(vals((await run('Clip', [x1([-5, 0.2, 5])], [f('min', -1), f('max', 0.5)], { opset: 6 }))[0]!)).to.deep.equal([-1, 0.2, 0.5].map(Math.fround));
    expect(vals((await run('Clip', [x1([-3e38, 3e38])], [], { opset: 6 }))[0]!)).to.deep.equal([-3e38, 3e38].map(Math.fround));
    const hi = { name: 'hi', type: FLOAT, dims: [], data: [1], init: true };
    expect(vals((await run('Clip', [x1([-5, 0.5, 5]), { name: '', type: FLOAT, dims: [], data: [] }, hi]))[0]!)).to.deep.equal([-5, 0.5, 1]);
    const lo = { name: 'lo', type: FLOAT, dims: [], data: [2], init: true };
    expect(vals((await run('Clip', [x1([-5, 0.5, 5]), lo, hi]))[0]!)).to.deep.equal([1, 1, 1]);
    const li = { name: 'lo', type: INT32, dims: [], data: [-2], init: true };
    const hiI = { name: 'hi', type: INT32, dims: [], data: [3], init: true };
    expect(vals((await run('Clip', [x1([-7, 1, 9], INT32), li, hiI]))[0]!)).to.deep.equal([-2, 1, 3]);
  });

  it('Round rounds half to even; Sign keeps NaN; integer Relu/Abs/Neg/Sign', async () => {
    const r = vals((await run('Round', [x1([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999])]))[0]!);
    expect(r.map((v) => v + 0)).to.deep.equal([0, 2, 2, 0, -2, -2, 2]);
    const sg = vals((await run('Sign', [x1([NaN, -0.1, 0, 3])]))[0]!);
    expect(Number.isNaN(sg[0])).to.equal(true);
    expect(sg.slice(1)).to.deep.equal([-1, 0, 1]);
    const xi = x1([-7, 0, 5], INT32);
    expect(vals((await run('Relu', [xi]))[0]!)).to.deep.equal([0, 0, 5]);
    expect(vals((await run('Abs', [xi]))[0]!)).to.deep.equal([7, 0, 5]);
    expect(vals((await run('Neg', [xi]))[0]!)).to.deep.equal([7, 0, -5]);
    expect(vals((await run('Sign', [xi]))[0]!)).to.deep.equal([-1, 0, 1]);
  });

  it('Cast: float to int truncates toward zero, 8-bit targets wrap, to bool is x != 0 (NaN true), from bool', async () => {
    const x = x1([-2.7, 2.7, -0.5, 300.9]);
    expect(vals((await run('Cast', [x], [i('to', INT32)], { outType: INT32 }))[0]!)).to.deep.equal([-2, 2, 0, 300]);
    expect(vals((await run('Cast', [x], [i('to', UINT8)], { outType: UINT8 }))[0]!)).to.deep.equal([254, 2, 0, 44]);
    expect(vals((await run('Cast', [x1([NaN, 0, -0, 0.1])], [i('to', BOOL)], { outType: BOOL }))[0]!)).to.deep.equal([1, 0, 0, 1]);
    expect(vals((await run('Cast', [x1([1, 0, 1], BOOL)], [i('to', FLOAT)], { outType: FLOAT }))[0]!)).to.deep.equal([1, 0, 1]);
    expect(vals((await run('Cast', [x1([-129, 128], INT64)], [i('to', INT8)], { outType: INT8 }))[0]!)).to.deep.equal([127, -128]);
    // Cast-1: the target is a type name string
    expect(vals((await run('Cast', [x], [s('to', 'INT32')], { opset: 5, outType: INT32 }))[0]!)).to.deep.equal([-2, 2, 0, 300]);
    expect(problems(build('Cast', [x], [i('to', 11)], { outType: 11 }))[0]).to.match(/Cast to float64/);
    expect(problems(build('Cast', [x], [i('to', 10)], { outType: 10 }))[0]).to.match(/Cast to float16/);
  });

  it('CastLike: casts to the type of input 1 as Cast does (opset 15); every target the mirror holds', async () => {
    const x = x1([-2.7, 2.7, -0.5, 300.9]);
    const like = (type: number): { name: string; type: number; dims: number[]; data: number[]; init: boolean } => ({ name: 'like', type, dims: [1], data: [0], init: true });
    expect(vals((await run('CastLike', [x, like(INT32)], [], { opset: 15, outType: INT32 }))[0]!)).to.deep.equal([-2, 2, 0, 300]);
    expect(vals((await run('CastLike', [x, like(UINT8)], [], { opset: 15, outType: UINT8 }))[0]!)).to.deep.equal([254, 2, 0, 44]);
    expect(vals((await run('CastLike', [x1([NaN, 0, 0.1]), like(BOOL)], [], { opset: 15, outType: BOOL }))[0]!)).to.deep.equal([1, 0, 1]);
    expect(vals((await run('CastLike', [x1([3, -4], INT64), like(FLOAT)], [], { opset: 15, outType: FLOAT }))[0]!)).to.deep.equal([3, -4]);
    expect(problems(build('CastLike', [x, { name: 'like', type: 11, dims: [1], data: [0] }], [], { opset: 15, outType: 11 })).join()).to.match(/float64/);
    expect(problems(build('CastLike', [x, like(FLOAT)], [], { opset: 13 }))[0]).to.match(/opset 15/);
  });

  it('Dropout is the identity at inference; its mask is all true (bool from opset 10, float before)', async () => {
    const x = x1([1, -2, 3]);
    const [y, mask] = await run('Dropout', [x], [], { opset: 13, outputs: 2 });
    expect(vals(y!)).to.deep.equal([1, -2, 3]);
    expect(mask!.data).to.be.instanceOf(Uint8Array);
    expect(vals(mask!)).to.deep.equal([1, 1, 1]);
    const [, m7] = await run('Dropout', [x], [f('ratio', 0.3)], { opset: 7, outputs: 2 });
    expect(m7!.data).to.be.instanceOf(Float32Array);
    expect(vals(m7!)).to.deep.equal([1, 1, 1]);
    expect(vals((await run('Dropout', [x], [i('is_test', 1)], { opset: 6 }))[0]!)).to.deep.equal([1, -2, 3]);
  });

  it('Dropout in training mode is unsupported: is_test=0 before opset 7, a true or non-constant training_mode', () => {
    const x = x1([1]);
    expect(problems(build('Dropout', [x], [], { opset: 6 }))[0]).to.match(/is_test=0/);
    const ratio = { name: 'r', type: FLOAT, dims: [], data: [0.5], init: true };
    const on = { name: 't', type: BOOL, dims: [], data: [1], init: true };
    expect(problems(build('Dropout', [x, ratio, on], [], { opset: 13 }))[0]).to.match(/training_mode is true/);
    expect(problems(build('Dropout', [x, ratio, { ...on, init: false }], [], { opset: 13 }))[0]).to.match(/training_mode is not a constant/);
    expect(problems(build('Dropout', [x, ratio, { ...on, data: [0] }], [], { opset: 13 }))).to.deep.equal([]);
  });

  it('Gelu (opset 20): exact and tanh forms; earlier opsets and other approximations are unsupported', async () => {
    const xs = [-3, -1, -0.25, 0, 0.5, 2];
    const erf = (v: number): number => {
      // Abramowitz-Stegun 7.1.26 is too coarse here; a series/continued fraction is overkill: use a high-order series
      let sum = 0;
      let term = v;
      for (let n = 0; n < 60; n++) {
        sum += term / (2 * n + 1);
        term *= (-v * v) / (n + 1);
      }
      return (2 / Math.sqrt(Math.PI)) * sum;
    };
    const exact = vals((await run('Gelu', [x1(xs)], [], { opset: 20 }))[0]!);
    xs.forEach((v, k) => expect(exact[k]!).to.be.closeTo(0.5 * v * (1 + erf(v / Math.SQRT2)), 2e-6));
    const approx = vals((await run('Gelu', [x1(xs)], [s('approximate', 'tanh')], { opset: 20 }))[0]!);
    xs.forEach((v, k) => expect(approx[k]!).to.be.closeTo(0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))), 2e-6));
    expect(problems(build('Gelu', [x1(xs)], [], { opset: 19 }))[0]).to.match(/starts at opset 20/);
    expect(problems(build('Gelu', [x1(xs)], [s('approximate', 'sigmoid')], { opset: 20 }))[0]).to.match(/approximate='sigmoid'/);
  });

  it('IsInf honours detect_negative/detect_positive; Shrink; ThresholdedRelu (x > alpha, -inf gives 0)', async () => {
    const x = x1([-Infinity, Infinity, NaN, 1]);
    expect(vals((await run('IsInf', [x], [], { outType: BOOL }))[0]!)).to.deep.equal([1, 1, 0, 0]);
    expect(vals((await run('IsInf', [x], [i('detect_negative', 0)], { outType: BOOL }))[0]!)).to.deep.equal([0, 1, 0, 0]);
    expect(vals((await run('IsInf', [x], [i('detect_positive', 0)], { outType: BOOL }))[0]!)).to.deep.equal([1, 0, 0, 0]);
    expect(vals((await run('Shrink', [x1([-2, -0.5, 0, 1, 3])], [f('lambd', 0.75), f('bias', 0.5)]))[0]!)).to.deep.equal([-1.5, 0, 0, 0.5, 2.5]);
    expect(vals((await run('ThresholdedRelu', [x1([-Infinity, 0.5, 1, 1.5])]))[0]!)).to.deep.equal([0, 0, 0, 1.5]);
  });

  it('Identity of an initializer returns a copy: the parameter survives repeated forwards', async () => {
    const w = { name: 'w', type: FLOAT, dims: [2], data: [1.5, -2], init: true };
    const m = await Mirror.create(
      Model.fromBytes(
        modelBytes({
          nodes: [node('Identity', ['w'], ['wi'], 'id'), node('Add', ['x', 'wi'], ['y'], 'add')],
          inputs: [tensorInfo('x', FLOAT, [2])],
          outputs: [tensorInfo('y', FLOAT, [2])],
          initializers: [proto(w)],
        }),
      ),
      { backend: 'cpu' },
    );
    try {
      for (let k = 0; k < 3; k++) {
        const y = (await m.forward({ x: { dims: [2], data: Float32Array.from([1, 1]) } })).y!;
        expect(vals(y)).to.deep.equal([2.5, -1]);
      }
      expect(vals(m.getParameter('w'))).to.deep.equal([1.5, -2]);
    } finally {
      m.dispose();
    }
  });

  it('an unknown op attribute value names the node before anything runs', async () => {
    const msg = await fails(Mirror.create(build('Cast', [x1([1])], [i('to', 8)], { outType: 8 }), { backend: 'cpu' }));
    expect(msg).to.match(/unsupported op Cast at node 'n'.*Cast to string/);
  });

  it('gradients of the float activations match central differences', async function () {
    requireGradients(this, (await loadBackend('cpu')).tf);
    const xs = x1([-1.7, -0.6, 0.3, 0.9, 1.6]);
    const pos = x1([0.3, 0.7, 1.2, 2.5]);
    const unit = x1([-0.8, -0.3, 0.2, 0.6]);
    for (const op of ['Sigmoid', 'Tanh', 'Exp', 'Erf', 'Softplus', 'Softsign', 'Elu', 'Selu', 'Celu', 'Mish', 'HardSigmoid', 'HardSwish', 'LeakyRelu', 'Sin', 'Cos', 'Atan', 'Sinh', 'Cosh', 'Asinh', 'Identity', 'Neg', 'Abs', 'Relu']) {
      await gradCheck(op, [xs]);
    }
    for (const op of ['Log', 'Sqrt', 'Reciprocal', 'Tan']) await gradCheck(op, [pos]);
    for (const op of ['Asin', 'Acos', 'Atanh']) await gradCheck(op, [unit]);
    await gradCheck('Acosh', [x1([1.3, 2, 3.5])]);
    await gradCheck('Gelu', [xs], [], 20);
    await gradCheck('Gelu', [xs], [s('approximate', 'tanh')], 20);
    await gradCheck('ThresholdedRelu', [xs], [f('alpha', 0.5)]);
    await gradCheck('Shrink', [xs], [f('lambd', 0.5), f('bias', 0.2)]);
    await gradCheck('Clip', [xs, { name: 'lo', type: FLOAT, dims: [], data: [-1] }, { name: 'hi', type: FLOAT, dims: [], data: [1] }]);
    await gradCheck('Celu', [xs], [f('alpha', 2)]);
  });

  it('exp-based activations have finite gradients for large inputs (the branch not taken is clamped)', async function () {
    const { tf } = await loadBackend('cpu');
    requireGradients(this, tf);
    for (const op of ['Elu', 'Selu', 'Celu', 'Softplus', 'Mish']) {
      const m = await Mirror.create(build(op, [x1([100, -100])]), { backend: 'cpu' });
      try {
        const g = tf.tidy(() => Array.from(tf.grad((t: Tensor) => tf.sum(m.evaluate(new Map([['x', t]])).get('y0')!))(tf.tensor1d([100, -100])).dataSync()));
        expect(g.every(Number.isFinite), `${op}: ${g}`).to.equal(true);
      } finally {
        m.dispose();
      }
    }
  });
});

import { expect } from 'chai';
import { UnsupportedOpError } from '../../src/errors.js';
import { Model } from '../../src/ir/model.js';
import { loadBackend } from '../../src/mirror/backend.js';
import { Mirror } from '../../src/mirror/mirror.js';
import type { Tensor } from '../../src/ops/types.js';
import { BOOL, buildNode as build, FLOAT, gradCheck, int as i, INT32, INT64, INT8, modelProblems as problems, requireGradients, runNode as run, str as s, tensorOf as proto, UINT8, vals } from '../helpers/op-harness.js';
import { modelBytes, node, tensorInfo } from '../helpers/proto-build.js';

describe('ops/elementwise: mirror kernels beyond the ONNX node tests', function () {
  before(async () => {
    await loadBackend('cpu');
  });

  it('legacy broadcasting (opset < 7): broadcast=1 with axis aligns B at that axis', async () => {
    const a = { name: 'a', type: FLOAT, dims: [2, 3, 2], data: Array.from({ length: 12 }, (_, k) => k) };
    const b = { name: 'b', type: FLOAT, dims: [3], data: [100, 200, 300] };
    const [y] = await run('Add', [a, b], [i('broadcast', 1), i('axis', 1)], { opset: 6 });
    expect(y!.dims).to.deep.equal([2, 3, 2]);
    expect(vals(y!)).to.deep.equal([100, 101, 202, 203, 304, 305, 106, 107, 208, 209, 310, 311]);
    // without axis: trailing alignment, as numpy
    const b2 = { name: 'b', type: FLOAT, dims: [2], data: [10, 20] };
    const [y2] = await run('Mul', [a, b2], [i('broadcast', 1)], { opset: 6 });
    expect(vals(y2!).slice(0, 4)).to.deep.equal([0, 20, 20, 60]);
  });

  it('integer Div truncates toward zero; float Div is true division', async () => {
    const a = { name: 'a', type: INT32, dims: [4], data: [-7, 7, -7, 7] };
    const b = { name: 'b', type: INT32, dims: [4], data: [2, 2, -2, -2] };
    expect(vals((await run('Div', [a, b]))[0]!)).to.deep.equal([-3, 3, 3, -3]);
    const [yf] = await run('Div', [{ ...a, type: FLOAT }, { ...b, type: FLOAT }]);
    expect(vals(yf!)).to.deep.equal([-3.5, 3.5, 3.5, -3.5]);
  });

  it('Mod: fmod=0 takes the divisor sign, fmod=1 the dividend sign; fmod=0 on floats is unsupported', async () => {
    const a = { name: 'a', type: INT64, dims: [4], data: [-7, 7, -7, 7] };
    const b = { name: 'b', type: INT64, dims: [4], data: [3, 3, -3, -3] };
    expect(vals((await run('Mod', [a, b]))[0]!)).to.deep.equal([2, 1, -1, -2]);
    expect(vals((await run('Mod', [a, b], [i('fmod', 1)]))[0]!)).to.deep.equal([-1, 1, -1, 1]);
    const af = { name: 'a', type: FLOAT, dims: [4], data: [-7.5, 7.5, -7.5, 7.5] };
    const bf = { name: 'b', type: FLOAT, dims: [4], data: [2, 2, -2, -2] };
    expect(vals((await run('Mod', [af, bf], [i('fmod', 1)]))[0]!)).to.deep.equal([-1.5, 1.5, -1.5, 1.5]);
    expect(problems(build('Mod', [af, bf]))[0]).to.match(/fmod=0 on floating-point/);
  });

  it('8-bit results wrap as in C (uint8 Sub/Mul, int8 Add)', async () => {
    const u = (name: string, data: number[]) => ({ name, type: UINT8, dims: [data.length], data });
    expect(vals((await run('Sub', [u('a', [3, 200]), u('b', [5, 100])]))[0]!)).to.deep.equal([254, 100]);
    expect(vals((await run('Mul', [u('a', [16, 3]), u('b', [20, 5])]))[0]!)).to.deep.equal([64, 15]);
    const s8 = (name: string, data: number[]) => ({ name, type: INT8, dims: [data.length], data });
    expect(vals((await run('Add', [s8('a', [100, -100]), s8('b', [100, -100])]))[0]!)).to.deep.equal([-56, 56]);
  });

  it('Pow: an integer base with a float exponent truncates to the base type', async () => {
    const a = { name: 'a', type: INT32, dims: [3], data: [2, 3, -2] };
    const b = { name: 'b', type: FLOAT, dims: [3], data: [0.5, 1.5, 3] };
    expect(vals((await run('Pow', [a, b]))[0]!)).to.deep.equal([1, 5, -8]);
  });

  it('BitShift on uint8: left shifts wrap, long right shifts give 0', async () => {
    const x = { name: 'x', type: UINT8, dims: [3], data: [200, 1, 255] };
    const y = { name: 'y', type: UINT8, dims: [3], data: [1, 7, 9] };
    expect(vals((await run('BitShift', [x, y], [s('direction', 'LEFT')]))[0]!)).to.deep.equal([144, 128, 0]);
    expect(vals((await run('BitShift', [x, y], [s('direction', 'RIGHT')]))[0]!)).to.deep.equal([100, 0, 0]);
    expect(problems(build('BitShift', [x, y], [s('direction', 'UP')]))[0]).to.match(/direction 'UP'/);
  });

  it('variadic Max/Min/Sum/Mean broadcast their inputs', async () => {
    const a = { name: 'a', type: FLOAT, dims: [2, 1], data: [1, 5] };
    const b = { name: 'b', type: FLOAT, dims: [3], data: [0, 3, 6] };
    const c = { name: 'c', type: FLOAT, dims: [], data: [2] };
    const [mx] = await run('Max', [a, b, c]);
    expect(mx!.dims).to.deep.equal([2, 3]);
    expect(vals(mx!)).to.deep.equal([2, 3, 6, 5, 5, 6]);
    expect(vals((await run('Min', [a, b, c]))[0]!)).to.deep.equal([0, 1, 1, 0, 2, 2]);
    expect(vals((await run('Mean', [a, b, c]))[0]!)).to.deep.equal([1, 2, 3, 7 / 3, 10 / 3, 13 / 3].map((v) => Math.fround(v)));
    const ai = { name: 'a', type: INT32, dims: [2], data: [-4, 9] };
    expect(vals((await run('Max', [ai]))[0]!)).to.deep.equal([-4, 9]);
  });

  it('Where broadcasts the condition and both branches', async () => {
    const c = { name: 'c', type: BOOL, dims: [2, 1], data: [1, 0] };
    const x = { name: 'x', type: INT32, dims: [3], data: [1, 2, 3] };
    const y = { name: 'y', type: INT32, dims: [], data: [-1] };
    const [z] = await run('Where', [c, x, y], [], { outType: INT32 });
    expect(z!.dims).to.deep.equal([2, 3]);
    expect(vals(z!)).to.deep.equal([1, 2, 3, -1, -1, -1]);
  });

  it('PRelu: a [C,1,1] slope is per channel; a slope wider than X fails; opset 6 needs a single slope', async () => {
    const x = { name: 'x', type: FLOAT, dims: [1, 2, 1, 2], data: [-1, 2, -3, 4] };
    const slope = { name: 's', type: FLOAT, dims: [2, 1, 1], data: [0.5, 0.25], init: true };
    expect(vals((await run('PRelu', [x, slope]))[0]!)).to.deep.equal([-0.5, 2, -0.75, 4]);
    const wide = { name: 's', type: FLOAT, dims: [2, 2, 1, 2], data: [1, 1, 1, 1, 1, 1, 1, 1], init: true };
    let err: unknown;
    try {
      await run('PRelu', [x, wide]);
    } catch (e) {
      err = e;
    }
    expect(String(err)).to.match(/does not broadcast unidirectionally/);
    expect(problems(build('PRelu', [x, slope], [], { opset: 6 }))[0]).to.match(/before opset 7/);
    const one = { name: 's', type: FLOAT, dims: [1], data: [0.1], init: true };
    expect(problems(build('PRelu', [x, one], [], { opset: 6 }))).to.deep.equal([]);
  });

  it('an unsupported attribute is reported before anything runs', async () => {
    const a = { name: 'a', type: FLOAT, dims: [1], data: [1] };
    let err: unknown;
    try {
      await Mirror.create(build('Mod', [a, { ...a, name: 'b' }], [i('fmod', 2)]), { backend: 'cpu' });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(UnsupportedOpError);
    expect(String((err as Error).message)).to.match(/fmod=2/);
  });

  it('gradients of Mul, Div, Pow, Max, fmod Mod and PRelu match central differences (with broadcasting)', async function () {
    requireGradients(this, (await loadBackend('cpu')).tf);
    const a = { name: 'a', type: FLOAT, dims: [2, 3], data: [0.5, -1.2, 2, 1.5, -0.7, 0.9] };
    const b = { name: 'b', type: FLOAT, dims: [3], data: [1.3, -0.6, 0.8] };
    await gradCheck('Mul', [a, b]);
    await gradCheck('Div', [a, b]);
    await gradCheck('Max', [a, b]);
    await gradCheck('Pow', [{ ...a, data: a.data.map((v) => Math.abs(v) + 0.2) }, b]);
    await gradCheck('Mod', [{ ...a, data: [5.3, -4.1, 2.2, 7.7, -3.3, 1.1] }, b], [i('fmod', 1)]);
    await gradCheck('PRelu', [a, { name: 's', type: FLOAT, dims: [3], data: [0.1, 0.2, 0.3] }]);
  });

  it('comparisons and logical ops do not stop backprop: Where(And(Greater(x, 0), Less(x, 2)), x*x, -x)', async function () {
    const { tf } = await loadBackend('cpu');
    requireGradients(this, tf);
    const m = Model.fromBytes(
      modelBytes({
        nodes: [
          node('Greater', ['x', 'zero'], ['g'], 'g'),
          node('Less', ['x', 'two'], ['l'], 'l'),
          node('And', ['g', 'l'], ['c'], 'and'),
          node('Mul', ['x', 'x'], ['sq'], 'sq'),
          node('Neg', ['x'], ['nx'], 'neg'),
          node('Where', ['c', 'sq', 'nx'], ['y'], 'where'),
        ],
        inputs: [tensorInfo('x', FLOAT, [4])],
        outputs: [tensorInfo('y', FLOAT, [4])],
        initializers: [proto({ name: 'zero', type: FLOAT, dims: [], data: [0] }), proto({ name: 'two', type: FLOAT, dims: [], data: [2] })],
        opset: 17,
      }),
    );
    const mirror = await Mirror.create(m, { backend: 'cpu' });
    try {
      const g = tf.tidy(() => {
        const x = tf.tensor1d([-1, 0.5, 1.5, 3]);
        const f = (t: Tensor): Tensor => tf.sum(mirror.evaluate(new Map([['x', t]])).get('y')!);
        return Array.from(tf.grad(f)(x).dataSync());
      });
      expect(g).to.deep.equal([-1, 1, 3, -1]);
    } finally {
      mirror.dispose();
    }
  });
});

import { expect } from 'chai';
import { loadBackend } from '../../src/mirror/backend.js';
import type { AttributeProto } from '../../src/onnx/proto-types.js';
import { type Case, checkGradient, close, type Feed, FLOAT as F, flt, int, INT32 as I32, INT64 as I64, ints, op, problem, requireGradients, run, run1, seq } from '../helpers/op-harness.js';

describe('ops/constant (mirror kernels)', () => {
  before(async () => {
    await loadBackend('cpu');
  });

  const konst = (attr: AttributeProto): Case => ({ nodes: [op('Constant', [], [attr])] });

  it('Constant: tensor value, value_float(s), value_int(s)', async () => {
    const t = await run1(konst({ name: 'value', type: 4, t: { dims: [2], data_type: I64, int64_data: [5, -6] } }));
    expect(t).to.deep.equal({ dims: [2], data: [5, -6] });
    expect(await run1(konst(flt('value_float', 2.5)))).to.deep.equal({ dims: [], data: [2.5] });
    expect(await run1(konst({ name: 'value_floats', type: 6, floats: [1, 0.5] }))).to.deep.equal({ dims: [2], data: [1, 0.5] });
    expect(await run1(konst(int('value_int', -3)))).to.deep.equal({ dims: [], data: [-3] });
    expect(await run1(konst(ints('value_ints', [1, 2, 3])))).to.deep.equal({ dims: [3], data: [1, 2, 3] });
  });

  it('Constant: sparse and string values are unsupported, with a reason', () => {
    expect(problem(konst({ name: 'sparse_value', type: 11, sparse_tensor: {} }))).to.match(/sparse_value/);
    expect(problem(konst({ name: 'value_string', type: 3, s: new TextEncoder().encode('hi') }))).to.match(/value_string/);
    expect(problem(konst({ name: 'value', type: 4, t: { dims: [1], data_type: 8, string_data: [new Uint8Array([104])] } }))).to.match(/STRING|string/i);
  });

  it('ConstantOfShape: default float 0, int64 value, zero-size shape', async () => {
    const shape = (v: number[]): Feed => ({ name: 's', type: I64, dims: [v.length], data: v });
    expect(await run1({ nodes: [op('ConstantOfShape', ['s'])], inputs: [shape([2, 1])] })).to.deep.equal({ dims: [2, 1], data: [0, 0] });
    const v = { name: 'value', type: 4, t: { dims: [1], data_type: I64, int64_data: [7] } };
    const out = await run({ nodes: [op('ConstantOfShape', ['s'], [v])], inputs: [shape([3])] });
    expect(out.y!.data).to.be.instanceOf(Int32Array);
    expect(Array.from(out.y!.data)).to.deep.equal([7, 7, 7]);
    expect(await run1({ nodes: [op('ConstantOfShape', ['s'])], inputs: [shape([2, 0])] })).to.deep.equal({ dims: [2, 0], data: [] });
  });

  it('Range: float, int with a negative delta, empty', async () => {
    const r = (type: number, s: number, l: number, d: number): Case => ({
      nodes: [op('Range', ['s', 'l', 'd'])],
      inputs: [
        { name: 's', type, dims: [], data: [s] },
        { name: 'l', type, dims: [], data: [l] },
        { name: 'd', type, dims: [], data: [d] },
      ],
    });
    const f = await run1(r(F, 1, 2, 0.25));
    close(f.data, [1, 1.25, 1.5, 1.75]);
    expect(await run1(r(I64, 10, 4, -3))).to.deep.equal({ dims: [2], data: [10, 7] });
    expect(await run1(r(I32, 3, 3, 1))).to.deep.equal({ dims: [0], data: [] });
  });

  it('EyeLike: k off the diagonal, dtype attribute, non-square', async () => {
    const x = { name: 'x', type: F, dims: [2, 3], data: seq(6) };
    expect(await run1({ nodes: [op('EyeLike', ['x'], [int('k', 1)])], inputs: [x] })).to.deep.equal({ dims: [2, 3], data: [0, 1, 0, 0, 0, 1] });
    const out = await run({ nodes: [op('EyeLike', ['x'], [int('dtype', I64), int('k', -1)])], inputs: [x] });
    expect(out.y!.data).to.be.instanceOf(Int32Array);
    expect(Array.from(out.y!.data)).to.deep.equal([0, 0, 0, 1, 0, 0]);
    expect(problem({ nodes: [op('EyeLike', ['x'], [int('dtype', 8)])], inputs: [x] })).to.match(/dtype STRING/i);
  });

  it('Range is differentiable in start and delta', async function () {
    requireGradients(this);
    const c: Case = {
      nodes: [op('Range', ['s', 'l', 'd'])],
      inputs: [
        { name: 's', type: F, dims: [], data: [0.5] },
        { name: 'l', type: F, dims: [], data: [3] },
        { name: 'd', type: F, dims: [], data: [0.6] },
      ],
    };
    await checkGradient(c, 's', 1e-3);
    await checkGradient(c, 'd', 1e-3);
  });
});

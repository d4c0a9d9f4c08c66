import { expect } from 'chai';
import { loadBackend } from '../../src/mirror/backend.js';
import type { TensorProto } from '../../src/onnx/proto-types.js';
import { BOOL as B, type Case, checkGradient, type Feed, FLOAT as F, flt, int, INT64 as I64, ints, op, problem, requireGradients, run, run1, seq, str } from '../helpers/op-harness.js';

/** An int64 initializer from bigints (INT64_MAX/MIN sentinels included). */
function int64Init(name: string, values: bigint[]): TensorProto {
  const a = BigInt64Array.from(values);
  return { name, dims: [values.length], data_type: I64, raw_data: new Uint8Array(a.buffer) };
}
const MAX = 9223372036854775807n;
const MIN = -9223372036854775808n;

describe('ops/slice (mirror kernels)', () => {
  before(async () => {
    await loadBackend('cpu');
  });

  const x34 = { name: 'x', type: F, dims: [3, 4], data: seq(12) };
  const i64 = (name: string, v: number[]): Feed => ({ name, type: I64, dims: [v.length], data: v });

  it('Slice: attributes before opset 10, inputs from 10, same result', async () => {
    const a = await run1({ opset: 9, nodes: [op('Slice', ['x'], [ints('starts', [1, -3]), ints('ends', [3, 1000]), ints('axes', [0, 1])])], inputs: [x34] });
    const b = await run1({ nodes: [op('Slice', ['x', 's', 'e', 'a'])], inputs: [x34, i64('s', [1, -3]), i64('e', [3, 1000]), i64('a', [0, 1])] });
    expect(a).to.deep.equal({ dims: [2, 3], data: [5, 6, 7, 9, 10, 11] });
    expect(b).to.deep.equal(a);
  });

  it('Slice: negative steps with INT64_MAX/MIN ends (reversal), strided steps, int data', async () => {
    const rev = await run1({ nodes: [op('Slice', ['x', 's', 'e', 'a', 'st'])], inputs: [x34], inits: [int64Init('s', [MAX]), int64Init('e', [MIN]), int64Init('a', [1n]), int64Init('st', [-1n])] });
    expect(rev.data).to.deep.equal([3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8]);
    const tail = await run1({ nodes: [op('Slice', ['x', 's', 'e', 'a'])], inputs: [x34], inits: [int64Init('s', [1n]), int64Init('e', [MAX]), int64Init('a', [-2n])] });
    expect(tail.dims).to.deep.equal([2, 4]);
    const strided = await run1({ nodes: [op('Slice', ['x', 's', 'e', 'a', 'st'])], inputs: [{ ...x34, type: I64 }, i64('s', [-1]), i64('e', [-100]), i64('a', [1]), i64('st', [-2])] });
    expect(strided.data).to.deep.equal([3, 1, 7, 5, 11, 9]);
    const none = await run1({ nodes: [op('Slice', ['x', 's', 'e'])], inputs: [x34, i64('s', [2]), i64('e', [1])] });
    expect(none.dims).to.deep.equal([0, 4]);
  });

  it('Split: attribute before 13, input from 13, num_outputs at 18 (last chunk smaller), equal parts', async () => {
    const x = { name: 'x', type: F, dims: [5], data: seq(5) };
    const outs = ['a', 'b'];
    const a = await run({ opset: 11, nodes: [op('Split', ['x'], [ints('split', [2, 3])], outs)], inputs: [x], outputs: outs });
    expect(Array.from(a.a!.data)).to.deep.equal([0, 1]);
    expect(Array.from(a.b!.data)).to.deep.equal([2, 3, 4]);
    const b = await run({ nodes: [op('Split', ['x', 's'], [], outs)], inputs: [x, i64('s', [4, 1])], outputs: outs });
    expect(Array.from(b.b!.data)).to.deep.equal([4]);
    const three = ['a', 'b', 'c'];
    const c = await run({ opset: 18, nodes: [op('Split', ['x'], [int('num_outputs', 3)], three)], inputs: [x], outputs: three });
    expect([c.a!.dims, c.b!.dims, c.c!.dims]).to.deep.equal([[2], [2], [1]]);
    const d = await run({ nodes: [op('Split', ['x'], [int('axis', 1)], outs)], inputs: [{ name: 'x', type: I64, dims: [1, 4], data: [1, 2, 3, 4] }], outputs: outs });
    expect(Array.from(d.b!.data)).to.deep.equal([3, 4]);
  });

  it('Concat: int64 and bool, negative axis, empty inputs', async () => {
    const c = await run1({ nodes: [op('Concat', ['a', 'b', 'c'], [int('axis', -1)])], inputs: [i64('a', [1]), i64('b', []), i64('c', [2, 3])] });
    expect(c).to.deep.equal({ dims: [3], data: [1, 2, 3] });
    const b = await run1({ nodes: [op('Concat', ['a', 'b'], [int('axis', 0)])], inputs: [{ name: 'a', type: B, dims: [1], data: [1] }, { name: 'b', type: B, dims: [2], data: [0, 1] }] });
    expect(b.data).to.deep.equal([1, 0, 1]);
  });

  it('Gather (negative indices, scalar index), GatherElements, GatherND with batch_dims', async () => {
    expect(await run1({ nodes: [op('Gather', ['x', 'i'], [int('axis', 1)])], inputs: [x34, i64('i', [-1, 0])] })).to.deep.equal({ dims: [3, 2], data: [3, 0, 7, 4, 11, 8] });
    expect(await run1({ nodes: [op('Gather', ['x', 'i'])], inputs: [x34, { name: 'i', type: I64, dims: [], data: [-1] }] })).to.deep.equal({ dims: [4], data: [8, 9, 10, 11] });
    const ge = await run1({ nodes: [op('GatherElements', ['x', 'i'], [int('axis', 1)])], inputs: [x34, { name: 'i', type: I64, dims: [3, 1], data: [3, -4, 1] }] });
    expect(ge).to.deep.equal({ dims: [3, 1], data: [3, 4, 9] });
    const nd = await run1({
      opset: 13,
      nodes: [op('GatherND', ['x', 'i'], [int('batch_dims', 1)])],
      inputs: [{ name: 'x', type: I64, dims: [2, 2, 2], data: seq(8) }, { name: 'i', type: I64, dims: [2, 1, 2], data: [1, 0, -1, -1] }],
    });
    expect(nd).to.deep.equal({ dims: [2, 1], data: [2, 7] });
    let msg = '';
    try {
      await run1({ nodes: [op('GatherElements', ['x', 'i'], [int('axis', 1)])], inputs: [x34, { name: 'i', type: I64, dims: [3, 1], data: [0, 4, 0] }] });
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).to.match(/index 4 is out of range/);
  });

  it('ScatterElements and ScatterND: none, add, mul, max, min (repeated indices); other reductions are unsupported', async () => {
    const data = { name: 'd', type: F, dims: [2, 3], data: seq(6) };
    const se = await run1({
      opset: 16,
      nodes: [op('ScatterElements', ['d', 'i', 'u'], [int('axis', 1), str('reduction', 'add')])],
      inputs: [data, { name: 'i', type: I64, dims: [2, 2], data: [0, 0, -1, 1] }, { name: 'u', type: F, dims: [2, 2], data: [10, 20, 30, 40] }],
    });
    expect(se.data).to.deep.equal([30, 1, 2, 3, 44, 35]);
    const nd = await run1({
      nodes: [op('ScatterND', ['d', 'i', 'u'])],
      inputs: [data, { name: 'i', type: I64, dims: [1, 1], data: [1] }, { name: 'u', type: F, dims: [1, 3], data: [7, 8, 9] }],
    });
    expect(nd.data).to.deep.equal([0, 1, 2, 7, 8, 9]);
    const dup = (reduction: string): Case => ({
      opset: 18,
      nodes: [op('ScatterND', ['d', 'i', 'u'], [str('reduction', reduction)])],
      inputs: [data, { name: 'i', type: I64, dims: [3, 2], data: [0, 1, 1, 2, 0, 1] }, { name: 'u', type: F, dims: [3], data: [3, -2, 5] }],
    });
    expect((await run1(dup('mul'))).data).to.deep.equal([0, 15, 2, 3, 4, -10]);
    expect((await run1(dup('max'))).data).to.deep.equal([0, 5, 2, 3, 4, 5]);
    expect((await run1(dup('min'))).data).to.deep.equal([0, 1, 2, 3, 4, -2]);
    expect((await run1(dup('none'))).data).to.deep.equal([0, 5, 2, 3, 4, -2]);
    expect(problem(dup('avg'))).to.match(/reduction 'avg' is not one of/);
  });

  it('Pad: attributes before opset 11 (paddings at opset 1), inputs from 11, axes at 18, every mode', async () => {
    const x = { name: 'x', type: F, dims: [1, 3], data: [1, 2, 3] };
    const p2 = await run1({ opset: 2, nodes: [op('Pad', ['x'], [ints('pads', [0, 1, 0, 2]), flt('value', 9)])], inputs: [x] });
    expect(p2.data).to.deep.equal([9, 1, 2, 3, 9, 9]);
    const p1 = await run1({ opset: 1, nodes: [op('Pad', ['x'], [ints('paddings', [0, 1, 0, 0])])], inputs: [x] });
    expect(p1.data).to.deep.equal([0, 1, 2, 3]);
    const mode = async (m: string, pads: number[]): Promise<number[]> =>
      (await run1({ nodes: [op('Pad', ['x', 'p'], [str('mode', m)])], inputs: [x, i64('p', pads)] })).data;
    expect(await mode('reflect', [0, 2, 0, 2])).to.deep.equal([3, 2, 1, 2, 3, 2, 1]);
    expect(await mode('edge', [0, 2, 0, 1])).to.deep.equal([1, 1, 1, 2, 3, 3]);
    expect(await mode('wrap', [0, 2, 0, 1])).to.deep.equal([2, 3, 1, 2, 3, 1]);
    expect(await mode('constant', [0, -1, 0, 1])).to.deep.equal([2, 3, 0]);
    const ax = await run1({ opset: 18, nodes: [op('Pad', ['x', 'p', 'v', 'a'])], inputs: [x, i64('p', [1, 0]), { name: 'v', type: F, dims: [], data: [5] }, i64('a', [-1])] });
    expect(ax.data).to.deep.equal([5, 1, 2, 3]);
    const int = await run1({ nodes: [op('Pad', ['x', 'p', 'v'])], inputs: [{ ...x, type: I64 }, i64('p', [0, 1, 0, 0]), { name: 'v', type: I64, dims: [], data: [-7] }] });
    expect(int.data).to.deep.equal([-7, 1, 2, 3]);
  });

  it('Trilu (upper/lower with k) and OneHot (negative indices, axis)', async () => {
    const t = await run1({ nodes: [op('Trilu', ['x', 'k'], [int('upper', 0)])], inputs: [x34, { name: 'k', type: I64, dims: [], data: [1] }], opset: 14 });
    expect(t.data).to.deep.equal([0, 1, 0, 0, 4, 5, 6, 0, 8, 9, 10, 11]);
    const oh = await run1({
      opset: 11,
      nodes: [op('OneHot', ['i', 'd', 'v'], [int('axis', 0)])],
      inputs: [i64('i', [0, -1]), { name: 'd', type: I64, dims: [], data: [3] }, { name: 'v', type: F, dims: [2], data: [-1, 5] }],
    });
    expect(oh).to.deep.equal({ dims: [3, 2], data: [5, -1, -1, -1, -1, 5] });
  });

  it('gradients match finite differences (Slice with a negative step, Pad reflect/edge, Gather, GatherElements, ScatterElements, ScatterND mul, Split)', async function () {
    requireGradients(this);
    const x = { name: 'x', type: F, dims: [2, 4], data: [0.3, -1.2, 0.8, 1.5, 0.1, -0.7, 2.2, 0.4] };
    await checkGradient({ nodes: [op('Slice', ['x', 's', 'e', 'a', 'st'])], inputs: [x, i64('s', [-1]), i64('e', [0]), i64('a', [1]), i64('st', [-2])] }, 'x');
    await checkGradient({ nodes: [op('Pad', ['x', 'p'], [str('mode', 'reflect')])], inputs: [x, i64('p', [0, 2, 1, 3])] }, 'x');
    await checkGradient({ nodes: [op('Pad', ['x', 'p'], [str('mode', 'edge')])], inputs: [x, i64('p', [1, 1, 0, 2])] }, 'x');
    await checkGradient({ nodes: [op('Gather', ['x', 'i'], [int('axis', 1)])], inputs: [x, i64('i', [3, -1, 0])] }, 'x');
    await checkGradient({ nodes: [op('GatherElements', ['x', 'i'], [int('axis', 1)])], inputs: [x, { name: 'i', type: I64, dims: [2, 2], data: [1, 1, 3, 0] }] }, 'x');
    const u = { name: 'u', type: F, dims: [1, 2], data: [0.5, -0.25] };
    const scatter: Case = { opset: 16, nodes: [op('ScatterElements', ['x', 'i', 'u'], [int('axis', 1)])], inputs: [x, { name: 'i', type: I64, dims: [1, 2], data: [2, 0] }, u] };
    await checkGradient(scatter, 'x');
    await checkGradient(scatter, 'u');
    const mulDup: Case = { opset: 16, nodes: [op('ScatterND', ['x', 'i', 'u'], [str('reduction', 'mul')])], inputs: [x, { name: 'i', type: I64, dims: [2, 2], data: [1, 2, 1, 2] }, { ...u, dims: [2] }] };
    await checkGradient(mulDup, 'x');
    await checkGradient(mulDup, 'u');
    await checkGradient({ nodes: [op('Split', ['x', 's'], [int('axis', 1)], ['y', 'z'])], inputs: [x, i64('s', [1, 3])], outputs: ['y', 'z'] }, 'x');
  });
});

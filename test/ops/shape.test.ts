import { expect } from 'chai';
import { loadBackend } from '../../src/mirror/backend.js';
import { node } from '../helpers/proto-build.js';
import { BOOL as B, checkGradient, type Feed, FLOAT as F, int, INT32 as I32, INT64 as I64, ints, op, problem, requireGradients, run1, seq, str } from '../helpers/op-harness.js';

describe('ops/shape (mirror kernels)', () => {
  before(async () => {
    await loadBackend('cpu');
  });

  const x234 = { name: 'x', type: F, dims: [2, 3, 4], data: seq(24) };
  const i64 = (name: string, v: number[]): Feed => ({ name, type: I64, dims: [v.length], data: v });

  it('Reshape: shape attribute before opset 5, 0 copies a dim, -1 is inferred', async () => {
    const a = await run1({ opset: 1, nodes: [op('Reshape', ['x'], [ints('shape', [0, -1])])], inputs: [x234] });
    expect(a.dims).to.deep.equal([2, 12]);
    expect(a.data).to.deep.equal(seq(24));
    const b = await run1({ nodes: [op('Reshape', ['x', 's'])], inputs: [x234, i64('s', [-1, 0, 2])] });
    expect(b.dims).to.deep.equal([4, 3, 2]);
  });

  it('Reshape 14: allowzero=1 keeps a literal 0; a bad target names the node', async () => {
    const empty = { name: 'x', type: F, dims: [0, 3], data: [] };
    const z = await run1({ opset: 14, nodes: [op('Reshape', ['x', 's'], [int('allowzero', 1)])], inputs: [empty, i64('s', [3, 0])] });
    expect(z.dims).to.deep.equal([3, 0]);
    let msg = '';
    try {
      await run1({ nodes: [node('Reshape', ['x', 's'], ['y'], 'bad_reshape')], inputs: [x234, i64('s', [5, -1])] });
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).to.match(/bad_reshape.*cannot infer the -1/);
  });

  it('Flatten with negative axis and axis 0', async () => {
    expect((await run1({ nodes: [op('Flatten', ['x'], [int('axis', -1)])], inputs: [x234] })).dims).to.deep.equal([6, 4]);
    expect((await run1({ nodes: [op('Flatten', ['x'], [int('axis', 0)])], inputs: [x234] })).dims).to.deep.equal([1, 24]);
  });

  it('Transpose: default perm reverses; bool and int data', async () => {
    const t = await run1({ nodes: [op('Transpose', ['x'])], inputs: [{ name: 'x', type: B, dims: [2, 3], data: [1, 0, 0, 0, 1, 1] }] });
    expect(t).to.deep.equal({ dims: [3, 2], data: [1, 0, 0, 1, 0, 1] });
    const u = await run1({ nodes: [op('Transpose', ['x'], [ints('perm', [1, 0])])], inputs: [{ name: 'x', type: I64, dims: [2, 2], data: [1, 2, 3, 4] }] });
    expect(u.data).to.deep.equal([1, 3, 2, 4]);
  });

  it('Squeeze/Unsqueeze: axes attribute before 13, input from 13, negative axes', async () => {
    const x = { name: 'x', type: F, dims: [1, 3, 1], data: [1, 2, 3] };
    expect((await run1({ opset: 11, nodes: [op('Squeeze', ['x'], [ints('axes', [-1])])], inputs: [x] })).dims).to.deep.equal([1, 3]);
    expect((await run1({ nodes: [op('Squeeze', ['x', 'a'])], inputs: [x, i64('a', [0])] })).dims).to.deep.equal([3, 1]);
    expect((await run1({ nodes: [op('Squeeze', ['x'])], inputs: [x] })).dims).to.deep.equal([3]);
    expect((await run1({ opset: 11, nodes: [op('Unsqueeze', ['x'], [ints('axes', [0, -1])])], inputs: [x] })).dims).to.deep.equal([1, 1, 3, 1, 1]);
    expect((await run1({ nodes: [op('Unsqueeze', ['x', 'a'])], inputs: [x, i64('a', [-2, 1])] })).dims).to.deep.equal([1, 1, 3, 1, 1]);
    let msg = '';
    try {
      await run1({ nodes: [op('Squeeze', ['x', 'a'])], inputs: [x, i64('a', [1])] });
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).to.match(/cannot squeeze axis 1 of size 3/);
  });

  it('Shape: start/end from opset 15 only; Size', async () => {
    expect(await run1({ opset: 15, nodes: [op('Shape', ['x'], [int('start', -2)])], inputs: [x234] })).to.deep.equal({ dims: [2], data: [3, 4] });
    expect(await run1({ opset: 15, nodes: [op('Shape', ['x'], [int('start', 2), int('end', 1)])], inputs: [x234] })).to.deep.equal({ dims: [0], data: [] });
    expect(await run1({ opset: 13, nodes: [op('Shape', ['x'], [int('start', 1)])], inputs: [x234] })).to.deep.equal({ dims: [3], data: [2, 3, 4] });
    expect(await run1({ nodes: [op('Size', ['x'])], inputs: [x234] })).to.deep.equal({ dims: [], data: [24] });
  });

  it('a PyTorch-style int64 shape chain: Shape -> Gather -> Unsqueeze -> Concat -> Reshape', async () => {
    const r = await run1({
      nodes: [
        op('Shape', ['x'], [], ['s']),
        op('Gather', ['s', 'zero'], [int('axis', 0)], ['n']),
        op('Unsqueeze', ['n', 'ax0'], [], ['n1']),
        op('Concat', ['n1', 'minus1'], [int('axis', 0)], ['target']),
        op('Reshape', ['x', 'target']),
      ],
      inputs: [x234],
      inits: [
        { name: 'zero', dims: [], data_type: I64, int64_data: [0] },
        { name: 'ax0', dims: [1], data_type: I64, int64_data: [0] },
        { name: 'minus1', dims: [1], data_type: I64, int64_data: [-1] },
      ],
    });
    expect(r.dims).to.deep.equal([2, 12]);
  });

  it('Expand broadcasts both ways; Tile; int data', async () => {
    const e = await run1({ nodes: [op('Expand', ['x', 's'])], inputs: [{ name: 'x', type: F, dims: [3, 1], data: [1, 2, 3] }, i64('s', [2, 1, 2])] });
    expect(e).to.deep.equal({ dims: [2, 3, 2], data: [1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3] });
    const ei = await run1({ nodes: [op('Expand', ['x', 's'])], inputs: [{ name: 'x', type: I64, dims: [2], data: [7, 8] }, i64('s', [2, 1])] });
    expect(ei).to.deep.equal({ dims: [2, 2], data: [7, 8, 7, 8] });
    const t = await run1({ nodes: [op('Tile', ['x', 'r'])], inputs: [{ name: 'x', type: I32, dims: [1, 2], data: [4, 5] }, i64('r', [2, 2])] });
    expect(t).to.deep.equal({ dims: [2, 4], data: [4, 5, 4, 5, 4, 5, 4, 5] });
  });

  it('DepthToSpace DCR vs CRD, SpaceToDepth inverts DCR; an unknown mode is unsupported', async () => {
    const x = { name: 'x', type: F, dims: [1, 8, 1, 1], data: seq(8) };
    const dcr = await run1({ nodes: [op('DepthToSpace', ['x'], [int('blocksize', 2)])], inputs: [x] });
    expect(dcr).to.deep.equal({ dims: [1, 2, 2, 2], data: [0, 2, 4, 6, 1, 3, 5, 7] });
    const crd = await run1({ nodes: [op('DepthToSpace', ['x'], [int('blocksize', 2), str('mode', 'CRD')])], inputs: [x] });
    expect(crd.data).to.deep.equal(seq(8));
    const back = await run1({
      nodes: [op('DepthToSpace', ['x'], [int('blocksize', 2)], ['d']), op('SpaceToDepth', ['d'], [int('blocksize', 2)])],
      inputs: [{ name: 'x', type: F, dims: [1, 8, 2, 3], data: seq(48) }],
    });
    expect(back.data).to.deep.equal(seq(48));
    expect(problem({ nodes: [op('DepthToSpace', ['x'], [int('blocksize', 2), str('mode', 'XYZ')])], inputs: [x] })).to.match(/mode 'XYZ'/);
  });

  it('gradients match finite differences (Expand, Tile, Transpose, DepthToSpace)', async function () {
    requireGradients(this);
    const x = { name: 'x', type: F, dims: [2, 1, 2], data: [0.3, -1.2, 0.8, 1.5] };
    await checkGradient({ nodes: [op('Expand', ['x', 's'])], inputs: [x, i64('s', [2, 3, 1])] }, 'x');
    await checkGradient({ nodes: [op('Tile', ['x', 'r'])], inputs: [x, i64('r', [1, 3, 2])] }, 'x');
    await checkGradient({ nodes: [op('Transpose', ['x'], [ints('perm', [2, 0, 1])])], inputs: [x] }, 'x');
    await checkGradient({ nodes: [op('DepthToSpace', ['x'], [int('blocksize', 2), str('mode', 'CRD')])], inputs: [{ name: 'x', type: F, dims: [1, 4, 1, 2], data: seq(8, (i) => Math.cos(i)) }] }, 'x');
  });
});

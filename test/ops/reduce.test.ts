import { expect } from 'chai';
import { loadBackend } from '../../src/mirror/backend.js';
import { checkGradient, close, type Feed, fails, FLOAT as F, int, INT32 as I32, INT64 as I64, ints, op, problem, requireGradients, run, run1, vals } from '../helpers/op-harness.js';

describe('ops/reduce (mirror kernels)', () => {
  before(async () => {
    await loadBackend('cpu');
  });

  const x23 = { name: 'x', type: F, dims: [2, 3], data: [1, -2, 3, 4, 5, -6] };

  it('ReduceSum: axes attribute before opset 13, axes input from 13, same result', async () => {
    const a = await run1({ opset: 11, nodes: [op('ReduceSum', ['x'], [ints('axes', [1]), int('keepdims', 0)])], inputs: [x23] });
    const b = await run1({
      opset: 13,
      nodes: [op('ReduceSum', ['x', 'axes'], [int('keepdims', 0)])],
      inputs: [x23, { name: 'axes', type: I64, dims: [1], data: [-1] }],
    });
    expect(a).to.deep.equal({ dims: [2], data: [2, 3] });
    expect(b).to.deep.equal(a);
  });

  it('ReduceSum 13: empty axes reduce everything, unless noop_with_empty_axes', async () => {
    const all = await run1({ nodes: [op('ReduceSum', ['x'])], inputs: [x23] });
    expect(all).to.deep.equal({ dims: [1, 1], data: [5] });
    const noop = await run1({ nodes: [op('ReduceSum', ['x', 'axes'], [int('noop_with_empty_axes', 1)])], inputs: [x23, { name: 'axes', type: I64, dims: [0], data: [] }] });
    expect(noop).to.deep.equal({ dims: [2, 3], data: x23.data });
  });

  it('opset 18: axes are an input for the other reductions; noop keeps the elementwise part', async () => {
    const axes = { name: 'axes', type: I64, dims: [1], data: [0] };
    const mean = await run1({ opset: 18, nodes: [op('ReduceMean', ['x', 'axes'])], inputs: [x23, axes] });
    expect(mean).to.deep.equal({ dims: [1, 3], data: [2.5, 1.5, -1.5] });
    // the attribute form at opset 13 gives the same
    const mean13 = await run1({ opset: 13, nodes: [op('ReduceMean', ['x'], [ints('axes', [0])])], inputs: [x23] });
    expect(mean13).to.deep.equal(mean);
    const none = { name: 'axes', type: I64, dims: [0], data: [] };
    const sq = await run1({ opset: 18, nodes: [op('ReduceSumSquare', ['x', 'axes'], [int('noop_with_empty_axes', 1)])], inputs: [x23, none] });
    expect(sq.data).to.deep.equal([1, 4, 9, 16, 25, 36]);
    const l1 = await run1({ opset: 18, nodes: [op('ReduceL1', ['x', 'axes'], [int('noop_with_empty_axes', 1)])], inputs: [x23, none] });
    expect(l1.data).to.deep.equal([1, 2, 3, 4, 5, 6]);
  });

  it('integer reductions stay exact int32 (ReduceSum, ReduceMax, ReduceMin, ReduceProd on int64)', async () => {
    const xi = { name: 'x', type: I64, dims: [2, 3], data: [7, -2, 3, 4, 100000, -6] };
    const sum = await run1({ nodes: [op('ReduceSum', ['x', 'axes'], [int('keepdims', 0)])], inputs: [xi, { name: 'axes', type: I64, dims: [1], data: [1] }] });
    expect(sum.data).to.deep.equal([8, 99998]);
    expect((await run1({ nodes: [op('ReduceMax', ['x'], [ints('axes', [0]), int('keepdims', 0)])], inputs: [xi] })).data).to.deep.equal([7, 100000, 3]);
    expect((await run1({ nodes: [op('ReduceMin', ['x'], [ints('axes', [0]), int('keepdims', 0)])], inputs: [xi] })).data).to.deep.equal([4, -2, -6]);
    expect((await run1({ nodes: [op('ReduceProd', ['x'], [ints('axes', [1]), int('keepdims', 0)])], inputs: [xi] })).data).to.deep.equal([-42, -2400000]);
  });

  it('ReduceLogSumExp is stable for large values; ReduceLogSum and ReduceL2', async () => {
    const big = { name: 'x', type: F, dims: [1, 3], data: [1000, 1000, 999] };
    const lse = await run1({ nodes: [op('ReduceLogSumExp', ['x'], [ints('axes', [1])])], inputs: [big] });
    close(lse.data, [1000 + Math.log(2 + Math.exp(-1))]);
    const pos = { name: 'x', type: F, dims: [2, 2], data: [1, 2, 3, 4] };
    close((await run1({ nodes: [op('ReduceLogSum', ['x'], [ints('axes', [1]), int('keepdims', 0)])], inputs: [pos] })).data, [Math.log(3), Math.log(7)]);
    close((await run1({ nodes: [op('ReduceL2', ['x'], [ints('axes', [0]), int('keepdims', 0)])], inputs: [pos] })).data, [Math.sqrt(10), Math.sqrt(20)]);
  });

  it('reductions over an empty set give the identity of the reduction', async () => {
    const empty = { name: 'x', type: F, dims: [2, 0], data: [] };
    expect(await run1({ nodes: [op('ReduceSum', ['x', 'axes'])], inputs: [empty, { name: 'axes', type: I64, dims: [1], data: [1] }] })).to.deep.equal({ dims: [2, 1], data: [0, 0] });
    expect((await run1({ nodes: [op('ReduceMax', ['x'], [ints('axes', [1]), int('keepdims', 0)])], inputs: [empty] })).data).to.deep.equal([-Infinity, -Infinity]);
    expect((await run1({ nodes: [op('ReduceProd', ['x'], [ints('axes', [1]), int('keepdims', 0)])], inputs: [empty] })).data).to.deep.equal([1, 1]);
  });

  it('ArgMax/ArgMin: first index of ties, last with select_last_index; int data', async () => {
    const t = { name: 'x', type: F, dims: [2, 4], data: [1, 3, 3, 0, 2, 2, -1, -1] };
    expect((await run1({ nodes: [op('ArgMax', ['x'], [int('axis', 1), int('keepdims', 0)])], inputs: [t] })).data).to.deep.equal([1, 0]);
    expect(await run1({ nodes: [op('ArgMax', ['x'], [int('axis', 1), int('select_last_index', 1)])], inputs: [t] })).to.deep.equal({ dims: [2, 1], data: [2, 1] });
    expect((await run1({ nodes: [op('ArgMin', ['x'], [int('axis', -1), int('keepdims', 0)])], inputs: [t] })).data).to.deep.equal([3, 2]);
    expect((await run1({ nodes: [op('ArgMin', ['x'], [int('axis', 1), int('keepdims', 0), int('select_last_index', 1)])], inputs: [t] })).data).to.deep.equal([3, 3]);
    const ti = { name: 'x', type: I64, dims: [3], data: [5, 9, 9] };
    expect(await run1({ nodes: [op('ArgMax', ['x'], [int('keepdims', 0)])], inputs: [ti] })).to.deep.equal({ dims: [], data: [1] });
  });

  it('CumSum: exclusive and reverse, float and int', async () => {
    const v = { name: 'x', type: F, dims: [2, 3], data: [1, 2, 3, 4, 5, 6] };
    const ax = (a: number): Feed => ({ name: 'axis', type: I32, dims: [], data: [a] });
    expect((await run1({ nodes: [op('CumSum', ['x', 'axis'])], inputs: [v, ax(1)] })).data).to.deep.equal([1, 3, 6, 4, 9, 15]);
    expect((await run1({ nodes: [op('CumSum', ['x', 'axis'], [int('exclusive', 1)])], inputs: [v, ax(-1)] })).data).to.deep.equal([0, 1, 3, 0, 4, 9]);
    expect((await run1({ nodes: [op('CumSum', ['x', 'axis'], [int('reverse', 1)])], inputs: [v, ax(0)] })).data).to.deep.equal([5, 7, 9, 4, 5, 6]);
    const vi = { name: 'x', type: I64, dims: [4], data: [1, 2, 3, 4] };
    expect((await run1({ nodes: [op('CumSum', ['x', 'axis'], [int('exclusive', 1), int('reverse', 1)])], inputs: [vi, ax(0)] })).data).to.deep.equal([9, 7, 4, 0]);
  });

  it('ReduceMean on int data is refused by the types list', async () => {
    const { mirrorKernel } = await import('../../src/ops/registry.js');
    expect(mirrorKernel('ReduceMean')!.types).to.deep.equal([F]);
    expect(mirrorKernel('ReduceSum')!.types).to.include(I64);
  });

  it('gradients match finite differences (ReduceLogSumExp, ReduceL2, ReduceMax, ReduceProd, CumSum)', async function () {
    requireGradients(this);
    const x = { name: 'x', type: F, dims: [2, 3], data: [0.3, -1.2, 0.8, 1.5, 0.1, -0.7] };
    await checkGradient({ nodes: [op('ReduceLogSumExp', ['x'], [ints('axes', [1])])], inputs: [x] }, 'x');
    await checkGradient({ nodes: [op('ReduceL2', ['x'], [ints('axes', [0])])], inputs: [x] }, 'x');
    await checkGradient({ nodes: [op('ReduceMax', ['x'], [ints('axes', [1])])], inputs: [x] }, 'x');
    await checkGradient({ nodes: [op('ReduceProd', ['x'], [ints('axes', [1])])], inputs: [x] }, 'x');
    await checkGradient({ nodes: [op('CumSum', ['x', 'axis'], [int('reverse', 1), int('exclusive', 1)])], inputs: [x, { name: 'axis', type: I64, dims: [], data: [1] }] }, 'x');
  });

  describe('TopK', () => {
    const kIn = (k: number): Feed => ({ name: 'k', type: I64, dims: [1], data: [k] });
    const topk = async (x: Feed, k: number, attrs: ReturnType<typeof int>[] = [], opset = 11): Promise<{ v: number[]; i: number[]; dims: number[] }> => {
      const ins = opset < 10 ? ['x'] : ['x', 'k'];
      const all = opset < 10 ? [...attrs, int('k', k)] : attrs;
      const out = await run({ opset, nodes: [op('TopK', ins, all, ['v', 'i'])], inputs: opset < 10 ? [x] : [x, kIn(k)], outputs: ['v', 'i'] });
      return { v: vals(out.v!), i: vals(out.i!), dims: out.v!.dims };
    };

    it('ties put the lower index first, largest and smallest, along any axis', async () => {
      const x = { name: 'x', type: F, dims: [2, 5], data: [3, 1, 3, 2, 3, 0, 0, -1, 0, 5] };
      expect(await topk(x, 3)).to.deep.equal({ v: [3, 3, 3, 5, 0, 0], i: [0, 2, 4, 4, 0, 1], dims: [2, 3] });
      expect(await topk(x, 2, [int('largest', 0)])).to.deep.equal({ v: [1, 2, -1, 0], i: [1, 3, 2, 0], dims: [2, 2] });
      expect(await topk(x, 1, [int('axis', 0)])).to.deep.equal({ v: [3, 1, 3, 2, 5], i: [0, 0, 0, 0, 1], dims: [1, 5] });
      expect(await topk(x, 2, [int('axis', -2), int('largest', 0)])).to.deep.equal({ v: [0, 0, -1, 0, 3, 3, 1, 3, 2, 5], i: [1, 1, 1, 1, 0, 0, 0, 0, 0, 1], dims: [2, 5] });
    });

    it('opset 1 takes k as an attribute; int data; k = 0; k too large and NaN are refused', async () => {
      const x = { name: 'x', type: F, dims: [4], data: [0.5, 2, -1, 2] };
      expect(await topk(x, 2, [], 1)).to.deep.equal({ v: [2, 2], i: [1, 3], dims: [2] });
      const xi = { name: 'x', type: I32, dims: [4], data: [7, -3, 7, 9] };
      expect(await topk(xi, 3, [int('largest', 0)])).to.deep.equal({ v: [-3, 7, 7], i: [1, 0, 2], dims: [3] });
      expect((await topk(x, 0)).dims).to.deep.equal([0]);
      expect(await fails(topk(x, 5))).to.match(/k = 5 outside \[0, 4\]/);
      expect(await fails(topk({ ...x, data: [0, NaN, 1, 2] }, 2))).to.match(/NaN/);
      expect(problem({ opset: 1, nodes: [op('TopK', ['x'], [], ['v', 'i'])], inputs: [x], outputs: ['v', 'i'] })).to.match(/without a 'k'/);
    });

    it('values are differentiable in x', async function () {
      requireGradients(this);
      const x = { name: 'x', type: F, dims: [2, 4], data: [0.3, -1.2, 0.8, 1.5, 0.1, -0.7, 2.2, 0.9] };
      await checkGradient({ nodes: [op('TopK', ['x', 'k'], [int('axis', 1)], ['v', 'i'])], inputs: [x, kIn(2)], outputs: ['v', 'i'] }, 'x');
      await checkGradient({ nodes: [op('TopK', ['x', 'k'], [int('axis', 0), int('largest', 0)], ['v', 'i'])], inputs: [x, kIn(1)], outputs: ['v', 'i'] }, 'x');
    });
  });
});

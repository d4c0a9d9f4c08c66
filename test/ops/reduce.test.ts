import { expect } from 'chai';
import type { HostTensor } from '../../src/differentiable/model.js';
import { Model } from '../../src/ir/model.js';
import { currentBackend, loadBackend } from '../../src/mirror/backend.js';
import { Mirror } from '../../src/mirror/mirror.js';
import type { AttributeProto, NodeProto, TensorProto } from '../../src/onnx/proto-types.js';
import { modelBytes, node, tensorInfo, type ModelSpec } from '../helpers/proto-build.js';
// ---- tiny harness: one-graph models run through the mirror (cpu backend) ----
type Feed = { name: string; type: number; dims: number[]; data: number[] };
interface Case {
  nodes: NodeProto[];
  inputs?: Feed[];
  outputs?: string[];
  opset?: number;
  inits?: TensorProto[];
  extraOpsets?: { domain: string; version: number }[];
}

function buildModel(c: Case): Model {
  const inputs = (c.inputs ?? []).map((f) => tensorInfo(f.name, f.type, f.dims));
  const outputs = (c.outputs ?? ['y']).map((n) => ({ name: n }));
  const spec: ModelSpec = { nodes: c.nodes, inputs, outputs, initializers: c.inits ?? [], opset: c.opset ?? 13 };
  if (c.extraOpsets) spec.extraOpsets = c.extraOpsets;
  return Model.fromBytes(modelBytes(spec));
}

function hostOf(f: Feed): HostTensor {
  if (f.type === 1) return { dims: f.dims, data: Float32Array.from(f.data) };
  if (f.type === 9) return { dims: f.dims, data: Uint8Array.from(f.data) };
  return { dims: f.dims, data: Int32Array.from(f.data) };
}

function feedsOf(c: Case): Record<string, HostTensor> {
  return Object.fromEntries((c.inputs ?? []).map((f) => [f.name, hostOf(f)]));
}

async function run(c: Case): Promise<Record<string, HostTensor>> {
  const m = await Mirror.create(buildModel(c), { backend: 'cpu' });
  try {
    return await m.forward(feedsOf(c));
  } finally {
    m.dispose();
  }
}

/** The one output y as dims and plain numbers. */
async function run1(c: Case): Promise<{ dims: number[]; data: number[] }> {
  const out = await run(c);
  const y = out[(c.outputs ?? ['y'])[0]!]!;
  return { dims: y.dims, data: Array.from(y.data as ArrayLike<number>) };
}

/**
 * Gradient of sum(w * y) with respect to float input `wrt` from the mirror, against central
 * finite differences of the mirror's own forward pass (float32, so eps is large).
 */
async function checkGradient(c: Case, wrt: string, eps = 1e-2, tol = 2e-2): Promise<void> {
  const m = await Mirror.create(buildModel(c), { backend: 'cpu' });
  try {
    const feeds = feedsOf(c);
    const y0 = (await m.forward(feeds))[m.outputNames[0]!]!;
    const w = Float32Array.from({ length: y0.data.length }, (_, i) => Math.sin(1.7 * i + 0.3));
    const cot = { [m.outputNames[0]!]: { dims: y0.dims, data: w } };
    const g = await m.gradients(feeds, cot, { inputs: [wrt] });
    const grad = g.inputGrads[wrt]!.data as Float32Array;
    const x = feeds[wrt]!.data as Float32Array;
    const loss = async (xs: Float32Array): Promise<number> => {
      const y = (await m.forward({ ...feeds, [wrt]: { dims: feeds[wrt]!.dims, data: xs } }))[m.outputNames[0]!]!;
      let s = 0;
      for (let i = 0; i < w.length; i++) s += w[i]! * Number(y.data[i]);
      return s;
    };
    let scale = 0;
    for (const v of grad) scale = Math.max(scale, Math.abs(v));
    for (let i = 0; i < x.length; i++) {
      const p = Float32Array.from(x);
      const q = Float32Array.from(x);
      p[i]! += eps;
      q[i]! -= eps;
      const fd = ((await loss(p)) - (await loss(q))) / (2 * eps);
      expect(Math.abs(grad[i]! - fd), `d/d${wrt}[${i}]: mirror ${grad[i]}, finite differences ${fd}`).to.be.at.most(tol * Math.max(1, scale));
    }
  } finally {
    m.dispose();
  }
}

/**
 * Gradient checks need tfjs' gradient registry (the @tensorflow/tfjs package registers it;
 * tfjs-core alone does not): without it they skip with this message instead of failing in tfjs.
 */
function requireGradients(ctx: Mocha.Context): void {
  const { tf } = currentBackend()!;
  try {
    tf.tidy(() => tf.grad((x) => tf.sum(tf.mul(x, x)))(tf.scalar(1)));
  } catch {
    console.log('      (skipped: tfjs gradients are not registered in this process)');
    ctx.skip();
  }
}

const F = 1;
const I64 = 7;
const I32 = 6;
const ints = (name: string, v: number[]): AttributeProto => ({ name, ints: v, type: 7 });
const int = (name: string, v: number): AttributeProto => ({ name, i: v, type: 2 });
const op = (type: string, ins: string[], attrs: AttributeProto[] = [], outs = ['y']): NodeProto => node(type, ins, outs, undefined, { attribute: attrs });
const close = (got: number[], want: number[], tol = 1e-5): void => {
  expect(got.length, 'length').to.equal(want.length);
  got.forEach((g, i) => expect(Math.abs(g - want[i]!), `element ${i}: ${g} vs ${want[i]}`).to.be.at.most(tol * Math.max(1, Math.abs(want[i]!))));
};
// ---- end of harness ----

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
});

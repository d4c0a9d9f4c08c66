import { expect } from 'chai';
import type { HostTensor } from '../../src/differentiable/model.js';
import { Model } from '../../src/ir/model.js';
import { currentBackend, loadBackend } from '../../src/mirror/backend.js';
import { Mirror } from '../../src/mirror/mirror.js';
import { supportProblems } from '../../src/mirror/support.js';
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

/** Why the mirror refuses the single-node model, or undefined. */
function problem(c: Case): string | undefined {
  return supportProblems(buildModel(c))[0]?.reason;
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
const flt = (name: string, v: number): AttributeProto => ({ name, f: v, type: 1 });
const op = (type: string, ins: string[], attrs: AttributeProto[] = [], outs = ['y']): NodeProto => node(type, ins, outs, undefined, { attribute: attrs });
const seq = (n: number, f = (i: number) => i): number[] => Array.from({ length: n }, (_, i) => f(i));
const close = (got: number[], want: number[], tol = 1e-5): void => {
  expect(got.length, 'length').to.equal(want.length);
  got.forEach((g, i) => expect(Math.abs(g - want[i]!), `element ${i}: ${g} vs ${want[i]}`).to.be.at.most(tol * Math.max(1, Math.abs(want[i]!))));
};
// ---- end of harness ----

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

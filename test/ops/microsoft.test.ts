import { expect } from 'chai';
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { HostTensor } from '../../src/differentiable/model.js';
import { Model } from '../../src/ir/model.js';
import { currentBackend, loadBackend } from '../../src/mirror/backend.js';
import { Mirror } from '../../src/mirror/mirror.js';
import { supportProblems } from '../../src/mirror/support.js';
import type { AttributeProto, NodeProto, TensorProto } from '../../src/onnx/proto-types.js';
import { invertBatch } from '../../src/ops/microsoft.js';
import { spliceRobustBlock } from '../../src/surgery/splice.js';
import { modelBytes, node, tensorInfo, type ModelSpec } from '../helpers/proto-build.js';
import { FIXTURE_MODELS, requireOrSkip } from '../helpers/test-data.js';
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
const op = (type: string, ins: string[], attrs: AttributeProto[] = [], outs = ['y']): NodeProto => node(type, ins, outs, undefined, { attribute: attrs });
const seq = (n: number, f = (i: number) => i): number[] => Array.from({ length: n }, (_, i) => f(i));
// ---- end of harness ----

const MS = [{ domain: 'com.microsoft', version: 1 }];
const inv = (): NodeProto => ({ ...op('Inverse', ['x']), domain: 'com.microsoft' });

/** A well-conditioned random-ish batch of n x n matrices (diagonally dominant). */
function batch(count: number, n: number, seed = 1): number[] {
  const out: number[] = [];
  for (let b = 0; b < count; b++) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out.push(Math.sin(seed + 3.1 * b + 1.7 * i + 0.9 * j) + (i === j ? n : 0));
  return out;
}

/** max |A_k Y_k - I| over a batch. */
function identityError(a: number[], y: number[], n: number): number {
  let err = 0;
  for (let b = 0; b < a.length / (n * n); b++) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += a[b * n * n + i * n + k]! * y[b * n * n + k * n + j]!;
        err = Math.max(err, Math.abs(s - (i === j ? 1 : 0)));
      }
    }
  }
  return err;
}

describe('ops/microsoft (mirror kernels)', () => {
  before(async () => {
    await loadBackend('cpu');
  });

  it('invertBatch: Gauss-Jordan with partial pivoting (a zero leading entry needs a row swap)', () => {
    const a = [0, 2, 1, 3, 1, 0, 1, 1, 1];
    const y = invertBatch(a, 3) as Float64Array;
    expect(identityError(a, Array.from(y), 3)).to.be.below(1e-14);
    expect(invertBatch([1, 2, 2, 4], 2)).to.equal(0);
    expect(invertBatch([1, 0, 0, 1, 1, 2, 2, 4], 2)).to.equal(1);
  });

  it('com.microsoft::Inverse: A Y = I over a [2,3,4,4] batch', async () => {
    const a = batch(6, 4);
    const y = await run1({ nodes: [inv()], inputs: [{ name: 'x', type: F, dims: [2, 3, 4, 4], data: a }], extraOpsets: MS });
    expect(y.dims).to.deep.equal([2, 3, 4, 4]);
    expect(identityError(a, y.data, 4)).to.be.below(1e-5);
  });

  it('a singular matrix is an error naming the node and the matrix', async () => {
    let msg = '';
    try {
      await run1({ nodes: [{ ...inv(), name: 'the_inverse' }], inputs: [{ name: 'x', type: F, dims: [2, 2, 2], data: [1, 0, 0, 1, 1, 2, 2, 4] }], extraOpsets: MS });
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).to.match(/the_inverse.*matrix 1 of the batch \[2\] is singular/);
    expect(problem({ nodes: [inv()], inputs: [{ name: 'x', type: F, dims: [2, 3], data: seq(6) }], extraOpsets: MS })).to.equal(undefined);
  });

  it('the gradient -Y^T G Y^T matches finite differences', async function () {
    requireGradients(this);
    await checkGradient({ nodes: [inv()], inputs: [{ name: 'x', type: F, dims: [2, 3, 3], data: batch(2, 3, 5) }], extraOpsets: MS }, 'x', 1e-2, 1e-2);
  });

  it('a RobustBlock spliced with --inverse com.microsoft runs in the mirror as in ONNX Runtime', async function () {
    const file = path.join(FIXTURE_MODELS, 'linearity_iqa.onnx');
    requireOrSkip(this, existsSync(file), file);
    const m = Model.load(file);
    const shape = [1, 3, 64, 96];
    await spliceRobustBlock(m, { stage: 'layer3', inverse: 'com.microsoft', inputShapes: { input: shape } });
    expect(m.graph.nodes.some((n) => n.domain === 'com.microsoft' && n.opType === 'Inverse')).to.equal(true);
    const x = Float32Array.from({ length: 3 * 64 * 96 }, (_, i) => Math.sin(i * 0.37));
    const session = await ort.InferenceSession.create(m.toBytes());
    const ref = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, shape) });
    const mirror = await Mirror.create(m, { backend: 'cpu' });
    try {
      const got = await mirror.forward({ [mirror.inputNames[0]!]: { dims: shape, data: x } });
      for (const [name, want] of Object.entries(ref)) {
        const w = want.data as Float32Array;
        const g = got[name]!.data;
        expect(g.length).to.equal(w.length);
        w.forEach((v, i) => expect(Math.abs(Number(g[i]) - v), `${name}[${i}]`).to.be.at.most(1e-4 + 1e-3 * Math.abs(v)));
      }
    } finally {
      mirror.dispose();
    }
  });
});

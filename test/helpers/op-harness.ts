/**
 * The shared harness of the op kernel tests (test/ops/*.test.ts): one-graph ONNX models built from
 * small literal tensors, run through the TensorFlow.js mirror (cpu backend), and gradient checks of
 * the mirror against central finite differences of its own forward pass.
 *
 * Three ways to describe a model, each kept as the tests use it:
 * - `Case` + `Feed` (constant, microsoft, reduce, shape, slice): any nodes, inputs with values;
 *   `run`, `run1`, `problem`, `checkGradient`.
 * - one node over `In` values, some of them initializers (elementwise, unary): `buildNode`,
 *   `runNode`, `modelProblems`, `gradCheck`.
 * - model bytes + feeds (conv, norm, pool, resize; see ort-op-compare.ts for the ONNX Runtime side):
 *   `checkParamGradient`, `checkInputGradient` on the loss `mean`.
 */
import { expect } from 'chai';
import type { HostTensor } from '../../src/differentiable/model.js';
import { Model } from '../../src/ir/model.js';
import { currentBackend } from '../../src/mirror/backend.js';
import { Mirror } from '../../src/mirror/mirror.js';
import { supportProblems } from '../../src/mirror/support.js';
import type { AttributeProto, NodeProto, TensorProto } from '../../src/onnx/proto-types.js';
import type { Tensor, TF } from '../../src/ops/types.js';
import { floatTensor, int64Tensor, modelBytes, node, tensorInfo, type ModelSpec } from './proto-build.js';
import { requireOrSkip } from './test-data.js';

// ---- ONNX element types ----
export const FLOAT = 1;
export const UINT8 = 2;
export const INT8 = 3;
export const INT32 = 6;
export const INT64 = 7;
export const BOOL = 9;

// ---- attributes, nodes, values ----
export const ints = (name: string, v: number[]): AttributeProto => ({ name, ints: v, type: 7 });
export const int = (name: string, v: number): AttributeProto => ({ name, i: v, type: 2 });
export const flt = (name: string, v: number): AttributeProto => ({ name, f: v, type: 1 });
export const str = (name: string, v: string): AttributeProto => ({ name, s: new TextEncoder().encode(v), type: 3 });
export const withAttrs = (n: NodeProto, attrs: AttributeProto[]): NodeProto => ({ ...n, attribute: attrs });
/** A node with attributes and no name; its one output is `y` unless given. */
export const op = (type: string, ins: string[], attrs: AttributeProto[] = [], outs = ['y']): NodeProto => node(type, ins, outs, undefined, { attribute: attrs });
export const seq = (n: number, f = (i: number) => i): number[] => Array.from({ length: n }, (_, i) => f(i));
/** Element-wise |got - want| <= tol * max(1, |want|), same length. */
export const close = (got: number[], want: number[], tol = 1e-5): void => {
  expect(got.length, 'length').to.equal(want.length);
  got.forEach((g, i) => expect(Math.abs(g - want[i]!), `element ${i}: ${g} vs ${want[i]}`).to.be.at.most(tol * Math.max(1, Math.abs(want[i]!))));
};
/** A host tensor's values as plain numbers. */
export const vals = (h: HostTensor): number[] => Array.from(h.data as ArrayLike<number>);

/** A tensor value: a graph input (or, with `init`, an initializer) of the model under test. */
export interface In {
  name: string;
  type: number;
  dims: number[];
  data: number[];
  /** An initializer instead of a graph input. */
  init?: boolean;
}
/** A graph input with its value. */
export type Feed = Omit<In, 'init'>;

/** The value as the mirror takes it: float32, bool as uint8, integers as int32. */
export function host(x: Feed): HostTensor {
  const data = x.type === FLOAT ? Float32Array.from(x.data) : x.type === BOOL ? Uint8Array.from(x.data) : Int32Array.from(x.data);
  return { dims: x.dims, data };
}

/** The value as an initializer (raw data: float32, int64, int32, otherwise one byte per element). */
export function tensorOf(x: In): TensorProto {
  if (x.type === FLOAT) return floatTensor(x.name, x.dims, x.data);
  if (x.type === INT64) return int64Tensor(x.name, x.dims, x.data);
  const raw = x.type === INT32 ? new Uint8Array(Int32Array.from(x.data).buffer) : Uint8Array.from(x.data);
  return { name: x.name, dims: x.dims, data_type: x.type, raw_data: raw };
}

/**
 * Gradient checks need tfjs' gradient registry (the @tensorflow/tfjs package registers it;
 * tfjs-core alone does not): without it they skip with this message instead of failing in tfjs.
 */
export function requireGradients(ctx: Mocha.Context, tf: TF = currentBackend()!.tf): void {
  let registered = true;
  try {
    tf.tidy(() => tf.grad((x) => tf.sum(tf.mul(x, x)))(tf.scalar(1)));
  } catch {
    registered = false;
  }
  requireOrSkip(ctx, registered, 'the tfjs gradient registry (import @tensorflow/tfjs)');
}

// ---- Case: nodes and fed inputs ----
export interface Case {
  nodes: NodeProto[];
  inputs?: Feed[];
  outputs?: string[];
  opset?: number;
  inits?: TensorProto[];
  extraOpsets?: { domain: string; version: number }[];
}

export function buildModel(c: Case): Model {
  const inputs = (c.inputs ?? []).map((f) => tensorInfo(f.name, f.type, f.dims));
  const outputs = (c.outputs ?? ['y']).map((n) => ({ name: n }));
  const spec: ModelSpec = { nodes: c.nodes, inputs, outputs, initializers: c.inits ?? [], opset: c.opset ?? 13 };
  if (c.extraOpsets) spec.extraOpsets = c.extraOpsets;
  return Model.fromBytes(modelBytes(spec));
}

export function feedsOf(c: Case): Record<string, HostTensor> {
  return Object.fromEntries((c.inputs ?? []).map((f) => [f.name, host(f)]));
}

export async function run(c: Case): Promise<Record<string, HostTensor>> {
  const m = await Mirror.create(buildModel(c), { backend: 'cpu' });
  try {
    return await m.forward(feedsOf(c));
  } finally {
    m.dispose();
  }
}

/** The one output y as dims and plain numbers. */
export async function run1(c: Case): Promise<{ dims: number[]; data: number[] }> {
  const out = await run(c);
  const y = out[(c.outputs ?? ['y'])[0]!]!;
  return { dims: y.dims, data: vals(y) };
}

/** Why the mirror refuses the single-node model, or undefined. */
export function problem(c: Case): string | undefined {
  return supportProblems(buildModel(c))[0]?.reason;
}

/**
 * Gradient of sum(w * y) with respect to float input `wrt` from the mirror, against central
 * finite differences of the mirror's own forward pass (float32, so eps is large).
 */
export async function checkGradient(c: Case, wrt: string, eps = 1e-2, tol = 2e-2): Promise<void> {
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

// ---- one node over In values ----
export interface NodeOpts {
  opset?: number;
  outType?: number;
  outputs?: number;
}

/** One node `n` (outputs y0, y1, ...; opset 17 unless given); an input named '' is an omitted optional input. */
export function buildNode(opType: string, ins: In[], attrs: AttributeProto[] = [], opts: NodeOpts = {}): Model {
  const outs = Array.from({ length: opts.outputs ?? 1 }, (_, k) => `y${k}`);
  const spec = {
    nodes: [node(opType, ins.map((x) => x.name), outs, 'n', attrs.length ? { attribute: attrs } : {})],
    inputs: ins.filter((x) => !x.init && x.name !== '').map((x) => tensorInfo(x.name, x.type, x.dims)),
    outputs: outs.map((o) => tensorInfo(o, opts.outType ?? ins[0]!.type, [])),
    initializers: ins.filter((x) => x.init && x.name !== '').map(tensorOf),
    opset: opts.opset ?? 17,
  };
  return Model.fromBytes(modelBytes(spec));
}

/** The node's outputs in order. */
export async function runNode(opType: string, ins: In[], attrs: AttributeProto[] = [], opts: NodeOpts = {}): Promise<HostTensor[]> {
  const m = await Mirror.create(buildNode(opType, ins, attrs, opts), { backend: 'cpu' });
  try {
    const feeds = Object.fromEntries(ins.filter((x) => !x.init && x.name !== '').map((x) => [x.name, host(x)]));
    const got = await m.forward(feeds);
    return m.outputNames.map((n) => got[n]!);
  } finally {
    m.dispose();
  }
}

export function modelProblems(m: Model): string[] {
  return supportProblems(m).map((p) => p.reason);
}

/** A float (or `type`) vector input x. */
export const x1 = (data: number[], type = FLOAT): In => ({ name: 'x', type, dims: [data.length], data });

/** The message the promise rejects with, or '(no error)'. */
export async function fails(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return String((e as Error).message);
  }
  return '(no error)';
}

/** d(sum(y * w))/d(input) from the mirror (through evaluate() on tfjs tensors) against central differences of the same forward. */
export async function gradCheck(opType: string, ins: In[], attrs: AttributeProto[] = [], opset = 17): Promise<void> {
  const m = await Mirror.create(buildNode(opType, ins, attrs, { opset }), { backend: 'cpu' });
  try {
    const feeds = Object.fromEntries(ins.map((x) => [x.name, host(x)]));
    const y0 = (await m.forward(feeds))[m.outputNames[0]!]!;
    const w = Float32Array.from({ length: y0.data.length }, (_, k) => 0.5 + (k % 3) * 0.25);
    const loss = async (fd: Record<string, HostTensor>): Promise<number> => {
      const y = (await m.forward(fd))[m.outputNames[0]!]!;
      return Array.from(y.data as Float32Array).reduce((acc, v, k) => acc + v * w[k]!, 0);
    };
    // through evaluate() on tfjs tensors, the way a training loop differentiates the mirror
    const tf = m.tf;
    const grads = tf.tidy(() => {
      const xs = ins.map((x) => tf.tensor(host(x).data as Float32Array, x.dims, 'float32'));
      const lossOf = (...args: Tensor[]): Tensor => {
        const env = m.evaluate(new Map(ins.map((x, k) => [x.name, args[k]!] as const)));
        return tf.sum(tf.mul(env.get(m.outputNames[0]!)!, tf.tensor(w, y0.dims, 'float32')));
      };
      return tf.grads(lossOf)(xs).map((t) => t.dataSync() as Float32Array);
    });
    const eps = 1e-2;
    for (const [n, x] of ins.entries()) {
      const grad = grads[n]!;
      expect(grad.length).to.equal(x.data.length);
      for (let k = 0; k < x.data.length; k++) {
        const at = (d: number): Record<string, HostTensor> => ({ ...feeds, [x.name]: host({ ...x, data: x.data.map((v, j) => (j === k ? v + d : v)) }) });
        const fdv = ((await loss(at(eps))) - (await loss(at(-eps)))) / (2 * eps);
        expect(Number.isFinite(grad[k]!), `${opType} d/d${x.name}[${k}] finite`).to.equal(true);
        expect(grad[k]!, `${opType} d/d${x.name}[${k}]`).to.be.closeTo(fdv, 1e-2 * Math.max(1, Math.abs(fdv)));
      }
    }
  } finally {
    m.dispose();
  }
}

// ---- model bytes + feeds: gradients of the loss `mean` ----
/** d mean(output) / d param by the mirror vs central finite differences on a few elements. */
export async function checkParamGradient(bytes: Uint8Array, feeds: Record<string, HostTensor>, param: string, picks: number[]): Promise<void> {
  const m = await Mirror.create(Model.fromBytes(bytes), { backend: 'cpu' });
  try {
    const g = await m.gradients(feeds, { kind: 'mean' }, { params: [param] });
    const grad = g.paramGrads[param]!;
    const base = m.getParameter(param);
    const h = 1e-2;
    for (const i of picks) {
      const at = async (delta: number): Promise<number> => {
        const d = Float32Array.from(base.data as Float32Array);
        d[i]! += delta;
        m.setParameter(param, { dims: base.dims, data: d });
        return (await m.gradients(feeds, { kind: 'mean' }, { params: [] })).loss;
      };
      const fd = ((await at(h)) - (await at(-h))) / (2 * h);
      expect(Number(grad.data[i])).to.be.closeTo(fd, 2e-3 + 2e-2 * Math.abs(fd));
    }
    m.setParameter(param, base);
  } finally {
    m.dispose();
  }
}

/** d mean(output) / d input by the mirror vs central finite differences on a few elements. */
export async function checkInputGradient(bytes: Uint8Array, feeds: Record<string, HostTensor>, input: string, picks: number[], h = 1e-2): Promise<void> {
  const m = await Mirror.create(Model.fromBytes(bytes), { backend: 'cpu' });
  try {
    const g = await m.gradients(feeds, { kind: 'mean' }, { inputs: [input] });
    const grad = g.inputGrads[input]!;
    const base = feeds[input]!;
    for (const i of picks) {
      const at = async (delta: number): Promise<number> => {
        const d = Float32Array.from(base.data as Float32Array);
        d[i]! += delta;
        return (await m.gradients({ ...feeds, [input]: { dims: base.dims, data: d } }, { kind: 'mean' }, { params: [] })).loss;
      };
      const fd = ((await at(h)) - (await at(-h))) / (2 * h);
      expect(Number(grad.data[i]), `d/d${input}[${i}]`).to.be.closeTo(fd, 2e-3 + 3e-2 * Math.abs(fd));
    }
  } finally {
    m.dispose();
  }
}

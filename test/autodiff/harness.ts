/**
 * The gradient-graph harness (issue 15): build a gradient graph with src/autodiff/, run it in
 * ONNX Runtime through src/runtime/, and check its gradients against central finite differences
 * of ONNX Runtime's own forward pass of the unmodified model, along random directions.
 *
 * For each differentiated tensor v (graph input or parameter) and a random direction d:
 * rel = |g.d - (L(v + hd) - L(v - hd)) / 2h| / |g.d|, the best over a few steps h (relative to
 * ||v|| / ||d||; test/helpers/finite-diff.ts). Float32 forward: the loss is accumulated in float64
 * from the outputs, and steps of 1e-2..3e-3 (smooth ops) keep rounding well under 1e-2. Kinks
 * (ReLU at 0, MaxPool ties, Clip bounds): a step that crosses a kink is wrong for every larger
 * step and rounding dominates every smaller one, so kinked models use RELU_STEPS (down to 3e-5)
 * and inputs drawn away from the kinks where a test can arrange it. `scale` multiplies the
 * gradients the graph returned before the check: a gradient 5% off (scale 1.05) must fail, which
 * shows each check can fail.
 */
import { expect } from 'chai';
import { buildGradientGraph, type GradientGraph, type GradientGraphRequest, type LossSpec } from '../../src/autodiff/index.js';
import { Model } from '../../src/ir/model.js';
import type { TensorProto, ValueInfoProto } from '../../src/onnx/proto-types.js';
import { tensorTypedData } from '../../src/onnx/tensor-data.js';
import { openRunner, type Runner, type RuntimeTensor } from '../../src/runtime/index.js';
import { checkDirection, direction, gaussian, MAX_REL, report, SMOOTH_STEPS, type Check } from '../helpers/finite-diff.js';

export { MAX_REL, RELU_STEPS, SMOOTH_STEPS } from '../helpers/finite-diff.js';

export const f32 = (dims: number[], data: ArrayLike<number>): RuntimeTensor => ({ elemType: 1, dims, data: Float32Array.from(data) });

/** What the harness differentiates: a forward model, its feeds, the values, the loss. */
export interface GradCase {
  model: Model;
  /** Forward graph inputs (float32 or integer tensors). */
  feeds: Record<string, RuntimeTensor>;
  inputs?: string[];
  params?: string[];
  /** Default: cotangents on every graph output (random, seeded). */
  loss?: LossSpec;
  /** For mse/l1: the target (default: random, seeded); for cotangents: the cotangents (default random). */
  target?: RuntimeTensor;
  cotangents?: Record<string, RuntimeTensor>;
  seed?: number;
  /** Passed to the request (models with symbolic spatial dims). */
  inputShapes?: Record<string, (number | string)[]>;
}

export interface GradResult {
  graph: GradientGraph;
  loss: number;
  outputs: Record<string, RuntimeTensor>;
  inputGrads: Record<string, Float32Array>;
  paramGrads: Record<string, Float32Array>;
}

const count = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

function lossOf(c: GradCase): LossSpec {
  return c.loss ?? { kind: 'cotangents', outputs: c.model.graph.outputs.map((v) => v.name) };
}

/** Output dims for cotangents/targets: from one forward run. */
async function forwardOutputs(model: Model, feeds: Record<string, RuntimeTensor>, names: string[]): Promise<Record<string, RuntimeTensor>> {
  const r = await openRunner(model);
  try {
    return await r.run(feeds, names);
  } finally {
    await r.dispose();
  }
}

/** The loss inputs (target / cotangents), drawn once per case when not given. */
export async function lossFeeds(c: GradCase): Promise<{ target?: RuntimeTensor; cotangents: Record<string, RuntimeTensor> }> {
  const loss = lossOf(c);
  const seed = c.seed ?? 7;
  if (loss.kind === 'mean') return { cotangents: {} };
  const names = loss.kind === 'cotangents' ? loss.outputs : [loss.output];
  const need = loss.kind === 'cotangents' ? names.filter((n) => !c.cotangents?.[n]) : c.target ? [] : names;
  const outs = need.length > 0 ? await forwardOutputs(c.model, c.feeds, need) : {};
  if (loss.kind === 'cotangents') {
    const cot: Record<string, RuntimeTensor> = {};
    names.forEach((n, i) => (cot[n] = c.cotangents?.[n] ?? f32(outs[n]!.dims, gaussian(count(outs[n]!.dims), seed + 100 + i))));
    return { cotangents: cot };
  }
  const y = outs[names[0]!];
  return { target: c.target ?? f32(y!.dims, gaussian(count(y!.dims), seed + 200)), cotangents: {} };
}

/** The loss in float64 from forward outputs, the same definition as src/autodiff/loss.ts. */
export function hostLoss(loss: LossSpec, outs: Record<string, RuntimeTensor>, lf: { target?: RuntimeTensor; cotangents: Record<string, RuntimeTensor> }): number {
  if (loss.kind === 'cotangents') {
    let s = 0;
    for (const o of loss.outputs) {
      const y = outs[o]!.data as Float32Array;
      const ct = lf.cotangents[o]!.data as Float32Array;
      for (let i = 0; i < y.length; i++) s += y[i]! * ct[i]!;
    }
    return s;
  }
  const y = outs[loss.output]!.data as Float32Array;
  let s = 0;
  if (loss.kind === 'mean') for (let i = 0; i < y.length; i++) s += y[i]!;
  else {
    const t = lf.target!.data as Float32Array;
    for (let i = 0; i < y.length; i++) s += loss.kind === 'mse' ? (y[i]! - t[i]!) ** 2 : Math.abs(y[i]! - t[i]!);
  }
  return s / y.length;
}

/** Build the gradient graph of a case and run it once in ONNX Runtime. */
export async function runGradientGraph(c: GradCase, lf?: { target?: RuntimeTensor; cotangents: Record<string, RuntimeTensor> }): Promise<GradResult> {
  const loss = lossOf(c);
  const req: GradientGraphRequest = { loss, inputs: c.inputs ?? [], params: c.params ?? [], ...(c.inputShapes ? { inputShapes: c.inputShapes } : {}) };
  const graph = buildGradientGraph(c.model, req);
  const l = lf ?? (await lossFeeds(c));
  const feeds: Record<string, RuntimeTensor> = { ...c.feeds };
  for (const p of c.params ?? []) feeds[graph.feeds.params[p]!] = paramValue(c.model, p);
  if (graph.feeds.target) feeds[graph.feeds.target] = l.target!;
  for (const [o, name] of Object.entries(graph.feeds.cotangents)) feeds[name] = l.cotangents[o]!;
  const r = await openRunner(graph.model);
  try {
    const res = await r.run(feeds);
    const outputs = Object.fromEntries(Object.entries(graph.fetch.outputs).map(([o, n]) => [o, res[n]!]));
    const grads = (m: Record<string, string>): Record<string, Float32Array> => Object.fromEntries(Object.entries(m).map(([v, n]) => [v, res[n]!.data as Float32Array]));
    return { graph, loss: (res[graph.fetch.loss]!.data as Float32Array)[0]!, outputs, inputGrads: grads(graph.fetch.inputGrads), paramGrads: grads(graph.fetch.paramGrads) };
  } finally {
    await r.dispose();
  }
}

/** A float32 initializer's values as a runtime tensor. */
export function paramValue(model: Model, name: string): RuntimeTensor {
  const t = model.graph.lookup(name)!.initializer!;
  return f32((t.dims ?? []).map(Number), tensorTypedData(t) as Float32Array);
}

/** A copy of the model whose `params` are graph inputs (for finite differences of ORT's forward). */
export function paramsAsInputs(model: Model, params: readonly string[]): Model {
  const m = model.clone();
  const g = m.proto.graph!;
  const set = new Set(params);
  const moved: ValueInfoProto[] = [];
  g.initializer = (g.initializer ?? []).filter((t: TensorProto) => {
    if (!set.has(t.name ?? '')) return true;
    moved.push({ name: t.name!, type: { tensor_type: { elem_type: 1, shape: { dim: (t.dims ?? []).map((d) => ({ dim_value: d })) } } } });
    return false;
  });
  // IR < 4 files list initializers among the graph inputs already
  const declared = new Set((g.input ?? []).map((i) => i.name));
  g.input = [...(g.input ?? []), ...moved.filter((i) => !declared.has(i.name))];
  return new Model(m.proto);
}

export interface GradCheckOptions {
  steps?: readonly number[];
  /** Multiply the graph's gradients by this before checking (1.05: must fail). */
  scale?: number;
  /** Directions per differentiated tensor (default 2). */
  directions?: number;
  /** A looser bound for some differentiated tensors (by name; the ReLU input caveat), default MAX_REL. */
  tolerance?: Record<string, number>;
  /** One direction over all parameters together (whole models with many weights) instead of per parameter. */
  jointParams?: boolean;
}

/**
 * Gradients of the case against central differences of ONNX Runtime's forward, along random
 * directions; returns every check (the caller asserts, or uses `expectGradientsMatch`).
 */
export async function finiteDifferenceChecks(c: GradCase, opts: GradCheckOptions = {}, given?: GradResult): Promise<{ checks: Check[]; result: GradResult }> {
  const loss = lossOf(c);
  const lf = await lossFeeds(c);
  const result = given ?? (await runGradientGraph(c, lf));
  const params = c.params ?? [];
  const fwdModel = params.length > 0 ? paramsAsInputs(c.model, params) : c.model;
  const lossNames = loss.kind === 'cotangents' ? loss.outputs : [loss.output];
  const runner: Runner = await openRunner(fwdModel);
  const scale = opts.scale ?? 1;
  const checks: Check[] = [];
  try {
    const base: Record<string, RuntimeTensor> = { ...c.feeds };
    for (const p of params) base[p] = paramValue(c.model, p);
    const f = (name: string) => async (x: Float32Array): Promise<number> => {
      const feeds = { ...base, [name]: { ...base[name]!, data: x } };
      return hostLoss(loss, await runner.run(feeds, lossNames), lf);
    };
    let seed = (c.seed ?? 7) * 1000;
    if (opts.jointParams && params.length > 0) {
      const sizes = params.map((p) => (base[p]!.data as Float32Array).length);
      const flat = (parts: Float32Array[]): Float32Array => {
        const out = new Float32Array(sizes.reduce((a, b) => a + b, 0));
        let o = 0;
        parts.forEach((q) => {
          out.set(q, o);
          o += q.length;
        });
        return out;
      };
      const value = flat(params.map((p) => base[p]!.data as Float32Array));
      const grad = Float32Array.from(flat(params.map((p) => result.paramGrads[p]!)), (v) => v * scale);
      const fj = async (x: Float32Array): Promise<number> => {
        const feeds = { ...base };
        let o = 0;
        params.forEach((p, i) => {
          feeds[p] = { ...base[p]!, data: x.subarray(o, o + sizes[i]!) };
          o += sizes[i]!;
        });
        return hostLoss(loss, await runner.run(feeds, lossNames), lf);
      };
      for (let k = 0; k < (opts.directions ?? 2); k++) {
        const d = direction(grad, () => gaussian(value.length, seed++));
        checks.push(await checkDirection(`all ${params.length} parameters #${k}`, fj, value, grad, d, opts.steps ?? SMOOTH_STEPS));
      }
    }
    const all: [string, Float32Array][] = [...(c.inputs ?? []).map((n) => [n, result.inputGrads[n]!] as [string, Float32Array]), ...(opts.jointParams ? [] : params.map((n) => [n, result.paramGrads[n]!] as [string, Float32Array]))];
    for (const [name, grad0] of all) {
      const grad = scale === 1 ? grad0 : Float32Array.from(grad0, (v) => v * scale);
      const value = base[name]!.data as Float32Array;
      for (let k = 0; k < (opts.directions ?? 2); k++) {
        const d = direction(grad, () => gaussian(value.length, seed++));
        checks.push(await checkDirection(`${name} #${k}`, f(name), value, grad, d, opts.steps ?? SMOOTH_STEPS));
      }
    }
  } finally {
    await runner.dispose();
  }
  return { checks, result };
}

/** Every check within MAX_REL; returns the result for further assertions. */
export async function expectGradientsMatch(c: GradCase, opts: GradCheckOptions = {}): Promise<GradResult> {
  const { checks, result } = await finiteDifferenceChecks(c, opts);
  expect(checks.length).to.be.greaterThan(0);
  for (const ch of checks) expect(ch.rel, report(checks)).to.be.at.most(opts.tolerance?.[ch.what.replace(/ #\d+ \(step .*$/, '')] ?? MAX_REL);
  return result;
}

/** The same case with its gradients scaled by 1.05: at least one check must fail (the check can fail). */
export async function expectWrongGradientFails(c: GradCase, opts: GradCheckOptions = {}, given?: GradResult): Promise<void> {
  const { checks } = await finiteDifferenceChecks(c, { ...opts, scale: 1.05 }, given);
  expect(Math.max(...checks.map((ch) => ch.rel)), report(checks)).to.be.greaterThan(MAX_REL);
}

/** Relative L2 error |a - b| / |b|. */
export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).to.equal(b.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

/** A tensor of a small test model: a graph input, or (init) an initializer. */
export interface TVal {
  name: string;
  dims: (number | string)[];
  /** Values (fed for inputs; the batch dim of a symbolic input takes `batch`). */
  data: ArrayLike<number>;
  init?: boolean;
  /** Concrete dims to feed when `dims` has symbolic entries. */
  feedDims?: number[];
  /** Element type (default float32). */
  type?: number;
}

/** A small model from nodes; inputs fed from their data; params: the float initializers. */
export function smallCase(nodes: import('../../src/onnx/proto-types.js').NodeProto[], vals: TVal[], outputs: string[], opts: { opset?: number; seed?: number; loss?: LossSpec; inputs?: string[]; params?: string[] } = {}): GradCase {
  const inits: TensorProto[] = [];
  const inputs: ValueInfoProto[] = [];
  const feeds: Record<string, RuntimeTensor> = {};
  for (const v of vals) {
    const type = v.type ?? 1;
    if (v.init) {
      const dims = v.dims as number[];
      inits.push(type === 1 ? { name: v.name, dims, data_type: 1, raw_data: new Uint8Array(Float32Array.from(v.data).buffer) } : { name: v.name, dims, data_type: 7, raw_data: new Uint8Array(BigInt64Array.from(Array.from(v.data, (x) => BigInt(x))).buffer) });
    } else {
      inputs.push({ name: v.name, type: { tensor_type: { elem_type: type, shape: { dim: v.dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } } } });
      const fd = v.feedDims ?? (v.dims as number[]);
      feeds[v.name] = type === 1 ? f32(fd, v.data) : { elemType: 7, dims: fd, data: BigInt64Array.from(Array.from(v.data, (x) => BigInt(x))) };
    }
  }
  const proto = {
    ir_version: 8,
    producer_name: 'autodiff-tests',
    opset_import: [{ domain: '', version: opts.opset ?? 13 }],
    graph: { name: 'g', node: nodes, input: inputs, output: outputs.map((o) => ({ name: o, type: { tensor_type: { elem_type: 1 } } })), initializer: inits },
  };
  const model = new Model(proto);
  const floatInputs = vals.filter((v) => !v.init && (v.type ?? 1) === 1).map((v) => v.name);
  const floatParams = vals.filter((v) => v.init && (v.type ?? 1) === 1).map((v) => v.name);
  return {
    model,
    feeds,
    inputs: opts.inputs ?? floatInputs,
    params: opts.params ?? floatParams,
    ...(opts.loss ? { loss: opts.loss } : {}),
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
  };
}

/** n seeded normal values times `scale`. */
export const randn = (n: number, seed: number, scale = 1): Float32Array => Float32Array.from(gaussian(n, seed), (v) => v * scale);

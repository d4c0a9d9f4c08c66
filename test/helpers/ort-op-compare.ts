/**
 * One-node models on seeded random inputs, run in ONNX Runtime and in the TensorFlow.js mirror
 * (cpu backend), outputs compared (test/ops conv, norm, pool, resize). ort-compare.ts runs model
 * files on float inputs; this runs model bytes and also feeds int32.
 */
import { expect } from 'chai';
import * as ort from 'onnxruntime-node';
import type { HostTensor } from '../../src/differentiable/model.js';
import { Model } from '../../src/ir/model.js';
import { Mirror } from '../../src/mirror/mirror.js';
import { supportProblems } from '../../src/mirror/support.js';
import type { AttributeProto, TensorProto } from '../../src/onnx/proto-types.js';
import { withAttrs } from './op-harness.js';
import { modelBytes, node, tensorInfo } from './proto-build.js';
import { randomFloats } from './seeded-random.js';

export interface OrtCase {
  op: string;
  attrs: AttributeProto[];
  /** Inputs in order: [name, dims, elemType?]; '' for an omitted optional input. */
  inputs: ([string, number[]] | [string, number[], number] | '')[];
  outputs?: string[];
  opset?: number;
  /** Initializers (inputs named here are not graph inputs). */
  inits?: TensorProto[];
}

/** The node `n` with its inputs (other than initializers) as graph inputs and outputs of unknown type. */
export function caseBytes(c: OrtCase): Uint8Array {
  const initNames = new Set((c.inits ?? []).map((t) => t.name));
  const present = c.inputs.filter((i): i is Exclude<typeof i, ''> => i !== '' && !initNames.has(i[0]));
  const outs = c.outputs ?? ['y'];
  return modelBytes({
    nodes: [withAttrs(node(c.op, c.inputs.map((i) => (i === '' ? '' : i[0])), outs, 'n'), c.attrs)],
    inputs: present.map(([n, d, t]) => tensorInfo(n, t ?? 1, d)),
    outputs: outs.map((o) => ({ name: o })),
    initializers: c.inits ?? [],
    opset: c.opset ?? 13,
  });
}

/** Seeded inputs in [-2, 2] (input k from seed + k); int32 inputs are those values times 3, rounded. */
export function feedsFor(c: OrtCase, seed: number): Record<string, HostTensor> {
  const feeds: Record<string, HostTensor> = {};
  const initNames = new Set((c.inits ?? []).map((t) => t.name));
  c.inputs.forEach((i, k) => {
    if (i === '' || initNames.has(i[0])) return;
    const [n, d, t] = i;
    const size = d.reduce((a, b) => a * b, 1);
    const f = randomFloats(seed + k, size, -2, 2);
    feeds[n] = { dims: d, data: t === 6 ? Int32Array.from(f, (v) => Math.round(v * 3)) : f };
  });
  return feeds;
}

export async function ortRun(bytes: Uint8Array, feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
  const s = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled' });
  try {
    const inp: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) inp[k] = new ort.Tensor(v.data instanceof Int32Array ? 'int32' : 'float32', v.data as Float32Array, v.dims);
    const res = await s.run(inp);
    const out: Record<string, HostTensor> = {};
    for (const n of s.outputNames) out[n] = { dims: [...res[n]!.dims], data: res[n]!.data as Float32Array };
    return out;
  } finally {
    await s.release();
  }
}

/** The mirror's outputs equal ONNX Runtime's (shape exactly, values within atol + rtol |want|). */
export async function matchesOrt(c: OrtCase, seed = 7, tol = { atol: 1e-5, rtol: 1e-4 }): Promise<void> {
  const bytes = caseBytes(c);
  const feeds = feedsFor(c, seed);
  const want = await ortRun(bytes, feeds);
  const m = await Mirror.create(Model.fromBytes(bytes), { backend: 'cpu' });
  try {
    const got = await m.forward(feeds);
    for (const [name, w] of Object.entries(want)) {
      const g = got[name]!;
      expect(g.dims, `${c.op} ${name} dims`).to.deep.equal(w.dims);
      for (let i = 0; i < w.data.length; i++) {
        const d = Math.abs(Number(g.data[i]) - Number(w.data[i]));
        if (!(d <= tol.atol + tol.rtol * Math.abs(Number(w.data[i])))) expect.fail(`${c.op} ${name}[${i}]: got ${g.data[i]}, want ${w.data[i]}`);
      }
    }
  } finally {
    m.dispose();
  }
}

/** Why the mirror refuses the case's model (empty when it does not). */
export function caseProblems(c: OrtCase): string[] {
  return supportProblems(Model.fromBytes(caseBytes(c))).map((p) => p.reason);
}

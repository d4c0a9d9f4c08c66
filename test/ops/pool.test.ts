/**
 * Mirror kernels of the pool family against ONNX Runtime on configurations the Debian node tests
 * do not cover (dilations with strides, ceil_mode with pads, count_include_pad with ceil_mode,
 * Indices with storage_order, 1-D and 3-D, LpPool), unsupported() reasons, and input gradients
 * vs finite differences.
 */
import { expect } from 'chai';
import * as ort from 'onnxruntime-node';
import type { HostTensor } from '../../src/differentiable/model.js';
import { Model } from '../../src/ir/model.js';
import { loadBackend } from '../../src/mirror/backend.js';
import { Mirror } from '../../src/mirror/mirror.js';
import { supportProblems } from '../../src/mirror/support.js';
import type { AttributeProto, NodeProto } from '../../src/onnx/proto-types.js';
import { modelBytes, node, tensorInfo } from '../helpers/proto-build.js';
import { randomFloats } from '../helpers/seeded-random.js';

// --- small helpers (kept per test file) ---
const ints = (name: string, v: number[]): AttributeProto => ({ name, ints: v, type: 7 });
const int = (name: string, v: number): AttributeProto => ({ name, i: v, type: 2 });
const str = (name: string, v: string): AttributeProto => ({ name, s: new TextEncoder().encode(v), type: 3 });
const withAttrs = (n: NodeProto, attrs: AttributeProto[]): NodeProto => ({ ...n, attribute: attrs });

interface Case {
  op: string;
  attrs: AttributeProto[];
  /** Inputs in order: [name, dims, elemType?]; '' for an omitted optional input. */
  inputs: ([string, number[]] | [string, number[], number] | '')[];
  outputs?: string[];
  opset?: number;
}

function caseBytes(c: Case): Uint8Array {
  const present = c.inputs.filter((i): i is Exclude<typeof i, ''> => i !== '');
  const outs = c.outputs ?? ['y'];
  return modelBytes({
    nodes: [withAttrs(node(c.op, c.inputs.map((i) => (i === '' ? '' : i[0])), outs, 'n'), c.attrs)],
    inputs: present.map(([n, d, t]) => tensorInfo(n, t ?? 1, d)),
    outputs: outs.map((o) => ({ name: o })),
    opset: c.opset ?? 13,
  });
}

function feedsFor(c: Case, seed: number): Record<string, HostTensor> {
  const feeds: Record<string, HostTensor> = {};
  c.inputs.forEach((i, k) => {
    if (i === '') return;
    const [n, d, t] = i;
    const size = d.reduce((a, b) => a * b, 1);
    const f = randomFloats(seed + k, size, -2, 2);
    feeds[n] = { dims: d, data: t === 6 ? Int32Array.from(f, (v) => Math.round(v * 3)) : f };
  });
  return feeds;
}

async function ortRun(bytes: Uint8Array, feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
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
async function matchesOrt(c: Case, seed = 7, tol = { atol: 1e-5, rtol: 1e-4 }): Promise<void> {
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

function problems(c: Case): string[] {
  return supportProblems(Model.fromBytes(caseBytes(c))).map((p) => p.reason);
}


/** d mean(output) / d input by the mirror vs central finite differences on a few elements. */
async function checkInputGradient(bytes: Uint8Array, feeds: Record<string, HostTensor>, input: string, picks: number[], h = 1e-2): Promise<void> {
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
// --- end helpers ---

describe('ops/pool: MaxPool, AveragePool, LpPool and the global pools', function () {
  this.timeout(30_000);
  before(async () => {
    await loadBackend('cpu');
  });

  const pool = (op: string, attrs: AttributeProto[], x: number[], opset = 13, outputs?: string[]): Case => ({ op, attrs, inputs: [['x', x]], opset, ...(outputs ? { outputs } : {}) });

  it('MaxPool: dilations with strides and pads, ceil_mode, auto_pad, 1-D and 3-D', async () => {
    await matchesOrt(pool('MaxPool', [ints('kernel_shape', [3, 2]), ints('strides', [2, 3]), ints('dilations', [2, 2]), ints('pads', [1, 0, 2, 1])], [2, 3, 11, 12], 12));
    await matchesOrt(pool('MaxPool', [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), int('ceil_mode', 1), ints('pads', [1, 1, 1, 1])], [1, 2, 8, 9]));
    await matchesOrt(pool('MaxPool', [ints('kernel_shape', [3, 2]), ints('strides', [2, 2]), str('auto_pad', 'SAME_LOWER')], [1, 2, 7, 6]));
    await matchesOrt(pool('MaxPool', [ints('kernel_shape', [3]), ints('strides', [2]), ints('pads', [1, 1])], [2, 3, 10]));
    await matchesOrt(pool('MaxPool', [ints('kernel_shape', [2, 3, 2]), ints('strides', [2, 1, 2]), ints('dilations', [1, 2, 1])], [1, 2, 5, 7, 6], 12));
  });

  it('MaxPool Indices: row-major and storage_order=1, with pads and dilations', async () => {
    await matchesOrt(pool('MaxPool', [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1])], [2, 3, 7, 6], 12, ['y', 'i']));
    await matchesOrt(pool('MaxPool', [ints('kernel_shape', [2, 2]), ints('strides', [2, 2]), int('storage_order', 1)], [1, 2, 6, 5], 12, ['y', 'i']));
    await matchesOrt(pool('MaxPool', [ints('kernel_shape', [2, 2]), ints('dilations', [2, 2]), ints('pads', [1, 0, 0, 1])], [1, 2, 6, 6], 12, ['y', 'i']));
  });

  it('AveragePool: count_include_pad 0/1 with pads and ceil_mode, SAME pads, 1-D and 3-D', async () => {
    for (const cip of [0, 1]) {
      await matchesOrt(pool('AveragePool', [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), ints('pads', [1, 2, 0, 1]), int('count_include_pad', cip)], [1, 2, 7, 8]));
      await matchesOrt(pool('AveragePool', [ints('kernel_shape', [3, 2]), ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1]), int('ceil_mode', 1), int('count_include_pad', cip)], [1, 2, 8, 7]));
      await matchesOrt(pool('AveragePool', [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), str('auto_pad', 'SAME_UPPER'), int('count_include_pad', cip)], [1, 2, 6, 7]));
      await matchesOrt(pool('AveragePool', [ints('kernel_shape', [3]), ints('pads', [2, 1]), int('count_include_pad', cip)], [2, 2, 9]));
      await matchesOrt(pool('AveragePool', [ints('kernel_shape', [2, 2, 3]), ints('strides', [1, 2, 2]), ints('pads', [1, 0, 1, 0, 1, 1]), int('count_include_pad', cip)], [1, 2, 4, 6, 7]));
    }
  });

  it('AveragePool with dilations (opset 19)', async () => {
    await matchesOrt(pool('AveragePool', [ints('kernel_shape', [2, 2]), ints('dilations', [2, 2]), ints('strides', [1, 1])], [1, 2, 6, 7], 19));
  });

  it('LpPool and GlobalLpPool (p = 1, 2, 3); GlobalMaxPool on 1-D and 3-D', async () => {
    for (const p of [1, 2, 3]) {
      await matchesOrt(pool('LpPool', [ints('kernel_shape', [2, 3]), ints('strides', [2, 1]), ints('pads', [1, 1, 0, 1]), int('p', p)], [1, 2, 6, 7], 18));
      await matchesOrt(pool('GlobalLpPool', [int('p', p)], [2, 3, 4, 5]));
    }
    await matchesOrt(pool('GlobalMaxPool', [], [2, 3, 7]));
    await matchesOrt(pool('GlobalAveragePool', [], [2, 3, 3, 4, 5]));
  });

  it('refuses bad auto_pad and storage_order values before running', () => {
    expect(problems(pool('MaxPool', [ints('kernel_shape', [2, 2]), str('auto_pad', 'same')], [1, 1, 4, 4])).join()).to.match(/auto_pad 'same'/);
    expect(problems(pool('MaxPool', [ints('kernel_shape', [2, 2]), int('storage_order', 2)], [1, 1, 4, 4], 12)).join()).to.match(/storage_order 2/);
  });

  it('input gradients match finite differences (MaxPool native and dilated, AveragePool excluding pads, LpPool)', async () => {
    const x: HostTensor = { dims: [1, 2, 6, 6], data: randomFloats(11, 72) };
    const mk = (c: Case) => caseBytes({ ...c, inputs: [['x', x.dims]] });
    await checkInputGradient(mk(pool('MaxPool', [ints('kernel_shape', [2, 2]), ints('dilations', [2, 2]), ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1])], x.dims, 12)), { x }, 'x', [0, 7, 20, 50], 1e-3);
    await checkInputGradient(mk(pool('MaxPool', [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1])], x.dims, 12)), { x }, 'x', [0, 14, 35], 1e-3);
    await checkInputGradient(mk(pool('AveragePool', [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1]), int('ceil_mode', 1)], x.dims)), { x }, 'x', [0, 5, 35, 71]);
    await checkInputGradient(mk(pool('LpPool', [ints('kernel_shape', [2, 2]), int('p', 3)], x.dims, 18)), { x }, 'x', [0, 9, 44]);
  });
});

/**
 * Mirror kernels of the conv and matmul families against ONNX Runtime on configurations the
 * Debian node tests do not cover (groups, depthwise multipliers, strides with dilations, 1-D and
 * 3-D, ConvTranspose groups / dilations / output_shape, numpy MatMul broadcasting, Gemm bias
 * broadcasting, int32), their unsupported() reasons, and weight gradients vs finite differences.
 */
import { expect } from 'chai';
import * as ort from 'onnxruntime-node';
import type { HostTensor } from '../../src/differentiable/model.js';
import { Model } from '../../src/ir/model.js';
import { loadBackend } from '../../src/mirror/backend.js';
import { Mirror } from '../../src/mirror/mirror.js';
import { supportProblems } from '../../src/mirror/support.js';
import type { AttributeProto, NodeProto } from '../../src/onnx/proto-types.js';
import { floatTensor, modelBytes, node, tensorInfo } from '../helpers/proto-build.js';
import { randomFloats } from '../helpers/seeded-random.js';

// --- small helpers (kept per test file) ---
const ints = (name: string, v: number[]): AttributeProto => ({ name, ints: v, type: 7 });
const int = (name: string, v: number): AttributeProto => ({ name, i: v, type: 2 });
const flt = (name: string, v: number): AttributeProto => ({ name, f: v, type: 1 });
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

/** d mean(output) / d param by the mirror vs central finite differences on a few elements. */
async function checkParamGradient(bytes: Uint8Array, feeds: Record<string, HostTensor>, param: string, picks: number[]): Promise<void> {
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
// --- end helpers ---

describe('ops/conv: Conv and ConvTranspose', function () {
  this.timeout(30_000);
  before(async () => {
    await loadBackend('cpu');
  });

  const conv = (attrs: AttributeProto[], x: number[], w: number[], bias = true, op = 'Conv'): Case => ({
    op,
    attrs,
    inputs: [['x', x], ['w', w], ...(bias ? [['b', [op === 'Conv' ? w[0]! : w[1]! * (attrs.find((a) => a.name === 'group')?.i as number ?? 1)]] as [string, number[]]] : [])],
  });

  it('general groups, depthwise with a channel multiplier, and strides with dilations', async () => {
    await matchesOrt(conv([int('group', 2), ints('pads', [1, 0, 2, 1])], [2, 4, 7, 6], [6, 2, 3, 3]));
    await matchesOrt(conv([int('group', 3), ints('strides', [2, 1])], [1, 3, 8, 7], [6, 1, 3, 2]));
    await matchesOrt(conv([ints('strides', [2, 2]), ints('dilations', [2, 3]), ints('pads', [1, 2, 1, 2])], [1, 2, 11, 12], [3, 2, 3, 3], false));
    await matchesOrt(conv([int('group', 2), ints('strides', [2, 3]), ints('dilations', [2, 2])], [1, 4, 12, 13], [4, 2, 2, 3]));
  });

  it('auto_pad SAME_UPPER / SAME_LOWER / VALID with strides (and VALID with dilations)', async () => {
    for (const ap of ['SAME_UPPER', 'SAME_LOWER', 'VALID']) {
      await matchesOrt(conv([str('auto_pad', ap), ints('strides', [2, 3])], [1, 2, 9, 10], [2, 2, 4, 3]));
    }
    // ONNX Runtime refuses SAME with dilations; VALID takes them
    await matchesOrt(conv([str('auto_pad', 'VALID'), ints('strides', [2, 3]), ints('dilations', [1, 2])], [1, 2, 9, 10], [2, 2, 4, 3]));
  });

  it('1-D and 3-D convolutions (3-D with groups and strides with dilations)', async () => {
    await matchesOrt(conv([ints('strides', [2]), ints('pads', [2, 1]), ints('dilations', [2])], [2, 3, 17], [4, 3, 3]));
    await matchesOrt(conv([int('group', 2), ints('strides', [1, 2, 2]), ints('pads', [1, 1, 0, 0, 1, 1])], [1, 4, 5, 6, 7], [4, 2, 3, 3, 2]));
    await matchesOrt(conv([ints('strides', [2, 2, 2]), ints('dilations', [2, 1, 2])], [1, 2, 7, 6, 7], [2, 2, 2, 2, 2], false));
  });

  it('ConvTranspose: groups, dilations with strides, output_padding, pads, output_shape, 1-D and 3-D', async () => {
    const ct = (attrs: AttributeProto[], x: number[], w: number[], bias = true) => conv(attrs, x, w, bias, 'ConvTranspose');
    await matchesOrt(ct([int('group', 2), ints('strides', [2, 2])], [1, 4, 4, 5], [4, 3, 3, 3]));
    await matchesOrt(ct([ints('strides', [2, 3]), ints('dilations', [2, 2]), ints('pads', [1, 0, 2, 1]), ints('output_padding', [1, 2])], [2, 2, 4, 4], [2, 3, 3, 2]));
    await matchesOrt(ct([ints('strides', [2, 2]), ints('output_shape', [9, 10])], [1, 2, 4, 4], [2, 2, 3, 3]));
    await matchesOrt(ct([str('auto_pad', 'SAME_LOWER'), ints('strides', [2, 2])], [1, 2, 3, 4], [2, 1, 3, 3], false));
    await matchesOrt(ct([ints('strides', [3]), ints('pads', [1, 2])], [1, 2, 6], [2, 3, 4]));
    await matchesOrt(ct([int('group', 2), ints('strides', [2, 1, 2]), ints('pads', [1, 0, 0, 0, 1, 1]), ints('dilations', [1, 2, 1])], [1, 4, 3, 4, 3], [4, 1, 2, 2, 3]));
  });

  it('refuses unknown auto_pad values and more than 3 spatial axes before running', () => {
    expect(problems(conv([str('auto_pad', 'SAME')], [1, 1, 4, 4], [1, 1, 3, 3])).join()).to.match(/auto_pad 'SAME'/);
    expect(problems(conv([], [1, 1, 3, 3, 3, 3], [1, 1, 2, 2, 2, 2])).join()).to.match(/4 spatial axes/);
  });

  it('weight gradients match finite differences (depthwise, grouped, transposed)', async () => {
    const x: HostTensor = { dims: [1, 4, 6, 6], data: randomFloats(3, 144) };
    const mk = (op: string, w: number[], attrs: AttributeProto[]) =>
      modelBytes({
        nodes: [withAttrs(node(op, ['x', 'w'], ['y'], 'n'), attrs)],
        inputs: [tensorInfo('x', 1, x.dims)],
        outputs: [{ name: 'y' }],
        initializers: [floatTensor('w', w, randomFloats(5, w.reduce((a, b) => a * b, 1)))],
      });
    // a nonlinear loss would be better, but mean() of a conv is linear in w: finite differences are exact up to rounding
    await checkParamGradient(mk('Conv', [8, 1, 3, 3], [int('group', 4), ints('strides', [2, 2]), ints('dilations', [1, 1])]), { x }, 'w', [0, 13, 71]);
    await checkParamGradient(mk('Conv', [4, 2, 3, 3], [int('group', 2), ints('strides', [2, 2]), ints('dilations', [2, 2])]), { x }, 'w', [0, 5, 30]);
    await checkParamGradient(mk('ConvTranspose', [4, 2, 3, 3], [int('group', 2), ints('strides', [2, 2]), ints('pads', [1, 1, 0, 0])]), { x }, 'w', [1, 17, 40]);
  });

  it('weight gradients with dilations at stride 1 (tfjs conv gradients refuse dilations > 1: the kernel is zero-stuffed) and with asymmetric pads', async () => {
    const x: HostTensor = { dims: [2, 4, 7, 8], data: randomFloats(13, 448) };
    const mk = (w: number[], attrs: AttributeProto[], xDims = x.dims) =>
      modelBytes({
        nodes: [withAttrs(node('Conv', ['x', 'w'], ['y'], 'n'), attrs)],
        inputs: [tensorInfo('x', 1, xDims)],
        outputs: [{ name: 'y' }],
        initializers: [floatTensor('w', w, randomFloats(17, w.reduce((a, b) => a * b, 1)))],
      });
    await checkParamGradient(mk([5, 4, 3, 3], [ints('dilations', [2, 2]), ints('pads', [2, 1, 1, 2])]), { x }, 'w', [0, 40, 179]);
    await checkParamGradient(mk([4, 1, 3, 3], [int('group', 4), ints('dilations', [2, 1]), ints('pads', [1, 1, 1, 1])]), { x }, 'w', [0, 13, 35]);
    await checkParamGradient(mk([4, 2, 2, 3], [int('group', 2), ints('dilations', [1, 2]), ints('pads', [0, 2, 1, 0])]), { x }, 'w', [2, 23, 47]);
    const x1: HostTensor = { dims: [2, 4, 11], data: randomFloats(19, 88) };
    await checkParamGradient(mk([3, 4, 3], [ints('dilations', [3]), ints('pads', [2, 1])], x1.dims), { x: x1 }, 'w', [0, 17, 35]);
    // and the same configurations forward, against ONNX Runtime
    await matchesOrt(conv([ints('dilations', [2, 2]), ints('pads', [2, 1, 1, 2])], [2, 4, 7, 8], [5, 4, 3, 3]));
    await matchesOrt(conv([int('group', 4), ints('dilations', [2, 1]), ints('pads', [1, 1, 1, 1])], [2, 4, 7, 8], [4, 1, 3, 3]));
    await matchesOrt(conv([int('group', 2), ints('dilations', [1, 2]), ints('pads', [0, 2, 1, 0])], [2, 4, 7, 8], [4, 2, 2, 3]));
  });
});

describe('ops/matmul: MatMul and Gemm', function () {
  this.timeout(30_000);
  before(async () => {
    await loadBackend('cpu');
  });

  it('MatMul follows numpy: 1-D operands and batch broadcasting', async () => {
    const mm = (a: number[], b: number[], t?: number): Case => ({ op: 'MatMul', attrs: [], inputs: [t ? ['a', a, t] : ['a', a], t ? ['b', b, t] : ['b', b]] });
    await matchesOrt(mm([4], [4, 3]));
    await matchesOrt(mm([2, 3, 4], [4]));
    await matchesOrt(mm([5], [5]));
    await matchesOrt(mm([2, 1, 3, 4], [3, 4, 5]));
    await matchesOrt(mm([3, 4], [2, 4, 2]));
    await matchesOrt(mm([2, 3, 4], [4, 6]));
    await matchesOrt(mm([2, 1, 3, 4], [1, 5, 4, 2], 6), 7, { atol: 0, rtol: 0 }); // int32, exact
  });

  it('Gemm: transposes, alpha/beta, C broadcast from [N], [M,1] and a scalar, no C', async () => {
    const gm = (attrs: AttributeProto[], a: number[], b: number[], c?: number[]): Case => ({ op: 'Gemm', attrs, inputs: [['a', a], ['b', b], ...(c ? [['c', c] as [string, number[]]] : [])] });
    await matchesOrt(gm([int('transA', 1), flt('alpha', 0.5), flt('beta', 2)], [4, 3], [4, 5], [5]));
    await matchesOrt(gm([int('transB', 1)], [3, 4], [5, 4], [3, 1]));
    await matchesOrt(gm([flt('beta', -1)], [3, 4], [4, 5], []));
    await matchesOrt(gm([], [3, 4], [4, 5]));
  });
});

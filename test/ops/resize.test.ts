/**
 * Mirror kernels of Resize and Upsample against ONNX Runtime on what the Debian node tests do not
 * cover (opset 18 axes / keep_aspect_ratio_policy / antialias, half_pixel_symmetric, every
 * nearest_mode with several transforms, Resize-10 and Upsample rounding), unsupported() reasons,
 * and input gradients vs finite differences.
 */
import { expect } from 'chai';
import * as ort from 'onnxruntime-node';
import type { HostTensor } from '../../src/differentiable/model.js';
import { Model } from '../../src/ir/model.js';
import { loadBackend } from '../../src/mirror/backend.js';
import { Mirror } from '../../src/mirror/mirror.js';
import { supportProblems } from '../../src/mirror/support.js';
import type { AttributeProto, NodeProto, TensorProto } from '../../src/onnx/proto-types.js';
import { floatTensor, int64Tensor, modelBytes, node, tensorInfo } from '../helpers/proto-build.js';
import { randomFloats } from '../helpers/seeded-random.js';

// --- small helpers (kept per test file) ---
const ints = (name: string, v: number[]): AttributeProto => ({ name, ints: v, type: 7 });
const int = (name: string, v: number): AttributeProto => ({ name, i: v, type: 2 });
const str = (name: string, v: string): AttributeProto => ({ name, s: new TextEncoder().encode(v), type: 3 });
const flt = (name: string, v: number): AttributeProto => ({ name, f: v, type: 1 });
const withAttrs = (n: NodeProto, attrs: AttributeProto[]): NodeProto => ({ ...n, attribute: attrs });

interface Case {
  op: string;
  attrs: AttributeProto[];
  /** Inputs in order: [name, dims, elemType?]; '' for an omitted optional input. */
  inputs: ([string, number[]] | [string, number[], number] | '')[];
  outputs?: string[];
  opset?: number;
  /** Initializers (inputs named here are not graph inputs). */
  inits?: TensorProto[];
}

function caseBytes(c: Case): Uint8Array {
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

function feedsFor(c: Case, seed: number): Record<string, HostTensor> {
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

const scalesT = (v: number[]) => floatTensor('scales', [v.length], v);
const sizesT = (v: number[]) => int64Tensor('sizes', [v.length], v);

/** A Resize (opset >= 11: X, roi, scales, sizes; 10: X, scales) or Upsample node with constant scales / sizes. */
function resize(opset: number, attrs: AttributeProto[], x: number[], by: { scales?: number[]; sizes?: number[] }, op = 'Resize'): Case {
  const inits = [...(by.scales ? [scalesT(by.scales)] : []), ...(by.sizes ? [sizesT(by.sizes)] : [])];
  const legacy = op === 'Upsample' || opset < 11;
  const inputs: Case['inputs'] = legacy
    ? [['x', x], ...(by.scales && !(op === 'Upsample' && opset < 9) ? [['scales', [0]] as [string, number[]]] : [])]
    : [['x', x], '', by.scales ? ['scales', [0]] : '', ...(by.sizes ? [['sizes', [0]] as [string, number[]]] : [])];
  return { op, attrs, inputs, inits, opset };
}

describe('ops/resize: Resize and Upsample', function () {
  this.timeout(30_000);
  before(async () => {
    await loadBackend('cpu');
  });
  const mode = (m: string) => str('mode', m);
  const ctm = (m: string) => str('coordinate_transformation_mode', m);

  it('linear and cubic with every coordinate transform, up and down', async () => {
    const x = [1, 2, 5, 7];
    await matchesOrt(resize(13, [mode('linear')], x, { scales: [1, 1, 0.6, 0.8] }));
    await matchesOrt(resize(13, [mode('linear'), ctm('align_corners')], x, { sizes: [1, 2, 8, 3] }));
    await matchesOrt(resize(13, [mode('linear'), ctm('asymmetric')], x, { scales: [1, 1, 1.5, 2.5] }));
    await matchesOrt(resize(13, [mode('linear'), ctm('pytorch_half_pixel')], x, { sizes: [1, 2, 1, 4] }));
    await matchesOrt(resize(13, [mode('cubic'), ctm('asymmetric'), flt('cubic_coeff_a', -0.5), int('exclude_outside', 1)], x, { scales: [1, 1, 0.5, 0.7] }));
    await matchesOrt(resize(13, [mode('cubic'), ctm('half_pixel')], x, { scales: [1, 1, 2, 1.5] }));
    await matchesOrt(resize(19, [mode('linear'), ctm('half_pixel_symmetric')], x, { scales: [1, 1, 1.7, 0.55] }));
  });

  it('nearest with each nearest_mode and transform', async () => {
    const x = [1, 2, 4, 5];
    for (const nm of ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil']) {
      await matchesOrt(resize(13, [mode('nearest'), str('nearest_mode', nm)], x, { scales: [1, 1, 1.5, 2.4] }));
      await matchesOrt(resize(13, [mode('nearest'), str('nearest_mode', nm), ctm('align_corners')], x, { sizes: [1, 2, 7, 3] }));
    }
    await matchesOrt(resize(13, [mode('nearest'), ctm('tf_half_pixel_for_nn')], x, { sizes: [1, 2, 3, 8] }));
  });

  it('opset 18: axes, keep_aspect_ratio_policy and antialias', async () => {
    const x = [1, 2, 6, 8];
    await matchesOrt(resize(18, [mode('linear'), ints('axes', [2, 3])], x, { sizes: [4, 5] }));
    await matchesOrt(resize(18, [mode('linear'), ints('axes', [3])], x, { scales: [0.5] }));
    await matchesOrt(resize(18, [mode('nearest'), str('keep_aspect_ratio_policy', 'not_larger'), ints('axes', [2, 3])], x, { sizes: [3, 3] }));
    await matchesOrt(resize(18, [mode('linear'), str('keep_aspect_ratio_policy', 'not_smaller')], x, { sizes: [1, 2, 3, 3] }));
    await matchesOrt(resize(18, [mode('linear'), int('antialias', 1)], x, { scales: [1, 1, 0.5, 0.4] }));
    await matchesOrt(resize(18, [mode('cubic'), int('antialias', 1)], x, { scales: [1, 1, 0.6, 0.3] }));
  });

  it('Resize-10 and Upsample (opsets 7 and 9): asymmetric, nearest rounds as ONNX Runtime does', async () => {
    const x = [1, 2, 4, 5];
    await matchesOrt(resize(10, [mode('nearest')], x, { scales: [1, 1, 2, 3] }));
    await matchesOrt(resize(10, [mode('nearest')], x, { scales: [1, 1, 0.5, 0.6] }));
    await matchesOrt(resize(10, [mode('linear')], x, { scales: [1, 1, 1.5, 2.5] }));
    await matchesOrt(resize(9, [mode('linear')], x, { scales: [1, 1, 2, 1.5] }, 'Upsample'));
    await matchesOrt(resize(7, [mode('nearest'), { name: 'scales', floats: [1, 1, 2, 3], type: 6 }], x, {}, 'Upsample'));
  });

  it('refuses what it does not implement before running', () => {
    expect(problems(resize(13, [mode('linear'), ctm('tf_crop_and_resize')], [1, 1, 4, 4], { scales: [1, 1, 2, 2] })).join()).to.match(/tf_crop_and_resize with scales/);
    expect(problems(resize(13, [mode('area')], [1, 1, 4, 4], { scales: [1, 1, 2, 2] })).join()).to.match(/mode 'area'/);
    expect(problems(resize(18, [mode('nearest'), int('antialias', 1)], [1, 1, 4, 4], { scales: [1, 1, 2, 2] })).join()).to.match(/antialias with mode nearest/);
    expect(problems(resize(13, [mode('linear'), ctm('corners')], [1, 1, 4, 4], { scales: [1, 1, 2, 2] })).join()).to.match(/coordinate_transformation_mode 'corners'/);
  });

  it('input gradients match finite differences (linear, cubic antialias, nearest)', async () => {
    const x: HostTensor = { dims: [1, 1, 4, 5], data: randomFloats(31, 20) };
    const mk = (c: Case) => caseBytes(c);
    await checkInputGradient(mk(resize(13, [mode('linear')], x.dims, { scales: [1, 1, 1.5, 0.8] })), { x }, 'x', [0, 7, 19]);
    await checkInputGradient(mk(resize(18, [mode('cubic'), int('antialias', 1)], x.dims, { scales: [1, 1, 0.5, 0.6] })), { x }, 'x', [1, 8, 18]);
    await checkInputGradient(mk(resize(13, [mode('nearest')], x.dims, { scales: [1, 1, 2, 1.5] })), { x }, 'x', [0, 12]);
  });
});

/**
 * Gradient rules for the mirror's remaining float ops (issue 15): GridSample, LpPool, LRN,
 * ConvTranspose's weight gradient with groups, GatherND with batch_dims, ScatterElements /
 * ScatterND with reduction mul, max, min. Each on small models: the gradient graph run in ONNX
 * Runtime against central finite differences of ONNX Runtime's forward (test/autodiff/harness.ts)
 * over several attribute combinations, against the tfjs mirror's gradient (relative L2 <= 1e-3),
 * and a 5% wrong gradient failing the same check. Inputs are drawn away from kinks (GridSample cell
 * borders and padding bounds, max/min ties, |x| at 0 for p = 1).
 */
import { expect } from 'chai';
import { checkDifferentiable } from '../../src/autodiff/index.js';
import type { HostTensor } from '../../src/differentiable/model.js';
import { createEngine } from '../../src/engines/factory.js';
import { UserError } from '../../src/errors.js';
import { Model } from '../../src/ir/model.js';
import type { AttributeProto, NodeProto } from '../../src/onnx/proto-types.js';
import { expectGradientsMatch, expectWrongGradientFails, lossFeeds, randn, relL2, runGradientGraph, smallCase, type GradCase, type TVal } from './harness.js';

const ints = (name: string, v: number[]): AttributeProto => ({ name, ints: v, type: 7 });
const int = (name: string, v: number): AttributeProto => ({ name, i: v, type: 2 });
const flt = (name: string, v: number): AttributeProto => ({ name, f: v, type: 1 });
const str = (name: string, v: string): AttributeProto => ({ name, s: new TextEncoder().encode(v), type: 3 });
const nd = (op: string, ins: string[], attrs: AttributeProto[] = [], outs = ['y']): NodeProto => ({ op_type: op, input: ins, output: outs, name: `n_${op}`, attribute: attrs });
const count = (dims: number[]): number => dims.reduce((a, b) => a * b, 1);
const val = (name: string, dims: number[], seed: number, init = false, scale = 1): TVal => ({ name, dims, data: randn(count(dims), seed, scale), init });
const away = (name: string, dims: number[], seed: number, lo = 0.3, init = false): TVal => ({ name, dims, data: randn(count(dims), seed).map((v) => (v >= 0 ? v + lo : v - lo)), init });
const i64 = (name: string, data: number[], dims = [data.length]): TVal => ({ name, dims, data, init: true, type: 7 });
const host = (t: { dims: number[]; data: unknown }): HostTensor => ({ dims: t.dims, data: t.data as Float32Array });

/** FD check, and the same gradients against the tfjs mirror's (relative L2 <= 1e-3). */
async function check(kase: GradCase, opts: { mirror?: boolean; steps?: readonly number[] } = {}): Promise<void> {
  await expectGradientsMatch(kase, opts.steps ? { steps: opts.steps } : {});
  if (opts.mirror === false) return;
  const lf = await lossFeeds(kase);
  const r = await runGradientGraph(kase, lf);
  const params = kase.params ?? [];
  const inputs = kase.inputs ?? [];
  const engine = await createEngine({ model: kase.model, engine: 'tfjs', trainable: params });
  try {
    const feeds = Object.fromEntries(Object.entries(kase.feeds).map(([k, v]) => [k, host(v)]));
    const cot = Object.fromEntries(Object.entries(lf.cotangents).map(([k, v]) => [k, host(v)]));
    const ref = await engine.gradients(feeds, cot, { inputs, params });
    for (const n of inputs) expect(relL2(r.inputGrads[n]!, ref.inputGrads[n]!.data as Float32Array), `mirror, input ${n}`).to.be.at.most(1e-3);
    for (const n of params) expect(relL2(r.paramGrads[n]!, ref.paramGrads[n]!.data as Float32Array), `mirror, parameter ${n}`).to.be.at.most(1e-3);
  } finally {
    engine.dispose();
  }
}

// ---- GridSample grids away from the kinks

type Pad = 'zeros' | 'border' | 'reflection';

/** The coordinate the forward reads for denormalised u (the mirror's transform), for the kink test. */
function transformed(u: number, L: number, pad: Pad, ac: boolean, nearest: boolean): number {
  let x = nearest ? Math.round(u) : u;
  const lo = ac ? 0 : -0.5;
  const hi = ac ? L - 1 : L - 0.5;
  if (pad === 'zeros' || (x >= lo && x <= hi)) return x;
  if (pad === 'border') return Math.min(Math.max(x, 0), L - 1);
  const rng = hi - lo;
  const below = x < lo;
  const dx = below ? lo - x : x - hi;
  const n = Math.floor(dx / rng);
  const r = dx - n * rng;
  x = below === (n % 2 === 0) ? lo + r : hi - r;
  return x;
}

/** Normalised grid values for one axis of length L, drawn over [-1.4, 1.4] and kept off every kink. */
function gridAxis(n: number, L: number, pad: Pad, ac: boolean, nearest: boolean, seed: number): number[] {
  const scale = ac ? (L - 1) / 2 : L / 2;
  const lo = ac ? 0 : -0.5;
  const hi = ac ? L - 1 : L - 0.5;
  const rng = hi - lo;
  const raw = randn(n * 8, seed);
  const out: number[] = [];
  for (let i = 0; out.length < n; i++) {
    const gv = Math.tanh(raw[i % raw.length]! + 0.001 * i) * 1.4;
    const u = gv * scale + (L - 1) / 2;
    const frac = (v: number): number => v - Math.floor(v);
    const far = (v: number, k: number): boolean => Math.abs(v - k) >= 0.08;
    let ok = true;
    if (nearest) ok = far(frac(u), 0.5);
    else {
      const t = transformed(u, L, pad, ac, false);
      ok = far(frac(t), 0) && far(frac(t), 1) && far(t, lo) && far(t, hi);
      // the padding's own kinks: the bounds, and for reflection every fold lo + k rng
      for (let k = -3; k <= 3; k++) ok = ok && far(u, lo + k * rng);
      ok = ok && far(u, 0) && far(u, L - 1);
    }
    if (ok) out.push(gv);
  }
  return out;
}

function gridCase(opts: { mode: string; pad: Pad; ac: 0 | 1; opset: number; seed: number; x?: number[]; out?: [number, number] }): GradCase {
  const [N, C, H, W] = opts.x ?? [2, 3, 4, 5];
  const [Ho, Wo] = opts.out ?? [3, 4];
  const nearest = opts.mode === 'nearest';
  const gx = gridAxis(N * Ho * Wo, W, opts.pad, opts.ac === 1, nearest, opts.seed);
  const gy = gridAxis(N * Ho * Wo, H, opts.pad, opts.ac === 1, nearest, opts.seed + 1);
  const grid = new Float32Array(N * Ho * Wo * 2);
  for (let i = 0; i < N * Ho * Wo; i++) {
    grid[2 * i] = gx[i]!;
    grid[2 * i + 1] = gy[i]!;
  }
  const attrs = [str('mode', opts.mode), str('padding_mode', opts.pad), int('align_corners', opts.ac)];
  return smallCase([nd('GridSample', ['x', 'grid'], attrs)], [val('x', [N, C, H, W], opts.seed + 2), { name: 'grid', dims: [N, Ho, Wo, 2], data: grid }], ['y'], {
    opset: opts.opset,
    ...(nearest ? { inputs: ['x'] } : {}),
  });
}

describe('autodiff rules for the remaining float ops vs finite differences of ORT and the mirror', function () {
  this.timeout(600000);

  describe('GridSample', () => {
    for (const mode of ['bilinear', 'nearest', 'bicubic'])
      for (const pad of ['zeros', 'border', 'reflection'] as Pad[])
        for (const ac of [0, 1] as const) {
          if (mode === 'bicubic' && pad === 'border') continue;
          it(`${mode}, padding ${pad}, align_corners ${ac} (opset 16): dX${mode === 'nearest' ? '' : ', dgrid'}`, async () =>
            check(gridCase({ mode, pad, ac, opset: 16, seed: 3 + ac + 10 * pad.length + mode.length })));
        }
    it('opset 20 names (linear, cubic, nearest)', async () => {
      await check(gridCase({ mode: 'linear', pad: 'reflection', ac: 0, opset: 20, seed: 41 }));
      await check(gridCase({ mode: 'cubic', pad: 'zeros', ac: 1, opset: 20, seed: 42 }));
      await check(gridCase({ mode: 'nearest', pad: 'border', ac: 0, opset: 20, seed: 43 }));
    });
    it('upsampling grid (more outputs than inputs, taps repeated)', async () => check(gridCase({ mode: 'bilinear', pad: 'zeros', ac: 0, opset: 16, seed: 44, x: [1, 2, 3, 3], out: [6, 5] })));
    it('a symbolic batch (the other dims static)', async () => {
      const c = gridCase({ mode: 'bilinear', pad: 'border', ac: 0, opset: 16, seed: 48 });
      const proto = c.model.syncProto();
      for (const v of proto.graph!.input!) v.type!.tensor_type!.shape!.dim![0] = { dim_param: 'N' };
      await check({ ...c, model: new Model(proto) });
    });
    it('nearest: the grid gradient is zero', async () => {
      const c = gridCase({ mode: 'nearest', pad: 'zeros', ac: 0, opset: 16, seed: 45 });
      const r = await runGradientGraph({ ...c, inputs: ['x', 'grid'] });
      expect(Array.from(r.inputGrads['grid']!).every((v) => v === 0)).to.equal(true);
    });
    it('bicubic with border padding is refused by name', () => {
      const c = gridCase({ mode: 'bicubic', pad: 'zeros', ac: 0, opset: 16, seed: 46 });
      c.model.graph.nodes[0]!.proto.attribute!.find((a) => a.name === 'padding_mode')!.s = new TextEncoder().encode('border');
      expect(() => checkDifferentiable(c.model, { loss: { kind: 'mean', output: 'y' }, inputs: ['x'] })).to.throw(UserError, /GridSample.*cubic with padding_mode 'border'/);
    });
    it('a 5% wrong GridSample gradient fails', async () => expectWrongGradientFails(gridCase({ mode: 'bilinear', pad: 'reflection', ac: 1, opset: 16, seed: 47 })));
  });

  describe('LpPool', () => {
    const cases: { what: string; p: number; attrs: AttributeProto[]; opset: number; x?: number[] }[] = [
      { what: 'p 2, 2x2 stride 2', p: 2, attrs: [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])], opset: 11 },
      { what: 'p 1, 3x3 stride 1, pads', p: 1, attrs: [ints('kernel_shape', [3, 3]), ints('pads', [1, 0, 1, 2])], opset: 11 },
      { what: 'p 3, 3x2 strides 2x1 overlapping', p: 3, attrs: [ints('kernel_shape', [3, 2]), ints('strides', [2, 1])], opset: 11 },
      { what: 'p 2, auto_pad SAME_UPPER', p: 2, attrs: [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), str('auto_pad', 'SAME_UPPER')], opset: 11 },
      { what: 'p 2, 1-D', p: 2, attrs: [ints('kernel_shape', [3]), ints('strides', [2])], opset: 11, x: [2, 3, 9] },
      { what: 'p 4, dilations and ceil_mode (opset 18)', p: 4, attrs: [ints('kernel_shape', [2, 2]), ints('dilations', [2, 1]), ints('strides', [2, 2]), int('ceil_mode', 1)], opset: 18 },
    ];
    for (const c of cases) {
      it(c.what, async () => {
        const dims = c.x ?? [2, 3, 7, 6];
        await check(smallCase([nd('LpPool', ['x'], [int('p', c.p), ...c.attrs])], [away('x', dims, 5 + c.p, 0.2)], ['y'], { opset: c.opset }));
      });
    }
    it('a 5% wrong LpPool gradient fails', async () => expectWrongGradientFails(smallCase([nd('LpPool', ['x'], [int('p', 3), ints('kernel_shape', [2, 2])])], [away('x', [1, 2, 4, 4], 6, 0.2)], ['y'], { opset: 11 })));
  });

  // ONNX Runtime's LRN takes 4-D inputs and odd sizes only (the rule follows ONNX's window for any size)
  describe('LRN', () => {
    const cases: { size: number; alpha: number; beta: number; bias: number; x: number[] }[] = [
      { size: 3, alpha: 0.5, beta: 0.75, bias: 1, x: [2, 5, 3, 3] },
      { size: 5, alpha: 0.9, beta: 0.6, bias: 2, x: [2, 6, 2, 3] },
      { size: 1, alpha: 0.3, beta: 1.2, bias: 0.5, x: [1, 4, 3, 1] },
      { size: 5, alpha: 1e-4, beta: 0.75, bias: 1, x: [1, 7, 2, 2] },
    ];
    for (const c of cases) {
      it(`size ${c.size}, alpha ${c.alpha}, beta ${c.beta}, bias ${c.bias}, x [${c.x.join(',')}]`, async () =>
        check(smallCase([nd('LRN', ['x'], [int('size', c.size), flt('alpha', c.alpha), flt('beta', c.beta), flt('bias', c.bias)])], [val('x', c.x, 8 + c.size)], ['y'])));
    }
    it('a 5% wrong LRN gradient fails', async () => expectWrongGradientFails(smallCase([nd('LRN', ['x'], [int('size', 3), flt('alpha', 0.5)])], [val('x', [1, 4, 2, 2], 9)], ['y'])));
  });

  describe('ConvTranspose with groups: dX, dW, dB', () => {
    const cases: { what: string; x: number[]; w: number[]; attrs: AttributeProto[]; opset: number }[] = [
      { what: 'group 2, strides 2 (opset 13)', x: [2, 4, 3, 3], w: [4, 3, 3, 3], attrs: [int('group', 2), ints('strides', [2, 2])], opset: 13 },
      { what: 'group 3, pads, dilations (opset 18: Split num_outputs)', x: [1, 6, 4, 3], w: [6, 2, 2, 3], attrs: [int('group', 3), ints('pads', [1, 0, 0, 1]), ints('dilations', [2, 1])], opset: 18 },
      { what: 'depthwise, strides, output_padding', x: [2, 3, 3, 4], w: [3, 1, 3, 3], attrs: [int('group', 3), ints('strides', [2, 3]), ints('output_padding', [1, 2]), ints('pads', [1, 1, 1, 1])], opset: 13 },
      { what: 'group 2, 1-D', x: [2, 4, 5], w: [4, 2, 3], attrs: [int('group', 2), ints('strides', [2])], opset: 13 },
    ];
    for (const c of cases) {
      it(c.what, async () => {
        const outC = c.w[1]! * (c.attrs.find((a) => a.name === 'group')!.i as number);
        const vals = [val('x', c.x, 1), val('w', c.w, 2, true), val('b', [outC], 3, true)];
        await check(smallCase([nd('ConvTranspose', ['x', 'w', 'b'], c.attrs)], vals, ['y'], { opset: c.opset }));
      });
    }
    it('a 5% wrong grouped ConvTranspose weight gradient fails', async () =>
      expectWrongGradientFails(smallCase([nd('ConvTranspose', ['x', 'w'], [int('group', 2)])], [val('x', [1, 4, 3, 3], 1), val('w', [4, 2, 2, 2], 2, true)], ['y'], { opset: 13, inputs: [] })));
  });

  describe('GatherND with batch_dims', () => {
    it('batch_dims 1: tuples of 1 and 2 indices, repeated indices', async () => {
      await check(smallCase([nd('GatherND', ['x', 'i'], [int('batch_dims', 1)])], [val('x', [2, 4, 3], 1), i64('i', [1, 3, 1, 2, 0, 0], [2, 3, 1])], ['y'], { opset: 16 }));
      await check(smallCase([nd('GatherND', ['x', 'i'], [int('batch_dims', 1)])], [val('x', [3, 4, 3], 2), i64('i', [0, 2, 3, 1, 1, 1, 1, 1, 2, 0, 3, 2], [3, 2, 2])], ['y'], { opset: 16 }));
    });
    it('batch_dims 2', async () =>
      check(smallCase([nd('GatherND', ['x', 'i'], [int('batch_dims', 2)])], [val('x', [2, 3, 4, 2], 3), i64('i', [3, 0, 1, 2, 2, 1, 0, 0, 3, 3, 1, 1], [2, 3, 2, 1])], ['y'], { opset: 16 })));
    it('a 5% wrong GatherND gradient fails', async () =>
      expectWrongGradientFails(smallCase([nd('GatherND', ['x', 'i'], [int('batch_dims', 1)])], [val('x', [2, 4, 3], 1), i64('i', [1, 3, 1, 2], [2, 2, 1])], ['y'], { opset: 16 })));
  });

  describe('float Range, OneHot values, EyeLike', () => {
    const scalarIn = (name: string, v: number): TVal => ({ name, dims: [], data: [v] });
    it('Range: start and delta (limit sets the length only)', async () =>
      check(smallCase([nd('Range', ['s', 'l', 'd'])], [scalarIn('s', 0.3), scalarIn('l', 5.05), scalarIn('d', 0.5)], ['y'], { opset: 11, inputs: ['s', 'd'] })));
    it('OneHot: the gradient of [off, on] (axis -1 and 0, a negative index)', async () => {
      await check(smallCase([nd('OneHot', ['i', 'depth', 'v'])], [i64('i', [0, 3, -1, 2, 1, 1], [2, 3]), i64('depth', [4], []), { name: 'v', dims: [2], data: [-0.4, 1.3] }], ['y'], { opset: 11 }));
      await check(smallCase([nd('OneHot', ['i', 'depth', 'v'], [int('axis', 0)])], [i64('i', [2, 0, 1]), i64('depth', [3], []), { name: 'v', dims: [2], data: [0.2, 0.9] }], ['y'], { opset: 11 }));
    });
    it('EyeLike: no gradient through it (y = EyeLike(x) x)', async () =>
      check(smallCase([nd('EyeLike', ['x'], [int('k', 1)], ['e']), nd('Mul', ['e', 'x'])], [val('x', [3, 4], 4)], ['y'], { opset: 13 })));
    it('a 5% wrong Range gradient fails', async () =>
      expectWrongGradientFails(smallCase([nd('Range', ['s', 'l', 'd'])], [scalarIn('s', 0.3), scalarIn('l', 5.05), scalarIn('d', 0.5)], ['y'], { opset: 11, inputs: ['s', 'd'] })));
  });

  describe('ScatterElements / ScatterND with reduction mul, max, min: data and updates', () => {
    /** data and updates with distinct values (no max/min ties): well-separated levels, shuffled. */
    const distinct = (name: string, dims: number[], seed: number, offset: number): TVal => {
      const n = count(dims);
      const r = randn(n, seed);
      const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => r[a]! - r[b]!);
      const data = new Float32Array(n);
      order.forEach((k, rank) => (data[k] = (rank - n / 2) * 0.37 + offset + 0.05 * r[k]!));
      return { name, dims, data };
    };
    for (const red of ['mul', 'max', 'min']) {
      const opset = red === 'mul' ? 16 : 18;
      it(`ScatterElements reduction ${red} (opset ${opset}), repeated indices`, async () => {
        await check(smallCase([nd('ScatterElements', ['x', 'i', 'u'], [int('axis', 1), str('reduction', red)])], [distinct('x', [3, 4], 1, 0), i64('i', [1, 1, 0, 2, 3, 3, 3, 0, 2], [3, 3]), distinct('u', [3, 3], 2, 0.11)], ['y'], { opset }));
        await check(smallCase([nd('ScatterElements', ['x', 'i', 'u'], [int('axis', 0), str('reduction', red)])], [distinct('x', [3, 2, 2], 3, 0.2), i64('i', [2, 0, 2, 2, 2, 1, 0, 2], [2, 2, 2]), distinct('u', [2, 2, 2], 4, -0.13)], ['y'], { opset: 18 }));
      });
      it(`ScatterND reduction ${red} (opset ${opset}), repeated indices, slices`, async () => {
        await check(smallCase([nd('ScatterND', ['x', 'i', 'u'], [str('reduction', red)])], [distinct('x', [4, 3], 5, 0), i64('i', [2, 0, 2, 3], [4, 1]), distinct('u', [4, 3], 6, 0.07)], ['y'], { opset }));
        await check(smallCase([nd('ScatterND', ['x', 'i', 'u'], [str('reduction', red)])], [distinct('x', [3, 4], 7, 0), i64('i', [0, 1, 2, 3, 0, 1], [3, 2]), distinct('u', [3], 8, 0.03)], ['y'], { opset: 18 }));
      });
    }
    it('mul with zero updates (one and two zeros at a position): exact, no division by zero', async () => {
      const u = { name: 'u', dims: [2, 3], data: [0, 1.3, -0.7, 0, 0, 0.9] };
      // positions: row 0 col 1 gets 0 and 1.3 (one zero); row 1 col 2 gets 0, 0 (two zeros)
      const kase = smallCase([nd('ScatterElements', ['x', 'i', 'u'], [int('axis', 1), str('reduction', 'mul')])], [val('x', [2, 4], 9), i64('i', [1, 1, 3, 2, 2, 0], [2, 3]), u], ['y'], { opset: 16 });
      await check(kase);
      const r = await runGradientGraph(kase);
      expect(Array.from(r.inputGrads['u']!).every(Number.isFinite)).to.equal(true);
    });
    it('a 5% wrong ScatterElements max gradient fails', async () =>
      expectWrongGradientFails(smallCase([nd('ScatterElements', ['x', 'i', 'u'], [int('axis', 1), str('reduction', 'max')])], [distinct('x', [2, 4], 1, 0), i64('i', [1, 1, 0, 2], [2, 2]), distinct('u', [2, 2], 2, 0.11)], ['y'], { opset: 18 })));
    it('a 5% wrong ScatterND mul gradient fails', async () =>
      expectWrongGradientFails(smallCase([nd('ScatterND', ['x', 'i', 'u'], [str('reduction', 'mul')])], [val('x', [4, 3], 5), i64('i', [2, 0, 2], [3, 1]), val('u', [3, 3], 6)], ['y'], { opset: 16 })));
  });
});

/**
 * The attack building blocks on their own: the pixel map against the data loader's own
 * preprocessing and its adjoint, score specs, the budget check, the warp and flow-smoothness
 * gradients against finite differences, L-BFGS and Adam.
 */
import { expect } from 'chai';
import { checkBudget, linfDistance } from '../../src/attacks/budget.js';
import { lbfgs } from '../../src/attacks/lbfgs.js';
import { pixelMap } from '../../src/attacks/pixels.js';
import { parseScoreReduce, resolveScoreSpec, scoreCotangent, scoreMetadata, scoresOf, SCORE_KEY } from '../../src/attacks/score.js';
import { applyPerturbation } from '../../src/attacks/uap.js';
import { flowSmoothness, warp, warpFlowGrad } from '../../src/attacks/warp.js';
import { toChw } from '../../src/data/image.js';
import { DEFAULT_PREPROCESS } from '../../src/data/preprocess.js';
import { Adam } from '../../src/differentiable/adam.js';
import { UserError } from '../../src/errors.js';
import { dot } from '../helpers/finite-diff.js';
import { randomFloats } from '../helpers/seeded-random.js';

describe('attacks/pixels', () => {
  const spec = { ...DEFAULT_PREPROCESS, range: [-1, 2] as [number, number], colorOrder: 'BGR' as const, size: [3, 4] as [number, number] };
  const hw = 12;

  it('maps [0,1] pixels exactly as the loader maps 8-bit pixels (range, mean/std, BGR)', () => {
    const rgb = Uint8Array.from({ length: hw * 3 }, (_, i) => (i * 37) % 256);
    const fromLoader = toChw({ width: 4, height: 3, data: rgb }, spec);
    const chw = new Float32Array(3 * hw);
    for (let c = 0; c < 3; c++) for (let i = 0; i < hw; i++) chw[c * hw + i] = rgb[i * 3 + c]! / 255;
    const mine = pixelMap(spec, hw).toModel(chw);
    mine.forEach((v, i) => expect(v).to.be.closeTo(fromLoader[i]!, 1e-5));
  });

  it('gradToPixels is the adjoint of the linear part of toModel (<g, J p> = <J^T g, p>)', () => {
    const m = pixelMap(spec, hw);
    const p = randomFloats(1, 2 * 3 * hw, 0, 1);
    const g = randomFloats(2, 2 * 3 * hw);
    const zero = m.toModel(new Float32Array(p.length));
    const Jp = m.toModel(p).map((v, i) => v - zero[i]!);
    expect(dot(g, Jp)).to.be.closeTo(dot(m.gradToPixels(g), p), 1e-4);
  });
});

describe('attacks/score', () => {
  it('the only output by default; several outputs need a choice, naming them', () => {
    expect(resolveScoreSpec(['q'], new Map())).to.deep.equal({ output: 'q', reduce: { kind: 'none' }, lowerIsBetter: false });
    expect(() => resolveScoreSpec(['a', 'b'], new Map())).to.throw(UserError, /2 outputs \('a', 'b'\): choose the score with --score-output/);
    expect(() => resolveScoreSpec(['a'], new Map(), { output: 'x' })).to.throw(UserError, /'x' is not an output/);
    const stored = new Map([[SCORE_KEY, scoreMetadata({ output: 'b', reduce: { kind: 'expectation', bins: 5 }, lowerIsBetter: true })]]);
    expect(resolveScoreSpec(['a', 'b'], stored)).to.deep.equal({ output: 'b', reduce: { kind: 'expectation', bins: 5 }, lowerIsBetter: true });
    expect(resolveScoreSpec(['a', 'b'], stored, { lowerIsBetter: false }).lowerIsBetter).to.equal(false);
    expect(() => resolveScoreSpec(['a'], new Map([[SCORE_KEY, '{']]))).to.throw(UserError, /not valid JSON/);
    expect(() => parseScoreReduce('expectation:1')).to.throw(UserError, /2..1000 bins/);
  });

  it('reductions: none, mean, expectation over bins 1..k; cotangents carry the sign of the direction', () => {
    const y = { dims: [2, 3], data: Float32Array.from([0.2, 0.3, 0.5, 1, 0, 0]) };
    expect(scoresOf({ output: 'y', reduce: { kind: 'mean' }, lowerIsBetter: false }, y).map((v) => +v.toFixed(6))).to.deep.equal([0.333333, 0.333333]);
    expect(scoresOf({ output: 'y', reduce: { kind: 'expectation', bins: 3 }, lowerIsBetter: false }, y).map((v) => +v.toFixed(6))).to.deep.equal([2.3, 1]);
    expect(() => scoresOf({ output: 'y', reduce: { kind: 'none' }, lowerIsBetter: false }, y)).to.throw(UserError, /3 values per image/);
    const up = scoreCotangent({ output: 'y', reduce: { kind: 'expectation', bins: 3 }, lowerIsBetter: false }, [2, 3], 'up');
    expect(Array.from(up.data)).to.deep.equal([1, 2, 3, 1, 2, 3]);
    expect(Array.from(scoreCotangent({ output: 'y', reduce: { kind: 'none' }, lowerIsBetter: true }, [2, 1], 'up').data)).to.deep.equal([-1, -1]);
    expect(Array.from(scoreCotangent({ output: 'y', reduce: { kind: 'none' }, lowerIsBetter: false }, [2, 1], 'down').data)).to.deep.equal([-1, -1]);
  });
});

describe('attacks/budget', () => {
  it('passes within eps + 1e-6 and refuses a larger change or a value outside [0,1]', () => {
    const clean = Float32Array.from([0.5, 0.2, 0.9]);
    expect(checkBudget(clean, Float32Array.from([0.5 + 4 / 255, 0.2, 0.9]), 4 / 255)).to.be.closeTo(4 / 255, 1e-7);
    expect(() => checkBudget(clean, Float32Array.from([0.5 + 4.01 / 255, 0.2, 0.9]), 4 / 255)).to.throw(UserError, /exceeds the budget eps 4.0000\/255/);
    expect(() => checkBudget(clean, Float32Array.from([0.5, -0.001, 0.9]), 1)).to.throw(UserError, /outside the pixel range/);
    expect(() => checkBudget(clean, Float32Array.from([0.5, NaN, 0.9]), 1)).to.throw(UserError, /outside the pixel range/);
    expect(linfDistance(clean, clean)).to.equal(0);
  });

  it('a UAP is tiled to any image size and clipped to [0,1]', () => {
    const u = { dims: [3, 2, 2] as [3, number, number], data: Float32Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? 0.1 : -0.1)) };
    const x = new Float32Array(3 * 3 * 5).fill(0.05);
    const y = applyPerturbation(x, [1, 3, 3, 5], u);
    // row 0: +0.1, -0.1 (clipped to 0), +0.1, ...; row 2 repeats row 0
    expect(Array.from(y.subarray(0, 5)).map((v) => +v.toFixed(4))).to.deep.equal([0.15, 0, 0.15, 0, 0.15]);
    expect(Array.from(y.subarray(10, 15))).to.deep.equal(Array.from(y.subarray(0, 5)));
  });
});

describe('attacks/warp and flow smoothness', () => {
  const [n, H, W] = [2, 5, 6];
  const x = randomFloats(3, n * 3 * H * W, 0, 1);

  it('zero flow is the identity; an integer flow shifts the image', () => {
    expect(Array.from(warp(x, new Float32Array(n * 2 * H * W), n, H, W))).to.deep.equal(Array.from(x));
    const flow = new Float32Array(n * 2 * H * W);
    flow.fill(1, 0, H * W); // image 0, horizontal +1
    const y = warp(x, flow, n, H, W);
    expect(y[0]).to.equal(x[1]);
    expect(y[W - 1]).to.equal(x[W - 1]); // clamped at the border
  });

  it('the flow gradient and the smoothness gradient match central finite differences', () => {
    const flow = randomFloats(4, n * 2 * H * W, -0.8, 0.8);
    const gOut = randomFloats(5, x.length);
    const L = (f: Float32Array): number => dot(gOut, warp(x, f, n, H, W));
    const g = warpFlowGrad(x, flow, gOut, n, H, W);
    const d = randomFloats(6, flow.length);
    const h = 1e-3;
    const plus = flow.map((v, i) => v + h * d[i]!);
    const minus = flow.map((v, i) => v - h * d[i]!);
    const fd = (L(plus) - L(minus)) / (2 * h);
    expect(fd).to.be.closeTo(dot(g, d), 2e-2 * Math.abs(fd) + 1e-3);
    const S = (f: Float32Array): number => flowSmoothness(f, n, H, W).loss;
    const fdS = (S(plus) - S(minus)) / (2 * h);
    expect(fdS).to.be.closeTo(dot(flowSmoothness(flow, n, H, W).grad, d), 1e-3 * Math.abs(fdS) + 1e-3);
    // and a wrong gradient fails the same check
    expect(Math.abs(fd - 1.05 * dot(g, d))).to.be.greaterThan(2e-2 * Math.abs(fd) + 1e-3);
  });
});

describe('attacks/lbfgs and differentiable/adam', () => {
  it('L-BFGS minimises the Rosenbrock function from the usual start', async () => {
    const f = async (v: Float64Array): Promise<{ value: number; grad: Float64Array }> => {
      const [a, b] = [v[0]!, v[1]!];
      return { value: (1 - a) ** 2 + 100 * (b - a * a) ** 2, grad: Float64Array.from([-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)]) };
    };
    const r = await lbfgs(f, Float64Array.from([-1.2, 1]), { iterations: 100, maxLineSearch: 30 });
    expect(r.value).to.be.lessThan(1e-8);
  });

  it('Adam: the first step moves every coordinate by lr against its gradient sign (bias correction)', () => {
    const p = Float32Array.from([1, 2, 3]);
    new Adam(3, { lr: 0.1 }).step(p, [5, -0.01, 0]);
    expect(p[0]).to.be.closeTo(0.9, 1e-6);
    expect(p[1]).to.be.closeTo(2.1, 1e-5);
    expect(p[2]).to.equal(3);
    expect(() => new Adam(1, { lr: 0 })).to.throw(RangeError);
  });
});

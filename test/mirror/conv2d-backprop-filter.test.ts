/**
 * The fast Conv2DBackpropFilter against tfjs-backend-cpu's stock kernel, in the same process.
 *
 * Metric (relErrVsStock): max_i |fast_i - stock_i| / max_i |stock_i| over every filter element
 * (0 when both are all zero; Infinity when the lengths differ or only the reference is all zero);
 * a case passes at <= 1e-5. Both kernels sum in float64 and round once, so the observed error is
 * far below that; the bound leaves room for a change of summation order.
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import {
  conv2dBackpropFilterFast,
  conv2dBackpropFilterFastNCHW,
  conv2dBackpropFilterKernelFunc,
  fastConvGradKernelsRegistered,
  registerFastConvGradKernels,
  restoreStockConvGradKernels,
  type ConvGradInfo,
} from '../../src/mirror/kernels/conv2d-backprop-filter.js';
import { convInfoOf, expectMetricResolves, geometryOf, perCase, relErrVsStock, size, TOL, useCpuBackend, type ConvCase } from '../helpers/conv-kernel-compare.js';
import { randomFloats } from '../helpers/seeded-random.js';

type Case = ConvCase;

const CASES: Case[] = [
  { name: '1x1, Ci 1 -> Co 1, valid', x: [1, 5, 5, 1], f: [1, 1, 1, 1], strides: 1, pad: 'valid' },
  { name: '3x3 s1 same, batch 3, 7x9', x: [3, 7, 9, 3], f: [3, 3, 3, 8], strides: 1, pad: 'same' },
  { name: '3x3 s2 same, batch 3, 7x9', x: [3, 7, 9, 3], f: [3, 3, 3, 8], strides: 2, pad: 'same' },
  { name: '3x3 s2 valid, 11x13', x: [1, 11, 13, 5], f: [3, 3, 5, 7], strides: 2, pad: 'valid' },
  { name: '5x5 s1 explicit asymmetric (1,2 / 2,0)', x: [1, 10, 11, 6], f: [5, 5, 6, 9], strides: 1, pad: [[0, 0], [1, 2], [2, 0], [0, 0]] },
  { name: '5x5 s2 explicit asymmetric (0,3 / 4,1), batch 3', x: [3, 6, 7, 4], f: [5, 5, 4, 5], strides: 2, pad: [[0, 0], [0, 3], [4, 1], [0, 0]] },
  { name: 'stem 7x7 s2 same, 15x15, 3 -> 16', x: [2, 15, 15, 3], f: [7, 7, 3, 16], strides: 2, pad: 'same' },
  { name: 'stem 7x7 s2 explicit pad 3, 17x17', x: [1, 17, 17, 3], f: [7, 7, 3, 8], strides: 2, pad: [[0, 0], [3, 3], [3, 3], [0, 0]] },
  { name: '3x3 s1 same, 64 -> 64', x: [1, 9, 9, 64], f: [3, 3, 64, 64], strides: 1, pad: 'same' },
  { name: '1x1 s2 valid downsample, 32 -> 64', x: [2, 8, 8, 32], f: [1, 1, 32, 64], strides: 2, pad: 'valid' },
  { name: '3x3 strides [2,1] same', x: [1, 9, 10, 5], f: [3, 3, 5, 6], strides: [2, 1], pad: 'same' },
  { name: '3x3 64 -> 1', x: [1, 6, 6, 64], f: [3, 3, 64, 1], strides: 1, pad: 'same' },
  { name: '3x3 13 -> 17 (channels not multiples of 4), batch 3', x: [3, 7, 5, 13], f: [3, 3, 13, 17], strides: 1, pad: 'same' },
  { name: 'numeric pad 1, s2', x: [1, 8, 8, 4], f: [3, 3, 4, 6], strides: 2, pad: 1 },
  { name: "numeric pad 0, s2, dimRoundingMode 'ceil' (last window hangs over)", x: [1, 8, 8, 4], f: [3, 3, 4, 6], strides: 2, pad: 0, dimRoundingMode: 'ceil' },
  { name: '5x5 same on a 3x3 input (every window clipped)', x: [2, 3, 3, 2], f: [5, 5, 2, 3], strides: 1, pad: 'same' },
  { name: '7x7 valid to a single output pixel', x: [1, 7, 7, 8], f: [7, 7, 8, 4], strides: 1, pad: 'valid' },
  { name: 'NCHW 3x3 s1 same', x: [2, 6, 5, 7], f: [3, 3, 6, 4], strides: 1, pad: 'same', dataFormat: 'NCHW' },
  { name: 'NCHW 3x3 s2 explicit asymmetric', x: [1, 5, 9, 8], f: [3, 3, 5, 3], strides: 2, pad: [[0, 0], [0, 0], [2, 0], [1, 2]], dataFormat: 'NCHW' },
];

/** Dilated cases: the stock kernel has no dilations, so its oracle is the same conv with the dilated (zero-stuffed) filter. */
const DILATED: Case[] = [
  { name: '3x3 dilation 2, s1 same', x: [2, 11, 12, 5], f: [3, 3, 5, 6], strides: 1, pad: 'same', dilations: [2, 2] },
  { name: '3x3 dilations [2,1], s2 explicit asymmetric', x: [1, 13, 10, 4], f: [3, 3, 4, 7], strides: 2, pad: [[0, 0], [3, 1], [0, 2], [0, 0]], dilations: [2, 1] },
  { name: '5x5 dilation 2, valid, batch 3', x: [3, 12, 13, 3], f: [5, 5, 3, 5], strides: 1, pad: 'valid', dilations: [2, 2] },
];

interface Prepared {
  x: tf.Tensor4D;
  dy: tf.Tensor4D;
  attrs: tf.NamedAttrMap;
}

let seed = 1;
function prepare(c: Case): Prepared {
  const x = tf.tensor4d(randomFloats(seed++, size(c.x)), c.x);
  // the output shape from computeConv2DInfo: tf.conv2d refuses strides > 1 together with dilations > 1
  const outShape = convInfoOf(c).outShape;
  const dy = tf.tensor4d(randomFloats(seed++, size(outShape)), outShape);
  const attrs: tf.NamedAttrMap = { strides: c.strides, pad: c.pad, dataFormat: c.dataFormat ?? 'NHWC', filterShape: c.f };
  if (c.dimRoundingMode) attrs.dimRoundingMode = c.dimRoundingMode;
  return { x, dy, attrs };
}

function runKernel(which: 'stock' | 'fast', p: Prepared, attrs: tf.NamedAttrMap = p.attrs): Float32Array {
  if (which === 'stock') restoreStockConvGradKernels();
  else registerFastConvGradKernels();
  const t = tf.engine().runKernel(tf.Conv2DBackpropFilter, { x: p.x, dy: p.dy }, attrs) as tf.Tensor;
  const v = t.dataSync() as Float32Array;
  t.dispose();
  return v;
}

/**
 * dW through the gradient path: tf.grad of a conv2d w.r.t. its filter, seeded with dy. The fused
 * (linear, no bias) conv2d is used because it carries its own gradient (customGrad, which calls
 * Conv2DBackpropFilter); tfjs-core's Node bundle registers no gradient for the plain Conv2D kernel.
 */
function viaGrad(c: Case, p: Prepared): Float32Array {
  const f = tf.zeros(c.f) as tf.Tensor4D;
  const g = tf.grad((w: tf.Tensor) =>
    tf.fused.conv2d({ x: p.x, filter: w as tf.Tensor4D, strides: c.strides, pad: c.pad }),
  )(f, p.dy);
  const v = g.dataSync() as Float32Array;
  g.dispose();
  f.dispose();
  return v;
}

/** Stock result for a dilated case: the conv with the zero-stuffed filter, sampled at the taps. */
function stockDilated(c: Case, p: Prepared): Float32Array {
  const [KH, KW, Ci, Co] = c.f;
  const [dh, dw] = c.dilations!;
  const KHe = (KH - 1) * dh + 1;
  const KWe = (KW - 1) * dw + 1;
  const full = runKernel('stock', p, { ...p.attrs, filterShape: [KHe, KWe, Ci, Co] });
  const out = new Float32Array(size(c.f));
  for (let kh = 0; kh < KH; kh++)
    for (let kw = 0; kw < KW; kw++)
      for (let ci = 0; ci < Ci; ci++)
        for (let co = 0; co < Co; co++) out[((kh * KW + kw) * Ci + ci) * Co + co] = full[((kh * dh * KWe + kw * dw) * Ci + ci) * Co + co]!;
  return out;
}

/** The conv geometry computeConv2DInfo gives a case, for calling the pure functions. */
function geometry(c: Case): ConvGradInfo {
  return geometryOf(convInfoOf(c));
}

function direct(c: Case, p: Prepared, info = geometry(c), tuning = {}): Float32Array {
  const fn = c.dataFormat === 'NCHW' ? conv2dBackpropFilterFastNCHW : conv2dBackpropFilterFast;
  return fn(p.x.dataSync() as Float32Array, p.x.shape, p.dy.dataSync() as Float32Array, p.dy.shape, c.f, info, tuning);
}

describe('mirror/kernels/conv2d-backprop-filter', () => {
  let wasRegistered = false;
  const prepared = perCase(prepare);
  const get = prepared.get;
  const stockOf = perCase((c: Case): Float32Array => (c.dilations ? stockDilated(c, get(c)) : runKernel('stock', get(c)))).get;

  before(async () => {
    await useCpuBackend();
    wasRegistered = fastConvGradKernelsRegistered();
    registerFastConvGradKernels(); // captures the stock kernel
  });
  after(() => {
    for (const p of prepared.values()) tf.dispose([p.x, p.dy]);
    if (wasRegistered) registerFastConvGradKernels();
    else restoreStockConvGradKernels();
  });

  describe('the comparison can fail', () => {
    const c = CASES.find((k) => k.name === '3x3 s1 same, 64 -> 64')!;

    it('a transposed result (Ci and Co swapped), a spatially flipped one and an off-by-one pad all fail', () => {
      const ref = stockOf(c);
      const good = runKernel('fast', get(c));
      expect(relErrVsStock(ref, good)).to.be.at.most(TOL);
      const [KH, KW, Ci, Co] = c.f;
      const transposed = new Float32Array(good.length);
      const flipped = new Float32Array(good.length);
      for (let kh = 0; kh < KH; kh++)
        for (let kw = 0; kw < KW; kw++)
          for (let i = 0; i < Ci; i++)
            for (let o = 0; o < Co; o++) {
              const src = ((kh * KW + kw) * Ci + i) * Co + o;
              transposed[((kh * KW + kw) * Co + o) * Ci + i] = good[src]!;
              flipped[((KH - 1 - kh) * KW + (KW - 1 - kw)) * Ci * Co + i * Co + o] = good[src]!;
            }
      expect(relErrVsStock(ref, transposed)).to.be.greaterThan(0.1);
      expect(relErrVsStock(ref, flipped)).to.be.greaterThan(0.1);
      const g = geometry(c);
      const shifted = direct(c, get(c), { ...g, pads: { ...g.pads, top: g.pads.top + 1 } });
      expect(relErrVsStock(ref, shifted)).to.be.greaterThan(0.1);
    });

    it('one element off by 2e-5 of the largest fails; off by 1e-7 passes; a length mismatch fails', () => {
      expectMetricResolves(stockOf(c));
      expect(relErrVsStock(new Float32Array(4), new Float32Array([0, 0, 1e-30, 0]))).to.equal(Infinity);
    });
  });

  describe('matches the stock kernel (max |fast - stock| / max |stock| <= 1e-5)', () => {
    for (const c of CASES) {
      it(c.name, () => {
        const ref = stockOf(c);
        const fast = runKernel('fast', get(c));
        expect(fast.length).to.equal(size(c.f));
        expect(relErrVsStock(ref, fast)).to.be.at.most(TOL);
        expect(relErrVsStock(ref, direct(c, get(c)))).to.be.at.most(TOL);
      });
    }
    for (const c of DILATED) {
      it(`${c.name} (oracle: stock with the zero-stuffed filter)`, () => {
        const ref = stockOf(c);
        expect(relErrVsStock(ref, direct(c, get(c)))).to.be.at.most(TOL);
        // the kernel honours a dilations attribute (tfjs-core itself never passes one)
        expect(relErrVsStock(ref, runKernel('fast', get(c), { ...get(c).attrs, dilations: c.dilations! }))).to.be.at.most(TOL);
      });
    }
  });

  it('through tf.grad of conv2d w.r.t. the filter: the gradient runs the registered kernel, once, and matches stock', () => {
    let calls = 0;
    tf.unregisterKernel(tf.Conv2DBackpropFilter, 'cpu');
    tf.registerKernel({
      kernelName: tf.Conv2DBackpropFilter,
      backendName: 'cpu',
      kernelFunc: (args) => {
        calls++;
        return conv2dBackpropFilterKernelFunc(args);
      },
    });
    try {
      for (const name of ['3x3 s1 same, batch 3, 7x9', '5x5 s2 explicit asymmetric (0,3 / 4,1), batch 3', 'stem 7x7 s2 same, 15x15, 3 -> 16', '3x3 s1 same, 64 -> 64']) {
        const c = CASES.find((k) => k.name === name)!;
        calls = 0;
        const fast = viaGrad(c, get(c));
        expect(calls, name).to.equal(1);
        expect(relErrVsStock(stockOf(c), fast), name).to.be.at.most(TOL);
      }
    } finally {
      registerFastConvGradKernels(); // replaces the spy
    }
    expect(fastConvGradKernelsRegistered()).to.equal(true);
  });

  it('small blocks (K split into ranges of 4, chunks of 1 and 7 rows) give the same result', () => {
    for (const c of [...CASES.filter((k) => /13 -> 17|stem 7x7 s2 same|NCHW 3x3 s2/.test(k.name)), DILATED[1]!]) {
      const ref = stockOf(c);
      for (const tuning of [{ accBudgetBytes: 1, chunkRows: 7 }, { chunkRows: 1 }, { accBudgetBytes: 8 * 20 * 20 }]) {
        expect(relErrVsStock(ref, direct(c, get(c), geometry(c), tuning)), `${c.name} ${JSON.stringify(tuning)}`).to.be.at.most(TOL);
      }
    }
  });

  it('refuses a dy that is not the conv output shape and a filter that does not match the channels', () => {
    const c = CASES[1]!;
    const p = get(c);
    registerFastConvGradKernels();
    expect(() => tf.engine().runKernel(tf.Conv2DBackpropFilter, { x: p.x, dy: p.dy }, { ...p.attrs, strides: 2 })).to.throw(/dy shape/);
    expect(() => direct({ ...c, f: [3, 3, 4, 8] }, p)).to.throw(/does not match/);
  });

  it('register is idempotent, restore brings the stock kernel back, and both can alternate', () => {
    registerFastConvGradKernels();
    registerFastConvGradKernels();
    expect(tf.getKernel(tf.Conv2DBackpropFilter, 'cpu')?.kernelFunc).to.equal(conv2dBackpropFilterKernelFunc);
    expect(fastConvGradKernelsRegistered()).to.equal(true);
    restoreStockConvGradKernels();
    restoreStockConvGradKernels();
    const stockKernel = tf.getKernel(tf.Conv2DBackpropFilter, 'cpu');
    expect(stockKernel?.kernelFunc).to.be.a('function').and.not.equal(conv2dBackpropFilterKernelFunc);
    expect(fastConvGradKernelsRegistered()).to.equal(false);
    registerFastConvGradKernels();
    restoreStockConvGradKernels();
    expect(tf.getKernel(tf.Conv2DBackpropFilter, 'cpu')?.kernelFunc).to.equal(stockKernel?.kernelFunc);
  });
});

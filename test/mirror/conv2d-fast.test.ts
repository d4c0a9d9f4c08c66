/**
 * The fast Conv2D / Conv2DBackpropInput / MaxPoolGrad cpu kernels against tfjs-backend-cpu's stock
 * kernels, in the same process.
 *
 * Metric (relErrVsStock): max_i |fast_i - stock_i| / max_i |stock_i| over every output element
 * (0 when both are all zero; Infinity when the lengths differ or only the reference is all zero);
 * a case passes at <= 1e-5. The fast kernels sum in float64 and round once; the stock forward conv
 * sums in float32, so the observed differences are its rounding (~1e-7).
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// the gradient registry (tfjs-core's Node bundle registers none for Conv2D or MaxPool); the mirror loads it too
import '@tensorflow/tfjs';
import {
  conv2dBackpropInputFast,
  conv2dBackpropInputFastNCHW,
  conv2dBackpropInputKernelFunc,
  conv2dFast,
  conv2dFastNCHW,
  conv2dKernelFunc,
  fastConvKernelsRegistered,
  registerFastConvKernels,
  restoreStockConvKernels,
  type ConvGeometry,
  type ConvTuning,
} from '../../src/mirror/kernels/conv2d.js';
import {
  fastMaxPoolGradKernelRegistered,
  maxPoolGradKernelFunc,
  registerFastMaxPoolGradKernel,
  restoreStockMaxPoolGradKernel,
} from '../../src/mirror/kernels/max-pool-grad.js';
import { convInfoOf, expectMetricResolves, geometryOf, perCase, relErrVsStock, size, TOL, useCpuBackend, type ConvCase, type Pad4 } from '../helpers/conv-kernel-compare.js';
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
  { name: '3x3 s1 same, 64 -> 64', x: [2, 9, 9, 64], f: [3, 3, 64, 64], strides: 1, pad: 'same' },
  { name: '1x1 s2 valid downsample, 32 -> 64', x: [2, 8, 8, 32], f: [1, 1, 32, 64], strides: 2, pad: 'valid' },
  { name: '3x3 strides [2,1] same', x: [1, 9, 10, 5], f: [3, 3, 5, 6], strides: [2, 1], pad: 'same' },
  { name: '3x3 13 -> 17 (channels not multiples of 4), batch 3', x: [3, 7, 5, 13], f: [3, 3, 13, 17], strides: 1, pad: 'same' },
  { name: 'numeric pad 1, s2', x: [1, 8, 8, 4], f: [3, 3, 4, 6], strides: 2, pad: 1 },
  { name: "numeric pad 0, s2, dimRoundingMode 'ceil' (last window hangs over)", x: [1, 8, 8, 4], f: [3, 3, 4, 6], strides: 2, pad: 0, dimRoundingMode: 'ceil' },
  { name: '5x5 same on a 3x3 input (every window clipped)', x: [2, 3, 3, 2], f: [5, 5, 2, 3], strides: 1, pad: 'same' },
  { name: '7x7 valid to a single output pixel', x: [1, 7, 7, 8], f: [7, 7, 8, 4], strides: 1, pad: 'valid' },
  { name: 'NCHW 3x3 s1 same', x: [2, 6, 5, 7], f: [3, 3, 6, 4], strides: 1, pad: 'same', dataFormat: 'NCHW' },
  { name: 'NCHW 3x3 s2 explicit asymmetric', x: [1, 5, 9, 8], f: [3, 3, 5, 3], strides: 2, pad: [[0, 0], [0, 0], [2, 0], [1, 2]], dataFormat: 'NCHW' },
  { name: 'NCHW stem 7x7 s2 explicit pad 3, 17x17', x: [2, 3, 17, 17], f: [7, 7, 3, 8], strides: 2, pad: [[0, 0], [0, 0], [3, 3], [3, 3]], dataFormat: 'NCHW' },
  { name: 'NCHW 3x3 s1 pad 1, 32 -> 48, batch 4', x: [4, 32, 8, 8], f: [3, 3, 32, 48], strides: 1, pad: [[0, 0], [0, 0], [1, 1], [1, 1]], dataFormat: 'NCHW' },
  { name: 'NCHW 1x1 s2 valid, 16 -> 12', x: [2, 16, 7, 6], f: [1, 1, 16, 12], strides: 2, pad: 'valid', dataFormat: 'NCHW' },
];

/** Forward only: the stock Conv2D takes dilations (tfjs' gradients do not). */
const DILATED: Case[] = [
  { name: '3x3 dilation 2, s1 same', x: [2, 11, 12, 5], f: [3, 3, 5, 6], strides: 1, pad: 'same', dilations: [2, 2] },
  { name: '3x3 dilations [2,1], s2 explicit asymmetric (runKernel: tf.conv2d refuses both)', x: [1, 13, 10, 4], f: [3, 3, 4, 7], strides: 2, pad: [[0, 0], [3, 1], [0, 2], [0, 0]], dilations: [2, 1] },
  { name: 'NCHW 3x3 dilations [1,3] valid', x: [2, 5, 12, 13], f: [3, 3, 5, 4], strides: 1, pad: 'valid', dilations: [1, 3], dataFormat: 'NCHW' },
];

interface Prepared {
  x: tf.Tensor4D;
  f: tf.Tensor4D;
  dy: tf.Tensor4D;
  convInfo: tf.backend_util.Conv2DInfo;
  convAttrs: tf.NamedAttrMap;
  inputAttrs: tf.NamedAttrMap;
}

let seed = 11;
function prepare(c: Case): Prepared {
  const x = tf.tensor4d(randomFloats(seed++, size(c.x)), c.x);
  const f = tf.tensor4d(randomFloats(seed++, size(c.f)), c.f);
  const convInfo = convInfoOf(c);
  const dy = tf.tensor4d(randomFloats(seed++, size(convInfo.outShape)), convInfo.outShape);
  const base: tf.NamedAttrMap = { strides: c.strides, pad: c.pad, dataFormat: c.dataFormat ?? 'NHWC' };
  if (c.dimRoundingMode) base.dimRoundingMode = c.dimRoundingMode;
  return { x, f, dy, convInfo, convAttrs: { ...base, dilations: c.dilations ?? [1, 1] }, inputAttrs: { ...base, inputShape: c.x } };
}

function run(which: 'stock' | 'fast', kernel: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap): Float32Array {
  if (which === 'stock') restoreStockConvKernels();
  else registerFastConvKernels();
  const t = tf.engine().runKernel(kernel, inputs, attrs) as tf.Tensor;
  const v = t.dataSync() as Float32Array;
  t.dispose();
  return v;
}

const forwardOf = (which: 'stock' | 'fast', p: Prepared): Float32Array => run(which, tf.Conv2D, { x: p.x, filter: p.f }, p.convAttrs);
const inputGradOf = (which: 'stock' | 'fast', p: Prepared): Float32Array => run(which, tf.Conv2DBackpropInput, { dy: p.dy, filter: p.f }, p.inputAttrs);

function geometry(p: Prepared): ConvGeometry {
  return geometryOf(p.convInfo);
}

function directForward(c: Case, p: Prepared, info = geometry(p), tuning: ConvTuning = {}): Float32Array {
  const fn = c.dataFormat === 'NCHW' ? conv2dFastNCHW : conv2dFast;
  return fn(p.x.dataSync() as Float32Array, p.x.shape, p.f.dataSync() as Float32Array, p.f.shape, p.convInfo.outShape, info, tuning);
}

function directInput(c: Case, p: Prepared, info = geometry(p), tuning: ConvTuning = {}): Float32Array {
  const fn = c.dataFormat === 'NCHW' ? conv2dBackpropInputFastNCHW : conv2dBackpropInputFast;
  return fn(p.dy.dataSync() as Float32Array, p.dy.shape, p.f.dataSync() as Float32Array, p.f.shape, c.x, info, tuning);
}

describe('mirror/kernels/conv2d (fast Conv2D, Conv2DBackpropInput) and max-pool-grad', () => {
  let convWasRegistered = false;
  let poolWasRegistered = false;
  const prepared = perCase(prepare);
  const get = prepared.get;

  before(async () => {
    await useCpuBackend();
    convWasRegistered = fastConvKernelsRegistered();
    poolWasRegistered = fastMaxPoolGradKernelRegistered();
    registerFastConvKernels(); // captures the stock kernels
    registerFastMaxPoolGradKernel();
  });
  after(() => {
    for (const p of prepared.values()) tf.dispose([p.x, p.f, p.dy]);
    if (convWasRegistered) registerFastConvKernels();
    else restoreStockConvKernels();
    if (poolWasRegistered) registerFastMaxPoolGradKernel();
    else restoreStockMaxPoolGradKernel();
  });

  describe('the comparison can fail', () => {
    const c = CASES.find((k) => k.name === 'NCHW 3x3 s1 pad 1, 32 -> 48, batch 4')!;

    it('a wrong pad, a flipped filter, a wrong dx pad and a one-element shift of dx all fail', () => {
      const p = get(c);
      const ref = forwardOf('stock', p);
      expect(relErrVsStock(ref, forwardOf('fast', p))).to.be.at.most(TOL);
      const g = geometry(p);
      expect(relErrVsStock(ref, directForward(c, p, { ...g, pads: { ...g.pads, top: g.pads.top + 1 } }))).to.be.greaterThan(0.1);
      // the spatially flipped filter: the forward conv of the flipped filter is not the conv
      const [KH, KW, Ci, Co] = c.f;
      const fv = p.f.dataSync();
      const flipped = new Float32Array(fv.length);
      for (let kh = 0; kh < KH; kh++)
        for (let kw = 0; kw < KW; kw++)
          for (let i = 0; i < Ci * Co; i++) flipped[((KH - 1 - kh) * KW + (KW - 1 - kw)) * Ci * Co + i] = fv[(kh * KW + kw) * Ci * Co + i]!;
      const yFlip = conv2dFastNCHW(p.x.dataSync() as Float32Array, p.x.shape, flipped, c.f, p.convInfo.outShape, g);
      expect(relErrVsStock(ref, yFlip)).to.be.greaterThan(0.1);
      // dx with the wrong pad
      const refDx = inputGradOf('stock', p);
      expect(relErrVsStock(refDx, inputGradOf('fast', p))).to.be.at.most(TOL);
      expect(relErrVsStock(refDx, directInput(c, p, { ...g, pads: { ...g.pads, left: g.pads.left + 1 } }))).to.be.greaterThan(0.1);
      // shifted by one channel
      const shifted = Float32Array.from(refDx);
      shifted.copyWithin(0, 1);
      expect(relErrVsStock(refDx, shifted)).to.be.greaterThan(0.1);
    });

    it('one element off by 2e-5 of the largest fails; off by 1e-7 passes; a length mismatch fails', () => {
      expectMetricResolves(forwardOf('stock', get(c)));
    });
  });

  describe('Conv2D matches the stock kernel (max |fast - stock| / max |stock| <= 1e-5)', () => {
    for (const c of [...CASES, ...DILATED]) {
      it(c.name, () => {
        const p = get(c);
        const ref = forwardOf('stock', p);
        expect(ref.length).to.equal(size(p.convInfo.outShape));
        expect(relErrVsStock(ref, forwardOf('fast', p))).to.be.at.most(TOL);
        expect(relErrVsStock(ref, directForward(c, p))).to.be.at.most(TOL);
      });
    }
  });

  describe('Conv2DBackpropInput matches the stock kernel (max |fast - stock| / max |stock| <= 1e-5)', () => {
    for (const c of CASES) {
      it(c.name, () => {
        const p = get(c);
        const ref = inputGradOf('stock', p);
        expect(ref.length).to.equal(size(c.x));
        expect(relErrVsStock(ref, inputGradOf('fast', p))).to.be.at.most(TOL);
        expect(relErrVsStock(ref, directInput(c, p))).to.be.at.most(TOL);
      });
    }
  });

  it('Conv2DBackpropInput honours a dilations attribute (oracle: stock with the zero-stuffed filter)', () => {
    for (const c of DILATED) {
      const p = get(c);
      const [KH, KW, Ci, Co] = c.f;
      const [dh, dw] = c.dilations!;
      const KHe = (KH - 1) * dh + 1;
      const KWe = (KW - 1) * dw + 1;
      const fv = p.f.dataSync();
      const stuffed = new Float32Array(KHe * KWe * Ci * Co);
      for (let kh = 0; kh < KH; kh++)
        for (let kw = 0; kw < KW; kw++)
          for (let i = 0; i < Ci * Co; i++) stuffed[(kh * dh * KWe + kw * dw) * Ci * Co + i] = fv[(kh * KW + kw) * Ci * Co + i]!;
      const fs = tf.tensor4d(stuffed, [KHe, KWe, Ci, Co]);
      try {
        const ref = run('stock', tf.Conv2DBackpropInput, { dy: p.dy, filter: fs }, p.inputAttrs);
        expect(relErrVsStock(ref, run('fast', tf.Conv2DBackpropInput, { dy: p.dy, filter: p.f }, { ...p.inputAttrs, dilations: c.dilations! })), c.name).to.be.at.most(TOL);
        expect(relErrVsStock(ref, directInput(c, p)), c.name).to.be.at.most(TOL);
      } finally {
        fs.dispose();
      }
    }
  });

  it('small blocks (filter ranges of 4, K blocks of 5, chunks of 1 and 7 rows, one sample per dx group) give the same result', () => {
    const picks = [...CASES.filter((k) => /13 -> 17|stem 7x7|NCHW 3x3 s2|32 -> 48/.test(k.name)), DILATED[1]!, DILATED[2]!];
    const tunings: ConvTuning[] = [{ filterBudgetBytes: 1, kBlock: 5, chunkRows: 7, accBudgetBytes: 1 }, { chunkRows: 1 }, { kBlock: 1, filterBudgetBytes: 8 * 4 * 30 }];
    for (const c of picks) {
      const p = get(c);
      const refY = forwardOf('stock', p);
      const refDx = c.dilations ? undefined : inputGradOf('stock', p);
      for (const tuning of tunings) {
        const tag = `${c.name} ${JSON.stringify(tuning)}`;
        expect(relErrVsStock(refY, directForward(c, p, geometry(p), tuning)), tag).to.be.at.most(TOL);
        if (refDx) expect(relErrVsStock(refDx, directInput(c, p, geometry(p), tuning)), tag).to.be.at.most(TOL);
      }
    }
  });

  it('through tf.grad of an NCHW conv2d with explicit pads: dx and dW run the registered kernels and match stock', () => {
    const c = CASES.find((k) => k.name === 'NCHW 3x3 s2 explicit asymmetric')!;
    const p = get(c);
    const grads = (): Float32Array[] => {
      const g = tf.grads((x: tf.Tensor, f: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, c.strides, c.pad as Pad4, 'NCHW'));
      const [dx, df] = g([p.x, p.f], p.dy);
      const out = [dx!.dataSync() as Float32Array, df!.dataSync() as Float32Array];
      tf.dispose([dx!, df!]);
      return out;
    };
    restoreStockConvKernels();
    const [sx, sf] = grads();
    let calls = 0;
    tf.unregisterKernel(tf.Conv2DBackpropInput, 'cpu');
    tf.registerKernel({
      kernelName: tf.Conv2DBackpropInput,
      backendName: 'cpu',
      kernelFunc: (args) => {
        calls++;
        return conv2dBackpropInputKernelFunc(args);
      },
    });
    try {
      const [fx, ff] = grads();
      expect(calls).to.equal(1);
      expect(relErrVsStock(sx!, fx!)).to.be.at.most(TOL);
      expect(relErrVsStock(sf!, ff!)).to.be.at.most(TOL);
    } finally {
      tf.unregisterKernel(tf.Conv2DBackpropInput, 'cpu');
      tf.registerKernel({ kernelName: tf.Conv2DBackpropInput, backendName: 'cpu', kernelFunc: conv2dBackpropInputKernelFunc });
    }
    registerFastConvKernels();
    expect(fastConvKernelsRegistered()).to.equal(true);
  });

  it('tf.conv2dTranspose (Conv2DBackpropInput) matches stock', () => {
    const x = tf.tensor4d(randomFloats(99, 2 * 5 * 6 * 7), [2, 5, 6, 7]);
    const f = tf.tensor4d(randomFloats(98, 3 * 3 * 4 * 7), [3, 3, 4, 7]);
    try {
      const go = (which: 'stock' | 'fast'): Float32Array => {
        if (which === 'stock') restoreStockConvKernels();
        else registerFastConvKernels();
        const y = tf.conv2dTranspose(x, f, [2, 11, 13, 4], 2, 'valid');
        const v = y.dataSync() as Float32Array;
        y.dispose();
        return v;
      };
      expect(relErrVsStock(go('stock'), go('fast'))).to.be.at.most(TOL);
    } finally {
      tf.dispose([x, f]);
    }
  });

  it('refuses a dy that is not the conv output shape and a filter that does not match the channels', () => {
    const c = CASES[1]!;
    const p = get(c);
    registerFastConvKernels();
    expect(() => tf.engine().runKernel(tf.Conv2DBackpropInput, { dy: p.dy, filter: p.f }, { ...p.inputAttrs, strides: 2 })).to.throw(/dy shape/);
    expect(() => directForward({ ...c }, { ...p, convInfo: { ...p.convInfo, outShape: [3, 7, 9, 9] } })).to.throw(/does not match/);
  });

  it('register is idempotent, restore brings the stock kernels back, and both can alternate', () => {
    registerFastConvKernels();
    registerFastConvKernels();
    expect(tf.getKernel(tf.Conv2D, 'cpu')?.kernelFunc).to.equal(conv2dKernelFunc);
    expect(tf.getKernel(tf.Conv2DBackpropInput, 'cpu')?.kernelFunc).to.equal(conv2dBackpropInputKernelFunc);
    restoreStockConvKernels();
    restoreStockConvKernels();
    const stockConv = tf.getKernel(tf.Conv2D, 'cpu')?.kernelFunc;
    expect(stockConv).to.be.a('function').and.not.equal(conv2dKernelFunc);
    expect(fastConvKernelsRegistered()).to.equal(false);
    registerFastConvKernels();
    expect(fastConvKernelsRegistered()).to.equal(true);
    restoreStockConvKernels();
    expect(tf.getKernel(tf.Conv2D, 'cpu')?.kernelFunc).to.equal(stockConv);
    registerFastConvKernels();
  });

  describe('MaxPoolGrad matches the stock kernel', () => {
    const POOLS: { name: string; x: [number, number, number, number]; k: number; s: number; pad: 'same' | 'valid' | Pad4 }[] = [
      { name: '3x3 s2 explicit pad 1 (ResNet stem)', x: [2, 16, 16, 8], k: 3, s: 2, pad: [[0, 0], [1, 1], [1, 1], [0, 0]] },
      { name: '2x2 s2 valid', x: [3, 8, 10, 5], k: 2, s: 2, pad: 'valid' },
      { name: '3x3 s1 same (overlapping windows)', x: [1, 7, 9, 3], k: 3, s: 1, pad: 'same' },
      { name: '3x3 s2 asymmetric explicit (0,2 / 1,0)', x: [2, 9, 8, 4], k: 3, s: 2, pad: [[0, 0], [0, 2], [1, 0], [0, 0]] },
    ];
    for (const c of POOLS) {
      it(c.name, () => {
        const x = tf.tensor4d(randomFloats(seed++, size(c.x)), c.x);
        const yShape = tf.backend_util.computePool2DInfo(c.x, c.k, c.s, 1, c.pad).outShape;
        const dy = tf.tensor4d(Float32Array.from({ length: size(yShape) }, (_, i) => i + 1), yShape);
        try {
          const go = (which: 'stock' | 'fast'): Float32Array => {
            if (which === 'stock') restoreStockMaxPoolGradKernel();
            else registerFastMaxPoolGradKernel();
            // dy = 1, 2, 3, ... so that a gradient sent to the wrong window shows
            const g = tf.grad((t: tf.Tensor) => tf.maxPool(t as tf.Tensor4D, c.k, c.s, c.pad))(x, dy);
            const v = g.dataSync() as Float32Array;
            g.dispose();
            return v;
          };
          const ref = go('stock');
          expect(relErrVsStock(ref, go('fast'))).to.be.at.most(TOL);
          expect(tf.getKernel(tf.MaxPoolGrad, 'cpu')?.kernelFunc).to.equal(maxPoolGradKernelFunc);
          // a gradient routed to the wrong tap fails
          const moved = Float32Array.from(ref);
          moved.copyWithin(1, 0);
          expect(relErrVsStock(ref, moved)).to.be.greaterThan(0.1);
        } finally {
          tf.dispose([x, dy]);
        }
      });
    }
  });
});

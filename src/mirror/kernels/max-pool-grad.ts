/**
 * A fast `MaxPoolGrad` for TensorFlow.js' cpu backend.
 *
 * The stock kernel (tfjs-backend-cpu 4.22) finds every window's argmax through `TensorBuffer.get`,
 * then for every input element visits every window that could cover it. This one finds each
 * window's argmax once (the first strictly greater value in row-major window order, the stock
 * kernel's rule: windows with no value above -Infinity, or only NaNs, pass no gradient) and adds
 * the window's dy there, summing in float64 and rounding once (as the stock kernel does). NHWC,
 * as tf.maxPool is.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { expectShape } from './conv-common.js';
import { floatValues, KernelSwap, type CpuBackendLike } from './gemm.js';

interface MaxPoolGradAttrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** dx of a 2-D max pool, NHWC, from x, dy and the pool's geometry (computePool2DInfo's). */
export function maxPoolGradFast(x: Float32Array, dy: Float32Array, info: tf.backend_util.Conv2DInfo): Float32Array {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = info;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const KH = info.filterHeight;
  const KW = info.filterWidth;
  const { top, left } = info.padInfo;
  const acc = new Float64Array(N * H * W * C);
  const best = new Float64Array(C);
  const pos = new Int32Array(C);
  for (let n = 0; n < N; n++) {
    const xn = n * H * W * C;
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        best.fill(-Infinity);
        pos.fill(-1);
        for (let kh = 0; kh < KH; kh++) {
          const ih = oh * sh - top + kh * dh;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const iw = ow * sw - left + kw * dw;
            if (iw < 0 || iw >= W) continue;
            const o = xn + (ih * W + iw) * C;
            for (let c = 0; c < C; c++) {
              const v = x[o + c]!;
              if (v > best[c]!) {
                best[c] = v;
                pos[c] = o + c;
              }
            }
          }
        }
        const dyo = ((n * OH + oh) * OW + ow) * C;
        for (let c = 0; c < C; c++) {
          const p = pos[c]!;
          if (p >= 0) acc[p] += dy[dyo + c]!;
        }
      }
    }
  }
  return Float32Array.from(acc);
}

/** kernelFunc for `MaxPoolGrad` on the cpu backend: the stock kernel's attributes and semantics. */
export const maxPoolGradKernelFunc: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, input } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
  const a = attrs as unknown as MaxPoolGradAttrs;
  const cpu = backend as unknown as CpuBackendLike;
  const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
  expectShape('maxPoolGrad', 'dy', dy.shape, info.outShape, "the pool's output shape");
  const xv = floatValues(cpu, input, 'input', 'maxPoolGrad');
  const dyv = floatValues(cpu, dy, 'dy', 'maxPoolGrad');
  return cpu.makeTensorInfo(input.shape.slice(), 'float32', maxPoolGradFast(xv, dyv, info));
};

const swap = new KernelSwap(tf.MaxPoolGrad, maxPoolGradKernelFunc);

/** Make the cpu backend's `MaxPoolGrad` the fast kernel (idempotent). */
export function registerFastMaxPoolGradKernel(): void {
  swap.register();
}

/** Put back the kernel registered before `registerFastMaxPoolGradKernel` (no-op if it never ran). */
export function restoreStockMaxPoolGradKernel(): void {
  swap.restore();
}

export function fastMaxPoolGradKernelRegistered(): boolean {
  return swap.registered();
}

/**
 * A fast `Conv2DBackpropFilter` for TensorFlow.js' cpu backend.
 *
 * The stock kernel (tfjs-backend-cpu 4.22) computes every filter element as its own dot product
 * through `TensorBuffer.get`: 70-100x slower than the (itself naive) forward conv on ResNet layers,
 * which makes fine-tuning through tfjs unusable. This one is 230-460x faster than the stock kernel
 * and takes about a quarter of the forward conv's time (docs/BENCHMARKS.md). This one computes the same sums as one GEMM over an im2col of the input:
 *
 *     dW[k, co] = sum_p A[p, k] * DY[p, co]      k = (kh, kw, ci)  (HWIO order),  p = (n, oh, ow)
 *     A[p, (kh, kw, ci)] = x[n, oh*sh - top + kh*dh, ow*sw - left + kw*dw, ci]   (0 in the padding)
 *
 * Rows p are taken in chunks (so temporaries stay small: the packed chunk of A is K x Pc and the
 * packed chunk of DY is Co x Pc), both packed into 4-wide panels (BLAS-style), and a 4 x 4
 * register-blocked micro-kernel accumulates each 4 x 4 tile of dW over the chunk in float64 locals,
 * adding the tile into a float64 accumulator once per chunk. Sums are therefore float64 end to end
 * (like the stock kernel, which sums in a JS number), and the result is rounded to float32 once.
 *
 * Temporary memory, at most about 48 MB whatever the sizes: the float64 accumulator (8 bytes per
 * filter element) is done in ranges of K when the filter would need more than 32 MB, and the two
 * packed chunks take at most 16 MB (a few hundred KB on ResNet layers). Nothing proportional to the
 * input is allocated (no full im2col, no layout transposes: NCHW is read through strides).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { checkConv, ChunkRows, convInfoOf, expectShape, geometryOf, operand4, tapsOf, type ConvAttrs, type ConvGeometry, type Layout, type Operand4, type Taps } from './conv-common.js';
import { floatValues, KernelSwap, micro4x4, type CpuBackendLike } from './gemm.js';

/** Conv geometry: `pads` are explicit (what `computeConv2DInfo` resolves 'same' / 'valid' to). */
export type ConvGradInfo = ConvGeometry;

/** Block sizes; the defaults suit a 512 KiB L2. Tests shrink them to reach every code path on small shapes. */
export interface ConvGradTuning {
  /** Most bytes the float64 accumulator may take; larger filters are done in ranges of K (default 32 MiB). */
  accBudgetBytes?: number;
  /** Rows (output positions) per packed chunk; default: what keeps the streamed operand near 256 KiB. */
  chunkRows?: number;
}

/** Default for ConvGradTuning.accBudgetBytes. */
const ACC_BUDGET_BYTES = 32 * 1024 * 1024;
/** Target size of the packed operand the micro-kernel streams through for each panel of the other (an L2-sized block). */
const STREAM_BUDGET_BYTES = 256 * 1024;
/** Most bytes the two packed chunks may take together. */
const PACK_BUDGET_BYTES = 16 * 1024 * 1024;
/** Most columns of A in one range (keeps a chunk of at least 32 rows within PACK_BUDGET_BYTES). */
const MAX_K_RANGE = 65536;
const MIN_CHUNK = 32;
const MAX_CHUNK = 1024;

const KERNEL = 'conv2dBackpropFilterFast';

/**
 * dW of a (non-grouped) conv2d with respect to its filter, NHWC.
 *
 * @param x input, shape xShape = [N, H, W, Ci]
 * @param dy gradient of the conv's output, shape dyShape = [N, OH, OW, Co]
 * @param filterShape [KH, KW, Ci, Co]
 * @returns dW, shape [KH, KW, Ci, Co] (tfjs' HWIO layout)
 */
export const conv2dBackpropFilterFast = backpropFilterIn('NHWC');

/** The same for NCHW tensors (x [N, Ci, H, W], dy [N, Co, OH, OW]); the result is still HWIO. */
export const conv2dBackpropFilterFastNCHW = backpropFilterIn('NCHW');

function backpropFilterIn(layout: Layout) {
  return (
    x: Float32Array,
    xShape: readonly number[],
    dy: Float32Array,
    dyShape: readonly number[],
    filterShape: readonly number[],
    info: ConvGradInfo,
    tuning: ConvGradTuning = {},
  ): Float32Array => backpropFilter(x, operand4(xShape, layout, 'x', KERNEL), dy, operand4(dyShape, layout, 'dy', KERNEL), filterShape, info, tuning);
}

function backpropFilter(x: Float32Array, xo: Operand4, dy: Float32Array, dyo: Operand4, filterShape: readonly number[], info: ConvGradInfo, tuning: ConvGradTuning): Float32Array {
  const [N, H, W, Ci] = xo.dims;
  const [dN, OH, OW, Co] = dyo.dims;
  const [KH, KW] = checkConv(KERNEL, filterShape, info, 'x', Ci, 'dy', Co, N, dN);
  if (x.length < N * H * W * Ci || dy.length < N * OH * OW * Co) {
    throw new Error(`${KERNEL}: x or dy holds fewer values than its shape`);
  }
  const K = KH * KW * Ci;
  const out = new Float32Array(K * Co);
  const P = N * OH * OW;
  if (K === 0 || Co === 0 || P === 0) return out;
  const xs = xo.strides;
  const dys = dyo.strides;
  const taps = tapsOf(xo, KW, info);

  const Co4 = (Co + 3) & ~3;
  // K is processed in ranges so that the float64 accumulator stays within its budget.
  const kRange = Math.min(MAX_K_RANGE, Math.max(4, Math.floor((tuning.accBudgetBytes ?? ACC_BUDGET_BYTES) / (8 * Co4)) & ~3));
  for (let k0 = 0; k0 < K; k0 += kRange) {
    const k1 = Math.min(K, k0 + kRange);
    const Kr4 = (k1 - k0 + 3) & ~3;
    const S = Math.min(Kr4, Co4);
    const packRows = Math.max(4, Math.floor(PACK_BUDGET_BYTES / (8 * (Kr4 + Co4))));
    const Pc = Math.min(
      P,
      tuning.chunkRows !== undefined
        ? Math.max(1, Math.floor(tuning.chunkRows))
        : Math.min(packRows, Math.max(MIN_CHUNK, Math.min(MAX_CHUNK, Math.floor(STREAM_BUDGET_BYTES / (8 * S))))),
    );
    const acc = new Float64Array(Kr4 * Co4);
    const A = new Float64Array(Kr4 * Pc); // panels of 4 k's: A[(kr >> 2) * Pc * 4 + r * 4 + (kr & 3)]
    const B = new Float64Array(Co4 * Pc); // panels of 4 co's: B[(co >> 2) * Pc * 4 + r * 4 + (co & 3)]
    const rows = new ChunkRows(Pc); // x: n * xs.n of each row in the chunk; y: its offset in dy
    const rowDy = rows.y;
    const nbK = Kr4 >> 2;
    const nbC = Co4 >> 2;
    for (let p0 = 0; p0 < P; p0 += Pc) {
      const pc = Math.min(Pc, P - p0);
      // rows of this chunk and the packed DY
      rows.fill(p0, pc, OH, OW, info, xs.n, dys, 0);
      for (let r = 0; r < pc; r++) {
        const dyOff = rowDy[r]!;
        const rb = r * 4;
        if (dys.c === 1) {
          for (let co = 0; co < Co; co++) B[(co >> 2) * Pc * 4 + rb + (co & 3)] = dy[dyOff + co]!;
        } else {
          for (let co = 0; co < Co; co++) B[(co >> 2) * Pc * 4 + rb + (co & 3)] = dy[dyOff + co * dys.c]!;
        }
      }
      packA(A, Pc, pc, k0, k1, x, taps, rows);
      // GEMM: acc[Kr4 x Co4] += A^T B over the chunk. The operand that fits the streaming budget
      // is the one swept in the inner loop; a panel of the other stays in L1.
      if (Kr4 <= Co4) {
        for (let j = 0; j < nbC; j++) {
          for (let i = 0; i < nbK; i++) micro4x4(A, i * Pc * 4, B, j * Pc * 4, pc, acc, i * 4 * Co4 + j * 4, Co4);
        }
      } else {
        for (let i = 0; i < nbK; i++) {
          for (let j = 0; j < nbC; j++) micro4x4(A, i * Pc * 4, B, j * Pc * 4, pc, acc, i * 4 * Co4 + j * 4, Co4);
        }
      }
    }
    for (let k = k0; k < k1; k++) {
      const a = (k - k0) * Co4;
      const o = k * Co;
      for (let co = 0; co < Co; co++) out[o + co] = acc[a + co]!;
    }
  }
  return out;
}

/** im2col of one chunk of rows, columns k in [k0, k1), into 4-wide panels (zeros in the padding). */
function packA(A: Float64Array, Pc: number, pc: number, k0: number, k1: number, x: Float32Array, taps: Taps, rows: ChunkRows): void {
  const { hStride: xh, wStride: xw, cStride: sc, H, W, Ci, KW, dh, dw } = taps;
  const { x: rowX, ih: rowIH, iw: rowIW } = rows;
  const panel = Pc * 4;
  const kk0 = Math.floor(k0 / Ci);
  const kk1 = Math.ceil(k1 / Ci);
  for (let kk = kk0; kk < kk1; kk++) {
    const kh = Math.floor(kk / KW);
    const kw = kk - kh * KW;
    const c0 = Math.max(0, k0 - kk * Ci);
    const c1 = Math.min(Ci, k1 - kk * Ci);
    const kBase = kk * Ci - k0; // kr of channel ci is kBase + ci
    for (let r = 0; r < pc; r++) {
      const ih = rowIH[r]! + kh * dh;
      const iw = rowIW[r]! + kw * dw;
      const rb = r * 4;
      if (ih < 0 || ih >= H || iw < 0 || iw >= W) {
        for (let ci = c0; ci < c1; ci++) {
          const kr = kBase + ci;
          A[(kr >> 2) * panel + rb + (kr & 3)] = 0;
        }
      } else {
        const xo = rowX[r]! + ih * xh + iw * xw;
        for (let ci = c0; ci < c1; ci++) {
          const kr = kBase + ci;
          A[(kr >> 2) * panel + rb + (kr & 3)] = x[xo + ci * sc]!;
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Registration with the cpu backend

interface BackpropFilterAttrs extends ConvAttrs {
  filterShape: [number, number, number, number];
}

/** kernelFunc for `Conv2DBackpropFilter` on the cpu backend: the stock kernel's attributes and semantics. */
export const conv2dBackpropFilterKernelFunc: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const a = attrs as unknown as BackpropFilterAttrs;
  const cpu = backend as unknown as CpuBackendLike;
  const convInfo = convInfoOf(x.shape, a.filterShape, a);
  expectShape('conv2dBackpropFilter', 'dy', dy.shape, convInfo.outShape, "the conv's output shape");
  const info = geometryOf(convInfo);
  const xv = floatValues(cpu, x, 'x', 'conv2dBackpropFilter');
  const dyv = floatValues(cpu, dy, 'dy', 'conv2dBackpropFilter');
  const result =
    convInfo.dataFormat === 'channelsLast'
      ? conv2dBackpropFilterFast(xv, x.shape, dyv, dy.shape, convInfo.filterShape, info)
      : conv2dBackpropFilterFastNCHW(xv, x.shape, dyv, dy.shape, convInfo.filterShape, info);
  return cpu.makeTensorInfo(convInfo.filterShape.slice(), 'float32', result);
};

const swap = new KernelSwap(tf.Conv2DBackpropFilter, conv2dBackpropFilterKernelFunc);

/** Make the cpu backend's `Conv2DBackpropFilter` the fast kernel (idempotent). */
export function registerFastConvGradKernels(): void {
  swap.register();
}

/** Put back the kernel that was registered before `registerFastConvGradKernels` (no-op if it never ran). */
export function restoreStockConvGradKernels(): void {
  swap.restore();
}

/** Whether the fast kernel is the one registered now. */
export function fastConvGradKernelsRegistered(): boolean {
  return swap.registered();
}

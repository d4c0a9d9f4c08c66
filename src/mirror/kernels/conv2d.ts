/**
 * Fast `Conv2D` (forward) and `Conv2DBackpropInput` kernels for TensorFlow.js' cpu backend.
 *
 * The stock kernels (tfjs-backend-cpu 4.22) are direct loops: the forward conv does one
 * load-multiply-add-store per multiply-add; the input gradient computes every dx element as its own
 * dot product. Both are written here as GEMMs over packed float64 panels with the same 4 x 4
 * register-blocked micro-kernel as the fast Conv2DBackpropFilter (gemm.ts):
 *
 *   forward:  Y[p, co] = sum_k A[p, k] W[k, co]      p = (n, oh, ow), k = (kh, kw, ci)  (HWIO order)
 *             A[p, (kh, kw, ci)] = x[n, oh*sh - top + kh*dh, ow*sw - left + kw*dw, ci]  (0 in the padding)
 *   dx:       D[p, k] = sum_co DY[p, co] W[k, co], then dx[n, ih, iw, ci] += D[p, (kh, kw, ci)] at
 *             ih = oh*sh - top + kh*dh, iw = ow*sw - left + kw*dw (col2im; taps in the padding dropped)
 *
 * Rows p go in chunks (the im2col of a chunk, and for the forward conv a block of K columns of it,
 * is packed at a time: nothing proportional to the input is allocated for the forward conv), sums
 * are float64 and rounded to float32 once (the stock forward kernel sums in float32, the stock
 * input gradient in float64). NHWC and NCHW are both read and written through strides (no layout
 * transposes). Temporary memory stays within about 48 MB: the packed filter (8 bytes per element)
 * is done in ranges of output channels (forward) or of K (dx) past 16 MB, and dx accumulates in
 * float64 over groups of whole samples that fit 32 MB (one sample at least).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { checkConv, ChunkRows, convInfoOf, expectShape, geometryOf, operand4, tapsOf, type ConvAttrs, type ConvGeometry, type Layout, type Operand4, type Taps } from './conv-common.js';
import { floatValues, KernelSwap, micro4x4, packColumnPanels, packRowPanels, type CpuBackendLike } from './gemm.js';

export type { ConvGeometry } from './conv-common.js';

/** Block sizes. Tests shrink them to reach every code path on small shapes. */
export interface ConvTuning {
  /** Rows (output positions) per chunk; default: what keeps the streamed packed block near 256 KiB. */
  chunkRows?: number;
  /** Columns of K per packed block of the forward im2col (default 256). */
  kBlock?: number;
  /** Most bytes of the packed filter; larger filters go in ranges (default 16 MiB). */
  filterBudgetBytes?: number;
  /** Most bytes of dx's float64 accumulator; more samples go in groups (default 32 MiB, one sample at least). */
  accBudgetBytes?: number;
}

const FILTER_BUDGET_BYTES = 16 * 1024 * 1024;
const ACC_BUDGET_BYTES = 32 * 1024 * 1024;
const STREAM_BUDGET_BYTES = 256 * 1024;
/** Most bytes of dx's per-chunk product block D (rows x K range). */
const PRODUCT_BUDGET_BYTES = 4 * 1024 * 1024;
const K_BLOCK = 256;
const MIN_CHUNK = 16;
const MAX_CHUNK = 1024;

const FWD = 'conv2dFast';
const BWD = 'conv2dBackpropInputFast';

function chunkRows(tuning: ConvTuning, streamedCols: number, P: number): number {
  if (tuning.chunkRows !== undefined) return Math.max(1, Math.min(P, Math.floor(tuning.chunkRows)));
  const c = Math.max(MIN_CHUNK, Math.min(MAX_CHUNK, Math.floor(STREAM_BUDGET_BYTES / (8 * Math.max(1, streamedCols)))));
  return Math.max(1, Math.min(P, c & ~3));
}

// ---------------------------------------------------------------------------------------------
// Forward

/**
 * conv2d, NHWC: x [N, H, W, Ci], filter [KH, KW, Ci, Co] (HWIO) -> y [N, OH, OW, Co] with OH, OW
 * given by `outShape` (the caller's computeConv2DInfo).
 */
export const conv2dFast = entry('NHWC', 'x', 'outShape', FWD, forward);

/** The same for NCHW tensors: x [N, Ci, H, W], y [N, Co, OH, OW]; the filter is still HWIO. */
export const conv2dFastNCHW = entry('NCHW', 'x', 'outShape', FWD, forward);

/**
 * A public entry point for one layout: (values of a, a's shape, filter, filterShape, shape of the
 * other side, geometry, tuning), both shapes read in `layout` and handed to `run` as (n, h, w, c)
 * dims and strides. `forward` (a = x, the other side y) and `backpropInput` (a = dy, the other side dx).
 */
function entry(layout: Layout, aName: string, otherName: string, kernel: string, run: typeof forward) {
  return (
    a: Float32Array,
    aShape: readonly number[],
    filter: Float32Array,
    filterShape: readonly number[],
    otherShape: readonly number[],
    info: ConvGeometry,
    tuning: ConvTuning = {},
  ): Float32Array => run(a, operand4(aShape, layout, aName, kernel), filter, filterShape, operand4(otherShape, layout, otherName, kernel), info, tuning);
}

function forward(x: Float32Array, xo: Operand4, f: Float32Array, filterShape: readonly number[], yo: Operand4, info: ConvGeometry, tuning: ConvTuning): Float32Array {
  const [N, H, W, Ci] = xo.dims;
  const [oN, OH, OW, Co] = yo.dims;
  const [KH, KW] = checkConv(FWD, filterShape, info, 'x', Ci, 'output', Co, N, oN);
  const K = KH * KW * Ci;
  if (x.length < N * H * W * Ci || f.length < K * Co) throw new Error(`${FWD}: x or the filter holds fewer values than its shape`);
  const P = N * OH * OW;
  const out = new Float32Array(P * Co);
  if (P === 0 || Co === 0 || K === 0) return out;
  const xs = xo.strides;
  const ys = yo.strides;
  const taps = tapsOf(xo, KW, info);

  const coRange = Math.min(Co, Math.max(4, Math.floor((tuning.filterBudgetBytes ?? FILTER_BUDGET_BYTES) / (8 * K)) & ~3));
  const KC = Math.max(1, Math.min(K, Math.floor(tuning.kBlock ?? K_BLOCK)));
  const Pc = chunkRows(tuning, KC, P);
  const Pc4 = (Pc + 3) & ~3;
  const ldc = (coRange + 3) & ~3;
  const Wp = new Float64Array(K * ldc);
  const Ap = new Float64Array(Pc4 * KC);
  const C = new Float64Array(Pc4 * ldc);
  const rows = new ChunkRows(Pc);
  const rowY = rows.y; // offset of (n, oh, ow) in y
  for (let co0 = 0; co0 < Co; co0 += coRange) {
    const co1 = Math.min(Co, co0 + coRange);
    packColumnPanels(f, K, Co, co0, co1, Wp);
    const nbC = ((co1 - co0 + 3) & ~3) >> 2;
    for (let p0 = 0; p0 < P; p0 += Pc) {
      const pc = Math.min(Pc, P - p0);
      const nbR = (pc + 3) >> 2;
      rows.fill(p0, pc, OH, OW, info, xs.n, ys, 0);
      C.fill(0, 0, nbR * 4 * ldc);
      for (let k0 = 0; k0 < K; k0 += KC) {
        const k1 = Math.min(K, k0 + KC);
        const kc = k1 - k0;
        packIm2col(Ap, kc, pc, k0, k1, x, taps, rows);
        // the packed rows (nbR panels, kc x 4 each) stay in L2; each filter panel piece (kc x 4) in L1
        for (let j = 0; j < nbC; j++) {
          const bo = j * K * 4 + k0 * 4;
          for (let i = 0; i < nbR; i++) micro4x4(Ap, i * kc * 4, Wp, bo, kc, C, i * 4 * ldc + j * 4, ldc);
        }
      }
      const sc = ys.c;
      for (let r = 0; r < pc; r++) {
        const yo = rowY[r]! + co0 * sc;
        const c = r * ldc;
        if (sc === 1) {
          for (let co = 0; co < co1 - co0; co++) out[yo + co] = C[c + co]!;
        } else {
          for (let co = 0; co < co1 - co0; co++) out[yo + co * sc] = C[c + co]!;
        }
      }
    }
  }
  return out;
}

/**
 * im2col of one chunk of rows, columns k in [k0, k1), into panels of 4 rows:
 * Ap[(r >> 2) * kc * 4 + (k - k0) * 4 + (r & 3)] (zeros in the padding). Rows past pc in the last
 * panel keep stale values: their products land in tile rows that are never written out.
 */
function packIm2col(Ap: Float64Array, kc: number, pc: number, k0: number, k1: number, x: Float32Array, taps: Taps, rows: ChunkRows): void {
  const { hStride: xh, wStride: xw, cStride: sc, H, W, Ci, KW, dh, dw } = taps;
  const { x: rowX, ih: rowIH, iw: rowIW } = rows;
  const panel = kc * 4;
  const kk0 = Math.floor(k0 / Ci);
  const kk1 = Math.ceil(k1 / Ci);
  if (sc === 1) {
    // channels contiguous (NHWC): channels innermost
    for (let r = 0; r < pc; r++) {
      const rb = (r >> 2) * panel + (r & 3);
      for (let kk = kk0; kk < kk1; kk++) {
        const kh = Math.floor(kk / KW);
        const kw = kk - kh * KW;
        const c0 = Math.max(0, k0 - kk * Ci);
        const c1 = Math.min(Ci, k1 - kk * Ci);
        const d = rb + (kk * Ci - k0) * 4; // column of channel ci: d + ci * 4
        const ih = rowIH[r]! + kh * dh;
        const iw = rowIW[r]! + kw * dw;
        if (ih < 0 || ih >= H || iw < 0 || iw >= W) {
          for (let ci = c0; ci < c1; ci++) Ap[d + ci * 4] = 0;
        } else {
          const xo = rowX[r]! + ih * xh + iw * xw;
          for (let ci = c0; ci < c1; ci++) Ap[d + ci * 4] = x[xo + ci]!;
        }
      }
    }
    return;
  }
  // channels strided (NCHW): rows innermost, so that neighbouring output columns read neighbouring inputs
  for (let kk = kk0; kk < kk1; kk++) {
    const kh = Math.floor(kk / KW);
    const kw = kk - kh * KW;
    const c0 = Math.max(0, k0 - kk * Ci);
    const c1 = Math.min(Ci, k1 - kk * Ci);
    for (let ci = c0; ci < c1; ci++) {
      const col = (kk * Ci + ci - k0) * 4;
      const cOff = ci * sc;
      for (let r = 0; r < pc; r++) {
        const ih = rowIH[r]! + kh * dh;
        const iw = rowIW[r]! + kw * dw;
        Ap[(r >> 2) * panel + col + (r & 3)] = ih < 0 || ih >= H || iw < 0 || iw >= W ? 0 : x[rowX[r]! + ih * xh + iw * xw + cOff]!;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Input gradient

/**
 * dx of a conv2d, NHWC: dy [N, OH, OW, Co], filter [KH, KW, Ci, Co] (HWIO) -> dx of shape
 * xShape = [N, H, W, Ci].
 */
export const conv2dBackpropInputFast = entry('NHWC', 'dy', 'xShape', BWD, backpropInput);

/** The same for NCHW tensors: dy [N, Co, OH, OW], dx [N, Ci, H, W]; the filter is still HWIO. */
export const conv2dBackpropInputFastNCHW = entry('NCHW', 'dy', 'xShape', BWD, backpropInput);

function backpropInput(dy: Float32Array, dyo: Operand4, f: Float32Array, filterShape: readonly number[], dxo: Operand4, info: ConvGeometry, tuning: ConvTuning): Float32Array {
  const [dN, OH, OW, Co] = dyo.dims;
  const [N, H, W, Ci] = dxo.dims;
  const [KH, KW] = checkConv(BWD, filterShape, info, 'dx', Ci, 'dy', Co, N, dN);
  const K = KH * KW * Ci;
  if (dy.length < N * OH * OW * Co || f.length < K * Co) throw new Error(`${BWD}: dy or the filter holds fewer values than its shape`);
  const sample = H * W * Ci;
  const out = new Float32Array(N * sample);
  if (out.length === 0 || K === 0 || Co === 0 || OH * OW === 0) return out;
  const dys = dyo.strides;
  const dxs = dxo.strides;
  const taps = tapsOf(dxo, KW, info);

  const kRange = Math.min(K, Math.max(4, Math.floor((tuning.filterBudgetBytes ?? FILTER_BUDGET_BYTES) / (8 * Co)) & ~3));
  const ldc = (kRange + 3) & ~3;
  const groupN = Math.max(1, Math.min(N, Math.floor((tuning.accBudgetBytes ?? ACC_BUDGET_BYTES) / (8 * sample))));
  const rowsPerSample = OH * OW;
  let Pc = chunkRows(tuning, Co, groupN * rowsPerSample);
  if (tuning.chunkRows === undefined) Pc = Math.max(4, Math.min(Pc, Math.floor(PRODUCT_BUDGET_BYTES / (8 * ldc)) & ~3));
  const Pc4 = (Pc + 3) & ~3;
  const Wt = new Float64Array(ldc * Co);
  const Dp = new Float64Array(Pc4 * Co);
  const D = new Float64Array(Pc4 * ldc);
  const acc = new Float64Array(groupN * sample);
  const rows = new ChunkRows(Pc); // x: sample within the group, times dxs.n; y: offset in dy
  const rowDy = rows.y;
  const single = kRange >= K;
  if (single) packRowPanels(f, Co, 0, K, Wt);
  for (let n0 = 0; n0 < N; n0 += groupN) {
    const ng = Math.min(groupN, N - n0);
    acc.fill(0, 0, ng * sample);
    const P = ng * rowsPerSample;
    for (let k0 = 0; k0 < K; k0 += kRange) {
      const k1 = Math.min(K, k0 + kRange);
      if (!single) packRowPanels(f, Co, k0, k1, Wt);
      const nbK = ((k1 - k0 + 3) & ~3) >> 2;
      for (let p0 = 0; p0 < P; p0 += Pc) {
        const pc = Math.min(Pc, P - p0);
        const nbR = (pc + 3) >> 2;
        rows.fill(p0, pc, OH, OW, info, dxs.n, dys, n0 * dys.n);
        for (let r = 0; r < pc; r++) {
          const dyo = rowDy[r]!;
          const rb = (r >> 2) * Co * 4 + (r & 3);
          if (dys.c === 1) {
            for (let co = 0; co < Co; co++) Dp[rb + co * 4] = dy[dyo + co]!;
          } else {
            const sc = dys.c;
            for (let co = 0; co < Co; co++) Dp[rb + co * 4] = dy[dyo + co * sc]!;
          }
        }
        D.fill(0, 0, nbR * 4 * ldc);
        for (let j = 0; j < nbK; j++) {
          const bo = j * Co * 4;
          for (let i = 0; i < nbR; i++) micro4x4(Dp, i * Co * 4, Wt, bo, Co, D, i * 4 * ldc + j * 4, ldc);
        }
        col2im(acc, D, ldc, pc, k0, k1, taps, rows);
      }
    }
    const o = n0 * dxs.n;
    for (let i = 0; i < ng * sample; i++) out[o + i] = acc[i]!;
  }
  return out;
}

/** acc[n, ih, iw, ci] (through the taps' strides) += D[r, k - k0] for every row r and column k in [k0, k1) whose tap is inside the input. */
function col2im(acc: Float64Array, D: Float64Array, ldc: number, pc: number, k0: number, k1: number, taps: Taps, rows: ChunkRows): void {
  const { hStride: xh, wStride: xw, cStride: sc, H, W, Ci, KW, dh, dw } = taps;
  const { x: rowN, ih: rowIH, iw: rowIW } = rows;
  const kk0 = Math.floor(k0 / Ci);
  const kk1 = Math.ceil(k1 / Ci);
  for (let r = 0; r < pc; r++) {
    const dr = r * ldc - k0;
    for (let kk = kk0; kk < kk1; kk++) {
      const kh = Math.floor(kk / KW);
      const ih = rowIH[r]! + kh * dh;
      if (ih < 0 || ih >= H) continue;
      const kw = kk - kh * KW;
      const iw = rowIW[r]! + kw * dw;
      if (iw < 0 || iw >= W) continue;
      const c0 = Math.max(0, k0 - kk * Ci);
      const c1 = Math.min(Ci, k1 - kk * Ci);
      const ao = rowN[r]! + ih * xh + iw * xw;
      const d = dr + kk * Ci;
      if (sc === 1) {
        for (let ci = c0; ci < c1; ci++) acc[ao + ci] += D[d + ci]!;
      } else {
        for (let ci = c0; ci < c1; ci++) acc[ao + ci * sc] += D[d + ci]!;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Registration with the cpu backend

interface BackpropInputAttrs extends ConvAttrs {
  inputShape: [number, number, number, number];
}

const isFloat = (t: tf.TensorInfo): boolean => t.dtype === 'float32';

/** kernelFunc for `Conv2D` on the cpu backend: the stock kernel's attributes and semantics (non-float32 inputs go to the stock kernel). */
export const conv2dKernelFunc: tf.KernelFunc = (args) => {
  const { inputs, backend, attrs } = args;
  const { x, filter } = inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
  const stock = convSwap.stock();
  if (stock && !(isFloat(x) && isFloat(filter))) return stock(args);
  const cpu = backend as unknown as CpuBackendLike;
  const convInfo = convInfoOf(x.shape, filter.shape, attrs as unknown as ConvAttrs);
  const xv = floatValues(cpu, x, 'x', 'conv2d');
  const fv = floatValues(cpu, filter, 'filter', 'conv2d');
  const info = geometryOf(convInfo);
  const result =
    convInfo.dataFormat === 'channelsLast'
      ? conv2dFast(xv, x.shape, fv, filter.shape, convInfo.outShape, info)
      : conv2dFastNCHW(xv, x.shape, fv, filter.shape, convInfo.outShape, info);
  return cpu.makeTensorInfo(convInfo.outShape.slice(), 'float32', result);
};

/** kernelFunc for `Conv2DBackpropInput` on the cpu backend (also what tf.conv2dTranspose runs). Honours a `dilations` attribute, which tfjs-core never passes. */
export const conv2dBackpropInputKernelFunc: tf.KernelFunc = (args) => {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const stock = inputSwap.stock();
  if (stock && !(isFloat(dy) && isFloat(filter))) return stock(args);
  const a = attrs as unknown as BackpropInputAttrs;
  const cpu = backend as unknown as CpuBackendLike;
  const convInfo = convInfoOf(a.inputShape, filter.shape, a);
  expectShape('conv2dBackpropInput', 'dy', dy.shape, convInfo.outShape, "the conv's output shape");
  const dyv = floatValues(cpu, dy, 'dy', 'conv2dBackpropInput');
  const fv = floatValues(cpu, filter, 'filter', 'conv2dBackpropInput');
  const info = geometryOf(convInfo);
  const result =
    convInfo.dataFormat === 'channelsLast'
      ? conv2dBackpropInputFast(dyv, dy.shape, fv, filter.shape, convInfo.inShape, info)
      : conv2dBackpropInputFastNCHW(dyv, dy.shape, fv, filter.shape, convInfo.inShape, info);
  return cpu.makeTensorInfo(convInfo.inShape.slice(), 'float32', result);
};

const convSwap = new KernelSwap(tf.Conv2D, conv2dKernelFunc);
const inputSwap = new KernelSwap(tf.Conv2DBackpropInput, conv2dBackpropInputKernelFunc);

/** Make the cpu backend's `Conv2D` and `Conv2DBackpropInput` the fast kernels (idempotent). */
export function registerFastConvKernels(): void {
  convSwap.register();
  inputSwap.register();
}

/** Put back the kernels registered before `registerFastConvKernels` (no-op if it never ran). */
export function restoreStockConvKernels(): void {
  convSwap.restore();
  inputSwap.restore();
}

/** Whether both fast kernels are the registered ones. */
export function fastConvKernelsRegistered(): boolean {
  return convSwap.registered() && inputSwap.registered();
}

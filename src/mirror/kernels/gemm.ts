/**
 * Pieces shared by the toolkit's fast conv kernels for TensorFlow.js' cpu backend
 * (conv2d-backprop-filter.ts, conv2d.ts): 4-D stride bookkeeping, the 4 x 4 register-blocked GEMM
 * micro-kernel over packed float64 panels, reading a tensor's values, and swapping a cpu kernel for
 * a fast one while keeping the stock config so it can be put back.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

/** Element strides of a 4-D tensor addressed as (n, h, w, c). */
export interface Strides4 {
  n: number;
  h: number;
  w: number;
  c: number;
}

export const nhwcStrides = (h: number, w: number, c: number): Strides4 => ({ n: h * w * c, h: w * c, w: c, c: 1 });
export const nchwStrides = (c: number, h: number, w: number): Strides4 => ({ n: c * h * w, h: w, w: 1, c: h * w });

/** A 4-D shape of non-negative integers, or an error naming the kernel and operand. */
export function dims4(shape: readonly number[], name: string, kernel: string): [number, number, number, number] {
  if (shape.length !== 4 || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new Error(`${kernel}: ${name} must be a 4-D shape, got [${shape.join(',')}]`);
  }
  return [shape[0]!, shape[1]!, shape[2]!, shape[3]!];
}

/**
 * C[4 x 4 tile at c, row stride ldc] += sum over r < len of (A panel row r) outer (B panel row r).
 *
 * A panel: 4 values per row r at A[ao + 4r .. ao + 4r + 3] (the tile's 4 rows); B panel likewise
 * (the tile's 4 columns). The 16 sums are float64 locals, added into C once.
 */
export function micro4x4(A: Float64Array, ao: number, B: Float64Array, bo: number, len: number, C: Float64Array, c: number, ldc: number): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
  let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
  const end = ao + len * 4;
  for (; ao < end; ao += 4, bo += 4) {
    const a0 = A[ao]!, a1 = A[ao + 1]!, a2 = A[ao + 2]!, a3 = A[ao + 3]!;
    // one B value at a time: 16 sums + 4 A values + 1 B value live (fewer spills than loading all 8)
    let b = B[bo]!;
    c00 += a0 * b; c10 += a1 * b; c20 += a2 * b; c30 += a3 * b;
    b = B[bo + 1]!;
    c01 += a0 * b; c11 += a1 * b; c21 += a2 * b; c31 += a3 * b;
    b = B[bo + 2]!;
    c02 += a0 * b; c12 += a1 * b; c22 += a2 * b; c32 += a3 * b;
    b = B[bo + 3]!;
    c03 += a0 * b; c13 += a1 * b; c23 += a2 * b; c33 += a3 * b;
  }
  C[c] += c00; C[c + 1] += c01; C[c + 2] += c02; C[c + 3] += c03;
  c += ldc;
  C[c] += c10; C[c + 1] += c11; C[c + 2] += c12; C[c + 3] += c13;
  c += ldc;
  C[c] += c20; C[c + 1] += c21; C[c + 2] += c22; C[c + 3] += c23;
  c += ldc;
  C[c] += c30; C[c + 1] += c31; C[c + 2] += c32; C[c + 3] += c33;
}

/**
 * Pack a row-major [K x M] matrix (element (k, m) at src[k * M + m]), columns [m0, m1), into panels
 * of 4 columns: dst[((m - m0) >> 2) * K * 4 + k * 4 + ((m - m0) & 3)], zeros past m1 up to a
 * multiple of 4. The filter of a conv (HWIO = [K x Co]) packed for the micro-kernel.
 */
export function packColumnPanels(src: Float32Array, K: number, M: number, m0: number, m1: number, dst: Float64Array): void {
  const M4 = (m1 - m0 + 3) & ~3;
  const panel = K * 4;
  for (let k = 0; k < K; k++) {
    const s = k * M;
    const d = k * 4;
    for (let m = m0; m < m1; m++) {
      const mr = m - m0;
      dst[(mr >> 2) * panel + d + (mr & 3)] = src[s + m]!;
    }
    for (let mr = m1 - m0; mr < M4; mr++) dst[(mr >> 2) * panel + d + (mr & 3)] = 0;
  }
}

/**
 * Pack rows [r0, r1) of a row-major [R x M] matrix into panels of 4 rows:
 * dst[((r - r0) >> 2) * M * 4 + m * 4 + ((r - r0) & 3)], zeros past r1 up to a multiple of 4.
 * The filter of a conv (HWIO = [K x Co]) packed with K as the panel index (dx = dy W^T).
 */
export function packRowPanels(src: Float32Array, M: number, r0: number, r1: number, dst: Float64Array): void {
  const R4 = (r1 - r0 + 3) & ~3;
  const panel = M * 4;
  for (let rr = 0; rr < R4; rr++) {
    const d = (rr >> 2) * panel + (rr & 3);
    if (r0 + rr < r1) {
      const s = (r0 + rr) * M;
      for (let m = 0; m < M; m++) dst[d + m * 4] = src[s + m]!;
    } else {
      for (let m = 0; m < M; m++) dst[d + m * 4] = 0;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Backend plumbing

/** The parts of tfjs-backend-cpu's MathBackendCPU the kernels use. */
export interface CpuBackendLike {
  data: { get(dataId: tf.DataId): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: tf.backend_util.BackendValues): tf.TensorInfo;
}

/** A tensor's values as float32 (a view when they already are). */
export function floatValues(backend: CpuBackendLike, t: tf.TensorInfo, name: string, kernel: string): Float32Array {
  if (t.dtype === 'complex64' || t.dtype === 'string') {
    throw new Error(`${kernel} does not support ${t.dtype} ${name}`);
  }
  const values = backend.data.get(t.dataId).values;
  if (values instanceof Float32Array) return values;
  return Float32Array.from(values as ArrayLike<number>);
}

/**
 * Swaps one cpu kernel for a fast kernelFunc, remembering the config it replaced (the stock
 * kernel) so that `restore` can put it back and `stock` can delegate to it.
 */
export class KernelSwap {
  private stockConfig: tf.KernelConfig | undefined;

  constructor(
    readonly kernelName: string,
    readonly kernelFunc: tf.KernelFunc,
  ) {}

  /** Make the fast kernel the registered one (idempotent). */
  register(): void {
    const current = tf.getKernel(this.kernelName, 'cpu');
    if (current?.kernelFunc === this.kernelFunc) return;
    if (current) {
      this.stockConfig ??= current;
      tf.unregisterKernel(this.kernelName, 'cpu');
    }
    tf.registerKernel({ kernelName: this.kernelName, backendName: 'cpu', kernelFunc: this.kernelFunc });
  }

  /** Put back the kernel registered before `register` (no-op if it never ran or another kernel is registered now). */
  restore(): void {
    if (!this.stockConfig) return;
    const current = tf.getKernel(this.kernelName, 'cpu');
    if (current?.kernelFunc !== this.kernelFunc) return;
    tf.unregisterKernel(this.kernelName, 'cpu');
    tf.registerKernel(this.stockConfig);
  }

  registered(): boolean {
    return tf.getKernel(this.kernelName, 'cpu')?.kernelFunc === this.kernelFunc;
  }

  /** The kernelFunc `register` replaced, if it has run. */
  stock(): tf.KernelFunc | undefined {
    return this.stockConfig?.kernelFunc;
  }
}

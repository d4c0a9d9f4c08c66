/**
 * Comparing the fast cpu conv kernels (src/mirror/kernels) against tfjs-backend-cpu's stock ones in
 * the same process: the conv cases, their geometry, and the metric.
 *
 * Metric (relErrVsStock): max_i |fast_i - stock_i| / max_i |stock_i| (0 when both are all zero;
 * Infinity when the lengths differ or only the reference is all zero); a case passes at <= TOL.
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import type { ConvGradInfo } from '../../src/mirror/kernels/conv2d-backprop-filter.js';

export const TOL = 1e-5;

/** max |fast - stock| / max |stock| (see the file comment). */
export function relErrVsStock(stock: ArrayLike<number>, fast: ArrayLike<number>): number {
  if (stock.length !== fast.length) return Infinity;
  let maxRef = 0;
  let maxErr = 0;
  for (let i = 0; i < stock.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(stock[i]!));
    const e = Math.abs(fast[i]! - stock[i]!);
    maxErr = Number.isNaN(e) ? Infinity : Math.max(maxErr, e);
  }
  if (maxRef === 0) return maxErr === 0 ? 0 : Infinity;
  return maxErr / maxRef;
}

/**
 * The metric is sharp enough: one element of `ref` off by 2e-5 of its largest magnitude fails,
 * off by 1e-7 passes, and a length mismatch fails.
 */
export function expectMetricResolves(ref: Float32Array): void {
  let iMax = 0;
  for (let i = 0; i < ref.length; i++) if (Math.abs(ref[i]!) > Math.abs(ref[iMax]!)) iMax = i;
  const scale = Math.abs(ref[iMax]!);
  const bad = Float32Array.from(ref);
  bad[7] = bad[7]! + 2e-5 * scale;
  expect(relErrVsStock(ref, bad)).to.be.greaterThan(TOL);
  const ok = Float32Array.from(ref);
  ok[7] = ok[7]! + 1e-7 * scale;
  expect(relErrVsStock(ref, ok)).to.be.at.most(TOL);
  expect(relErrVsStock(ref, ref.subarray(1))).to.equal(Infinity);
}

export type Pad4 = [[number, number], [number, number], [number, number], [number, number]];
export type Pad = 'same' | 'valid' | number | Pad4;

export interface ConvCase {
  name: string;
  /** NHWC, or NCHW when dataFormat is 'NCHW' */
  x: [number, number, number, number];
  f: [number, number, number, number];
  strides: number | [number, number];
  pad: Pad;
  dilations?: [number, number];
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

export const size = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/** tfjs' Conv2DInfo of a case (computeConv2DInfo: tf.conv2d refuses strides > 1 together with dilations > 1). */
export function convInfoOf(c: ConvCase): tf.backend_util.Conv2DInfo {
  const fmt = tf.backend_util.convertConv2DDataFormat(c.dataFormat ?? 'NHWC');
  return tf.backend_util.computeConv2DInfo(c.x, c.f, c.strides, c.dilations ?? 1, c.pad, c.dimRoundingMode, false, fmt);
}

/** The geometry the pure kernel functions take, from tfjs' Conv2DInfo. */
export function geometryOf(ci: tf.backend_util.Conv2DInfo): ConvGradInfo {
  return { strides: [ci.strideHeight, ci.strideWidth], dilations: [ci.dilationHeight, ci.dilationWidth], pads: ci.padInfo };
}

/** Selects tfjs' cpu backend without its first-use warning. */
export async function useCpuBackend(): Promise<void> {
  await tf.setBackend('cpu');
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
}

/** A per-case cache of `make(c)` (tensors prepared once per case, disposed by the suite's after()). */
export function perCase<C, T>(make: (c: C) => T): { get: (c: C) => T; values: () => IterableIterator<T> } {
  const cache = new Map<C, T>();
  return {
    get: (c) => {
      let v = cache.get(c);
      if (v === undefined) cache.set(c, (v = make(c)));
      return v;
    },
    values: () => cache.values(),
  };
}

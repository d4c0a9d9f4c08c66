/**
 * Conv bookkeeping shared by the fast conv kernels (conv2d.ts, conv2d-backprop-filter.ts): the
 * geometry they take, reading an NHWC or NCHW operand as (n, h, w, c) dims plus strides, the checks
 * every entry point makes, the (n, oh, ow) walk over a chunk of output rows, and reading the
 * kernels' tfjs attributes into a Conv2DInfo. The packing and GEMM loops stay in the kernels, each
 * specialised to its operand layout.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { dims4, nchwStrides, nhwcStrides, type Strides4 } from './gemm.js';

/** Conv geometry: `pads` are explicit (what `computeConv2DInfo` resolves 'same' / 'valid' / numbers to). */
export interface ConvGeometry {
  strides: readonly [number, number];
  dilations: readonly [number, number];
  pads: { top: number; left: number; bottom: number; right: number };
}

export type Layout = 'NHWC' | 'NCHW';

/** A 4-D operand as the kernels address it: dims in (n, h, w, c) order whatever the layout, and its element strides. */
export interface Operand4 {
  dims: readonly [number, number, number, number];
  strides: Strides4;
}

/** The (n, h, w, c) dims and strides of a tensor of `shape` in `layout` (errors name the kernel and operand). */
export function operand4(shape: readonly number[], layout: Layout, name: string, kernel: string): Operand4 {
  if (layout === 'NHWC') {
    const [N, H, W, C] = dims4(shape, name, kernel);
    return { dims: [N, H, W, C], strides: nhwcStrides(H, W, C) };
  }
  const [N, C, H, W] = dims4(shape, name, kernel);
  return { dims: [N, H, W, C], strides: nchwStrides(C, H, W) };
}

/**
 * Checks shared by the conv kernels: an HWIO filter shape whose channels are Ci -> Co, batch sizes
 * that agree, strides and dilations >= 1. Returns [KH, KW]. `inName` / `outName` name the tensors
 * whose channels are Ci / Co in the error.
 */
export function checkConv(
  kernel: string,
  filterShape: readonly number[],
  info: ConvGeometry,
  inName: string,
  Ci: number,
  outName: string,
  Co: number,
  N: number,
  N2: number,
): [number, number] {
  const [KH, KW, fCi, fCo] = dims4(filterShape, 'filterShape', kernel);
  const [sh, sw] = info.strides;
  const [dh, dw] = info.dilations;
  if (!(sh >= 1 && sw >= 1 && dh >= 1 && dw >= 1)) {
    throw new Error(`${kernel}: strides [${info.strides.join(',')}] and dilations [${info.dilations.join(',')}] must be >= 1`);
  }
  if (fCi !== Ci || fCo !== Co || N2 !== N) {
    throw new Error(`${kernel}: filter [${filterShape.join(',')}] does not match ${inName} channels ${Ci}, ${outName} channels ${Co} (batch ${N} vs ${N2})`);
  }
  return [KH, KW];
}

/**
 * Per-row offsets of a chunk of output rows p = (n, oh, ow) (row-major over [N, OH, OW]):
 * x[r] = n * xn (the sample's offset in the input-side tensor), ih[r] = oh * sh - top,
 * iw[r] = ow * sw - left (the window's corner), y[r] = the offset of (n, oh, ow) in the
 * output-side tensor (through its strides, plus a base).
 */
export class ChunkRows {
  readonly x: Int32Array;
  readonly ih: Int32Array;
  readonly iw: Int32Array;
  readonly y: Int32Array;

  constructor(rows: number) {
    this.x = new Int32Array(rows);
    this.ih = new Int32Array(rows);
    this.iw = new Int32Array(rows);
    this.y = new Int32Array(rows);
  }

  /** Rows p0 .. p0 + pc - 1 of an [*, OH, OW] output; `xn` is the input-side sample stride, `ys` / `yBase` address the output side. */
  fill(p0: number, pc: number, OH: number, OW: number, info: ConvGeometry, xn: number, ys: Strides4, yBase: number): void {
    const [sh, sw] = info.strides;
    const { top, left } = info.pads;
    const { x, ih, iw, y } = this;
    let n = Math.floor(p0 / (OH * OW));
    let oh = Math.floor((p0 % (OH * OW)) / OW);
    let ow = p0 % OW;
    for (let r = 0; r < pc; r++) {
      x[r] = n * xn;
      ih[r] = oh * sh - top;
      iw[r] = ow * sw - left;
      y[r] = yBase + n * ys.n + oh * ys.h + ow * ys.w;
      if (++ow === OW) {
        ow = 0;
        if (++oh === OH) {
          oh = 0;
          n++;
        }
      }
    }
  }
}

/**
 * What an im2col (or col2im) needs of the input-side tensor besides its values: its element strides
 * along h, w and c, H, W and channels, with the filter width and the dilations.
 */
export interface Taps {
  hStride: number;
  wStride: number;
  cStride: number;
  H: number;
  W: number;
  Ci: number;
  KW: number;
  dh: number;
  dw: number;
}

export function tapsOf(o: Operand4, KW: number, info: ConvGeometry): Taps {
  const [, H, W, Ci] = o.dims;
  const [dh, dw] = info.dilations;
  return { hStride: o.strides.h, wStride: o.strides.w, cStride: o.strides.c, H, W, Ci, KW, dh, dw };
}

// ---------------------------------------------------------------------------------------------
// Attributes

/** The attributes of tfjs' Conv2D, Conv2DBackpropInput and Conv2DBackpropFilter kernels that fix the geometry. */
export interface ConvAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  /** Not passed by tfjs-core for the gradients (its conv2d gradient refuses dilations > 1); honoured when present. */
  dilations?: [number, number] | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** computeConv2DInfo for a conv of an input of `inShape` (in the attrs' data format) with an HWIO filter of `filterShape`. */
export function convInfoOf(inShape: readonly number[], filterShape: readonly number[], a: ConvAttrs): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    inShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    a.strides,
    a.dilations ?? 1,
    a.pad,
    a.dimRoundingMode,
    false,
    tf.backend_util.convertConv2DDataFormat(a.dataFormat ?? 'NHWC'),
  );
}

/** The geometry the kernels take, from a Conv2DInfo. */
export function geometryOf(convInfo: tf.backend_util.Conv2DInfo): ConvGeometry {
  return {
    strides: [convInfo.strideHeight, convInfo.strideWidth],
    dilations: [convInfo.dilationHeight, convInfo.dilationWidth],
    pads: convInfo.padInfo,
  };
}

/** Throws unless `shape` is `want` (`what` says what `want` is: "the conv's output shape"). */
export function expectShape(kernel: string, name: string, shape: readonly number[], want: readonly number[], what: string): void {
  if (shape.length !== want.length || shape.some((d, i) => d !== want[i])) {
    throw new Error(`${kernel}: ${name} shape [${shape.join(',')}] is not ${what} [${want.join(',')}]`);
  }
}

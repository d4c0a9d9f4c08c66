/**
 * Emits a RobustBlock into a graph: pool to square -> reduce conv C -> Cmid -> orthogonal conv
 * Cmid -> C. Everything is standard ONNX at any opset >= 9 (MatMul, Conv, MaxPool, Transpose,
 * Add, Sub, Mul, Div, Abs, Sqrt, ReduceSum).
 *
 * Forms of the orthogonal conv:
 * - `aol`: trainable in the graph: the kernel W is an initializer, and the graph computes the AOL
 *   rescaling from it (Transpose, Conv of W^T with itself, Abs, ReduceSum, Sqrt, Div) before the
 *   Conv, so fine-tuning W keeps the layer 1-Lipschitz.
 * - `cayley`: materialized: Q(f) = cayley(alpha Wf / ||Wf||) is computed here in float64 and stored
 *   as two constants [n, m, C, Cmid] (real, imaginary); the graph does rfft2 (MatMuls with cos/sin
 *   matrices), one complex matrix product per frequency, irfft2, bias. The kernel W and alpha that
 *   Q comes from are returned (`params`) for the caller to keep in metadata, so Q can be recomputed.
 */
import { UserError } from '../../errors.js';
import type { Graph } from '../../ir/graph.js';
import type { Node } from '../../ir/node.js';
import type { Value } from '../../ir/value.js';
import { Emitter } from '../emit.js';
import { cayleySpectrum, spectrumArrays, type KernelShape } from './cayley.js';
import { dftMatrices } from './dft.js';
import type { RobustBlockOptions } from './options.js';
import { AOL_EPS } from './aol.js';
import { adaptivePoolMatrix, paperMaxPoolKernel } from './pool.js';

export interface BlockGeometry {
  /** Channels, height, width at the splice point. */
  c: number;
  h: number;
  w: number;
}

export interface BuiltBlock {
  output: Value;
  nodes: Node[];
  initializers: Value[];
  /** [C, n, n] */
  outShape: [number, number, number];
  /** Side of the pooled square, and of the orthogonal conv's grid (s - 2 with an unpadded 3x3 reduce conv). */
  square: number;
  n: number;
  cmid: number;
  /** Cayley only: ||Wf||_F and the alpha used. */
  wfNorm?: number;
  alpha?: number;
  /** Cayley only: the kernel W and alpha Q was computed from (kept in metadata, not read by the graph). */
  params?: { weight: Float32Array; shape: number[]; alpha: number };
}

/** Deterministic uniform numbers (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** PyTorch's default conv init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias. */
function convInit(next: () => number, cout: number, cin: number, k: number): { w: Float64Array; b: Float64Array } {
  const bound = 1 / Math.sqrt(cin * k * k);
  const w = Float64Array.from({ length: cout * cin * k * k }, () => (next() * 2 - 1) * bound);
  const b = Float64Array.from({ length: cout }, () => (next() * 2 - 1) * bound);
  return { w, b };
}

/**
 * Emit a trainable AOL conv on z [N, cin, n, n] -> [N, cout, n, n] (zero padding, same size): the
 * graph rescales the kernel initializer W per input channel by 1/sqrt(sum |conv(W^T, W^T)| + 1e-6).
 */
export function emitAolConv(e: Emitter, z: Value, wData: ArrayLike<number>, biasData: ArrayLike<number>, { cout, cin, k }: KernelShape): Value {
  const w = e.f32('orth.weight', [cout, cin, k, k], wData);
  const wt = e.op('Transpose', [w], 'orth/aol/Transpose', { perm: [1, 0, 2, 3] });
  const v = e.op('Conv', [wt, wt], 'orth/aol/Conv', { kernel_shape: [k, k], pads: [k - 1, k - 1, k - 1, k - 1] });
  const d = e.reduceSum(e.op('Abs', [v], 'orth/aol/Abs'), [1, 2, 3], true, 'orth/aol/ReduceSum');
  const scale = e.op('Sqrt', [e.op('Add', [d, e.f32('orth.eps', [], [AOL_EPS])], 'orth/aol/Add')], 'orth/aol/Sqrt');
  const wScaled = e.op('Div', [w, e.op('Transpose', [scale], 'orth/aol/Transpose_scale', { perm: [1, 0, 2, 3] })], 'orth/aol/Div');
  const p = (k - 1) / 2;
  return e.op('Conv', [z, wScaled, e.f32('orth.bias', [cout], biasData)], 'orth/Conv', { kernel_shape: [k, k], pads: [p, p, p, p] });
}

/** Emit adaptive average pooling [N, C, H, W] -> [N, C, s, s] as MatMuls with PyTorch's bins. */
export function emitAdaptivePool(e: Emitter, x: Value, h: number, w: number, s: number): Value {
  let pooled = x;
  if (w !== s) pooled = e.op('MatMul', [pooled, e.f32('pool.pw', [w, s], transposeMatrix(adaptivePoolMatrix(w, s), s, w))], 'pool/MatMul_w');
  if (h !== s) pooled = e.op('MatMul', [e.f32('pool.ph', [s, h], adaptivePoolMatrix(h, s)), pooled], 'pool/MatMul_h');
  return pooled;
}

/**
 * Emit a materialized Cayley conv on z [N, cin, n, n] -> [N, cout, n, n]: rfft2 by MatMuls,
 * Q(f) X(f) per frequency with Q stored as constants, irfft2, bias. alpha defaults to ||Wf||_F.
 */
export function emitCayleyConv(
  e: Emitter,
  reduced: Value,
  w: ArrayLike<number>,
  biasData: ArrayLike<number>,
  shape: KernelShape,
  n: number,
  alphaOpt?: number,
): { output: Value; wfNorm: number; alpha: number } {
  const spec0 = cayleySpectrum(w, shape, n, 1);
  const alpha = alphaOpt ?? spec0.wfNorm;
  const spec = alpha === 1 ? spec0 : cayleySpectrum(w, shape, n, alpha);
  const bias = e.f32('orth.bias', [shape.cout, 1, 1], biasData);
  const { re, im } = spectrumArrays(spec);
  const d = dftMatrices(n);
  const m = d.m;
  const qr = e.f32('orth.q_re', [n, m, shape.cout, shape.cin], re);
  const qi = e.f32('orth.q_im', [n, m, shape.cout, shape.cin], im);
    const cw = e.f32('dft.cw', [n, m], d.cw);
    const sw = e.f32('dft.sw', [n, m], d.sw);
    const ch = e.f32('dft.ch', [n, n], d.ch);
    const sh = e.f32('dft.sh', [n, n], d.sh);
    const ar = e.f32('dft.ar', [m, n], d.ar);
    const ai = e.f32('dft.ai', [m, n], d.ai);
    // rfft2: along w, then along h
    const a = e.op('MatMul', [reduced, cw], 'orth/rfft/MatMul_cw');
    const b = e.op('MatMul', [reduced, sw], 'orth/rfft/MatMul_sw');
    const xr = e.op('Add', [e.op('MatMul', [ch, a], 'orth/rfft/MatMul_ch_a'), e.op('MatMul', [sh, b], 'orth/rfft/MatMul_sh_b')], 'orth/rfft/Add');
    const xi = e.op('Sub', [e.op('MatMul', [ch, b], 'orth/rfft/MatMul_ch_b'), e.op('MatMul', [sh, a], 'orth/rfft/MatMul_sh_a')], 'orth/rfft/Sub');
    // per frequency: [N, Cmid, n, m] -> [n, m, Cmid, N]; Y = Q X; back to [N, C, n, m]
    const tr = e.op('Transpose', [xr], 'orth/Transpose_xr', { perm: [2, 3, 1, 0] });
    const ti = e.op('Transpose', [xi], 'orth/Transpose_xi', { perm: [2, 3, 1, 0] });
    const yr = e.op('Sub', [e.op('MatMul', [qr, tr], 'orth/MatMul_qr_xr'), e.op('MatMul', [qi, ti], 'orth/MatMul_qi_xi')], 'orth/Sub_yr');
    const yi = e.op('Add', [e.op('MatMul', [qr, ti], 'orth/MatMul_qr_xi'), e.op('MatMul', [qi, tr], 'orth/MatMul_qi_xr')], 'orth/Add_yi');
    const ur = e.op('Transpose', [yr], 'orth/Transpose_yr', { perm: [3, 2, 0, 1] });
    const ui = e.op('Transpose', [yi], 'orth/Transpose_yi', { perm: [3, 2, 0, 1] });
    // irfft2: conjugate transform along h, then the real inverse along w (1/n^2 folded into ar, ai)
    const zr = e.op('Sub', [e.op('MatMul', [ch, ur], 'orth/irfft/MatMul_ch_yr'), e.op('MatMul', [sh, ui], 'orth/irfft/MatMul_sh_yi')], 'orth/irfft/Sub');
    const zi = e.op('Add', [e.op('MatMul', [ch, ui], 'orth/irfft/MatMul_ch_yi'), e.op('MatMul', [sh, ur], 'orth/irfft/MatMul_sh_yr')], 'orth/irfft/Add');
    const y = e.op('Add', [e.op('MatMul', [zr, ar], 'orth/irfft/MatMul_ar'), e.op('MatMul', [zi, ai], 'orth/irfft/MatMul_ai')], 'orth/irfft/Add_w');
    return { output: e.op('Add', [y, bias], 'orth/Add_bias'), wfNorm: spec.wfNorm, alpha };
}

/** R [out, in]: linear interpolation from `inp` samples to `out` (PyTorch bilinear, align_corners = false). */
export function bilinearMatrix(inp: number, out: number): Float64Array {
  const r = new Float64Array(out * inp);
  const scale = inp / out;
  for (let i = 0; i < out; i++) {
    const src = Math.max(0, (i + 0.5) * scale - 0.5);
    const i0 = Math.min(Math.floor(src), inp - 1);
    const i1 = Math.min(i0 + 1, inp - 1);
    const t = src - i0;
    r[i * inp + i0]! += 1 - t;
    r[i * inp + i1]! += t;
  }
  return r;
}

function transposeMatrix(a: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j]!;
  return out;
}

export function buildRobustBlock(graph: Graph, x: Value, geo: BlockGeometry, o: RobustBlockOptions, opset: number): BuiltBlock {
  const e = new Emitter(graph, o.prefix, opset);
  const next = rng(o.seed);

  // 1. pool to square
  let pooled = x;
  let s: number;
  if (o.pool === 'max') {
    if (o.square !== undefined) throw new UserError('bad-option', '--square applies to the average pool only; the max pool of the reference code has a fixed kernel');
    const [kh, kw] = paperMaxPoolKernel(geo.h, geo.w);
    s = geo.h - kh + 1;
    pooled = e.op('MaxPool', [x], 'pool/MaxPool', { kernel_shape: [kh, kw], strides: [1, 1] });
  } else {
    s = o.square ?? Math.min(geo.h, geo.w);
    pooled = emitAdaptivePool(e, x, geo.h, geo.w, s);
  }

  // 2. reduce conv C -> Cmid
  const cmid = Math.max(1, Math.round(geo.c * o.reduce));
  const kr = o.reduceKernel;
  const n = s - (kr - 1);
  if (n < 1) throw new UserError('splice-too-small', `the pooled map is ${s}x${s}: too small for a ${kr}x${kr} unpadded reduce conv`);
  const red = convInit(next, cmid, geo.c, kr);
  const reduced = e.op('Conv', [pooled, e.f32('reduce.weight', [cmid, geo.c, kr, kr], red.w), e.f32('reduce.bias', [cmid], red.b)], 'reduce/Conv', {
    kernel_shape: [kr, kr],
  });

  // 3. orthogonal conv Cmid -> C
  const k = o.orthKernel;
  const orth = convInit(next, geo.c, cmid, k);
  let output: Value;
  const built: Partial<BuiltBlock> = {};
  if (o.orth === 'aol') {
    output = emitAolConv(e, reduced, orth.w, orth.b, { cout: geo.c, cin: cmid, k });
  } else {
    const alpha0 = o.alpha === 'norm' ? undefined : o.alpha;
    const r = emitCayleyConv(e, reduced, orth.w, orth.b, { cout: geo.c, cin: cmid, k }, n, alpha0);
    output = r.output;
    built.params = { weight: Float32Array.from(orth.w), shape: [geo.c, cmid, k, k], alpha: r.alpha };
    built.wfNorm = r.wfNorm;
    built.alpha = r.alpha;
  }
  let outShape: [number, number, number] = [geo.c, n, n];
  if (o.restoreSize && (n !== geo.h || n !== geo.w)) {
    // bilinear resize back to H x W (align_corners = false), as two constant matrices
    if (geo.w !== n) output = e.op('MatMul', [output, e.f32('restore.rw', [n, geo.w], transposeMatrix(bilinearMatrix(n, geo.w), geo.w, n))], 'restore/MatMul_w');
    if (geo.h !== n) output = e.op('MatMul', [e.f32('restore.rh', [geo.h, n], bilinearMatrix(n, geo.h)), output], 'restore/MatMul_h');
    outShape = [geo.c, geo.h, geo.w];
  }
  return {
    ...built,
    output,
    nodes: e.nodes,
    initializers: e.initializers,
    outShape,
    square: s,
    n,
    cmid,
  };
}


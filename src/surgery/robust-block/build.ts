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
import type { InverseRegion } from '../../ir/inverse-regions.js';
import type { ShapeStandIn } from '../splice-check.js';
import { mulberry32 } from '../../util/random.js';
import { Emitter } from '../emit.js';
import { kernelSpectrumNorm, type KernelShape } from './cayley.js';
import { emitCayleyMaterialized, emitCayleyParametric, newtonSchulzIterations } from './cayley-graph.js';
import type { RobustBlockOptions } from './options.js';
import { checkBlockGeometry, checkNsIterations } from './bounds.js';
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
  /** Cayley, materialized: the kernel W and alpha Q was computed from (kept in metadata, not read by the graph). */
  params?: { weight: Float32Array; shape: number[]; alpha: number };
  /** Cayley: the values holding Q (constants when materialized, computed when parametric). */
  q?: { re: Value; im: Value };
  /** Values computed from initializers only, which `materialize` replaces by constants (Q, or AOL's rescaled kernel). */
  foldable: Value[];
  /** Cayley, parametric: the W and alpha initializers, and the Newton-Schulz iterations (0 with the other inverses). */
  parametric?: { weight: Value; alpha: Value; iterations: number };
  /** Cayley, parametric: what the post-splice shape check runs instead of the block (see splice-check.ts). */
  shapeStandIn?: ShapeStandIn;
  /** Cayley, parametric: the per-frequency inverse as a region for the autodiff engine. */
  inverseRegion?: InverseRegion;
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
export function emitAolConv(e: Emitter, z: Value, wData: ArrayLike<number>, biasData: ArrayLike<number>, { cout, cin, k }: KernelShape): { output: Value; scaledKernel: Value } {
  const w = e.f32('orth.weight', [cout, cin, k, k], wData);
  const wt = e.op('Transpose', [w], 'orth/aol/Transpose', { perm: [1, 0, 2, 3] });
  const v = e.op('Conv', [wt, wt], 'orth/aol/Conv', { kernel_shape: [k, k], pads: [k - 1, k - 1, k - 1, k - 1] });
  const d = e.reduceSum(e.op('Abs', [v], 'orth/aol/Abs'), [1, 2, 3], true, 'orth/aol/ReduceSum');
  const scale = e.op('Sqrt', [e.op('Add', [d, e.f32('orth.eps', [], [AOL_EPS])], 'orth/aol/Add')], 'orth/aol/Sqrt');
  const wScaled = e.op('Div', [w, e.op('Transpose', [scale], 'orth/aol/Transpose_scale', { perm: [1, 0, 2, 3] })], 'orth/aol/Div');
  const p = (k - 1) / 2;
  return { output: e.op('Conv', [z, wScaled, e.f32('orth.bias', [cout], biasData)], 'orth/Conv', { kernel_shape: [k, k], pads: [p, p, p, p] }), scaledKernel: wScaled };
}

/** Emit adaptive average pooling [N, C, H, W] -> [N, C, s, s] as MatMuls with PyTorch's bins. */
export function emitAdaptivePool(e: Emitter, x: Value, h: number, w: number, s: number): Value {
  let pooled = x;
  if (w !== s) pooled = e.op('MatMul', [pooled, e.f32('pool.pw', [w, s], transposeMatrix(adaptivePoolMatrix(w, s), s, w))], 'pool/MatMul_w');
  if (h !== s) pooled = e.op('MatMul', [e.f32('pool.ph', [s, h], adaptivePoolMatrix(h, s)), pooled], 'pool/MatMul_h');
  return pooled;
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
  const next = mulberry32(o.seed);

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
  }

  // 2. reduce conv C -> Cmid
  const cmid = Math.max(1, Math.round(geo.c * o.reduce));
  const kr = o.reduceKernel;
  const n = s - (kr - 1);
  if (n < 1) throw new UserError('splice-too-small', `the pooled map is ${s}x${s}: too small for a ${kr}x${kr} unpadded reduce conv`);
  // before anything is allocated: the block's arrays and work within their bounds
  checkBlockGeometry({ c: geo.c, h: geo.h, w: geo.w, s, n, cmid, k: o.orthKernel, reduceKernel: kr, orth: o.orth, restoreSize: o.restoreSize });
  if (o.pool !== 'max') pooled = emitAdaptivePool(e, x, geo.h, geo.w, s);
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
    const aol = emitAolConv(e, reduced, orth.w, orth.b, { cout: geo.c, cin: cmid, k });
    output = aol.output;
    built.foldable = [aol.scaledKernel];
  } else {
    const shape = { cout: geo.c, cin: cmid, k };
    const wfNorm = kernelSpectrumNorm(orth.w, shape, n);
    const alpha = o.alpha === 'norm' ? wfNorm : o.alpha;
    const bias = e.f32('orth.bias', [geo.c, 1, 1], orth.b);
    built.wfNorm = wfNorm;
    built.alpha = alpha;
    if (o.form === 'materialized') {
      const r = emitCayleyMaterialized(e, reduced, orth.w, bias, shape, n, alpha);
      output = r.output;
      built.params = { weight: Float32Array.from(orth.w), shape: [geo.c, cmid, k, k], alpha };
      built.q = { re: r.qr, im: r.qi };
      built.foldable = [];
    } else {
      const weight = e.f32('orth.weight', [geo.c, cmid, k, k], orth.w);
      const alphaV = e.f32('orth.alpha', [], [alpha]);
      const iterations = o.inverse === 'newton-schulz' ? (o.nsIterations ?? newtonSchulzIterations(Math.min(geo.c, cmid), alpha)) : 0;
      if (o.inverse === 'newton-schulz') checkNsIterations(iterations, alpha);
      const r = emitCayleyParametric(e, reduced, { weight, alpha: alphaV, bias }, shape, n, { method: o.inverse, iterations });
      output = r.output;
      built.q = { re: r.qr, im: r.qi };
      built.foldable = [r.qr, r.qi];
      built.parametric = { weight, alpha: alphaV, iterations };
      built.inverseRegion = r.region;
      built.shapeStandIn = { orthOutput: r.output.name, pooled: pooled.name, crop: (kr - 1) / 2, n };
    }
  }
  let outShape: [number, number, number] = [geo.c, n, n];
  if (o.restoreSize && (n !== geo.h || n !== geo.w)) {
    // bilinear resize back to H x W (align_corners = false), as two constant matrices
    if (geo.w !== n) output = e.op('MatMul', [output, e.f32('restore.rw', [n, geo.w], transposeMatrix(bilinearMatrix(n, geo.w), geo.w, n))], 'restore/MatMul_w');
    if (geo.h !== n) output = e.op('MatMul', [e.f32('restore.rh', [geo.h, n], bilinearMatrix(n, geo.h)), output], 'restore/MatMul_h');
    outShape = [geo.c, geo.h, geo.w];
  }
  return {
    foldable: [],
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


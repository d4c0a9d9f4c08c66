/**
 * The Cayley conv as ONNX: the spectral application shared by both forms, the materialized form
 * (Q precomputed in float64 and stored as constants) and the parametric form (Q computed inside
 * the graph from the kernel W and alpha initializers on every run, so fine-tuning can update them).
 *
 * Parametric form, all in real arithmetic (complex matrices as real and imaginary planes):
 *   Wf = Eh W Ew^T with Eh[u,a] = exp(2 pi i u (a-s)/n), Ew[v,b] = exp(2 pi i v (b-s)/n)
 *        (the conjugated, centred spectrum of the zero-padded kernel: no Pad needed);
 *   M = Wf * alpha / ||Wf||_F, with ||Wf||_F^2 = sum over channel pairs of W Ka W^T Kv (Ka, Kv the
 *   k x k cosine sums over the n x m frequencies; exact, no spectrum-sized reduction: a float32
 *   sum over the tens of millions of spectrum entries was off by 0.2-0.7% at the paper's sizes);
 *   per frequency U = M[:cin], V = M[cin:] (Slice);
 *   A = U - U^H + V^H V; B = I + A; C = B^-1 by one of
 *   - `schur` (default): an exact recursive block inverse on the complex planes (schur-inverse.ts);
 *   - `newton-schulz`: X <- X (2I - B X), X0 = B^T / ||B||_F^2 on the real 2cin x 2cin block form
 *     [[Br, -Bi], [Bi, Br]], a fixed iteration count (files spliced before kept it; still offered);
 *   - `com.microsoft`: the Inverse op on the block form;
 *   Q = [C (I - A); -2 V C] = [2C - I; -2 V C]. For cin > cout the matrices are transposed
 *   before and after, as in the reference.
 *
 * The inverse is returned as a region (input B, output C) for the autodiff engine, which treats it
 * as one op (metadata `iqa-surgeon.inverse-regions`, see src/ir/inverse-regions.ts).
 */
import { UsageError } from '../../errors.js';
import type { Value } from '../../ir/value.js';
import type { Emitter } from '../emit.js';
import { cayleySpectrum, spectrumArrays, type KernelShape } from './cayley.js';
import { dftMatrices, rfftBins } from './dft.js';
import { emitSchurInverse } from './schur-inverse.js';
import type { InverseRegion } from '../../ir/inverse-regions.js';

export type InverseMethod = 'schur' | 'newton-schulz' | 'com.microsoft';

/** y = irfft2(Q(f) rfft2(z)(f)) + bias for z [N, cin, n, n]; qr, qi [n, m, cout, cin]. */
export function emitSpectralConv(e: Emitter, z: Value, qr: Value, qi: Value, bias: Value, n: number): Value {
  const d = dftMatrices(n);
  const m = d.m;
  const cw = e.f32('dft.cw', [n, m], d.cw);
  const sw = e.f32('dft.sw', [n, m], d.sw);
  const ch = e.f32('dft.ch', [n, n], d.ch);
  const sh = e.f32('dft.sh', [n, n], d.sh);
  const ar = e.f32('dft.ar', [m, n], d.ar);
  const ai = e.f32('dft.ai', [m, n], d.ai);
  // rfft2: along w, then along h
  const a = e.op('MatMul', [z, cw], 'orth/rfft/MatMul_cw');
  const b = e.op('MatMul', [z, sw], 'orth/rfft/MatMul_sw');
  const xr = e.op('Add', [e.op('MatMul', [ch, a], 'orth/rfft/MatMul_ch_a'), e.op('MatMul', [sh, b], 'orth/rfft/MatMul_sh_b')], 'orth/rfft/Add');
  const xi = e.op('Sub', [e.op('MatMul', [ch, b], 'orth/rfft/MatMul_ch_b'), e.op('MatMul', [sh, a], 'orth/rfft/MatMul_sh_a')], 'orth/rfft/Sub');
  // per frequency: [2N, cin, n, m] (real parts, then imaginary) -> [n, m, cin, 2N]; P = Qr X and
  // R = Qi X read each Q plane once for both parts (Q is the largest array: 2.3 GB at the
  // Linearity position); Yr = Pr - Ri, Yi = Pi + Rr; back to [N, cout, n, m]
  const t = e.op('Transpose', [e.op('Concat', [xr, xi], 'orth/Concat_x', { axis: 0 })], 'orth/Transpose_x', { perm: [2, 3, 1, 0] });
  const split = (v: Value, name: string): [Value, Value] => {
    const parts = e.op('Reshape', [v, e.i64(`${name}.shape`, [5], [0, 0, 0, 2, -1])], `${name}/Reshape`);
    return [0, 1].map((k) => e.op('Gather', [parts, e.i64(`${name}.index${k}`, [], [k])], `${name}/Gather_${k}`, { axis: 3 })) as [Value, Value];
  };
  const [pr, pi] = split(e.op('MatMul', [qr, t], 'orth/MatMul_qr'), 'orth/p');
  const [rr, ri] = split(e.op('MatMul', [qi, t], 'orth/MatMul_qi'), 'orth/r');
  const yr = e.op('Sub', [pr, ri], 'orth/Sub_yr');
  const yi = e.op('Add', [pi, rr], 'orth/Add_yi');
  const ur = e.op('Transpose', [yr], 'orth/Transpose_yr', { perm: [3, 2, 0, 1] });
  const ui = e.op('Transpose', [yi], 'orth/Transpose_yi', { perm: [3, 2, 0, 1] });
  // irfft2: conjugate transform along h, then the real inverse along w (1/n^2 folded into ar, ai)
  const zr = e.op('Sub', [e.op('MatMul', [ch, ur], 'orth/irfft/MatMul_ch_yr'), e.op('MatMul', [sh, ui], 'orth/irfft/MatMul_sh_yi')], 'orth/irfft/Sub');
  const zi = e.op('Add', [e.op('MatMul', [ch, ui], 'orth/irfft/MatMul_ch_yi'), e.op('MatMul', [sh, ur], 'orth/irfft/MatMul_sh_yr')], 'orth/irfft/Add');
  const y = e.op('Add', [e.op('MatMul', [zr, ar], 'orth/irfft/MatMul_ar'), e.op('MatMul', [zi, ai], 'orth/irfft/MatMul_ai')], 'orth/irfft/Add_w');
  return e.op('Add', [y, bias], 'orth/Add_bias');
}

/** Q precomputed in float64 and stored as the constants `<prefix>.orth.q_re|q_im`. */
export function emitCayleyMaterialized(
  e: Emitter,
  z: Value,
  w: ArrayLike<number>,
  bias: Value,
  shape: KernelShape,
  n: number,
  alpha: number,
): { output: Value; qr: Value; qi: Value; wfNorm: number } {
  const spec = cayleySpectrum(w, shape, n, alpha);
  const { re, im } = spectrumArrays(spec);
  const m = rfftBins(n);
  const qr = e.f32('orth.q_re', [n, m, shape.cout, shape.cin], re);
  const qi = e.f32('orth.q_im', [n, m, shape.cout, shape.cin], im);
  return { output: emitSpectralConv(e, z, qr, qi, bias, n), qr, qi, wfNorm: spec.wfNorm };
}

function selection(rows: number, cols: number, offset: number): Float64Array {
  const s = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) s[i * cols + offset + i] = 1;
  return s;
}

function eye(n: number): Float64Array {
  return selection(n, n, 0);
}

/**
 * Newton-Schulz iterations that bring B = I + A (block form, every frequency) to a relative
 * residual `tol`, for any kernel with this alpha: X0 = B^T / ||B||_F^2 leaves a residual of norm
 * r <= 1 - 1/||B||_F^2 (sigma_min(B) >= 1 since B's symmetric part is I + V^H V), each step squares
 * it, and since sum_f ||M_f||_F^2 = alpha^2, ||I + A||_F <= sqrt(C) + 2 alpha + alpha^2 at every
 * frequency. So k = ceil(log2(ln(1/tol) * 2 (sqrt(C) + 2 alpha + alpha^2)^2)) steps suffice.
 */
export function newtonSchulzIterations(c: number, alpha: number, tol = 1e-7): number {
  const bound = 2 * (Math.sqrt(c) + 2 * Math.abs(alpha) + alpha * alpha) ** 2;
  return Math.max(6, Math.ceil(Math.log2(Math.log(1 / tol) * bound)));
}

/**
 * ||Wf||_F of W [cout, cin, k, k] over the n x (n/2+1) frequencies, in the graph without the
 * spectrum: |Wf(u,v)|^2 summed over u, v is W Ka W^T Kv per channel pair, with
 * Ka[a,a'] = sum_u cos(2 pi u (a-a')/n) and Kv[b,b'] = sum_v cos(2 pi v (b-b')/n) (the sine
 * parts cancel: Ka is even, and the odd part of Kv meets a symmetric product). Summed axis by
 * axis, so no float32 sum runs over more than max(k, cin, cout) terms.
 */
export function emitSpectrumNorm(e: Emitter, weight: Value, k: number, n: number): Value {
  const m = rfftBins(n);
  const ka = new Float64Array(k * k);
  const kv = new Float64Array(k * k);
  for (let a = 0; a < k; a++)
    for (let b = 0; b < k; b++) {
      for (let u = 0; u < n; u++) ka[a * k + b]! += Math.cos((2 * Math.PI * u * (a - b)) / n);
      for (let v = 0; v < m; v++) kv[a * k + b]! += Math.cos((2 * Math.PI * v * (a - b)) / n);
    }
  const t = e.op('MatMul', [e.f32('cayley.norm_ka', [k, k], ka), e.op('MatMul', [weight, e.f32('cayley.norm_kv', [k, k], kv)], 'orth/cayley/norm/MatMul_kv')], 'orth/cayley/norm/MatMul_ka');
  let sq = e.op('Mul', [t, weight], 'orth/cayley/norm/Mul');
  for (const axis of [3, 2, 1, 0]) sq = e.reduceSum(sq, [axis], false, `orth/cayley/norm/ReduceSum_${axis}`);
  return e.op('Sqrt', [sq], 'orth/cayley/norm/Sqrt');
}

export interface ParametricValues {
  weight: Value;
  alpha: Value;
  bias: Value;
}

/**
 * Q computed in the graph from the W and alpha initializers. Returns the output and the values
 * holding Q (so `materialize` can replace them with constants).
 */
export function emitCayleyParametric(
  e: Emitter,
  z: Value,
  p: ParametricValues,
  shape: KernelShape,
  n: number,
  inverse: { method: InverseMethod; iterations: number },
): { output: Value; qr: Value; qi: Value; region: InverseRegion } {
  const { qr, qi, region } = emitCayleyQ(e, p.weight, p.alpha, shape, n, inverse);
  return { output: emitSpectralConv(e, z, qr, qi, p.bias, n), qr, qi, region };
}

/**
 * The per-frequency Cayley matrices Q [n, m, cout, cin] (real, imaginary) from W and alpha values,
 * and the inverse's region. `chunk` computes the frequency rows u in [rows[0], rows[1]) only, with
 * alpha / ||Wf||_F given (`scale`: a number, or a value computed once for all chunks) or computed
 * in the graph from the whole kernel.
 */
export function emitCayleyQ(
  e: Emitter,
  weight: Value,
  alphaValue: Value,
  shape: KernelShape,
  n: number,
  inverse: { method: InverseMethod; iterations: number },
  chunk?: { rows: [number, number]; scale?: number | Value },
): { qr: Value; qi: Value; region: InverseRegion } {
  const p = { weight, alpha: alphaValue };
  const { cout, cin, k } = shape;
  const m = rfftBins(n);
  const s = Math.floor((k - 1) / 2);
  // E matrices: Eh [n, k], Ew^T [k, m]
  const ehr = new Float64Array(n * k);
  const ehi = new Float64Array(n * k);
  for (let u = 0; u < n; u++)
    for (let a = 0; a < k; a++) {
      const t = (2 * Math.PI * u * (a - s)) / n;
      ehr[u * k + a] = Math.cos(t);
      ehi[u * k + a] = Math.sin(t);
    }
  const ewr = new Float64Array(k * m);
  const ewi = new Float64Array(k * m);
  for (let b = 0; b < k; b++)
    for (let v = 0; v < m; v++) {
      const t = (2 * Math.PI * v * (b - s)) / n;
      ewr[b * m + v] = Math.cos(t);
      ewi[b * m + v] = Math.sin(t);
    }
  // a chunk of frequency rows u in [u0, u1) (materialize computes Q in pieces to bound memory)
  const [u0, u1] = chunk?.rows ?? [0, n];
  const Ehr = e.f32('cayley.ehr', [u1 - u0, k], ehr.subarray(u0 * k, u1 * k));
  const Ehi = e.f32('cayley.ehi', [u1 - u0, k], ehi.subarray(u0 * k, u1 * k));
  const tr = e.op('MatMul', [p.weight, e.f32('cayley.ewr', [k, m], ewr)], 'orth/cayley/MatMul_ewr');
  const ti = e.op('MatMul', [p.weight, e.f32('cayley.ewi', [k, m], ewi)], 'orth/cayley/MatMul_ewi');
  const wfr = e.op('Sub', [e.op('MatMul', [Ehr, tr], 'orth/cayley/MatMul_ehr_tr'), e.op('MatMul', [Ehi, ti], 'orth/cayley/MatMul_ehi_ti')], 'orth/cayley/Sub_wfr');
  const wfi = e.op('Add', [e.op('MatMul', [Ehr, ti], 'orth/cayley/MatMul_ehr_ti'), e.op('MatMul', [Ehi, tr], 'orth/cayley/MatMul_ehi_tr')], 'orth/cayley/Add_wfi');
  let scale: Value;
  if (typeof chunk?.scale === 'number') scale = e.f32('cayley.scale', [], [chunk.scale]);
  else if (chunk?.scale !== undefined) scale = chunk.scale;
  else scale = e.op('Div', [p.alpha, emitSpectrumNorm(e, p.weight, k, n)], 'orth/cayley/Div_scale');
  // per frequency [n, m, cout, cin]; work on the tall orientation (rows >= cols)
  const tall = cout >= cin;
  const perm = tall ? [2, 3, 0, 1] : [2, 3, 1, 0];
  const mr = e.op('Transpose', [e.op('Mul', [wfr, scale], 'orth/cayley/Mul_r')], 'orth/cayley/Transpose_mr', { perm });
  const mi = e.op('Transpose', [e.op('Mul', [wfi, scale], 'orth/cayley/Mul_i')], 'orth/cayley/Transpose_mi', { perm });
  const R = tall ? cout : cin; // rows
  const C = tall ? cin : cout; // cols
  const T = (x: Value, name: string): Value => e.op('Transpose', [x], name, { perm: [0, 1, 3, 2] });
  // x[..., r0:r1, c0:c1] of a rank-4 value (Slice, not a selection MatMul: no C^3 work per frequency)
  const slice = (x: Value, [r0, r1]: [number, number], [c0, c1]: [number, number], name: string): Value =>
    e.opset >= 10
      ? e.op('Slice', [x, e.i64(`${name}.starts`, [2], [r0, c0]), e.i64(`${name}.ends`, [2], [r1, c1]), e.i64(`${name}.axes`, [2], [2, 3])], name)
      : e.op('Slice', [x], name, { starts: [r0, c0], ends: [r1, c1], axes: [2, 3] });
  const ur = slice(mr, [0, C], [0, C], 'orth/cayley/Slice_ur');
  const ui = slice(mi, [0, C], [0, C], 'orth/cayley/Slice_ui');
  let ar = e.op('Sub', [ur, T(ur, 'orth/cayley/Transpose_ur')], 'orth/cayley/Sub_ar');
  let ai = e.op('Add', [ui, T(ui, 'orth/cayley/Transpose_ui')], 'orth/cayley/Add_ai');
  let vr: Value | undefined;
  let vi: Value | undefined;
  if (R > C) {
    vr = slice(mr, [C, R], [0, C], 'orth/cayley/Slice_vr');
    vi = slice(mi, [C, R], [0, C], 'orth/cayley/Slice_vi');
    const vrT = T(vr, 'orth/cayley/Transpose_vr');
    const viT = T(vi, 'orth/cayley/Transpose_vi');
    const vhvR = e.op('Add', [e.op('MatMul', [vrT, vr], 'orth/cayley/MatMul_vrvr'), e.op('MatMul', [viT, vi], 'orth/cayley/MatMul_vivi')], 'orth/cayley/Add_vhv_r');
    const vhvI = e.op('Sub', [e.op('MatMul', [vrT, vi], 'orth/cayley/MatMul_vrvi'), e.op('MatMul', [viT, vr], 'orth/cayley/MatMul_vivr')], 'orth/cayley/Sub_vhv_i');
    ar = e.op('Add', [ar, vhvR], 'orth/cayley/Add_a_r');
    ai = e.op('Add', [ai, vhvI], 'orth/cayley/Add_a_i');
  }
  const I = e.f32('cayley.eye', [C, C], eye(C));
  const br = e.op('Add', [I, ar], 'orth/cayley/Add_br');
  let cr: Value;
  let ci: Value;
  let region: InverseRegion;
  if (inverse.method === 'schur') {
    const c = emitSchurInverse(e, { re: br, im: ai }, C, 4, 'orth/cayley/inv');
    cr = c.re;
    ci = c.im;
    region = { input: br.name, output: cr.name, inputImag: ai.name, outputImag: ci.name };
  } else {
    // block form [[Br, -Bi], [Bi, Br]]
    const top = e.op('Concat', [br, e.op('Neg', [ai], 'orth/cayley/Neg_bi')], 'orth/cayley/Concat_top', { axis: 3 });
    const bot = e.op('Concat', [ai, br], 'orth/cayley/Concat_bot', { axis: 3 });
    const bb = e.op('Concat', [top, bot], 'orth/cayley/Concat_block', { axis: 2 });
    let inv: Value;
    if (inverse.method === 'com.microsoft') {
      inv = e.opDomain('Inverse', 'com.microsoft', [bb], 'orth/cayley/Inverse');
    } else {
      if (inverse.iterations < 1) throw new UsageError('--ns-iterations must be at least 1');
      const twoI = e.f32('cayley.two_eye', [2 * C, 2 * C], eye(2 * C).map((v) => 2 * v));
      const fro = e.reduceSumSquare(bb, [2, 3], true, 'orth/cayley/ns/ReduceSumSquare');
      let x = e.op('Div', [T(bb, 'orth/cayley/ns/Transpose_b'), fro], 'orth/cayley/ns/Div_x0');
      for (let it = 0; it < inverse.iterations; it++) {
        const bx = e.op('MatMul', [bb, x], `orth/cayley/ns/MatMul_bx_${it}`);
        x = e.op('MatMul', [x, e.op('Sub', [twoI, bx], `orth/cayley/ns/Sub_${it}`)], `orth/cayley/ns/MatMul_x_${it}`);
      }
      inv = x;
    }
    region = { input: bb.name, output: inv.name };
    // C = B^-1 = Cr + i Ci from the block inverse's left column
    cr = slice(inv, [0, C], [0, C], 'orth/cayley/Slice_cr');
    ci = slice(inv, [C, 2 * C], [0, C], 'orth/cayley/Slice_ci');
  }
  // top = C (I - A) = C (2I - B) = 2C - I (no product with the possibly large A)
  const two = e.f32('cayley.two', [], [2]);
  let qr = e.op('Sub', [e.op('Mul', [cr, two], 'orth/cayley/Mul_qtop_r'), I], 'orth/cayley/Sub_qtop_r');
  let qi = e.op('Mul', [ci, two], 'orth/cayley/Mul_qtop_i');
  if (vr && vi) {
    const m2 = e.f32('cayley.minus_two', [], [-2]);
    const botR = e.op('Mul', [e.op('Sub', [e.op('MatMul', [vr, cr], 'orth/cayley/MatMul_vrcr'), e.op('MatMul', [vi, ci], 'orth/cayley/MatMul_vici')], 'orth/cayley/Sub_bot_r'), m2], 'orth/cayley/Mul_bot_r');
    const botI = e.op('Mul', [e.op('Add', [e.op('MatMul', [vr, ci], 'orth/cayley/MatMul_vrci'), e.op('MatMul', [vi, cr], 'orth/cayley/MatMul_vicr')], 'orth/cayley/Add_bot_i'), m2], 'orth/cayley/Mul_bot_i');
    qr = e.op('Concat', [qr, botR], 'orth/cayley/Concat_qr', { axis: 2 });
    qi = e.op('Concat', [qi, botI], 'orth/cayley/Concat_qi', { axis: 2 });
  }
  if (!tall) {
    qr = T(qr, 'orth/cayley/Transpose_qr');
    qi = T(qi, 'orth/cayley/Transpose_qi');
  }
  return { qr, qi, region };
}

/**
 * An exact inverse of batched complex matrices B = Br + i Bi (real and imaginary planes, the
 * matrices over the last two axes) in standard ONNX ops, without control flow, for matrices whose
 * Hermitian part is >= I (the Cayley conv's B = I + A): then every leading block and every Schur
 * complement also has Hermitian part >= I, so no pivoting is needed and every pivot has
 * modulus >= 1.
 *
 * Recursive 2x2 block inversion (Schur complement) on the complex planes down to blocks of at most
 * LEAF columns: for B = [[P, Q], [R, S]],
 *   X = P^-1 Q, Y = R P^-1, S' = S - R X, Z = S'^-1 Y,
 *   B^-1 = [[P^-1 + X Z, -X S'^-1], [-Z, S'^-1]];
 * each leaf is inverted by Gauss-Jordan elimination on its real block form [[Br, -Bi], [Bi, Br]]
 * (2L steps of one rank-1 update each: M <- M - (M[:,k] - e_k)(M[k,:] + e_k^T) / M[k,k], which
 * leaves M^-1 after the last step; the block form's symmetric part is >= I too, so M[k,k] >= 1).
 * The work is MatMul-bound (about C^3 complex multiply-adds per matrix, as LU), the graph has
 * about 16 C + 60 C / LEAF nodes, and float32 accuracy is that of an unpivoted LU on a matrix
 * with bounded growth (measured in docs/ROBUST-BLOCK.md).
 */
import type { Value } from '../../ir/value.js';
import type { Emitter } from '../emit.js';

/** Largest block inverted by Gauss-Jordan (complex columns). */
export const SCHUR_LEAF = 16;

interface Planes {
  re: Value;
  im: Value;
}

/**
 * C = B^-1 for B [.., C, C] given as planes of rank `rank` (the matrices on axes rank-2, rank-1).
 * Node names start with `name`.
 */
export function emitSchurInverse(e: Emitter, b: Planes, size: number, rank: number, name: string): Planes {
  const ax = [rank - 2, rank - 1];
  const consts = new Map<string, Value>();
  const i64 = (key: string, data: number[]): Value => {
    let v = consts.get(key);
    if (!v) {
      v = e.i64(`${name.replace(/\//g, '.')}.${key}`, [data.length], data);
      consts.set(key, v);
    }
    return v;
  };
  const f32 = (key: string, dims: number[], data: Float64Array): Value => {
    let v = consts.get(key);
    if (!v) {
      v = e.f32(`${name.replace(/\//g, '.')}.${key}`, dims, data);
      consts.set(key, v);
    }
    return v;
  };
  let count = 0;
  const id = (what: string): string => `${name}/${what}_${count++}`;
  /** x[..., r0:r1, c0:c1] */
  const slice = (x: Value, r0: number, r1: number, c0: number, c1: number): Value => {
    if (e.opset >= 10) {
      return e.op('Slice', [x, i64(`s${r0}_${c0}`, [r0, c0]), i64(`e${r1}_${c1}`, [r1, c1]), i64('axes', ax)], id('Slice'));
    }
    return e.op('Slice', [x], id('Slice'), { starts: [r0, c0], ends: [r1, c1], axes: ax });
  };
  const op = (type: string, inputs: Value[], attrs: Record<string, number | number[]> = {}): Value => e.op(type, inputs, id(type), attrs);
  const cmul = (a: Planes, c: Planes): Planes => ({
    re: op('Sub', [op('MatMul', [a.re, c.re]), op('MatMul', [a.im, c.im])]),
    im: op('Add', [op('MatMul', [a.re, c.im]), op('MatMul', [a.im, c.re])]),
  });
  const concat2x2 = (tl: Value, tr: Value, bl: Value, br: Value): Value =>
    op('Concat', [op('Concat', [tl, tr], { axis: ax[1]! }), op('Concat', [bl, br], { axis: ax[1]! })], { axis: ax[0]! });

  /** Gauss-Jordan on the real block form (2L x 2L). */
  const leaf = (x: Planes, l: number): Planes => {
    let m = concat2x2(x.re, op('Neg', [x.im]), x.im, x.re);
    const l2 = 2 * l;
    for (let k = 0; k < l2; k++) {
      const col = slice(m, 0, l2, k, k + 1);
      const row = slice(m, k, k + 1, 0, l2);
      const pivot = slice(row, 0, 1, k, k + 1);
      const ek = new Float64Array(l2);
      ek[k] = 1;
      const u = op('Sub', [col, f32(`ecol${l2}_${k}`, [l2, 1], ek)]);
      const w = op('Div', [op('Add', [row, f32(`erow${l2}_${k}`, [1, l2], ek)]), pivot]);
      m = op('Sub', [m, op('MatMul', [u, w])]);
    }
    return { re: slice(m, 0, l, 0, l), im: slice(m, l, l2, 0, l) };
  };

  const inv = (x: Planes, c: number): Planes => {
    if (c <= SCHUR_LEAF) return leaf(x, c);
    const h = Math.ceil(c / 2);
    const part = (r0: number, r1: number, c0: number, c1: number): Planes => ({ re: slice(x.re, r0, r1, c0, c1), im: slice(x.im, r0, r1, c0, c1) });
    const P = part(0, h, 0, h);
    const Q = part(0, h, h, c);
    const R = part(h, c, 0, h);
    const S = part(h, c, h, c);
    const Pi = inv(P, h);
    const X = cmul(Pi, Q);
    const Y = cmul(R, Pi);
    const RX = cmul(R, X);
    const Si = inv({ re: op('Sub', [S.re, RX.re]), im: op('Sub', [S.im, RX.im]) }, c - h);
    const Z = cmul(Si, Y);
    const XZ = cmul(X, Z);
    const XS = cmul(X, Si);
    const tl = { re: op('Add', [Pi.re, XZ.re]), im: op('Add', [Pi.im, XZ.im]) };
    return {
      re: concat2x2(tl.re, op('Neg', [XS.re]), op('Neg', [Z.re]), Si.re),
      im: concat2x2(tl.im, op('Neg', [XS.im]), op('Neg', [Z.im]), Si.im),
    };
  };
  return inv(b, size);
}

/**
 * ONNX-graph gradient rules of the matmul family (MatMul, Gemm), for src/autodiff/.
 *
 * MatMul (numpy semantics: batched, broadcasting, 1-D operands promoted): dA = dY B^T, dB = A^T dY,
 * summed over the batch axes the operand was broadcast along. The common x @ W with a 2-D W and a
 * batched x gives dW by one GEMM over the flattened batch.
 * Gemm (transA/transB, alpha, beta, C broadcast): Gemm nodes with the transposes folded in.
 */
import { range } from './grad-common.js';
import type { GradientEmitter, GradientRule, GradientTable } from './types.js';

type Dims = readonly (number | string)[];

function dimsOf(g: GradientEmitter, v: string): Dims {
  const d = g.dims(v);
  if (!d) g.fail(`the rank of '${v}' is not known statically`);
  return d!;
}

/** Swap the last two axes. */
function swapLast(g: GradientEmitter, v: string, rank: number): string {
  return g.emit('Transpose', [v], { perm: [...range(0, rank - 2), rank - 1, rank - 2] })[0]!;
}

const matmul: GradientRule['backward'] = (g, dy, wanted) => {
  const d = dy[0];
  if (!d) return [null, null];
  const a = g.node.inputs[0]!.name;
  const b = g.node.inputs[1]!.name;
  const ad = dimsOf(g, a);
  const bd = dimsOf(g, b);
  const yd = dimsOf(g, g.node.outputs[0]!.name);
  if (ad.length === 1 && bd.length === 1) {
    return [wanted[0] ? g.emit('Mul', [d, b])[0]! : null, wanted[1] ? g.emit('Mul', [d, a])[0]! : null];
  }
  // promote 1-D operands: A [K] -> [1, K] (dY gets an axis at -2), B [K] -> [K, 1] (at -1)
  let dd = d;
  let ydims: Dims = yd;
  let a2 = a;
  let b2 = b;
  let ad2: Dims = ad;
  let bd2: Dims = bd;
  if (ad.length === 1) {
    dd = g.unsqueeze(dd, [yd.length - 1]);
    ydims = [...yd.slice(0, -1), 1, yd[yd.length - 1]!];
    a2 = g.unsqueeze(a, [0]);
    ad2 = [1, ad[0]!];
  }
  if (bd.length === 1) {
    dd = g.unsqueeze(dd, [ydims.length]);
    ydims = [...ydims, 1];
    b2 = g.unsqueeze(b, [1]);
    bd2 = [bd[0]!, 1];
  }
  const r = ydims.length;
  const out: (string | null)[] = [null, null];
  if (wanted[0]) {
    let ga = g.emit('MatMul', [dd, swapLast(g, b2, bd2.length)])[0]!;
    const gdims: Dims = [...ydims.slice(0, -2), ad2[ad2.length - 2]!, ad2[ad2.length - 1]!];
    if (ad.length === 1) ga = g.emit('Reshape', [g.reduceSum(ga, range(0, gdims.length - 1), false), g.constInt64([-1])])[0]!;
    else ga = g.unbroadcast(ga, a, gdims);
    out[0] = ga;
  }
  if (wanted[1]) {
    let gb: string;
    if (bd2.length === 2 && ad2.length > 2) {
      // x @ W: flatten the batch axes of A and dY into rows, one GEMM
      const K = ad2[ad2.length - 1]!;
      const N = ydims[r - 1]!;
      const a2d = g.emit('Reshape', [a2, g.constInt64([-1, typeof K === 'number' ? K : -1])])[0]!;
      const d2d = g.emit('Reshape', [dd, g.constInt64([-1, typeof N === 'number' ? N : -1])])[0]!;
      if (typeof K !== 'number' || typeof N !== 'number') g.fail('the contracted dims of a batched MatMul must be static');
      gb = g.emit('Gemm', [a2d, d2d], { transA: 1 })[0]!;
    } else {
      gb = g.emit('MatMul', [swapLast(g, a2, ad2.length), dd])[0]!;
      const gdims: Dims = [...ydims.slice(0, -2), bd2[bd2.length - 2]!, bd2[bd2.length - 1]!];
      gb = bd.length === 1 ? g.reduceSum(gb, range(0, gdims.length - 2), false) : g.unbroadcast(gb, b, gdims);
    }
    if (bd.length === 1) gb = g.emit('Reshape', [gb, g.constInt64([-1])])[0]!;
    out[1] = gb;
  }
  return out;
};

/** Y = alpha A' B' + beta C, A' = transA ? A^T : A, B' likewise. */
const gemm: GradientRule['backward'] = (g, dy, wanted) => {
  const d = dy[0];
  if (!d) return [null, null, null];
  const n = g.node;
  const a = n.inputs[0]!.name;
  const b = n.inputs[1]!.name;
  const tA = n.attrInt('transA', 0);
  const tB = n.attrInt('transB', 0);
  const alpha = n.attrFloat('alpha', 1);
  const beta = n.attrFloat('beta', 1);
  const out: (string | null)[] = [null, null, null];
  const al: Record<string, number> = alpha === 1 ? {} : { alpha };
  if (wanted[0]) {
    // dA' = alpha dY B'^T
    out[0] = tA === 0 ? g.emit('Gemm', [d, b], { ...al, transB: tB === 0 ? 1 : 0 })[0]! : g.emit('Gemm', [b, d], { ...al, transA: tB, transB: 1 })[0]!;
  }
  if (wanted[1]) {
    // dB' = alpha A'^T dY
    out[1] = tB === 0 ? g.emit('Gemm', [a, d], { ...al, transA: tA === 0 ? 1 : 0 })[0]! : g.emit('Gemm', [d, a], { ...al, transA: 1, transB: tA })[0]!;
  }
  if (wanted[2] && n.inputs[2]) {
    let gc = g.unbroadcast(d, n.inputs[2].name);
    if (beta !== 1) gc = g.emit('Mul', [gc, g.constFloat([beta], [])])[0]!;
    out[2] = gc;
  }
  return out;
};

export const MATMUL_GRADIENTS: GradientTable = {
  MatMul: { backward: matmul },
  Gemm: { unsupported: (_n, opset) => (opset < 11 ? 'the gradient uses Gemm without C, which needs opset 11' : undefined), backward: gemm },
};

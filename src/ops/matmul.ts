/**
 * Mirror kernels: the matmul family (MatMul with numpy semantics, Gemm).
 *
 * MatMul: a 1-D first operand is a row (prepended 1, removed after), a 1-D second operand a
 * column (appended 1, removed after); batch dims broadcast (made explicit with broadcastTo, then
 * one batched tf.matMul on rank 3). Integer types run in int32 (the cpu backend sums in float64
 * and stores int32: exact while the products and sums fit).
 *
 * Gemm: Y = alpha * A' B' + beta * C, A' / B' transposed by transA / transB, C (optional from
 * opset 11) broadcast unidirectionally to [M, N].
 *
 * Einsum (opset 12): any equation of letters with an optional ellipsis (explicit '->' output or
 * numpy's implicit one: the labels seen once, sorted, after the ellipsis dims). Per operand,
 * a repeated label takes the diagonal (multiply by an identity mask, sum one of the axes) and a
 * label no other operand and not the output needs is summed out; operands are then folded left
 * to right, each pair as one batched tf.matMul over [shared kept labels, own labels, contracted
 * labels]; the result is transposed to the output order. Ellipsis dims broadcast (size 1 against
 * n); letter labels must agree in size. Only tfjs ops on the data: differentiable.
 */
import { DataType } from '../onnx/data-types.js';
import type { KernelContext, KernelTable, Tensor, TF } from './types.js';

const INTS = [DataType.INT32, DataType.INT64, DataType.UINT32, DataType.UINT64];

type tf3 = import('@tensorflow/tfjs-core').Tensor3D;

function broadcastShapes(ctx: KernelContext, a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) ctx.fail(`batch dims [${a.join(',')}] and [${b.join(',')}] do not broadcast`);
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** numpy matmul of two tensors (rank >= 1). */
export function numpyMatMul(ctx: KernelContext, a0: Tensor, b0: Tensor): Tensor {
  const tf = ctx.tf;
  if (a0.rank === 0 || b0.rank === 0) ctx.fail('MatMul of a scalar');
  const a = a0.rank === 1 ? tf.reshape(a0, [1, a0.shape[0]!]) : a0;
  const b = b0.rank === 1 ? tf.reshape(b0, [b0.shape[0]!, 1]) : b0;
  const [M, K] = a.shape.slice(-2) as [number, number];
  const [K2, N] = b.shape.slice(-2) as [number, number];
  if (K !== K2) ctx.fail(`inner dims differ: [${a0.shape.join(',')}] x [${b0.shape.join(',')}]`);
  let y: Tensor;
  if (a.rank === 2 && b.rank === 2) {
    y = tf.matMul(a as import('@tensorflow/tfjs-core').Tensor2D, b as import('@tensorflow/tfjs-core').Tensor2D);
  } else {
    const batch = broadcastShapes(ctx, a.shape.slice(0, -2), b.shape.slice(0, -2));
    const B = batch.reduce((p, q) => p * q, 1);
    const a3 = tf.reshape(broadcastTo(tf, a, [...batch, M, K]), [B, M, K]) as tf3;
    // a 2-D right operand with a batched left one: one [B*M, K] x [K, N] product
    if (b.rank === 2) {
      y = tf.reshape(tf.matMul(tf.reshape(a3, [B * M, K]) as import('@tensorflow/tfjs-core').Tensor2D, b as import('@tensorflow/tfjs-core').Tensor2D), [...batch, M, N]);
    } else {
      const b3 = tf.reshape(broadcastTo(tf, b, [...batch, K, N]), [B, K, N]) as tf3;
      y = tf.reshape(tf.matMul(a3, b3), [...batch, M, N]);
    }
  }
  if (a0.rank === 1 && b0.rank === 1) return tf.reshape(y, []);
  if (a0.rank === 1) return tf.reshape(y, [...y.shape.slice(0, -2), N]);
  if (b0.rank === 1) return tf.reshape(y, [...y.shape.slice(0, -2), M]);
  return y;
}

function broadcastTo(tf: TF, t: Tensor, shape: number[]): Tensor {
  const r = shape.length;
  const t2 = t.rank < r ? tf.reshape(t, [...Array<number>(r - t.rank).fill(1), ...t.shape]) : t;
  return t2.shape.every((d, i) => d === shape[i]) ? t2 : tf.broadcastTo(t2, shape);
}

function gemmForward(ctx: KernelContext, inputs: readonly (Tensor | null)[]): Tensor[] {
  const tf = ctx.tf;
  const [a, b, c] = inputs;
  if (!a || !b) ctx.fail('missing input A or B');
  if (a.rank !== 2 || b.rank !== 2) ctx.fail(`Gemm needs 2-D A and B, got ranks ${a.rank} and ${b.rank}`);
  const transA = ctx.node.attrInt('transA', 0) !== 0;
  const transB = ctx.node.attrInt('transB', 0) !== 0;
  const alpha = ctx.node.attrFloat('alpha', 1);
  const beta = ctx.node.attrFloat('beta', 1);
  const K = transA ? a.shape[0]! : a.shape[1]!;
  const K2 = transB ? b.shape[1]! : b.shape[0]!;
  if (K !== K2) ctx.fail(`inner dims differ: A [${a.shape.join(',')}]${transA ? '^T' : ''} x B [${b.shape.join(',')}]${transB ? '^T' : ''}`);
  const isInt = a.dtype === 'int32';
  const scalar = (v: number): Tensor => tf.scalar(v, isInt ? 'int32' : 'float32');
  if (isInt && (!Number.isInteger(alpha) || !Number.isInteger(beta))) ctx.fail(`integer Gemm with alpha ${alpha}, beta ${beta}`);
  let y = tf.matMul(a as import('@tensorflow/tfjs-core').Tensor2D, b as import('@tensorflow/tfjs-core').Tensor2D, transA, transB) as Tensor;
  if (alpha !== 1) y = tf.mul(y, scalar(alpha));
  if (c && beta !== 0) {
    const M = y.shape[0]!;
    const N = y.shape[1]!;
    if (c.rank > 2 || c.shape.some((d, i) => d !== 1 && d !== [M, N][i + 2 - c.rank])) ctx.fail(`C [${c.shape.join(',')}] does not broadcast to [${M},${N}]`);
    y = tf.add(y, beta === 1 ? c : tf.mul(c, scalar(beta)));
  }
  return [y];
}

interface Term {
  t: Tensor;
  labels: string[];
}

/** Parse the operand terms and the output labels; ellipsis dims become labels '.0' ... (aligned right). */
function parseEinsum(ctx: KernelContext, eq: string, ranks: number[]): { ins: string[][]; out: string[] } {
  const e = eq.replace(/\s+/g, '');
  const [lhs, rhs] = e.split('->') as [string, string | undefined];
  const terms = lhs.split(',');
  if (terms.length !== ranks.length) ctx.fail(`equation '${eq}' has ${terms.length} operands, the node ${ranks.length}`);
  const bad = (s: string): boolean => !/^[A-Za-z]*(\.\.\.)?[A-Za-z]*$/.test(s);
  if (terms.some(bad) || (rhs !== undefined && bad(rhs))) ctx.fail(`cannot parse equation '${eq}'`);
  let ell = 0;
  const ins = terms.map((term, k) => {
    const letters = term.replace('...', '');
    const n = ranks[k]! - letters.length;
    if (n < 0 || (n > 0 && !term.includes('...'))) ctx.fail(`term '${term}' does not match operand ${k} of rank ${ranks[k]}`);
    ell = Math.max(ell, n);
    return [n, term] as const;
  });
  const ellLabels = (n: number): string[] => Array.from({ length: n }, (_, i) => `.${ell - n + i}`);
  const expand = (term: string, n: number): string[] => {
    const at = term.indexOf('...');
    if (at < 0) return [...term];
    return [...term.slice(0, at), ...ellLabels(n), ...term.slice(at + 3)];
  };
  const inLabels = ins.map(([n, term]) => expand(term, n));
  let out: string[];
  if (rhs !== undefined) {
    if (!rhs.includes('...') && ins.some(([n]) => n > 0)) ctx.fail(`equation '${eq}': operands have ellipsis dims but the output has no '...'`);
    out = expand(rhs, rhs.includes('...') ? ell : 0);
    for (const l of out) if (!inLabels.some((ls) => ls.includes(l))) ctx.fail(`output label '${l}' is in no operand of '${eq}'`);
    if (new Set(out).size !== out.length) ctx.fail(`output of '${eq}' repeats a label`);
  } else {
    const count = new Map<string, number>();
    for (const ls of inLabels) for (const l of ls) if (!l.startsWith('.')) count.set(l, (count.get(l) ?? 0) + 1);
    out = [...ellLabels(ell), ...[...count.entries()].filter(([, c]) => c === 1).map(([l]) => l).sort()];
  }
  return { ins: inLabels, out };
}

/** Take the diagonal of repeated labels, then sum labels nobody else needs. */
function einsumPrepare(ctx: KernelContext, term: Term, needed: Set<string>): Term {
  const tf = ctx.tf;
  let { t, labels } = term;
  for (;;) {
    const j = labels.findIndex((l, k) => labels.indexOf(l) !== k);
    if (j < 0) break;
    const i = labels.indexOf(labels[j]!);
    const n = t.shape[i]!;
    if (t.shape[j] !== n) ctx.fail(`label '${labels[j]}' has sizes ${n} and ${t.shape[j]} in one operand`);
    const eye = tf.reshape(tf.eye(n, n, undefined, t.dtype as 'float32' | 'int32'), t.shape.map((_, k) => (k === i || k === j ? n : 1)));
    t = tf.sum(tf.mul(t, eye), j);
    labels = labels.filter((_, k) => k !== j);
  }
  const drop = labels.map((l, k) => (needed.has(l) ? -1 : k)).filter((k) => k >= 0);
  if (drop.length > 0) {
    t = tf.sum(t, drop);
    labels = labels.filter((_, k) => !drop.includes(k));
  }
  return { t, labels };
}

/** Contract two prepared terms keeping `keep` labels, as one batched matmul. */
function einsumPair(ctx: KernelContext, a: Term, b: Term, keep: Set<string>): Term {
  const tf = ctx.tf;
  const inB = new Set(b.labels);
  const inA = new Set(a.labels);
  const batch = a.labels.filter((l) => inB.has(l) && keep.has(l));
  const contr = a.labels.filter((l) => inB.has(l) && !keep.has(l));
  const aOnly = a.labels.filter((l) => !inB.has(l));
  const bOnly = b.labels.filter((l) => !inA.has(l));
  const size = (l: string): number => {
    const x = a.labels.includes(l) ? a.t.shape[a.labels.indexOf(l)]! : 1;
    const y = b.labels.includes(l) ? b.t.shape[b.labels.indexOf(l)]! : 1;
    if (x !== y && x !== 1 && y !== 1) ctx.fail(`label '${l}' has sizes ${x} and ${y}`);
    if (x !== y && !l.startsWith('.')) ctx.fail(`label '${l}' has sizes ${x} and ${y} (only ellipsis dims broadcast)`);
    return Math.max(x, y);
  };
  const arrange = (t: Term, order: string[]): Tensor => {
    const perm = order.map((l) => t.labels.indexOf(l));
    const x = perm.every((p, k) => p === k) ? t.t : tf.transpose(t.t, perm);
    const want = order.map((l) => (batch.includes(l) || contr.includes(l) ? size(l) : x.shape[order.indexOf(l)]!));
    return x.shape.every((d, k) => d === want[k]) ? x : tf.broadcastTo(x, want);
  };
  const prod = (ls: string[], t: Term): number => ls.reduce((p, l) => p * (t.labels.includes(l) ? t.t.shape[t.labels.indexOf(l)]! : 1), 1);
  const Bn = batch.reduce((p, l) => p * size(l), 1);
  const Kn = contr.reduce((p, l) => p * size(l), 1);
  const M = prod(aOnly, a);
  const N = prod(bOnly, b);
  const x = tf.reshape(arrange(a, [...batch, ...aOnly, ...contr]), [Bn, M, Kn]) as tf3;
  const y = tf.reshape(arrange(b, [...batch, ...contr, ...bOnly]), [Bn, Kn, N]) as tf3;
  const shape = [...batch.map(size), ...aOnly.map((l) => a.t.shape[a.labels.indexOf(l)]!), ...bOnly.map((l) => b.t.shape[b.labels.indexOf(l)]!)];
  return { t: tf.reshape(tf.matMul(x, y), shape), labels: [...batch, ...aOnly, ...bOnly] };
}

function einsumForward(ctx: KernelContext, inputs: readonly (Tensor | null)[]): Tensor[] {
  const tf = ctx.tf;
  const xs = inputs.map((t, k) => t ?? ctx.fail(`missing input ${k}`));
  if (xs.length === 0) ctx.fail('Einsum without inputs');
  if (xs.some((t) => t.dtype !== xs[0]!.dtype)) ctx.fail('Einsum operands of different types');
  const eq = ctx.node.attrString('equation', '');
  const { ins, out } = parseEinsum(ctx, eq, xs.map((t) => t.rank));
  const needBy = (from: number, extra: string[]): Set<string> => new Set([...extra, ...out, ...ins.slice(from).flat()]);
  let cur = einsumPrepare(ctx, { t: xs[0]!, labels: ins[0]! }, needBy(1, []));
  for (let k = 1; k < xs.length; k++) {
    const keep = needBy(k + 1, []);
    const next = einsumPrepare(ctx, { t: xs[k]!, labels: ins[k]! }, new Set([...keep, ...cur.labels]));
    cur = einsumPrepare(ctx, cur, new Set([...keep, ...next.labels]));
    cur = einsumPair(ctx, cur, next, keep);
  }
  cur = einsumPrepare(ctx, cur, new Set(out));
  const perm = out.map((l) => cur.labels.indexOf(l));
  if (perm.some((p) => p < 0)) ctx.fail(`internal: Einsum lost a label of '${eq}'`);
  const y = perm.every((p, k) => p === k) ? tf.clone(cur.t) : tf.transpose(cur.t, perm);
  return [y];
}

export const MATMUL_KERNELS: KernelTable = {
  Einsum: {
    types: [DataType.FLOAT, ...INTS],
    sinceVersion: 12,
    unsupported: (node) => (node.attrString('equation', '') === '' ? 'Einsum without an equation' : undefined),
    forward: einsumForward,
  },
  MatMul: {
    types: [DataType.FLOAT, ...INTS],
    forward: (ctx: KernelContext, [a, b]) => {
      if (!a || !b) ctx.fail('missing input A or B');
      return [numpyMatMul(ctx, a, b)];
    },
  },
  Gemm: { types: [DataType.FLOAT, ...INTS], forward: gemmForward },
};

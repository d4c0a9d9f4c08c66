/**
 * Mirror kernels: the elementwise (binary and variadic) family, with numpy broadcasting (tfjs
 * broadcasts the same way) and, before opset 7, the legacy `broadcast`/`axis` attributes.
 *
 * Integer semantics: every ONNX integer type is held as tfjs int32 (values must fit). Results of
 * 8- and 16-bit types wrap exactly as in C (`wrapInt`); Div truncates toward zero; Mod follows
 * `fmod` (0: sign of the divisor, 1: sign of the dividend).
 */
import type { Node } from '../ir/node.js';
import { DataType } from '../onnx/data-types.js';
import type { KernelContext, KernelTable, OpKernel, Tensor, TF } from './types.js';

export const SIGNED_INTS: readonly number[] = [DataType.INT8, DataType.INT16, DataType.INT32, DataType.INT64];
export const UNSIGNED_INTS: readonly number[] = [DataType.UINT8, DataType.UINT16, DataType.UINT32, DataType.UINT64];
export const ALL_INTS: readonly number[] = [...SIGNED_INTS, ...UNSIGNED_INTS];
export const NUMERIC: readonly number[] = [DataType.FLOAT, ...ALL_INTS];
export const ANY_TYPE: readonly number[] = [...NUMERIC, DataType.BOOL];

/** The ONNX element type of a node's data: its first input's, else its first output's. */
export function dataType(node: Node, input = 0): number | undefined {
  return node.inputs[input]?.elemType ?? node.outputs[0]?.elemType;
}

const WRAP: Readonly<Record<number, { mod: number; offset: number }>> = {
  [DataType.UINT8]: { mod: 256, offset: 0 },
  [DataType.INT8]: { mod: 256, offset: 128 },
  [DataType.UINT16]: { mod: 65536, offset: 0 },
  [DataType.INT16]: { mod: 65536, offset: 32768 },
};

/**
 * An int32 result brought into the range of an 8/16-bit ONNX type the way C wraps it (the low
 * bits); other types are returned as they are (int32 wraps by itself; wider types must fit).
 */
export function wrapInt(tf: TF, t: Tensor, type: number | undefined): Tensor {
  const w = type === undefined ? undefined : WRAP[type];
  if (!w || t.dtype !== 'int32') return t;
  const m = tf.scalar(w.mod, 'int32');
  if (w.offset === 0) return tf.mod(t, m);
  const o = tf.scalar(w.offset, 'int32');
  return tf.sub(tf.mod(tf.add(t, o), m), o);
}

/**
 * Before opset 7, binary ops broadcast only with `broadcast=1`: B's shape matches a contiguous run
 * of A's dims starting at `axis` (default: the trailing dims, as numpy does).
 */
function legacyAlign(ctx: KernelContext, a: Tensor, b: Tensor): [Tensor, Tensor] {
  if (ctx.opset >= 7 || ctx.node.attrInt('broadcast', 0) !== 1) return [a, b];
  const axisAttr = ctx.node.attrInt('axis');
  if (axisAttr === undefined || b.rank === 0) return [a, b];
  const axis = axisAttr < 0 ? axisAttr + a.rank : axisAttr;
  if (axis < 0 || axis + b.rank > a.rank) ctx.fail(`legacy broadcast: B of rank ${b.rank} does not fit A of rank ${a.rank} at axis ${axisAttr}`);
  const shape = [...Array<number>(axis).fill(1), ...b.shape, ...Array<number>(a.rank - axis - b.rank).fill(1)];
  return [a, ctx.tf.reshape(b, shape)];
}

/**
 * tfjs registers no gradient for its comparison and logical kernels, so a bool result that feeds
 * a Select (Where) on the differentiated path stops backprop with "gradient function not found".
 * They are piecewise constant: their gradient is zero. Registered once per tfjs instance, only
 * where tfjs has none (`ensureZeroGradients` runs in every kernel that makes such values).
 */
const ZERO_GRAD_KERNELS: readonly [string, readonly string[]][] = [
  ['Equal', ['a', 'b']],
  ['NotEqual', ['a', 'b']],
  ['Less', ['a', 'b']],
  ['LessEqual', ['a', 'b']],
  ['Greater', ['a', 'b']],
  ['GreaterEqual', ['a', 'b']],
  ['LogicalAnd', ['a', 'b']],
  ['LogicalOr', ['a', 'b']],
  ['LogicalNot', ['x']],
];
const zeroGradsDone = new WeakSet<object>();

export function ensureZeroGradients(tf: TF): void {
  if (zeroGradsDone.has(tf)) return;
  for (const [kernelName, inputs] of ZERO_GRAD_KERNELS) {
    if (tf.getGradient(kernelName) !== undefined) continue;
    tf.registerGradient({
      kernelName,
      inputsToSave: [...inputs],
      gradFunc: (_dy, saved) => Object.fromEntries(inputs.map((name, k) => [name, () => tf.zeros(saved[k]!.shape, 'float32')])),
    });
  }
  zeroGradsDone.add(tf);
}

/** numpy's broadcast shape of two shapes; undefined when they do not broadcast. */
export function broadcastShape(a: readonly number[], b: readonly number[]): number[] | undefined {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    const x = a[a.length - n + k] ?? 1;
    const y = b[b.length - n + k] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return undefined;
    out.push(x === 1 ? y : x);
  }
  return out;
}

/**
 * Both operands broadcast to their common shape. tfjs' Maximum/Minimum gradients do not sum over
 * broadcast dims (they return the output's shape), so these ops get explicitly broadcast inputs;
 * BroadcastTo's own gradient does the summing.
 */
export function broadcastBoth(tf: TF, a: Tensor, b: Tensor): [Tensor, Tensor] {
  const same = (s: readonly number[], t: readonly number[]): boolean => s.length === t.length && s.every((d, k) => d === t[k]);
  if (same(a.shape, b.shape)) return [a, b];
  const shape = broadcastShape(a.shape, b.shape);
  if (!shape) throw new Error(`shapes [${a.shape.join(',')}] and [${b.shape.join(',')}] do not broadcast`);
  return [same(a.shape, shape) ? a : tf.broadcastTo(a, shape), same(b.shape, shape) ? b : tf.broadcastTo(b, shape)];
}

function need(ctx: KernelContext, t: Tensor | null | undefined, what: string): Tensor {
  if (!t) ctx.fail(`missing input ${what}`);
  return t;
}

/** Integer division truncating toward zero (C, ONNX); tfjs' int div floors. */
export function truncDiv(tf: TF, a: Tensor, b: Tensor): Tensor {
  return tf.mul(tf.mul(tf.sign(a), tf.sign(b)), tf.floorDiv(tf.abs(a), tf.abs(b)));
}

/** C fmod: the remainder with the sign of the dividend, from tfjs' floor mod (sign of the divisor). */
function fmod(tf: TF, a: Tensor, b: Tensor): Tensor {
  const r = tf.mod(a, b);
  const zero = tf.zerosLike(r);
  // r is 0 or has b's sign; it differs from fmod exactly when r != 0 and a's sign is not b's
  const fix = tf.logicalAnd(tf.notEqual(r, zero), tf.notEqual(tf.less(a, tf.zerosLike(a)), tf.less(b, tf.zerosLike(b))));
  return tf.where(fix, tf.sub(r, b), r);
}

/** A binary numeric op: legacy alignment, then `f`, then the 8/16-bit wrap of the result type. */
function binary(types: readonly number[], f: (tf: TF, a: Tensor, b: Tensor, ctx: KernelContext) => Tensor, wrap = true): OpKernel {
  return {
    types,
    forward: (ctx, [a0, b0]) => {
      ensureZeroGradients(ctx.tf);
      const [a, b] = legacyAlign(ctx, need(ctx, a0, 'A'), need(ctx, b0, 'B'));
      const y = f(ctx.tf, a, b, ctx);
      return [wrap ? wrapInt(ctx.tf, y, dataType(ctx.node)) : y];
    },
  };
}

/** A variadic op (Max, Min, Sum, Mean): a left fold with numpy broadcasting. */
function variadic(types: readonly number[], f: (tf: TF, a: Tensor, b: Tensor) => Tensor, mean = false): OpKernel {
  return {
    types,
    forward: (ctx, inputs) => {
      const xs = inputs.filter((t): t is Tensor => t !== null);
      if (xs.length === 0) ctx.fail('needs at least one input');
      const tf = ctx.tf;
      let acc = xs.length === 1 ? tf.clone(xs[0]!) : xs.slice(1).reduce((s, x) => f(tf, s, x), xs[0]!);
      if (mean && xs.length > 1) acc = tf.div(acc, tf.scalar(xs.length, acc.dtype === 'int32' ? 'int32' : 'float32'));
      return [wrapInt(tf, acc, dataType(ctx.node))];
    },
  };
}

const unsupportedFmod = (node: Node): string | undefined => {
  const f = node.attrInt('fmod', 0);
  if (f !== 0 && f !== 1) return `fmod=${f} (must be 0 or 1)`;
  if (f === 0 && dataType(node) === DataType.FLOAT) return 'fmod=0 on floating-point inputs (ONNX requires fmod=1 for floats)';
  return undefined;
};

function pow(tf: TF, a: Tensor, b: Tensor): Tensor {
  if (a.dtype === 'float32') return tf.pow(a, b.dtype === 'float32' ? b : tf.cast(b, 'float32'));
  if (b.dtype === 'int32') return tf.pow(a, b);
  // integer base, float exponent: computed in float, truncated to the base's type
  return tf.cast(tf.pow(tf.cast(a, 'float32'), b), 'int32');
}

function bitShift(tf: TF, x: Tensor, y: Tensor, ctx: KernelContext): Tensor {
  const dir = ctx.node.attrString('direction');
  if (x.dtype !== 'int32' || y.dtype !== 'int32') ctx.fail('BitShift needs integer inputs');
  if (dir === 'LEFT') return tf.mul(x, tf.pow(tf.scalar(2, 'int32'), tf.minimum(y, tf.scalar(32, 'int32'))));
  // right: unsigned values that fit int32 are < 2^31, so shifts >= 31 give 0
  const yc = tf.minimum(y, tf.scalar(30, 'int32'));
  const q = tf.floorDiv(x, tf.pow(tf.scalar(2, 'int32'), yc));
  return tf.where(tf.greaterEqual(y, tf.scalar(31, 'int32')), tf.zerosLike(q), q);
}

function prelu(ctx: KernelContext, x: Tensor, slope: Tensor): Tensor {
  const tf = ctx.tf;
  const shape = broadcastShape(x.shape, slope.shape);
  if (!shape || shape.length !== x.rank || shape.some((d, i) => d !== x.shape[i])) {
    ctx.fail(`slope [${slope.shape.join(',')}] does not broadcast unidirectionally to X [${x.shape.join(',')}]`);
  }
  return tf.where(tf.greater(x, tf.zerosLike(x)), x, tf.mul(x, slope.dtype === x.dtype ? slope : tf.cast(slope, x.dtype)));
}

function declaredSize(node: Node, input: number): number | undefined {
  const s = node.inputs[input]?.declaredShape;
  if (!s || s.some((d) => typeof d !== 'number')) return undefined;
  return (s as number[]).reduce((p, d) => p * d, 1);
}

const FLOAT_ONLY: readonly number[] = [DataType.FLOAT];
const COMPARABLE: readonly number[] = NUMERIC;
const BOOL_ONLY: readonly number[] = [DataType.BOOL];

export const ELEMENTWISE_KERNELS: KernelTable = {
  Add: binary(NUMERIC, (tf, a, b) => tf.add(a, b)),
  Sub: binary(NUMERIC, (tf, a, b) => tf.sub(a, b)),
  Mul: binary(NUMERIC, (tf, a, b) => tf.mul(a, b)),
  Div: binary(NUMERIC, (tf, a, b) => (a.dtype === 'int32' && b.dtype === 'int32' ? truncDiv(tf, a, b) : tf.div(a, b))),
  Pow: binary(NUMERIC, pow),
  Mod: {
    ...binary(NUMERIC, (tf, a, b, ctx) => (ctx.node.attrInt('fmod', 0) === 1 ? fmod(tf, a, b) : tf.mod(a, b))),
    unsupported: unsupportedFmod,
  },
  BitShift: {
    ...binary(UNSIGNED_INTS, bitShift),
    unsupported: (node) => {
      const d = node.attrString('direction');
      return d === 'LEFT' || d === 'RIGHT' ? undefined : `direction '${d ?? ''}' (must be LEFT or RIGHT)`;
    },
  },
  Max: variadic(NUMERIC, (tf, a, b) => tf.maximum(...broadcastBoth(tf, a, b))),
  Min: variadic(NUMERIC, (tf, a, b) => tf.minimum(...broadcastBoth(tf, a, b))),
  Sum: variadic(FLOAT_ONLY, (tf, a, b) => tf.add(a, b)),
  Mean: variadic(FLOAT_ONLY, (tf, a, b) => tf.add(a, b), true),
  Equal: binary(ANY_TYPE, (tf, a, b) => tf.equal(a, b), false),
  Less: binary(COMPARABLE, (tf, a, b) => tf.less(a, b), false),
  Greater: binary(COMPARABLE, (tf, a, b) => tf.greater(a, b), false),
  LessOrEqual: binary(COMPARABLE, (tf, a, b) => tf.lessEqual(a, b), false),
  GreaterOrEqual: binary(COMPARABLE, (tf, a, b) => tf.greaterEqual(a, b), false),
  And: binary(BOOL_ONLY, (tf, a, b) => tf.logicalAnd(a, b), false),
  Or: binary(BOOL_ONLY, (tf, a, b) => tf.logicalOr(a, b), false),
  Xor: binary(BOOL_ONLY, (tf, a, b) => tf.logicalXor(a, b), false),
  Not: {
    types: BOOL_ONLY,
    forward: (ctx, [x]) => {
      ensureZeroGradients(ctx.tf);
      return [ctx.tf.logicalNot(need(ctx, x, 'X'))];
    },
  },
  Where: {
    // input 0 is the bool condition; X and Y may be any type the mirror holds
    types: BOOL_ONLY,
    forward: (ctx, [c, x, y]) => {
      ensureZeroGradients(ctx.tf);
      const a = need(ctx, x, 'X');
      const b = need(ctx, y, 'Y');
      if (a.dtype !== b.dtype) ctx.fail(`X is ${a.dtype} and Y ${b.dtype}`);
      return [ctx.tf.where(need(ctx, c, 'condition'), a, b)];
    },
  },
  PRelu: {
    types: [DataType.FLOAT, DataType.INT32, DataType.INT64, DataType.UINT32, DataType.UINT64],
    unsupported: (node, opset) => {
      if (opset >= 7) return undefined;
      return declaredSize(node, 1) === 1 ? undefined : 'PRelu before opset 7 with a slope that is not a single value (legacy per-channel broadcasting is not implemented)';
    },
    forward: (ctx, [x, slope]) => {
      ensureZeroGradients(ctx.tf);
      return [prelu(ctx, need(ctx, x, 'X'), need(ctx, slope, 'slope'))];
    },
  },
};

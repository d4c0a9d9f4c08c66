/**
 * Mirror kernels: the unary family (activations, elementwise math, Identity, Dropout at
 * inference, Cast, IsNaN/IsInf). Every float path is built from differentiable tfjs ops; where a
 * branch could overflow (exp of a large input), it is computed on a clamped input so the gradient
 * of the branch not taken is 0, not NaN. A kernel never returns its input tensor itself (the
 * executor owns and may dispose each output): pass-through ops return a clone.
 */
import type { Node } from '../ir/node.js';
import { DataType, dataTypeName } from '../onnx/data-types.js';
import { tensorTypedData } from '../onnx/tensor-data.js';
import { ALL_INTS, ANY_TYPE, ensureZeroGradients, NUMERIC, SIGNED_INTS, wrapInt } from './elementwise.js';
import type { KernelContext, KernelTable, OpKernel, Tensor, TF } from './types.js';

const FLOAT_ONLY: readonly number[] = [DataType.FLOAT];

function need(ctx: KernelContext, t: Tensor | null | undefined): Tensor {
  if (!t) ctx.fail('missing input X');
  return t;
}

/** A float unary op `f(tf, x, node)`. */
function unary(f: (tf: TF, x: Tensor, node: Node) => Tensor, types: readonly number[] = FLOAT_ONLY): OpKernel {
  return {
    types,
    forward: (ctx, [x]) => {
      ensureZeroGradients(ctx.tf);
      return [f(ctx.tf, need(ctx, x), ctx.node)];
    },
  };
}

const f32 = (tf: TF, v: number): Tensor => tf.scalar(v, 'float32');

/** exp(x) - 1 on the non-positive part of x (0 where x > 0). */
function expm1Neg(tf: TF, x: Tensor): Tensor {
  return tf.expm1(tf.minimum(x, tf.zerosLike(x)));
}

function elu(tf: TF, x: Tensor, alpha: number): Tensor {
  return tf.add(tf.relu(x), tf.mul(f32(tf, alpha), expm1Neg(tf, x)));
}

function hardSigmoid(tf: TF, x: Tensor, alpha: number, beta: number): Tensor {
  return tf.clipByValue(tf.add(tf.mul(x, f32(tf, alpha)), f32(tf, beta)), 0, 1);
}

const SQRT1_2 = Math.SQRT1_2;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

function gelu(tf: TF, x: Tensor, approximate: string): Tensor {
  const half = tf.mul(x, f32(tf, 0.5));
  if (approximate === 'tanh') {
    const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, f32(tf, 3)), f32(tf, 0.044715))), f32(tf, SQRT_2_OVER_PI));
    return tf.mul(half, tf.add(tf.tanh(inner), f32(tf, 1)));
  }
  return tf.mul(half, tf.add(tf.erf(tf.mul(x, f32(tf, SQRT1_2))), f32(tf, 1)));
}

/** Clip: attributes before opset 11, optional min/max inputs from 11. */
function clip(ctx: KernelContext, [x0, lo0, hi0]: readonly (Tensor | null)[]): Tensor {
  const tf = ctx.tf;
  const x = need(ctx, x0);
  let lo: Tensor | null = lo0 ?? null;
  let hi: Tensor | null = hi0 ?? null;
  if (ctx.opset < 11) {
    const a = ctx.node.attrFloat('min');
    const b = ctx.node.attrFloat('max');
    lo = a === undefined ? null : tf.scalar(a, x.dtype as 'float32' | 'int32');
    hi = b === undefined ? null : tf.scalar(b, x.dtype as 'float32' | 'int32');
  }
  for (const [t, what] of [
    [lo, 'min'],
    [hi, 'max'],
  ] as const) {
    if (t && t.size !== 1) ctx.fail(`${what} must be a single value, got shape [${t.shape.join(',')}]`);
    if (t && t.dtype !== x.dtype) ctx.fail(`${what} is ${t.dtype}, the input ${x.dtype}`);
  }
  // maximum then minimum: when min > max every value becomes max, as ONNX specifies
  // min/max broadcast to x's shape first: tfjs' Maximum/Minimum gradients do not sum over broadcast dims
  let y = lo ? tf.maximum(x, tf.broadcastTo(tf.reshape(lo, []), x.shape)) : x;
  if (hi) y = tf.minimum(y, tf.broadcastTo(tf.reshape(hi, []), x.shape));
  return y === x ? tf.clone(x) : y;
}

/** The values of a constant input (an initializer or a Constant node's tensor); undefined when not constant. */
function constantValues(node: Node, input: number): number[] | undefined {
  const v = node.inputs[input];
  const p = v?.producer();
  const t = v?.initializer ?? (p?.opType === 'Constant' && p.domain === '' ? p.attribute('value')?.t : undefined);
  if (!t) return undefined;
  return Array.from(tensorTypedData(t) as ArrayLike<number | bigint>, Number);
}

function dropout(ctx: KernelContext, [x0, , training]: readonly (Tensor | null)[]): Tensor[] {
  const tf = ctx.tf;
  const x = need(ctx, x0);
  if (training && ctx.ints(training)!.some((v) => v !== 0)) ctx.fail('training_mode is true; the mirror runs Dropout only at inference (output = input)');
  const wantMask = ctx.node.outputs.length > 1 && ctx.node.outputs[1] !== null;
  const y = tf.clone(x);
  if (!wantMask) return [y];
  // the mask is bool from opset 10, the data's type before
  const mask = ctx.opset >= 10 ? tf.fill(x.shape, 1, 'bool') : tf.onesLike(x);
  return [y, mask];
}

const TYPE_BY_NAME: Readonly<Record<string, number>> = Object.fromEntries(Object.entries(DataType).map(([k, v]) => [k, v]));
const CAST_TARGETS: readonly number[] = [DataType.FLOAT, ...ALL_INTS, DataType.BOOL];

/** Cast's target type: the `to` attribute (an int; a type name string before opset 6). */
function castTarget(node: Node): number | undefined {
  const a = node.attribute('to');
  if (!a) return undefined;
  if (a.s !== undefined && a.i === undefined) {
    const name = typeof a.s === 'string' ? a.s : new TextDecoder().decode(a.s as Uint8Array);
    return TYPE_BY_NAME[name.toUpperCase()];
  }
  return node.attrInt('to');
}

function cast(ctx: KernelContext, x: Tensor, to: number): Tensor {
  const tf = ctx.tf;
  if (to === DataType.BOOL) return x.dtype === 'bool' ? tf.clone(x) : tf.notEqual(x, tf.zerosLike(x));
  if (to === DataType.FLOAT) return x.dtype === 'float32' ? tf.clone(x) : tf.cast(x, 'float32');
  // to an integer type: float truncates toward zero (tfjs' cast to int32 does), 8/16-bit wrap
  const i = x.dtype === 'int32' ? tf.clone(x) : tf.cast(x, 'int32');
  return wrapInt(tf, i, to);
}

export const UNARY_KERNELS: KernelTable = {
  Relu: unary((tf, x) => tf.relu(x), [DataType.FLOAT, ...SIGNED_INTS]),
  LeakyRelu: unary((tf, x, n) => tf.leakyRelu(x, n.attrFloat('alpha', 0.01))),
  Clip: { types: NUMERIC, forward: (ctx, inputs) => [clip(ctx, inputs)] },
  Sigmoid: unary((tf, x) => tf.sigmoid(x)),
  HardSigmoid: unary((tf, x, n) => hardSigmoid(tf, x, n.attrFloat('alpha', 0.2), n.attrFloat('beta', 0.5))),
  HardSwish: unary((tf, x) => tf.mul(x, hardSigmoid(tf, x, 1 / 6, 0.5))),
  Tanh: unary((tf, x) => tf.tanh(x)),
  Exp: unary((tf, x) => tf.exp(x)),
  Log: unary((tf, x) => tf.log(x)),
  Sqrt: unary((tf, x) => tf.sqrt(x)),
  Abs: unary((tf, x) => tf.abs(x), NUMERIC),
  Neg: unary((tf, x) => tf.neg(x), [DataType.FLOAT, ...SIGNED_INTS]),
  Reciprocal: unary((tf, x) => tf.reciprocal(x)),
  Floor: unary((tf, x) => tf.floor(x)),
  Ceil: unary((tf, x) => tf.ceil(x)),
  // tfjs rounds half to even, as ONNX does
  Round: unary((tf, x) => tf.round(x)),
  // sign(NaN) is NaN in ONNX (numpy); tfjs gives 0
  Sign: unary((tf, x) => (x.dtype === 'float32' ? tf.where(tf.isNaN(x), x, tf.sign(x)) : tf.sign(x)), NUMERIC),
  Erf: unary((tf, x) => tf.erf(x)),
  Softplus: unary((tf, x) => tf.softplus(x)),
  Softsign: unary((tf, x) => tf.div(x, tf.add(tf.abs(x), f32(tf, 1)))),
  Elu: unary((tf, x, n) => elu(tf, x, n.attrFloat('alpha', 1))),
  Selu: unary((tf, x, n) => tf.mul(f32(tf, n.attrFloat('gamma', 1.05070102214813232421875)), elu(tf, x, n.attrFloat('alpha', 1.67326319217681884765625)))),
  Celu: unary((tf, x, n) => {
    const alpha = n.attrFloat('alpha', 1);
    return tf.add(tf.relu(x), tf.mul(f32(tf, alpha), expm1Neg(tf, tf.div(x, f32(tf, alpha)))));
  }),
  ThresholdedRelu: unary((tf, x, n) => tf.where(tf.greater(x, f32(tf, n.attrFloat('alpha', 1))), x, tf.zerosLike(x))),
  Gelu: {
    ...unary((tf, x, n) => gelu(tf, x, n.attrString('approximate', 'none'))),
    sinceVersion: 20,
    unsupported: (node) => {
      const a = node.attrString('approximate', 'none');
      return a === 'none' || a === 'tanh' ? undefined : `approximate='${a}' (must be 'none' or 'tanh')`;
    },
  },
  Mish: unary((tf, x) => tf.mul(x, tf.tanh(tf.softplus(x)))),
  Sin: unary((tf, x) => tf.sin(x)),
  Cos: unary((tf, x) => tf.cos(x)),
  Tan: unary((tf, x) => tf.tan(x)),
  Asin: unary((tf, x) => tf.asin(x)),
  Acos: unary((tf, x) => tf.acos(x)),
  Atan: unary((tf, x) => tf.atan(x)),
  Sinh: unary((tf, x) => tf.sinh(x)),
  Cosh: unary((tf, x) => tf.cosh(x)),
  Asinh: unary((tf, x) => tf.asinh(x)),
  Acosh: unary((tf, x) => tf.acosh(x)),
  Atanh: unary((tf, x) => tf.atanh(x)),
  Identity: unary((tf, x) => tf.clone(x), ANY_TYPE),
  Dropout: {
    types: FLOAT_ONLY,
    outputs: 2,
    unsupported: (node, opset) => {
      if (opset < 7 && node.attrInt('is_test', 0) === 0) return 'Dropout before opset 7 with is_test=0 runs in training mode; the mirror implements inference only';
      if (opset >= 12 && node.inputs[2]) {
        const v = constantValues(node, 2);
        if (!v) return 'training_mode is not a constant; the mirror implements Dropout at inference only (training_mode false)';
        if (v.some((b) => b !== 0)) return 'training_mode is true; the mirror implements Dropout at inference only';
      }
      return undefined;
    },
    forward: dropout,
  },
  Cast: {
    types: ANY_TYPE,
    unsupported: (node) => {
      const to = castTarget(node);
      if (to === undefined) return "Cast without a valid 'to' attribute";
      return CAST_TARGETS.includes(to) ? undefined : `Cast to ${dataTypeName(to)} (the mirror holds float32, integer types as int32, and bool)`;
    },
    forward: (ctx, [x]) => {
      ensureZeroGradients(ctx.tf);
      return [cast(ctx, need(ctx, x), castTarget(ctx.node)!)];
    },
  },
  // CastLike (opset 15): Cast to the element type of input 1 (its declared type; else its tfjs dtype)
  CastLike: {
    types: ANY_TYPE,
    sinceVersion: 15,
    unsupported: (node) => {
      const to = node.inputs[1]?.elemType;
      if (to === undefined || to === 0) return undefined;
      return CAST_TARGETS.includes(to) ? undefined : `CastLike to ${dataTypeName(to)} (the mirror holds float32, integer types as int32, and bool)`;
    },
    forward: (ctx, [x, like0]) => {
      ensureZeroGradients(ctx.tf);
      const like = need(ctx, like0);
      const declared = ctx.node.inputs[1]?.elemType;
      const to = declared !== undefined && declared !== 0 ? declared : like.dtype === 'float32' ? DataType.FLOAT : like.dtype === 'bool' ? DataType.BOOL : DataType.INT32;
      return [cast(ctx, need(ctx, x), to)];
    },
  },
  IsNaN: unary((tf, x) => tf.isNaN(x)),
  IsInf: unary((tf, x, n) => {
    const neg = n.attrInt('detect_negative', 1) !== 0;
    const pos = n.attrInt('detect_positive', 1) !== 0;
    const inf = tf.isInf(x);
    if (neg && pos) return inf;
    if (!neg && !pos) return tf.zerosLike(inf);
    const side = pos ? tf.greater(x, tf.zerosLike(x)) : tf.less(x, tf.zerosLike(x));
    return tf.logicalAnd(inf, side);
  }),
  Shrink: unary((tf, x, n) => {
    const l = n.attrFloat('lambd', 0.5);
    const b = f32(tf, n.attrFloat('bias', 0));
    const lo = tf.less(x, f32(tf, -l));
    const hi = tf.greater(x, f32(tf, l));
    return tf.where(lo, tf.add(x, b), tf.where(hi, tf.sub(x, b), tf.zerosLike(x)));
  }),
};

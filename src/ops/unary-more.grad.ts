/**
 * ONNX gradient rules of the unary family's float ops beyond the core set (Relu, Sigmoid, Tanh,
 * Clip, Neg, Identity are in unary.grad.ts): math functions, the activation zoo, Cast and Dropout
 * at inference. Each is dx = dy * f'(x), with f' built from the forward input x and, where cheaper,
 * the forward output y (Exp, Sqrt, Reciprocal, Tan). Branches that could overflow (exp of a large
 * input) are computed on a clamped input so the branch not taken holds no inf. Piecewise-constant
 * ops (Floor, Ceil, Round, Sign) have a zero gradient almost everywhere: their rule returns none.
 */
import { DataType } from '../onnx/data-types.js';
import { add, div, FLOAT, inputName, mul, neg, one, outputName, scalar, scale, sub, whereOrZero } from './grad-helpers.js';
import type { GradientEmitter, GradientRule, GradientTable } from './types.js';

/** dx = dy * d(x, y) for a float unary op. */
function pointwise(d: (g: GradientEmitter, x: string, y: string) => string): GradientRule {
  return {
    backward: (g, dy, wanted) => {
      if (!wanted[0] || !dy[0]) return [null];
      return [mul(g, dy[0], d(g, inputName(g, 0), outputName(g, 0)))];
    },
  };
}

/** dx = where(cond(x), dy * a, dy * b): a piecewise derivative; a and b constants or values. */
function piecewise(cond: (g: GradientEmitter, x: string) => string, a: (g: GradientEmitter, x: string, y: string) => string, b: (g: GradientEmitter, x: string, y: string) => string): GradientRule {
  return pointwise((g, x, y) => one(g, 'Where', [cond(g, x), a(g, x, y), b(g, x, y)]));
}

const ZERO: GradientRule = { backward: (g) => g.node.inputs.map(() => null) };

const gt = (g: GradientEmitter, x: string, v: number): string => one(g, 'Greater', [x, scalar(g, v)]);
const lt = (g: GradientEmitter, x: string, v: number): string => one(g, 'Less', [x, scalar(g, v)]);
const sq = (g: GradientEmitter, x: string): string => mul(g, x, x);
const sqrt = (g: GradientEmitter, x: string): string => one(g, 'Sqrt', [x]);
const exp = (g: GradientEmitter, x: string): string => one(g, 'Exp', [x]);
const sigmoid = (g: GradientEmitter, x: string): string => one(g, 'Sigmoid', [x]);
const c = (v: number) => (g: GradientEmitter): string => scalar(g, v);
/** exp(min(x, 0)): exp on the non-positive side, 1 elsewhere (never overflows). */
const expNeg = (g: GradientEmitter, x: string): string => exp(g, one(g, 'Min', [x, scalar(g, 0)]));

const attrF = (g: GradientEmitter, name: string, dflt: number): number => g.node.attrFloat(name, dflt)!;

/** d/dx of Gelu: Phi(x) + x phi(x) ('none'), or the derivative of the tanh approximation. */
function geluDerivative(g: GradientEmitter, x: string): string {
  if (g.node.attrString('approximate', 'none') === 'tanh') {
    // y = x/2 (1 + tanh(u)), u = k (x + 0.044715 x^3): y' = (1 + t)/2 + x/2 (1 - t^2) k (1 + 3 0.044715 x^2)
    const k = Math.sqrt(2 / Math.PI);
    const x2 = sq(g, x);
    const u = scale(g, add(g, x, scale(g, mul(g, x2, x), 0.044715)), k);
    const t = one(g, 'Tanh', [u]);
    const du = scale(g, add(g, scalar(g, 1), scale(g, x2, 3 * 0.044715)), k);
    const first = scale(g, add(g, scalar(g, 1), t), 0.5);
    const second = mul(g, scale(g, x, 0.5), mul(g, sub(g, scalar(g, 1), sq(g, t)), du));
    return add(g, first, second);
  }
  const cdf = scale(g, add(g, scalar(g, 1), one(g, 'Erf', [scale(g, x, Math.SQRT1_2)])), 0.5);
  const pdf = scale(g, exp(g, scale(g, sq(g, x), -0.5)), 1 / Math.sqrt(2 * Math.PI));
  return add(g, cdf, mul(g, x, pdf));
}

/** Cast: the identity between float types, nothing from or to other types. */
const castRule: GradientRule = {
  backward: (g, dy, wanted) => {
    if (!wanted[0] || !dy[0]) return [null];
    const x = inputName(g, 0);
    const from = g.elemType(x);
    const to = g.elemType(outputName(g, 0));
    if (from !== FLOAT || to !== FLOAT) return [null];
    return [dy[0]];
  },
};

export const UNARY_MORE_GRADIENTS: GradientTable = {
  Exp: pointwise((_g, _x, y) => y),
  Log: pointwise((g, x) => one(g, 'Reciprocal', [x])),
  Sqrt: pointwise((g, _x, y) => div(g, scalar(g, 0.5), y)),
  Abs: pointwise((g, x) => one(g, 'Sign', [x])),
  Reciprocal: pointwise((g, _x, y) => neg(g, sq(g, y))),
  Erf: pointwise((g, x) => scale(g, exp(g, neg(g, sq(g, x))), 2 / Math.sqrt(Math.PI))),
  Softplus: pointwise((g, x) => sigmoid(g, x)),
  Softsign: pointwise((g, x) => one(g, 'Reciprocal', [sq(g, add(g, one(g, 'Abs', [x]), scalar(g, 1)))])),
  Gelu: { unsupported: (node) => (['none', 'tanh'].includes(node.attrString('approximate', 'none')!) ? undefined : `approximate='${node.attrString('approximate')}'`), ...pointwise((g, x) => geluDerivative(g, x)) },
  LeakyRelu: piecewise((g, x) => gt(g, x, 0), c(1), (g) => scalar(g, attrF(g, 'alpha', 0.01))),
  Elu: piecewise((g, x) => gt(g, x, 0), c(1), (g, x) => scale(g, expNeg(g, x), attrF(g, 'alpha', 1))),
  Selu: piecewise(
    (g, x) => gt(g, x, 0),
    (g) => scalar(g, attrF(g, 'gamma', 1.05070102214813232421875)),
    (g, x) => scale(g, expNeg(g, x), attrF(g, 'gamma', 1.05070102214813232421875) * attrF(g, 'alpha', 1.67326319217681884765625)),
  ),
  Celu: piecewise((g, x) => gt(g, x, 0), c(1), (g, x) => expNeg(g, scale(g, x, 1 / attrF(g, 'alpha', 1)))),
  ThresholdedRelu: pointwise((g, x) => one(g, 'Cast', [gt(g, x, attrF(g, 'alpha', 1))], { to: DataType.FLOAT })),
  HardSigmoid: pointwise((g, x) => {
    const a = attrF(g, 'alpha', 0.2);
    const v = add(g, scale(g, x, a), scalar(g, attrF(g, 'beta', 0.5)));
    const inside = one(g, 'And', [gt(g, v, 0), lt(g, v, 1)]);
    return whereOrZero(g, inside, scalar(g, a));
  }),
  HardSwish: pointwise((g, x) => {
    // y = x min(max(x/6 + 1/2, 0), 1): 0 below -3, 1 above 3, x/3 + 1/2 between
    const mid = add(g, scale(g, x, 1 / 3), scalar(g, 0.5));
    return one(g, 'Where', [lt(g, x, -3), scalar(g, 0), one(g, 'Where', [gt(g, x, 3), scalar(g, 1), mid])]);
  }),
  Mish: pointwise((g, x) => {
    const t = one(g, 'Tanh', [one(g, 'Softplus', [x])]);
    return add(g, t, mul(g, mul(g, x, sigmoid(g, x)), sub(g, scalar(g, 1), sq(g, t))));
  }),
  Shrink: pointwise((g, x) => {
    const l = attrF(g, 'lambd', 0.5);
    return one(g, 'Cast', [one(g, 'Or', [lt(g, x, -l), gt(g, x, l)])], { to: DataType.FLOAT });
  }),
  Sin: pointwise((g, x) => one(g, 'Cos', [x])),
  Cos: pointwise((g, x) => neg(g, one(g, 'Sin', [x]))),
  Tan: pointwise((g, _x, y) => add(g, scalar(g, 1), sq(g, y))),
  Asin: pointwise((g, x) => one(g, 'Reciprocal', [sqrt(g, sub(g, scalar(g, 1), sq(g, x)))])),
  Acos: pointwise((g, x) => neg(g, one(g, 'Reciprocal', [sqrt(g, sub(g, scalar(g, 1), sq(g, x)))]))),
  Atan: pointwise((g, x) => one(g, 'Reciprocal', [add(g, scalar(g, 1), sq(g, x))])),
  Sinh: pointwise((g, x) => one(g, 'Cosh', [x])),
  Cosh: pointwise((g, x) => one(g, 'Sinh', [x])),
  Asinh: pointwise((g, x) => one(g, 'Reciprocal', [sqrt(g, add(g, sq(g, x), scalar(g, 1)))])),
  Acosh: pointwise((g, x) => one(g, 'Reciprocal', [sqrt(g, sub(g, sq(g, x), scalar(g, 1)))])),
  Atanh: pointwise((g, x) => one(g, 'Reciprocal', [sub(g, scalar(g, 1), sq(g, x))])),
  Floor: ZERO,
  Ceil: ZERO,
  Round: ZERO,
  Sign: ZERO,
  Dropout: {
    nonDifferentiable: [1, 2],
    backward: (g, dy, wanted) => g.node.inputs.map((_, i) => (i === 0 && wanted[0] ? (dy[0] ?? null) : null)),
  },
  Cast: castRule,
  CastLike: { nonDifferentiable: [1], backward: (g, dy, wanted) => [castRule.backward(g, dy, wanted)[0]!, null] },
};

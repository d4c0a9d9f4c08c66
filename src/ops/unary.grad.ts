/**
 * ONNX-graph gradient rules of the unary family (Relu, Neg, Identity, Sigmoid, Tanh, Clip), for
 * src/autodiff/. Kinks follow the mirror (tfjs): Relu's gradient is 0 at 0; Clip passes the
 * gradient where min <= x <= max.
 */
import { blockedChannels, reluMask } from './grad-layout.js';
import type { GradientRule, GradientTable } from './types.js';

type Backward = GradientRule['backward'];

/**
 * dx = dy where y > 0 (y = relu(x): the same mask as x > 0). Where y is in ONNX Runtime's blocked
 * layout, dy * Clip(y * 2^126, 0, 1) keeps the backward blocked (src/ops/grad-layout.ts).
 */
const relu: Backward = (g, dy) => {
  const d = dy[0];
  if (!d) return [null];
  const y = g.node.outputs[0]!;
  const c = blockedChannels(g, y);
  if (c !== undefined) return [g.emit('Mul', [d, reluMask(g, y, c)])[0]!];
  const zero = g.constFloat([0], []);
  const mask = g.emit('Greater', [y.name, zero])[0]!;
  if (RELU_MASK.form === 'mul') return [g.emit('Mul', [d, g.emit('Cast', [mask], { to: 1 })[0]!])[0]!];
  return [g.emit('Where', [mask, d, zero])[0]!];
};

/**
 * Elsewhere: dy * float(y > 0) (the mirror's form: tfjs multiplies by step(x); a NaN or infinite
 * dy where y <= 0 gives NaN) or Where(y > 0, dy, 0). The product is the default: all-weight steps of
 * a ResNet-50 ran 3-6% faster with it than with Where (docs/AUTODIFF.md).
 */
export const RELU_MASK: { form: 'where' | 'mul' } = { form: 'mul' };

const neg: Backward = (g, dy) => [dy[0] ? g.emit('Neg', [dy[0]])[0]! : null];

const identity: Backward = (_g, dy) => [dy[0] ?? null];

/** dy * y * (1 - y) */
const sigmoid: Backward = (g, dy) => {
  const d = dy[0];
  if (!d) return [null];
  const y = g.node.outputs[0]!.name;
  const oneMinus = g.emit('Sub', [g.constFloat([1], []), y])[0]!;
  return [g.emit('Mul', [g.emit('Mul', [d, y])[0]!, oneMinus])[0]!];
};

/** dy * (1 - y^2) */
const tanh: Backward = (g, dy) => {
  const d = dy[0];
  if (!d) return [null];
  const y = g.node.outputs[0]!.name;
  const oneMinus = g.emit('Sub', [g.constFloat([1], []), g.emit('Mul', [y, y])[0]!])[0]!;
  return [g.emit('Mul', [d, oneMinus])[0]!];
};

/** dx = dy where min <= x <= max (bounds from inputs from opset 11, attributes before). */
const clip: Backward = (g, dy) => {
  const d = dy[0];
  if (!d) return [null];
  const node = g.node;
  const x = node.inputs[0]!.name;
  let lo: string | null = null;
  let hi: string | null = null;
  if (g.opset >= 11 || node.inputs.length > 1) {
    lo = node.inputs[1]?.name ?? null;
    hi = node.inputs[2]?.name ?? null;
  } else {
    const mn = node.attrFloat('min');
    const mx = node.attrFloat('max');
    lo = mn === undefined ? null : g.constFloat([mn], []);
    hi = mx === undefined ? null : g.constFloat([mx], []);
  }
  const masks: string[] = [];
  if (lo) masks.push(g.emit('Not', [g.emit('Less', [x, lo])[0]!])[0]!);
  if (hi) masks.push(g.emit('Not', [g.emit('Greater', [x, hi])[0]!])[0]!);
  if (masks.length === 0) return [d];
  const mask = masks.length === 1 ? masks[0]! : g.emit('And', masks)[0]!;
  return [g.emit('Where', [mask, d, g.constFloat([0], [])])[0]!];
};

export const UNARY_GRADIENTS: GradientTable = {
  Relu: { backward: relu },
  Neg: { backward: neg },
  Identity: { backward: identity },
  Sigmoid: { backward: sigmoid },
  Tanh: { backward: tanh },
  Clip: { nonDifferentiable: [1, 2], backward: clip },
};

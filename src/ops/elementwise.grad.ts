/**
 * ONNX-graph gradient rules of the elementwise family (Add, Sub, Mul, Div), for src/autodiff/.
 * Multidirectional broadcasting is undone by `unbroadcast` (a ReduceSum over the broadcast axes).
 */
import type { GradientEmitter, GradientRule, GradientTable } from './types.js';

type Backward = GradientRule['backward'];

const name = (g: GradientEmitter, i: number): string => g.node.inputs[i]!.name;

const add: Backward = (g, dy, wanted) => {
  const d = dy[0];
  if (!d) return [null, null];
  return [wanted[0] ? g.unbroadcast(d, name(g, 0)) : null, wanted[1] ? g.unbroadcast(d, name(g, 1)) : null];
};

const sub: Backward = (g, dy, wanted) => {
  const d = dy[0];
  if (!d) return [null, null];
  return [wanted[0] ? g.unbroadcast(d, name(g, 0)) : null, wanted[1] ? g.emit('Neg', [g.unbroadcast(d, name(g, 1))])[0]! : null];
};

const mul: Backward = (g, dy, wanted) => {
  const d = dy[0];
  if (!d) return [null, null];
  const a = name(g, 0);
  const b = name(g, 1);
  return [
    wanted[0] ? g.unbroadcast(g.emit('Mul', [d, b])[0]!, a) : null,
    wanted[1] ? g.unbroadcast(g.emit('Mul', [d, a])[0]!, b) : null,
  ];
};

/** y = a / b: da = dy / b, db = -dy * y / b. */
const div: Backward = (g, dy, wanted) => {
  const d = dy[0];
  if (!d) return [null, null];
  const a = name(g, 0);
  const b = name(g, 1);
  const y = g.node.outputs[0]!.name;
  return [
    wanted[0] ? g.unbroadcast(g.emit('Div', [d, b])[0]!, a) : null,
    wanted[1] ? g.emit('Neg', [g.unbroadcast(g.emit('Mul', [d, g.emit('Div', [y, b])[0]!])[0]!, b)])[0]! : null,
  ];
};

export const ELEMENTWISE_GRADIENTS: GradientTable = {
  Add: { backward: add },
  Sub: { backward: sub },
  Mul: { backward: mul },
  Div: { backward: div },
};

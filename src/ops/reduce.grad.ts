/**
 * ONNX-graph gradient rules of the reduce family (ReduceMean), for src/autodiff/: dy (with the
 * reduced axes restored when keepdims is 0) expanded to x's shape and divided by the number of
 * elements each output averages.
 */
import { range } from './grad-common.js';
import type { GradientRule, GradientTable } from './types.js';

const reduceMean: GradientRule = {
  nonDifferentiable: [1],
  backward: (g, dy) => {
    const d = dy[0];
    if (!d) return [null];
    const n = g.node;
    const x = n.inputs[0]!.name;
    const xd = g.dims(x);
    if (!xd) g.fail(`the rank of '${x}' is not known statically`);
    const r = xd!.length;
    let axes: number[] | undefined;
    if (g.opset >= 18) axes = n.inputs[1] ? (g.constantInts(n.inputs[1].name) ?? g.fail('axes are not constant')) : undefined;
    else axes = n.attrInts('axes');
    if (!axes || axes.length === 0) {
      if (g.opset >= 18 && n.attrInt('noop_with_empty_axes', 0) === 1) return [d];
      axes = range(0, r);
    }
    const norm = [...new Set(axes.map((a) => ((a % r) + r) % r))].sort((a, b) => a - b);
    let e = d;
    if (n.attrInt('keepdims', 1) === 0) e = g.unsqueeze(e, norm);
    e = g.emit('Expand', [e, g.shape(x)])[0]!;
    const sizes = norm.map((a) => xd![a]);
    let count: string;
    if (sizes.every((s) => typeof s === 'number')) count = g.constFloat([(sizes as number[]).reduce((a, b) => a * b, 1)], []);
    else count = g.emit('Div', [g.emit('Cast', [g.emit('Size', [x])[0]!], { to: 1 })[0]!, g.emit('Cast', [g.emit('Size', [n.outputs[0]!.name])[0]!], { to: 1 })[0]!])[0]!;
    return [g.emit('Div', [e, count])[0]!];
  },
};

export const REDUCE_GRADIENTS: GradientTable = { ReduceMean: reduceMean };

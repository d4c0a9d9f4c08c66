/**
 * ONNX gradient rules of the reduce family beyond ReduceMean (reduce.grad.ts): every Reduce* is
 * dx = expand(dy) * (the reduction's local derivative), dy first unsqueezed at the reduced axes when
 * keepdims = 0. Axes are an attribute or a (constant or run-time) input as at the node's opset;
 * noop_with_empty_axes leaves the elementwise part only.
 *
 * ReduceMax / ReduceMin split dy evenly among the elements equal to the extreme (PyTorch's amax);
 * ReduceProd uses y / x (undefined where x is 0). CumSum's gradient is the reversed CumSum of dy;
 * TopK's values scatter dy back to their indices (distinct along the axis, so a plain
 * ScatterElements suffices at any opset).
 */
import { div, expandLike, inputName, mul, one, outputName, reduceAxesOf, reduceSum, scalar, unreduce, zerosLike, type ReduceAxes } from './grad-helpers.js';
import type { GradientEmitter, GradientRule, GradientTable } from './types.js';

interface ReduceParts {
  x: string;
  y: string;
  axes: ReduceAxes;
  keep: boolean;
}

/** A Reduce* rule: dx = local(x, expand(y), expand(dy)). */
function reduceRule(inputSince: number, local: (g: GradientEmitter, p: ReduceParts, dyx: string, yx: () => string) => string): GradientRule {
  return {
    nonDifferentiable: [1],
    backward: (g, dy, wanted) => {
      const out: (string | null)[] = g.node.inputs.map(() => null);
      if (!wanted[0] || !dy[0]) return out;
      const x = inputName(g, 0);
      const y = outputName(g, 0);
      const axes = reduceAxesOf(g, inputSince);
      const keep = g.node.attrInt('keepdims', 1) === 1;
      const p = { x, y, axes, keep };
      out[0] = local(g, p, unreduce(g, dy[0], x, axes, keep), () => unreduce(g, y, x, axes, keep));
      return out;
    },
  };
}

/** The even split of dy among the extreme elements: mask / count, expanded. */
function extremeRule(inputSince: number): GradientRule {
  return reduceRule(inputSince, (g, p, dyx, yx) => {
    const mask = one(g, 'Cast', [one(g, 'Equal', [p.x, yx()])], { to: 1 });
    if (p.axes.kind === 'none') return mul(g, dyx, mask);
    // count of extreme elements per reduced group, back at x's shape
    const axesList = p.axes.kind === 'list' ? p.axes.axes : null;
    let count: string;
    if (p.axes.kind === 'dynamic') count = one(g, 'ReduceSum', [mask, p.axes.value], { keepdims: 1 });
    else count = reduceSum(g, mask, axesList, true);
    return mul(g, dyx, div(g, mask, expandLike(g, count, p.x)));
  });
}

/** CumSum: the gradient is the cumulative sum of dy in the other direction. */
const cumSum: GradientRule = {
  nonDifferentiable: [1],
  backward: (g, dy, wanted) => {
    if (!wanted[0] || !dy[0]) return [null, null];
    const reverse = g.node.attrInt('reverse', 0) === 1 ? 0 : 1;
    return [one(g, 'CumSum', [dy[0], inputName(g, 1)], { exclusive: g.node.attrInt('exclusive', 0), reverse }), null];
  },
};

/** TopK: dvalues scattered into zeros at the indices along the axis. */
const topK: GradientRule = {
  nonDifferentiable: [1],
  unsupported: (_node, opset) => (opset < 11 ? 'TopK before opset 11 (ScatterElements is needed)' : undefined),
  backward: (g, dy, wanted) => {
    const out: (string | null)[] = g.node.inputs.map(() => null);
    if (!wanted[0] || !dy[0]) return out;
    const x = inputName(g, 0);
    const axis = g.opset >= 11 ? g.node.attrInt('axis', -1)! : -1;
    out[0] = one(g, 'ScatterElements', [zerosLike(g, x), outputName(g, 1), dy[0]], { axis });
    return out;
  },
};

export const REDUCE_MORE_GRADIENTS: GradientTable = {
  ReduceSum: reduceRule(13, (_g, _p, dyx) => dyx),
  ReduceSumSquare: reduceRule(18, (g, p, dyx) => mul(g, dyx, mul(g, p.x, scalar(g, 2)))),
  ReduceL1: reduceRule(18, (g, p, dyx) => mul(g, dyx, one(g, 'Sign', [p.x]))),
  ReduceL2: reduceRule(18, (g, p, dyx, yx) => mul(g, dyx, div(g, p.x, yx()))),
  ReduceLogSum: reduceRule(18, (g, _p, dyx, yx) => div(g, dyx, one(g, 'Exp', [yx()]))),
  ReduceLogSumExp: reduceRule(18, (g, p, dyx, yx) => mul(g, dyx, one(g, 'Exp', [one(g, 'Sub', [p.x, yx()])]))),
  ReduceProd: reduceRule(18, (g, p, dyx, yx) => mul(g, dyx, div(g, yx(), p.x))),
  ReduceMax: extremeRule(18),
  ReduceMin: extremeRule(18),
  CumSum: cumSum,
  TopK: topK,
};

/**
 * ONNX-graph gradient rules of the slice family (Concat, Slice), for src/autodiff/.
 *
 * - Concat: each input's gradient is the Slice of dy at its offset along the axis (constant offsets
 *   where the sizes are static, run-time ones from Shape where an axis is symbolic, opset >= 10).
 * - Slice with constant starts/ends/axes and steps of 1: dy padded with zeros back to the input's
 *   extent (Pad; the begin/end amounts from the clamped starts/ends and the input's static dims).
 *   Other steps are refused.
 */
import { rankOf } from './grad-common.js';
import type { GradientEmitter, GradientRule, GradientTable } from './types.js';

const concat: GradientRule = {
  backward: (g, dy, wanted) => {
    const d = dy[0];
    const n = g.node;
    if (!d) return n.inputs.map(() => null);
    const r = rankOf(g, n.outputs[0]!.name);
    const axis = (((n.attrInt('axis') ?? g.fail('no axis')) % r) + r) % r;
    // offsets are constants where the sizes are static, else computed at run time (a symbolic
    // batch axis: the RobustBlock stacks real and imaginary planes along it)
    let offset: number | string = 0;
    const asTensor = (v: number | string): string => (typeof v === 'number' ? g.constInt64([v]) : v);
    return n.inputs.map((v, j) => {
      const size = v ? g.dims(v.name)?.[axis] : undefined;
      const start = offset;
      if (typeof size === 'number' && typeof start === 'number') offset = start + size;
      else {
        if (!v || g.opset < 10) g.fail(`the size of input ${j} along axis ${axis} is not known statically`);
        const sz = typeof size === 'number' ? g.constInt64([size]) : g.shape(v!.name, axis, axis + 1);
        offset = g.emit('Add', [asTensor(start), sz])[0]!;
      }
      if (!wanted[j]) return null;
      return g.emit('Slice', [d, asTensor(start), asTensor(offset), g.constInt64([axis])])[0]!;
    });
  },
};

function sliceParams(g: GradientEmitter): { starts: number[]; ends: number[]; axes: number[]; steps: number[] } {
  const n = g.node;
  if (g.opset < 10) {
    const starts = n.attrInts('starts') ?? g.fail('no starts');
    return { starts, ends: n.attrInts('ends') ?? g.fail('no ends'), axes: n.attrInts('axes') ?? starts.map((_, i) => i), steps: starts.map(() => 1) };
  }
  const c = (i: number): number[] | undefined => (n.inputs[i] ? g.constantInts(n.inputs[i]!.name) : undefined);
  const starts = c(1) ?? g.fail('starts are not constant');
  const ends = c(2) ?? g.fail('ends are not constant');
  const axes = n.inputs[3] ? (c(3) ?? g.fail('axes are not constant')) : starts.map((_, i) => i);
  const steps = n.inputs[4] ? (c(4) ?? g.fail('steps are not constant')) : starts.map(() => 1);
  return { starts, ends, axes, steps };
}

const slice: GradientRule = {
  nonDifferentiable: [1, 2, 3, 4],
  backward: (g, dy) => {
    const d = dy[0];
    if (!d) return [null];
    const x = g.node.inputs[0]!.name;
    const xd = g.dims(x);
    if (!xd) g.fail(`the dims of '${x}' are not known statically`);
    const r = xd!.length;
    const { starts, ends, axes, steps } = sliceParams(g);
    const pads = new Array<number>(2 * r).fill(0);
    axes.forEach((a0, i) => {
      const a = ((a0 % r) + r) % r;
      if (steps[i] !== 1) g.fail('steps other than 1 are not handled');
      const size = xd![a];
      if (typeof size !== 'number') g.fail(`the size of '${x}' along axis ${a} is not known statically`);
      const dim = size as number;
      const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
      const s = clamp(starts[i]!);
      const e = Math.max(clamp(ends[i]!), s);
      pads[a] = s;
      pads[a + r] = dim - e;
    });
    if (pads.every((p) => p === 0)) return [d];
    if (g.opset >= 11) return [g.emit('Pad', [d, g.constInt64(pads)])[0]!];
    return [g.emit('Pad', [d], { pads })[0]!];
  },
};

export const SLICE_GRADIENTS: GradientTable = { Concat: concat, Slice: slice };

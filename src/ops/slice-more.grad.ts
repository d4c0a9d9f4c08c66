/**
 * ONNX gradient rules of the slice family beyond Concat and Slice (slice.grad.ts): Split, Gather,
 * GatherElements, Pad, Trilu, OneHot (its values) (GatherND and the scatters: slice-scatter.grad.ts).
 *
 * The gathers' adjoint is a scatter-add of dy into zeros of the data's shape: ScatterND /
 * ScatterElements with reduction 'add' (opset 16, which the gradient graph imports when it can).
 * Below 16, Gather uses a one-hot matrix product instead (duplicate indices add up there too);
 * GatherElements and GatherND need 16.
 *
 * Pad: in constant mode the adjoint is Pad of dy with the negated pads (a negative pad crops); the
 * reflect / edge / wrap modes apply, per padded axis, the transpose of the constant index map as a
 * MatMul (static dims needed).
 */
import { applyAlongAxis, inputName, one, rankOf, shapeOf, staticDims, unsqueeze, zerosLike } from './grad-helpers.js';
import type { GradientEmitter, GradientRule, GradientTable } from './types.js';

const INT64 = 7;

const split: GradientRule = {
  nonDifferentiable: [1],
  backward: (g, dy, wanted) => {
    const out: (string | null)[] = g.node.inputs.map(() => null);
    if (!wanted[0] || dy.every((d) => !d)) return out;
    const parts = g.node.outputs.map((o, i) => dy[i] ?? zerosLike(g, o?.name ?? g.fail(`output ${i} is omitted`)));
    out[0] = parts.length === 1 ? parts[0]! : one(g, 'Concat', parts, { axis: g.node.attrInt('axis', 0)! });
    return out;
  },
};

/** Indices as int64 with negatives counted from `dim` (an int64 scalar value). */
function wrapIndices(g: GradientEmitter, idx: string, dim: string): string {
  const i64 = g.elemType(idx) === INT64 ? idx : one(g, 'Cast', [idx], { to: INT64 });
  const zero = g.constInt64([0], []);
  return one(g, 'Where', [one(g, 'Less', [i64, zero]), one(g, 'Add', [i64, dim]), i64]);
}

/** An int64 scalar: dim `axis` of x at run time. */
function dimOf(g: GradientEmitter, x: string, axis: number): string {
  return one(g, 'Gather', [shapeOf(g, x), g.constInt64([axis], [])], { axis: 0 });
}

const gather: GradientRule = {
  nonDifferentiable: [1],
  backward: (g, dy, wanted) => {
    if (!wanted[0] || !dy[0]) return [null, null];
    const x = inputName(g, 0);
    const r = rankOf(g, x);
    let axis = g.node.attrInt('axis', 0)!;
    if (axis < 0) axis += r;
    let idx = wrapIndices(g, inputName(g, 1), dimOf(g, x, axis));
    let q = rankOf(g, inputName(g, 1));
    let d = dy[0];
    if (q === 0) {
      // a scalar index removed the axis: put it back with one index
      idx = one(g, 'Reshape', [idx, g.constInt64([1])]);
      d = unsqueeze(g, d, [axis]);
      q = 1;
    }
    // dy [x.shape[:axis], idx.shape, x.shape[axis+1:]] -> index dims first
    const dyRank = r - 1 + q;
    const idxDims = Array.from({ length: q }, (_, i) => axis + i);
    const dyPerm = [...idxDims, ...Array.from({ length: dyRank }, (_, i) => i).filter((i) => !idxDims.includes(i))];
    const xPerm = [axis, ...Array.from({ length: r }, (_, i) => i).filter((i) => i !== axis)];
    const xPermInv = xPerm.map((_, i) => xPerm.indexOf(i));
    const moved = dyPerm.every((p, i) => p === i) ? d : one(g, 'Transpose', [d], { perm: dyPerm });
    const xShapeMoved = axis === 0 ? shapeOf(g, x) : one(g, 'Gather', [shapeOf(g, x), g.constInt64(xPerm)], { axis: 0 });
    let dxMoved: string;
    if (g.opset >= 16) {
      const zeros = one(g, 'ConstantOfShape', [xShapeMoved]);
      dxMoved = one(g, 'ScatterND', [zeros, unsqueeze(g, idx, [-1]), moved], { reduction: 'add' });
    } else {
      // one-hot [K, dim]^T @ dy [K, rest]
      const dim = dimOf(g, x, axis);
      const range = one(g, 'Range', [g.constInt64([0], []), dim, g.constInt64([1], [])]);
      const flatIdx = one(g, 'Reshape', [idx, g.constInt64([-1, 1])]);
      const hot = one(g, 'Cast', [one(g, 'Equal', [flatIdx, range])], { to: 1 });
      const rest = one(g, 'Slice', [xShapeMoved, g.constInt64([1]), g.constInt64([r])]);
      const k = one(g, 'Shape', [flatIdx]);
      const kDim = one(g, 'Slice', [k, g.constInt64([0]), g.constInt64([1])]);
      const flatDy = one(g, 'Reshape', [moved, one(g, 'Concat', [kDim, g.constInt64([-1])], { axis: 0 })]);
      const prod = one(g, 'MatMul', [one(g, 'Transpose', [hot], { perm: [1, 0] }), flatDy]);
      dxMoved = one(g, 'Reshape', [prod, one(g, 'Concat', [one(g, 'Reshape', [dim, g.constInt64([1])]), rest], { axis: 0 })]);
    }
    const dx = axis === 0 ? dxMoved : one(g, 'Transpose', [dxMoved], { perm: xPermInv });
    return [dx, null];
  },
};

const needs16 = (what: string) => (_node: unknown, opset: number): string | undefined => (opset < 16 ? `${what} needs opset 16 (scatter with reduction add); a forward node keeps the gradient graph below it` : undefined);

const gatherElements: GradientRule = {
  nonDifferentiable: [1],
  unsupported: needs16('the gradient of GatherElements'),
  backward: (g, dy, wanted) => {
    if (!wanted[0] || !dy[0]) return [null, null];
    const x = inputName(g, 0);
    const r = rankOf(g, x);
    let axis = g.node.attrInt('axis', 0)!;
    if (axis < 0) axis += r;
    const idx = wrapIndices(g, inputName(g, 1), dimOf(g, x, axis));
    return [one(g, 'ScatterElements', [zerosLike(g, x), idx, dy[0]], { axis, reduction: 'add' }), null];
  },
};

/** Index map of one padded axis (as the mirror's kernel): output position p -> input index. */
function padIndex(mode: string, p: number, dim: number): number {
  if (mode === 'edge') return Math.min(Math.max(p, 0), dim - 1);
  if (mode === 'wrap') return ((p % dim) + dim) % dim;
  if (dim === 1) return 0;
  const period = 2 * (dim - 1);
  const q = ((p % period) + period) % period;
  return q < dim ? q : period - q;
}

const pad: GradientRule = {
  nonDifferentiable: [1, 2, 3],
  unsupported: (node) => {
    const mode = node.attrString('mode', 'constant')!;
    return ['constant', 'reflect', 'edge', 'wrap'].includes(mode) ? undefined : `Pad mode '${mode}'`;
  },
  backward: (g, dy, wanted) => {
    const out: (string | null)[] = g.node.inputs.map(() => null);
    const d = dy[0];
    if (!d || !wanted[0]) return out;
    const x = inputName(g, 0);
    const mode = g.node.attrString('mode', 'constant')!;
    const padsIn = g.node.inputs[1];
    const axesIn = g.node.inputs[3];
    let pads: number[] | undefined;
    if (g.opset < 11) pads = g.node.attrInts(g.opset < 2 ? 'paddings' : 'pads');
    else pads = padsIn ? g.constantInts(padsIn.name) : undefined;
    if (mode === 'constant') {
      if (g.opset < 11) {
        out[0] = one(g, 'Pad', [d], { mode: 'constant', [g.opset < 2 ? 'paddings' : 'pads']: pads!.map((p) => -p) });
        return out;
      }
      const negPads = pads ? g.constInt64(pads.map((p) => -p)) : one(g, 'Neg', [padsIn!.name]);
      const ins = [d, negPads, null];
      if (axesIn && g.opset >= 18) ins.push(axesIn.name);
      out[0] = one(g, 'Pad', ins, { mode: 'constant' });
      return out;
    }
    if (!pads) g.fail(`Pad mode '${mode}' with pads computed at run time (its gradient needs constant pads)`);
    const dims = staticDims(g, x);
    const r = dims.length;
    let axes = Array.from({ length: r }, (_, i) => i);
    if (axesIn && g.opset >= 18) {
      const a = g.constantInts(axesIn.name) ?? g.fail('Pad axes computed at run time');
      axes = a.map((v) => (v < 0 ? v + r : v));
    }
    let t = d;
    axes.forEach((a, i) => {
      const before = pads![i]!;
      const after = pads![axes.length + i]!;
      if (before === 0 && after === 0) return;
      const dim = dims[a]!;
      const n = dim + before + after;
      // m [n, dim]: output position -> its input index
      const m = new Float32Array(n * dim);
      for (let o = 0; o < n; o++) m[o * dim + padIndex(mode, o - before, dim)] += 1;
      t = applyAlongAxis(g, t, a, r, m, n, dim);
    });
    out[0] = t;
    return out;
  },
};

const trilu: GradientRule = {
  nonDifferentiable: [1],
  backward: (g, dy, wanted) => {
    if (!wanted[0] || !dy[0]) return g.node.inputs.map(() => null);
    const k = g.node.inputs[1];
    const ins = k ? [dy[0], k.name] : [dy[0]];
    return [one(g, 'Trilu', ins, { upper: g.node.attrInt('upper', 1)! }), ...(k ? [null] : [])];
  },
};

/** OneHot: y is off or on per position, so d values = [sum(dy (1 - hot)), sum(dy hot)]; indices and depth carry none. */
const oneHot: GradientRule = {
  nonDifferentiable: [0, 1],
  backward: (g, dy, wanted) => {
    const d = dy[0];
    if (!d || !wanted[2]) return [null, null, null];
    const hot = one(g, 'OneHot', [inputName(g, 0), inputName(g, 1), g.constFloat([0, 1])], { axis: g.node.attrInt('axis', -1)! });
    const total = (t: string): string => one(g, 'Reshape', [one(g, 'ReduceSum', [t], { keepdims: 0 }), g.constInt64([1])]);
    const on = total(one(g, 'Mul', [d, hot]));
    const off = one(g, 'Sub', [total(d), on]);
    return [null, null, one(g, 'Concat', [off, on], { axis: 0 })];
  },
};

export const SLICE_MORE_GRADIENTS: GradientTable = {
  OneHot: oneHot,
  Split: split,
  Gather: gather,
  GatherElements: gatherElements,
  Pad: pad,
  Trilu: trilu,
};

/**
 * Mirror kernels: the slice family (Concat, Split, Slice, Gather, GatherElements, GatherND,
 * ScatterElements/Scatter, ScatterND, Pad, Trilu, OneHot).
 *
 * Data moves only through differentiable tfjs ops (slice, gather, concat, pad, where, segment
 * sums); index inputs (starts/ends, pads, scatter indices) are small integer tensors read to the
 * host where an index map has to be built. Strided and reversed slices, and the reflect/edge/wrap
 * pads, are gathers with index lists computed on the host (tfjs has no StridedSlice gradient).
 */
import { ALL_TYPES, NUMERIC_TYPES, boolSafe, normAxes, normAxis, product } from './shape.js';
import type { KernelContext, KernelTable, OpKernel, Tensor, TF } from './types.js';

/** x's entries at host indices `idx` along `axis` (a slice when they are contiguous). */
function takeAlong(tf: TF, x: Tensor, idx: readonly number[], axis: number): Tensor {
  const contiguous = idx.length > 0 && idx.every((v, i) => v === idx[0]! + i);
  if (contiguous || idx.length === 0) {
    const begin = x.shape.map((_, i) => (i === axis ? (idx[0] ?? 0) : 0));
    const size = x.shape.map((d, i) => (i === axis ? idx.length : d));
    return tf.slice(x, begin, size);
  }
  return boolSafe(tf, x, (v) => tf.gather(v, tf.tensor1d([...idx], 'int32'), axis));
}

/** Negative indices (int32 tensor) counted from `dim`. */
function wrapNegative(tf: TF, idx: Tensor, dim: number | Tensor): Tensor {
  const i = idx.dtype === 'int32' ? idx : tf.cast(idx, 'int32');
  return tf.where(tf.less(i, 0), tf.add(i, typeof dim === 'number' ? tf.scalar(dim, 'int32') : dim), i);
}

/** Host indices of an int tensor, negatives wrapped, checked against [0, dim). */
function hostIndices(ctx: KernelContext, t: Tensor, dim: number, what: string): number[] {
  return ctx.ints(t)!.map((v) => {
    const w = v < 0 ? v + dim : v;
    if (w < 0 || w >= dim) ctx.fail(`${what} index ${v} is out of range for a dim of ${dim}`);
    return w;
  });
}

function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1]! * shape[i + 1]!;
  return s;
}

/** Split sizes: the attribute (< 13) or input (>= 13), num_outputs (>= 18), or equal parts. */
function splitSizes(ctx: KernelContext, split: Tensor | null, dim: number, nOut: number): number[] {
  const given = ctx.opset < 13 ? ctx.node.attrInts('split') : ctx.ints(split);
  if (given && given.length > 0) {
    if (given.length !== nOut) ctx.fail(`split [${given.join(',')}] has ${given.length} parts for ${nOut} outputs`);
    if (given.some((v) => v < 0) || given.reduce((a, b) => a + b, 0) !== dim) ctx.fail(`split [${given.join(',')}] does not add up to ${dim}`);
    return given;
  }
  const num = ctx.opset >= 18 ? ctx.node.attrInt('num_outputs') : undefined;
  if (num !== undefined) {
    if (num !== nOut) ctx.fail(`num_outputs ${num} but ${nOut} outputs`);
    const chunk = Math.ceil(dim / num);
    const sizes = Array.from({ length: num }, (_, i) => Math.max(0, Math.min(chunk, dim - i * chunk)));
    if (sizes[num - 1] === 0 && dim > 0) ctx.fail(`cannot split ${dim} into ${num} chunks of ${chunk}`);
    return sizes;
  }
  if (dim % nOut !== 0) ctx.fail(`cannot split ${dim} into ${nOut} equal parts`);
  return new Array<number>(nOut).fill(dim / nOut);
}

/** Host index list of a numpy slice start:end:step over a dim (ONNX clamping rules). */
function sliceIndices(dim: number, start: number, end: number, step: number): number[] {
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = Math.min(Math.max(s, 0), dim);
    e = Math.min(Math.max(e, 0), dim);
  } else {
    s = Math.min(Math.max(s, 0), dim - 1);
    e = Math.min(Math.max(e, -1), dim - 1);
  }
  const out: number[] = [];
  for (let i = s; step > 0 ? i < e : i > e; i += step) out.push(i);
  return out;
}

/** Index map of one padded axis: output position p in [-before, dim + after) -> input index. */
function padIndex(mode: string, p: number, dim: number): number {
  if (mode === 'edge') return Math.min(Math.max(p, 0), dim - 1);
  if (mode === 'wrap') return ((p % dim) + dim) % dim;
  // reflect (no edge repeat), periodic with period 2 (dim - 1)
  if (dim === 1) return 0;
  const period = 2 * (dim - 1);
  const q = ((p % period) + period) % period;
  return q < dim ? q : period - q;
}

function padForward(ctx: KernelContext, inputs: readonly (Tensor | null)[]): Tensor[] {
  const tf = ctx.tf;
  const x = inputs[0]!;
  const r = x.rank;
  const mode = ctx.node.attrString('mode', 'constant');
  let pads: number[] | undefined;
  let value = 0;
  let axes = Array.from({ length: r }, (_, i) => i);
  if (ctx.opset < 11) {
    pads = ctx.node.attrInts(ctx.opset < 2 ? 'paddings' : 'pads');
    value = ctx.node.attrFloat('value', 0);
  } else {
    pads = ctx.ints(inputs[1]);
    if (inputs[2]) value = ctx.floats(inputs[2])![0] ?? 0;
    if (ctx.opset >= 18 && inputs[3]) axes = normAxes(ctx, ctx.ints(inputs[3])!, r);
  }
  if (!pads || pads.length !== 2 * axes.length) ctx.fail(`pads [${pads?.join(',')}] do not match ${axes.length} axes`);
  const before = new Array<number>(r).fill(0);
  const after = new Array<number>(r).fill(0);
  axes.forEach((a, i) => {
    before[a] = pads![i]!;
    after[a] = pads![axes.length + i]!;
  });
  if (x.dtype === 'int32' && !Number.isInteger(value)) ctx.fail(`constant_value ${value} on integer data`);
  let y = x;
  if (mode === 'constant') {
    // negative pads crop, then positive pads pad
    for (let a = 0; a < r; a++) {
      const b = Math.min(before[a]!, 0);
      const e = Math.min(after[a]!, 0);
      if (b < 0 || e < 0) {
        const dim = y.shape[a]!;
        if (dim + b + e < 0) ctx.fail(`pads crop more than axis ${a} holds`);
        y = tf.slice(y, y.shape.map((_, i) => (i === a ? -b : 0)), y.shape.map((d, i) => (i === a ? dim + b + e : d)));
      }
    }
    const pos = Array.from({ length: r }, (_, a) => [Math.max(before[a]!, 0), Math.max(after[a]!, 0)] as [number, number]);
    return [tf.pad(y, pos, value)];
  }
  for (let a = 0; a < r; a++) {
    const dim = x.shape[a]!;
    if (before[a] === 0 && after[a] === 0) continue;
    const n = dim + before[a]! + after[a]!;
    if (n < 0) ctx.fail(`pads crop more than axis ${a} holds`);
    if (dim === 0 && n > 0) ctx.fail(`${mode} padding of an empty axis ${a}`);
    const idx = Array.from({ length: n }, (_, i) => padIndex(mode, i - before[a]!, dim));
    y = takeAlong(tf, y, idx, a);
  }
  return [y === x ? tf.clone(x) : y];
}

/**
 * Scatter into data: update element u goes to flat position targets[u]. 'none': the last update
 * to a position wins; 'add', 'mul', 'max', 'min' combine the data with every update to it. A
 * position hit k times is handled in k passes of where(mask, combine(out, gathered), out), so
 * every step is a differentiable tfjs op ('add' is one segment sum).
 */
function scatterFlat(tf: TF, data: Tensor, updates: Tensor, targets: Int32Array, reduction: string): Tensor {
  const n = data.size;
  const flatData = tf.reshape(data, [n]);
  const flatUpd = tf.reshape(updates, [updates.size]);
  if (reduction === 'add') {
    return tf.reshape(tf.add(flatData, tf.unsortedSegmentSum(flatUpd, tf.tensor1d(targets, 'int32'), n)), data.shape);
  }
  const passes: Int32Array[] = [];
  const hits = new Map<number, number>();
  targets.forEach((t, u) => {
    const k = hits.get(t) ?? 0;
    hits.set(t, k + 1);
    (passes[k] ??= new Int32Array(n).fill(-1))[t] = u;
  });
  let out = flatData;
  for (const src of passes) {
    const mask = tf.tensor1d(Uint8Array.from(src, (v) => (v >= 0 ? 1 : 0)), 'bool');
    const g = tf.gather(flatUpd, tf.tensor1d(src.map((v) => Math.max(v, 0)), 'int32'));
    const combined = reduction === 'mul' ? tf.mul(out, g) : reduction === 'max' ? tf.maximum(out, g) : reduction === 'min' ? tf.minimum(out, g) : g;
    out = tf.where(mask, combined, out);
  }
  return tf.reshape(out === flatData ? tf.clone(flatData) : out, data.shape);
}

const SCATTER_REDUCTIONS = ['none', 'add', 'mul', 'max', 'min'];

function scatterReduction(node: { attrString(n: string, d: string): string }, opset: number): string {
  return opset >= 16 ? node.attrString('reduction', 'none') : 'none';
}

const scatterElements: OpKernel = {
  types: NUMERIC_TYPES,
  unsupported: (node, opset) => {
    const r = scatterReduction(node, opset);
    return SCATTER_REDUCTIONS.includes(r) ? undefined : `${node.opType} reduction '${r}' is not one of none, add, mul, max, min`;
  },
  forward: (ctx: KernelContext, [data, indices, updates]) => {
    const tf = ctx.tf;
    const x = data!;
    const axis = normAxis(ctx, ctx.node.attrInt('axis', 0), x.rank);
    const ishape = indices!.shape;
    if (indices!.rank !== x.rank || updates!.shape.some((d, i) => d !== ishape[i])) ctx.fail('indices and updates must have the shape of each other and the rank of data');
    const idx = hostIndices(ctx, indices!, x.shape[axis]!, 'scatter');
    const xs = strides(x.shape);
    const is = strides(ishape);
    const targets = new Int32Array(idx.length);
    for (let u = 0; u < idx.length; u++) {
      let rem = u;
      let t = 0;
      for (let d = 0; d < ishape.length; d++) {
        const c = Math.floor(rem / is[d]!);
        rem -= c * is[d]!;
        t += (d === axis ? idx[u]! : c) * xs[d]!;
      }
      targets[u] = t;
    }
    return [scatterFlat(tf, x, updates!, targets, scatterReduction(ctx.node, ctx.opset))];
  },
};

export const SLICE_KERNELS: KernelTable = {
  Concat: {
    types: ALL_TYPES,
    forward: (ctx: KernelContext, inputs) => {
      const xs = inputs.filter((t): t is Tensor => t !== null);
      if (xs.length === 0) ctx.fail('no inputs');
      const axis = normAxis(ctx, ctx.node.attrInt('axis', ctx.opset < 4 ? 1 : 0), xs[0]!.rank);
      const nonEmpty = xs.filter((t) => t.size > 0);
      if (nonEmpty.length === 0) {
        const shape = xs[0]!.shape.map((d, i) => (i === axis ? xs.reduce((a, t) => a + t.shape[axis]!, 0) : d));
        return [ctx.tf.zeros(shape, xs[0]!.dtype)];
      }
      if (nonEmpty.length === 1) return [ctx.tf.clone(nonEmpty[0]!)];
      return [ctx.tf.concat(nonEmpty, axis)];
    },
  },

  Split: {
    types: ALL_TYPES,
    outputs: 64,
    forward: (ctx: KernelContext, [x, split]) => {
      const axis = normAxis(ctx, ctx.node.attrInt('axis', 0), x!.rank);
      const dim = x!.shape[axis]!;
      const sizes = splitSizes(ctx, split ?? null, dim, ctx.node.outputs.length);
      let at = 0;
      return sizes.map((n) => {
        const begin = x!.shape.map((_, i) => (i === axis ? at : 0));
        at += n;
        return ctx.tf.slice(x!, begin, x!.shape.map((d, i) => (i === axis ? n : d)));
      });
    },
  },

  Slice: {
    types: ALL_TYPES,
    forward: (ctx: KernelContext, inputs) => {
      const x = inputs[0]!;
      const r = x.rank;
      let starts: number[] | undefined;
      let ends: number[] | undefined;
      let axes: number[] | undefined;
      let steps: number[] | undefined;
      if (ctx.opset < 10) {
        starts = ctx.node.attrInts('starts');
        ends = ctx.node.attrInts('ends');
        axes = ctx.node.attrInts('axes');
      } else {
        starts = ctx.ints(inputs[1]);
        ends = ctx.ints(inputs[2]);
        axes = ctx.ints(inputs[3]);
        steps = ctx.ints(inputs[4]);
      }
      if (!starts || !ends || starts.length !== ends.length) ctx.fail('starts and ends must have the same length');
      const ax = normAxes(ctx, axes ?? starts.map((_, i) => i), r);
      const st = steps ?? starts.map(() => 1);
      if (ax.length !== starts.length || st.length !== starts.length) ctx.fail('starts, ends, axes and steps must have the same length');
      if (st.includes(0)) ctx.fail('a step of 0');
      let y = x;
      ax.forEach((a, i) => {
        const dim = y.shape[a]!;
        const idx = sliceIndices(dim, starts![i]!, ends![i]!, st[i]!);
        if (idx.length === dim && st[i]! > 0) return;
        y = takeAlong(ctx.tf, y, idx, a);
      });
      return [y === x ? ctx.tf.clone(x) : y];
    },
  },

  Gather: {
    types: ALL_TYPES,
    forward: (ctx: KernelContext, [data, indices]) => {
      const tf = ctx.tf;
      const x = data!;
      const axis = normAxis(ctx, ctx.node.attrInt('axis', 0), x.rank);
      const idx = wrapNegative(tf, indices!, x.shape[axis]!);
      return [boolSafe(tf, x, (v) => tf.gather(v, idx, axis))];
    },
  },

  GatherElements: {
    types: ALL_TYPES,
    forward: (ctx: KernelContext, [data, indices]) => {
      const tf = ctx.tf;
      const x = data!;
      const axis = normAxis(ctx, ctx.node.attrInt('axis', 0), x.rank);
      const ishape = indices!.shape;
      if (indices!.rank !== x.rank) ctx.fail(`indices of rank ${indices!.rank} for data of rank ${x.rank}`);
      if (indices!.size === 0) return [tf.zeros(ishape, x.dtype)];
      hostIndices(ctx, indices!, x.shape[axis]!, 'GatherElements');
      const xs = strides(x.shape);
      let flat: Tensor = tf.mul(wrapNegative(tf, indices!, x.shape[axis]!), tf.scalar(xs[axis]!, 'int32'));
      for (let d = 0; d < x.rank; d++) {
        if (d === axis) continue;
        const shape = ishape.map((n, i) => (i === d ? n : 1));
        flat = tf.add(flat, tf.reshape(tf.range(0, ishape[d]! * xs[d]!, xs[d]!, 'int32'), shape));
      }
      return [boolSafe(tf, x, (v) => tf.gather(tf.reshape(v, [v.size]), flat))];
    },
  },

  GatherND: {
    types: ALL_TYPES,
    forward: (ctx: KernelContext, [data, indices]) => {
      const tf = ctx.tf;
      const x = data!;
      const ind = indices!;
      const b = ctx.opset >= 12 ? ctx.node.attrInt('batch_dims', 0) : 0;
      const k = ind.shape[ind.rank - 1]!;
      if (ind.rank < 1 || b < 0 || b >= ind.rank || b + k > x.rank) ctx.fail(`indices [${ind.shape.join(',')}] do not index data [${x.shape.join(',')}] with batch_dims ${b}`);
      for (let i = 0; i < b; i++) if (ind.shape[i] !== x.shape[i]) ctx.fail('batch dims of data and indices differ');
      const bdims = x.shape.slice(0, b);
      const ddims = x.shape.slice(b, b + k);
      const rest = x.shape.slice(b + k);
      const B = product(bdims);
      const D = product(ddims);
      const M = product(ind.shape.slice(b, -1));
      const outShape = [...ind.shape.slice(0, -1), ...rest];
      if (product(outShape) === 0) return [tf.zeros(outShape, x.dtype)];
      const raw = ctx.ints(ind)!;
      raw.forEach((v, i) => {
        const dim = ddims[i % k]!;
        if (v < -dim || v >= dim) ctx.fail(`GatherND index ${v} is out of range for a dim of ${dim}`);
      });
      const xr = tf.reshape(x, [B * D, ...rest]);
      let flat: Tensor;
      if (k === 0) flat = tf.zeros([B, M], 'int32');
      else {
        const ir = wrapNegative(tf, tf.reshape(ind, [B, M, k]), tf.tensor1d(ddims, 'int32'));
        flat = tf.sum(tf.mul(ir, tf.tensor1d(strides(ddims), 'int32')), -1);
      }
      flat = tf.add(flat, tf.reshape(tf.range(0, B * D, D, 'int32'), [B, 1]));
      const g = boolSafe(tf, xr, (v) => tf.gather(v, tf.reshape(flat, [B * M]), 0));
      return [tf.reshape(g, outShape)];
    },
  },

  ScatterElements: { ...scatterElements, sinceVersion: 11 },
  Scatter: { ...scatterElements, sinceVersion: 9, untilVersion: 10 },

  ScatterND: {
    types: NUMERIC_TYPES,
    sinceVersion: 11,
    unsupported: (node, opset) => {
      const r = scatterReduction(node, opset);
      return SCATTER_REDUCTIONS.includes(r) ? undefined : `ScatterND reduction '${r}' is not one of none, add, mul, max, min`;
    },
    forward: (ctx: KernelContext, [data, indices, updates]) => {
      const x = data!;
      const ind = indices!;
      const k = ind.shape[ind.rank - 1]!;
      if (k > x.rank) ctx.fail(`index tuples of length ${k} for data of rank ${x.rank}`);
      const slice = product(x.shape.slice(k));
      const want = [...ind.shape.slice(0, -1), ...x.shape.slice(k)];
      if (updates!.rank !== want.length || updates!.shape.some((d, i) => d !== want[i])) ctx.fail(`updates [${updates!.shape.join(',')}] should be [${want.join(',')}]`);
      const raw = ctx.ints(ind)!;
      const xs = strides(x.shape.slice(0, k));
      const m = raw.length / Math.max(k, 1);
      const targets = new Int32Array(m * slice);
      for (let i = 0; i < m; i++) {
        let base = 0;
        for (let j = 0; j < k; j++) {
          const dim = x.shape[j]!;
          const v = raw[i * k + j]!;
          const w = v < 0 ? v + dim : v;
          if (w < 0 || w >= dim) ctx.fail(`scatter index ${v} is out of range for a dim of ${dim}`);
          base += w * xs[j]!;
        }
        for (let s = 0; s < slice; s++) targets[i * slice + s] = base * slice + s;
      }
      return [scatterFlat(ctx.tf, x, updates!, targets, scatterReduction(ctx.node, ctx.opset))];
    },
  },

  Pad: {
    types: NUMERIC_TYPES,
    unsupported: (node) => {
      const mode = node.attrString('mode', 'constant');
      return ['constant', 'reflect', 'edge', 'wrap'].includes(mode) ? undefined : `Pad mode '${mode}' is not implemented`;
    },
    forward: (ctx: KernelContext, inputs) => padForward(ctx, inputs),
  },

  Trilu: {
    types: ALL_TYPES,
    sinceVersion: 14,
    forward: (ctx: KernelContext, [input, kT]) => {
      const tf = ctx.tf;
      const x = input!;
      if (x.rank < 2) ctx.fail(`input of rank ${x.rank}`);
      const k = kT ? (ctx.ints(kT)![0] ?? 0) : 0;
      const n = x.shape[x.rank - 2]!;
      const m = x.shape[x.rank - 1]!;
      if (x.size === 0) return [tf.clone(x)];
      const diff = tf.sub(tf.reshape(tf.range(0, m, 1, 'int32'), [1, m]), tf.reshape(tf.range(0, n, 1, 'int32'), [n, 1]));
      const keep = ctx.node.attrInt('upper', 1) === 1 ? tf.greaterEqual(diff, k) : tf.lessEqual(diff, k);
      const mask = tf.broadcastTo(tf.cast(keep, 'int32'), x.shape);
      return [tf.where(tf.cast(mask, 'bool'), x, tf.zerosLike(x))];
    },
  },

  OneHot: {
    types: NUMERIC_TYPES,
    sinceVersion: 9,
    forward: (ctx: KernelContext, [indices, depthT, values]) => {
      const tf = ctx.tf;
      const depth = Math.trunc(ctx.floats(depthT)![0]!);
      if (!(depth >= 1)) ctx.fail(`depth ${depth}`);
      if (values!.size !== 2) ctx.fail('values must hold [off, on]');
      const idx = wrapNegative(tf, indices!, depth);
      const outRank = idx.rank + 1;
      const axis = normAxis(ctx, ctx.node.attrInt('axis', -1), outRank);
      const outShape = [...idx.shape.slice(0, axis), depth, ...idx.shape.slice(axis)];
      const e = tf.expandDims(idx, axis);
      const r = tf.reshape(tf.range(0, depth, 1, 'int32'), outShape.map((_, i) => (i === axis ? depth : 1)));
      const hit = tf.equal(tf.broadcastTo(e, outShape), tf.broadcastTo(r, outShape));
      const v = tf.reshape(values!, [2]);
      const off = tf.broadcastTo(tf.reshape(tf.slice(v, [0], [1]), []), outShape);
      const on = tf.broadcastTo(tf.reshape(tf.slice(v, [1], [1]), []), outShape);
      return [tf.where(hit, on, off)];
    },
  },
};

/**
 * Physical removal of pruned channels (`prune --shrink`): every pruned conv loses its pruned output
 * filters (weight rows, bias), and every op downstream that is indexed by those channels loses the
 * matching entries: BatchNormalization parameters, per-channel Mul/Div/PRelu constants, the input
 * channels of the next convs, the rows of a Gemm/MatMul reading pooled or flattened features, and
 * the offsets of a Concat. Masks are dropped (what they zeroed no longer exists). Because pruned
 * channels were exactly zero after their normalisation and activation, the smaller model computes
 * the same function as the masked one (the tests check it with ONNX Runtime).
 *
 * Where a conv's channels reach an op without a shrink rule (an op not listed above, a reshape into
 * anything but a flat feature vector, the RobustBlock's Fourier-domain orthogonal conv), that conv
 * stays masked and the report says why; the others are removed.
 */
import { inferShapesStatic } from '../../analysis/shapes/infer.js';
import { UserError } from '../../errors.js';
import type { Graph } from '../../ir/graph.js';
import type { Model } from '../../ir/model.js';
import type { Node } from '../../ir/node.js';
import type { Value } from '../../ir/value.js';
import { DataType } from '../../onnx/data-types.js';
import type { ValueInfoProto } from '../../onnx/proto-types.js';
import { tensorDims, tensorTypedData } from '../../onnx/tensor-data.js';
import { float32Tensor } from '../emit.js';
import { isDepthwise } from './channel-trace.js';
import { MASK_SUFFIX } from './masks.js';
import { PRUNE_METADATA_KEY } from './prune.js';

/** Removed indices along one axis of a value, and that axis's size before removal. */
interface Removal {
  axis: number;
  size: number;
  removed: number[];
}

export interface ShrinkReport {
  convs: number;
  /** Pruned convs left masked (their channels reach an op without a shrink rule), with the reason. */
  keptMasked: { node: string; reason: string }[];
  parametersBefore: number;
  parametersAfter: number;
  /** Nodes whose parameters were sliced, in graph order. */
  touched: string[];
}

function fail(n: Node, why: string): never {
  throw new UserError('shrink', `cannot shrink across ${n.opType} '${n.name}': ${why}; the masked model is still valid (run prune without --shrink)`);
}

/** The initializer behind a (possibly masked) parameter input. */
function underlying(v: Value | null): Value | undefined {
  if (!v) return undefined;
  if (v.initializer) return v;
  const p = v.producer();
  if (p && p.opType === 'Mul' && p.input(1)?.name.endsWith(MASK_SUFFIX)) return p.input(0) ?? undefined;
  return undefined;
}

/** Keep only the entries whose index along `axis` is not removed. */
function sliceInitializer(v: Value, axis: number, removed: ReadonlySet<number>): void {
  const t = v.initializer!;
  if (t.data_type !== DataType.FLOAT) throw new UserError('shrink', `parameter '${v.name}' is not float32`);
  const dims = tensorDims(t);
  const data = tensorTypedData(t) as Float32Array;
  const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const size = dims[axis]!;
  const keep = Array.from({ length: size }, (_, i) => i).filter((i) => !removed.has(i));
  const out = new Float32Array(outer * keep.length * inner);
  let k = 0;
  for (let o = 0; o < outer; o++) for (const i of keep) for (let j = 0; j < inner; j++) out[k++] = data[(o * size + i) * inner + j]!;
  const next = [...dims];
  next[axis] = keep.length;
  v.initializer = { ...float32Tensor(next, out), name: v.name };
}

/** Slice a per-channel constant of an elementwise op (broadcast against [N, C, ...]); scalars pass. */
function sliceBroadcastConstant(n: Node, other: Value | null, r: Removal, rank: number): void {
  const p = underlying(other);
  if (!p) fail(n, `its other operand '${other?.name}' is not a constant`);
  const dims = tensorDims(p.initializer!);
  const axis = r.axis - (rank - dims.length);
  if (axis < 0 || dims[axis] === 1) return; // broadcast along the axis: nothing to slice
  if (dims[axis] !== r.size) fail(n, `its operand '${p.name}' has ${dims[axis]} entries on the pruned axis, not ${r.size}`);
  sliceInitializer(p, axis, new Set(r.removed));
}

/** Declared shape of `v` (value_info) with the removed axis shrunk, so declarations stay true. */
function updateDeclaredShape(g: Graph, v: Value, r: Removal): void {
  const info = v.info;
  const dims = info?.type?.tensor_type?.shape?.dim;
  if (!info || !dims || dims.length <= r.axis) return;
  const next: ValueInfoProto = JSON.parse(JSON.stringify(info, (_k, x) => (typeof x === 'bigint' ? Number(x) : x))) as ValueInfoProto;
  next.type!.tensor_type!.shape!.dim![r.axis] = { dim_value: r.size - r.removed.length };
  g.setValueInfo(v, next);
}

const PASS_THROUGH = new Set(['Relu', 'LeakyRelu', 'Elu', 'Selu', 'Celu', 'Tanh', 'HardSwish', 'Mish', 'Gelu', 'Softsign', 'Identity', 'Dropout', 'Neg', 'Abs', 'Sign', 'Sin', 'Erf', 'Asinh', 'Atan', 'ThresholdedRelu', 'Shrink', 'Clip', 'Sigmoid', 'HardSigmoid', 'MaxPool', 'AveragePool', 'LpPool', 'Resize', 'Upsample', 'Pad']);

export function shrinkPruned(model: Model): ShrinkReport {
  const raw = model.metadata().get(PRUNE_METADATA_KEY);
  if (raw === undefined) throw new UserError('shrink', 'the model has no pruning record (metadata iqa-surgeon.prune): prune it first');
  const record = JSON.parse(raw) as { convs: { node: string; filters: number; pruned: number[]; masks?: string[] }[]; shrunk?: boolean; [k: string]: unknown };
  if (record.shrunk) throw new UserError('shrink', 'the model is already shrunk');
  const g = model.graph;
  const countParams = (): number => g.initializers().reduce((s, v) => s + (v.initializer!.data_type === DataType.FLOAT ? tensorDims(v.initializer!).reduce((a, b) => a * b, 1) : 0), 0);
  const parametersBefore = countParams() - record.convs.reduce((s, c) => s + (c.masks ?? []).reduce((t, m) => t + (g.lookup(m)?.initializer ? tensorDims(g.lookup(m)!.initializer!).reduce((a, b) => a * b, 1) : 0), 0), 0);
  const shapes = inferShapesStatic(model);
  type Conv = (typeof record.convs)[number];
  /** Plan the removal of `convs`' pruned channels against the unmodified graph (throws naming a node without a rule). */
  const plan = (convs: readonly Conv[]): { edits: (() => void)[]; removal: Map<Value, Removal>; touched: string[] } => {
    const removal = new Map<Value, Removal>();
    const touched: string[] = [];
    // pass 1: plan everything against the unmodified graph (errors leave the model untouched)
    const edits: (() => void)[] = [];
    for (const c of convs) {
      const conv = g.node(c.node);
      if (!conv || conv.opType !== 'Conv') throw new UserError('shrink', `the pruning record names conv '${c.node}', which is not in the model`);
      const set = new Set(c.pruned);
      const w = underlying(conv.input(1));
      const b = underlying(conv.input(2) ?? null);
      if (!w) fail(conv, 'its weight is not an initializer');
      edits.push(() => sliceInitializer(w, 0, set));
      if (b) edits.push(() => sliceInitializer(b, 0, set));
      touched.push(conv.name);
      removal.set(conv.output(0)!, { axis: 1, size: c.filters, removed: [...c.pruned] });
    }
    const rankOf = (v: Value): number => shapes.get(v)?.shape?.length ?? 4;
    const dim = (v: Value, axis: number, n: Node): number => {
      const d = shapes.get(v)?.shape?.[axis];
      if (typeof d !== 'number') fail(n, `the size of axis ${axis} of '${v.name}' is not known statically`);
      return d;
    };
    for (const n of g.nodes) {
      const inRemovals = n.inputs.map((v) => (v ? removal.get(v) : undefined));
      if (inRemovals.every((r) => r === undefined)) continue;
      const out = n.output(0);
      const first = inRemovals.findIndex((r) => r !== undefined);
      const r = inRemovals[first]!;
      const op = n.opType;
      const forward = (rr: Removal): void => {
        if (out) removal.set(out, rr);
      };
      if (op === 'Conv' && isDepthwise(n, underlying(n.input(1)))) {
        // depthwise: channel c in, channel c out; its filters and bias for the removed channels go,
        // and the group count shrinks with the channels
        if (first !== 0 || r.axis !== 1) fail(n, 'pruned channels reach it as weights');
        const w = underlying(n.input(1));
        const b = underlying(n.input(2) ?? null);
        if (!w) fail(n, 'its weight is not an initializer');
        if (r.size !== n.attrInt('group', 1)) fail(n, `it has ${n.attrInt('group', 1)} groups, not the ${r.size} channels it reads`);
        const set = new Set(r.removed);
        edits.push(() => sliceInitializer(w, 0, set));
        if (b) edits.push(() => sliceInitializer(b, 0, set));
        edits.push(() => n.setAttribute({ name: 'group', i: r.size - r.removed.length, type: 2 }));
        touched.push(n.name);
        forward(r);
      } else if (op === 'Conv' || op === 'ConvTranspose') {
        if (first !== 0) fail(n, 'pruned channels reach it as weights');
        const w = underlying(n.input(1));
        if (!w) fail(n, 'its weight is not an initializer');
        if (n.attrInt('group', 1) !== 1) fail(n, 'it is a grouped conv that is not depthwise (only whole groups could be removed)');
        edits.push(() => sliceInitializer(w, op === 'Conv' ? 1 : 0, new Set(r.removed)));
        touched.push(n.name);
      } else if (op === 'BatchNormalization') {
        if (first !== 0 || r.axis !== 1) fail(n, 'pruned channels do not reach its data input');
        for (let i = 1; i <= 4; i++) {
          const p = underlying(n.input(i));
          if (!p) fail(n, `its input ${i} is not an initializer`);
          edits.push(() => sliceInitializer(p, 0, new Set(r.removed)));
        }
        touched.push(n.name);
        forward(r);
      } else if (op === 'PRelu' || op === 'Mul' || op === 'Div') {
        if (inRemovals.filter((x) => x !== undefined).length > 1) fail(n, 'pruned channels reach both operands');
        if (op !== 'Mul' && first !== 0) fail(n, 'pruned channels reach its second operand');
        const otherIdx = first === 0 ? 1 : 0;
        const other = n.input(otherIdx);
        const rank = rankOf(n.input(first)!);
        edits.push(() => sliceBroadcastConstant(n, other, r, rank));
        forward(r);
      } else if (PASS_THROUGH.has(op)) {
        if (first !== 0) fail(n, 'pruned channels reach a parameter input');
        forward(r);
      } else if (op === 'GlobalAveragePool' || op === 'GlobalMaxPool' || op === 'GlobalLpPool') {
        forward(r);
      } else if (op === 'ReduceMean' || op === 'ReduceMax' || op === 'ReduceSum') {
        const keep = n.attrInt('keepdims', 1);
        const axes = n.attrInts('axes') ?? shapes.get(n.input(1) ?? '')?.value;
        if (!axes || axes.some((a) => a === r.axis || a === r.axis - rankOf(n.input(0)!))) fail(n, 'it reduces over the pruned axis (or its axes are unknown)');
        forward(keep ? r : { ...r, axis: r.axis - axes.filter((a) => (a < 0 ? a + rankOf(n.input(0)!) : a) < r.axis).length });
      } else if (op === 'Flatten' || op === 'Reshape' || op === 'Squeeze') {
        const inShape = shapes.get(n.input(0)!)?.shape;
        const outShape = out ? shapes.get(out)?.shape : undefined;
        if (!inShape || !outShape || outShape.length !== 2 || r.axis !== 1) fail(n, 'it does not flatten [N, C, ...] into [N, features]');
        const per = inShape.slice(2).reduce<number>((a, d) => a * (typeof d === 'number' ? d : NaN), 1);
        if (!Number.isFinite(per)) fail(n, 'the spatial size it flattens is not known statically');
        if (op === 'Reshape') {
          const target = shapes.get(n.input(1)!)?.value;
          if (!target || target.length !== 2 || target[1] !== -1) fail(n, 'its target shape is not [N, -1] (an explicit feature count would go stale)');
        }
        const removed = r.removed.flatMap((c) => Array.from({ length: per }, (_, i) => c * per + i));
        forward({ axis: 1, size: r.size * per, removed });
      } else if (op === 'Gemm' || op === 'MatMul') {
        if (first !== 0 || r.axis !== rankOf(n.input(0)!) - 1) fail(n, 'pruned channels do not reach it as its input features');
        const b = underlying(n.input(1));
        if (!b) fail(n, 'its weight is not an initializer');
        const transB = op === 'Gemm' && n.attrInt('transB', 0) === 1;
        edits.push(() => sliceInitializer(b, transB ? 1 : 0, new Set(r.removed)));
        touched.push(n.name);
      } else if (op === 'Concat') {
        const axis = n.attrInt('axis', 0);
        const rank = rankOf(n.input(0)!);
        const ax = axis < 0 ? axis + rank : axis;
        let offset = 0;
        const removed: number[] = [];
        for (const [i, v] of n.inputs.entries()) {
          const rr = inRemovals[i];
          const size = rr ? rr.size : dim(v!, ax, n);
          if (rr) {
            if (rr.axis !== ax) fail(n, 'it concatenates along another axis than the pruned one');
            removed.push(...rr.removed.map((c) => c + offset));
          }
          offset += size;
        }
        forward({ axis: ax, size: offset, removed });
      } else {
        fail(n, 'pruned channels reach it and it has no shrink rule');
      }
    }
    return { edits, removal, touched };
  };
  // a conv whose channels reach an op without a shrink rule (e.g. the RobustBlock's Fourier-domain
  // orthogonal conv after its reduce conv) stays masked; the others are removed
  const shrinkable: Conv[] = [];
  const keptMasked: { node: string; reason: string }[] = [];
  for (const c of record.convs) {
    try {
      plan([c]);
      shrinkable.push(c);
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      keptMasked.push({ node: c.node, reason: e.message.replace(/; the masked model is still valid.*$/, '') });
    }
  }
  // a mask shared with a conv that stays masked (a BatchNormalization after a Concat of both) must
  // stay too, and so must every conv that shares it: their parameters cannot be sliced alone
  for (let changed = true; changed; ) {
    changed = false;
    const keptMasks = new Set(record.convs.filter((c) => keptMasked.some((k) => k.node === c.node)).flatMap((c) => c.masks ?? []));
    for (const c of [...shrinkable]) {
      const shared = (c.masks ?? []).find((m) => keptMasks.has(m));
      if (shared === undefined) continue;
      shrinkable.splice(shrinkable.indexOf(c), 1);
      keptMasked.push({ node: c.node, reason: `it shares the mask '${shared}' with a conv that stays masked` });
      changed = true;
    }
  }
  if (shrinkable.length === 0 && record.convs.length > 0) throw new UserError('shrink', `no pruned conv can be removed physically: ${keptMasked[0]!.reason}`);
  const { edits, removal, touched } = plan(shrinkable);
  // pass 2: apply
  for (const e of edits) e();
  for (const [v, r] of removal) updateDeclaredShape(g, v, r);
  // drop the shrunk convs' masks: Mul(param, mask) -> param
  const dropped = new Set(shrinkable.flatMap((c) => c.masks ?? []));
  for (const n of [...g.nodes]) {
    if (n.opType === 'Mul' && dropped.has(n.input(1)?.name ?? '') && n.input(0)?.initializer) {
      const param = n.input(0)!;
      const mask = n.input(1)!;
      g.replaceAllUses(n.output(0)!, param);
      g.removeNode(n);
      if (mask.uses().length === 0) g.forget(mask);
    }
  }
  record.shrunk = true;
  for (const c of shrinkable) c.masks = [];
  record.keptMasked = keptMasked;
  model.setMetadata(PRUNE_METADATA_KEY, JSON.stringify(record));
  return { convs: shrinkable.length, keptMasked, parametersBefore, parametersAfter: countParams(), touched };
}

/**
 * Structured filter pruning with masks (the method's second step, ../shared/docs/METHOD.md):
 * per conv, the round(ratio x filters) output filters with the smallest l2 (or l1) norm are
 * removed by masking the conv's weight and bias and the gamma/beta of a BatchNormalization on its
 * output, so each pruned channel is exactly zero after its normalisation and activation and nothing
 * of it reaches the consumers. Convs whose channels cannot be zeroed that way (residual joins, ops
 * with f(0) != 0, graph outputs, grouped consumers) are left out and reported with the reason.
 * The result is recorded in the `iqa-surgeon.prune` metadata.
 */
import { UserError } from '../../errors.js';
import type { Model } from '../../ir/model.js';
import type { Node } from '../../ir/node.js';
import { DataType } from '../../onnx/data-types.js';
import { tensorDims, tensorTypedData } from '../../onnx/tensor-data.js';
import { readBlockEntries } from '../block-metadata.js';
import { inferShapesStatic } from '../../analysis/shapes/infer.js';
import type { Value } from '../../ir/value.js';
import { isDepthwise, traceConvOutput, type Follower } from './channel-trace.js';
import { filterNorms, prunedCount, smallest, type NormCriterion } from './criteria.js';
import { maskParameter, type MaskedParameter } from './masks.js';

export const PRUNE_METADATA_KEY = 'iqa-surgeon.prune';

export type PruneScope = 'all' | 'backbone' | 'block';

export interface PruneOptions {
  criterion: NormCriterion;
  /** Fraction of each conv's filters to prune, in [0, 0.9]. */
  ratio: number;
  /** Round the kept filters of each conv to a multiple of this (default 1: exactly round(ratio x filters) pruned). */
  align?: number;
  scope?: PruneScope;
}

export interface PrunedConv {
  node: string;
  weight: string;
  filters: number;
  pruned: number[];
  /** BatchNormalizations on the conv's output whose gamma/beta were masked too. */
  batchNorms: string[];
  /** Depthwise convs reading the channels, whose weight and bias were masked too (they follow this conv). */
  depthwise: string[];
  masks: MaskedParameter[];
}

export interface PruneReport {
  criterion: NormCriterion | 'pls';
  ratio: number;
  scope: PruneScope;
  pruned: PrunedConv[];
  leftOut: { node: string; reason: string }[];
  /** Filters pruned over filters in the pruned convs, and over every conv in scope. */
  filtersPruned: number;
  filtersInScope: number;
}

export function checkPruneOptions(o: PruneOptions): void {
  if (o.criterion !== 'l1' && o.criterion !== 'l2') throw new UserError('usage', `--criterion must be l1, l2 or pls (got '${String(o.criterion)}')`);
  if (!(o.ratio >= 0 && o.ratio <= 0.9)) throw new UserError('usage', `--ratio must be a number in [0, 0.9] (got ${o.ratio})`);
  if (o.align !== undefined && !(Number.isInteger(o.align) && o.align >= 1 && o.align <= 256)) throw new UserError('usage', `--align must be an integer in [1, 256] (got ${o.align})`);
  if (o.scope !== undefined && !['all', 'backbone', 'block'].includes(o.scope)) throw new UserError('usage', `--scope must be all, backbone or block (got '${o.scope}')`);
}

/** Block parameters recorded by `splice` (the RobustBlock's reduce conv is a block conv). */
function blockParameterNames(model: Model): Set<string> {
  return new Set((readBlockEntries(model) ?? []).flatMap((e) => e.parameters ?? []));
}

function convWeight(node: Node): { name: string; dims: number[]; data: Float32Array } | undefined {
  const v = node.input(1);
  const t = v?.initializer;
  if (!v || !t || t.data_type !== DataType.FLOAT) return undefined;
  return { name: v.name, dims: tensorDims(t), data: tensorTypedData(t) as Float32Array };
}

/** A conv whose filters can be pruned by masking, with its weight. */
export interface PruneCandidate {
  node: Node;
  weight: { name: string; dims: number[]; data: Float32Array };
  batchNorms: Follower[];
  depthwise: Follower[];
}

export interface PrunePlan {
  scope: PruneScope;
  candidates: PruneCandidate[];
  leftOut: { node: string; reason: string }[];
  filtersInScope: number;
}

/** The convs in scope that can be pruned by masking, and those left out with the reason. */
export function planPrune(model: Model, scope: PruneScope = 'all'): PrunePlan {
  if (model.metadata().has(PRUNE_METADATA_KEY)) throw new UserError('prune', 'the model is already pruned (metadata iqa-surgeon.prune); prune the original model again instead');
  const g = model.graph;
  const block = blockParameterNames(model);
  const plan: PrunePlan = { scope, candidates: [], leftOut: [], filtersInScope: 0 };
  // channel counts (axis 1) for Concat offsets, inferred once when first asked
  let shapes: ReturnType<typeof inferShapesStatic> | undefined;
  const channelsOf = (v: Value): number | undefined => {
    try {
      shapes ??= inferShapesStatic(model);
    } catch {
      return undefined;
    }
    const d = shapes.get(v)?.shape?.[1];
    return typeof d === 'number' ? d : undefined;
  };
  for (const node of g.nodes.filter((n) => n.opType === 'Conv' && n.domain === '')) {
    const w = convWeight(node);
    const label = node.name || node.outputs[0]?.name || 'Conv';
    if (!w) {
      plan.leftOut.push({ node: label, reason: 'its weight is not a float32 initializer' });
      continue;
    }
    const inBlock = block.has(w.name);
    if ((scope === 'backbone' && inBlock) || (scope === 'block' && !inBlock)) continue;
    plan.filtersInScope += w.dims[0]!;
    if (isDepthwise(node)) {
      plan.leftOut.push({ node: label, reason: `depthwise conv (group ${node.attrInt('group', 1)}): not pruned on its own; its channels follow the conv that feeds it (masked and removed with that conv's)` });
      continue;
    }
    if (node.attrInt('group', 1) !== 1) {
      plan.leftOut.push({ node: label, reason: `grouped conv (group ${node.attrInt('group', 1)}, not depthwise with one filter per channel): its filters are not independent of its input channels (only whole groups could be removed)` });
      continue;
    }
    if (w.dims[0]! < 2) continue;
    // the RobustBlock's reduce conv feeds the orthogonal conv's DFT (MatMuls), which is linear in
    // its input: a zeroed channel contributes nothing (it can be masked, not removed: shrink keeps it)
    if (inBlock && (node.output(0)?.uses() ?? []).every((u) => u.node.opType === 'MatMul') && (node.output(0)?.uses().length ?? 0) > 0) {
      plan.candidates.push({ node, weight: w, batchNorms: [], depthwise: [] });
      continue;
    }
    const trace = traceConvOutput(node, channelsOf);
    if (!trace.ok) plan.leftOut.push({ node: label, reason: trace.reason });
    else plan.candidates.push({ node, weight: w, batchNorms: trace.batchNorms, depthwise: trace.depthwise });
  }
  return plan;
}

/**
 * Mask the chosen filters (per conv node name) of a plan's candidates and record the pruning in
 * the model's metadata. `criterion` and `ratio` are recorded as given.
 */
export function applyPrune(model: Model, plan: PrunePlan, chosen: ReadonlyMap<string, readonly number[]>, record: { criterion: NormCriterion | 'pls'; ratio: number; extra?: Record<string, unknown> }): PruneReport {
  const g = model.graph;
  const report: PruneReport = { criterion: record.criterion, ratio: record.ratio, scope: plan.scope, pruned: [], leftOut: plan.leftOut, filtersPruned: 0, filtersInScope: plan.filtersInScope };
  // every masked parameter (node, input) with the union of the channels masked in it: a
  // BatchNormalization after a Concat is masked for each conv that feeds the Concat, at its offset
  const wanted = new Map<string, { node: Node; index: number; channels: Set<number>; convs: string[] }>();
  const want = (node: Node, index: number, channels: number[], conv: string): string => {
    const key = `${node.name}\u0000${index}`;
    const e = wanted.get(key) ?? { node, index, channels: new Set<number>(), convs: [] };
    wanted.set(key, e);
    for (const c of channels) e.channels.add(c);
    if (!e.convs.includes(conv)) e.convs.push(conv);
    return key;
  };
  const perConv: { c: PruneCandidate; filters: number; pruned: number[]; keys: string[] }[] = [];
  for (const c of plan.candidates) {
    const pruned = [...(chosen.get(c.node.name) ?? [])].sort((a, b) => a - b);
    if (pruned.length === 0) continue;
    const filters = c.weight.dims[0]!;
    if (pruned.length >= filters || pruned.some((i) => !Number.isInteger(i) || i < 0 || i >= filters)) throw new Error(`internal: bad pruning choice for '${c.node.name}'`);
    const keys = [want(c.node, 1, pruned, c.node.name)];
    if (c.node.input(2)) keys.push(want(c.node, 2, pruned, c.node.name));
    for (const f of [...c.depthwise, ...c.batchNorms]) {
      const at = pruned.map((p) => p + f.offset);
      keys.push(want(f.node, 1, at, c.node.name));
      if (f.node.opType === 'BatchNormalization' || f.node.input(2)) keys.push(want(f.node, 2, at, c.node.name));
    }
    perConv.push({ c, filters, pruned, keys });
  }
  const masked = new Map<string, MaskedParameter>();
  for (const [key, e] of wanted) {
    const rows = e.node.input(e.index)?.initializer;
    const channels = rows ? tensorDims(rows)[0]! : 0;
    masked.set(key, maskParameter(g, e.node, e.index, channels, [...e.channels].sort((a, b) => a - b)));
  }
  for (const { c, filters, pruned, keys } of perConv) {
    report.pruned.push({ node: c.node.name, weight: c.weight.name, filters, pruned, batchNorms: c.batchNorms.map((b) => b.node.name), depthwise: c.depthwise.map((d) => d.node.name), masks: keys.map((k) => masked.get(k)!) });
    report.filtersPruned += pruned.length;
  }
  model.setMetadata(
    PRUNE_METADATA_KEY,
    JSON.stringify({ criterion: record.criterion, ratio: record.ratio, scope: plan.scope, ...(record.extra ?? {}), convs: report.pruned.map((c) => ({ node: c.node, weight: c.weight, filters: c.filters, pruned: c.pruned, ...(c.depthwise.length > 0 ? { depthwise: c.depthwise } : {}), masks: c.masks.map((m) => m.mask) })), leftOut: report.leftOut }),
  );
  return report;
}

/** l1/l2 pruning: per conv, round(ratio x filters) smallest-norm filters (at least one kept). */
export function pruneModel(model: Model, o: PruneOptions): PruneReport {
  checkPruneOptions(o);
  const plan = planPrune(model, o.scope ?? 'all');
  const chosen = new Map<string, number[]>();
  for (const c of plan.candidates) {
    const filters = c.weight.dims[0]!;
    const count = prunedCount(filters, o.ratio, o.align ?? 1);
    if (count > 0) chosen.set(c.node.name, smallest(filterNorms(c.weight.data, filters, o.criterion), count));
  }
  return applyPrune(model, plan, chosen, { criterion: o.criterion, ratio: o.ratio, ...(o.align && o.align > 1 ? { extra: { align: o.align } } : {}) });
}

/** Names of the mask initializers recorded in a pruned model (not parameters: never trained). */
export function pruneMaskNames(model: Model): Set<string> {
  const raw = model.metadata().get(PRUNE_METADATA_KEY);
  if (raw === undefined) return new Set();
  try {
    const v = JSON.parse(raw) as { convs?: { masks?: string[] }[] };
    return new Set((v.convs ?? []).flatMap((c) => c.masks ?? []));
  } catch {
    throw new UserError('bad-metadata', `metadata '${PRUNE_METADATA_KEY}' is not valid JSON`);
  }
}

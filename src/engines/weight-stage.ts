/**
 * The weight stage: the nodes of a model that compute from fed parameters only (no graph input
 * reaches them), split out so an engine computes them once per parameter version instead of in
 * every call. The RobustBlock's parametric Cayley is such a stage: Q(f) = (I - A)(I + A)^-1 per
 * frequency from W and alpha, several TFLOP at the paper's position, and the same for every
 * image of a step. A model without one (a plain CNN whose convs read their weights directly) has
 * no stage and is run as it is.
 *
 * The split gives two models, neither saved, both derived from a copy:
 * - `weight`: the stage and the constant nodes it reads (copied) -> the boundary values (graph
 *   outputs): the stage's values that other nodes read.
 * - `data`: the model less the stage, the boundary values as graph inputs with their static dims.
 * Parameters stay initializers in both; the engine makes the fed ones graph inputs
 * (`sessionModel`), as for a model without a stage.
 *
 * The composition is the same function: `data(x, weight(p))` runs the same nodes on the same
 * values. Gradients compose too: the data model's gradient with respect to the boundary, fed as
 * the weight model's cotangents, gives the parameters' gradients through the stage, and those can
 * be summed over calls before the one backward pass through the stage.
 *
 * Metadata follows the nodes: inverse regions stay with the model that holds their values, and
 * each checkpoint segment is restricted to each side (in the weight model, its outputs become the
 * boundary values the segment computed), so the Cayley's frequency chunks are still recomputed
 * one at a time in the stage's backward pass.
 */
import { inferShapesStatic } from '../analysis/shapes/infer.js';
import { readSegments } from '../autodiff/checkpoints.js';
import { writeCheckpoints, type CheckpointSegment } from '../ir/checkpoints.js';
import { pruneInverseRegions } from '../ir/inverse-regions.js';
import { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import { cleanup } from '../ir/passes/cleanup.js';
import { DataType } from '../onnx/data-types.js';
import type { ValueInfoProto } from '../onnx/proto-types.js';
import { modelSource } from './session-model.js';

export interface WeightStage {
  /** The stage: parameters -> boundary values (graph outputs); no other graph input. */
  weight: Model;
  /** The model less the stage: the boundary values are graph inputs besides the model's own. */
  data: Model;
  /** The boundary values (float32), with their dims. */
  boundary: { name: string; dims: number[] }[];
  /** Fed parameters the stage reads, and those the data model reads directly. */
  weightParams: string[];
  dataParams: string[];
  /** How many nodes moved into the stage. */
  nodes: number;
}

/**
 * Split `model`'s weight stage with respect to the parameters `fed` (initializer names the engine
 * feeds); undefined when there is none, or when a boundary value is not float32 with static dims
 * (the model then runs whole, as before).
 */
export function splitWeightStage(model: Model, fed: readonly string[]): WeightStage | undefined {
  if (fed.length === 0) return undefined;
  const g = model.graph;
  const fedSet = new Set(fed);
  const shapes = inferShapesStatic(model);
  const elemType = (name: string): number | undefined => shapes.get(name)?.elemType ?? g.lookup(name)?.elemType;
  // value name -> 'param' (fed or computed from fed values only), 'const' (initializers and what
  // they compute), 'data' (reached by a graph input)
  const kind = new Map<string, 'param' | 'const' | 'data'>();
  for (const v of g.initializers()) kind.set(v.name, fedSet.has(v.name) ? 'param' : 'const');
  for (const v of g.inputs) if (!kind.has(v.name)) kind.set(v.name, 'data');
  const order = [...g.nodes];
  const nodeKind = new Map<Node, 'param' | 'const' | 'data'>();
  for (const n of order) {
    let k: 'param' | 'const' | 'data' = 'const';
    if (n.subgraphs.length > 0) k = 'data';
    for (const i of n.inputs) {
      if (!i || k === 'data') continue;
      const ik = kind.get(i.name) ?? 'data';
      if (ik === 'data') k = 'data';
      else if (ik === 'param') k = 'param';
    }
    // non-float outputs (shapes, indices) are cheap: they stay with their readers
    if (k === 'param' && n.outputs.some((o) => o && elemType(o.name) !== DataType.FLOAT)) k = 'data';
    nodeKind.set(n, k);
    for (const o of n.outputs) if (o) kind.set(o.name, k);
  }
  const stage = new Set(order.filter((n) => nodeKind.get(n) === 'param'));
  if (stage.size === 0) return undefined;
  // constant nodes the stage reads go with it (copied: the data model keeps its own)
  const weightNodes = new Set(stage);
  const stack = [...stage];
  while (stack.length) {
    const n = stack.pop()!;
    for (const i of n.inputs) {
      const p = i?.producer();
      if (p && p.graph === g && !weightNodes.has(p)) {
        weightNodes.add(p);
        stack.push(p);
      }
    }
  }
  const graphOutputs = new Set(g.outputs.map((v) => v.name));
  const boundaryNames: string[] = [];
  for (const n of order) {
    if (!stage.has(n)) continue;
    for (const o of n.outputs) {
      if (o && (graphOutputs.has(o.name) || o.uses().some((u) => !stage.has(u.node)))) boundaryNames.push(o.name);
    }
  }
  if (boundaryNames.length === 0) return undefined;
  const boundary: { name: string; dims: number[] }[] = [];
  for (const name of boundaryNames) {
    const dims = shapes.get(name)?.shape;
    if (elemType(name) !== DataType.FLOAT || !dims || !dims.every((d): d is number => typeof d === 'number')) return undefined;
    boundary.push({ name, dims });
  }
  const reads = (nodes: Iterable<Node>): string[] => {
    const out = new Set<string>();
    for (const n of nodes) for (const i of n.inputs) if (i && fedSet.has(i.name)) out.add(i.name);
    return [...out].sort();
  };
  const weightParams = reads(stage);
  const dataParams = reads(order.filter((n) => !stage.has(n)));

  const boundarySet = new Set(boundaryNames);
  const segments = splitSegments(model, readSegments(model).segments, stage, boundarySet);
  const infos: ValueInfoProto[] = boundary.map((b) => ({ name: b.name, type: { tensor_type: { elem_type: DataType.FLOAT, shape: { dim: b.dims.map((d) => ({ dim_value: d })) } } } }));

  // the data model: the nodes outside the stage, the boundary as graph inputs
  const dataCopy = model.clone();
  const dp = dataCopy.proto.graph!;
  dp.node = (dp.node ?? []).filter((_, i) => !stage.has(order[i]!));
  dp.input = [...(dp.input ?? []), ...infos];
  dp.value_info = (dp.value_info ?? []).filter((v) => !boundaryNames.includes(v.name ?? ''));
  const data = new Model(dataCopy.proto, modelSource(model));
  cleanup(data);
  pruneInverseRegions(data);
  writeCheckpoints(data, segments.data);

  // the weight model: the stage and the constants it reads; its outputs are the boundary
  const weightCopy = model.clone();
  const wp = weightCopy.proto.graph!;
  wp.node = (wp.node ?? []).filter((_, i) => weightNodes.has(order[i]!));
  wp.output = infos.map((i) => ({ ...i }));
  const weight = new Model(weightCopy.proto, modelSource(model));
  cleanup(weight, { keepInputs: false });
  pruneInverseRegions(weight);
  writeCheckpoints(weight, segments.weight);
  return { weight, data, boundary, weightParams, dataParams, nodes: stage.size };
}

/**
 * The checkpoint segments of each side. A segment with no node in the stage stays in the data
 * model as it is. One that reaches into the stage goes to the weight model with the same inputs
 * and, as outputs, the boundary values it computes (found walking back from its outputs, no
 * further than its inputs); the data model drops it, as its part there only reads graph inputs.
 */
function splitSegments(model: Model, segments: readonly CheckpointSegment[], stage: ReadonlySet<Node>, boundary: ReadonlySet<string>): { weight: CheckpointSegment[]; data: CheckpointSegment[] } {
  const g = model.graph;
  const out = { weight: [] as CheckpointSegment[], data: [] as CheckpointSegment[] };
  for (const s of segments) {
    const stop = new Set(s.inputs);
    const seen = new Set<string>();
    const found: string[] = [];
    let mixed = false;
    const stack = [...s.outputs];
    while (stack.length) {
      const name = stack.pop()!;
      if (seen.has(name) || stop.has(name)) continue;
      seen.add(name);
      const p = g.lookup(name)?.producer();
      if (!p || p.graph !== g) continue;
      if (stage.has(p)) {
        mixed = true;
        if (boundary.has(name)) found.push(name);
      }
      for (const i of p.inputs) if (i) stack.push(i.name);
    }
    if (!mixed) out.data.push(s);
    else if (found.length) out.weight.push({ inputs: [...s.inputs], outputs: found.sort() });
  }
  return out;
}

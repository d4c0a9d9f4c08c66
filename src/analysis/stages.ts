/**
 * The conv-stage map: a model's convolutions grouped into stages of equal spatial resolution
 * along its trunk, each with the edge where a block can be spliced (the stage's output tensor),
 * its [C,H,W] shape for the given input size, parameters, MACs and residual joins.
 *
 * Method. Take the image input X and the deepest spatial (rank-4) tensor T. The trunk's cut
 * points are the tensors every path from X to T passes through (T's dominator chain in the
 * dataflow DAG): block outputs in a ResNet, every tensor in a VGG. Consecutive cut points with the
 * same H x W form a stage; the last of them is the stage's splice edge. A node on the trunk
 * between two cut points belongs to the stage of the later one (so a ResNet-50 block's first 1x1
 * conv, still at the previous resolution, belongs to its own layer); a node on a side branch
 * (a detection head, a pooled-feature head) belongs to the stage of the cut point it hangs from.
 */
import { UserError } from '../errors.js';
import type { Graph } from '../ir/graph.js';
import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import { nodeMacs, nodeParams } from './stats.js';
import { inferShapes } from './shapes/infer.js';
import type { Dim, ShapeInfo } from './shapes/types.js';

export interface StageInfo {
  index: number;
  /** Readable name: the PyTorch module of its convs (`layer3`), `stem`, `block<k>`, or `stage<k>`. */
  name: string;
  /** The tensor at the stage's output: where a block is spliced "after this stage". */
  edge: string;
  /** [C,H,W] at the edge for the given input size. */
  shape: Dim[];
  convs: string[];
  params: number;
  macs: number;
  /** Add/Sum nodes joining two trunk paths (residual connections) inside the stage. */
  residualJoins: string[];
  /** The first tensor of the stage's trunk (the previous stage's edge, or the model input). */
  inputEdge: string;
}

export interface StageMap {
  schema: 'iqa-surgeon/stages@1';
  input: string;
  inputShape: Dim[];
  stages: StageInfo[];
}

export interface StageOptions {
  inputShapes?: Record<string, Dim[]>;
  /** Fall back to ONNX Runtime for shapes no static rule gives (default true). */
  probe?: boolean;
}

function spatial(s: ShapeInfo | undefined): [Dim, Dim] | undefined {
  if (!s?.shape || s.shape.length !== 4) return undefined;
  return [s.shape[2]!, s.shape[3]!];
}

/** Module path of a node from its PyTorch-style name (`/layer2/layer2.0/conv1/Conv`) or its weight name. */
function modulePath(node: Node): string[] {
  if (node.name.startsWith('/')) {
    const parts = node.name.split('/').filter(Boolean);
    return parts.slice(0, -1);
  }
  const w = node.input(1);
  if (w?.initializer && /\.(weight|bias)$/.test(w.name) && !w.name.startsWith('onnx::')) {
    const name = w.name.replace(/\.(weight|bias)$/, '');
    const parts = name.split('.');
    // "layer2.0.conv1" -> ["layer2", "layer2.0", "layer2.0.conv1"]
    return parts.map((_, i) => parts.slice(0, i + 1).join('.'));
  }
  return [];
}

function imageInput(graph: Graph, shapes: Map<Value, ShapeInfo | undefined>): Value {
  const candidates = graph.inputs.filter((v) => !v.isInitializer && shapes.get(v)?.shape?.length === 4);
  if (candidates.length === 0) throw new UserError('no-image-input', 'the model has no rank-4 (N,C,H,W) input to map conv stages from');
  return candidates[0]!;
}

export async function computeStages(model: Model, opts: StageOptions = {}): Promise<StageMap> {
  const graph = model.graph;
  const shapeMap = await inferShapes(model, { ...(opts.inputShapes ? { inputShapes: opts.inputShapes } : {}), probe: opts.probe ?? true });
  const shapes = new Map<Value, ShapeInfo | undefined>();
  for (const v of graph.values()) shapes.set(v, shapeMap.get(v));
  const X = imageInput(graph, shapes);

  // Values reachable from X, in topological order of their producers.
  const order: Value[] = [X];
  const reach = new Set<Value>([X]);
  for (const n of graph.nodes) {
    if (!n.inputs.some((v) => v && reach.has(v))) continue;
    for (const o of n.outputs) {
      if (o) {
        reach.add(o);
        order.push(o);
      }
    }
  }
  const pos = new Map<Value, number>(order.map((v, i) => [v, i]));
  const preds = (v: Value): Value[] => {
    const p = v.producer();
    if (!p) return [];
    const out: Value[] = [];
    for (const i of p.inputs) if (i && reach.has(i)) out.push(i);
    return out;
  };

  // Immediate dominators (Cooper-Harvey-Kennedy on a DAG in topological order).
  const idom = new Map<Value, Value>();
  idom.set(X, X);
  const intersect = (a: Value, b: Value): Value => {
    while (a !== b) {
      while (pos.get(a)! > pos.get(b)!) a = idom.get(a)!;
      while (pos.get(b)! > pos.get(a)!) b = idom.get(b)!;
    }
    return a;
  };
  for (const v of order) {
    if (v === X) continue;
    let d: Value | undefined;
    for (const p of preds(v)) {
      if (!idom.has(p)) continue;
      d = d === undefined ? p : intersect(d, p);
    }
    if (d) idom.set(v, d);
  }

  // T: the deepest spatial tensor (longest path from X).
  const depth = new Map<Value, number>([[X, 0]]);
  let T: Value = X;
  for (const v of order) {
    if (v === X) continue;
    const d = Math.max(0, ...preds(v).map((p) => depth.get(p) ?? 0)) + 1;
    depth.set(v, d);
    if (spatial(shapes.get(v)) && d >= (depth.get(T) ?? 0)) T = v;
  }

  // Cut points: T's dominator chain, from X to T.
  const cuts: Value[] = [];
  for (let v: Value = T; ; v = idom.get(v)!) {
    cuts.push(v);
    if (v === X || !idom.has(v)) break;
  }
  cuts.reverse();
  const cutIndex = new Map<Value, number>(cuts.map((v, i) => [v, i]));

  // Values that reach T (the trunk, with the inner paths of residual blocks).
  const toT = new Set<Value>([T]);
  for (let i = order.length - 1; i >= 0; i--) {
    const v = order[i]!;
    if (!toT.has(v)) continue;
    for (const p of preds(v)) toT.add(p);
  }

  // Group cut points into stages by resolution.
  const groupOfCut: number[] = [];
  const groups: { cuts: Value[]; res: string }[] = [];
  for (const c of cuts) {
    const sp = spatial(shapes.get(c));
    const res = sp ? `${sp[0]}x${sp[1]}` : '?';
    const last = groups[groups.length - 1];
    if (last && last.res === res) last.cuts.push(c);
    else groups.push({ cuts: [c], res });
    groupOfCut.push(groups.length - 1);
  }

  const cutOf = (v: Value): number => {
    let u: Value = v;
    while (!cutIndex.has(u)) {
      const d = idom.get(u);
      if (!d || d === u) return 0;
      u = d;
    }
    const i = cutIndex.get(u)!;
    if (u !== v && toT.has(v) && i + 1 < cuts.length) return i + 1;
    return i;
  };

  const members: Node[][] = groups.map(() => []);
  for (const n of graph.nodes) {
    const out = n.outputs.find((o) => o && reach.has(o));
    if (!out) continue;
    members[groupOfCut[cutOf(out)]!]!.push(n);
  }

  const raw = groups
    .map((g, gi) => ({ g, nodes: members[gi]!, gi }))
    .filter((s) => s.nodes.some((n) => n.opType === 'Conv' || n.opType === 'ConvTranspose'));

  const stages: StageInfo[] = raw.map((s, k) => {
    const edge = s.g.cuts[s.g.cuts.length - 1]!;
    const shape = shapes.get(edge)?.shape ?? [];
    const prevGroup = groups[s.gi - 1];
    const inputEdge = prevGroup ? prevGroup.cuts[prevGroup.cuts.length - 1]! : X;
    const convs = s.nodes.filter((n) => n.opType === 'Conv' || n.opType === 'ConvTranspose');
    const residualJoins = s.nodes
      .filter((n) => (n.opType === 'Add' || n.opType === 'Sum') && n.inputs.filter((v) => v && toT.has(v)).length >= 2)
      .map((n) => n.label);
    return {
      index: k,
      name: '',
      edge: edge.name,
      shape: shape.slice(1),
      convs: convs.map((n) => n.label),
      params: s.nodes.reduce((a, n) => a + nodeParams(n), 0),
      macs: s.nodes.reduce((a, n) => a + nodeMacs(n, shapeMap), 0),
      residualJoins,
      inputEdge: inputEdge.name,
      _convNodes: convs,
    } as StageInfo & { _convNodes: Node[] };
  });
  nameStages(stages as (StageInfo & { _convNodes: Node[] })[]);
  for (const s of stages) delete (s as Partial<StageInfo & { _convNodes: Node[] }>)._convNodes;
  return { schema: 'iqa-surgeon/stages@1', input: X.name, inputShape: shapes.get(X)?.shape ?? [], stages };
}

function nameStages(stages: (StageInfo & { _convNodes: Node[] })[]): void {
  const top = stages.map((s) => {
    const counts = new Map<string, number>();
    for (const n of s._convNodes) {
      const m = modulePath(n)[0];
      if (m) counts.set(m, (counts.get(m) ?? 0) + 1);
    }
    return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
  });
  const unique = top.every((t, i) => t !== undefined && top.indexOf(t) === i);
  const blockStyle = !unique && top.every((t) => t !== undefined);
  stages.forEach((s, i) => {
    if (unique) s.name = top[i]!;
    else if (blockStyle) s.name = `block${i + 1}`;
    else s.name = `stage${i}`;
  });
  // ResNet-style: a single-conv first stage before residual stages is the stem
  if (stages.length > 1 && stages[0]!.residualJoins.length === 0 && stages[0]!.convs.length === 1 && stages.slice(1).some((s) => s.residualJoins.length > 0)) {
    stages[0]!.name = 'stem';
  }
}

/** Find a stage by index or name; a clear error lists the choices. */
export function findStage(map: StageMap, key: string): StageInfo {
  const s = /^\d+$/.test(key) ? map.stages[Number(key)] : map.stages.find((x) => x.name === key);
  if (!s) {
    throw new UserError('no-such-stage', `no stage '${key}'; stages: ${map.stages.map((x) => `${x.index}:${x.name}`).join(', ')}`);
  }
  return s;
}

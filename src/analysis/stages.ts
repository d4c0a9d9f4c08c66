/**
 * The conv-stage map: a model's convolutions grouped into stages of equal spatial resolution
 * along each of its branches, each with the edge where a block can be spliced (the stage's output
 * tensor), its [C,H,W] shape for the given input size, parameters, MACs and residual joins; and
 * the join points where branches (or features of different stages) meet.
 *
 * Method. Dataflow from the image input X (shape computations, e.g. Shape -> Gather -> Resize
 * sizes, are not dataflow). A spatial sink is a rank-4 tensor from which no dataflow reaches
 * another rank-4 tensor (the map before a flatten, a pooled [N,C,1,1] head, the last map of a
 * branch before bilinear pooling). Each sink's dominator chain (the tensors every path from X to
 * it passes through) is a candidate trunk: block outputs in a ResNet, every tensor in a VGG. The
 * longest chain is the trunk (so a multi-scale model whose layers also feed a projection and a
 * transformer keeps its residual layers on the trunk); another sink's chain is a branch of its
 * own where, after it leaves the chains already taken, it has convs at two or more resolutions
 * (DBCNN's S-CNN beside VGG-16); shorter divergences are side heads. The cut points of a chain
 * with the same H x W form a stage; the last of them is the stage's splice edge. A node between
 * two cut points of a chain belongs to the stage of the later one (so a ResNet-50 block's first
 * 1x1 conv, still at the previous resolution, belongs to its own layer; an Inception module's
 * parallel towers belong to the module's stage); a node on a side path (a head, a multi-scale
 * tap) belongs to the stage of the deepest cut point it descends from.
 */
import { UserError } from '../errors.js';
import type { Graph } from '../ir/graph.js';
import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import { findJoins } from './stage-joins.js';
import { nodeMacs, nodeParams } from './stats.js';
import { inferShapes } from './shapes/infer.js';
import type { Dim, ShapeInfo } from './shapes/types.js';

/** A conv on a stage's path, as a named splice position (`--before conv3`). */
export interface StageConv {
  /** 1-based position among the stage's path convs, in graph order (`conv3`). */
  index: number;
  /** The conv node's label. */
  node: string;
  /** Its innermost module (from the PyTorch node name), e.g. `features1.28`; '' when unnamed. */
  module: string;
  /** The conv's data input (splice here for "before this conv"). */
  input: string;
  /** True when every path through the stage passes through `input` (not inside one tower). */
  inputIsCut: boolean;
  /** The conv's output tensor. */
  output: string;
  /** [C,H,W] of the output. */
  shape: Dim[];
}

/** A tensor inside a stage every path through the stage passes through: a splice position. */
export interface StageCut {
  edge: string;
  shape: Dim[];
  /** The label of the node producing it. */
  producer: string;
}

export interface StageInfo {
  index: number;
  /** Readable name: the PyTorch module of its convs (`layer3`), `stem`, `block<k>`, or `<branch>.block<k>`. */
  name: string;
  /** The branch the stage belongs to: `main` for a single-branch model, else the branch's module (`features1`) or `branch<k>`. */
  branch: string;
  /** The tensor at the stage's output: where a block is spliced "after this stage". */
  edge: string;
  /** [C,H,W] at the edge for the given input size. */
  shape: Dim[];
  convs: string[];
  params: number;
  macs: number;
  /** Add/Sum nodes joining two trunk paths (residual connections) inside the stage. */
  residualJoins: string[];
  /** The first tensor of the stage's path (the previous stage's edge, the branch point, or the model input). */
  inputEdge: string;
  /** With `allEdges`: the convs on the stage's path, in order (candidate splice positions). */
  pathConvs?: StageConv[];
  /** With `allEdges`: every cut tensor inside the stage, in order (the last one is `edge`). */
  cuts?: StageCut[];
}

/** Where data of different stages (or branches) meet. */
export interface StageJoin {
  /** The join node's label. */
  node: string;
  op: string;
  /** `concat`, `add`, `mul`, `matmul` (bilinear pooling), `resize-to-sibling` (a resize to another stage's size), or the op type. */
  kind: string;
  /** The stages whose outputs meet here (names), in stage order. */
  stages: string[];
  /** The branches involved. */
  branches: string[];
}

export interface StageMap {
  schema: 'iqa-surgeon/stages@1';
  input: string;
  inputShape: Dim[];
  /** The branches, trunk first: name, the tensor it starts from, and its stages' indices. */
  branches: { name: string; from: string; stages: number[] }[];
  stages: StageInfo[];
  joins: StageJoin[];
}

export interface StageOptions {
  inputShapes?: Record<string, Dim[]>;
  /** Fall back to ONNX Runtime for shapes no static rule gives (default true). */
  probe?: boolean;
  /** Add every stage's path convs and cut tensors (`pathConvs`, `cuts`). */
  allEdges?: boolean;
}

function spatial(s: ShapeInfo | undefined): [Dim, Dim] | undefined {
  if (!s?.shape || s.shape.length !== 4) return undefined;
  return [s.shape[2]!, s.shape[3]!];
}

/** Module path of a node from its PyTorch-style name (`/r/layer2/layer2.0/conv1/Conv`) or its weight name. */
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

const isConv = (n: Node): boolean => n.opType === 'Conv' || n.opType === 'ConvTranspose';
/** Ops whose outputs describe a tensor's shape, not its data. */
const SHAPE_OPS = new Set(['Shape', 'Size']);

interface Chain {
  /** The branch's cut points in order; for a branch, only those after it leaves the chains before it. */
  cuts: Value[];
  /** The tensor the chain starts from (X for the trunk, the branch point for a branch). */
  from: Value;
}

interface Group {
  chain: number;
  cuts: Value[];
  res: string;
}

export async function computeStages(model: Model, opts: StageOptions = {}): Promise<StageMap> {
  const graph = model.graph;
  const shapeMap = await inferShapes(model, { ...(opts.inputShapes ? { inputShapes: opts.inputShapes } : {}), probe: opts.probe ?? true });
  const shapes = new Map<Value, ShapeInfo | undefined>();
  for (const v of graph.values()) shapes.set(v, shapeMap.get(v));
  const X = imageInput(graph, shapes);
  const resOf = (v: Value): string | undefined => {
    const sp = spatial(shapes.get(v));
    return sp ? `${sp[0]}x${sp[1]}` : undefined;
  };

  // Values reached by dataflow from X (not through shape computations), in topological order.
  const order: Value[] = [X];
  const reach = new Set<Value>([X]);
  const dataConsumers = new Map<Value, Node[]>();
  for (const n of graph.nodes) {
    if (SHAPE_OPS.has(n.opType)) continue;
    const ins = n.inputs.filter((v): v is Value => !!v && reach.has(v));
    if (ins.length === 0) continue;
    for (const i of ins) {
      const l = dataConsumers.get(i);
      if (l) l.push(n);
      else dataConsumers.set(i, [n]);
    }
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
    if (!p || SHAPE_OPS.has(p.opType)) return [];
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

  // Spatial sinks: rank-4 tensors from which dataflow reaches no other rank-4 tensor.
  const reachesSpatial = new Set<Value>();
  for (let i = order.length - 1; i >= 0; i--) {
    const v = order[i]!;
    for (const n of dataConsumers.get(v) ?? []) {
      if (n.outputs.some((o) => o && (reachesSpatial.has(o) || spatial(shapes.get(o))))) {
        reachesSpatial.add(v);
        break;
      }
    }
  }
  const sinks = order.filter((v) => spatial(shapes.get(v)) && !reachesSpatial.has(v) && idom.has(v));
  if (sinks.length === 0) sinks.push(X);
  // Dominator-tree depth: the length of each value's dominator chain.
  const domDepth = new Map<Value, number>([[X, 0]]);
  for (const v of order) if (v !== X && idom.has(v)) domDepth.set(v, domDepth.get(idom.get(v)!)! + 1);
  sinks.sort((a, b) => domDepth.get(b)! - domDepth.get(a)! || pos.get(b)! - pos.get(a)!);
  /** t's dominators up to (not including) the first value `stop` accepts, in dataflow order; and that value. */
  const chainUpTo = (t: Value, stop: (v: Value) => boolean): { from: Value | undefined; cuts: Value[] } => {
    const c: Value[] = [];
    let v: Value = t;
    while (!stop(v)) {
      c.push(v);
      const d = idom.get(v);
      if (!d || d === v) return { from: undefined, cuts: c.reverse() };
      v = d;
    }
    return { from: v, cuts: c.reverse() };
  };
  const convResolutions = (vs: Value[]): Set<string | undefined> => new Set(vs.filter((v) => v.producer() && isConv(v.producer()!)).map((v) => resOf(v)));

  // A stretch between two trunk cuts whose convs span three or more resolutions is a trunk whose
  // layers all feed a later join (multi-scale taps into a projection): its deepest chain joins the trunk.
  const refine = (chain: Value[], levels: number): Value[] => {
    const out: Value[] = [chain[0]!];
    for (let i = 1; i < chain.length; i++) {
      const u = chain[i - 1]!;
      const c = chain[i]!;
      if (levels > 0) {
        const region: Value[] = [];
        const seen = new Set<Value>([u]);
        const stack = preds(c);
        while (stack.length > 0) {
          const v = stack.pop()!;
          if (seen.has(v)) continue;
          seen.add(v);
          region.push(v);
          stack.push(...preds(v));
        }
        if (convResolutions([...region, c]).size >= 3) {
          let w: Value | undefined;
          for (const v of region) if (spatial(shapes.get(v)) && (!w || domDepth.get(v)! > domDepth.get(w)!)) w = v;
          if (w) out.push(...refine([u, ...chainUpTo(w, (v) => v === u).cuts], levels - 1).slice(1));
        }
      }
      out.push(c);
    }
    return out;
  };

  // The trunk, then branches: chains that leave the taken ones and have convs at >= 2 resolutions.
  const trunk = refine(chainUpTo(sinks[0]!, () => false).cuts, 2);
  const cutSet = new Set<Value>(trunk);
  const chains: Chain[] = [{ cuts: trunk, from: X }];
  for (const t of sinks.slice(1)) {
    const { from, cuts: rest } = chainUpTo(t, (v) => cutSet.has(v));
    if (!from || rest.length === 0 || convResolutions(rest).size < 2) continue;
    for (const v of rest) cutSet.add(v);
    chains.push({ cuts: rest, from });
  }

  // Group each chain's cut points into stages by resolution.
  const groups: Group[] = [];
  const groupOfCut = new Map<Value, number>();
  chains.forEach((ch, ci) => {
    let last: Group | undefined;
    for (const c of ch.cuts) {
      const res = resOf(c) ?? '?';
      if (!last || last.res !== res) {
        last = { chain: ci, cuts: [], res };
        groups.push(last);
      }
      last.cuts.push(c);
      groupOfCut.set(c, groups.length - 1);
    }
  });

  // Path values between consecutive cuts of a chain belong to the later cut's group.
  const regionOf = new Map<Value, number>();
  for (const ch of chains) {
    let prev = ch.from;
    for (const c of ch.cuts) {
      if (c === prev) continue;
      const g = groupOfCut.get(c)!;
      const stack = preds(c);
      while (stack.length > 0) {
        const v = stack.pop()!;
        if (v === prev || cutSet.has(v) || regionOf.has(v)) continue;
        regionOf.set(v, g);
        stack.push(...preds(v));
      }
      prev = c;
    }
  }
  // Side values belong to the group of the deepest cut they descend from.
  const ancestorCut = new Map<Value, Value>();
  for (const v of order) {
    if (cutSet.has(v)) {
      ancestorCut.set(v, v);
      continue;
    }
    let best: Value | undefined;
    for (const p of preds(v)) {
      const a = ancestorCut.get(p);
      if (a && (!best || pos.get(a)! > pos.get(best)!)) best = a;
    }
    if (best) ancestorCut.set(v, best);
  }
  const groupOf = (v: Value): number | undefined => {
    const c = groupOfCut.get(v);
    if (c !== undefined) return c;
    const r = regionOf.get(v);
    if (r !== undefined) return r;
    const a = ancestorCut.get(v);
    return a ? groupOfCut.get(a) : undefined;
  };

  const members: Node[][] = groups.map(() => []);
  const onPath: Set<Node>[] = groups.map(() => new Set());
  for (const n of graph.nodes) {
    const out = n.outputs.find((o) => o && reach.has(o));
    if (!out) continue;
    const g = groupOf(out);
    if (g === undefined) continue;
    members[g]!.push(n);
    if (cutSet.has(out) || regionOf.has(out)) onPath[g]!.add(n);
  }

  // Stages: the groups with convs.
  const kept = groups.map((_, gi) => gi).filter((gi) => members[gi]!.some(isConv));
  const stageOfGroup = new Map<number, number>();
  kept.forEach((gi, k) => stageOfGroup.set(gi, k));
  const inPath = (v: Value): boolean => cutSet.has(v) || regionOf.has(v);
  const stages: (StageInfo & { _path: Node[]; _module?: string })[] = kept.map((gi, k) => {
    const g = groups[gi]!;
    const edge = g.cuts[g.cuts.length - 1]!;
    const prev = groups[gi - 1];
    const inputEdge = prev && prev.chain === g.chain ? prev.cuts[prev.cuts.length - 1]! : chains[g.chain]!.from;
    const nodes = members[gi]!;
    const convs = nodes.filter(isConv);
    const path = convs.filter((n) => onPath[gi]!.has(n));
    const residualJoins = nodes
      .filter((n) => (n.opType === 'Add' || n.opType === 'Sum') && n.inputs.filter((v) => v && inPath(v)).length >= 2)
      .map((n) => n.label);
    const s: StageInfo & { _path: Node[]; _module?: string } = {
      index: k,
      name: '',
      branch: '',
      edge: edge.name,
      shape: (shapes.get(edge)?.shape ?? []).slice(1),
      convs: convs.map((n) => n.label),
      params: nodes.reduce((a, n) => a + nodeParams(n), 0),
      macs: nodes.reduce((a, n) => a + nodeMacs(n, shapeMap), 0),
      residualJoins,
      inputEdge: inputEdge.name,
      _path: path,
    };
    if (opts.allEdges) {
      s.pathConvs = path.flatMap((n, i) => {
        const input = n.inputs[0];
        const output = n.outputs[0];
        if (!input || !output) return [];
        return {
          index: i + 1,
          node: n.label,
          module: modulePath(n).at(-1) ?? '',
          input: input.name,
          inputIsCut: cutSet.has(input) || input === inputEdge,
          output: output.name,
          shape: (shapes.get(output)?.shape ?? []).slice(1),
        };
      });
      s.cuts = g.cuts.filter((c) => c !== X).map((c) => ({ edge: c.name, shape: (shapes.get(c)?.shape ?? []).slice(1), producer: c.producer()?.label ?? '' }));
    }
    return s;
  });

  const branchNames = nameBranches(chains.map((_, ci) => stages.filter((s) => groups[kept[s.index]!]!.chain === ci)));
  stages.forEach((s) => (s.branch = branchNames[groups[kept[s.index]!]!.chain]!));
  nameStages(stages, chains.length > 1);
  // A stage named by its module ends at the last cut that module produces (not at a tap's
  // normalisation that follows it at the same resolution).
  for (const s of stages) {
    if (!s._module) continue;
    const cuts = groups[kept[s.index]!]!.cuts;
    const last = [...cuts].reverse().find((c) => { const p = c.producer(); return p !== undefined && modulePath(p).includes(s._module!); });
    if (last && last.name !== s.edge) {
      s.edge = last.name;
      s.shape = (shapes.get(last)?.shape ?? []).slice(1);
    }
  }

  // A dropped group (no convs) speaks for the nearest kept group of its chain.
  const stageForGroupMemo = new Map<number, number | undefined>();
  const stageForGroup = (gi: number): number | undefined => {
    if (!stageForGroupMemo.has(gi)) stageForGroupMemo.set(gi, stageForGroupOf(gi));
    return stageForGroupMemo.get(gi);
  };
  const stageForGroupOf = (gi: number): number | undefined => {
    const ch = groups[gi]!.chain;
    for (let j = gi; j >= 0; j--) if (groups[j]!.chain === ch && stageOfGroup.has(j)) return stageOfGroup.get(j);
    for (let j = gi + 1; j < groups.length; j++) if (groups[j]!.chain === ch && stageOfGroup.has(j)) return stageOfGroup.get(j);
    return undefined;
  };
  const joins = findJoins(graph, reach, groupOfCut, stageForGroup, stages);

  for (const s of stages) {
    delete (s as Partial<typeof s>)._path;
    delete s._module;
  }
  return {
    schema: 'iqa-surgeon/stages@1',
    input: X.name,
    inputShape: shapes.get(X)?.shape ?? [],
    branches: chains.map((ch, ci) => ({ name: branchNames[ci]!, from: ch.from.name, stages: stages.filter((s) => groups[kept[s.index]!]!.chain === ci).map((s) => s.index) })),
    stages,
    joins,
  };
}

function nameBranches(byChain: (StageInfo & { _path: Node[] })[][]): string[] {
  if (byChain.length === 1) return ['main'];
  const comps = byChain.map((ss) => {
    const paths = ss.flatMap((s) => s._path.map(modulePath));
    return paths;
  });
  return byChain.map((_, ci) => {
    const mine = comps[ci]!;
    if (mine.length === 0) return ci === 0 ? 'trunk' : `branch${ci}`;
    const others = new Set(comps.filter((_, cj) => cj !== ci).flatMap((ps) => ps.flat()));
    const cand = mine[0]!.find((m) => !others.has(m) && mine.every((p) => p.includes(m)));
    return cand ?? (ci === 0 ? 'trunk' : `branch${ci}`);
  });
}

/**
 * A stage is named by the shallowest module its path convs (two or more) all share and no other
 * stage's path convs have (`layer3`, wherever it sits in the node names: `/r/layer3/...`); else
 * `block<k>` (`<branch>.block<k>` in a multi-branch model), k counting within the branch.
 */
function nameStages(stages: (StageInfo & { _path: Node[]; _module?: string })[], multiBranch: boolean): void {
  const paths = stages.map((s) => s._path.map(modulePath));
  const count = new Map<string, number>();
  paths.forEach((ps) => {
    for (const m of new Set(ps.flat())) count.set(m, (count.get(m) ?? 0) + 1);
  });
  const kInBranch = new Map<string, number>();
  const used = new Set<string>();
  stages.forEach((s, i) => {
    const k = (kInBranch.get(s.branch) ?? 0) + 1;
    kInBranch.set(s.branch, k);
    const ps = paths[i]!;
    const own = ps.length >= 2 ? ps[0]!.find((m) => count.get(m) === 1 && ps.every((p) => p.includes(m))) : undefined;
    let name = own && !used.has(own) ? own : multiBranch ? `${s.branch}.block${k}` : `block${k}`;
    if (name === own) s._module = own;
    if (used.has(name)) name = `${name}.${i}`;
    used.add(name);
    s.name = name;
  });
  // ResNet-style: a single-conv first stage before residual stages is the stem
  const trunk = stages.filter((s) => s.branch === stages[0]?.branch);
  if (trunk.length > 1 && trunk[0]!.residualJoins.length === 0 && trunk[0]!.convs.length === 1 && trunk.slice(1).some((s) => s.residualJoins.length > 0) && !used.has('stem')) {
    trunk[0]!.name = 'stem';
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

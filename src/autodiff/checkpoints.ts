/**
 * Gradient checkpointing: the nodes of a checkpoint segment (src/ir/checkpoints.ts) are not read
 * by the backward pass; when the backward reaches the segment, its nodes are emitted again
 * (recomputed from the segment's inputs) and the gradient rules read the recomputed values. The
 * forward's own copies of the segment's internal values then die as soon as the forward is done
 * with them, and each recomputed segment lives only while its backward runs, so a large subgraph
 * split into chunks (the RobustBlock's Cayley, frequency rows by frequency rows) holds one chunk
 * at a time in the backward pass instead of all of them.
 *
 * The recomputed nodes are real nodes of the gradient graph (named recompute/...), emitted when the
 * builder first asks for a view of one of the segment's nodes; the writer maps their values to
 * the forward ones for shapes and types.
 */
import { UserError } from '../errors.js';
import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import type { NodeProto } from '../onnx/proto-types.js';
import { readCheckpoints, type CheckpointSegment } from '../ir/checkpoints.js';
import type { BackwardWriter } from './emitter.js';
import { InverseRegionNode } from './inverse-regions.js';
import type { DiffPath } from './path.js';

interface Segment {
  /** The segment's nodes in graph order. */
  nodes: Node[];
  members: Set<Node>;
  /** Forward node -> its recomputed view, once emitted. */
  views?: Map<Node, Node>;
}

/** The segments recorded in the metadata; malformed metadata is a warning (nothing is recomputed). */
export function readSegments(model: Model): { segments: CheckpointSegment[]; warnings: string[] } {
  try {
    return { segments: readCheckpoints(model), warnings: [] };
  } catch (e) {
    if (e instanceof UserError) return { segments: [], warnings: [`${e.message}; nothing is recomputed`] };
    throw e;
  }
}

/** The nodes `outputs` depend on, no further back than `inputs`, or why the segment cannot be used. */
function segmentNodes(model: Model, spec: CheckpointSegment): Set<Node> | string {
  const g = model.graph;
  const stop = new Set(spec.inputs);
  const members = new Set<Node>();
  const stack: Value[] = [];
  for (const name of spec.outputs) {
    const v = g.lookup(name);
    if (!v || v.graph !== g || !v.producer()) return `its output '${name}' is not a computed value of the main graph`;
    stack.push(v);
  }
  for (const name of spec.inputs) if (!g.lookup(name)) return `its input '${name}' is not a value of the main graph`;
  while (stack.length > 0) {
    const v = stack.pop()!;
    if (stop.has(v.name) || v.initializer || v.isGraphInput) continue;
    const p = v.producer();
    if (!p || members.has(p)) continue;
    if (p.subgraphs.length > 0) return `node '${p.label}' inside it has a subgraph`;
    members.add(p);
    for (const i of p.inputs) if (i) stack.push(i);
  }
  const outs = new Set(spec.outputs);
  for (const n of members) {
    for (const o of n.outputs) {
      if (!o || outs.has(o.name)) continue;
      if (o.isGraphOutput) return `'${o.name}', computed inside it, is a graph output`;
      const outside = o.uses().find((u) => !members.has(u.node));
      if (outside) return `'${o.name}', computed inside it, is read by node '${outside.node.label}' outside it`;
    }
  }
  return members;
}

export class Recomputation {
  private readonly segments: Segment[] = [];
  private readonly owner = new Map<Node, Segment>();
  /** The recomputed nodes (written among the backward nodes, not with the forward ones). */
  readonly copies = new Set<Node>();
  readonly warnings: string[] = [];
  private readonly live: ReadonlySet<string>;

  constructor(
    private readonly model: Model,
    private readonly writer: BackwardWriter,
    path: DiffPath,
    regions: readonly InverseRegionNode[],
    specs: readonly CheckpointSegment[],
  ) {
    this.live = path.live;
    const onPath = new Set(path.nodes);
    const order = new Map(model.graph.nodes.map((n, i) => [n, i]));
    for (const spec of specs) {
      const found = segmentNodes(model, spec);
      const label = `checkpoint segment -> ${spec.outputs.join(', ')}`;
      if (typeof found === 'string') {
        this.warnings.push(`${label} ignored (its values are kept instead): ${found}`);
        continue;
      }
      if ([...found].some((n) => this.owner.has(n))) {
        this.warnings.push(`${label} ignored (its values are kept instead): it overlaps another segment`);
        continue;
      }
      const seg: Segment = { nodes: [...found].sort((a, b) => order.get(a)! - order.get(b)!), members: found };
      // a region wholly inside the segment is recomputed with it; one that straddles its edge cannot be
      const straddles = regions.find((r) => [...r.members].some((m) => found.has(m)) && ![...r.members].every((m) => found.has(m)));
      if (straddles) {
        this.warnings.push(`${label} ignored (its values are kept instead): the inverse region ${straddles.label} crosses its edge`);
        continue;
      }
      if (!seg.nodes.some((n) => onPath.has(n)) && !regions.some((r) => [...r.members].some((m) => found.has(m)))) continue;
      this.segments.push(seg);
      for (const n of found) this.owner.set(n, seg);
      for (const r of regions) if ([...r.members].some((m) => found.has(m))) this.owner.set(r, seg);
    }
  }

  /** How many segments are recomputed. */
  get used(): number {
    return this.segments.length;
  }

  /**
   * The node the gradient rule of `node` should read: its recomputed copy inside a segment
   * (emitted on first use, gated on `gate`, the gradient that reached the segment), else itself.
   */
  view(node: Node, gate: string | null): Node {
    const seg = this.owner.get(node);
    if (!seg) return node;
    seg.views ??= this.recompute(seg, gate);
    return seg.views.get(node) ?? node;
  }

  /**
   * Recomputed nodes whose outputs nothing reads (a recomputed output only the forward needed)
   * are dropped from `nodes`.
   */
  prune(nodes: NodeProto[], outputs: ReadonlySet<string>): void {
    const copies = new Set([...this.copies].map((n) => n.name));
    for (;;) {
      const read = new Set<string>(outputs);
      for (const n of nodes) for (const x of n.input ?? []) if (x) read.add(x);
      const dead = nodes.filter((n) => copies.has(n.name ?? '') && !(n.output ?? []).some((o) => o && read.has(o)));
      if (dead.length === 0) return;
      const d = new Set(dead);
      nodes.splice(0, nodes.length, ...nodes.filter((n) => !d.has(n)));
    }
  }

  /**
   * The segment's nodes again, reading the segment's differentiated inputs through
   * Where(IsNaN(max(gate)), x, x) = x: a data dependency on the gradient that reached the segment,
   * so a runtime cannot run the recomputation before the backward gets there (all segments at
   * once), and its common-subexpression elimination (ONNX Runtime's, at every optimisation
   * level) cannot merge the copies back into the forward nodes they repeat. Inputs that are not
   * differentiated (constants) are read as they are, so a constant segment folds once.
   */
  private recompute(seg: Segment, gate: string | null): Map<Node, Node> {
    const g = this.model.graph;
    const values = new Map<Value, Value>();
    const views = new Map<Node, Node>();
    const w = this.writer;
    let cond: string | undefined;
    const gated = (v: Value): Value => {
      if (!gate || !this.live.has(v.name)) return v;
      cond ??= w.emit('IsNaN', [w.emit('ReduceMax', [gate], { keepdims: 0 }, { base: 'recompute/gate' })[0]!], {}, { base: 'recompute/gate' })[0]!;
      w.emit('Where', [cond, v.name, v.name], {}, { base: `recompute/gate/${v.name}` });
      // the gated value as a value of the graph (the recomputed nodes read it), named by the graph
      const gv = g.addValue(`recompute/gate/${v.name}`);
      w.nodes[w.nodes.length - 1]!.output = [gv.name];
      w.alias(gv.name, v.name);
      values.set(v, gv);
      return gv;
    };
    const mapped = (v: Value | null): Value | null => (v ? (values.get(v) ?? (v.producer() && seg.members.has(v.producer()!) ? v : gated(v))) : null);
    for (const n of seg.nodes) {
      const copy = g.addNode({
        opType: n.opType,
        ...(n.domain ? { domain: n.domain } : {}),
        inputs: n.inputs.map(mapped),
        name: `recompute/${n.label}`,
        outputs: n.outputs.map((o, i) => (o ? `recompute/${o.name}` : `recompute/${n.label}_unused${i}`)),
        attributes: [...(n.proto.attribute ?? [])],
      });
      n.outputs.forEach((o, i) => {
        const c = copy.outputs[i];
        if (!o || !c) return;
        values.set(o, c);
        this.writer.alias(c.name, o.name);
      });
      views.set(n, copy);
      this.copies.add(copy);
      // in the node list right where the backward reaches the segment, so that a runtime (or the
      // memory estimate) following the list holds one recomputed segment at a time
      this.writer.nodes.push({ ...copy.proto, input: copy.inputs.map((v) => v?.name ?? ''), output: copy.outputs.map((v) => v?.name ?? '') });
    }
    for (const [node, s] of this.owner) {
      if (s !== seg || !(node instanceof InverseRegionNode)) continue;
      const b = node.inputs.map((v) => mapped(v)!);
      const c = node.outputs.map((v) => mapped(v)!);
      views.set(node, new InverseRegionNode(g, b, c, new Set([...node.members].map((m) => views.get(m)!))));
    }
    return views;
  }
}

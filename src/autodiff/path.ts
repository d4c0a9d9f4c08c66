/**
 * The differentiated path: the nodes through which a differentiated value (a graph input or a
 * chosen initializer) reaches the loss. Only float32 values carry gradients: a node's output is
 * on the path when it is float32 and some differentiable input slot reads a value on the path;
 * integer tensors and shape computations never are. Values read inside subgraphs (If/Loop bodies)
 * count as reads by the node that holds the subgraph.
 */
import { UserError } from '../errors.js';
import type { Graph } from '../ir/graph.js';
import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import { opDefinition } from '../ops/registry.js';
import type { ShapeMap } from '../analysis/shapes/shape-map.js';

export const FLOAT32 = 1;
const OTHER_FLOATS = new Set([10, 11, 16]);

export interface DiffPath {
  /** Nodes on the path, in topological order. */
  nodes: Node[];
  /** Names of values on the path (differentiated values included). */
  live: Set<string>;
}

/** Element type of a value: declared or inferred; undefined when unknown. */
export function elemTypeOf(model: Model, shapes: ShapeMap, name: string): number | undefined {
  return shapes.get(name)?.elemType ?? model.graph.lookup(name)?.elemType;
}

/** Values of `graph` a node reads: its inputs and the outer values its subgraphs read. */
export function nodeReads(node: Node, graph: Graph): { name: string; slot: number | undefined }[] {
  const out: { name: string; slot: number | undefined }[] = [];
  node.inputs.forEach((v, i) => {
    if (v) out.push({ name: v.name, slot: i });
  });
  const visit = (g: Graph): void => {
    for (const n of g.nodes) {
      for (const v of n.inputs) if (v && v.graph === graph) out.push({ name: v.name, slot: undefined });
      n.subgraphs.forEach(visit);
    }
    for (const v of g.outputs) if (v.graph === graph) out.push({ name: v.name, slot: undefined });
  };
  node.subgraphs.forEach(visit);
  return out;
}

/** The nodes on a path from `wrt` to `lossOutputs`, and the values on it. */
export function differentiablePath(model: Model, shapes: ShapeMap, wrt: readonly string[], lossOutputs: readonly string[]): DiffPath {
  const graph = model.graph;
  const tainted = new Set<string>(wrt);
  const taintedBy = new Map<Node, boolean>();
  for (const n of graph.nodes) {
    const rule = opDefinition(n.opType, n.domain).gradient;
    const nd = new Set(rule?.nonDifferentiable ?? []);
    const hit = nodeReads(n, graph).some((r) => tainted.has(r.name) && (r.slot === undefined || !nd.has(r.slot)));
    taintedBy.set(n, hit);
    if (!hit) continue;
    for (const o of n.outputs) {
      if (!o) continue;
      const t = elemTypeOf(model, shapes, o.name);
      if (t === undefined || t === FLOAT32 || OTHER_FLOATS.has(t)) tainted.add(o.name);
    }
  }
  const needed = new Set<string>(lossOutputs);
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const n = graph.nodes[i]!;
    if (!n.outputs.some((o) => o && needed.has(o.name))) continue;
    for (const r of nodeReads(n, graph)) needed.add(r.name);
  }
  const live = new Set<string>();
  for (const name of tainted) if (needed.has(name)) live.add(name);
  const nodes = graph.nodes.filter((n) => taintedBy.get(n) && n.outputs.some((o) => o && live.has(o.name)));
  return { nodes, live };
}

/** A value that is a graph input or initializer of the main graph and float32; else a UserError. */
export function checkWrt(model: Model, shapes: ShapeMap, inputs: readonly string[], params: readonly string[]): void {
  const g = model.graph;
  const seen = new Set<string>();
  for (const [kind, names] of [['input', inputs], ['parameter', params]] as const) {
    for (const name of names) {
      if (seen.has(name)) throw new UserError('autodiff-request', `'${name}' is asked for twice`);
      seen.add(name);
      const v = g.lookup(name);
      if (!v || v.graph !== g) throw new UserError('no-such-value', `no ${kind} named '${name}' in the main graph`);
      if (kind === 'input' && (!v.isGraphInput || v.isInitializer)) throw new UserError('autodiff-request', `'${name}' is not a graph input (parameters are differentiated as params)`);
      if (kind === 'parameter' && !v.isInitializer) throw new UserError('autodiff-request', `'${name}' is not an initializer`);
      const t = elemTypeOf(model, shapes, name);
      if (t !== FLOAT32) throw new UserError('autodiff-dtype', `${kind} '${name}' is not float32; only float32 values are differentiated`);
    }
  }
}

/** The ONNX type name for messages. */
export function isOtherFloat(t: number | undefined): boolean {
  return t !== undefined && OTHER_FLOATS.has(t);
}

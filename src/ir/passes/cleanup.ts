/**
 * cleanup: remove nodes whose outputs nobody reads (repeatedly, so dead chains go entirely),
 * initializers nothing reads, and, unless `keepInputs`, graph inputs nothing reads. Subgraphs
 * are cleaned too; values a subgraph reads from outer scopes count as read.
 */
import type { Graph } from '../graph.js';
import type { Model } from '../model.js';
import type { Node } from '../node.js';
import type { Value } from '../value.js';
import type { PassResult } from './pass.js';

export interface CleanupOptions {
  /** Keep graph inputs that nothing reads (default true: removing model inputs changes its interface). */
  keepInputs?: boolean;
  /** Keep nodes without outputs that are read (default false). */
  keepDeadNodes?: boolean;
}

/**
 * The nodes no graph output depends on, found in one pass: a node is dead when every output's
 * readers are dead; a node's death is propagated to its producers through a count of live
 * readers per value (linear in the graph, however long a dead chain is).
 */
function deadNodes(graph: Graph): Set<Node> {
  const outputs = new Set(graph.outputs);
  const liveReaders = new Map<Value, number>();
  const dead = new Set<Node>();
  const isDead = (n: Node): boolean => n.outputs.every((o) => !o || (!outputs.has(o) && (liveReaders.get(o) ?? o.uses().length) === 0));
  const stack = graph.nodes.filter(isDead);
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (dead.has(n)) continue;
    dead.add(n);
    for (const v of n.inputs) {
      if (!v) continue;
      liveReaders.set(v, (liveReaders.get(v) ?? v.uses().length) - 1);
      const p = v.producer();
      if (p && p.graph === graph && !dead.has(p) && isDead(p)) stack.push(p);
    }
  }
  return dead;
}

function cleanGraph(graph: Graph, opts: CleanupOptions, changes: string[]): void {
  if (!opts.keepDeadNodes) {
    const dead = deadNodes(graph);
    // reported from the end of the node list, as removing them one by one from the end would
    for (let i = graph.nodes.length - 1; i >= 0; i--) {
      const n = graph.nodes[i]!;
      if (dead.has(n)) changes.push(`removed node '${n.label}' (${n.opType}): no output is read`);
    }
    graph.removeNodes(dead);
  }
  for (const n of graph.nodes) for (const sg of n.subgraphs) cleanGraph(sg, { ...opts, keepInputs: true }, changes);
  for (const v of graph.initializers()) {
    if (v.uses().length === 0 && !graph.outputs.includes(v) && !(opts.keepInputs !== false && graph.inputs.includes(v))) {
      changes.push(`removed initializer '${v.name}': not read`);
      graph.forget(v);
    }
  }
  if (opts.keepInputs === false) {
    for (const v of [...graph.inputs]) {
      if (v.uses().length === 0 && !graph.outputs.includes(v)) {
        changes.push(`removed graph input '${v.name}': not read`);
        graph.forget(v);
      }
    }
  }
}

export function cleanup(model: Model, opts: CleanupOptions = {}): PassResult {
  const changes: string[] = [];
  cleanGraph(model.graph, opts, changes);
  return { model, modified: changes.length > 0, changes };
}

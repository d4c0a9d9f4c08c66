/**
 * cleanup: remove nodes whose outputs nobody reads (repeatedly, so dead chains go entirely),
 * initializers nothing reads, and, unless `keepInputs`, graph inputs nothing reads. Subgraphs
 * are cleaned too; values a subgraph reads from outer scopes count as read.
 */
import type { Graph } from '../graph.js';
import type { Model } from '../model.js';
import type { Node } from '../node.js';
import type { PassResult } from './pass.js';

export interface CleanupOptions {
  /** Keep graph inputs that nothing reads (default true: removing model inputs changes its interface). */
  keepInputs?: boolean;
  /** Keep nodes without outputs that are read (default false). */
  keepDeadNodes?: boolean;
}

function isDead(node: Node, graph: Graph): boolean {
  return node.outputs.every((o) => !o || (o.uses().length === 0 && !graph.outputs.includes(o)));
}

function cleanGraph(graph: Graph, opts: CleanupOptions, changes: string[]): void {
  if (!opts.keepDeadNodes) {
    for (let changed = true; changed; ) {
      changed = false;
      for (let i = graph.nodes.length - 1; i >= 0; i--) {
        const n = graph.nodes[i]!;
        if (!isDead(n, graph)) continue;
        changes.push(`removed node '${n.label}' (${n.opType}): no output is read`);
        graph.removeNode(n);
        changed = true;
      }
    }
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

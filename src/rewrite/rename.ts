/**
 * rename: give tensors (graph inputs, outputs, intermediate values, initializers) and nodes new
 * names, consistently: every reader, graph input/output entry, value_info entry and initializer
 * follows. A name that is both a tensor and a node renames both. Swaps (`a=b,b=a`) work.
 * Only the renamed entries and the nodes that read or write them change bytes.
 */
import { UserError } from '../errors.js';
import type { Graph } from '../ir/graph.js';
import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import type { PassResult } from '../ir/passes/pass.js';
import type { Value } from '../ir/value.js';
import { renameInInverseRegions } from '../ir/inverse-regions.js';

export interface RenameOptions {
  /** old name -> new name. */
  map: Record<string, string> | ReadonlyMap<string, string>;
}

function findValue(graph: Graph, name: string): Value | undefined {
  const direct = graph.lookup(name);
  if (direct) return direct;
  for (const n of graph.allNodes()) {
    for (const sg of n.subgraphs) {
      for (const v of sg.values()) if (v.name === name) return v;
    }
  }
  return undefined;
}

function findNode(graph: Graph, name: string): Node | undefined {
  for (const n of graph.allNodes()) if (n.name === name) return n;
  return undefined;
}

function setNodeName(node: Node, name: string): void {
  const reg = node.graph.names.nodes;
  reg.delete(node.name);
  node.proto.name = name;
  reg.add(name);
}

export function rename(model: Model, opts: RenameOptions): PassResult {
  const g = model.graph;
  const entries = opts.map instanceof Map ? [...opts.map.entries()] : Object.entries(opts.map);
  if (entries.length === 0) throw new UserError('usage', 'rename needs at least one old=new pair');
  const targets: { from: string; to: string; value?: Value; node?: Node }[] = [];
  const olds = new Set<string>();
  const news = new Set<string>();
  for (const [from, to] of entries) {
    if (!from || !to) throw new UserError('usage', `rename '${from}=${to}': both names must be non-empty`);
    if (olds.has(from)) throw new UserError('usage', `rename names '${from}' twice`);
    if (news.has(to)) throw new UserError('usage', `rename gives two things the name '${to}'`);
    olds.add(from);
    news.add(to);
    const value = findValue(g, from);
    const node = findNode(g, from);
    if (!value && !node) throw new UserError('no-such-name', `rename: no tensor or node named '${from}'`);
    const t: { from: string; to: string; value?: Value; node?: Node } = { from, to };
    if (value) t.value = value;
    if (node) t.node = node;
    targets.push(t);
  }
  // names must be free unless they are freed by this same rename
  for (const t of targets) {
    if (t.from === t.to) continue;
    if (t.value && g.names.values.has(t.to) && !olds.has(t.to)) {
      throw new UserError('duplicate-name', `cannot rename tensor '${t.from}' to '${t.to}': a tensor of that name exists`);
    }
    if (t.node && g.names.nodes.has(t.to) && !olds.has(t.to)) {
      throw new UserError('duplicate-name', `cannot rename node '${t.from}' to '${t.to}': a node of that name exists`);
    }
  }
  // two phases so that swaps and chains (a=b, b=c) work
  const changes: string[] = [];
  const staged = targets.filter((t) => t.from !== t.to);
  for (const t of staged) {
    if (t.value) t.value.graph.renameValue(t.value, g.uniqueValueName(`${t.to}__renaming`));
    if (t.node) setNodeName(t.node, g.uniqueNodeName(`${t.to}__renaming`));
  }
  for (const t of staged) {
    if (t.value) {
      const v = t.value;
      v.graph.renameValue(v, t.to);
      const role = v.isGraphInput ? 'graph input' : v.isGraphOutput ? 'graph output' : v.isInitializer ? 'initializer' : 'tensor';
      changes.push(`renamed ${role} '${t.from}' to '${t.to}' (${v.uses().length} reader${v.uses().length === 1 ? '' : 's'})`);
    }
    if (t.node) {
      setNodeName(t.node, t.to);
      changes.push(`renamed node '${t.from}' (${t.node.opType}) to '${t.to}'`);
    }
  }
  // recorded inverse regions follow their values
  const renamedValues = new Map(staged.filter((t) => t.value && t.value.graph === g).map((t) => [t.from, t.to]));
  if (renamedValues.size > 0) renameInInverseRegions(model, (name) => renamedValues.get(name));
  return { model, modified: changes.length > 0, changes };
}

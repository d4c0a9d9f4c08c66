/**
 * Inverse regions: subgraphs that compute C = B^-1 (batched over the last two axes), which the
 * gradient graph treats as one op with the matrix inverse's rule, dB = -C^T dC C^T, instead of
 * differentiating their nodes. The RobustBlock's parametric Cayley conv computes the inverse by a
 * Newton-Schulz iteration: differentiating through it would keep every iterate for the backward
 * pass (gigabytes at the paper's position); with the region, the backward reads only C.
 *
 * `splice` records each region in the model metadata under `iqa-surgeon.inverse-regions` as JSON
 * `[{"input": "<B>", "output": "<C>"}]`. A region's nodes are those that depend on B and that C
 * depends on. A region is ignored (with a warning, and then differentiated through) when its
 * names are not values of the graph, when C does not depend on B, when one of its nodes reads a
 * differentiated value other than through B, or when a value it computes (other than C) is read
 * outside it.
 */
import type { Graph } from '../ir/graph.js';
import type { Model } from '../ir/model.js';
import { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import type { DiffPath } from './path.js';

export const INVERSE_REGIONS_KEY = 'iqa-surgeon.inverse-regions';

export interface InverseRegion {
  /** Value name of the batched matrices B. */
  input: string;
  /** Value name of C = B^-1. */
  output: string;
}

/**
 * The region as one node for the gradient rules: op com.microsoft::Inverse reading B and
 * producing C. It is not part of the graph (it links no values, so the forward graph and its
 * use lists are untouched); the builder only hands it to the Inverse rule.
 */
export class InverseRegionNode extends Node {
  constructor(
    graph: Graph,
    private readonly b: Value,
    private readonly c: Value,
    /** The region's nodes (not differentiated). */
    readonly members: ReadonlySet<Node>,
  ) {
    super(graph, { op_type: 'Inverse', domain: 'com.microsoft', name: `inverse-region(${b.name} -> ${c.name})`, input: [b.name], output: [c.name] });
  }

  override get inputs(): readonly (Value | null)[] {
    return [this.b];
  }

  override get outputs(): readonly (Value | null)[] {
    return [this.c];
  }
}

/** The regions recorded in the model's metadata; a malformed entry becomes a warning. */
export function readInverseRegions(model: Model): { regions: InverseRegion[]; warnings: string[] } {
  const raw = model.metadata().get(INVERSE_REGIONS_KEY);
  if (raw === undefined) return { regions: [], warnings: [] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return { regions: [], warnings: [`metadata ${INVERSE_REGIONS_KEY} is not JSON; no inverse region is used`] };
  }
  if (!Array.isArray(parsed)) return { regions: [], warnings: [`metadata ${INVERSE_REGIONS_KEY} is not a list; no inverse region is used`] };
  const regions: InverseRegion[] = [];
  const warnings: string[] = [];
  parsed.forEach((e: unknown, i) => {
    const r = e as Partial<InverseRegion> | null;
    if (r && typeof r.input === 'string' && typeof r.output === 'string') regions.push({ input: r.input, output: r.output });
    else warnings.push(`inverse region ${i} of ${INVERSE_REGIONS_KEY} lacks string 'input' and 'output'; ignored`);
  });
  return { regions, warnings };
}

/** Nodes that (transitively) read `from`. */
function descendants(from: Value): Set<Node> {
  const seen = new Set<Node>();
  const stack = from.uses().map((u) => u.node);
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const o of n.outputs) if (o) for (const u of o.uses()) stack.push(u.node);
  }
  return seen;
}

/** Nodes that `to` (transitively) depends on, its producer included. */
function ancestors(to: Value): Set<Node> {
  const seen = new Set<Node>();
  const p0 = to.producer();
  const stack = p0 ? [p0] : [];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const v of n.inputs) {
      const p = v?.producer();
      if (p) stack.push(p);
    }
  }
  return seen;
}

/** The region's nodes, or why it cannot be used. */
function regionMembers(graph: Graph, path: DiffPath, r: InverseRegion): { members: Set<Node>; b: Value; c: Value } | string {
  const b = graph.lookup(r.input);
  const c = graph.lookup(r.output);
  if (!b || b.graph !== graph) return `its input '${r.input}' is not a value of the main graph`;
  if (!c || c.graph !== graph || !c.producer()) return `its output '${r.output}' is not a computed value of the main graph`;
  const down = descendants(b);
  const members = new Set([...ancestors(c)].filter((n) => down.has(n)));
  if (!members.has(c.producer()!)) return `'${r.output}' does not depend on '${r.input}'`;
  for (const n of members) {
    for (const v of n.inputs) {
      if (!v || v === b || (v.producer() && members.has(v.producer()!))) continue;
      if (path.live.has(v.name)) return `node '${n.label}' inside it reads '${v.name}', a differentiated value that does not come through '${r.input}'`;
    }
    for (const o of n.outputs) {
      if (!o || o === c) continue;
      if (o.isGraphOutput) return `'${o.name}', computed inside it, is a graph output`;
      const outside = o.uses().find((u) => !members.has(u.node));
      if (outside) return `'${o.name}', computed inside it, is read by node '${outside.node.label}' outside it`;
    }
  }
  return { members, b, c };
}

/**
 * The path with each valid region's nodes replaced by one InverseRegionNode (at the place of the
 * node producing C), and a warning per region ignored. Regions whose output is not on the path
 * play no part and are skipped silently.
 */
export function collapseInverseRegions(model: Model, path: DiffPath, regions: readonly InverseRegion[]): { path: DiffPath; warnings: string[]; regions: InverseRegionNode[] } {
  const graph = model.graph;
  const warnings: string[] = [];
  const used: InverseRegionNode[] = [];
  let nodes = path.nodes;
  const live = new Set(path.live);
  const taken = new Set<Node>();
  for (const r of regions) {
    if (!live.has(r.output)) continue;
    const found = regionMembers(graph, { nodes, live }, r);
    if (typeof found === 'string') {
      warnings.push(`inverse region ${r.input} -> ${r.output} ignored (differentiated through instead): ${found}`);
      continue;
    }
    if ([...found.members].some((n) => taken.has(n))) {
      warnings.push(`inverse region ${r.input} -> ${r.output} ignored (differentiated through instead): it overlaps another region`);
      continue;
    }
    const node = new InverseRegionNode(graph, found.b, found.c, found.members);
    const producer = found.c.producer()!;
    nodes = nodes.flatMap((n) => (n === producer ? [node] : found.members.has(n) ? [] : [n]));
    if (!nodes.includes(node)) continue;
    for (const n of found.members) {
      taken.add(n);
      for (const o of n.outputs) if (o && o !== found.c) live.delete(o.name);
    }
    used.push(node);
  }
  return { path: { nodes, live }, warnings, regions: used };
}

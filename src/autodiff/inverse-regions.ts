/**
 * Inverse regions: subgraphs that compute C = B^-1 (batched over the last two axes), which the
 * gradient graph treats as one op with the matrix inverse's rule, dB = -C^T dC C^T, instead of
 * differentiating their nodes. The RobustBlock's parametric Cayley conv computes the inverse by a
 * Newton-Schulz iteration: differentiating through it would keep every iterate for the backward
 * pass (gigabytes at the paper's position); with the region, the backward reads only C.
 *
 * `splice` records each region in the model metadata under `iqa-surgeon.inverse-regions` as JSON
 * `[{"input": "<B>", "output": "<C>"}]`; a complex inverse on real and imaginary planes adds
 * `"inputImag"` and `"outputImag"` (B = input + i inputImag, C = output + i outputImag; backward
 * dB = -C^H dC C^H on the planes). A region's nodes are those that depend on B and that C
 * depends on. A region is ignored (with a warning, and then differentiated through) when its
 * names are not values of the graph, when C does not depend on B, when one of its nodes reads a
 * differentiated value other than through B, or when a value it computes (other than C) is read
 * outside it.
 */
import type { Graph } from '../ir/graph.js';
import type { Model } from '../ir/model.js';
import { Node } from '../ir/node.js';
import { UserError } from '../errors.js';
import { readInverseRegions as readRecordedRegions, type InverseRegion } from '../ir/inverse-regions.js';
import type { Value } from '../ir/value.js';
import { inverseBackward } from '../ops/microsoft.grad.js';
import type { GradientEmitter, GradientRule } from '../ops/types.js';
import type { DiffPath } from './path.js';

export { INVERSE_REGIONS_KEY, type InverseRegion } from '../ir/inverse-regions.js';

const transposeLast = (g: GradientEmitter, x: string, rank: number): string => {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return g.emit('Transpose', [x], { perm })[0]!;
};

/** The real inverse's rule (com.microsoft::Inverse): dB = -C^T dC C^T. */
const REAL_RULE: GradientRule = {
  backward: (g, dy, wanted) => {
    if (!wanted[0] || !dy[0]) return [null];
    const c = g.node.outputs[0]!.name;
    return [inverseBackward(g, c, dy[0], g.dims(c)?.length ?? g.fail(`the rank of '${c}' is unknown`))];
  },
};

/**
 * The complex inverse on planes: with G = dCr + i dCi, dB = -C^H G C^H, so
 * P = C^H G = (Cr^T dCr + Ci^T dCi) + i (Cr^T dCi - Ci^T dCr) and
 * dB = -(P C^H) = -[(Pr Cr^T + Pi Ci^T) + i (Pi Cr^T - Pr Ci^T)].
 */
const COMPLEX_RULE: GradientRule = {
  backward: (g, dy, wanted) => {
    if (!dy[0] && !dy[1]) return [null, null];
    const cr = g.node.outputs[0]!.name;
    const ci = g.node.outputs[1]!.name;
    const rank = g.dims(cr)?.length ?? g.fail(`the rank of '${cr}' is unknown`);
    const mm = (a: string, b: string): string => g.emit('MatMul', [a, b])[0]!;
    const add = (a: string | null, b: string | null): string | null => (a && b ? g.emit('Add', [a, b])[0]! : (a ?? b));
    const sub = (a: string | null, b: string | null): string | null => (a && b ? g.emit('Sub', [a, b])[0]! : a ?? (b ? g.emit('Neg', [b])[0]! : null));
    const crT = transposeLast(g, cr, rank);
    const ciT = transposeLast(g, ci, rank);
    const pr = add(dy[0] ? mm(crT, dy[0]) : null, dy[1] ? mm(ciT, dy[1]) : null)!;
    const pi = sub(dy[1] ? mm(crT, dy[1]) : null, dy[0] ? mm(ciT, dy[0]) : null)!;
    const dbr = wanted[0] ? g.emit('Neg', [add(mm(pr, crT), mm(pi, ciT))!])[0]! : null;
    const dbi = wanted[1] ? g.emit('Neg', [sub(mm(pi, crT), mm(pr, ciT))!])[0]! : null;
    return [dbr, dbi];
  },
};

/**
 * The region as one node for the gradient rules: op com.microsoft::Inverse reading B and
 * producing C. It is not part of the graph (it links no values, so the forward graph and its
 * use lists are untouched); the builder only hands it to the Inverse rule.
 */
export class InverseRegionNode extends Node {
  /** The rule the builder applies to this node (the real or complex inverse's). */
  readonly rule: GradientRule;

  constructor(
    graph: Graph,
    private readonly b: readonly Value[],
    private readonly c: readonly Value[],
    /** The region's nodes (not differentiated). */
    readonly members: ReadonlySet<Node>,
  ) {
    const complex = b.length === 2;
    super(graph, {
      op_type: complex ? 'ComplexInverse' : 'Inverse',
      domain: complex ? 'iqa-surgeon.region' : 'com.microsoft',
      name: `inverse-region(${b.map((v) => v.name).join(' + i ')} -> ${c.map((v) => v.name).join(' + i ')})`,
      input: b.map((v) => v.name),
      output: c.map((v) => v.name),
    });
    this.rule = complex ? COMPLEX_RULE : REAL_RULE;
  }

  override get inputs(): readonly (Value | null)[] {
    return this.b;
  }

  override get outputs(): readonly (Value | null)[] {
    return this.c;
  }
}

/**
 * The regions recorded in the model's metadata (src/ir/inverse-regions.ts reads them): malformed
 * metadata is a warning here, not an error, since differentiating through the region's own nodes
 * is still correct (only the memory saving is lost).
 */
export function readInverseRegions(model: Model): { regions: InverseRegion[]; warnings: string[] } {
  try {
    return { regions: readRecordedRegions(model), warnings: [] };
  } catch (e) {
    if (e instanceof UserError) return { regions: [], warnings: [`${e.message}; no inverse region is used`] };
    throw e;
  }
}

/** Nodes that (transitively) read one of `from`. */
function descendants(from: readonly Value[]): Set<Node> {
  const seen = new Set<Node>();
  const stack = from.flatMap((v) => v.uses().map((u) => u.node));
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const o of n.outputs) if (o) for (const u of o.uses()) stack.push(u.node);
  }
  return seen;
}

/** Nodes that one of `to` (transitively) depends on, their producers included. */
function ancestors(to: readonly Value[]): Set<Node> {
  const seen = new Set<Node>();
  const stack = to.flatMap((v) => (v.producer() ? [v.producer()!] : []));
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
function regionMembers(graph: Graph, path: DiffPath, r: InverseRegion): { members: Set<Node>; b: Value[]; c: Value[] } | string {
  const bNames = [r.input, ...(r.inputImag !== undefined ? [r.inputImag] : [])];
  const cNames = [r.output, ...(r.outputImag !== undefined ? [r.outputImag] : [])];
  const b: Value[] = [];
  const c: Value[] = [];
  for (const name of bNames) {
    const v = graph.lookup(name);
    if (!v || v.graph !== graph) return `its input '${name}' is not a value of the main graph`;
    b.push(v);
  }
  for (const name of cNames) {
    const v = graph.lookup(name);
    if (!v || v.graph !== graph || !v.producer()) return `its output '${name}' is not a computed value of the main graph`;
    c.push(v);
  }
  const down = descendants(b);
  const members = new Set([...ancestors(c)].filter((n) => down.has(n)));
  for (const v of c) if (!members.has(v.producer()!)) return `'${v.name}' does not depend on '${bNames.join("', '")}'`;
  for (const n of members) {
    for (const v of n.inputs) {
      if (!v || b.includes(v) || (v.producer() && members.has(v.producer()!))) continue;
      if (path.live.has(v.name)) return `node '${n.label}' inside it reads '${v.name}', a differentiated value that does not come through '${bNames.join("', '")}'`;
    }
    for (const o of n.outputs) {
      if (!o || c.includes(o)) continue;
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
    if (!live.has(r.output) && !(r.outputImag !== undefined && live.has(r.outputImag))) continue;
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
    // at the place of the first of C's producers on the path: every node reading B comes before
    // it (B's readers are members), and every reader of any plane of C after it; at the last
    // producer instead, a reader of C's real plane placed between the two producers would send
    // its gradient after the region had consumed C's (a wrong Cayley weight gradient, 9.6%)
    const at = Math.min(...found.c.map((v) => nodes.indexOf(v.producer()!)).filter((i) => i >= 0));
    if (!Number.isFinite(at)) continue;
    const last = nodes[at]!;
    nodes = nodes.flatMap((n) => (n === last ? [node] : found.members.has(n) ? [] : [n]));
    for (const n of found.members) {
      taken.add(n);
      for (const o of n.outputs) if (o && !found.c.includes(o)) live.delete(o.name);
    }
    used.push(node);
  }
  return { path: { nodes, live }, warnings, regions: used };
}

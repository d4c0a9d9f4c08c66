/**
 * Structural equivalence of two models: equality that does not depend on node order, node names
 * or intermediate tensor names.
 *
 * Method.
 *  1. Canonical hashes. Every value gets a hash from what it *is*, not what it is called: a graph
 *     input by its position and type, an initializer by its type, dims and contents (contents are
 *     left out when a weight tolerance is given, so near-equal weights still hash alike), a node
 *     output by its producer's hash and output slot. A node hashes its op, domain, canonical
 *     attributes (sorted by name; tensor attributes by contents, subgraph attributes by the
 *     canonical hash of the subgraph) and the hashes of its input slots. On a DAG, computing this
 *     in topological order is the fixed point of Weisfeiler-Lehman refinement along the edges'
 *     direction: a node's hash covers its whole ancestor cone, so equal hashes mean equal cones.
 *     The graph's fingerprint combines the output hashes (in order) and the multiset of hashes of
 *     nodes that feed no output.
 *  2. Matching. Starting from the graph outputs (paired by position), producers are paired and
 *     their input slots walked depth first, so the matching is forced (no search). Inputs are
 *     compared before a node's own attributes, which makes the first difference reported the
 *     most upstream one on that path: the thing a user changed, not everything downstream of it.
 *     A node already paired with a different partner means the two graphs share values
 *     differently (one computes a value once, the other twice). Nodes that feed no output are
 *     paired by hash afterwards.
 *
 * What counts as a difference: op type, domain, attributes (a default written explicitly is not
 * the same as one left out), input and output slot counts, initializer type/dims/contents (within
 * `weightAtol` when given), graph input and output names/types/shapes by position, and opset
 * imports. Not compared: node names, intermediate tensor names, doc strings, value_info, metadata,
 * initializers no node reads, and the order of anything.
 */
import { createHash } from 'node:crypto';
import { attrValue } from '../ir/attributes.js';
import type { Graph } from '../ir/graph.js';
import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import { dataTypeName, DataType } from '../onnx/data-types.js';
import { AttributeType, type AttributeProto, type GraphProto, type TensorProto, type TypeProto } from '../onnx/proto-types.js';
import { tensorDims, tensorRawBytes, tensorTypedData } from '../onnx/tensor-data.js';
import { numericData } from './tensor-values.js';

export interface StructuralOptions {
  /** Largest absolute difference allowed between matched initializers (default 0: byte-equal). */
  weightAtol?: number;
}

export interface StructuralDifference {
  /** Stable short code: `opset`, `graph-input`, `graph-output`, `op`, `attribute`, `inputs`, `outputs`, `initializer`, `wiring`, `unmatched-node`. */
  kind: string;
  /** What differs, in terms a user understands. */
  message: string;
  /** The node of model A (and of model B) where it was found, when there is one. */
  nodeA?: string;
  nodeB?: string;
}

export interface StructuralResult {
  equal: boolean;
  /** The first difference found (most upstream on the first output that differs), or null. */
  difference: StructuralDifference | null;
  nodes: [number, number];
  /** Canonical fingerprints (equal fingerprints: equal structure; weights by contents unless a tolerance was given). */
  fingerprint: [string, string];
  /** Largest absolute difference found between matched float initializers (0 when byte-equal). */
  maxWeightDiff: number;
  weightAtol: number;
}

const sha = (parts: readonly string[]): string => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\u0000');
  return h.digest('hex').slice(0, 32);
};

function typeText(t: TypeProto | undefined): string {
  const tt = t?.tensor_type;
  if (!tt) return t ? JSON.stringify(Object.keys(t)) : '?';
  const dims = tt.shape ? `[${(tt.shape.dim ?? []).map((d) => (d.dim_value !== undefined ? String(d.dim_value) : d.dim_param || '?')).join(',')}]` : '';
  return `${dataTypeName(tt.elem_type)}${dims}`;
}

function tensorText(t: TensorProto): string {
  return `${dataTypeName(t.data_type)}[${tensorDims(t).join(',')}]`;
}

function tensorContentHash(t: TensorProto): string {
  if (t.data_type === DataType.STRING) return sha((t.string_data ?? []).map((b) => Buffer.from(b).toString('hex')));
  return createHash('sha256').update(tensorRawBytes(t)).digest('hex').slice(0, 32);
}

/** Canonical text of an attribute's value (subgraphs by canonical hash). */
function attrCanon(a: AttributeProto, hashSub: (g: GraphProto) => string): string {
  const v = attrValue(a);
  if (a.type === AttributeType.GRAPH || (a.type === undefined && a.g)) return `graph:${hashSub(a.g!)}`;
  if (a.type === AttributeType.GRAPHS) return `graphs:${(a.graphs ?? []).map(hashSub).join(',')}`;
  if (a.type === AttributeType.TENSOR || (a.type === undefined && a.t)) return `tensor:${tensorText(a.t!)}:${tensorContentHash(a.t!)}`;
  if (a.type === AttributeType.TENSORS) return `tensors:${(a.tensors ?? []).map((t) => `${tensorText(t)}:${tensorContentHash(t)}`).join(',')}`;
  return JSON.stringify(v ?? null);
}

/** Readable attribute value for messages. */
function attrReadable(a: AttributeProto | undefined): string {
  if (!a) return '(absent)';
  if (a.type === AttributeType.GRAPH || a.g) return 'a subgraph';
  if (a.type === AttributeType.TENSOR || a.t) return `tensor ${tensorText(a.t!)}`;
  const v = attrValue(a);
  const s = Array.isArray(v) ? `[${v.join(',')}]` : typeof v === 'string' ? JSON.stringify(v) : String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function nodeSignature(n: Node, hashSub: (g: GraphProto) => string): string {
  const attrs = [...(n.proto.attribute ?? [])].sort((x, y) => ((x.name ?? '') < (y.name ?? '') ? -1 : 1));
  return sha([n.opType, n.domain, String(n.outputs.length), ...attrs.map((a) => `${a.name}=${attrCanon(a, hashSub)}`)]);
}

/** Canonical hashes of a graph's nodes and values (see the file comment). */
export class CanonicalHashes {
  readonly node = new Map<Node, string>();
  readonly value = new Map<Value, string>();
  readonly fingerprint: string;
  private readonly signature = new Map<Node, string>();
  private readonly plainSignatures = new Map<string, string>();

  constructor(
    readonly graph: Graph,
    private readonly weightContents: boolean,
  ) {
    const formalInputs = graph.inputs.filter((v) => !v.isInitializer);
    formalInputs.forEach((v, i) => this.value.set(v, sha(['input', String(i), typeText(v.type)])));
    const order = orderOf(graph);
    for (const n of order) {
      const sig = this.sig(n);
      const ins = n.inputs.map((v) => (v ? this.valueHash(v) : '-'));
      const h = sha([sig, ...ins]);
      this.node.set(n, h);
      // an output's hash is its producer's hash and slot: a string, not another digest per value
      n.outputs.forEach((o, k) => o && this.value.set(o, `${h}/${k}`));
    }
    const outs = graph.outputs.map((v) => this.valueHash(v));
    const live = new Set<Node>();
    const stack = graph.outputs.map((v) => v.producer()).filter((p): p is Node => !!p);
    while (stack.length) {
      const n = stack.pop()!;
      if (live.has(n)) continue;
      live.add(n);
      for (const v of n.inputs) if (v?.producer() && v.graph === graph) stack.push(v.producer()!);
    }
    const dead = order.filter((n) => !live.has(n)).map((n) => this.node.get(n)!).sort();
    this.fingerprint = sha(['graph', ...outs, '|', ...dead]);
  }

  sig(n: Node): string {
    let s = this.signature.get(n);
    if (s === undefined) {
      // nodes without attributes share their signature by op, domain and output count: one digest, not one per node
      const plain = (n.proto.attribute ?? []).length === 0 ? `${n.opType}\u0000${n.domain}\u0000${n.outputs.length}` : undefined;
      s = plain !== undefined ? this.plainSignatures.get(plain) : undefined;
      if (s === undefined) {
        s = nodeSignature(n, (g) => subgraphHash(n, g, this.weightContents));
        if (plain !== undefined) this.plainSignatures.set(plain, s);
      }
      this.signature.set(n, s);
    }
    return s;
  }

  valueHash(v: Value): string {
    let h = this.value.get(v);
    if (h !== undefined) return h;
    if (v.initializer) h = sha(['init', tensorText(v.initializer), this.weightContents ? tensorContentHash(v.initializer) : '']);
    else if (v.graph !== this.graph) h = sha(['outer', v.name]); // read from an enclosing scope
    else h = sha(['unknown', v.name]);
    this.value.set(v, h);
    return h;
  }
}

function orderOf(g: Graph): Node[] {
  // nodes in a topological order without touching the model: the file's order when it is one
  // (one pass, the common case), else Kahn's algorithm on a copy of the order
  const pos = new Map<Node, number>();
  g.nodes.forEach((n, i) => pos.set(n, i));
  const sorted = g.nodes.every((n, i) => n.inputs.every((v) => {
    const p = v?.producer();
    return !p || (pos.get(p) ?? -1) < i;
  }));
  if (sorted) return g.nodes.slice();
  const indeg = new Map<Node, number>();
  const next = new Map<Node, Node[]>();
  for (const n of g.nodes) {
    const deps = new Set<Node>();
    for (const v of n.inputs) {
      const p = v?.producer();
      if (p && pos.has(p)) deps.add(p);
    }
    indeg.set(n, deps.size);
    for (const p of deps) (next.get(p) ?? next.set(p, []).get(p)!).push(n);
  }
  const out: Node[] = g.nodes.filter((n) => indeg.get(n) === 0);
  for (let i = 0; i < out.length; i++) {
    for (const d of next.get(out[i]!) ?? []) {
      const k = indeg.get(d)! - 1;
      indeg.set(d, k);
      if (k === 0) out.push(d);
    }
  }
  // anything left (only possible in a graph that failed to load) follows in file order
  if (out.length < g.nodes.length) {
    const placed = new Set(out);
    for (const n of g.nodes) if (!placed.has(n)) out.push(n);
  }
  return out;
}

/** Canonical hash of a subgraph held by an attribute of `owner`. */
function subgraphHash(owner: Node, proto: GraphProto, weightContents: boolean): string {
  const sg = owner.subgraphs.find((s) => s.proto === proto);
  if (!sg) return sha(['subgraph-unlinked', String(proto.node?.length ?? 0)]);
  return new CanonicalHashes(sg, weightContents).fingerprint;
}

function opsetText(m: Model): string {
  return m
    .opsets()
    .map((o) => `${o.domain === 'ai.onnx' ? '' : o.domain || 'ai.onnx'}:${o.version}`)
    .sort()
    .join(', ');
}

const label = (n: Node): string => `'${n.label}' (${n.opType})`;
const nodeRef = (a: Node, b: Node): string => (a.label === b.label ? `node ${label(a)}` : `node ${label(a)} vs '${b.label}'`);

/** Compare two initializers; returns the difference message or null, and the max abs difference. */
function compareInitializers(ta: TensorProto, tb: TensorProto, tol: number): { message: string | null; maxAbs: number } {
  if (ta.data_type !== tb.data_type || tensorDims(ta).join() !== tensorDims(tb).join()) {
    return { message: `${tensorText(ta)} vs ${tensorText(tb)}`, maxAbs: Infinity };
  }
  if (ta.data_type === DataType.STRING) {
    return { message: tensorContentHash(ta) === tensorContentHash(tb) ? null : 'string contents differ', maxAbs: 0 };
  }
  const ra = tensorRawBytes(ta);
  const rb = tensorRawBytes(tb);
  if (ra.length === rb.length && Buffer.from(ra.buffer, ra.byteOffset, ra.length).equals(Buffer.from(rb.buffer, rb.byteOffset, rb.length))) {
    return { message: null, maxAbs: 0 };
  }
  const xa = numericData(tensorTypedData(ta), ta.data_type ?? 0);
  const xb = numericData(tensorTypedData(tb), tb.data_type ?? 0);
  let maxAbs = 0;
  let at = -1;
  let diffCount = 0;
  for (let i = 0; i < xa.length; i++) {
    const x = xa[i]!;
    const y = xb[i]!;
    if (Object.is(x, y) || x === y || (Number.isNaN(x) && Number.isNaN(y))) continue;
    const d = Number.isNaN(x) || Number.isNaN(y) ? Infinity : Math.abs(x - y);
    if (d > 0) diffCount++;
    if (d > maxAbs || at < 0) {
      maxAbs = d;
      at = i;
    }
  }
  if (maxAbs <= tol) return { message: null, maxAbs };
  return {
    message: `differs: max abs ${fmt(maxAbs)} > tolerance ${fmt(tol)} (${diffCount} of ${xa.length} elements differ; largest at flat index ${at}: ${fmt(xa[at]!)} vs ${fmt(xb[at]!)})`,
    maxAbs,
  };
}

export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  return a >= 1e-3 && a < 1e5 ? String(Number(x.toPrecision(4))) : x.toExponential(2).replace(/\.?0+e/, 'e');
}

/** Compare two models structurally (see the file comment). */
export function compareStructure(a: Model, b: Model, opts: StructuralOptions = {}): StructuralResult {
  const tol = opts.weightAtol ?? 0;
  const ga = a.graph;
  const gb = b.graph;
  const ha = new CanonicalHashes(ga, tol === 0);
  const hb = new CanonicalHashes(gb, tol === 0);
  let maxWeightDiff = 0;
  const result = (difference: StructuralDifference | null): StructuralResult => ({
    equal: difference === null,
    difference,
    nodes: [ga.nodes.length, gb.nodes.length],
    fingerprint: [ha.fingerprint, hb.fingerprint],
    maxWeightDiff,
    weightAtol: tol,
  });

  if (opsetText(a) !== opsetText(b)) return result({ kind: 'opset', message: `opset imports differ: ${opsetText(a)} vs ${opsetText(b)}` });
  const ia = ga.inputs.filter((v) => !v.isInitializer);
  const ib = gb.inputs.filter((v) => !v.isInitializer);
  if (ia.length !== ib.length) return result({ kind: 'graph-input', message: `${ia.length} graph inputs vs ${ib.length}` });
  for (let i = 0; i < ia.length; i++) {
    const x = ia[i]!;
    const y = ib[i]!;
    if (x.name !== y.name || typeText(x.type) !== typeText(y.type)) {
      return result({ kind: 'graph-input', message: `graph input ${i}: '${x.name}' ${typeText(x.type)} vs '${y.name}' ${typeText(y.type)}` });
    }
  }
  if (ga.outputs.length !== gb.outputs.length) return result({ kind: 'graph-output', message: `${ga.outputs.length} graph outputs vs ${gb.outputs.length}` });
  for (let i = 0; i < ga.outputs.length; i++) {
    const x = ga.outputs[i]!;
    const y = gb.outputs[i]!;
    if (x.name !== y.name || typeText(x.type) !== typeText(y.type)) {
      return result({ kind: 'graph-output', message: `graph output ${i}: '${x.name}' ${typeText(x.type)} vs '${y.name}' ${typeText(y.type)}` });
    }
  }

  // matching from the outputs, depth first, inputs before the node's own attributes
  const pair = new Map<Node, Node>();
  const pairRev = new Map<Node, Node>();
  const seenInit = new Map<Value, Value>();
  const inputIndexA = new Map(ia.map((v, i) => [v, i]));
  const inputIndexB = new Map(ib.map((v, i) => [v, i]));
  interface Frame {
    a: Node;
    b: Node;
    slot: number;
  }
  const stack: Frame[] = [];

  /** Compare two values reached through `where`; may push a frame; returns a difference or null. */
  const compareValues = (va: Value, vb: Value, where: string, na?: Node, nb?: Node): StructuralDifference | null => {
    const at = (kind: string, message: string): StructuralDifference => ({
      kind,
      message: `${where}${message}`,
      ...(na ? { nodeA: na.label } : {}),
      ...(nb ? { nodeB: nb.label } : {}),
    });
    if (va.initializer || vb.initializer) {
      if (!va.initializer || !vb.initializer) {
        return at('inputs', `'${va.name}' is ${va.initializer ? 'an initializer' : 'computed'} in A but ${vb.initializer ? 'an initializer' : 'computed'} in B`);
      }
      const prev = seenInit.get(va);
      if (prev === vb) return null;
      seenInit.set(va, vb);
      const c = compareInitializers(va.initializer, vb.initializer, tol);
      if (Number.isFinite(c.maxAbs)) maxWeightDiff = Math.max(maxWeightDiff, c.maxAbs);
      if (c.message) return at('initializer', `initializer '${va.name}'${va.name === vb.name ? '' : ` vs '${vb.name}'`} ${c.message}`);
      return null;
    }
    const pa = va.graph === ga ? va.producer() : undefined;
    const pb = vb.graph === gb ? vb.producer() : undefined;
    if (!pa || !pb) {
      const ka = inputIndexA.get(va);
      const kb = inputIndexB.get(vb);
      if (pa || pb || ka === undefined || kb === undefined) {
        const what = (v: Value, p: Node | undefined, k: number | undefined): string =>
          p ? `the output of ${label(p)}` : k !== undefined ? `graph input '${v.name}'` : `'${v.name}' (from an enclosing graph)`;
        if (!pa && !pb && ka === undefined && kb === undefined && va.name === vb.name) return null; // same outer value
        return at('inputs', `reads ${what(va, pa, ka)} in A but ${what(vb, pb, kb)} in B`);
      }
      return ka === kb ? null : at('inputs', `reads graph input '${va.name}' in A but '${vb.name}' in B`);
    }
    const ka = pa.outputs.indexOf(va);
    const kb = pb.outputs.indexOf(vb);
    const mapped = pair.get(pa);
    if (mapped || pairRev.get(pb)) {
      if (mapped !== pb) {
        return at('wiring', `reads the output of ${label(pa)} in A but of ${label(pb)} in B`);
      }
      return ka === kb ? null : at('wiring', `reads output ${ka} of ${label(pa)} in A but output ${kb} in B`);
    }
    if (ka !== kb) return at('wiring', `reads output ${ka} of ${label(pa)} in A but output ${kb} of '${pb.label}' in B`);
    if (pa.opType !== pb.opType || pa.domain !== pb.domain) {
      return { kind: 'op', message: `node '${pa.label}' is ${pa.domain ? `${pa.domain}::` : ''}${pa.opType} in A but '${pb.label}' is ${pb.domain ? `${pb.domain}::` : ''}${pb.opType} in B`, nodeA: pa.label, nodeB: pb.label };
    }
    if (pa.inputs.length !== pb.inputs.length || pa.outputs.length !== pb.outputs.length) {
      return { kind: 'inputs', message: `${nodeRef(pa, pb)}: ${pa.inputs.length} inputs/${pa.outputs.length} outputs vs ${pb.inputs.length}/${pb.outputs.length}`, nodeA: pa.label, nodeB: pb.label };
    }
    pair.set(pa, pb);
    pairRev.set(pb, pa);
    stack.push({ a: pa, b: pb, slot: 0 });
    return null;
  };

  const finishNode = (na: Node, nb: Node): StructuralDifference | null => {
    if (ha.sig(na) === hb.sig(nb)) return null;
    const names = [...new Set([...(na.proto.attribute ?? []), ...(nb.proto.attribute ?? [])].map((x) => x.name ?? ''))].sort();
    for (const name of names) {
      const xa = na.attribute(name);
      const xb = nb.attribute(name);
      const ca = xa ? attrCanon(xa, (g) => subgraphHash(na, g, tol === 0)) : undefined;
      const cb = xb ? attrCanon(xb, (g) => subgraphHash(nb, g, tol === 0)) : undefined;
      if (ca !== cb) {
        return { kind: 'attribute', message: `${nodeRef(na, nb)}: attribute ${name} ${attrReadable(xa)} vs ${attrReadable(xb)}`, nodeA: na.label, nodeB: nb.label };
      }
    }
    return { kind: 'attribute', message: `${nodeRef(na, nb)}: attributes differ`, nodeA: na.label, nodeB: nb.label };
  };

  const drain = (): StructuralDifference | null => {
    while (stack.length) {
      const f = stack[stack.length - 1]!;
      if (f.slot < f.a.inputs.length) {
        const k = f.slot++;
        const va = f.a.inputs[k] ?? null;
        const vb = f.b.inputs[k] ?? null;
        if (!va || !vb) {
          if (va || vb) return { kind: 'inputs', message: `${nodeRef(f.a, f.b)}: input ${k} is ${va ? `'${va.name}'` : 'omitted'} in A but ${vb ? `'${vb.name}'` : 'omitted'} in B`, nodeA: f.a.label, nodeB: f.b.label };
          continue;
        }
        const d = compareValues(va, vb, `${nodeRef(f.a, f.b)} input ${k}: `, f.a, f.b);
        if (d) return d;
        continue;
      }
      stack.pop();
      const d = finishNode(f.a, f.b);
      if (d) return d;
    }
    return null;
  };

  for (let i = 0; i < ga.outputs.length; i++) {
    const d = compareValues(ga.outputs[i]!, gb.outputs[i]!, `graph output '${ga.outputs[i]!.name}': `) ?? drain();
    if (d) return result(d);
  }

  // nodes that feed no output: pair by canonical hash
  const restA = orderOf(ga).filter((n) => !pair.has(n));
  const restB = orderOf(gb).filter((n) => !pairRev.has(n));
  const pool = new Map<string, Node[]>();
  for (const n of restB) (pool.get(hb.node.get(n)!) ?? pool.set(hb.node.get(n)!, []).get(hb.node.get(n)!)!).push(n);
  for (const n of restA) {
    const list = pool.get(ha.node.get(n)!);
    if (!list || list.length === 0) {
      return result({ kind: 'unmatched-node', message: `node ${label(n)} of A (feeding no graph output) has no counterpart in B`, nodeA: n.label });
    }
    list.shift();
  }
  for (const list of pool.values()) {
    if (list.length) return result({ kind: 'unmatched-node', message: `node ${label(list[0]!)} of B (feeding no graph output) has no counterpart in A`, nodeB: list[0]!.label });
  }
  return result(null);
}

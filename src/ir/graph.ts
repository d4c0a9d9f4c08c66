/**
 * A graph (or subgraph) of linked Nodes and Values, built from a GraphProto and written back into
 * the same GraphProto object. Untouched nodes, initializers and value_info entries keep their
 * decoded objects, so they are re-encoded to the bytes they came from.
 */
import { GraphError, UserError } from '../errors.js';
import type { AttributeProto, GraphProto, NodeProto, TensorProto, ValueInfoProto } from '../onnx/proto-types.js';
import { makeAttribute, type AttrValue } from './attributes.js';
import { Node } from './node.js';
import { Value, type Use } from './value.js';

/** Names shared by a model's main graph and all its subgraphs. */
export class NameRegistry {
  readonly values = new Set<string>();
  readonly nodes = new Set<string>();

  unique(set: Set<string>, base: string): string {
    const clean = base.length > 0 ? base : 'v';
    if (!set.has(clean)) return clean;
    for (let i = 1; ; i++) {
      const n = `${clean}_${i}`;
      if (!set.has(n)) return n;
    }
  }
}

export interface NodeSpec {
  opType: string;
  inputs: (Value | null)[];
  /** Number of outputs (named from the node name) or explicit output names (made unique). */
  outputs?: number | string[];
  name?: string;
  domain?: string;
  attributes?: AttributeProto[] | Record<string, AttrValue>;
  /** Where to put it in the node list (default: right after the last producer of its inputs). */
  before?: Node;
  after?: Node;
}

interface InfoEntry {
  proto: ValueInfoProto;
  value: Value | undefined;
}

export class Graph {
  readonly proto: GraphProto;
  readonly names: NameRegistry;
  readonly parent: Graph | undefined;
  readonly owner: Node | undefined;
  nodes: Node[] = [];
  inputs: Value[] = [];
  outputs: Value[] = [];
  private readonly scope = new Map<string, Value>();
  private initializerOrder: Value[] = [];
  private inputInfo = new Map<Value, ValueInfoProto>();
  private outputInfo: ValueInfoProto[] = [];
  private valueInfo: InfoEntry[] = [];

  private constructor(proto: GraphProto, names: NameRegistry, parent?: Graph, owner?: Node) {
    this.proto = proto;
    this.names = names;
    this.parent = parent;
    this.owner = owner;
  }

  /** Build a graph, checking names, links and acyclicity. */
  static fromProto(proto: GraphProto, names = new NameRegistry(), parent?: Graph, owner?: Node): Graph {
    const g = new Graph(proto, names, parent, owner);
    g.build();
    return g;
  }

  /** An empty graph (for building models from scratch). */
  static empty(name = 'graph'): Graph {
    return Graph.fromProto({ name });
  }

  get name(): string {
    return this.proto.name ?? '';
  }

  private where(): string {
    return this.owner ? ` (in a subgraph of node '${this.owner.label}')` : '';
  }

  private define(name: string, what: string): Value {
    if (this.scope.has(name)) {
      throw new GraphError('duplicate-name', `duplicate name '${name}': ${what} redefines a value${this.where()}`);
    }
    const v = new Value(this, name);
    this.scope.set(name, v);
    this.names.values.add(name);
    return v;
  }

  private build(): void {
    const p = this.proto;
    for (const t of p.initializer ?? []) {
      if (!t.name) throw new GraphError('unnamed-initializer', `an initializer has no name${this.where()}`);
      const v = this.define(t.name, `initializer '${t.name}'`);
      v.initializer = t;
      this.initializerOrder.push(v);
    }
    for (const info of p.input ?? []) {
      const name = info.name ?? '';
      if (!name) throw new GraphError('unnamed-input', `a graph input has no name${this.where()}`);
      let v = this.scope.get(name);
      if (v && (!v.isInitializer || this.inputInfo.has(v))) {
        throw new GraphError('duplicate-name', `duplicate graph input '${name}'${this.where()}`);
      }
      v ??= this.define(name, `graph input '${name}'`);
      v.info = info;
      this.inputInfo.set(v, info);
      this.inputs.push(v);
    }
    for (const np of p.node ?? []) {
      const node = new Node(this, np);
      if (np.name) this.names.nodes.add(np.name);
      const outs = (np.output ?? []).map((o) => (o === '' ? null : this.define(o, `output '${o}' of node '${np.name ?? np.op_type}'`)));
      node._setOutputs(outs);
      this.nodes.push(node);
    }
    for (const node of this.nodes) {
      const ins = (node.proto.input ?? []).map((name) => {
        if (name === '') return null;
        const v = this.lookup(name);
        if (!v) {
          throw new GraphError(
            'dangling-input',
            `node '${node.label}' (${node.opType}) reads '${name}', which no node, graph input or initializer defines${this.where()}`,
          );
        }
        return v;
      });
      node._setInputs(ins);
    }
    for (const node of this.nodes) {
      for (const a of node.proto.attribute ?? []) {
        if (a.g) node.subgraphs.push(Graph.fromProto(a.g, this.names, this, node));
        for (const sg of a.graphs ?? []) node.subgraphs.push(Graph.fromProto(sg, this.names, this, node));
      }
    }
    for (const info of p.output ?? []) {
      const name = info.name ?? '';
      const v = this.lookup(name);
      if (!v) throw new GraphError('dangling-output', `graph output '${name}' is not produced by any node, input or initializer${this.where()}`);
      this.outputs.push(v);
      this.outputInfo.push(info);
      v.info ??= info;
    }
    for (const info of p.value_info ?? []) {
      const v = info.name ? this.scope.get(info.name) : undefined;
      if (v) v.info = info;
      this.valueInfo.push({ proto: info, value: v });
    }
    this.checkAcyclic();
  }

  /** A value visible from this graph (its own scope, then enclosing graphs). */
  lookup(name: string): Value | undefined {
    for (let g: Graph | undefined = this; g; g = g.parent) {
      const v = g.scope.get(name);
      if (v) return v;
    }
    return undefined;
  }

  /** A value of this graph by name; throws a UserError naming it when absent. */
  value(name: string): Value {
    const v = this.lookup(name);
    if (!v) throw new UserError('no-such-value', `no tensor named '${name}' in graph '${this.name}'`);
    return v;
  }

  hasValue(name: string): boolean {
    return this.lookup(name) !== undefined;
  }

  /** All values defined in this graph's own scope. */
  values(): IterableIterator<Value> {
    return this.scope.values();
  }

  initializers(): Value[] {
    return this.initializerOrder.filter((v) => v.initializer && this.scope.get(v.name) === v);
  }

  node(name: string): Node | undefined {
    return this.nodes.find((n) => n.name === name);
  }

  /** Every node of this graph and, recursively, of its subgraphs. */
  *allNodes(): Generator<Node> {
    for (const n of this.nodes) {
      yield n;
      for (const sg of n.subgraphs) yield* sg.allNodes();
    }
  }

  // -------------------------------------------------------------------------------------------
  // Ordering

  /** Values of this scope a node depends on, including reads from inside its subgraphs. */
  private dependencies(node: Node): Value[] {
    const deps: Value[] = [];
    for (const v of node.inputs) if (v && v.graph === this) deps.push(v);
    const visit = (g: Graph): void => {
      for (const n of g.nodes) {
        for (const v of n.inputs) if (v && v.graph === this) deps.push(v);
        n.subgraphs.forEach(visit);
      }
      for (const v of g.outputs) if (v.graph === this) deps.push(v);
    };
    node.subgraphs.forEach(visit);
    return deps;
  }

  /** A topological order that keeps the current order wherever it is already valid. */
  private topoOrder(): { order: Node[]; stuck: Node[] } {
    const index = new Map<Node, number>(this.nodes.map((n, i) => [n, i]));
    const pending = new Map<Node, number>();
    const dependents = new Map<Node, Node[]>();
    for (const n of this.nodes) {
      const producers = new Set<Node>();
      for (const v of this.dependencies(n)) {
        const p = v.producer();
        if (p && index.has(p)) producers.add(p);
      }
      pending.set(n, producers.size);
      for (const p of producers) {
        let list = dependents.get(p);
        if (!list) dependents.set(p, (list = []));
        list.push(n);
      }
    }
    // ready set as a binary heap on original index: stable order
    const heap: Node[] = [];
    const push = (n: Node): void => {
      heap.push(n);
      let i = heap.length - 1;
      while (i > 0) {
        const j = (i - 1) >> 1;
        if (index.get(heap[j]!)! <= index.get(heap[i]!)!) break;
        [heap[i], heap[j]] = [heap[j]!, heap[i]!];
        i = j;
      }
    };
    const pop = (): Node => {
      const top = heap[0]!;
      const last = heap.pop()!;
      if (heap.length > 0) {
        heap[0] = last;
        let i = 0;
        for (;;) {
          const l = 2 * i + 1;
          const r = l + 1;
          let m = i;
          if (l < heap.length && index.get(heap[l]!)! < index.get(heap[m]!)!) m = l;
          if (r < heap.length && index.get(heap[r]!)! < index.get(heap[m]!)!) m = r;
          if (m === i) break;
          [heap[i], heap[m]] = [heap[m]!, heap[i]!];
          i = m;
        }
      }
      return top;
    };
    for (const n of this.nodes) if (pending.get(n) === 0) push(n);
    const order: Node[] = [];
    while (heap.length > 0) {
      const n = pop();
      order.push(n);
      for (const d of dependents.get(n) ?? []) {
        const k = pending.get(d)! - 1;
        pending.set(d, k);
        if (k === 0) push(d);
      }
    }
    const stuck = this.nodes.filter((n) => pending.get(n)! > 0);
    return { order, stuck };
  }

  /**
   * True when every node comes after the producers it depends on: one pass, no allocation per
   * node. Files are nearly always written in topological order, so loading checks this first and
   * builds the full order (a heap, a Set per node) only for files that are not sorted.
   */
  private inFileOrder(): boolean {
    const pos = new Map<Node, number>();
    this.nodes.forEach((n, i) => pos.set(n, i));
    for (let i = 0; i < this.nodes.length; i++) {
      const n = this.nodes[i]!;
      for (const v of n.inputs) {
        if (!v || v.graph !== this) continue;
        const p = v.producer();
        if (p && (pos.get(p) ?? -1) >= i) return false;
      }
      if (n.subgraphs.length > 0) {
        for (const v of this.dependencies(n)) {
          const p = v.producer();
          if (p && (pos.get(p) ?? -1) >= i) return false;
        }
      }
    }
    return true;
  }

  private checkAcyclic(): void {
    if (this.inFileOrder()) return;
    const { stuck } = this.topoOrder();
    if (stuck.length > 0) {
      throw new GraphError('cycle', `the graph has a cycle through node '${stuck[0]!.label}' (${stuck[0]!.opType})${this.where()}`);
    }
  }

  /** Reorder nodes topologically (stable: an already sorted graph is unchanged). */
  toposort(): this {
    if (!this.inFileOrder()) {
      // (the stable order leaves a sorted list as it is, so only an unsorted one is rebuilt)
      const { order, stuck } = this.topoOrder();
      if (stuck.length > 0) throw new GraphError('cycle', `the graph has a cycle through node '${stuck[0]!.label}'${this.where()}`);
      this.nodes = order;
    }
    for (const n of this.nodes) for (const sg of n.subgraphs) sg.toposort();
    return this;
  }

  // -------------------------------------------------------------------------------------------
  // Editing

  uniqueValueName(base: string): string {
    return this.names.unique(this.names.values, base);
  }

  uniqueNodeName(base: string): string {
    return this.names.unique(this.names.nodes, base);
  }

  /** A new value of this scope with a unique name derived from `base`. */
  addValue(base: string): Value {
    return this.define(this.uniqueValueName(base), 'a new value');
  }

  /** A new initializer holding `tensor` (its name is made unique and written into the tensor). */
  addInitializer(base: string, tensor: TensorProto): Value {
    const v = this.addValue(base);
    v.initializer = { ...tensor, name: v.name };
    this.initializerOrder.push(v);
    return v;
  }

  renameValue(v: Value, newName: string): void {
    if (v.name === newName) return;
    if (this.names.values.has(newName)) throw new UserError('duplicate-name', `cannot rename '${v.name}' to '${newName}': the name is taken`);
    const g = v.graph;
    g.scope.delete(v.name);
    this.names.values.delete(v.name);
    v._name = newName;
    g.scope.set(newName, v);
    this.names.values.add(newName);
  }

  /** Create a node; its outputs are new values. */
  addNode(spec: NodeSpec): Node {
    const name = this.uniqueNodeName(spec.name ?? spec.opType);
    this.names.nodes.add(name);
    const outNames = typeof spec.outputs === 'number' || spec.outputs === undefined ? Array.from({ length: spec.outputs ?? 1 }, (_, i) => `${name}_out${i === 0 ? '' : i}`) : spec.outputs;
    const outs = outNames.map((o) => this.define(this.uniqueValueName(o), `output of new node '${name}'`));
    const attrs = Array.isArray(spec.attributes)
      ? spec.attributes
      : Object.entries(spec.attributes ?? {}).map(([k, v]) => makeAttribute(k, v));
    const proto: NodeProto = {
      input: spec.inputs.map((v) => (v ? v.name : '')),
      output: outs.map((o) => o.name),
      name,
      op_type: spec.opType,
    };
    if (spec.domain) proto.domain = spec.domain;
    if (attrs.length > 0) proto.attribute = attrs;
    const node = new Node(this, proto);
    node._setOutputs(outs);
    node._setInputs(spec.inputs);
    let at: number;
    if (spec.before) at = this.nodes.indexOf(spec.before);
    else if (spec.after) at = this.nodes.indexOf(spec.after) + 1;
    else {
      at = 0;
      for (const v of spec.inputs) {
        const p = v?.producer();
        if (p && p.graph === this) at = Math.max(at, this.nodes.indexOf(p) + 1);
      }
      if (spec.inputs.every((v) => !v?.producer() || v.producer()!.graph !== this)) {
        // inputs are graph inputs/initializers: place before the first reader of any input
        const first = this.nodes.findIndex((n) => n.inputs.some((x) => x && spec.inputs.includes(x)));
        at = first >= 0 ? first : this.nodes.length;
      }
    }
    if (at < 0) throw new Error('internal: anchor node not in this graph');
    this.nodes.splice(at, 0, node);
    return node;
  }

  /** Make every reader of `old` (node inputs, graph outputs) read `replacement` instead. */
  replaceAllUses(old: Value, replacement: Value, opts: { except?: ReadonlySet<Node> } = {}): void {
    for (const u of [...old.uses()]) {
      if (opts.except?.has(u.node)) continue;
      u.node.setInput(u.index, replacement);
    }
    old.graph.outputs = old.graph.outputs.map((o) => (o === old ? replacement : o));
    for (const n of old.graph.allNodes()) {
      for (const sg of n.subgraphs) sg.outputs = sg.outputs.map((o) => (o === old ? replacement : o));
    }
  }

  /**
   * Insert nodes on the edge leaving `v`: `build` receives `v` and returns the value that replaces
   * it for the readers that existed before (default: all of them). When `v` is a graph output,
   * the output keeps its name (the two values swap names).
   */
  insertOnEdge(v: Value, build: (input: Value) => Value, opts: { readers?: readonly Use[] } = {}): Value {
    const readers = [...(opts.readers ?? v.uses())];
    const wasOutput = v.graph.outputs.includes(v);
    const w = build(v);
    if (w === v) return v;
    for (const u of readers) u.node.setInput(u.index, w);
    if (wasOutput && !opts.readers) {
      const g = v.graph;
      g.outputs = g.outputs.map((o) => (o === v ? w : o));
      const keep = v.name;
      const tmp = this.uniqueValueName(`${keep}_pre`);
      this.renameValue(v, tmp);
      this.renameValue(w, keep);
    }
    return w;
  }

  /**
   * Remove a node. With `rewire`, a one-input node's readers are connected to its input first;
   * otherwise its outputs must have no readers left.
   */
  removeNode(node: Node, opts: { rewire?: boolean } = {}): void {
    if (node.graph !== this) throw new Error('internal: node belongs to another graph');
    if (opts.rewire) {
      const input = node.inputs.find((v) => v !== null) ?? null;
      const out = node.outputs.find((v) => v !== null) ?? null;
      if (!input || !out) throw new UserError('cannot-rewire', `node '${node.label}' has no input/output pair to wire through`);
      this.replaceAllUses(out, input);
    }
    for (const o of node.outputs) {
      if (o && (o.uses().length > 0 || this.outputs.includes(o))) {
        throw new UserError('still-used', `cannot remove node '${node.label}': its output '${o.name}' is still read`);
      }
    }
    node._detach();
    this.nodes.splice(this.nodes.indexOf(node), 1);
    for (const o of node.outputs) if (o) this.forget(o);
    if (node.name) this.names.nodes.delete(node.name);
  }

  /**
   * Remove a set of nodes whose outputs nothing outside the set reads: one pass over the node
   * list and over each touched use list, where removing them one by one costs a list search per
   * node and per input (quadratic for a long dead chain, or a constant read by many nodes).
   */
  removeNodes(dead: ReadonlySet<Node>): void {
    if (dead.size === 0) return;
    const outputs = new Set(this.outputs);
    const touched = new Set<Value>();
    const gone = new Set<Value>();
    for (const node of dead) {
      if (node.graph !== this) throw new Error('internal: node belongs to another graph');
      for (const o of node.outputs) {
        if (!o) continue;
        if (outputs.has(o) || o.uses().some((u) => !dead.has(u.node))) {
          throw new UserError('still-used', `cannot remove node '${node.label}': its output '${o.name}' is still read`);
        }
        gone.add(o);
      }
      for (const v of node.inputs) if (v) touched.add(v);
    }
    for (const v of touched) {
      const uses = v._uses;
      let k = 0;
      for (const u of uses) if (!dead.has(u.node)) uses[k++] = u;
      uses.length = k;
    }
    for (const node of dead) {
      node._unlinkForBatch();
      if (node.name) this.names.nodes.delete(node.name);
    }
    this.nodes = this.nodes.filter((n) => !dead.has(n));
    for (const o of gone) {
      if (this.scope.get(o.name) === o) {
        this.scope.delete(o.name);
        this.names.values.delete(o.name);
      }
      this.inputInfo.delete(o);
    }
    this.initializerOrder = this.initializerOrder.filter((x) => !gone.has(x));
    this.inputs = this.inputs.filter((x) => !gone.has(x));
  }

  /** Drop a value that nothing produces or reads from the scope. @internal */
  forget(v: Value): void {
    if (this.scope.get(v.name) === v) {
      this.scope.delete(v.name);
      this.names.values.delete(v.name);
    }
    this.initializerOrder = this.initializerOrder.filter((x) => x !== v);
    this.inputs = this.inputs.filter((x) => x !== v);
    this.inputInfo.delete(v);
  }

  /** Add a graph input (a new value with the given ValueInfoProto). */
  addInput(info: ValueInfoProto): Value {
    const v = this.define(info.name ?? this.uniqueValueName('input'), `graph input '${info.name}'`);
    v.info = info;
    this.inputs.push(v);
    this.inputInfo.set(v, info);
    return v;
  }

  // -------------------------------------------------------------------------------------------
  // Writing back

  /** Write the current nodes, values and links into `this.proto` (in place) and return it. */
  syncProto(): GraphProto {
    const p = this.proto;
    for (const n of this.nodes) {
      syncNames(n.proto, 'input', n.inputs);
      syncNames(n.proto, 'output', n.outputs);
      for (const sg of n.subgraphs) sg.syncProto();
    }
    setIfChanged(p, 'node', this.nodes.map((n) => n.proto));
    setIfChanged(
      p,
      'initializer',
      this.initializers().map((v) => {
        const t = v.initializer!;
        if (t.name !== v.name) v.initializer = { ...t, name: v.name };
        return v.initializer!;
      }),
    );
    setIfChanged(p, 'input', this.inputs.map((v) => renamed(this.inputInfo.get(v) ?? v.info ?? { name: v.name, ...(v.type ? { type: v.type } : {}) }, v.name)));
    setIfChanged(
      p,
      'output',
      this.outputs.map((v, i) => {
        const info = this.outputInfo[i] ?? { name: v.name, ...(v.type ? { type: v.type } : {}) };
        return renamed(info, v.name);
      }),
    );
    this.outputInfo = p.output ?? [];
    setIfChanged(
      p,
      'value_info',
      this.valueInfo
        .filter((e) => !e.value || this.scope.get(e.value.name) === e.value)
        .map((e) => (e.value ? renamed(e.proto, e.value.name) : e.proto)),
    );
    return p;
  }

  /** Set (or add) the value_info entry describing `v`. */
  setValueInfo(v: Value, info: ValueInfoProto): void {
    const e = this.valueInfo.find((x) => x.value === v);
    const proto = { ...info, name: v.name };
    if (e) e.proto = proto;
    else this.valueInfo.push({ proto, value: v });
    v.info = proto;
  }

  toString(): string {
    return `Graph('${this.name}', ${this.nodes.length} nodes)`;
  }
}

function renamed(info: ValueInfoProto, name: string): ValueInfoProto {
  return info.name === name ? info : { ...info, name };
}

function syncNames(proto: NodeProto, field: 'input' | 'output', values: readonly (Value | null)[]): void {
  const names = values.map((v) => (v ? v.name : ''));
  const cur = proto[field] ?? [];
  if (cur.length === names.length && cur.every((n, i) => n === names[i])) return;
  proto[field] = names;
}

function setIfChanged<K extends 'node' | 'initializer' | 'input' | 'output' | 'value_info'>(p: GraphProto, key: K, next: NonNullable<GraphProto[K]>): void {
  const cur = (p[key] ?? []) as unknown[];
  const arr = next as unknown[];
  if (cur.length === arr.length && cur.every((x, i) => x === arr[i])) return;
  if (arr.length === 0 && p[key] === undefined) return;
  (p as Record<string, unknown>)[key] = arr;
}

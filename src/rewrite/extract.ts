/**
 * extract: the subgraph between given tensors. Its inputs are the given tensors (cut from their
 * producers), its outputs the given tensors; it holds every node on a path from the inputs (or
 * from constants) to the outputs, and the initializers those nodes read. Inputs and outputs get
 * their element types and shapes from shape inference on the original model. Kept nodes,
 * initializers and value_info entries are the original protos (byte-identical).
 *
 * Returns a new Model (the original is not modified).
 */
import { inferShapes } from '../analysis/shapes/infer.js';
import { UserError } from '../errors.js';
import type { Graph } from '../ir/graph.js';
import { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import type { PassResult } from '../ir/passes/pass.js';
import type { Value } from '../ir/value.js';
import { dataTypeName } from '../onnx/data-types.js';
import type { ValueInfoProto } from '../onnx/proto-types.js';
import type { Dim } from '../analysis/shapes/types.js';
import { showShape, typeFromInfo } from './util.js';

export interface ExtractOptions {
  /** Tensors that become the graph inputs. */
  inputs: readonly string[];
  /** Tensors that become the graph outputs. */
  outputs: readonly string[];
  /** Input shapes for the original model's inference (its dynamic inputs). */
  inputShapes?: Record<string, Dim[]>;
  /** Use ONNX Runtime for shapes no static rule gives (default true). */
  probe?: boolean;
}

/** Values of `graph` a node reads, including reads from inside its subgraphs. */
export function nodeDependencies(node: Node): Value[] {
  const graph = node.graph;
  const deps: Value[] = [];
  for (const v of node.inputs) if (v && v.graph === graph) deps.push(v);
  const visit = (g: Graph): void => {
    for (const n of g.nodes) {
      for (const v of n.inputs) if (v && v.graph === graph) deps.push(v);
      n.subgraphs.forEach(visit);
    }
    for (const v of g.outputs) if (v.graph === graph) deps.push(v);
  };
  node.subgraphs.forEach(visit);
  return deps;
}

function mainValue(graph: Graph, name: string, role: string): Value {
  const v = graph.lookup(name);
  if (!v || v.graph !== graph) {
    throw new UserError('no-such-value', `${role} '${name}' is not a tensor of the main graph`);
  }
  return v;
}

export async function extract(model: Model, opts: ExtractOptions): Promise<PassResult> {
  const g = model.graph;
  if (opts.inputs.length === 0 && opts.outputs.length === 0) throw new UserError('usage', 'extract needs at least one output tensor');
  if (opts.outputs.length === 0) throw new UserError('usage', 'extract needs at least one output tensor (--outputs)');
  const inputs = opts.inputs.map((n) => mainValue(g, n, '--inputs names'));
  const outputs = opts.outputs.map((n) => mainValue(g, n, '--outputs names'));
  for (const v of inputs) {
    if (v.isInitializer) throw new UserError('bad-cut', `input '${v.name}' is an initializer (a constant); cut at a computed tensor or a graph input`);
  }
  const dup = (xs: Value[]): Value | undefined => xs.find((v, i) => xs.indexOf(v) !== i);
  const d = dup(inputs) ?? dup(outputs);
  if (d) throw new UserError('bad-cut', `tensor '${d.name}' is named twice`);

  // backward closure from the outputs, stopping at the cut inputs
  const cut = new Set(inputs);
  const needed = new Set<Node>();
  const inits = new Set<Value>();
  const reason = new Map<Value, Value>();
  const stack: Value[] = [...outputs];
  for (const o of outputs) reason.set(o, o);
  const seen = new Set<Value>();
  while (stack.length > 0) {
    const v = stack.pop()!;
    if (seen.has(v)) continue;
    seen.add(v);
    if (cut.has(v)) continue;
    if (v.isInitializer) {
      inits.add(v);
      continue;
    }
    const p = v.producer();
    if (!p) {
      throw new UserError(
        'bad-cut',
        `output '${reason.get(v)!.name}' depends on graph input '${v.name}', which is not among the inputs; add it to --inputs or choose other tensors`,
      );
    }
    if (needed.has(p)) continue;
    needed.add(p);
    for (const x of nodeDependencies(p)) {
      if (!reason.has(x)) reason.set(x, reason.get(v)!);
      stack.push(x);
    }
  }
  for (const v of inputs) {
    const p = v.producer();
    if (p && needed.has(p)) {
      throw new UserError(
        'bad-cut',
        `input '${v.name}' is also computed inside the subgraph (node '${p.label}' is needed for output '${reason.get(v)?.name ?? '?'}'); add that node's inputs to --inputs instead`,
      );
    }
  }

  const shapes = await inferShapes(model, { ...(opts.inputShapes ? { inputShapes: opts.inputShapes } : {}), probe: opts.probe ?? true });
  const copy = model.clone();
  const proto = copy.proto.graph!;
  const keepNodes = g.nodes.map((n) => needed.has(n));
  proto.node = (proto.node ?? []).filter((_, i) => keepNodes[i]);
  const keepInit = new Set([...inits].map((v) => v.name));
  proto.initializer = (proto.initializer ?? []).filter((t) => keepInit.has(t.name ?? ''));
  const info = (v: Value, existing: ValueInfoProto | undefined): ValueInfoProto => {
    if (existing) return existing;
    const type = typeFromInfo(shapes.get(v)) ?? v.type;
    if (!type) throw new UserError('no-type', `cannot tell the type of '${v.name}'; the extracted model needs it`);
    return { name: v.name, type };
  };
  const origInputs = new Map((proto.input ?? []).map((e) => [e.name ?? '', e]));
  const origOutputs = new Map((proto.output ?? []).map((e) => [e.name ?? '', e]));
  proto.input = inputs.map((v) => info(v, v.isGraphInput ? origInputs.get(v.name) : undefined));
  proto.output = outputs.map((v) => info(v, v.isGraphOutput ? origOutputs.get(v.name) : undefined));
  const ioNames = new Set([...inputs, ...outputs].map((v) => v.name));
  const kept = new Set<string>();
  for (const n of needed) for (const o of n.outputs) if (o) kept.add(o.name);
  if (proto.value_info) proto.value_info = proto.value_info.filter((e) => kept.has(e.name ?? '') && !ioNames.has(e.name ?? ''));
  const src: { path?: string; dir?: string; sourceFiles: Set<string> } = { sourceFiles: new Set(model.sourceFiles) };
  if (model.path) src.path = model.path;
  if (model.dir) src.dir = model.dir;
  const result = new Model(copy.proto, src);
  result.graph.toposort();

  const changes = [`kept ${needed.size} of ${g.nodes.length} nodes and ${inits.size} of ${g.initializers().length} initializers`];
  for (const v of result.graph.inputs) changes.push(`input '${v.name}': ${describe(v)}`);
  for (const v of result.graph.outputs) changes.push(`output '${v.name}': ${describe(v)}`);
  for (const v of inputs) {
    if (!outputs.includes(v) && v.uses().filter((u) => needed.has(u.node)).length === 0) changes.push(`note: input '${v.name}' is not read by the subgraph`);
  }
  return { model: result, modified: true, changes };
}

function describe(v: Value): string {
  const elem = v.type?.tensor_type?.elem_type;
  return `${elem === undefined ? '?' : dataTypeName(elem)} ${showShape(v.declaredShape)}`;
}

/**
 * One pass of static shape inference over the main graph: graph inputs and initializers seed
 * the map, then every node in topological order gets its outputs from its rule; outputs no rule
 * can shape come from the model's declared value_info, then from `fallback` (probed shapes).
 */
import { UserError } from '../../errors.js';
import type { Model } from '../../ir/model.js';
import type { Node } from '../../ir/node.js';
import type { Value } from '../../ir/value.js';
import { formatShape, isCompleteShape } from './dims.js';
import { shapeRule } from '../../ops/registry.js';
import { ShapeMap } from './shape-map.js';
import { symbolForParam } from './symbolic.js';
import { tensorShapeInfo } from './tensor-info.js';
import type { Dim, RuleContext, ShapeInfo } from './types.js';

export interface PropagateOptions {
  /** Shapes for graph inputs, replacing the declared ones. */
  inputShapes?: Record<string, Dim[]>;
  /** Shapes to use for values no rule can shape (e.g. from the probe). */
  fallback?: ReadonlyMap<string, ShapeInfo>;
}

export function propagate(model: Model, opts: PropagateOptions = {}): ShapeMap {
  const graph = model.graph;
  const map = new Map<string, ShapeInfo>();
  const notes: string[] = [];
  const given = checkInputShapes(model, opts.inputShapes ?? {}, notes);
  for (const v of graph.initializers()) {
    if (given.has(v.name)) continue;
    try {
      map.set(v.name, tensorShapeInfo(v.initializer!, 'initializer'));
    } catch {
      // unreadable payload (e.g. external data not found): the dims are still good
      map.set(v.name, { elemType: v.initializer!.data_type, shape: (v.initializer!.dims ?? []).map(Number), source: 'initializer' });
    }
  }
  for (const v of graph.inputs) {
    if (map.has(v.name)) continue;
    const shape = given.get(v.name) ?? declaredShape(v, (i) => `${symbolForParam(v.name).replace(/[^A-Za-z0-9_]/g, '_')}_dim${i}`);
    map.set(v.name, { elemType: v.elemType, shape, source: 'graph-input' });
  }
  let unknowns = 0;
  const ctxFor = (node: Node): RuleContext => ({
    opset: model.opsetVersion(node.domain) ?? 1,
    fresh: () => `?${++unknowns}`,
  });
  for (const node of topoOrder(model)) {
    const inputs = node.inputs.map((v) => (v ? map.get(v.name) : undefined));
    const rule = node.subgraphs.length === 0 ? shapeRule(node.opType, node.domain) : undefined;
    const results = rule?.(node, inputs, ctxFor(node));
    node.outputs.forEach((o, i) => {
      if (!o) return;
      const info = settle(o, results?.[i], node, opts.fallback, notes);
      if (info) map.set(o.name, info);
    });
  }
  return new ShapeMap(map, notes);
}

/** Pick the best available info for a node output. */
function settle(o: Value, ruled: ShapeInfo | undefined, node: Node, fallback: ReadonlyMap<string, ShapeInfo> | undefined, notes: string[]): ShapeInfo | undefined {
  const declared = declaredShape(o, () => '?');
  if (ruled && isCompleteShape(ruled.shape)) {
    const info: ShapeInfo = { ...ruled, source: 'rule', rule: node.opType, elemType: ruled.elemType ?? o.elemType };
    if (declared && disagree(declared, ruled.shape)) {
      notes.push(`value '${o.name}': the ${node.opType} rule gives ${formatShape(ruled.shape)} but the model declares ${formatShape(declared)}`);
    }
    return info;
  }
  if (isCompleteShape(declared)) return { elemType: o.elemType ?? ruled?.elemType, shape: declared, source: 'value-info' };
  const probed = fallback?.get(o.name);
  if (probed) return probed;
  if (ruled) return { ...ruled, source: 'rule', rule: node.opType, elemType: ruled.elemType ?? o.elemType };
  return undefined;
}

function disagree(declared: readonly Dim[], inferred: readonly Dim[]): boolean {
  if (declared.length !== inferred.length) return true;
  return declared.some((d, i) => typeof d === 'number' && typeof inferred[i] === 'number' && d !== inferred[i]);
}

/** The declared shape with anonymous dims named by `anon(i)`; undefined when the rank is unknown. */
function declaredShape(v: Value, anon: (i: number) => string): Dim[] | undefined {
  const shape = v.declaredShape;
  if (!shape) return undefined;
  return shape.map((d, i) => (d === undefined ? anon(i) : typeof d === 'string' ? symbolForParam(d) : d));
}

function checkInputShapes(model: Model, shapes: Record<string, Dim[]>, notes: string[]): Map<string, Dim[]> {
  const out = new Map<string, Dim[]>();
  const inputs = new Map(model.graph.inputs.map((v) => [v.name, v]));
  for (const [name, dims] of Object.entries(shapes)) {
    const v = inputs.get(name);
    if (!v) {
      throw new UserError('no-such-input', `inputShapes names '${name}', which is not a graph input (inputs: ${[...inputs.keys()].join(', ')})`);
    }
    if (!Array.isArray(dims) || dims.some((d) => (typeof d === 'number' ? !Number.isSafeInteger(d) || d < 0 : typeof d !== 'string' || d === ''))) {
      throw new UserError('bad-input-shape', `inputShapes['${name}'] must be a list of non-negative integers or symbol names`);
    }
    const declared = v.declaredShape;
    if (declared && declared.length !== dims.length) {
      throw new UserError('bad-input-shape', `inputShapes['${name}'] is ${formatShape(dims)} but the model declares rank ${declared.length}: ${formatShape(declared.map((d) => d ?? '?'))}`);
    }
    if (declared?.some((d, i) => typeof d === 'number' && d !== dims[i])) {
      notes.push(`inputShapes['${name}'] ${formatShape(dims)} overrides the declared ${formatShape(declared.map((d) => d ?? '?'))}`);
    }
    out.set(name, dims.map((d) => (typeof d === 'string' ? symbolForParam(d) : d)));
  }
  return out;
}

/** Nodes of the main graph in a topological order (the file's order where it is one). */
function topoOrder(model: Model): Node[] {
  const done = new Set<Node>();
  const order: Node[] = [];
  for (const root of model.graph.nodes) {
    if (done.has(root)) continue;
    // iterative depth-first walk over producers (the graph is known to be acyclic)
    const stack: { node: Node; next: number }[] = [{ node: root, next: 0 }];
    const onStack = new Set<Node>([root]);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const inputs = top.node.inputs;
      if (top.next < inputs.length) {
        const p = inputs[top.next++]?.producer();
        if (p && p.graph === model.graph && !done.has(p) && !onStack.has(p)) {
          stack.push({ node: p, next: 0 });
          onStack.add(p);
        }
        continue;
      }
      stack.pop();
      onStack.delete(top.node);
      done.add(top.node);
      order.push(top.node);
    }
  }
  return order;
}

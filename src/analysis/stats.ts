/**
 * Model statistics: parameter counts and multiply-accumulate counts (MACs) of the compute-heavy
 * ops, from inferred shapes. Symbolic dims (e.g. the batch) count as 1.
 */
import type { Graph } from '../ir/graph.js';
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import { tensorElementCount } from '../onnx/tensor-data.js';
import type { Dim, ShapeInfo } from './shapes/types.js';

export interface ShapeLookup {
  get(v: { name: string } | string): ShapeInfo | undefined;
}

function concrete(shape: Dim[] | undefined): number[] | undefined {
  if (!shape) return undefined;
  return shape.map((d) => (typeof d === 'number' ? d : 1));
}

function prod(a: number[]): number {
  return a.reduce((x, y) => x * y, 1);
}

/** Elements of all initializers of the graph (and its subgraphs). */
export function parameterCount(graph: Graph): number {
  let n = 0;
  const seen = new Set<unknown>();
  const visit = (g: Graph): void => {
    for (const v of g.initializers()) {
      if (seen.has(v)) continue;
      seen.add(v);
      n += tensorElementCount(v.initializer!);
    }
    for (const node of g.nodes) node.subgraphs.forEach(visit);
  };
  visit(graph);
  return n;
}

/**
 * Parameters a node owns: elements of the initializers it reads, directly or through nodes that
 * only transform constants (DequantizeLinear of a quantized weight, Cast, Identity, Reshape...).
 */
export function nodeParams(node: Node): number {
  let n = 0;
  const seen = new Set<Value>();
  const visit = (v: Value | null, depth: number): boolean => {
    if (!v) return true;
    if (v.initializer) {
      if (!seen.has(v)) {
        seen.add(v);
        n += tensorElementCount(v.initializer);
      }
      return true;
    }
    const p = v.producer();
    if (!p || depth > 8) return false;
    if (p.opType === 'Constant') return true;
    const before = n;
    const constant = p.inputs.every((x) => visit(x, depth + 1));
    if (!constant) n = before;
    return constant;
  };
  for (const v of node.inputs) {
    if (v && !v.initializer && v.producer()) {
      const before = n;
      if (!visit(v, 0)) n = before;
    } else if (v?.initializer) visit(v, 0);
  }
  return n;
}

/** MACs of one node, or 0 for ops whose cost is not counted (elementwise, pooling...). */
export function nodeMacs(node: Node, shapes: ShapeLookup): number {
  const shapeOf = (i: number, out = false): number[] | undefined => {
    const v = out ? node.output(i) : node.input(i);
    return v ? concrete(shapes.get(v)?.shape) : undefined;
  };
  switch (node.opType) {
    case 'Conv': {
      const w = shapeOf(1);
      const y = shapeOf(0, true);
      if (!w || !y) return 0;
      return prod(y) * prod(w.slice(1));
    }
    case 'ConvTranspose': {
      const w = shapeOf(1);
      const x = shapeOf(0);
      if (!w || !x) return 0;
      return prod(x) * prod(w.slice(1));
    }
    case 'Gemm': {
      const a = shapeOf(0);
      const y = shapeOf(0, true);
      if (!a || !y || a.length !== 2) return 0;
      const k = node.attrInt('transA', 0) ? a[0]! : a[1]!;
      return prod(y) * k;
    }
    case 'MatMul': {
      const a = shapeOf(0);
      const y = shapeOf(0, true);
      if (!a || !y || a.length === 0) return 0;
      return prod(y) * a[a.length - 1]!;
    }
    default:
      return 0;
  }
}

export function totalMacs(graph: Graph, shapes: ShapeLookup): number {
  let n = 0;
  for (const node of graph.nodes) n += nodeMacs(node, shapes);
  return n;
}

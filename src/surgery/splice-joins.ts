/**
 * Why a splice that changes a feature map's spatial size breaks the model: the first join node
 * (Concat, Add, Mul, MatMul of a bilinear pooling, a Resize to a sibling's size, ...) that reads
 * both a value computed from a resized block output and a value from another branch that kept its
 * size, with the sibling branch's edge at the same resolution (the place to splice too).
 */
import type { ShapeMap } from '../analysis/shapes/infer.js';
import type { Graph } from '../ir/graph.js';
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';

export interface ResizedBlock {
  /** The block's output, the edge it was spliced on, and the edge's H x W. */
  output: Value;
  edge: Value;
  size: readonly [number, number];
}

export interface BrokenJoin {
  /** The block whose output reaches the join. */
  block: ResizedBlock;
  node: Node;
  /** An input from the untouched branch. */
  sibling: Value;
  /** The sibling branch's [N,C,H,W] value at the spliced edge's original H x W, if one is found. */
  siblingEdge?: Value;
}

/** Values computed (transitively) from `roots`, in graph order. */
function downstream(graph: Graph, roots: readonly Value[]): Set<Value> {
  const out = new Set<Value>(roots);
  for (const n of graph.nodes) if (n.inputs.some((v) => v && out.has(v))) for (const o of n.outputs) if (o) out.add(o);
  return out;
}

const isConstant = (v: Value): boolean => v.isInitializer || v.producer()?.opType === 'Constant';

/** The node an inference or ONNX Runtime error names (`node 'label'`, or `Name:'name'`), if any. */
export function namedNode(graph: Graph, message: string): Node | undefined {
  return graph.nodes.find((n) => message.includes(`node '${n.label}'`) || (n.name !== '' && message.includes(`Name:'${n.name}'`)));
}

/**
 * The join that a resizing splice breaks: `failed` (the node whose shape check failed) when it
 * reads both a value computed from a resized block output and a value computed on another branch
 * (an activation, or a shape taken from one); without `failed`, the first node in graph order
 * that reads a resized value and an activation of rank >= 2 from another branch. `before` holds the shapes
 * of the model before the splice (by value name).
 */
export function findBrokenJoin(graph: Graph, resized: readonly ResizedBlock[], before: ShapeMap, failed?: Node): BrokenJoin | undefined {
  const tainted = downstream(graph, resized.map((b) => b.output));
  const rankOf = (v: Value): number => before.get(v.name)?.shape?.length ?? 0;
  for (const node of failed ? [failed] : graph.nodes) {
    const ins = node.inputs.filter((v): v is Value => v !== null);
    if (!ins.some((v) => tainted.has(v))) continue;
    // the failed node may read the sibling's size (a Reshape's shape computed from it); elsewhere an activation
    const sibling = ins.find((v) => !tainted.has(v) && !isConstant(v) && (failed !== undefined || rankOf(v) >= 2) && !v.isGraphInput && v.producer() !== undefined);
    if (!sibling) continue;
    const block = resized.find((b) => ins.some((v) => downstream(graph, [b.output]).has(v))) ?? resized[0]!;
    // the sibling branch's value at the edge's resolution: the nearest one up from the sibling input
    const mine = new Set(resized.map((b) => b.edge));
    const seen = new Set<Value>();
    const queue = [sibling];
    let siblingEdge: Value | undefined;
    while (queue.length > 0 && !siblingEdge) {
      const v = queue.shift()!;
      if (seen.has(v) || mine.has(v)) continue;
      seen.add(v);
      const s = before.get(v.name)?.shape;
      if (s?.length === 4 && s[2] === block.size[0] && s[3] === block.size[1] && !v.isGraphInput) siblingEdge = v;
      for (const i of v.producer()?.inputs ?? []) if (i && !isConstant(i)) queue.push(i);
    }
    return { block, node, sibling, ...(siblingEdge ? { siblingEdge } : {}) };
  }
  return undefined;
}

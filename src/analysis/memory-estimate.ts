/**
 * A static estimate of the memory an ONNX Runtime session on a model needs for given input
 * shapes, from the static shape inference: the initializers' bytes plus the peak of the
 * activation bytes alive at once, walking the main graph in order and freeing each intermediate
 * after its last reader (what ORT's allocation planner does with optimisations disabled). Values
 * whose shape the rules cannot decide are counted as unknown, not as zero-sized silently.
 *
 * Sessions on untrusted graphs are checked against this before ORT allocates anything
 * (src/runtime/memory-limit.ts), so a 1 KB graph that expands to billions of elements is refused.
 */
import { UserError } from '../errors.js';
import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import { dataTypeInfo } from '../onnx/data-types.js';
import { tensorByteLength } from '../onnx/tensor-data.js';
import type { MemoryEstimate } from '../runtime/memory-limit.js';
import { propagate } from './shapes/propagate.js';
import type { ShapeMap } from './shapes/shape-map.js';
import type { Dim } from './shapes/types.js';

export type { MemoryEstimate };

export interface MemoryEstimateOptions {
  /** Concrete shapes for graph inputs; symbolic dims left open are taken as 1 (as the probe does). */
  inputShapes?: Record<string, Dim[]>;
}

/** Bytes of a value from its inferred shape and type; undefined when either is unknown. */
function valueBytes(shapes: ShapeMap | undefined, v: Value): number | undefined {
  const info = shapes?.get(v);
  const type = dataTypeInfo(info?.elemType ?? v.elemType);
  const shape = info?.shape;
  if (!type || type.bits === 0 || !shape || shape.some((d) => typeof d !== 'number')) return undefined;
  const count = (shape as number[]).reduce((a, b) => a * b, 1);
  return Math.ceil((count * type.bits) / 8);
}

/** The node of the main graph that contains `n` (itself, or the If/Loop/Scan holding it). */
function topLevel(n: Node, main: Model['graph']): Node {
  let node = n;
  while (node.graph !== main && node.graph.owner) node = node.graph.owner;
  return node;
}

export function estimateMemory(model: Model, opts: MemoryEstimateOptions = {}): MemoryEstimate {
  const g = model.graph;
  const inputShapes: Record<string, Dim[]> = {};
  for (const v of g.inputs) {
    if (v.isInitializer) continue;
    const dims = opts.inputShapes?.[v.name] ?? v.declaredShape;
    if (dims) inputShapes[v.name] = dims.map((d) => (typeof d === 'number' ? d : 1));
  }
  let shapes: ShapeMap | undefined;
  try {
    shapes = propagate(model, { inputShapes });
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    shapes = undefined; // inconsistent shapes: nothing is known; ORT will refuse the model itself
  }
  let initializerBytes = 0;
  for (const v of g.initializers()) initializerBytes += tensorByteLength(v.initializer!);
  const order = g.nodes;
  const index = new Map<Node, number>(order.map((n, i) => [n, i]));
  const outputs = new Set(g.outputs);
  const lastUse = (v: Value): number => {
    if (outputs.has(v)) return Infinity;
    let last = -1;
    for (const u of v.uses()) last = Math.max(last, index.get(topLevel(u.node, g)) ?? -1);
    return last;
  };
  const freeAt = new Map<number, number>();
  let unknownValues = 0;
  let live = 0;
  for (const v of g.inputs) {
    if (v.isInitializer) continue;
    const b = valueBytes(shapes, v);
    if (b === undefined) unknownValues++;
    else live += b;
  }
  let peak = live;
  let sum = 0;
  order.forEach((n, i) => {
    for (const o of n.outputs) {
      if (!o) continue;
      const b = valueBytes(shapes, o);
      if (b === undefined) {
        unknownValues++;
        continue;
      }
      live += b;
      sum += b;
      const last = lastUse(o);
      const at = last < i ? i : last;
      if (Number.isFinite(at)) freeAt.set(at, (freeAt.get(at) ?? 0) + b);
    }
    peak = Math.max(peak, live);
    live -= freeAt.get(i) ?? 0;
  });
  return { bytes: initializerBytes + peak, initializerBytes, peakActivationBytes: peak, sumActivationBytes: sum, unknownValues };
}

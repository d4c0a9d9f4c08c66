/**
 * The post-splice shape check's model: a parametric Cayley block computes Q (n (n/2+1) inverses of
 * Cmid x Cmid complex matrices) on every run, minutes at the paper's sizes, yet the check only asks
 * whether the ops after the block accept its output shape. So the check runs a copy of the model
 * in which the orthogonal conv's output [N, C, n, n] is replaced by a crop of the pooled block
 * input [N, C, s, s] (same shape: n = s, or s - 2 after an unpadded 3x3 reduce conv), and the Q
 * subgraph is removed. Every value outside the block has the same shape as in the spliced model,
 * so the check is exact for shapes, at the cost of the original model plus a pooling.
 */
import type { Model } from '../ir/model.js';
import { cleanup } from '../ir/passes/cleanup.js';
import { Emitter } from './emit.js';

export interface ShapeStandIn {
  /** The orthogonal conv's output (before an optional resize back to H x W). */
  orthOutput: string;
  /** The pooled block input [N, C, s, s]. */
  pooled: string;
  /** Rows and columns cropped on each side (1 after an unpadded 3x3 reduce conv). */
  crop: number;
  n: number;
}

export function shapeCheckModel(model: Model, s: ShapeStandIn, opset: number, prefix: string): Model {
  const copy = model.clone();
  const g = copy.graph;
  const out = g.value(s.orthOutput);
  const pooled = g.value(s.pooled);
  const e = new Emitter(g, `${prefix}.shape_check`, opset);
  let stand = pooled;
  if (s.crop > 0) {
    const [a, b] = [s.crop, s.crop + s.n];
    stand =
      opset >= 10
        ? e.op('Slice', [pooled, e.i64('starts', [2], [a, a]), e.i64('ends', [2], [b, b]), e.i64('axes', [2], [2, 3])], 'Slice')
        : e.op('Slice', [pooled], 'Slice', { starts: [a, a], ends: [b, b], axes: [2, 3] });
  }
  g.replaceAllUses(out, stand);
  g.toposort();
  cleanup(copy);
  return copy;
}

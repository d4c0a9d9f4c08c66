/**
 * Shape inference: static rules first; values no rule can shape are obtained by running ONNX
 * Runtime once (the probe), after which the rules run again from the probed values.
 */
import type { Model } from '../../ir/model.js';
import { probeValues } from '../shape-probe.js';
import { propagate } from './propagate.js';
import { ShapeMap } from './shape-map.js';
import type { Dim, ShapeInfo } from './types.js';

export { ShapeMap };

export interface InferOptions {
  /** Override graph input shapes, e.g. { input: [1, 3, 64, 64] }. */
  inputShapes?: Record<string, Dim[]>;
  /** Default true: values no rule can shape are obtained from ONNX Runtime. */
  probe?: boolean;
}

export interface StaticInferOptions {
  inputShapes?: Record<string, Dim[]>;
}

/** Rules only (synchronous). Values no rule can shape are absent or have unknown dims. */
export function inferShapesStatic(model: Model, opts: StaticInferOptions = {}): ShapeMap {
  return propagate(model, opts.inputShapes ? { inputShapes: opts.inputShapes } : {});
}

/** Rules, then the probe for whatever they leave open (unless `probe: false`). */
export async function inferShapes(model: Model, opts: InferOptions = {}): Promise<ShapeMap> {
  const base = opts.inputShapes ? { inputShapes: opts.inputShapes } : {};
  const first = propagate(model, base);
  if (opts.probe === false) return first;
  const open: string[] = [];
  for (const v of model.graph.values()) {
    if (v.isGraphInput || v.isInitializer || !v.producer()) continue;
    if (!first.isComplete(v)) open.push(v.name);
  }
  if (open.length === 0) return first;
  const probe = await probeValues(model, open, base);
  const note = `probed with input shapes ${Object.entries(probe.inputShapes)
    .map(([k, s]) => `${k}=[${s.join(', ')}]`)
    .join(', ')}`;
  const fallback = new Map<string, ShapeInfo>();
  for (const [name, p] of probe.values) {
    const info: ShapeInfo = { elemType: p.elemType, shape: p.shape, source: 'probe', note };
    if (p.value) info.value = p.value;
    fallback.set(name, info);
  }
  const second = propagate(model, { ...base, fallback });
  second.notes.push(...probe.notes);
  return second;
}

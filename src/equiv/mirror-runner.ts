/**
 * The mirror as a runner of the equivalence harness: the same feeds as the ONNX Runtime runner,
 * run through the TensorFlow.js mirror of the model, returned in the same form (float64 copies).
 */
import type { HostTensor } from '../differentiable/model.js';
import type { Model } from '../ir/model.js';
import { DataType } from '../onnx/data-types.js';
import { type BackendChoice } from '../mirror/backend.js';
import { Mirror } from '../mirror/mirror.js';
import type { Feed, RunValue } from './runner.js';
import { numericData } from './tensor-values.js';

/** A runner feed as a mirror host tensor (integers to int32, float64/float16 rounded to float32). */
export function feedToHost(f: Feed): HostTensor {
  if (f.elemType === DataType.BOOL) return { dims: f.dims, data: Uint8Array.from(f.data as Uint8Array, (v) => (v ? 1 : 0)) };
  const values = numericData(f.data as ArrayLike<number | bigint>, f.elemType);
  const isFloat = f.elemType === DataType.FLOAT || f.elemType === DataType.DOUBLE || f.elemType === DataType.FLOAT16 || f.elemType === DataType.BFLOAT16;
  return isFloat ? { dims: f.dims, data: Float32Array.from(values) } : { dims: f.dims, data: Int32Array.from(values) };
}

/** Run `model` through its mirror: the graph outputs and the named extra values. */
export async function runMirror(model: Model, feeds: Record<string, Feed>, extra: readonly string[] = [], backend: BackendChoice = 'auto'): Promise<{ values: Map<string, RunValue>; engine: string }> {
  const mirror = await Mirror.create(model, { backend });
  try {
    const host: Record<string, HostTensor> = {};
    for (const [k, f] of Object.entries(feeds)) host[k] = feedToHost(f);
    const wanted = [...new Set([...mirror.outputNames, ...extra])];
    const res = await mirror.forward(host, wanted);
    const out = new Map<string, RunValue>();
    for (const [name, t] of Object.entries(res)) {
      const elemType = t.data instanceof Float32Array ? DataType.FLOAT : t.data instanceof Int32Array ? DataType.INT32 : DataType.BOOL;
      out.set(name, { elemType, dims: t.dims, data: Float64Array.from(t.data) });
    }
    return { values: out, engine: `${mirror.engine}: ${mirror.backend.description}` };
  } finally {
    mirror.dispose();
  }
}

/**
 * Test helper: run a model in ONNX Runtime with chosen intermediate values exposed as outputs,
 * and compare float tensors. (Values, not just shapes: test/helpers/ort-all-values.ts gives shapes.)
 */
import * as ort from 'onnxruntime-node';
import type { Model } from '../../src/ir/model.js';
import { encode } from '../../src/onnx/codec.js';
import type { NodeProto } from '../../src/onnx/proto-types.js';
import { randomFloats } from '../helpers/seeded-random.js';

export interface FloatTensor {
  dims: number[];
  data: Float32Array;
}

/** Run `model` (a copy of it) on `feeds`, returning the named values (graph outputs by default). */
export async function runValues(model: Model, feeds: Record<string, FloatTensor>, names?: string[]): Promise<Record<string, FloatTensor>> {
  const copy = model.clone();
  const g = copy.graph;
  const wanted = names ?? g.outputs.map((v) => v.name);
  for (const n of wanted) {
    const v = g.value(n);
    if (!g.outputs.includes(v)) g.outputs.push(v);
  }
  const session = await ort.InferenceSession.create(copy.toBytes(), { graphOptimizationLevel: 'disabled', logSeverityLevel: 3 });
  try {
    const f: Record<string, ort.Tensor> = {};
    for (const [k, t] of Object.entries(feeds)) f[k] = new ort.Tensor('float32', t.data, t.dims);
    const res = await session.run(f, wanted);
    const out: Record<string, FloatTensor> = {};
    for (const n of wanted) out[n] = { dims: res[n]!.dims.map(Number), data: Float32Array.from(res[n]!.data as Float32Array) };
    return out;
  } finally {
    await session.release();
  }
}

export function randomInput(dims: number[], seed = 11): FloatTensor {
  return { dims, data: randomFloats(seed, dims.reduce((a, b) => a * b, 1)) };
}

export function maxAbs(a: FloatTensor, b: FloatTensor): number {
  if (a.dims.join() !== b.dims.join()) return Infinity;
  let m = 0;
  for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs(a.data[i]! - b.data[i]!));
  return m;
}

export function nodeHex(n: NodeProto): string {
  return Buffer.from(encode(n, 'NodeProto')).toString('hex');
}

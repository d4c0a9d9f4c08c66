/**
 * Running a model file in ONNX Runtime on seeded random float inputs and comparing outputs.
 */
import * as ort from 'onnxruntime-node';
import { randomFloats } from './seeded-random.js';

export type Outputs = Record<string, { dims: readonly number[]; data: Float32Array }>;

interface InputMeta {
  name: string;
  isTensor: boolean;
  type?: string;
  shape?: readonly (number | string)[];
}

/** Seeded float32 inputs for every input of the session (symbolic dims set to 1). */
export function seededInputs(session: ort.InferenceSession, seed: number): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  const meta = (session as unknown as { inputMetadata: readonly InputMeta[] }).inputMetadata;
  meta.forEach((m, i) => {
    if (m.type !== undefined && m.type !== 'float32') throw new Error(`seededInputs: input '${m.name}' is ${m.type}, only float32 supported`);
    const dims = (m.shape ?? []).map((d) => (typeof d === 'number' && d > 0 ? d : 1));
    const n = dims.reduce((a, b) => a * b, 1);
    feeds[m.name] = new ort.Tensor('float32', randomFloats(seed + i, n), dims);
  });
  return feeds;
}

/** Run a model file (external data is resolved beside it) on seeded inputs. */
export function runSeeded(file: string, seed = 1234): Promise<Outputs> {
  return run(file, (s) => seededInputs(s, seed));
}

/** Run a model file on given float32 inputs. */
export function runWithInputs(file: string, inputs: Record<string, { dims: number[]; data: ArrayLike<number> }>): Promise<Outputs> {
  return run(file, () =>
    Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, new ort.Tensor('float32', Float32Array.from(v.data), v.dims)])),
  );
}

async function run(file: string, feeds: (s: ort.InferenceSession) => Record<string, ort.Tensor>): Promise<Outputs> {
  const session = await ort.InferenceSession.create(file, { graphOptimizationLevel: 'disabled' });
  try {
    const res = await session.run(feeds(session));
    const out: Outputs = {};
    for (const name of session.outputNames) {
      const t = res[name]!;
      out[name] = { dims: t.dims, data: Float32Array.from(t.data as Float32Array) };
    }
    return out;
  } finally {
    await session.release();
  }
}

/** Largest absolute difference over all outputs (Infinity when names or shapes differ). */
export function maxAbsDiff(a: Outputs, b: Outputs): number {
  const names = Object.keys(a);
  if (names.length !== Object.keys(b).length) return Infinity;
  let worst = 0;
  for (const n of names) {
    const x = a[n];
    const y = b[n];
    if (!x || !y || x.dims.join() !== y.dims.join() || x.data.length !== y.data.length) return Infinity;
    for (let i = 0; i < x.data.length; i++) {
      const d = Math.abs(x.data[i]! - y.data[i]!);
      if (Number.isNaN(d)) return Infinity;
      if (d > worst) worst = d;
    }
  }
  return worst;
}

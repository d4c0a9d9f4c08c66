/** Test helpers: a one-input model around emitted block parts, run in ONNX Runtime. */
import * as ort from 'onnxruntime-node';
import { Model } from '../../src/ir/model.js';
import type { Value } from '../../src/ir/value.js';
import { Emitter } from '../../src/surgery/emit.js';

export interface Tensor64 {
  shape: number[];
  data: number[];
}

/** Build a model x[shape] -> build(e, x) and run it on `input` (float32). */
export async function runPart(shape: number[], input: ArrayLike<number>, build: (e: Emitter, x: Value) => Value, opset = 13): Promise<{ dims: readonly number[]; data: Float32Array }> {
  const model = new Model({
    ir_version: 8,
    opset_import: [
      { domain: '', version: opset },
      { domain: 'com.microsoft', version: 1 },
    ],
    graph: { name: 'part', input: [{ name: 'x', type: { tensor_type: { elem_type: 1, shape: { dim: shape.map((d) => ({ dim_value: d })) } } } }], output: [] },
  });
  const e = new Emitter(model.graph, 'blk', opset);
  const out = build(e, model.graph.value('x'));
  model.graph.outputs = [out];
  const session = await ort.InferenceSession.create(model.toBytes());
  const res = await session.run({ x: new ort.Tensor('float32', Float32Array.from(input), shape) });
  const t = res[out.name]!;
  return { dims: t.dims, data: t.data as Float32Array };
}

export function maxRelErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]!));
  let err = 0;
  for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i]! - want[i]!));
  return err / (scale || 1);
}

export function l2(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * a[i]!;
  return Math.sqrt(s);
}

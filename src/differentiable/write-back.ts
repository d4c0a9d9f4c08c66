/**
 * Write trained parameter values into the IR, engine-neutral: every `DifferentiableModel` engine
 * reads its parameters out as float32 host arrays and hands them here.
 *
 * Bit-exact: a parameter's new initializer holds exactly the given float32 bits (raw_data, little
 * endian); a parameter whose bits did not change keeps its original initializer (and so its
 * original bytes, whatever its encoding: raw_data, float_data or external data), and nothing else
 * in the model is touched (the IR's save re-encodes only edited messages).
 */
import { UserError } from '../errors.js';
import type { Model } from '../ir/model.js';
import { DataType } from '../onnx/data-types.js';
import type { TensorProto } from '../onnx/proto-types.js';
import { tensorDims, tensorRawBytes } from '../onnx/tensor-data.js';
import { elementCount } from './model.js';
import { notAParameter } from './parameters.js';

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/**
 * Put `values` (parameter name -> float32 data, in the initializer's element order) into `model`.
 * Every name must be a float32 initializer of the main graph with the same element count (checked
 * for all names before anything is written). Returns the names whose initializers were replaced
 * (those whose bits changed), in the order given.
 */
export function writeParameters(model: Model, values: ReadonlyMap<string, Float32Array>): string[] {
  const g = model.graph;
  for (const [name, data] of values) {
    const init = g.lookup(name)?.initializer;
    if (!init || init.data_type !== DataType.FLOAT) throw notAParameter(model, name);
    const n = elementCount(tensorDims(init));
    if (data.length !== n) throw new UserError('parameter-shape', `parameter '${name}' has ${n} elements, the value written back ${data.length}`);
  }
  const written: string[] = [];
  for (const [name, data] of values) {
    const v = g.lookup(name)!;
    const old = v.initializer!;
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    // unchanged bits: keep the original initializer and its bytes
    if (sameBytes(tensorRawBytes(old), bytes)) continue;
    const next: TensorProto = { name: old.name ?? name, dims: [...(old.dims ?? [])], data_type: DataType.FLOAT, raw_data: bytes.slice() };
    if (old.doc_string !== undefined) next.doc_string = old.doc_string;
    v.initializer = next;
    written.push(name);
  }
  return written;
}

/**
 * Tensors as the rest of the toolkit sees them (ONNX data type code, dims, a typed array), and
 * their conversion to and from ONNX Runtime's tensors, so callers never touch ORT types.
 */
import { ORT_TYPE_CODES } from '../onnx/data-types.js';
import type { Ort, OrtTensor } from './ort.js';

export type TensorData =
  | Float32Array
  | Float64Array
  | Uint16Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | string[];

export interface RuntimeTensor {
  /** ONNX data type code (TensorProto.DataType). */
  elemType: number;
  dims: number[];
  /** Row-major contents in the type's natural array (float16/bfloat16 as their bits in a Uint16Array, bool as Uint8Array). */
  data: TensorData;
}

const ORT_NAMES: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(ORT_TYPE_CODES).map(([k, v]) => [v, k]));

/** The ONNX Runtime type name of an ONNX data type code, or undefined when ORT has none. */
export function ortTypeName(elemType: number): string | undefined {
  return ORT_NAMES[elemType];
}

export function toOrtTensor(ort: Ort, t: RuntimeTensor): OrtTensor {
  const type = ORT_NAMES[t.elemType];
  if (type === undefined) throw new TypeError(`ONNX data type ${t.elemType} has no ONNX Runtime tensor type`);
  return new ort.Tensor(type as 'float32', t.data as Float32Array, t.dims);
}

export function fromOrtTensor(t: OrtTensor): RuntimeTensor {
  return { elemType: ORT_TYPE_CODES[t.type] ?? 0, dims: t.dims.map(Number), data: t.data as TensorData };
}

/** Bytes of the tensor's contents (0 for strings). */
export function tensorBytes(t: RuntimeTensor): number {
  return Array.isArray(t.data) ? 0 : t.data.byteLength;
}

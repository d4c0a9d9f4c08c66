/**
 * ONNX tensors (TensorProtos) as tfjs tensors with the mirror's type mapping: float32 -> float32
 * (float64 is accepted and rounded), every integer type -> int32 (values must fit), bool -> bool.
 * tfjs is passed in (`tf`), never imported: nothing under ops/ loads it at run time.
 */
import { UserError } from '../errors.js';
import { DataType, dataTypeName } from '../onnx/data-types.js';
import type { TensorProto } from '../onnx/proto-types.js';
import { tensorDims, tensorTypedData } from '../onnx/tensor-data.js';
import type { Tensor, TF } from './types.js';

/** ONNX element types the mirror can hold, and the tfjs dtype each becomes. */
export const MIRROR_DTYPES: ReadonlyMap<number, 'float32' | 'int32' | 'bool'> = new Map([
  [DataType.FLOAT, 'float32'],
  [DataType.DOUBLE, 'float32'],
  [DataType.INT8, 'int32'],
  [DataType.UINT8, 'int32'],
  [DataType.INT16, 'int32'],
  [DataType.UINT16, 'int32'],
  [DataType.INT32, 'int32'],
  [DataType.INT64, 'int32'],
  [DataType.UINT32, 'int32'],
  [DataType.UINT64, 'int32'],
  [DataType.BOOL, 'bool'],
]);

export const INT_TYPES: readonly number[] = [DataType.INT8, DataType.UINT8, DataType.INT16, DataType.UINT16, DataType.INT32, DataType.INT64, DataType.UINT32, DataType.UINT64];

function toInt32(src: ArrayLike<number | bigint>, where: string): Int32Array {
  const out = new Int32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    const n = typeof v === 'bigint' ? (v > 2147483647n ? 2147483647 : v < -2147483648n ? -2147483648 : Number(v)) : v;
    // INT64_MAX/MIN sentinels (Slice ends, ...) are clamped; other out-of-range values are refused
    if (typeof v === 'bigint' && (v > 2147483647n || v < -2147483648n) && !(v >= 2n ** 62n || v <= -(2n ** 62n))) {
      throw new UserError('mirror-int-range', `${where}: value ${v} does not fit the mirror's int32`);
    }
    out[i] = n;
  }
  return out;
}

/** An ONNX tensor (initializer, Constant attribute, test data) as a tfjs tensor. */
export function protoToTensor(tf: TF, t: TensorProto, where: string): Tensor {
  const type = t.data_type ?? 0;
  const dtype = MIRROR_DTYPES.get(type);
  if (!dtype) throw new UserError('mirror-dtype', `${where}: element type ${dataTypeName(type)} is not supported by the mirror`);
  const dims = tensorDims(t);
  const data = tensorTypedData(t);
  if (dtype === 'float32') return tf.tensor(data instanceof Float32Array ? data : Float32Array.from(data as Float64Array), dims, 'float32');
  if (dtype === 'bool') return tf.tensor(Uint8Array.from(data as Uint8Array, (v) => (v ? 1 : 0)), dims, 'bool');
  return tf.tensor(toInt32(data as ArrayLike<number | bigint>, where), dims, 'int32');
}

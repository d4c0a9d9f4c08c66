/**
 * ONNX TensorProto.DataType: codes, names, element sizes, and which repeated field of TensorProto
 * holds the data when it is not in raw_data.
 */
import { OnnxFormatError } from '../errors.js';

export interface DataTypeInfo {
  code: number;
  name: string;
  /** Bits per element in raw_data (4 for the int4 family, 0 for string). */
  bits: number;
  /** The typed field used when raw_data is absent. */
  field: 'float_data' | 'int32_data' | 'string_data' | 'int64_data' | 'double_data' | 'uint64_data';
}

const T = (code: number, name: string, bits: number, field: DataTypeInfo['field']): DataTypeInfo => ({
  code,
  name,
  bits,
  field,
});

export const DATA_TYPES: readonly DataTypeInfo[] = [
  T(1, 'float32', 32, 'float_data'),
  T(2, 'uint8', 8, 'int32_data'),
  T(3, 'int8', 8, 'int32_data'),
  T(4, 'uint16', 16, 'int32_data'),
  T(5, 'int16', 16, 'int32_data'),
  T(6, 'int32', 32, 'int32_data'),
  T(7, 'int64', 64, 'int64_data'),
  T(8, 'string', 0, 'string_data'),
  T(9, 'bool', 8, 'int32_data'),
  T(10, 'float16', 16, 'int32_data'),
  T(11, 'float64', 64, 'double_data'),
  T(12, 'uint32', 32, 'uint64_data'),
  T(13, 'uint64', 64, 'uint64_data'),
  T(14, 'complex64', 64, 'float_data'),
  T(15, 'complex128', 128, 'double_data'),
  T(16, 'bfloat16', 16, 'int32_data'),
  T(17, 'float8e4m3fn', 8, 'int32_data'),
  T(18, 'float8e4m3fnuz', 8, 'int32_data'),
  T(19, 'float8e5m2', 8, 'int32_data'),
  T(20, 'float8e5m2fnuz', 8, 'int32_data'),
  T(21, 'uint4', 4, 'int32_data'),
  T(22, 'int4', 4, 'int32_data'),
  T(23, 'float4e2m1', 4, 'int32_data'),
];

const BY_CODE = new Map(DATA_TYPES.map((d) => [d.code, d]));

export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
  FLOAT8E4M3FN: 17,
  FLOAT8E4M3FNUZ: 18,
  FLOAT8E5M2: 19,
  FLOAT8E5M2FNUZ: 20,
  UINT4: 21,
  INT4: 22,
  FLOAT4E2M1: 23,
} as const;

export function dataTypeInfo(code: number | undefined): DataTypeInfo | undefined {
  return code === undefined ? undefined : BY_CODE.get(code);
}

/** Info for a known code, or an OnnxFormatError naming where the unknown code was found. */
export function requireDataType(code: number | undefined, where: string): DataTypeInfo {
  const info = dataTypeInfo(code);
  if (!info) throw new OnnxFormatError(`unknown tensor data type ${code ?? '(unset)'} in ${where}`);
  return info;
}

export function dataTypeName(code: number | undefined): string {
  return dataTypeInfo(code)?.name ?? `type${code ?? '?'}`;
}

/** Bytes needed for `count` elements in raw_data. */
export function rawByteLength(info: DataTypeInfo, count: number): number {
  return Math.ceil((count * info.bits) / 8);
}

/** ONNX Runtime's tensor type names -> ONNX data type codes. */
export const ORT_TYPE_CODES: Readonly<Record<string, number>> = Object.freeze({
  float32: DataType.FLOAT,
  float64: DataType.DOUBLE,
  float16: DataType.FLOAT16,
  bfloat16: DataType.BFLOAT16,
  int8: DataType.INT8,
  uint8: DataType.UINT8,
  int16: DataType.INT16,
  uint16: DataType.UINT16,
  int32: DataType.INT32,
  uint32: DataType.UINT32,
  int64: DataType.INT64,
  uint64: DataType.UINT64,
  bool: DataType.BOOL,
  string: DataType.STRING,
});

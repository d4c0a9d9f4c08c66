/**
 * Reading a TensorProto's payload whatever form it is stored in (raw_data, the typed repeated
 * fields, or an external file), as little-endian raw bytes or as a typed array.
 */
import { OnnxFormatError } from '../errors.js';
import { DataType, requireDataType, rawByteLength } from './data-types.js';
import { EXTERNAL_REF, readExternal, type TensorWithRef } from './external-data.js';
import { DataLocation, type TensorProto } from './proto-types.js';
import { splitInt64 } from './wire.js';

export function tensorDims(t: TensorProto): number[] {
  return (t.dims ?? []).map((d) => {
    const n = Number(d);
    if (!Number.isSafeInteger(n) || n < 0) throw new OnnxFormatError(`tensor '${t.name ?? ''}' has an invalid dimension ${String(d)}`);
    return n;
  });
}

export function tensorElementCount(t: TensorProto): number {
  return tensorDims(t).reduce((a, b) => a * b, 1);
}

export function isExternal(t: TensorProto): boolean {
  return t.data_location === DataLocation.EXTERNAL;
}

/** Size of the payload in bytes, without reading it. */
export function tensorByteLength(t: TensorProto): number {
  const ref = (t as TensorWithRef)[EXTERNAL_REF];
  if (ref) return ref.length;
  if (t.raw_data) return t.raw_data.length;
  const info = requireDataType(t.data_type, `tensor '${t.name ?? ''}'`);
  if (info.bits === 0) return (t.string_data ?? []).reduce((s, b) => s + b.length, 0);
  return rawByteLength(info, tensorElementCount(t));
}

/** The payload as little-endian bytes (a view for raw_data, a fresh buffer otherwise). */
export function tensorRawBytes(t: TensorProto): Uint8Array {
  if (isExternal(t)) {
    const ref = (t as TensorWithRef)[EXTERNAL_REF];
    if (!ref) throw new OnnxFormatError(`tensor '${t.name ?? ''}' stores its data externally but the model was not loaded from a file`);
    return readExternal(ref, t.name);
  }
  if (t.raw_data) return t.raw_data;
  const info = requireDataType(t.data_type, `tensor '${t.name ?? ''}'`);
  if (info.bits === 0) throw new OnnxFormatError(`string tensor '${t.name ?? ''}' has no raw byte form`);
  const count = tensorElementCount(t);
  const where = `tensor '${t.name ?? ''}'`;
  // the values must be there before anything is allocated from the dims
  const present = (t[info.field] as ArrayLike<unknown> | undefined)?.length ?? 0;
  const wanted = info.bits === 4 ? Math.ceil(count / 2) : t.data_type === DataType.COMPLEX64 || t.data_type === DataType.COMPLEX128 ? count * 2 : count;
  if (present !== wanted) throw new OnnxFormatError(`${where} has ${present} values for ${count} elements`);
  const out = new Uint8Array(rawByteLength(info, count));
  const dv = new DataView(out.buffer);
  const need = (arr: ArrayLike<unknown> | undefined, n: number): ArrayLike<unknown> => {
    const a = arr ?? [];
    if (a.length !== n) throw new OnnxFormatError(`${where} has ${a.length} values for ${count} elements`);
    return a;
  };
  switch (info.field) {
    case 'float_data': {
      const n = t.data_type === DataType.COMPLEX64 ? count * 2 : count;
      const a = need(t.float_data, n) as ArrayLike<number>;
      for (let i = 0; i < n; i++) dv.setFloat32(i * 4, a[i]!, true);
      break;
    }
    case 'double_data': {
      const n = t.data_type === DataType.COMPLEX128 ? count * 2 : count;
      const a = need(t.double_data, n) as ArrayLike<number>;
      for (let i = 0; i < n; i++) dv.setFloat64(i * 8, a[i]!, true);
      break;
    }
    case 'int64_data': {
      const a = need(t.int64_data, count) as ArrayLike<number | bigint>;
      for (let i = 0; i < count; i++) {
        const [lo, hi] = splitInt64(a[i]!);
        dv.setUint32(i * 8, lo, true);
        dv.setUint32(i * 8 + 4, hi, true);
      }
      break;
    }
    case 'uint64_data': {
      const a = need(t.uint64_data, count) as ArrayLike<number | bigint>;
      const wide = info.bits === 64;
      for (let i = 0; i < count; i++) {
        const [lo, hi] = splitInt64(a[i]!);
        if (wide) {
          dv.setUint32(i * 8, lo, true);
          dv.setUint32(i * 8 + 4, hi, true);
        } else dv.setUint32(i * 4, lo, true);
      }
      break;
    }
    case 'int32_data': {
      if (info.bits === 4) {
        const a = need(t.int32_data, Math.ceil(count / 2)) as ArrayLike<number>;
        for (let i = 0; i < a.length; i++) out[i] = a[i]! & 0xff;
        break;
      }
      const a = need(t.int32_data, count) as ArrayLike<number>;
      for (let i = 0; i < count; i++) {
        const v = a[i]!;
        if (info.bits === 8) out[i] = v & 0xff;
        else if (info.bits === 16) dv.setUint16(i * 2, v & 0xffff, true);
        else dv.setInt32(i * 4, v, true);
      }
      break;
    }
    case 'string_data':
      throw new OnnxFormatError(`${where}: string data has no raw form`);
  }
  return out;
}

export type TypedTensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** The payload as a typed array of the tensor's element type (float16/bfloat16/8-bit floats as raw Uint16/Uint8). */
export function tensorTypedData(t: TensorProto): TypedTensorData {
  requireDataType(t.data_type, `tensor '${t.name ?? ''}'`);
  const raw = tensorRawBytes(t);
  const copy = new Uint8Array(raw.length);
  copy.set(raw);
  const b = copy.buffer;
  switch (t.data_type) {
    case DataType.FLOAT:
      return new Float32Array(b);
    case DataType.DOUBLE:
      return new Float64Array(b);
    case DataType.INT8:
      return new Int8Array(b);
    case DataType.UINT8:
    case DataType.BOOL:
      return new Uint8Array(b);
    case DataType.INT16:
      return new Int16Array(b);
    case DataType.UINT16:
    case DataType.FLOAT16:
    case DataType.BFLOAT16:
      return new Uint16Array(b);
    case DataType.INT32:
      return new Int32Array(b);
    case DataType.UINT32:
      return new Uint32Array(b);
    case DataType.INT64:
      return new BigInt64Array(b);
    case DataType.UINT64:
      return new BigUint64Array(b);
    default:
      return copy;
  }
}

/** Integer payload as numbers (int64 values must be safe integers): shapes, axes, pads. */
export function tensorToNumbers(t: TensorProto): number[] {
  const d = tensorTypedData(t);
  const out: number[] = new Array(d.length);
  for (let i = 0; i < d.length; i++) {
    const v = d[i]!;
    out[i] = typeof v === 'bigint' ? Number(v) : v;
  }
  return out;
}

/**
 * Host tensors (the `DifferentiableModel` interface's plain typed arrays) to and from the runtime
 * layer's tensors, for the ONNX Runtime engine. Into ONNX Runtime, the element type is the one
 * the graph declares for the value fed (an int64 graph input fed as Int32Array is widened); out
 * of it, float types come back as float32, integer types as int32 (values must fit), bool as uint8.
 */
import type { HostTensor } from '../differentiable/model.js';
import { elementCount } from '../differentiable/model.js';
import { UserError } from '../errors.js';
import { DataType, dataTypeName } from '../onnx/data-types.js';
import type { RuntimeTensor, TensorData } from '../runtime/index.js';

function numbers(data: HostTensor['data']): ArrayLike<number> {
  return data;
}

/**
 * `h` as a runtime tensor of ONNX element type `elemType` (undefined: float32 for Float32Array,
 * int32 for Int32Array, bool for Uint8Array). `where` names the value in errors.
 */
export function hostToRuntime(h: HostTensor, elemType: number | undefined, where: string): RuntimeTensor {
  if (!Array.isArray(h.dims) || h.dims.some((d) => !Number.isInteger(d) || d < 0)) throw new UserError('engine-shape', `${where}: dims [${String(h.dims)}] are not non-negative integers`);
  if (elementCount(h.dims) !== h.data.length) throw new UserError('engine-shape', `${where}: ${h.data.length} values for dims [${h.dims.join(',')}]`);
  const type = elemType ?? (h.data instanceof Float32Array ? DataType.FLOAT : h.data instanceof Int32Array ? DataType.INT32 : DataType.BOOL);
  const dims = [...h.dims];
  const src = numbers(h.data);
  let data: TensorData;
  switch (type) {
    case DataType.FLOAT:
      data = h.data instanceof Float32Array ? h.data : Float32Array.from(src);
      break;
    case DataType.DOUBLE:
      data = Float64Array.from(src);
      break;
    case DataType.INT64:
      data = BigInt64Array.from(Array.from(src, (v) => BigInt(Math.trunc(v))));
      break;
    case DataType.INT32:
      data = h.data instanceof Int32Array ? h.data : Int32Array.from(src);
      break;
    case DataType.BOOL:
    case DataType.UINT8:
      data = h.data instanceof Uint8Array ? h.data : Uint8Array.from(src);
      break;
    case DataType.INT8:
      data = Int8Array.from(src);
      break;
    default:
      throw new UserError('engine-dtype', `${where} is ${dataTypeName(type)}: the ONNX Runtime engine feeds float32, float64, int64, int32, int8, uint8 and bool values`);
  }
  return { elemType: type, dims, data };
}

/** A runtime tensor read back to the host (float -> float32, integer -> int32, bool -> uint8). */
export function runtimeToHost(t: RuntimeTensor, where: string): HostTensor {
  const dims = [...t.dims];
  const d = t.data;
  if (Array.isArray(d)) throw new UserError('engine-dtype', `${where} is a string tensor: the engine returns numeric tensors only`);
  if (t.elemType === DataType.FLOAT) return { dims, data: d as Float32Array };
  if (t.elemType === DataType.DOUBLE) return { dims, data: Float32Array.from(d as Float64Array) };
  if (t.elemType === DataType.BOOL) return { dims, data: d as Uint8Array };
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) {
    const out = new Int32Array(d.length);
    for (let i = 0; i < d.length; i++) {
      const v = Number(d[i]!);
      if (!Number.isSafeInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) throw new UserError('engine-dtype', `${where} holds ${String(d[i])}, outside int32`);
      out[i] = v;
    }
    return { dims, data: out };
  }
  if (d instanceof Int32Array) return { dims, data: d };
  if (d instanceof Int8Array || d instanceof Uint8Array || d instanceof Int16Array || d instanceof Uint16Array) {
    if (t.elemType === DataType.FLOAT16 || t.elemType === DataType.BFLOAT16) throw new UserError('engine-dtype', `${where} is ${dataTypeName(t.elemType)}: the engine returns float32, integer and bool tensors`);
    return { dims, data: Int32Array.from(d) };
  }
  if (d instanceof Uint32Array) return { dims, data: Int32Array.from(d) };
  return { dims, data: Float32Array.from(d as Float64Array) };
}

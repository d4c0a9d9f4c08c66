/**
 * Tensor contents as float64 numbers for comparison, whatever the element type (float16 and
 * bfloat16 decoded from their bits, integers and booleans converted, 64-bit integers rounded).
 */
import { DataType } from '../onnx/data-types.js';

/** float16 bits -> number. */
export function halfToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** bfloat16 bits -> number. */
export function bfloat16ToNumber(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0]!;
}

/** Values of a typed array holding elements of ONNX type `dataType`, as float64. */
export function numericData(data: ArrayLike<number | bigint>, dataType: number): Float64Array {
  const out = new Float64Array(data.length);
  if (dataType === DataType.FLOAT16) for (let i = 0; i < out.length; i++) out[i] = halfToNumber(Number(data[i]!));
  else if (dataType === DataType.BFLOAT16) for (let i = 0; i < out.length; i++) out[i] = bfloat16ToNumber(Number(data[i]!));
  else for (let i = 0; i < out.length; i++) out[i] = Number(data[i]!);
  return out;
}

export { ORT_TYPE_CODES } from '../onnx/data-types.js';

/**
 * An independent ONNX decoder (onnx-proto's generated protobufjs code, IR <= 8 schema) used to
 * check that two files hold the same model, whatever our own codec thinks. Fields newer than its
 * schema are skipped by protobufjs on both sides alike.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** Canonical JSON of a decoded ModelProto (int64 as strings, bytes as base64, defaults omitted). */
export function referenceJson(bytes: Uint8Array): string {
  const msg = onnx.ModelProto.decode(bytes);
  const obj = onnx.ModelProto.toObject(msg, { longs: String, bytes: String, enums: Number, defaults: false, arrays: false });
  // JSON.stringify turns NaN into null on both sides alike; -0 and 0 are told apart here.
  return JSON.stringify(obj, (_k, v: unknown) => (typeof v === 'number' && Object.is(v, -0) ? '-0' : v));
}

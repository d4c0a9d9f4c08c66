/**
 * Reading and building AttributeProto values.
 */
import { AttributeType, type AttributeProto, type GraphProto, type TensorProto } from '../onnx/proto-types.js';
import { decodeUtf8, encodeUtf8 } from '../onnx/wire.js';

export type AttrValue = number | string | number[] | string[] | TensorProto | GraphProto;

export function attrInt(a: AttributeProto | undefined): number | undefined {
  return a?.i === undefined ? undefined : Number(a.i);
}

export function attrInts(a: AttributeProto | undefined): number[] | undefined {
  return a?.ints === undefined ? undefined : a.ints.map(Number);
}

export function attrFloat(a: AttributeProto | undefined): number | undefined {
  return a?.f;
}

export function attrFloats(a: AttributeProto | undefined): number[] | undefined {
  return a?.floats === undefined ? undefined : Array.from(a.floats);
}

export function attrString(a: AttributeProto | undefined): string | undefined {
  return a?.s === undefined ? undefined : decodeUtf8(a.s);
}

export function attrStrings(a: AttributeProto | undefined): string[] | undefined {
  return a?.strings === undefined ? undefined : a.strings.map(decodeUtf8);
}

/** The attribute's value in a plain form (for printing and comparison). */
export function attrValue(a: AttributeProto): unknown {
  switch (a.type) {
    case AttributeType.FLOAT:
      return a.f ?? 0;
    case AttributeType.INT:
      return attrInt(a) ?? 0;
    case AttributeType.STRING:
      return attrString(a) ?? '';
    case AttributeType.FLOATS:
      return attrFloats(a) ?? [];
    case AttributeType.INTS:
      return attrInts(a) ?? [];
    case AttributeType.STRINGS:
      return attrStrings(a) ?? [];
    case AttributeType.TENSOR:
      return a.t;
    case AttributeType.GRAPH:
      return a.g;
    default:
      // files from old exporters sometimes omit `type`: infer from the set field
      if (a.f !== undefined) return a.f;
      if (a.i !== undefined) return Number(a.i);
      if (a.s !== undefined) return attrString(a);
      if (a.ints?.length) return attrInts(a);
      if (a.floats?.length) return attrFloats(a);
      if (a.t) return a.t;
      if (a.g) return a.g;
      return undefined;
  }
}

/** Build an attribute from a JS value: integers -> INT, other numbers -> FLOAT, arrays likewise. */
export function makeAttribute(name: string, value: AttrValue, kind?: 'int' | 'float' | 'ints' | 'floats'): AttributeProto {
  if (typeof value === 'string') return { name, s: encodeUtf8(value), type: AttributeType.STRING };
  if (typeof value === 'number') {
    const asInt = kind ? kind === 'int' : Number.isInteger(value);
    return asInt ? { name, i: value, type: AttributeType.INT } : { name, f: value, type: AttributeType.FLOAT };
  }
  if (Array.isArray(value)) {
    if (value.length > 0 && typeof value[0] === 'string') {
      return { name, strings: (value as string[]).map(encodeUtf8), type: AttributeType.STRINGS };
    }
    const nums = value as number[];
    const asInts = kind ? kind === 'ints' : nums.every((v) => Number.isInteger(v));
    return asInts ? { name, ints: [...nums], type: AttributeType.INTS } : { name, floats: [...nums], type: AttributeType.FLOATS };
  }
  if ('node' in value || 'initializer' in value || 'output' in value) {
    return { name, g: value as GraphProto, type: AttributeType.GRAPH };
  }
  return { name, t: value as TensorProto, type: AttributeType.TENSOR };
}

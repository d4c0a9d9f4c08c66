/**
 * A tolerant map of where the fields of a protobuf message lie in its bytes, nested messages
 * included (the ONNX schema says which length-delimited fields are messages). The byte-level
 * mutators use it to hit tags, length prefixes and whole fields instead of random bytes only.
 */
import { isScalar, messageDef } from '../onnx/schema.js';

export interface FieldSpan {
  /** Offset of the tag. */
  tagStart: number;
  /** Offset of the value (for length-delimited fields: of the length prefix). */
  valueStart: number;
  /** Offset of the payload of a length-delimited field (after its length prefix). */
  payloadStart: number;
  /** Offset just after the field. */
  end: number;
  wireType: number;
  field: number;
  /** Message type of the payload when the schema says it is a message. */
  message?: string;
  depth: number;
}

function varint(buf: Uint8Array, pos: number, end: number): [value: number, next: number] | undefined {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) return undefined;
    const b = buf[pos++]!;
    v += (b & 0x7f) * mul;
    mul *= 128;
    if ((b & 0x80) === 0) return [v, pos];
  }
  return undefined;
}

/** Spans of every field of `typeName` in buf[start, end), recursively, at most `limit` spans. */
export function scanFields(buf: Uint8Array, typeName = 'ModelProto', limit = 200_000): FieldSpan[] {
  const out: FieldSpan[] = [];
  const visit = (type: string, start: number, end: number, depth: number): void => {
    const def = messageDef(type);
    let pos = start;
    while (pos < end && out.length < limit) {
      const tagStart = pos;
      const t = varint(buf, pos, end);
      if (!t) return;
      const [tag, afterTag] = t;
      const wt = tag % 8;
      const field = Math.floor(tag / 8);
      pos = afterTag;
      const span: FieldSpan = { tagStart, valueStart: pos, payloadStart: pos, end: pos, wireType: wt, field, depth };
      if (wt === 0) {
        const v = varint(buf, pos, end);
        if (!v) return;
        pos = v[1];
      } else if (wt === 1) pos += 8;
      else if (wt === 5) pos += 4;
      else if (wt === 2) {
        const l = varint(buf, pos, end);
        if (!l) return;
        span.payloadStart = l[1];
        pos = l[1] + l[0];
      } else return;
      if (pos > end) return;
      span.end = pos;
      const fd = def.byNo.get(field);
      if (wt === 2 && fd && !isScalar(fd.type)) span.message = fd.type;
      out.push(span);
      if (span.message) visit(span.message, span.payloadStart, span.end, depth + 1);
    }
  };
  visit(typeName, 0, buf.length, 0);
  return out;
}

/** A varint's bytes. */
export function encodeVarint(v: number | bigint): number[] {
  let x = BigInt(v);
  if (x < 0n) x = BigInt.asUintN(64, x);
  const out: number[] = [];
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
  return out;
}

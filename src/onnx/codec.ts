/**
 * A lossless, schema-driven protobuf codec for ONNX messages.
 *
 * Decoding gives plain objects keyed by the .proto field names. Each decoded message also
 * remembers its wire layout (under the `LAYOUT` symbol, invisible to JSON and deep-equality):
 * the order its fields appeared in, how repeated fields were chunked and whether they were packed,
 * and the raw bytes of fields this schema does not know. Encoding writes every field from the
 * object's current values, following that layout; fields the layout does not mention (new data)
 * follow in field-number order, as protobuf's C++ serializer writes them. So a message nobody
 * touched encodes to the bytes it was decoded from, and an edit changes only the bytes of what
 * was edited.
 *
 * Byte fields are views into the input buffer (no copies); tensor float/double payloads decode to
 * typed arrays.
 */
import { OnnxFormatError } from '../errors.js';
import { isScalar, messageDef, type FieldDef, type MessageDef } from './schema.js';
import {
  ConcatSink,
  type ByteSink,
  decodeUtf8,
  encodeUtf8,
  int32Size,
  int64Size,
  type Int64,
  utf8Length,
  varintSize32,
  WireReader,
  WireType,
  WireWriter,
} from './wire.js';

export const LAYOUT: unique symbol = Symbol('onnx.layout');

/**
 * Strings that were not valid UTF-8 in the file (proto2 allows that): the lossy decoded text maps
 * to the original bytes, which are written back as long as the field still holds that text.
 */
export const RAW_STRINGS: unique symbol = Symbol('onnx.rawStrings');

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export type LayoutEntry = { f: number; n: number; packed: boolean } | { raw: Uint8Array };

export interface ProtoMessage {
  [LAYOUT]?: LayoutEntry[];
  [RAW_STRINGS]?: Map<string, Uint8Array>;
  [key: string]: unknown;
}

/** The deepest message nesting accepted (a guard against stack exhaustion by crafted files). */
export const MAX_DEPTH = 128;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function expectedWireType(fd: FieldDef): number {
  switch (fd.type) {
    case 'int32':
    case 'int64':
    case 'uint64':
    case 'bool':
      return WireType.Varint;
    case 'float':
      return WireType.Fixed32;
    case 'double':
      return WireType.Fixed64;
    default:
      return WireType.LengthDelimited;
  }
}

function isPackable(fd: FieldDef): boolean {
  return fd.repeated === true && expectedWireType(fd) !== WireType.LengthDelimited;
}

function readScalar(r: WireReader, type: string): unknown {
  switch (type) {
    case 'int32':
      return r.int32();
    case 'int64':
      return r.int64();
    case 'uint64':
      return r.uint64();
    case 'bool':
      return r.bool();
    case 'float':
      return r.float();
    case 'double':
      return r.double();
    case 'string':
      return decodeUtf8(r.bytes());
    case 'bytes':
      return r.bytes();
    default:
      throw new Error(`internal: not a scalar type ${type}`);
  }
}

/**
 * Called before each message (the top one included) is decoded, with its type name; it may throw
 * to stop the decode (resource limits: model-io counts nodes and messages through it).
 */
export type OnMessage = (typeName: string) => void;

let onMessageHook: OnMessage | undefined;

/** Decode `bytes` as message `typeName` (e.g. 'ModelProto'). */
export function decode<T = ProtoMessage>(bytes: Uint8Array, typeName: string, onMessage?: OnMessage): T {
  const saved = onMessageHook;
  onMessageHook = onMessage;
  try {
    return decodeMessage(new WireReader(bytes), messageDef(typeName), 0) as T;
  } finally {
    onMessageHook = saved;
  }
}

function readString(r: WireReader, obj: ProtoMessage): string {
  const bytes = r.bytes();
  const s = decodeUtf8(bytes);
  if (s.includes('\uFFFD')) {
    try {
      strictUtf8.decode(bytes);
    } catch {
      (obj[RAW_STRINGS] ??= new Map()).set(s, bytes);
    }
  }
  return s;
}

function decodeMessage(r: WireReader, def: MessageDef, depth: number): ProtoMessage {
  if (depth > MAX_DEPTH) {
    throw new OnnxFormatError(`protobuf messages nested deeper than ${MAX_DEPTH} levels (${def.name})`);
  }
  if (onMessageHook) onMessageHook(def.name);
  const obj: ProtoMessage = {};
  const layout: LayoutEntry[] = [];
  // Repeated float/double payloads are gathered as chunks and joined once at the end.
  let typedChunks: Map<FieldDef, ArrayLike<number>[]> | undefined;
  while (!r.eof()) {
    const tagStart = r.pos;
    const tag = r.uint32();
    const f = tag >>> 3;
    const wt = tag & 7;
    if (f === 0) throw new OnnxFormatError(`corrupt protobuf: field number 0 in ${def.name} at byte ${tagStart}`);
    if (wt === WireType.EndGroup || wt > 5) {
      throw new OnnxFormatError(`corrupt protobuf: invalid wire type ${wt} in ${def.name} at byte ${tagStart}`);
    }
    const fd = def.byNo.get(f);
    const want = fd ? expectedWireType(fd) : -1;
    const packed = fd !== undefined && isPackable(fd) && wt === WireType.LengthDelimited;
    if (!fd || (wt !== want && !packed)) {
      r.skip(wt);
      layout.push({ raw: r.buf.subarray(tagStart, r.pos) });
      continue;
    }
    if (!fd.repeated) {
      obj[fd.name] = fd.type === 'string' ? readString(r, obj) : isScalar(fd.type) ? readScalar(r, fd.type) : readNested(r, fd.type, depth);
      layout.push({ f, n: 1, packed: false });
      continue;
    }
    let arr = obj[fd.name] as unknown[] | undefined;
    if (!arr) {
      arr = [];
      obj[fd.name] = arr;
    }
    if (packed) {
      const len = r.length();
      const end = r.pos + len;
      let n = 0;
      if (fd.typed) {
        const w = fd.type === 'float' ? 4 : 8;
        if (len % w !== 0) {
          throw new OnnxFormatError(`corrupt protobuf: packed ${def.name}.${fd.name} length ${len} is not a multiple of ${w}`);
        }
        // copy into an aligned buffer, then view it as floats (little-endian hosts)
        const copy = new Uint8Array(len);
        copy.set(r.buf.subarray(r.pos, end));
        const ta = LITTLE_ENDIAN
          ? fd.type === 'float'
            ? new Float32Array(copy.buffer, copy.byteOffset, len / 4)
            : new Float64Array(copy.buffer, copy.byteOffset, len / 8)
          : readTypedBigEndianHost(r.sub(len), fd.type, len / w);
        chunksFor(fd).push(ta);
        n = len / w;
      } else {
        const sub = r.sub(len);
        while (!sub.eof()) {
          arr.push(readScalar(sub, fd.type));
          n++;
        }
      }
      r.pos = end;
      layout.push({ f, n, packed: true });
    } else {
      const v = fd.type === 'string' ? readString(r, obj) : isScalar(fd.type) ? readScalar(r, fd.type) : readNested(r, fd.type, depth);
      if (fd.typed) chunksFor(fd).push([v as number]);
      else arr.push(v);
      const last = layout[layout.length - 1];
      if (last && 'f' in last && last.f === f && !last.packed) last.n++;
      else layout.push({ f, n: 1, packed: false });
    }
  }
  if (typedChunks) {
    for (const [fd, chunks] of typedChunks) {
      if (chunks.length === 1 && ArrayBuffer.isView(chunks[0])) {
        obj[fd.name] = chunks[0];
        continue;
      }
      const total = chunks.reduce((s, c) => s + c.length, 0);
      const out = fd.type === 'float' ? new Float32Array(total) : new Float64Array(total);
      let o = 0;
      for (const c of chunks) {
        out.set(c, o);
        o += c.length;
      }
      obj[fd.name] = out;
    }
  }
  obj[LAYOUT] = layout;
  return obj;

  function chunksFor(fd: FieldDef): ArrayLike<number>[] {
    typedChunks ??= new Map();
    let chunks = typedChunks.get(fd);
    if (!chunks) {
      chunks = [];
      typedChunks.set(fd, chunks);
    }
    return chunks;
  }
}

function readTypedBigEndianHost(r: WireReader, type: string, n: number): Float32Array | Float64Array {
  const out = type === 'float' ? new Float32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = type === 'float' ? r.float() : r.double();
  return out;
}

function readNested(r: WireReader, typeName: string, depth: number): ProtoMessage {
  const len = r.length();
  const sub = r.sub(len);
  const m = decodeMessage(sub, messageDef(typeName), depth + 1);
  r.pos += len;
  return m;
}

// ---------------------------------------------------------------------------------------------
// Encoding

type Emit = {
  raw(bytes: Uint8Array): void;
  single(fd: FieldDef, value: unknown): void;
  repeated(fd: FieldDef, arr: ArrayLike<unknown>, start: number, count: number, packed: boolean): void;
};

function isEmpty(v: unknown): boolean {
  return v === undefined || v === null;
}

/** Walk what `obj` will be written as, in order, following its layout where it has one. */
function plan(obj: ProtoMessage, def: MessageDef, emit: Emit): void {
  const layout = obj[LAYOUT];
  const done = new Set<number>();
  const cursor = new Map<number, number>();
  if (layout) {
    const lastRun = new Map<number, number>();
    for (let i = 0; i < layout.length; i++) {
      const e = layout[i]!;
      if ('f' in e) lastRun.set(e.f, i);
    }
    for (let i = 0; i < layout.length; i++) {
      const e = layout[i]!;
      if ('raw' in e) {
        emit.raw(e.raw);
        continue;
      }
      const fd = def.byNo.get(e.f)!;
      const v = obj[fd.name];
      if (fd.repeated) {
        if (isEmpty(v)) continue;
        const arr = v as ArrayLike<unknown>;
        const start = cursor.get(e.f) ?? 0;
        const count = lastRun.get(e.f) === i ? arr.length - start : Math.min(e.n, arr.length - start);
        if (count > 0 || (e.packed && e.n === 0 && count === 0)) {
          emit.repeated(fd, arr, start, count, e.packed);
          cursor.set(e.f, start + count);
        }
      } else {
        if (done.has(e.f) || isEmpty(v)) continue;
        emit.single(fd, v);
        done.add(e.f);
      }
    }
  }
  for (const fd of def.ordered) {
    const v = obj[fd.name];
    if (isEmpty(v)) continue;
    if (fd.repeated) {
      const arr = v as ArrayLike<unknown>;
      const start = cursor.get(fd.no) ?? 0;
      if (start < arr.length) emit.repeated(fd, arr, start, arr.length - start, fd.packed === true);
    } else if (!done.has(fd.no)) {
      emit.single(fd, v);
    }
  }
}

function scalarSize(type: string, v: unknown): number {
  switch (type) {
    case 'int32':
      return int32Size(v as number);
    case 'int64':
    case 'uint64':
      return int64Size(v as Int64);
    case 'bool':
      return 1;
    case 'float':
      return 4;
    case 'double':
      return 8;
    case 'string':
      return typeof v === 'string' ? lenSize(utf8Length(v)) : lenSize((v as Uint8Array).length);
    case 'bytes':
      return lenSize((v as Uint8Array).length);
    default:
      throw new Error(`internal: not a scalar type ${type}`);
  }
}

function lenSize(n: number): number {
  return varintSize32(n) + n;
}

function tagSize(f: number): number {
  return varintSize32(f << 3);
}

/**
 * Called for every nested message before it is written: return a replacement to write instead
 * (e.g. a tensor whose data moves to an external file), or the message itself. The input objects
 * are never modified.
 */
export type Substitute = (msg: ProtoMessage, typeName: string) => ProtoMessage;

/** Maps a string value back to its original (invalid UTF-8) bytes when it has not changed. */
function rawStrings(obj: ProtoMessage): (fd: FieldDef, v: unknown) => unknown {
  const raws = obj[RAW_STRINGS];
  if (!raws) return (_fd, v) => v;
  return (fd, v) => (fd.type === 'string' ? (raws.get(v as string) ?? v) : v);
}

class Encoder {
  private sizes = new Map<ProtoMessage, number>();
  private readonly substitute: Substitute | undefined;

  constructor(substitute?: Substitute) {
    this.substitute = substitute;
  }

  private sub(v: unknown, typeName: string): ProtoMessage {
    const m = v as ProtoMessage;
    return this.substitute ? this.substitute(m, typeName) : m;
  }

  size(obj: ProtoMessage, def: MessageDef): number {
    const cached = this.sizes.get(obj);
    if (cached !== undefined) return cached;
    let total = 0;
    const rs = rawStrings(obj);
    plan(obj, def, {
      raw: (b) => {
        total += b.length;
      },
      single: (fd, v) => {
        total += tagSize(fd.no) + this.valueSize(fd, rs(fd, v));
      },
      repeated: (fd, arr, start, count, packed) => {
        if (packed) {
          const payload = this.packedPayloadSize(fd, arr, start, count);
          total += tagSize(fd.no) + lenSize(payload);
        } else {
          const t = tagSize(fd.no);
          for (let i = start; i < start + count; i++) total += t + this.valueSize(fd, rs(fd, arr[i]));
        }
      },
    });
    this.sizes.set(obj, total);
    return total;
  }

  private valueSize(fd: FieldDef, v: unknown): number {
    if (isScalar(fd.type)) return scalarSize(fd.type, v);
    return lenSize(this.size(this.sub(v, fd.type), messageDef(fd.type)));
  }

  private packedPayloadSize(fd: FieldDef, arr: ArrayLike<unknown>, start: number, count: number): number {
    if (fd.type === 'float') return 4 * count;
    if (fd.type === 'double') return 8 * count;
    let s = 0;
    for (let i = start; i < start + count; i++) s += scalarSize(fd.type, arr[i]);
    return s;
  }

  write(obj: ProtoMessage, def: MessageDef, w: WireWriter): void {
    const rs = rawStrings(obj);
    plan(obj, def, {
      raw: (b) => w.raw(b),
      single: (fd, v) => {
        this.writeValue(fd, rs(fd, v), w, true);
      },
      repeated: (fd, arr, start, count, packed) => {
        if (packed) {
          w.tag(fd.no, WireType.LengthDelimited);
          w.varint32(this.packedPayloadSize(fd, arr, start, count));
          if ((fd.type === 'float' || fd.type === 'double') && LITTLE_ENDIAN && ArrayBuffer.isView(arr)) {
            const ta = arr as Float32Array | Float64Array;
            const bpe = ta.BYTES_PER_ELEMENT;
            w.raw(new Uint8Array(ta.buffer, ta.byteOffset + start * bpe, count * bpe));
          } else {
            for (let i = start; i < start + count; i++) this.writeScalar(fd.type, arr[i], w);
          }
        } else {
          for (let i = start; i < start + count; i++) this.writeValue(fd, rs(fd, arr[i]), w, true);
        }
      },
    });
  }

  private writeValue(fd: FieldDef, v: unknown, w: WireWriter, withTag: boolean): void {
    if (withTag) w.tag(fd.no, expectedWireType(fd));
    if (isScalar(fd.type)) {
      this.writeScalar(fd.type, v, w);
      return;
    }
    const def = messageDef(fd.type);
    const m = this.sub(v, fd.type);
    w.varint32(this.size(m, def));
    this.write(m, def, w);
  }

  private writeScalar(type: string, v: unknown, w: WireWriter): void {
    switch (type) {
      case 'int32':
        w.int32(v as number);
        return;
      case 'int64':
      case 'uint64':
        w.int64(v as Int64);
        return;
      case 'bool':
        w.varint32(v ? 1 : 0);
        return;
      case 'float':
        w.float(v as number);
        return;
      case 'double':
        w.double(v as number);
        return;
      case 'string': {
        const b = typeof v === 'string' ? encodeUtf8(v) : (v as Uint8Array);
        w.varint32(b.length);
        w.raw(b);
        return;
      }
      case 'bytes': {
        const b = v as Uint8Array;
        w.varint32(b.length);
        w.raw(b);
        return;
      }
    }
  }
}

/** Size in bytes that `obj` encodes to. */
export function encodedSize(obj: ProtoMessage, typeName: string, substitute?: Substitute): number {
  return new Encoder(substitute).size(obj, messageDef(typeName));
}

/** Encode into a sink (chunks; large byte fields are passed through without copying). */
export function encodeTo(obj: ProtoMessage, typeName: string, sink: ByteSink, substitute?: Substitute): number {
  const def = messageDef(typeName);
  const enc = new Encoder(substitute);
  const size = enc.size(obj, def);
  const w = new WireWriter(sink);
  enc.write(obj, def, w);
  w.flush();
  return size;
}

/** Encode to one buffer. */
export function encode(obj: ProtoMessage, typeName: string, substitute?: Substitute): Uint8Array {
  const sink = new ConcatSink();
  encodeTo(obj, typeName, sink, substitute);
  return sink.result();
}

/** Forget the recorded layout of a message (it will be written in canonical order). */
export function clearLayout(obj: ProtoMessage): void {
  delete obj[LAYOUT];
}

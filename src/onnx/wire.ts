/**
 * Protobuf wire-format primitives: a bounds-checked reader over one buffer, varint and
 * fixed-width encoders, and byte sinks. Every length read is checked against the bytes that are
 * actually there before anything is allocated, so a length field claiming gigabytes fails fast.
 */
import { OnnxFormatError } from '../errors.js';

export const enum WireType {
  Varint = 0,
  Fixed64 = 1,
  LengthDelimited = 2,
  StartGroup = 3,
  EndGroup = 4,
  Fixed32 = 5,
}

/** int64 values: a number when it is a safe integer, otherwise a bigint. */
export type Int64 = number | bigint;

const TWO_32 = 4294967296;

export class WireReader {
  readonly buf: Uint8Array;
  pos: number;
  readonly end: number;
  private view: DataView;

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** A reader over [pos, pos+len) sharing this buffer. */
  sub(len: number): WireReader {
    const r = new WireReader(this.buf, this.pos, this.pos + len);
    r.view = this.view;
    return r;
  }

  eof(): boolean {
    return this.pos >= this.end;
  }

  private fail(what: string): never {
    throw new OnnxFormatError(`truncated or corrupt protobuf: ${what} at byte ${this.pos}`);
  }

  /** Reads a varint as two unsigned 32-bit halves. */
  varint64(): [lo: number, hi: number] {
    let lo = 0;
    let hi = 0;
    let shift = 0;
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < 10; i++) {
      if (p >= this.end) this.fail('varint runs past the end');
      const b = buf[p++]!;
      if (shift < 28) {
        lo |= (b & 0x7f) << shift;
      } else if (shift === 28) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x7f) >>> 4;
      } else {
        hi |= (b & 0x7f) << (shift - 32);
      }
      shift += 7;
      if ((b & 0x80) === 0) {
        this.pos = p;
        return [lo >>> 0, hi >>> 0];
      }
    }
    this.fail('varint longer than 10 bytes');
  }

  /** A varint as a non-negative number below 2^32 (tags, lengths). */
  uint32(): number {
    const buf = this.buf;
    const p = this.pos;
    if (p < this.end && buf[p]! < 0x80) {
      this.pos = p + 1;
      return buf[p]!;
    }
    const [lo, hi] = this.varint64();
    if (hi !== 0) this.fail('length or tag larger than 2^32');
    return lo;
  }

  /** int32 / enum: sign-extended 10-byte negatives come back as negative numbers. */
  int32(): number {
    const [lo] = this.varint64();
    return lo | 0;
  }

  int64(): Int64 {
    const [lo, hi] = this.varint64();
    return joinSigned(lo, hi);
  }

  uint64(): Int64 {
    const [lo, hi] = this.varint64();
    return joinUnsigned(lo, hi);
  }

  bool(): boolean {
    const [lo, hi] = this.varint64();
    return lo !== 0 || hi !== 0;
  }

  float(): number {
    if (this.pos + 4 > this.end) this.fail('fixed32 runs past the end');
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  double(): number {
    if (this.pos + 8 > this.end) this.fail('fixed64 runs past the end');
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** Length prefix, checked against what remains. */
  length(): number {
    const len = this.uint32();
    if (len > this.end - this.pos) {
      throw new OnnxFormatError(
        `truncated or corrupt protobuf: a length field claims ${len} bytes at byte ${this.pos} but only ${this.end - this.pos} remain`,
      );
    }
    return len;
  }

  /** Bytes of a length-delimited field: a view into the input buffer, never a copy. */
  bytes(): Uint8Array {
    const len = this.length();
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case WireType.Varint:
        this.varint64();
        return;
      case WireType.Fixed64:
        if (this.pos + 8 > this.end) this.fail('fixed64 runs past the end');
        this.pos += 8;
        return;
      case WireType.LengthDelimited: {
        const len = this.length();
        this.pos += len;
        return;
      }
      case WireType.Fixed32:
        if (this.pos + 4 > this.end) this.fail('fixed32 runs past the end');
        this.pos += 4;
        return;
      case WireType.StartGroup: {
        // Groups are deprecated; skip until the matching end-group tag.
        for (let depth = 1; depth > 0; ) {
          if (this.eof()) this.fail('unterminated group');
          const tag = this.uint32();
          const wt = tag & 7;
          if (wt === WireType.StartGroup) depth++;
          else if (wt === WireType.EndGroup) depth--;
          else this.skip(wt);
        }
        return;
      }
      default:
        this.fail(`invalid wire type ${wireType}`);
    }
  }
}

export function joinUnsigned(lo: number, hi: number): Int64 {
  if (hi < 0x200000) return hi * TWO_32 + lo;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

export function joinSigned(lo: number, hi: number): Int64 {
  if (hi & 0x80000000) {
    // negative: two's complement
    const nlo = (~lo + 1) >>> 0;
    const nhi = (~hi + (nlo === 0 ? 1 : 0)) >>> 0;
    if (nhi < 0x200000) return -(nhi * TWO_32 + nlo);
    return -((BigInt(nhi) << 32n) | BigInt(nlo));
  }
  return joinUnsigned(lo, hi);
}

/** Split an int64 (two's complement for negatives) into unsigned 32-bit halves. */
export function splitInt64(v: Int64): [number, number] {
  if (typeof v === 'bigint') {
    const u = BigInt.asUintN(64, v);
    return [Number(u & 0xffffffffn), Number(u >> 32n)];
  }
  if (!Number.isInteger(v)) throw new RangeError(`not an integer: ${v}`);
  if (v >= 0) {
    return [v % TWO_32 >>> 0, Math.floor(v / TWO_32) >>> 0];
  }
  const a = -v;
  let lo = a % TWO_32 >>> 0;
  let hi = Math.floor(a / TWO_32) >>> 0;
  lo = (~lo + 1) >>> 0;
  hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
  return [lo, hi];
}

export function varintSize64(lo: number, hi: number): number {
  if (hi === 0) return varintSize32(lo);
  if (hi < 0x8) return 5;
  if (hi < 0x400) return 6;
  if (hi < 0x20000) return 7;
  if (hi < 0x1000000) return 8;
  if (hi < 0x80000000) return 9;
  return 10;
}

export function varintSize32(v: number): number {
  v >>>= 0;
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  return 5;
}

/** Size of an int32/enum varint: negatives take 10 bytes (sign-extended to 64 bits). */
export function int32Size(v: number): number {
  return v < 0 ? 10 : varintSize32(v);
}

export function int64Size(v: Int64): number {
  const [lo, hi] = splitInt64(v);
  return varintSize64(lo, hi);
}

/** Where encoded bytes go. `write` may keep a reference to large arrays only until it returns. */
export interface ByteSink {
  write(bytes: Uint8Array): void;
}

/**
 * A writer that fills a scratch buffer and hands full chunks to a sink; large byte arrays go to
 * the sink directly without a copy.
 */
export class WireWriter {
  private scratch: Uint8Array;
  private view: DataView;
  private n = 0;
  private readonly sink: ByteSink;
  private static readonly DIRECT = 1 << 16;

  constructor(sink: ByteSink, scratchSize = 1 << 20) {
    this.sink = sink;
    this.scratch = new Uint8Array(scratchSize);
    this.view = new DataView(this.scratch.buffer);
  }

  private room(k: number): void {
    if (this.n + k > this.scratch.length) this.flush();
  }

  flush(): void {
    if (this.n > 0) {
      // hand the sink a copy-free view, then start a fresh scratch (the sink may keep the view)
      this.sink.write(this.scratch.subarray(0, this.n));
      this.scratch = new Uint8Array(this.scratch.length);
      this.view = new DataView(this.scratch.buffer);
      this.n = 0;
    }
  }

  varint32(v: number): void {
    this.room(5);
    v >>>= 0;
    while (v >= 0x80) {
      this.scratch[this.n++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.scratch[this.n++] = v;
  }

  varint64(lo: number, hi: number): void {
    this.room(10);
    while (hi !== 0 || lo >= 0x80) {
      this.scratch[this.n++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    this.scratch[this.n++] = lo;
  }

  int32(v: number): void {
    if (v < 0) this.varint64(v >>> 0, 0xffffffff);
    else this.varint32(v);
  }

  int64(v: Int64): void {
    const [lo, hi] = splitInt64(v);
    this.varint64(lo, hi);
  }

  tag(field: number, wireType: number): void {
    this.varint32(((field << 3) | wireType) >>> 0);
  }

  float(v: number): void {
    this.room(4);
    this.view.setFloat32(this.n, v, true);
    this.n += 4;
  }

  double(v: number): void {
    this.room(8);
    this.view.setFloat64(this.n, v, true);
    this.n += 8;
  }

  raw(bytes: Uint8Array): void {
    if (bytes.length >= WireWriter.DIRECT) {
      this.flush();
      this.sink.write(bytes);
      return;
    }
    this.room(bytes.length);
    this.scratch.set(bytes, this.n);
    this.n += bytes.length;
  }
}

/** Collects everything into one buffer (for in-memory encoding and tests). */
export class ConcatSink implements ByteSink {
  private parts: Uint8Array[] = [];
  private size = 0;
  write(bytes: Uint8Array): void {
    this.parts.push(bytes);
    this.size += bytes.length;
  }
  result(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

const utf8 = new TextDecoder('utf-8');
const utf8Enc = new TextEncoder();

export function decodeUtf8(bytes: Uint8Array): string {
  // ASCII fast path: most ONNX names are ASCII
  if (bytes.length < 64) {
    let ascii = true;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i]! >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  }
  return utf8.decode(bytes);
}

export function encodeUtf8(s: string): Uint8Array {
  return utf8Enc.encode(s);
}

export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/**
 * Byte-level mutators, for any input kind: bit flips, truncation, garbage, zeroed or repeated
 * regions. With a field map (protobuf inputs, see wire-scan.ts) they also hit the structure:
 * inflated and shrunk length prefixes, wrong wire types, overlong varints, duplicated and dropped
 * fields.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { MutationContext, Mutator } from './harness.js';
import type { Rng } from './random.js';
import { encodeVarint, scanFields, type FieldSpan } from './wire-scan.js';

type ByteFn = (b: Uint8Array, rng: Rng, spans: () => FieldSpan[]) => { bytes: Uint8Array; note: string };

export function concatBytes(...parts: (Uint8Array | number[])[]): Uint8Array {
  const n = parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A mutator writing `fn(seed bytes)` as the case's input. */
export function byteMutator(id: string, ext: string, fn: ByteFn, weight = 1): Mutator {
  return {
    id,
    weight,
    apply(ctx: MutationContext) {
      const src = ctx.seedBytes();
      let spans: FieldSpan[] | undefined;
      const r = fn(src, ctx.rng, () => (spans ??= scanFieldsCached(ctx.seed.file, src)));
      const file = path.join(ctx.dir, `input.${ext}`);
      writeFileSync(file, r.bytes);
      return { file, note: r.note };
    },
  };
}

const spanCache = new Map<string, FieldSpan[]>();
function scanFieldsCached(key: string, bytes: Uint8Array): FieldSpan[] {
  let s = spanCache.get(key);
  if (!s) {
    s = scanFields(bytes);
    spanCache.set(key, s);
  }
  return s;
}

/** Mutators that know nothing about the format. */
export function genericByteMutators(ext: string): Mutator[] {
  return [
    byteMutator('bitflip', ext, (b, rng) => {
      const out = b.slice();
      const k = rng.range(1, 8);
      const at: number[] = [];
      for (let i = 0; i < k && out.length > 0; i++) {
        const p = rng.int(out.length);
        out[p]! ^= 1 << rng.int(8);
        at.push(p);
      }
      return { bytes: out, note: `flipped ${k} bit(s) at ${at.join(',')}` };
    }, 3),
    byteMutator('truncate', ext, (b, rng) => {
      const n = rng.chance(0.2) ? rng.int(Math.min(b.length, 64)) : rng.int(b.length);
      return { bytes: b.subarray(0, n), note: `truncated to ${n} of ${b.length} bytes` };
    }, 2),
    byteMutator('garbage-insert', ext, (b, rng) => {
      const p = rng.int(b.length + 1);
      const g = rng.bytes(rng.range(1, 64));
      return { bytes: concatBytes(b.subarray(0, p), g, b.subarray(p)), note: `inserted ${g.length} random bytes at ${p}` };
    }),
    byteMutator('zero-region', ext, (b, rng) => {
      const out = b.slice();
      const p = rng.int(Math.max(1, out.length));
      const n = rng.range(1, 4096);
      out.fill(rng.chance(0.5) ? 0 : 0xff, p, p + n);
      return { bytes: out, note: `filled ${n} bytes at ${p}` };
    }),
    byteMutator('repeat-region', ext, (b, rng) => {
      const p = rng.int(Math.max(1, b.length));
      const n = rng.range(1, 256);
      const chunk = b.subarray(p, p + n);
      const times = rng.range(2, 64);
      const rep = concatBytes(...Array.from({ length: times }, () => chunk));
      return { bytes: concatBytes(b.subarray(0, p), rep, b.subarray(p + chunk.length)), note: `repeated ${chunk.length} bytes at ${p} ${times} times` };
    }),
    byteMutator('random-file', ext, (_b, rng) => {
      const n = rng.chance(0.5) ? rng.range(0, 16) : rng.range(17, 65536);
      return { bytes: rng.bytes(n), note: `${n} random bytes` };
    }, 0.5),
  ];
}

/** Mutators aimed at protobuf structure (tags, length prefixes, fields). */
export function protobufByteMutators(ext: string): Mutator[] {
  const pickSpan = (spans: FieldSpan[], rng: Rng, want?: (s: FieldSpan) => boolean): FieldSpan | undefined => {
    const pool = want ? spans.filter(want) : spans;
    if (pool.length === 0) return undefined;
    // favour shallow fields half of the time (graph, nodes, initializers), any field otherwise
    if (rng.chance(0.5)) {
      const shallow = pool.filter((s) => s.depth <= 2);
      if (shallow.length > 0) return rng.pick(shallow);
    }
    return rng.pick(pool);
  };
  const lengthOf = (s: FieldSpan): number => s.end - s.payloadStart;
  return [
    byteMutator('inflate-length', ext, (b, rng, spans) => {
      const s = pickSpan(spans(), rng, (x) => x.wireType === 2);
      if (!s) return { bytes: b, note: 'no length-delimited field' };
      const old = lengthOf(s);
      const v = rng.pick([old + 1, old + rng.range(2, 1 << 16), 2 ** 31, 2 ** 32 - 1, 2 ** 31 - 1, old * 2 + 1, 2 ** 40]);
      return { bytes: concatBytes(b.subarray(0, s.valueStart), encodeVarint(v), b.subarray(s.payloadStart)), note: `length of field ${s.field} at ${s.tagStart} (depth ${s.depth}) ${old} -> ${v}` };
    }, 3),
    byteMutator('shrink-length', ext, (b, rng, spans) => {
      const s = pickSpan(spans(), rng, (x) => x.wireType === 2 && lengthOf(x) > 0);
      if (!s) return { bytes: b, note: 'no length-delimited field' };
      const old = lengthOf(s);
      const v = rng.chance(0.3) ? 0 : rng.int(old);
      return { bytes: concatBytes(b.subarray(0, s.valueStart), encodeVarint(v), b.subarray(s.payloadStart)), note: `length of field ${s.field} at ${s.tagStart} ${old} -> ${v}` };
    }),
    byteMutator('wrong-wire-type', ext, (b, rng, spans) => {
      const s = pickSpan(spans(), rng);
      if (!s) return { bytes: b, note: 'no field' };
      const wt = rng.pick([0, 1, 2, 3, 4, 5, 6, 7].filter((w) => w !== s.wireType));
      const tag = encodeVarint(s.field * 8 + wt);
      return { bytes: concatBytes(b.subarray(0, s.tagStart), tag, b.subarray(s.valueStart)), note: `field ${s.field} at ${s.tagStart}: wire type ${s.wireType} -> ${wt}` };
    }, 2),
    byteMutator('overlong-varint', ext, (b, rng, spans) => {
      const s = pickSpan(spans(), rng, (x) => x.wireType === 0 || x.wireType === 2);
      if (!s) return { bytes: b, note: 'no varint' };
      const v = rng.pick([[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00], [0xff, 0xff, 0xff, 0xff, 0x0f]]);
      const endOfVarint = s.wireType === 2 ? s.payloadStart : s.end;
      return { bytes: concatBytes(b.subarray(0, s.valueStart), v, b.subarray(endOfVarint)), note: `varint of field ${s.field} at ${s.valueStart} -> ${v.length}-byte ${v.map((x) => x.toString(16)).join(' ')}` };
    }),
    byteMutator('duplicate-field', ext, (b, rng, spans) => {
      // top-level fields only: nested copies would need every ancestor's length fixed
      const s = pickSpan(spans(), rng, (x) => x.depth === 0);
      if (!s) return { bytes: b, note: 'no field' };
      const times = rng.chance(0.8) ? 1 : rng.range(2, 100);
      const copies = concatBytes(...Array.from({ length: times }, () => b.subarray(s.tagStart, s.end)));
      return { bytes: concatBytes(b.subarray(0, s.end), copies, b.subarray(s.end)), note: `top-level field ${s.field} (${s.end - s.tagStart} bytes) duplicated ${times} time(s)` };
    }, 2),
    byteMutator('drop-field', ext, (b, rng, spans) => {
      const s = pickSpan(spans(), rng, (x) => x.depth === 0);
      if (!s) return { bytes: b, note: 'no field' };
      return { bytes: concatBytes(b.subarray(0, s.tagStart), b.subarray(s.end)), note: `dropped top-level field ${s.field} (${s.end - s.tagStart} bytes)` };
    }),
    byteMutator('unknown-field', ext, (b, rng) => {
      const f = rng.pick([99, 1000, 536870911, 19000]);
      const wt = rng.pick([0, 1, 2, 5, 3]);
      let body: number[];
      if (wt === 0) body = encodeVarint(rng.int(2 ** 31));
      else if (wt === 1) body = Array.from(rng.bytes(8));
      else if (wt === 5) body = Array.from(rng.bytes(4));
      else if (wt === 2) body = [...encodeVarint(3), 1, 2, 3];
      else body = [...encodeVarint(f * 8 + 4)]; // an empty group
      return { bytes: concatBytes(b, encodeVarint(f * 8 + wt), body), note: `appended unknown field ${f} wire type ${wt}` };
    }),
  ];
}

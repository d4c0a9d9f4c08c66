/**
 * Deep copy of decoded protobuf messages, wire layout and external-data references included.
 * Byte payloads and typed arrays are shared: the toolkit never modifies them in place (an edit
 * replaces the array), so sharing is safe and keeps clones of large models cheap.
 */
import { LAYOUT, RAW_STRINGS, type ProtoMessage } from './codec.js';
import { EXTERNAL_REF } from './external-data.js';

export function cloneProto<T>(m: T): T {
  return cloneValue(m) as T;
}

function cloneValue(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (ArrayBuffer.isView(v)) return v;
  if (Array.isArray(v)) return v.map(cloneValue);
  const src = v as ProtoMessage & { [EXTERNAL_REF]?: unknown };
  const out: ProtoMessage & { [EXTERNAL_REF]?: unknown } = {};
  for (const k of Object.keys(src)) out[k] = cloneValue(src[k]);
  const layout = src[LAYOUT];
  if (layout) out[LAYOUT] = layout.map((e) => ({ ...e }));
  if (src[EXTERNAL_REF]) out[EXTERNAL_REF] = src[EXTERNAL_REF];
  if (src[RAW_STRINGS]) out[RAW_STRINGS] = new Map(src[RAW_STRINGS]);
  return out;
}

/**
 * Helpers shared by the rewrite passes: type protos from inferred shapes, small constant tensors,
 * node selection by name pattern.
 */
import { isUnknownDim } from '../analysis/shapes/dims.js';
import type { Dim, ShapeInfo } from '../analysis/shapes/types.js';
import { UserError } from '../errors.js';
import type { Graph } from '../ir/graph.js';
import type { Node } from '../ir/node.js';
import { DataType, dataTypeName } from '../onnx/data-types.js';
import type { TensorProto, TensorShapeProto, TypeProto } from '../onnx/proto-types.js';

/** A TensorShapeProto: numbers as dim_value, symbolic dims as dim_param, unknown dims empty. */
export function shapeProto(shape: readonly Dim[]): TensorShapeProto {
  return {
    dim: shape.map((d) => (typeof d === 'number' ? { dim_value: d } : isUnknownDim(d) ? {} : { dim_param: d.replace(/^\{(.*)\}$/, '$1') })),
  };
}

/** A tensor TypeProto from an inferred ShapeInfo (undefined when the element type is unknown). */
export function typeFromInfo(info: ShapeInfo | undefined): TypeProto | undefined {
  if (!info || info.elemType === undefined) return undefined;
  const t: TypeProto = { tensor_type: { elem_type: info.elemType } };
  if (info.shape) t.tensor_type!.shape = shapeProto(info.shape);
  return t;
}

/** Readable shape: `[1,3,?,batch]`. */
export function showShape(shape: readonly (Dim | undefined | null)[] | undefined): string {
  if (!shape) return '(rank unknown)';
  return `[${shape.map((d) => (d === undefined || d === null || (typeof d === 'string' && isUnknownDim(d)) ? '?' : String(d))).join(',')}]`;
}

/** float32 -> IEEE half bits (round to nearest even). */
export function toHalfBits(x: number): number {
  const f32 = new Float32Array([x]);
  const u = new Uint32Array(f32.buffer)[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  e = half;
  return sign | e;
}

/** A scalar constant of a floating-point element type (float32, float64, float16). */
export function floatScalar(value: number, elemType: number): TensorProto {
  const raw = (() => {
    switch (elemType) {
      case DataType.FLOAT:
        return new Uint8Array(new Float32Array([value]).buffer);
      case DataType.DOUBLE:
        return new Uint8Array(new Float64Array([value]).buffer);
      case DataType.FLOAT16:
        return new Uint8Array(new Uint16Array([toHalfBits(value)]).buffer);
      default:
        throw new UserError('unsupported-type', `cannot build a ${dataTypeName(elemType)} constant (float32, float64 and float16 are supported)`);
    }
  })();
  return { dims: [], data_type: elemType, raw_data: raw };
}

/** `*` any characters, `?` one character; a pattern without wildcards must match exactly. */
export function globToRegExp(glob: string): RegExp {
  const esc = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${esc}$`);
}

/** The node of the main graph with that name; a UserError lists near names when absent. */
export function requireNode(graph: Graph, name: string): Node {
  const n = graph.node(name);
  if (n) return n;
  const near = graph.nodes
    .map((x) => x.name)
    .filter((x) => x && (x.includes(name) || name.includes(x)))
    .slice(0, 5);
  throw new UserError('no-such-node', `no node named '${name}'${near.length > 0 ? ` (did you mean ${near.map((x) => `'${x}'`).join(', ')}?)` : ''}`);
}

/** Split `a,b,c` lists (arrays pass through). */
export function splitList(v: string | readonly string[]): string[] {
  const parts = typeof v === 'string' ? v.split(',') : [...v];
  return parts.map((s) => s.trim()).filter((s) => s !== '');
}

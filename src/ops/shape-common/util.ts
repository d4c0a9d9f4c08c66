/**
 * Small helpers shared by the shape rules: building results, reading constant inputs, axes.
 */
import { GraphError } from '../../errors.js';
import type { Node } from '../../ir/node.js';
import { DataType } from '../../onnx/data-types.js';
import { formatShape } from './dims.js';
import type { Dim, ShapeInfo } from './types.js';

/** Largest tensor whose contents are tracked (shapes, axes, pads, scales are far smaller). */
export const MAX_TRACKED_ELEMENTS = 1024;

/** A rule result; `contents` (when given) is stored as `value` or `symbolicValue`. */
export function out(shape: Dim[] | undefined, elemType: number | undefined, contents?: readonly Dim[]): ShapeInfo {
  const info: ShapeInfo = { elemType, shape, source: 'rule' };
  if (contents) setContents(info, contents);
  return info;
}

export function setContents(info: ShapeInfo, contents: readonly Dim[]): void {
  if (contents.every((d) => typeof d === 'number')) info.value = [...(contents as number[])];
  else info.symbolicValue = [...contents];
}

/** Known contents of a tensor (numbers, or dims where some are symbolic). */
export function contents(info: ShapeInfo | undefined): Dim[] | undefined {
  return info?.value ?? info?.symbolicValue;
}

/** Known contents when every entry is a number. */
export function numbers(info: ShapeInfo | undefined): number[] | undefined {
  return info?.value;
}

/** Whether optional input slot `i` is present. */
export function has(node: Node, i: number): boolean {
  return node.input(i) !== null;
}

/** Same shape and type as the input (optionally another type). */
export function same(info: ShapeInfo | undefined, elemType?: number): ShapeInfo | undefined {
  if (!info?.shape) return undefined;
  return out([...info.shape], elemType ?? info.elemType);
}

export function where(node: Node): string {
  return `node '${node.label}' (${node.opType})`;
}

export function fail(node: Node, message: string): never {
  throw new GraphError('shape-mismatch', `${where(node)}: ${message}`);
}

/** Normalize a possibly negative axis against `rank`. */
export function normAxis(node: Node, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) fail(node, `axis ${axis} is out of range for rank ${rank}`);
  return a;
}

export function requireRank(node: Node, shape: readonly Dim[], min: number, what = 'input'): void {
  if (shape.length < min) fail(node, `${what} ${formatShape(shape)} needs rank >= ${min}`);
}

export function elemCount(shape: readonly Dim[]): number | undefined {
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number') return undefined;
    n *= d;
  }
  return n;
}

/** Integer element types whose contents are tracked and whose arithmetic truncates. */
export function isIntegerType(t: number | undefined): boolean {
  return (
    t === DataType.INT64 ||
    t === DataType.INT32 ||
    t === DataType.INT16 ||
    t === DataType.INT8 ||
    t === DataType.UINT8 ||
    t === DataType.UINT16 ||
    t === DataType.UINT32 ||
    t === DataType.UINT64 ||
    t === DataType.BOOL
  );
}

/** Element types whose contents can be tracked as JS numbers. */
export function isTrackedType(t: number | undefined): boolean {
  return isIntegerType(t) || t === DataType.FLOAT || t === DataType.DOUBLE;
}

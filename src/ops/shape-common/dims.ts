/**
 * Arithmetic and comparison on dims (numbers fast, symbolic ones through polynomials), and
 * numpy-style broadcasting.
 */
import { GraphError } from '../../errors.js';
import { fromPoly, polyAdd, polyFloorDiv, polyMul, toPoly } from './symbolic.js';
import type { Dim } from './types.js';

/** True for a dim nothing is known about (its text contains '?'). */
export function isUnknownDim(d: Dim): boolean {
  return typeof d === 'string' && d.includes('?');
}

/** Rank known and no unknown dims (symbolic ones like 'batch' are fine). */
export function isCompleteShape(s: readonly Dim[] | undefined): s is Dim[] {
  return s !== undefined && !s.some(isUnknownDim);
}

export function isStaticShape(s: readonly Dim[] | undefined): s is number[] {
  return s !== undefined && s.every((d) => typeof d === 'number');
}

export function canonicalDim(d: Dim): Dim {
  return typeof d === 'number' ? d : fromPoly(toPoly(d));
}

export function dimEq(a: Dim, b: Dim): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b;
  return canonicalDim(a) === canonicalDim(b);
}

export function dimAdd(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  return fromPoly(polyAdd(toPoly(a), toPoly(b)));
}

export function dimSub(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return fromPoly(polyAdd(toPoly(a), toPoly(b), -1));
}

export function dimMul(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a * b;
  return fromPoly(polyMul(toPoly(a), toPoly(b)));
}

export function dimFloorDiv(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return Math.floor(a / b);
  return fromPoly(polyFloorDiv(toPoly(a), toPoly(b)));
}

/** ceil(a / b) for a positive divisor. */
export function dimCeilDiv(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return Math.ceil(a / b);
  return dimFloorDiv(dimAdd(a, dimSub(b, 1)), b);
}

export function dimProduct(dims: readonly Dim[]): Dim {
  let p: Dim = 1;
  for (const d of dims) p = dimMul(p, d);
  return p;
}

export function formatShape(s: readonly Dim[] | undefined): string {
  return s === undefined ? '(rank unknown)' : `[${s.join(', ')}]`;
}

/**
 * Multidirectional (numpy) broadcasting. Two different symbolic dims give an unknown dim; a
 * symbolic dim against a number n > 1 gives n. Throws a GraphError when numbers disagree.
 */
export function broadcastShapes(shapes: readonly (readonly Dim[])[], fresh: () => string, where: string): Dim[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim | undefined;
    for (const s of shapes) {
      const k = i - (rank - s.length);
      if (k < 0) continue;
      const e = s[k]!;
      if (d === undefined || d === 1) d = e;
      else if (e === 1 || dimEq(d, e)) continue;
      else if (typeof d === 'number' && typeof e === 'number') {
        throw new GraphError('shape-mismatch', `${where}: cannot broadcast ${shapes.map((x) => formatShape(x)).join(' with ')} (dim ${d} vs ${e})`);
      } else if (typeof e === 'number') d = e;
      else if (typeof d === 'number') continue;
      else d = fresh();
    }
    out.push(d ?? 1);
  }
  return out;
}

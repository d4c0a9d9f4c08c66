/**
 * ONNX gradient rules of GatherND and the scatters (slice family; the other gathers, Pad, Split and
 * Trilu are in slice-more.grad.ts).
 *
 * - GatherND: ScatterND of dy into zeros of the data's shape with reduction 'add' (opset 16). With
 *   batch_dims b > 0 the indices are completed by their batch coordinates (a constant
 *   [indices dims..., b] prefix, static index dims) so one ScatterND with batch_dims 0 does it.
 * - ScatterElements / Scatter / ScatterND, y = data with updates written at the indices:
 *   - reduction none: d data = dy with the written positions zeroed; d updates = the gathered dy.
 *   - add: d data = dy; d updates = the gathered dy.
 *   - mul (opset 16): y[p] = data[p] P[p], P[p] the product of the updates written at p, so
 *     d data = dy P (P: a mul-scatter of the updates into ones), and d updates[k] = dy[p] data[p]
 *     times the product of the other updates at p. No division by an update that may be 0: with
 *     Z[p] the number of zero updates at p and Pnz[p] the product of the nonzero ones, the product
 *     of the others is Pnz / u (u != 0, Z = 0), 0 (u != 0, Z > 0), Pnz (u = 0, Z = 1), 0 (u = 0, Z > 1).
 *   - max / min (opset 18): the gradient goes to the element that won: data where it equals y,
 *     each update where it equals y at its position. Ties (several equal winners at a position)
 *     share dy evenly, as ReduceMax's rule does (ONNX Runtime's forward keeps one of them; any
 *     split is a valid subgradient, an even split is the symmetric one).
 */
import { FLOAT, INT64, inputName, mul, one, outputName, scalar, staticDims, zerosLike } from './grad-helpers.js';
import type { GradientEmitter, GradientRule, GradientTable } from './types.js';

const needs16 = (what: string, opset: number): string | undefined => (opset < 16 ? `${what} needs opset 16 (scatter with reduction add); a forward node keeps the gradient graph below it` : undefined);

const toInt64 = (g: GradientEmitter, idx: string): string => (g.elemType(idx) === INT64 ? idx : one(g, 'Cast', [idx], { to: INT64 }));

/** GatherND indices with batch_dims b completed to batch_dims 0: [batch coords, idx] along the last axis. */
function fullIndices(g: GradientEmitter, idx: string, b: number): string {
  const i64 = toInt64(g, idx);
  if (b === 0) return i64;
  const dims = staticDims(g, idx);
  const lead = dims.slice(0, -1);
  const count = lead.reduce((a, c) => a * c, 1);
  const inner = lead.slice(b).reduce((a, c) => a * c, 1);
  const coords = new Array<number>(count * b);
  for (let p = 0; p < count; p++) {
    // the batch coordinates of position p (row-major over lead), the first b of its multi-index
    let rest = Math.floor(p / inner);
    for (let j = b - 1; j >= 0; j--) {
      coords[p * b + j] = rest % lead[j]!;
      rest = Math.floor(rest / lead[j]!);
    }
  }
  return one(g, 'Concat', [g.constInt64(coords, [...lead, b]), i64], { axis: -1 });
}

const gatherND: GradientRule = {
  nonDifferentiable: [1],
  unsupported: (_node, opset) => needs16('the gradient of GatherND', opset),
  backward: (g, dy, wanted) => {
    if (!wanted[0] || !dy[0]) return [null, null];
    const x = inputName(g, 0);
    const b = g.opset >= 12 ? g.node.attrInt('batch_dims', 0)! : 0;
    return [one(g, 'ScatterND', [zerosLike(g, x), fullIndices(g, inputName(g, 1), b), dy[0]], { reduction: 'add' }), null];
  },
};

type Kind = 'elements' | 'nd';

function reductionOf(node: GradientEmitter['node'], opset: number): string {
  return opset >= 16 ? node.attrString('reduction', 'none')! : 'none';
}

/** The scatter's gather / scatter-with-reduction on values shaped like data (position p) and updates (k). */
function ops(g: GradientEmitter, kind: Kind) {
  const idx = inputName(g, 1);
  const axis = g.node.attrInt('axis', 0)!;
  const attrs: Record<string, number> = kind === 'elements' ? { axis } : {};
  return {
    gather: (t: string): string => (kind === 'elements' ? one(g, 'GatherElements', [t, idx], { axis }) : one(g, 'GatherND', [t, idx])),
    scatter: (into: string, upd: string, reduction: string): string => one(g, kind === 'elements' ? 'ScatterElements' : 'ScatterND', [into, idx, upd], reduction === 'none' ? attrs : { ...attrs, reduction }),
  };
}

const asF = (g: GradientEmitter, cond: string): string => one(g, 'Cast', [cond], { to: FLOAT });
const onesLike = (g: GradientEmitter, x: string): string => one(g, 'Add', [zerosLike(g, x), scalar(g, 1)]);

function scatterRule(kind: Kind): GradientRule {
  return {
    nonDifferentiable: [1],
    unsupported: (node, opset) => {
      const red = opset >= 16 ? node.attrString('reduction', 'none') : 'none';
      if (red === 'none' || red === 'add' || red === 'mul' || red === 'max' || red === 'min') return undefined;
      return `the gradient of ${node.opType} with reduction '${red}'`;
    },
    backward: (g, dy, wanted) => {
      const out: (string | null)[] = [null, null, null];
      const d = dy[0];
      if (!d) return out;
      const x = inputName(g, 0);
      const upd = inputName(g, 2);
      const red = reductionOf(g.node, g.opset);
      const { gather, scatter } = ops(g, kind);
      if (red === 'none' || red === 'add') {
        if (wanted[0]) out[0] = red === 'add' ? d : scatter(d, zerosLike(g, upd), 'none');
        if (wanted[2]) out[2] = gather(d);
        return out;
      }
      if (red === 'mul') {
        if (wanted[0]) out[0] = mul(g, d, scatter(onesLike(g, x), upd, 'mul'));
        if (wanted[2]) {
          const isZero = one(g, 'Equal', [upd, scalar(g, 0)]);
          const z = gather(scatter(zerosLike(g, x), asF(g, isZero), 'add'));
          const pnz = gather(scatter(onesLike(g, x), one(g, 'Where', [isZero, scalar(g, 1), upd]), 'mul'));
          const zIs = (n: number): string => one(g, 'Equal', [z, scalar(g, n)]);
          const safeU = one(g, 'Where', [isZero, scalar(g, 1), upd]);
          const others = one(g, 'Where', [isZero, one(g, 'Where', [zIs(1), pnz, scalar(g, 0)]), one(g, 'Where', [zIs(0), one(g, 'Div', [pnz, safeU]), scalar(g, 0)])]);
          out[2] = mul(g, gather(mul(g, d, x)), others);
        }
        return out;
      }
      // max / min: the winners share dy
      const y = outputName(g, 0);
      const maskX = asF(g, one(g, 'Equal', [x, y]));
      const maskU = asF(g, one(g, 'Equal', [upd, gather(y)]));
      const count = one(g, 'Add', [maskX, scatter(zerosLike(g, x), maskU, 'add')]);
      const share = one(g, 'Div', [d, one(g, 'Max', [count, scalar(g, 1)])]);
      if (wanted[0]) out[0] = mul(g, share, maskX);
      if (wanted[2]) out[2] = mul(g, gather(share), maskU);
      return out;
    },
  };
}

export const SLICE_SCATTER_GRADIENTS: GradientTable = {
  GatherND: gatherND,
  ScatterElements: scatterRule('elements'),
  Scatter: scatterRule('elements'),
  ScatterND: scatterRule('nd'),
};

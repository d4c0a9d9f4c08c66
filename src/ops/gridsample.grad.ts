/**
 * ONNX gradient rule of GridSample (resize family; Resize is in resize.grad.ts), 4-D NCHW, opsets
 * 16 and 20, static dims but the batch. It re-derives the mirror's taps (src/ops/resize.ts) in the gradient
 * graph: per axis of length L the grid coordinate g is denormalised (align_corners:
 * x = (g + 1) (L - 1) / 2, else ((g + 1) L - 1) / 2), rounded half to even for nearest, then
 * outside [lo, hi] ([0, L-1] with align_corners, [-0.5, L-0.5] without) clamped to [0, L-1]
 * (border) or reflected into [lo, hi] (reflection). Taps at floor(x) + offsets (linear 0, 1; cubic
 * -1..2; nearest the rounded x) read X at an index that zeros padding weights by 0 outside the axis,
 * border clamps and reflection reflects (then clamps). The output is sum_ab wy_a wx_b X[iy_a, ix_b].
 *
 * - dX: a scatter-add (ScatterElements, reduction 'add') of dy wy_a wx_b into zeros [N, C, H*W] at
 *   iy_a W + ix_b, all taps in one scatter.
 * - dgrid: sum over C of dy sum_ab (wy_a wx_b' V_ab, wy_a' wx_b V_ab) times dx/dg: the weights'
 *   derivatives in the fractional part (linear: -1, 1; cubic: the kernel's derivative), times
 *   the denormalisation's scale, times the padding's derivative (1 inside [lo, hi]; outside: 0 for
 *   border, -1 / +1 for an even / odd number of reflections). Where two taps read the same pixel
 *   (clamped or reflected), their terms cancel as the forward's do. Nearest: no grid gradient
 *   (piecewise constant), dX as above with one tap.
 * Cubic with border padding is refused as the mirror refuses it (ONNX's reference and ONNX Runtime
 * disagree on it). Kinks (integer coordinates, the bounds, half-integers for nearest) have one-sided
 * derivatives; the rule takes the right-hand one, as floor does.
 */
import { FLOAT, INT64, add, inputName, mul, one, reduceSum, scalar, sub, unsqueeze } from './grad-helpers.js';
import type { GradientEmitter, GradientRule, GradientTable } from './types.js';

const MODES: Readonly<Record<string, 'linear' | 'nearest' | 'cubic'>> = { bilinear: 'linear', linear: 'linear', nearest: 'nearest', bicubic: 'cubic', cubic: 'cubic' };
const A = -0.75;

interface AxisTaps {
  /** int64 pixel index per tap (in range). */
  idx: string[];
  /** weight per tap (0 for a zeros-padded index). */
  w: string[];
  /** d weight / d g per tap (undefined for nearest). */
  dw?: string[];
}

const s = scalar;
const f = (g: GradientEmitter, cond: string): string => one(g, 'Cast', [cond], { to: FLOAT });
const where = (g: GradientEmitter, c: string, a: string, b: string): string => one(g, 'Where', [c, a, b]);

/** x reflected into [lo, hi] (repeatedly), and the reflection's derivative (+1 / -1; 1 inside). */
function reflect(g: GradientEmitter, x: string, lo: number, hi: number): { v: string; dv: string } {
  const rng = hi - lo;
  if (rng <= 0) return { v: mul(g, x, s(g, 0)), dv: mul(g, x, s(g, 0)) };
  const below = one(g, 'Less', [x, s(g, lo)]);
  const above = one(g, 'Greater', [x, s(g, hi)]);
  const zero = mul(g, x, s(g, 0));
  const dx = where(g, below, sub(g, s(g, lo), x), where(g, above, sub(g, x, s(g, hi)), zero));
  const n = one(g, 'Floor', [one(g, 'Div', [dx, s(g, rng)])]);
  const r = sub(g, dx, mul(g, n, s(g, rng)));
  const half = one(g, 'Floor', [mul(g, n, s(g, 0.5))]);
  const even = one(g, 'Equal', [sub(g, n, mul(g, half, s(g, 2))), s(g, 0)]);
  const fromLo = add(g, s(g, lo), r);
  const fromHi = sub(g, s(g, hi), r);
  const v = where(g, below, where(g, even, fromLo, fromHi), where(g, above, where(g, even, fromHi, fromLo), x));
  const outside = one(g, 'Or', [below, above]);
  const dv = where(g, outside, where(g, even, s(g, -1), s(g, 1)), s(g, 1));
  return { v, dv };
}

/** The cubic convolution weights (A = -0.75) at t and their derivatives in t. */
function cubic(g: GradientEmitter, t: string): { w: string[]; dw: string[] } {
  const far = (x: string): string => sub(g, mul(g, add(g, mul(g, sub(g, mul(g, s(g, A), x), s(g, 5 * A)), x), s(g, 8 * A)), x), s(g, 4 * A));
  const near = (x: string): string => add(g, mul(g, mul(g, sub(g, mul(g, s(g, A + 2), x), s(g, A + 3)), x), x), s(g, 1));
  const dFar = (x: string): string => add(g, mul(g, sub(g, mul(g, s(g, 3 * A), x), s(g, 10 * A)), x), s(g, 8 * A));
  const dNear = (x: string): string => mul(g, sub(g, mul(g, s(g, 3 * (A + 2)), x), s(g, 2 * (A + 3))), x);
  const t1 = add(g, t, s(g, 1));
  const omt = sub(g, s(g, 1), t);
  const tmt = sub(g, s(g, 2), t);
  return { w: [far(t1), near(t), near(omt), far(tmt)], dw: [dFar(t1), dNear(t), neg(g, dNear(omt)), neg(g, dFar(tmt))] };
}
const neg = (g: GradientEmitter, a: string): string => one(g, 'Neg', [a]);

function axisTaps(g: GradientEmitter, gc: string, L: number, mode: 'linear' | 'nearest' | 'cubic', pad: string, ac: boolean): AxisTaps {
  const scaleG = ac ? (L - 1) / 2 : L / 2;
  let x = add(g, mul(g, gc, s(g, scaleG)), s(g, (L - 1) / 2));
  if (mode === 'nearest') x = one(g, 'Round', [x]);
  const lo = ac ? 0 : -0.5;
  const hi = ac ? L - 1 : L - 0.5;
  let dx: string = s(g, scaleG);
  if (pad !== 'zeros') {
    const outside = one(g, 'Or', [one(g, 'Less', [x, s(g, lo)]), one(g, 'Greater', [x, s(g, hi)])]);
    if (pad === 'border') {
      x = where(g, outside, one(g, 'Clip', [x, s(g, 0), s(g, L - 1)]), x);
      dx = where(g, outside, s(g, 0), dx);
    } else {
      const r = reflect(g, x, lo, hi);
      x = r.v;
      dx = mul(g, r.dv, dx);
    }
  }
  const base = mode === 'nearest' ? x : one(g, 'Floor', [x]);
  const t = sub(g, x, base);
  const offsets = mode === 'nearest' ? [0] : mode === 'linear' ? [0, 1] : [-1, 0, 1, 2];
  let w: string[];
  let dw: string[] | undefined;
  if (mode === 'nearest') w = [one(g, 'Add', [mul(g, x, s(g, 0)), s(g, 1)])];
  else if (mode === 'linear') {
    w = [sub(g, s(g, 1), t), t];
    dw = [neg(g, dx), dx];
  } else {
    const c = cubic(g, t);
    w = c.w;
    dw = c.dw.map((v) => mul(g, v, dx));
  }
  const idx: string[] = [];
  const ws: string[] = [];
  const dws: string[] = [];
  offsets.forEach((o, k) => {
    const i = o === 0 ? base : add(g, base, s(g, o));
    let j: string;
    let inside: string | null = null;
    if (pad === 'zeros') {
      inside = f(g, one(g, 'And', [one(g, 'GreaterOrEqual', [i, s(g, 0)]), one(g, 'LessOrEqual', [i, s(g, L - 1)])]));
      j = i;
    } else j = pad === 'border' ? i : one(g, 'Floor', [reflect(g, i, lo, hi).v]);
    idx.push(one(g, 'Cast', [one(g, 'Clip', [j, s(g, 0), s(g, L - 1)])], { to: INT64 }));
    ws.push(inside ? mul(g, w[k]!, inside) : w[k]!);
    if (dw) dws.push(inside ? mul(g, dw[k]!, inside) : dw[k]!);
  });
  return dw ? { idx, w: ws, dw: dws } : { idx, w: ws };
}

const gridSample: GradientRule = {
  unsupported: (node, opset) => {
    const mode = node.attrString('mode', opset >= 20 ? 'linear' : 'bilinear')!;
    if (!MODES[mode]) return `the gradient of GridSample mode '${mode}'`;
    const pad = node.attrString('padding_mode', 'zeros')!;
    if (!['zeros', 'border', 'reflection'].includes(pad)) return `the gradient of GridSample padding_mode '${pad}'`;
    if (MODES[mode] === 'cubic' && pad === 'border') return "the gradient of GridSample cubic with padding_mode 'border' (the mirror refuses its forward: ONNX's reference and ONNX Runtime disagree)";
    return undefined;
  },
  backward: (g, dy, wanted) => {
    const d = dy[0];
    const out: (string | null)[] = [null, null];
    if (!d) return out;
    const node = g.node;
    const x = inputName(g, 0);
    const grid = inputName(g, 1);
    // every dim but the batch must be static (the batch may be symbolic)
    const stat = (v: string, from: number): number[] => {
      const dv = g.dims(v);
      const rest = dv?.slice(from);
      if (!dv || !rest || rest.some((k) => typeof k !== 'number')) return g.fail(`the dims of '${v}' after the batch are not static (${dv ? `[${dv.join(',')}]` : 'unknown'}); GridSample's gradient needs them`);
      return rest as number[];
    };
    const xd = stat(x, 1);
    if (xd.length !== 3) g.fail(`the gradient of GridSample on a rank-${xd.length + 1} input (4-D NCHW only)`);
    const [C, H, W] = xd as [number, number, number];
    const [Ho, Wo] = stat(grid, 1) as [number, number, number];
    const P = Ho * Wo;
    const mode = MODES[node.attrString('mode', g.opset >= 20 ? 'linear' : 'bilinear')!]!;
    const pad = node.attrString('padding_mode', 'zeros')!;
    const ac = node.attrInt('align_corners', 0) !== 0;
    const coord = (k: number): string => one(g, 'Reshape', [one(g, 'Gather', [grid, g.constInt64([k], [])], { axis: 3 }), g.constInt64([-1, 1, P])]);
    const tx = axisTaps(g, coord(0), W, mode, pad, ac);
    const ty = axisTaps(g, coord(1), H, mode, pad, ac);
    const dyf = one(g, 'Reshape', [d, g.constInt64([-1, C, P])]);
    const xf = one(g, 'Reshape', [x, g.constInt64([-1, C, H * W])]);
    const idxShape = g.constInt64([1, C, 1]);
    const taps: { idx: string; a: number; b: number }[] = [];
    ty.idx.forEach((iy, a) => tx.idx.forEach((ix, b) => taps.push({ idx: one(g, 'Expand', [add(g, mul(g, iy, g.constInt64([W], [])), ix), idxShape]), a, b })));
    if (wanted[0]) {
      const upd = taps.map(({ a, b }) => mul(g, dyf, mul(g, ty.w[a]!, tx.w[b]!)));
      const all = (v: string[]): string => (v.length === 1 ? v[0]! : one(g, 'Concat', v, { axis: 2 }));
      const zeros = one(g, 'ConstantOfShape', [one(g, 'Shape', [xf])]);
      const sc = one(g, 'ScatterElements', [zeros, all(taps.map((t) => t.idx)), all(upd)], { axis: 2, reduction: 'add' });
      out[0] = one(g, 'Reshape', [sc, g.constInt64([-1, C, H, W])]);
    }
    if (wanted[1]) {
      if (mode === 'nearest' || !tx.dw || !ty.dw) out[1] = one(g, 'ConstantOfShape', [one(g, 'Shape', [grid])]);
      else {
        let sx: string | null = null;
        let sy: string | null = null;
        for (const { idx, a, b } of taps) {
          const v = one(g, 'GatherElements', [xf, idx], { axis: 2 });
          const termX = mul(g, v, mul(g, ty.w[a]!, tx.dw[b]!));
          const termY = mul(g, v, mul(g, ty.dw[a]!, tx.w[b]!));
          sx = sx ? add(g, sx, termX) : termX;
          sy = sy ? add(g, sy, termY) : termY;
        }
        const gx = reduceSum(g, mul(g, dyf, sx!), [1], false);
        const gy = reduceSum(g, mul(g, dyf, sy!), [1], false);
        const both = one(g, 'Concat', [unsqueeze(g, gx, [-1]), unsqueeze(g, gy, [-1])], { axis: -1 });
        out[1] = one(g, 'Reshape', [both, g.constInt64([-1, Ho, Wo, 2])]);
      }
    }
    return out;
  },
};

export const GRIDSAMPLE_GRADIENTS: GradientTable = { GridSample: gridSample };

/**
 * ONNX gradient rule of the spectral family: DFT (opsets 17 and 20). The DFT is linear; its
 * adjoint is another DFT: for y = F x (F_km = e^{-2 pi i k m / n}) the gradient is
 * F^H dy = n IDFT(dy), for the inverse transform y = conj(F) x / n it is DFT(dy) / n. A one-sided
 * output's gradient is first zero-padded to all n frequencies; a dft_length that padded (or cut)
 * the signal cuts (or zero-pads) the gradient back to the input's length; a real input takes the
 * real part. Static rank and lengths are needed.
 */
import { inputName, one, scale, staticDims } from './grad-helpers.js';
import type { GradientRule, GradientTable } from './types.js';

const dft: GradientRule = {
  nonDifferentiable: [1, 2],
  unsupported: (node) => (node.attrInt('inverse', 0) !== 0 && node.attrInt('onesided', 0) !== 0 ? 'DFT with both inverse and onesided' : undefined),
  backward: (g, dy, wanted) => {
    const out: (string | null)[] = g.node.inputs.map(() => null);
    const d = dy[0];
    if (!d || !wanted[0]) return out;
    const x = inputName(g, 0);
    const xd = staticDims(g, x);
    const r = xd.length;
    let axis: number;
    if (g.opset >= 20) {
      const a = g.node.inputs[2];
      const v = (a ? g.constantInts(a.name) : [-2]) ?? g.fail('DFT axis computed at run time');
      if (v.length !== 1) g.fail('DFT axis must be a scalar');
      axis = v[0]!;
    } else axis = g.node.attrInt('axis', 1)!;
    if (axis < 0) axis += r;
    const L = xd[axis]!;
    let n = L;
    const lenIn = g.node.inputs[1];
    if (lenIn) {
      const v = g.constantInts(lenIn.name) ?? g.fail('DFT dft_length computed at run time');
      if (v.length !== 1) g.fail('DFT dft_length must be a scalar');
      n = v[0]!;
    }
    const inverse = g.node.attrInt('inverse', 0) !== 0;
    const onesided = g.node.attrInt('onesided', 0) !== 0;
    const padAxis = (t: string, by: number): string => {
      const pads = new Array<number>(2 * r).fill(0);
      pads[r + axis] = by;
      return one(g, 'Pad', [t, g.constInt64(pads)], { mode: 'constant' });
    };
    let t = d;
    if (onesided) {
      const nOut = Math.floor(n / 2) + 1;
      if (n > nOut) t = padAxis(t, n - nOut);
    }
    const attrs: Record<string, number> = { inverse: inverse ? 0 : 1, onesided: 0 };
    const ins: (string | null)[] = [t];
    if (g.opset >= 20) ins.push(null, g.constInt64([axis], []));
    else attrs.axis = axis;
    t = scale(g, one(g, 'DFT', ins, attrs), inverse ? 1 / n : n);
    if (n > L) t = one(g, 'Slice', [t, g.constInt64([0]), g.constInt64([L]), g.constInt64([axis])]);
    else if (n < L) t = padAxis(t, L - n);
    if (xd[r - 1] === 1) t = one(g, 'Slice', [t, g.constInt64([0]), g.constInt64([1]), g.constInt64([r - 1])]);
    out[0] = t;
    return out;
  },
};

export const SPECTRAL_GRADIENTS: GradientTable = { DFT: dft };

/**
 * ONNX gradient rules of the elementwise family beyond Add, Sub, Mul, Div (elementwise.grad.ts):
 * Pow, the variadic Max, Min, Sum, Mean, Where, PRelu (comparisons and logical ops give bool
 * values, which carry no gradient and need no rule). Every input's gradient is summed over the axes it was broadcast along
 * (`unbroadcast`).
 *
 * Max / Min give dy to the first input holding the extreme (as the mirror's left fold of
 * maximum / minimum does on ties). Pow's exponent gradient y log(a) is taken where a > 0 and is 0
 * elsewhere (PyTorch's convention; a real power of a negative base has no derivative in the
 * exponent).
 */
import { castFloat, div, inputName, mul, one, outputName, scalar, sub, whereOrZero } from './grad-helpers.js';
import type { GradientRule, GradientTable } from './types.js';

const FLOAT = 1;

const pow: GradientRule = {
  backward: (g, dy, wanted) => {
    const out: (string | null)[] = [null, null];
    const d = dy[0];
    if (!d) return out;
    const a = inputName(g, 0);
    const b = inputName(g, 1);
    const y = outputName(g, 0);
    if (wanted[0] && g.elemType(a) === FLOAT) {
      // b a^(b-1)
      const bf = castFloat(g, b);
      const local = mul(g, bf, one(g, 'Pow', [a, sub(g, bf, scalar(g, 1))]));
      out[0] = g.unbroadcast(mul(g, d, local), a);
    }
    if (wanted[1] && g.elemType(b) === FLOAT) {
      const pos = one(g, 'Greater', [a, scalar(g, 0)]);
      const safeLog = one(g, 'Log', [one(g, 'Where', [pos, a, scalar(g, 1)])]);
      out[1] = g.unbroadcast(mul(g, d, whereOrZero(g, pos, mul(g, y, safeLog))), b);
    }
    return out;
  },
};

/** Max / Min: dy to the first input equal to the output (element by element). */
const extreme: GradientRule = {
  backward: (g, dy, wanted) => {
    const inputs = g.node.inputs;
    const out: (string | null)[] = inputs.map(() => null);
    const d = dy[0];
    if (!d) return out;
    const y = outputName(g, 0);
    if (inputs.length === 1) {
      out[0] = wanted[0] ? d : null;
      return out;
    }
    let taken: string | undefined;
    inputs.forEach((v, i) => {
      if (!v) return;
      let hit = one(g, 'Equal', [v.name, y]);
      if (taken) hit = one(g, 'And', [hit, one(g, 'Not', [taken])]);
      if (wanted[i]) out[i] = g.unbroadcast(whereOrZero(g, hit, d), v.name);
      if (i < inputs.length - 1) taken = taken ? one(g, 'Or', [taken, hit]) : hit;
    });
    return out;
  },
};

function sumLike(mean: boolean): GradientRule {
  return {
    backward: (g, dy, wanted) => {
      const inputs = g.node.inputs;
      const d = dy[0];
      if (!d) return inputs.map(() => null);
      const n = inputs.filter((v) => v).length;
      const scaled = mean && n > 1 ? div(g, d, scalar(g, n)) : d;
      return inputs.map((v, i) => (v && wanted[i] ? g.unbroadcast(scaled, v.name) : null));
    },
  };
}

const where: GradientRule = {
  nonDifferentiable: [0],
  backward: (g, dy, wanted) => {
    const d = dy[0];
    const out: (string | null)[] = [null, null, null];
    if (!d) return out;
    const c = inputName(g, 0);
    if (wanted[1]) out[1] = g.unbroadcast(whereOrZero(g, c, d), inputName(g, 1));
    if (wanted[2]) out[2] = g.unbroadcast(one(g, 'Where', [c, scalar(g, 0), d]), inputName(g, 2));
    return out;
  },
};

const prelu: GradientRule = {
  backward: (g, dy, wanted) => {
    const d = dy[0];
    const out: (string | null)[] = [null, null];
    if (!d) return out;
    const x = inputName(g, 0);
    const slope = inputName(g, 1);
    const pos = one(g, 'Greater', [x, scalar(g, 0)]);
    if (wanted[0]) out[0] = one(g, 'Where', [pos, d, mul(g, d, slope)]);
    if (wanted[1]) out[1] = g.unbroadcast(one(g, 'Where', [pos, scalar(g, 0), mul(g, d, x)]), slope);
    return out;
  },
};

/** Mod with fmod = 1 on floats: y = a - b trunc(a / b), so da = dy, db = -dy trunc(a / b). */
const mod: GradientRule = {
  unsupported: (node) => (node.attrInt('fmod', 0) === 1 ? undefined : 'the gradient of Mod with fmod 0 (integers only)'),
  backward: (g, dy, wanted) => {
    const d = dy[0];
    if (!d) return [null, null];
    const a = inputName(g, 0);
    const b = inputName(g, 1);
    const q = div(g, a, b);
    const trunc = mul(g, one(g, 'Sign', [q]), one(g, 'Floor', [one(g, 'Abs', [q])]));
    return [wanted[0] ? g.unbroadcast(d, a) : null, wanted[1] ? g.unbroadcast(one(g, 'Neg', [mul(g, d, trunc)]), b) : null];
  },
};

export const ELEMENTWISE_MORE_GRADIENTS: GradientTable = {
  Mod: mod,
  Pow: pow,
  Max: extreme,
  Min: extreme,
  Sum: sumLike(false),
  Mean: sumLike(true),
  Where: where,
  PRelu: prelu,
};

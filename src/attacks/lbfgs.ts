/**
 * Limited-memory BFGS with a backtracking (Armijo) line search, for the few-step optimisations of
 * spatial attacks (stAdv uses L-BFGS, as the reference). Minimises f over a float64 vector; every
 * evaluation returns the value and the gradient.
 */
export type Objective = (x: Float64Array) => Promise<{ value: number; grad: Float64Array }>;

export interface LbfgsOptions {
  iterations: number;
  /** History size (default 10). */
  memory?: number;
  /** Most function evaluations per line search (default 10). */
  maxLineSearch?: number;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

export async function lbfgs(f: Objective, x0: Float64Array, o: LbfgsOptions): Promise<{ x: Float64Array; value: number; evaluations: number }> {
  const m = o.memory ?? 10;
  let x: Float64Array = Float64Array.from(x0);
  let value: number;
  let grad: Float64Array;
  ({ value, grad } = await f(x));
  let evaluations = 1;
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  for (let it = 0; it < o.iterations; it++) {
    // two-loop recursion: d = -H g
    const q = Float64Array.from(grad);
    const alpha: number[] = [];
    for (let k = S.length - 1; k >= 0; k--) {
      const a = dot(S[k]!, q) / dot(Y[k]!, S[k]!);
      alpha[k] = a;
      for (let i = 0; i < q.length; i++) q[i]! -= a * Y[k]![i]!;
    }
    const gamma = S.length > 0 ? dot(S[S.length - 1]!, Y[Y.length - 1]!) / dot(Y[Y.length - 1]!, Y[Y.length - 1]!) : 1 / Math.max(Math.sqrt(dot(grad, grad)), 1e-12);
    for (let i = 0; i < q.length; i++) q[i]! *= gamma;
    for (let k = 0; k < S.length; k++) {
      const b = dot(Y[k]!, q) / dot(Y[k]!, S[k]!);
      for (let i = 0; i < q.length; i++) q[i]! += S[k]![i]! * (alpha[k]! - b);
    }
    const d = q.map((v) => -v);
    const slope = dot(grad, d);
    if (!(slope < 0)) break; // not a descent direction (or a zero gradient): stop
    let t = 1;
    let accepted: { x: Float64Array; value: number; grad: Float64Array } | undefined;
    for (let ls = 0; ls < (o.maxLineSearch ?? 10); ls++) {
      const xn = x.map((v, i) => v + t * d[i]!);
      const r = await f(xn);
      evaluations++;
      if (Number.isFinite(r.value) && r.value <= value + 1e-4 * t * slope) {
        accepted = { x: xn, ...r };
        break;
      }
      t /= 2;
    }
    if (!accepted) break;
    const s = accepted.x.map((v, i) => v - x[i]!);
    const y = accepted.grad.map((v, i) => v - grad[i]!);
    if (dot(s, y) > 1e-12) {
      S.push(s);
      Y.push(y);
      if (S.length > m) {
        S.shift();
        Y.shift();
      }
    }
    x = accepted.x;
    value = accepted.value;
    grad = accepted.grad;
  }
  return { x, value, evaluations };
}

/**
 * The 4-parameter logistic mapping IQA papers fit before PLCC (VQEG practice):
 *   f(x) = (b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2,
 * started from p0 = [max y, min y, mean x, std x] (population std), fitted by least squares with
 * Levenberg-Marquardt. This matches what `scipy.optimize.curve_fit(f, x, y, p0)` computes (MINPACK's
 * lmder with Marquardt's column scaling); test/metrics checks parameters, SSE and PLCC against it.
 *
 * Written here rather than taken from npm: the one maintained JS implementation
 * (ml-levenberg-marquardt) differentiates by finite differences with a fixed step, which does not
 * reach SciPy's optimum to the precision the tests hold it to; the model has four parameters and an
 * analytic Jacobian, so a direct solver is short.
 */
import { plcc } from './correlation.js';

export type Logistic4Params = readonly [b1: number, b2: number, b3: number, b4: number];

export interface LogisticFit {
  readonly params: Logistic4Params;
  readonly p0: Logistic4Params;
  /** Sum of squared residuals at the solution. */
  readonly sse: number;
  readonly iterations: number;
  /** True when the relative reduction of the SSE or the relative step fell below the tolerance. */
  readonly converged: boolean;
}

export function logistic4(x: number, p: Logistic4Params): number {
  const [b1, b2, b3, b4] = p;
  return (b1 - b2) / (1 + Math.exp(-(x - b3) / Math.abs(b4))) + b2;
}

/** Residuals y - f(x) and the Jacobian of f (n x 4, row-major) at p. */
function residualsAndJacobian(x: ArrayLike<number>, y: ArrayLike<number>, p: Logistic4Params): { r: Float64Array; J: Float64Array; sse: number } {
  const n = x.length;
  const [b1, b2, b3, b4] = p;
  const s = Math.abs(b4);
  const sign = b4 < 0 ? -1 : 1;
  const r = new Float64Array(n);
  const J = new Float64Array(n * 4);
  let sse = 0;
  for (let i = 0; i < n; i++) {
    const z = (x[i]! - b3) / s;
    // sigma(z) = 1 / (1 + exp(-z)), computed without overflow for large |z|
    const sg = z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
    const d = sg * (1 - sg); // sigma'(z)
    const f = (b1 - b2) * sg + b2;
    r[i] = y[i]! - f;
    sse += r[i]! * r[i]!;
    J[i * 4] = sg;
    J[i * 4 + 1] = 1 - sg;
    J[i * 4 + 2] = (-(b1 - b2) * d) / s;
    J[i * 4 + 3] = (-(b1 - b2) * d * z * sign) / s;
  }
  return { r, J, sse };
}

function sumSquares(x: ArrayLike<number>, y: ArrayLike<number>, p: Logistic4Params): number {
  let sse = 0;
  for (let i = 0; i < x.length; i++) {
    const e = y[i]! - logistic4(x[i]!, p);
    sse += e * e;
  }
  return sse;
}

/** Solve the 4x4 system A d = g (A symmetric positive definite) by Gaussian elimination with pivoting. */
function solve4(A: Float64Array, g: Float64Array): Float64Array | undefined {
  const m = new Float64Array(20);
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 4; j++) m[i * 5 + j] = A[i * 4 + j]!;
    m[i * 5 + 4] = g[i]!;
  }
  for (let c = 0; c < 4; c++) {
    let piv = c;
    for (let i = c + 1; i < 4; i++) if (Math.abs(m[i * 5 + c]!) > Math.abs(m[piv * 5 + c]!)) piv = i;
    if (m[piv * 5 + c] === 0 || !Number.isFinite(m[piv * 5 + c]!)) return undefined;
    if (piv !== c) for (let j = 0; j < 5; j++) [m[c * 5 + j], m[piv * 5 + j]] = [m[piv * 5 + j]!, m[c * 5 + j]!];
    for (let i = c + 1; i < 4; i++) {
      const f = m[i * 5 + c]! / m[c * 5 + c]!;
      for (let j = c; j < 5; j++) m[i * 5 + j]! -= f * m[c * 5 + j]!;
    }
  }
  const d = new Float64Array(4);
  for (let i = 3; i >= 0; i--) {
    let s = m[i * 5 + 4]!;
    for (let j = i + 1; j < 4; j++) s -= m[i * 5 + j]! * d[j]!;
    d[i] = s / m[i * 5 + i]!;
  }
  return d;
}

function check(x: ArrayLike<number>, y: ArrayLike<number>): void {
  if (x.length !== y.length) throw new RangeError(`logistic fit: the two lists have different lengths (${x.length} and ${y.length})`);
  if (x.length < 5) throw new RangeError(`logistic fit: needs at least five pairs to fit four parameters (got ${x.length})`);
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i]!) || !Number.isFinite(y[i]!)) throw new RangeError(`logistic fit: value ${i} is not a finite number`);
  }
}

/** SciPy's starting point: [max y, min y, mean x, std x] (population std, as numpy.std). */
export function logisticStart(x: ArrayLike<number>, y: ArrayLike<number>): Logistic4Params {
  let ymax = -Infinity;
  let ymin = Infinity;
  let mx = 0;
  for (let i = 0; i < x.length; i++) {
    ymax = Math.max(ymax, y[i]!);
    ymin = Math.min(ymin, y[i]!);
    mx += x[i]!;
  }
  mx /= x.length;
  let v = 0;
  for (let i = 0; i < x.length; i++) v += (x[i]! - mx) ** 2;
  return [ymax, ymin, mx, Math.sqrt(v / x.length)];
}

/**
 * Least-squares fit of the 4-parameter logistic. Levenberg-Marquardt with Marquardt's diagonal
 * scaling (the damped system is (JᵀJ + λ·diag(JᵀJ)) d = Jᵀr); stops when the SSE's relative
 * reduction or the relative step falls below `tol` (MINPACK's ftol/xtol tests), or after `maxIterations`.
 * Throws RangeError for mismatched, too short or non-finite input, or a constant x (std 0).
 */
export function fitLogistic4(x: ArrayLike<number>, y: ArrayLike<number>, opts: { maxIterations?: number; tol?: number } = {}): LogisticFit {
  check(x, y);
  const p0 = logisticStart(x, y);
  if (!(p0[3] > 0)) throw new RangeError('logistic fit: the predictions are constant, no mapping can be fitted');
  const maxIterations = opts.maxIterations ?? 2000;
  const tol = opts.tol ?? 1.49012e-8; // SciPy's default ftol/xtol (sqrt of double epsilon)
  let p: Logistic4Params = p0;
  let { r, J, sse } = residualsAndJacobian(x, y, p);
  let lambda = 1e-3;
  let iterations = 0;
  let converged = false;
  const n = x.length;
  while (iterations < maxIterations && !converged) {
    iterations++;
    const A = new Float64Array(16);
    const g = new Float64Array(4);
    for (let i = 0; i < n; i++) {
      for (let a = 0; a < 4; a++) {
        const ja = J[i * 4 + a]!;
        g[a]! += ja * r[i]!;
        for (let b = a; b < 4; b++) A[a * 4 + b]! += ja * J[i * 4 + b]!;
      }
    }
    for (let a = 0; a < 4; a++) for (let b = 0; b < a; b++) A[a * 4 + b] = A[b * 4 + a]!;
    let accepted = false;
    for (let tries = 0; tries < 60 && !accepted; tries++) {
      const D = Float64Array.from(A);
      for (let a = 0; a < 4; a++) D[a * 5] = A[a * 5]! * (1 + lambda) + 1e-300;
      const d = solve4(D, g);
      if (d === undefined) {
        lambda *= 10;
        continue;
      }
      const trial: Logistic4Params = [p[0] + d[0]!, p[1] + d[1]!, p[2] + d[2]!, p[3] + d[3]!];
      const trialSse = Number.isFinite(trial[3]) && trial[3] !== 0 ? sumSquares(x, y, trial) : Infinity;
      if (Number.isFinite(trialSse) && trialSse <= sse) {
        const reduction = (sse - trialSse) / Math.max(sse, 1e-300);
        let stepNorm = 0;
        let pNorm = 0;
        for (let a = 0; a < 4; a++) {
          stepNorm += d[a]! * d[a]!;
          pNorm += trial[a]! * trial[a]!;
        }
        p = trial;
        ({ r, J, sse } = residualsAndJacobian(x, y, p));
        lambda = Math.max(lambda / 10, 1e-12);
        accepted = true;
        // MINPACK's tests: the SSE's relative reduction (ftol) or the relative step (xtol) is tiny
        if (reduction <= tol || Math.sqrt(stepNorm) <= tol * (Math.sqrt(pNorm) + tol)) converged = true;
      } else lambda *= 10;
    }
    if (!accepted) converged = true; // no step reduces the SSE any more: a (local) minimum
  }
  return { params: p, p0, sse, iterations, converged };
}

/** PLCC after mapping the predictions through the fitted logistic (NaN when the fit is constant). */
export function plccLogistic(predictions: ArrayLike<number>, scores: ArrayLike<number>): { plcc: number; fit: LogisticFit } {
  const fit = fitLogistic4(predictions, scores);
  const mapped = Array.from(predictions, (v) => logistic4(v, fit.params));
  return { plcc: plcc(mapped, scores), fit };
}

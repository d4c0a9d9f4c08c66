/**
 * Training losses on a batch of predicted scores against opinion scores, each with its gradient
 * with respect to the predictions (the engine then back-propagates it as a cotangent):
 * norm-in-norm (Li et al. 2020, LinearityIQA's loss; ../shared/docs/METHOD.md), L1 and MSE.
 */
export type LossKind = 'norm-in-norm' | 'l1' | 'mse';

export interface LossValue {
  loss: number;
  /** dL/d(prediction), one per prediction. */
  grad: Float64Array;
}

export interface NormInNormOptions {
  /** Exponent of the loss (default 1). */
  p?: number;
  /** Norm used to normalise (default 2). */
  q?: number;
}

function check(pred: ArrayLike<number>, y: ArrayLike<number>, what: string, min = 1): void {
  if (pred.length !== y.length) throw new RangeError(`${what}: ${pred.length} predictions but ${y.length} scores`);
  if (pred.length < min) throw new RangeError(`${what}: needs at least ${min} images in a batch (got ${pred.length})`);
  for (let i = 0; i < pred.length; i++) {
    if (!Number.isFinite(pred[i]!)) throw new RangeError(`${what}: prediction ${i} is not a finite number (${pred[i]})`);
    if (!Number.isFinite(y[i]!)) throw new RangeError(`${what}: score ${i} is not a finite number (${y[i]})`);
  }
}

/** (v - mean v) / ||v - mean v||_q, with the centred vector and its norm. */
function normalise(v: ArrayLike<number>, q: number): { z: Float64Array; a: Float64Array; s: number } {
  const n = v.length;
  let m = 0;
  for (let i = 0; i < n; i++) m += v[i]!;
  m /= n;
  const a = Float64Array.from(v, (x) => x - m);
  let s = 0;
  for (const x of a) s += Math.abs(x) ** q;
  s = s ** (1 / q);
  // a constant batch has no defined normalisation; PyTorch's reference adds eps: do the same
  const sGuard = s + 1e-8;
  return { z: a.map((x) => x / sGuard), a, s: sGuard };
}

export function normInNorm(pred: ArrayLike<number>, y: ArrayLike<number>, o: NormInNormOptions = {}): LossValue {
  check(pred, y, 'norm-in-norm loss', 2);
  const p = o.p ?? 1;
  const q = o.q ?? 2;
  if (!(p >= 1) || !(q >= 1)) throw new RangeError(`norm-in-norm loss: p and q must be >= 1 (got p=${p}, q=${q})`);
  const n = pred.length;
  const P = normalise(pred, q);
  const Y = normalise(y, q);
  const scale = 2 ** Math.max(1, 1 / q) * n ** Math.max(0, 1 / p - 1 / q);
  let loss = 0;
  const g = new Float64Array(n); // dL/dz
  for (let i = 0; i < n; i++) {
    const d = P.z[i]! - Y.z[i]!;
    loss += Math.abs(d) ** p;
    g[i] = (p * Math.abs(d) ** (p - 1) * Math.sign(d)) / scale;
  }
  loss /= scale;
  // z = a / s(a), s = ||a||_q (+eps): dL/da_j = g_j / s - (g . a) |a_j|^(q-1) sign(a_j) / s^(q+1) ... with s^(q-1) from ds/da
  const unguarded = P.s - 1e-8;
  let ga = 0;
  for (let i = 0; i < n; i++) ga += g[i]! * P.a[i]!;
  const da = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const dsda = unguarded > 0 ? (Math.abs(P.a[j]!) ** (q - 1) * Math.sign(P.a[j]!)) / unguarded ** (q - 1) : 0;
    da[j] = g[j]! / P.s - (ga * dsda) / (P.s * P.s);
  }
  // centring: dL/dpred_j = dL/da_j - mean(dL/da)
  let mda = 0;
  for (const x of da) mda += x;
  mda /= n;
  return { loss, grad: da.map((x) => x - mda) };
}

export function l1Loss(pred: ArrayLike<number>, y: ArrayLike<number>): LossValue {
  check(pred, y, 'L1 loss');
  const n = pred.length;
  let loss = 0;
  const grad = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const d = pred[i]! - y[i]!;
    loss += Math.abs(d);
    grad[i] = Math.sign(d) / n;
  }
  return { loss: loss / n, grad };
}

export function mseLoss(pred: ArrayLike<number>, y: ArrayLike<number>): LossValue {
  check(pred, y, 'MSE loss');
  const n = pred.length;
  let loss = 0;
  const grad = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const d = pred[i]! - y[i]!;
    loss += d * d;
    grad[i] = (2 * d) / n;
  }
  return { loss: loss / n, grad };
}

export function taskLoss(kind: LossKind, pred: ArrayLike<number>, y: ArrayLike<number>, nin: NormInNormOptions = {}): LossValue {
  if (kind === 'norm-in-norm') return normInNorm(pred, y, nin);
  if (kind === 'l1') return l1Loss(pred, y);
  if (kind === 'mse') return mseLoss(pred, y);
  throw new RangeError(`unknown loss '${String(kind)}' (norm-in-norm, l1 or mse)`);
}

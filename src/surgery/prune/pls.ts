/**
 * PLS-VIP filter scores (Jordao et al.; ../shared/docs/METHOD.md, section Pruning) and the one
 * global threshold that removes a ratio of all filters in scope.
 *
 * `plsVip` is scikit-learn's `PLSRegression(n_components=k, scale=...)` (NIPALS, deflation mode
 * 'regression', mode A, `max_iter=500`, `tol=1e-6`; checked against scikit-learn 1.2.1, see
 * fixtures/pls/sklearn-vip.json) for ONE target column, step for step:
 *  - X and y are centred by their means; with `scale: true` (sklearn's default, and ours) each
 *    column of X and y is divided by its sample standard deviation (ddof = 1), a zero standard
 *    deviation being replaced by 1 (a constant feature becomes a column of zeros);
 *  - per component h: the y residual's entries under 10 eps are set to 0; if none is above eps the
 *    fit stops (sklearn's "Y residual is constant": later components stay unfitted); with one target
 *    the power method ends after its first iteration (sklearn breaks when `Y.shape[1] == 1`):
 *    w = X'u / (u'u), w /= (||w|| + eps), t = Xw, c = Y't / (t't); the sign of (w, c) is flipped so
 *    that w's entry of largest magnitude is positive; X -= t (t'X / t't)', y -= t (t'y / t't),
 *    q_h = t'y / t't (the y loading);
 *  - VIP_j = sqrt(p * sum_h s_h (w_jh / ||w_h||)^2 / sum_h s_h), s_h = (t_h't_h)(q_h^2), over the
 *    fitted components.
 * Bad input (NaN/Inf, fewer than 3 samples, mismatched lengths, a constant target) throws a
 * RangeError that names the problem.
 */

export interface PlsOptions {
  /** Number of PLS components (default 2, the method's). */
  components?: number;
  /** sklearn's `scale`: divide X columns and y by their sample std (ddof 1). Default true, as sklearn. */
  scale?: boolean;
}

export interface PlsVipResult {
  n: number;
  p: number;
  /** Components requested and components fitted (fewer when the y residual became constant). */
  components: number;
  fitted: number;
  /** sklearn's `x_weights_`, p x components, row-major (unfitted components are zero). */
  xWeights: Float64Array;
  /** sklearn's `x_scores_`, n x components, row-major. */
  xScores: Float64Array;
  /** sklearn's `y_loadings_` (one target), per component. */
  yLoadings: Float64Array;
  /** VIP per feature (length p). */
  vip: Float64Array;
  xMean: Float64Array;
  xStd: Float64Array;
  yMean: number;
  yStd: number;
}

const EPS = 2.220446049250313e-16; // np.finfo(float64).eps

function checkFinite(a: ArrayLike<number>, what: string, cols?: number): void {
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (!Number.isFinite(v)) {
      const at = cols ? `[${Math.floor(i / cols)}, ${i % cols}]` : `[${i}]`;
      throw new RangeError(`pls: ${what}${at} is ${Number.isNaN(v) ? 'NaN' : String(v)}; features and targets must be finite`);
    }
  }
}

export function plsVip(X: Float64Array, n: number, p: number, y: ArrayLike<number>, opts: PlsOptions = {}): PlsVipResult {
  const k = opts.components ?? 2;
  const scale = opts.scale ?? true;
  if (!Number.isInteger(n) || n < 3) throw new RangeError(`pls: need at least 3 samples (got n = ${n})`);
  if (!Number.isInteger(p) || p < 1) throw new RangeError(`pls: need at least 1 feature (got p = ${p})`);
  if (X.length !== n * p) throw new RangeError(`pls: X has ${X.length} values, expected n x p = ${n} x ${p} = ${n * p}`);
  if (y.length !== n) throw new RangeError(`pls: y has ${y.length} values, expected one per sample (n = ${n})`);
  if (!Number.isInteger(k) || k < 1 || k > p) throw new RangeError(`pls: components must be an integer in [1, p = ${p}] (got ${k})`);
  checkFinite(X, 'X', p);
  checkFinite(y, 'y');

  // Centre and scale (sklearn's _center_scale_xy).
  const Xk = Float64Array.from(X);
  const xMean = new Float64Array(p);
  const xStd = new Float64Array(p).fill(1);
  for (let j = 0; j < p; j++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += Xk[i * p + j]!;
    xMean[j] = s / n;
    for (let i = 0; i < n; i++) Xk[i * p + j]! -= xMean[j]!;
  }
  const yk = Float64Array.from(y);
  let yMean = 0;
  for (let i = 0; i < n; i++) yMean += yk[i]!;
  yMean /= n;
  for (let i = 0; i < n; i++) yk[i]! -= yMean;
  let yStd = 1;
  if (scale) {
    for (let j = 0; j < p; j++) {
      const sd = sampleStd(Xk, n, p, j);
      xStd[j] = sd === 0 ? 1 : sd;
      for (let i = 0; i < n; i++) Xk[i * p + j]! /= xStd[j]!;
    }
    const sd = sampleStd(yk, n, 1, 0);
    yStd = sd === 0 ? 1 : sd;
    for (let i = 0; i < n; i++) yk[i]! /= yStd;
  }

  const W = new Float64Array(p * k);
  const T = new Float64Array(n * k);
  const q = new Float64Array(k);
  let fitted = 0;
  const w = new Float64Array(p);
  const t = new Float64Array(n);
  for (let h = 0; h < k; h++) {
    if (yk.every((v) => Math.abs(v) < 10 * EPS)) yk.fill(0);
    if (!yk.some((v) => Math.abs(v) > EPS)) break; // "Y residual is constant"
    // One power-method iteration (one target): w = X'y / y'y, normalised by ||w|| + eps.
    const yy = dot(yk, yk);
    w.fill(0);
    for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) w[j]! += Xk[i * p + j]! * yk[i]!;
    for (let j = 0; j < p; j++) w[j]! /= yy;
    const wn = Math.sqrt(dot(w, w)) + EPS;
    for (let j = 0; j < p; j++) w[j]! /= wn;
    // Sign flip: the entry of largest |w| (first such) becomes positive.
    let arg = 0;
    for (let j = 1; j < p; j++) if (Math.abs(w[j]!) > Math.abs(w[arg]!)) arg = j;
    const sign = Math.sign(w[arg]!);
    for (let j = 0; j < p; j++) w[j]! *= sign;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < p; j++) s += Xk[i * p + j]! * w[j]!;
      t[i] = s;
    }
    const tt = dot(t, t);
    if (!(tt > 0)) throw new RangeError(`pls: component ${h + 1} has zero X scores (X has rank < ${k} after centring/scaling; every feature constant?)`);
    // Deflation (regression mode).
    const xLoad = new Float64Array(p);
    for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) xLoad[j]! += t[i]! * Xk[i * p + j]!;
    for (let j = 0; j < p; j++) xLoad[j]! /= tt;
    for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) Xk[i * p + j]! -= t[i]! * xLoad[j]!;
    const qh = dot(t, yk) / tt;
    for (let i = 0; i < n; i++) yk[i]! -= t[i]! * qh;
    for (let j = 0; j < p; j++) W[j * k + h] = w[j]!;
    for (let i = 0; i < n; i++) T[i * k + h] = t[i]!;
    q[h] = qh;
    fitted++;
  }
  if (fitted === 0) throw new RangeError('pls: y is constant; VIP needs a target with variance');
  return { n, p, components: k, fitted, xWeights: W, xScores: T, yLoadings: q, vip: vipFromWeights(W, T, q, n, p, k, fitted), xMean, xStd, yMean, yStd };
}

/**
 * VIP_j = sqrt(p * sum_h s_h (w_jh / ||w_h||)^2 / sum_h s_h), s_h = (t_h't_h)(q_h^2), over the first
 * `fitted` components of W (p x k), T (n x k), q (k).
 */
export function vipFromWeights(W: Float64Array, T: Float64Array, q: Float64Array, n: number, p: number, k: number, fitted = k): Float64Array {
  const s = new Float64Array(fitted);
  const wn = new Float64Array(fitted);
  let sSum = 0;
  for (let h = 0; h < fitted; h++) {
    let tt = 0;
    for (let i = 0; i < n; i++) tt += T[i * k + h]! ** 2;
    s[h] = tt * q[h]! * q[h]!;
    sSum += s[h]!;
    let ww = 0;
    for (let j = 0; j < p; j++) ww += W[j * k + h]! ** 2;
    wn[h] = Math.sqrt(ww);
  }
  const vip = new Float64Array(p);
  if (!(sSum > 0)) throw new RangeError('pls: the fitted components explain none of y (sum of s_h is 0); VIP is undefined');
  for (let j = 0; j < p; j++) {
    let acc = 0;
    for (let h = 0; h < fitted; h++) acc += s[h]! * (W[j * k + h]! / wn[h]!) ** 2;
    vip[j] = Math.sqrt((p * acc) / sSum);
  }
  return vip;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Sample standard deviation (ddof 1) of column j of an already centred n x cols matrix (numpy re-centres). */
function sampleStd(a: Float64Array, n: number, cols: number, j: number): number {
  let m = 0;
  for (let i = 0; i < n; i++) m += a[i * cols + j]!;
  m /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (a[i * cols + j]! - m) ** 2;
  return Math.sqrt(ss / (n - 1));
}

export interface GlobalThresholdResult {
  /** round(ratio x total filters), and how many were removed (fewer only when keeping one filter per conv forbids more). */
  requested: number;
  removed: number;
  totalFilters: number;
  /** The largest VIP removed (-Infinity when nothing is removed): filters under it are removed, except a conv's last one. */
  threshold: number;
  convs: { node: string; filters: number; pruned: number[] }[];
}

/**
 * The one global threshold over every conv's VIP scores: the round(ratio x total) filters with the
 * lowest VIP overall are removed, ties broken by conv order, then filter index. A conv never loses
 * all its filters: when the next-lowest filter is the last one left in its conv, it is kept (it is
 * that conv's highest-VIP filter) and the next-lowest filter elsewhere is taken instead.
 */
export function globalThresholdPrune(vipPerConv: { node: string; vip: ArrayLike<number> }[], ratio: number): GlobalThresholdResult {
  if (!(Number.isFinite(ratio) && ratio >= 0 && ratio < 1)) throw new RangeError(`global threshold: ratio must be in [0, 1) (got ${ratio})`);
  const seen = new Set<string>();
  const order: { c: number; f: number; v: number }[] = [];
  vipPerConv.forEach((e, c) => {
    if (seen.has(e.node)) throw new RangeError(`global threshold: conv '${e.node}' is listed twice`);
    seen.add(e.node);
    if (e.vip.length < 1) throw new RangeError(`global threshold: conv '${e.node}' has no filters`);
    for (let f = 0; f < e.vip.length; f++) {
      const v = e.vip[f]!;
      if (!Number.isFinite(v)) throw new RangeError(`global threshold: VIP of conv '${e.node}' filter ${f} is ${Number.isNaN(v) ? 'NaN' : String(v)}`);
      order.push({ c, f, v });
    }
  });
  order.sort((a, b) => a.v - b.v || a.c - b.c || a.f - b.f);
  const total = order.length;
  const requested = Math.round(ratio * total);
  const taken = vipPerConv.map(() => [] as number[]);
  let removed = 0;
  let threshold = -Infinity;
  for (const e of order) {
    if (removed >= requested) break;
    if (taken[e.c]!.length + 1 >= vipPerConv[e.c]!.vip.length) continue; // would empty the conv
    taken[e.c]!.push(e.f);
    threshold = e.v;
    removed++;
  }
  return {
    requested,
    removed,
    totalFilters: total,
    threshold,
    convs: vipPerConv.map((e, c) => ({ node: e.node, filters: e.vip.length, pruned: taken[c]!.sort((a, b) => a - b) })),
  };
}

/**
 * PLS-VIP scores against scikit-learn's PLSRegression (fixtures/pls/sklearn-vip.json, written by
 * scripts/make-pls-fixtures.py with Debian's python3-sklearn), and the one global threshold.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { globalThresholdPrune, plsVip, vipFromWeights } from '../../src/surgery/prune/pls.js';

interface RefCase {
  name: string;
  n: number;
  p: number;
  components: number;
  scale: boolean;
  X: number[];
  y: number[];
  xWeights: number[];
  xScores: number[];
  yLoadings: number[];
  xMean: number[];
  xStd: number[];
  vip: number[];
}

const ref = JSON.parse(readFileSync('fixtures/pls/sklearn-vip.json', 'utf8')) as { sklearn: string; cases: RefCase[] };

/** Largest |a - b| / (|b| + 1e-12) (exact zeros in b must be matched to 1e-18). */
function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).to.equal(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!) / (Math.abs(b[i]!) + 1e-12));
  return m;
}

/** Columns of a (rows x k) equal to those of b up to one sign per column; returns the largest relative error. */
function maxRelUpToSign(a: ArrayLike<number>, b: ArrayLike<number>, rows: number, k: number): number {
  let m = 0;
  for (let h = 0; h < k; h++) {
    let d = 0;
    for (let r = 0; r < rows; r++) d += a[r * k + h]! * b[r * k + h]!;
    const s = d < 0 ? -1 : 1;
    let scale = 0;
    for (let r = 0; r < rows; r++) scale = Math.max(scale, Math.abs(b[r * k + h]!));
    for (let r = 0; r < rows; r++) m = Math.max(m, Math.abs(s * a[r * k + h]! - b[r * k + h]!) / scale);
  }
  return m;
}

const TOL = 1e-6;

describe('surgery/prune/pls: VIP against scikit-learn', () => {
  it(`fixture made with scikit-learn (${ref.sklearn}) has the cases the script writes`, () => {
    expect(ref.cases.map((c) => c.name)).to.include.members([
      'n40-p12-scaled',
      'n40-p12-unscaled',
      'n40-p10-constant-column',
      'n15-p50-p-gt-n',
      'n60-p24-relu-features-dead-filter',
    ]);
  });

  for (const c of ref.cases) {
    it(`${c.name}: VIP within 1e-6 relative, x_weights and x_scores equal up to sign, y_loadings, centring/scaling`, () => {
      const r = plsVip(Float64Array.from(c.X), c.n, c.p, c.y, { components: c.components, scale: c.scale });
      expect(r.fitted).to.equal(c.components);
      expect(maxRel(r.vip, c.vip)).to.be.below(TOL);
      expect(maxRelUpToSign(r.xWeights, c.xWeights, c.p, c.components)).to.be.below(TOL);
      expect(maxRelUpToSign(r.xScores, c.xScores, c.n, c.components)).to.be.below(TOL);
      expect(maxRel(r.yLoadings.map(Math.abs), c.yLoadings.map(Math.abs))).to.be.below(TOL);
      expect(maxRel(r.xMean, c.xMean)).to.be.below(TOL);
      expect(maxRel(r.xStd, c.xStd)).to.be.below(TOL);
      // VIP is a normalised importance: mean of VIP^2 over the features is 1.
      expect(r.vip.reduce((s, v) => s + v * v, 0) / c.p).to.be.closeTo(1, 1e-9);
    });
  }

  it('the comparison can fail: a wrong s_h, a wrong scale setting or one component less are caught', () => {
    const c = ref.cases.find((x) => x.name === 'n40-p12-scaled')!;
    const W = Float64Array.from(c.xWeights);
    const T = Float64Array.from(c.xScores);
    const q = Float64Array.from(c.yLoadings);
    // Our VIP formula on sklearn's own W, T, q reproduces sklearn's VIP...
    expect(maxRel(vipFromWeights(W, T, q, c.n, c.p, c.components), c.vip)).to.be.below(1e-12);
    // ...and s_h without the y loadings (s_h = t_h't_h) does not.
    expect(maxRel(vipFromWeights(W, T, Float64Array.from(q, () => 1), c.n, c.p, c.components), c.vip)).to.be.above(1e-3);
    // s_h = q_h^2 only (t'_h t_h dropped).
    const Tn = Float64Array.from(T);
    for (let h = 0; h < c.components; h++) {
      let tt = 0;
      for (let i = 0; i < c.n; i++) tt += T[i * c.components + h]! ** 2;
      for (let i = 0; i < c.n; i++) Tn[i * c.components + h]! /= Math.sqrt(tt);
    }
    expect(maxRel(vipFromWeights(W, Tn, q, c.n, c.p, c.components), c.vip)).to.be.above(1e-3);
    const unscaled = plsVip(Float64Array.from(c.X), c.n, c.p, c.y, { components: c.components, scale: false });
    expect(maxRel(unscaled.vip, c.vip)).to.be.above(1e-3);
    const one = plsVip(Float64Array.from(c.X), c.n, c.p, c.y, { components: 1 });
    expect(maxRel(one.vip, c.vip)).to.be.above(1e-3);
  });

  it('defaults are the method\'s: 2 components, scale = true (sklearn\'s default)', () => {
    const c = ref.cases.find((x) => x.name === 'n40-p12-scaled')!;
    const r = plsVip(Float64Array.from(c.X), c.n, c.p, c.y);
    expect(r.components).to.equal(2);
    expect(maxRel(r.vip, c.vip)).to.be.below(TOL);
  });

  it('a constant (dead) feature gets VIP 0 and std 1, as in sklearn', () => {
    const c = ref.cases.find((x) => x.name === 'n40-p10-constant-column')!;
    const r = plsVip(Float64Array.from(c.X), c.n, c.p, c.y);
    expect(r.xStd[3]).to.equal(1);
    expect(r.vip[3]).to.equal(0);
    expect(c.vip[3]).to.equal(0);
  });

  it('does not modify its inputs', () => {
    const c = ref.cases[0]!;
    const X = Float64Array.from(c.X);
    const y = c.y.slice();
    plsVip(X, c.n, c.p, y);
    expect(Array.from(X)).to.deep.equal(c.X);
    expect(y).to.deep.equal(c.y);
  });

  it('refuses bad input with a RangeError naming the problem', () => {
    const X = Float64Array.from({ length: 12 }, (_, i) => Math.sin(i + 1));
    const y = [1, 2, 4, 3];
    expect(() => plsVip(X, 4, 3, y)).not.to.throw();
    const nanX = Float64Array.from(X);
    nanX[5] = NaN;
    expect(() => plsVip(nanX, 4, 3, y)).to.throw(RangeError, /X\[1, 2\] is NaN/);
    const infX = Float64Array.from(X);
    infX[0] = Infinity;
    expect(() => plsVip(infX, 4, 3, y)).to.throw(RangeError, /X\[0, 0\] is Infinity/);
    expect(() => plsVip(X, 4, 3, [1, NaN, 2, 3])).to.throw(RangeError, /y\[1\] is NaN/);
    expect(() => plsVip(X.subarray(0, 6), 2, 3, [1, 2])).to.throw(RangeError, /at least 3 samples/);
    expect(() => plsVip(X, 4, 2, y)).to.throw(RangeError, /X has 12 values, expected n x p = 4 x 2 = 8/);
    expect(() => plsVip(X, 4, 3, [1, 2, 3])).to.throw(RangeError, /y has 3 values, expected one per sample \(n = 4\)/);
    expect(() => plsVip(X, 4, 3, y, { components: 4 })).to.throw(RangeError, /components must be an integer in \[1, p = 3\]/);
    expect(() => plsVip(X, 4, 3, y, { components: 0 })).to.throw(RangeError, /components/);
    expect(() => plsVip(X, 4, 3, [2, 2, 2, 2])).to.throw(RangeError, /y is constant/);
    expect(() => plsVip(new Float64Array(12).fill(3), 4, 3, y)).to.throw(RangeError, /zero X scores/);
  });
});

describe('surgery/prune/pls: one global threshold', () => {
  const vip = (xs: number[]) => Float64Array.from(xs);

  it('removes exactly round(ratio x total) filters with the lowest VIP overall, not per conv', () => {
    const r = globalThresholdPrune(
      [
        { node: 'a', vip: vip([0.1, 2.0, 0.2, 1.5]) },
        { node: 'b', vip: vip([1.1, 1.2, 1.3, 1.4, 0.3, 1.6]) },
        { node: 'c', vip: vip([0.9, 0.05, 1.7, 1.8, 1.9, 2.1, 2.2, 2.3, 2.4, 2.5]) },
      ],
      0.25,
    );
    expect(r.totalFilters).to.equal(20);
    expect(r.requested).to.equal(5);
    expect(r.removed).to.equal(5);
    expect(r.threshold).to.equal(0.9);
    expect(r.convs).to.deep.equal([
      { node: 'a', filters: 4, pruned: [0, 2] },
      { node: 'b', filters: 6, pruned: [4] },
      { node: 'c', filters: 10, pruned: [0, 1] },
    ]);
  });

  it('count is round(ratio x total) (half away from zero, as Math.round for positives)', () => {
    const convs = [{ node: 'a', vip: vip([5, 4, 3, 2, 1, 0.5, 0.4]) }];
    expect(globalThresholdPrune(convs, 0.5).removed).to.equal(4); // 3.5 -> 4
    expect(globalThresholdPrune(convs, 0.2).removed).to.equal(1); // 1.4 -> 1
    expect(globalThresholdPrune(convs, 0.5).convs[0]!.pruned).to.deep.equal([3, 4, 5, 6]);
  });

  it('ratio 0 removes nothing', () => {
    const r = globalThresholdPrune([{ node: 'a', vip: vip([0, 0, 1]) }, { node: 'b', vip: vip([3]) }], 0);
    expect(r.removed).to.equal(0);
    expect(r.threshold).to.equal(-Infinity);
    expect(r.convs.map((c) => c.pruned)).to.deep.equal([[], []]);
  });

  it('never empties a conv: its highest-VIP filter stays and the next-lowest elsewhere is taken', () => {
    const r = globalThresholdPrune(
      [
        { node: 'weak', vip: vip([0.01, 0.03, 0.02]) },
        { node: 'strong', vip: vip([1, 2, 3, 4, 5]) },
      ],
      0.5, // 8 filters -> 4
    );
    expect(r.removed).to.equal(4);
    expect(r.convs[0]!.pruned).to.deep.equal([0, 2]); // 0.03 kept
    expect(r.convs[1]!.pruned).to.deep.equal([0, 1]);
    expect(r.threshold).to.equal(2);
    // A single-filter conv is never pruned, however low its VIP.
    const s = globalThresholdPrune([{ node: 'one', vip: vip([0]) }, { node: 'b', vip: vip([1, 2, 3]) }], 0.25);
    expect(s.convs.map((c) => c.pruned)).to.deep.equal([[], [0]]);
  });

  it('when keeping one filter per conv forbids the count, removes as many as allowed and says so', () => {
    const r = globalThresholdPrune([{ node: 'a', vip: vip([1, 2]) }, { node: 'b', vip: vip([3, 4]) }], 0.9);
    expect(r.requested).to.equal(4);
    expect(r.removed).to.equal(2);
    expect(r.convs.map((c) => c.pruned)).to.deep.equal([[0], [0]]);
  });

  it('ties are broken deterministically: conv order, then filter index', () => {
    const convs = [
      { node: 'a', vip: vip([1, 0.5, 0.5, 2]) },
      { node: 'b', vip: vip([0.5, 0.5, 3, 4]) },
    ];
    const r = globalThresholdPrune(convs, 0.25); // 8 -> 2 of the four 0.5s
    expect(r.convs.map((c) => c.pruned)).to.deep.equal([[1, 2], []]);
    const r3 = globalThresholdPrune(convs, 0.375); // 3
    expect(r3.convs.map((c) => c.pruned)).to.deep.equal([[1, 2], [0]]);
    // Same answer on a second call and with the input order of equal entries unchanged.
    expect(globalThresholdPrune(convs, 0.375)).to.deep.equal(r3);
  });

  it('refuses bad input with a RangeError naming the problem', () => {
    expect(() => globalThresholdPrune([{ node: 'a', vip: vip([1, NaN]) }], 0.1)).to.throw(RangeError, /conv 'a' filter 1 is NaN/);
    expect(() => globalThresholdPrune([{ node: 'a', vip: vip([]) }], 0.1)).to.throw(RangeError, /conv 'a' has no filters/);
    expect(() => globalThresholdPrune([{ node: 'a', vip: vip([1]) }, { node: 'a', vip: vip([2]) }], 0.1)).to.throw(RangeError, /listed twice/);
    expect(() => globalThresholdPrune([{ node: 'a', vip: vip([1]) }], 1)).to.throw(RangeError, /ratio must be in \[0, 1\)/);
    expect(() => globalThresholdPrune([{ node: 'a', vip: vip([1]) }], -0.1)).to.throw(RangeError, /ratio/);
    expect(() => globalThresholdPrune([{ node: 'a', vip: vip([1]) }], NaN)).to.throw(RangeError, /ratio/);
  });
});

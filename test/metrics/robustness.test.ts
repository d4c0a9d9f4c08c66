import { expect } from 'chai';
import { bootstrapCi, quantileSorted, take } from '../../src/metrics/bootstrap.js';
import { mean } from '../../src/metrics/robustness.js';
import { absGain, aucOverEps, cleanScoreRange, fixedScoreRange, gains, normalize, rScore, rScores, R_SCORE_GUARD } from '../../src/metrics/robustness.js';

describe('metrics/robustness', () => {
  const clean = [2, 3, 4, 6];
  const attacked = [2.5, 3, 5, 6.2];
  const range = cleanScoreRange(clean); // [2, 6]

  it('normalises with the clean predictions range and says so', () => {
    expect(range).to.deep.equal({ min: 2, max: 6, source: 'clean predictions on the evaluation set' });
    expect(normalize(4, range)).to.equal(0.5);
    expect(fixedScoreRange(1, 5, 'training MOS').source).to.equal('training MOS');
    expect(() => cleanScoreRange([3, 3, 3])).to.throw(RangeError, /all scores are equal/);
    expect(() => fixedScoreRange(0, Infinity)).to.throw(RangeError, /finite/);
  });

  it('absolute gain: mean of normalised f(x_adv) - f(x) (hand-computed)', () => {
    // (0.5 + 0 + 1 + 0.2) / 4 / 4 = 0.10625
    gains(clean, attacked, range).forEach((g, i) => expect(g).to.be.closeTo([0.125, 0, 0.25, 0.05][i]!, 1e-15));
    expect(absGain(clean, attacked, range)).to.be.closeTo(0.10625, 1e-15);
    expect(absGain(clean, clean, range)).to.equal(0);
    expect(absGain([3, 5], [2, 4], fixedScoreRange(0, 10))).to.be.closeTo(-0.1, 1e-15);
  });

  it('R-score (MSU): log10(max(1 - f(x), f(x)) / (|f(x_adv) - f(x)| + 1e-6)), hand-computed', () => {
    const r = rScores(clean, attacked, range);
    // image 0: f = 0, room 1, change 0.125
    expect(r[0]).to.be.closeTo(Math.log10(1 / (0.125 + R_SCORE_GUARD)), 1e-12);
    // image 1: no change: room 0.75 over the guard alone
    expect(r[1]).to.be.closeTo(Math.log10(0.75 / R_SCORE_GUARD), 1e-9);
    expect(rScore(clean, attacked, range)).to.be.closeTo(mean(r), 1e-15);
    // a stronger attack gives a lower R-score
    expect(rScore(clean, [3, 4, 5.5, 6.8], range)).to.be.lessThan(rScore(clean, attacked, range));
  });

  it('R-score (paper variant): beta1 - f(x_adv) in the numerator, data-dependent betas', () => {
    const c = [0, 4, 8];
    const a = [2, 4, 10];
    const rg = fixedScoreRange(0, 10);
    // normalised c = [0, .4, .8], a = [.2, .4, 1]: betas 0 and 1
    const r = rScores(c, a, rg, 'paper');
    expect(r[0]).to.be.closeTo(Math.log10((0.8 + R_SCORE_GUARD) / (0.2 + R_SCORE_GUARD)), 1e-12);
    expect(r[2]).to.be.closeTo(Math.log10((0.8 + R_SCORE_GUARD) / (0.2 + R_SCORE_GUARD)), 1e-12);
    expect(r[1]).to.be.closeTo(Math.log10((0.6 + R_SCORE_GUARD) / R_SCORE_GUARD), 1e-9);
    expect(rScores(c, a, rg, 'msu')[0]).to.be.closeTo(Math.log10(1 / (0.2 + R_SCORE_GUARD)), 1e-12);
  });

  it('refuses mismatched or non-finite scores (a NaN is an error, never a number)', () => {
    expect(() => absGain([1, 2], [1], range)).to.throw(RangeError, /2 clean scores but 1 attacked/);
    expect(() => rScore([1, NaN], [1, 2], range)).to.throw(RangeError, /not a finite number/);
    expect(() => absGain([], [], range)).to.throw(RangeError, /no scores/);
  });

  it('AUC over eps: trapezoid in 1/255 units, sorted numerically (not as strings)', () => {
    const pts = [10, 2, 4, 8, 6].map((eps) => ({ eps, value: eps / 10 }));
    // value = eps/10 on [2, 10]: (100 - 4) / 20 = 4.8; sorting '10' before '2' would give a different area
    expect(aucOverEps(pts)).to.be.closeTo(4.8, 1e-12);
    expect(aucOverEps([{ eps: 2, value: 1 }, { eps: 4, value: 3 }])).to.equal(4);
    expect(() => aucOverEps([{ eps: 2, value: 1 }])).to.throw(RangeError, /at least two/);
    expect(() => aucOverEps([{ eps: 2, value: 1 }, { eps: 2, value: 3 }])).to.throw(RangeError, /twice/);
    expect(() => aucOverEps([{ eps: 2, value: 1 }, { eps: 4, value: NaN }])).to.throw(RangeError, /non-finite/);
  });
});

describe('metrics/bootstrap', () => {
  it('quantiles interpolate linearly like numpy', () => {
    expect(quantileSorted([1, 2, 3, 4], 0.5)).to.equal(2.5);
    expect(quantileSorted([1, 2, 3, 4], 0.025)).to.be.closeTo(1.075, 1e-12);
  });

  it('the interval covers the mean of a sample, is reproducible for a seed, and narrows with more data', () => {
    const g = Array.from({ length: 200 }, (_, i) => Math.sin(i * 12.9898) * 0.5);
    const stat = (idx: Int32Array): number => mean(take(g, idx));
    const ci = bootstrapCi(g.length, stat, { seed: 3 });
    expect(ci.low).to.be.lessThan(mean(g));
    expect(ci.high).to.be.greaterThan(mean(g));
    expect(bootstrapCi(g.length, stat, { seed: 3 })).to.deep.equal(ci);
    const small = g.slice(0, 20);
    const ciSmall = bootstrapCi(small.length, (idx) => mean(take(small, idx)), { seed: 3 });
    expect(ciSmall.high - ciSmall.low).to.be.greaterThan(ci.high - ci.low);
    // standard error of the mean ~ sd/sqrt(n): the 95% width is about 3.9 standard errors
    const sd = Math.sqrt(mean(g.map((v) => (v - mean(g)) ** 2)));
    expect((ci.high - ci.low) / (sd / Math.sqrt(g.length))).to.be.within(3.3, 4.5);
  });

  it('refuses bad options and gives NaN when most resamples have no defined statistic', () => {
    expect(() => bootstrapCi(0, () => 0)).to.throw(RangeError, /at least one item/);
    expect(() => bootstrapCi(5, () => 0, { resamples: 5 })).to.throw(RangeError, /resamples/);
    expect(() => bootstrapCi(5, () => 0, { level: 1 })).to.throw(RangeError, /level/);
    expect(bootstrapCi(5, () => NaN).low).to.be.NaN;
  });
});

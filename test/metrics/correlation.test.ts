import { expect } from 'chai';
import { averageRanks, plcc, srocc } from '../../src/metrics/correlation.js';

describe('metrics/correlation', () => {
  it('ranks from 1, ties get the average of the ranks they span', () => {
    expect(averageRanks([10, 20, 20, 30])).to.deep.equal([1, 2.5, 2.5, 4]);
    expect(averageRanks([3, 1, 3, 3, 0])).to.deep.equal([4, 2, 4, 4, 1]);
    expect(averageRanks(new Float32Array([0.5, -1]))).to.deep.equal([2, 1]);
  });

  it('srocc: hand-computed case without ties (1 - 6*sum d^2 / (n(n^2-1)) = 0.8)', () => {
    expect(srocc([1, 2, 3, 4, 5], [2, 1, 4, 3, 5])).to.be.closeTo(0.8, 1e-12);
    // monotone but nonlinear: SROCC 1, PLCC below 1
    expect(srocc([1, 2, 3, 4], [1, 10, 100, 1000])).to.be.closeTo(1, 1e-12);
    expect(srocc([1, 2, 3, 4], [4, 3, 2, 1])).to.be.closeTo(-1, 1e-12);
  });

  it('srocc with ties: Pearson of the average ranks (sqrt(0.9))', () => {
    // ranks [1, 2.5, 2.5, 4] against [1, 2, 3, 4]: 4.5 / sqrt(4.5 * 5)
    expect(srocc([1, 2, 2, 3], [1, 2, 3, 4])).to.be.closeTo(Math.sqrt(0.9), 1e-12);
    expect(srocc([5, 5, 1], [2, 2, 0])).to.be.closeTo(1, 1e-12);
  });

  it('plcc: hand-computed case (3 / sqrt(28/3))', () => {
    expect(plcc([1, 2, 3], [1, 2, 4])).to.be.closeTo(3 / Math.sqrt(28 / 3), 1e-12);
    expect(plcc([1, 2, 3], [1, 2, 4])).to.be.closeTo(0.981981, 1e-6);
    expect(plcc([1, 2, 3, 4], [2, 4, 6, 8])).to.be.closeTo(1, 1e-12);
    expect(plcc([1, 2, 3, 4], [1, 10, 100, 1000])).to.be.lessThan(0.95);
  });

  it('is symmetric and invariant to positive affine maps', () => {
    const a = [0.3, 1.7, 2.2, 0.9, 4.1, 3.3];
    const b = [1.1, 2.0, 2.9, 0.5, 3.8, 4.4];
    expect(plcc(a, b)).to.be.closeTo(plcc(b, a), 1e-12);
    expect(srocc(a, b)).to.be.closeTo(srocc(b, a), 1e-12);
    expect(plcc(a.map((x) => 3 * x + 7), b)).to.be.closeTo(plcc(a, b), 1e-12);
  });

  it('NaN for a constant list; throws for unequal lengths, too few pairs or non-finite values', () => {
    expect(plcc([1, 1, 1], [1, 2, 3])).to.be.NaN;
    expect(srocc([1, 2, 3], [2, 2, 2])).to.be.NaN;
    expect(() => srocc([1, 2], [1, 2, 3])).to.throw(RangeError, /different lengths/);
    expect(() => plcc([1], [1])).to.throw(RangeError, /at least two/);
    expect(() => plcc([1, NaN], [1, 2])).to.throw(RangeError, /finite/);
  });
});

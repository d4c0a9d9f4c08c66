/**
 * SROCC, PLCC and the logistic-mapped PLCC against SciPy's values (spearmanr, pearsonr, curve_fit),
 * committed in fixtures/metrics/scipy-reference.json by scripts/make-metrics-fixtures.py.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { plcc, srocc } from '../../src/metrics/correlation.js';
import { fitLogistic4, logistic4, logisticStart, plccLogistic, type Logistic4Params } from '../../src/metrics/logistic.js';

interface RefCase {
  name: string;
  x: number[];
  y: number[];
  spearman: number | null;
  pearson: number | null;
  logistic?: { p0: number[]; params: number[]; sse: number; plcc: number };
}

const ref = JSON.parse(readFileSync('fixtures/metrics/scipy-reference.json', 'utf8')) as { cases: RefCase[] };

describe('metrics against SciPy (fixtures/metrics/scipy-reference.json)', () => {
  it('has the cases the script writes', () => {
    expect(ref.cases.map((c) => c.name)).to.include.members(['normal-60', 'ties-40', 'constant-5', 'logistic-120', 'logistic-80']);
  });

  for (const c of ref.cases) {
    it(`${c.name}: srocc = spearmanr, plcc = pearsonr (NaN where SciPy gives nan)`, () => {
      if (c.spearman === null) expect(srocc(c.x, c.y)).to.be.NaN;
      else expect(srocc(c.x, c.y)).to.be.closeTo(c.spearman, 1e-12);
      if (c.pearson === null) expect(plcc(c.x, c.y)).to.be.NaN;
      else expect(plcc(c.x, c.y)).to.be.closeTo(c.pearson, 1e-12);
    });
  }

  for (const c of ref.cases.filter((k) => k.logistic)) {
    it(`${c.name}: the logistic fit reaches curve_fit's optimum (SSE, PLCC${c.name.startsWith('logistic') ? ', parameters' : ''})`, () => {
      const L = c.logistic!;
      const start = logisticStart(c.x, c.y);
      start.forEach((v, i) => expect(v).to.be.closeTo(L.p0[i]!, 1e-9 * Math.max(1, Math.abs(L.p0[i]!))));
      const fit = fitLogistic4(c.x, c.y);
      expect(fit.converged).to.equal(true);
      // SciPy's optimum, within rounding; a nearly linear relation puts the optimum at the end of a
      // flat valley (b1, b2 -> +-inf), where both solvers stop at slightly different points
      const wellPosed = c.name.startsWith('logistic');
      const rel = wellPosed ? 1e-9 : 1e-5;
      expect(fit.sse).to.be.closeTo(L.sse, rel * L.sse);
      expect(plccLogistic(c.x, c.y).plcc).to.be.closeTo(L.plcc, wellPosed ? 1e-9 : 1e-6);
      if (wellPosed) {
        // well-posed sigmoid data: the parameters themselves agree (|b4| is what the model sees)
        const got = [fit.params[0], fit.params[1], fit.params[2], Math.abs(fit.params[3])];
        const want = [L.params[0]!, L.params[1]!, L.params[2]!, Math.abs(L.params[3]!)];
        got.forEach((v, i) => expect(v).to.be.closeTo(want[i]!, 1e-4 * Math.max(1, Math.abs(want[i]!))));
      }
    });
  }

  it('a wrong mapping fails the same comparison (the check can fail)', () => {
    const c = ref.cases.find((k) => k.name === 'logistic-120')!;
    const fit = fitLogistic4(c.x, c.y);
    const off: Logistic4Params = [fit.params[0] * 1.01, fit.params[1], fit.params[2], fit.params[3]];
    let sse = 0;
    c.x.forEach((x, i) => (sse += (c.y[i]! - logistic4(x, off)) ** 2));
    expect(sse).to.be.greaterThan(c.logistic!.sse * (1 + 1e-7));
  });
});

describe('metrics/logistic', () => {
  it('recovers exact parameters from noise-free data', () => {
    const truth: Logistic4Params = [5, 1, 50, 8];
    const x = Array.from({ length: 40 }, (_, i) => i * 2.5);
    const y = x.map((v) => logistic4(v, truth));
    const fit = fitLogistic4(x, y);
    expect(fit.sse).to.be.lessThan(1e-16);
    fit.params.forEach((v, i) => expect(Math.abs(v)).to.be.closeTo(truth[i]!, 1e-6));
  });

  it('refuses constant predictions, too few pairs and non-finite values', () => {
    expect(() => fitLogistic4([1, 1, 1, 1, 1], [1, 2, 3, 4, 5])).to.throw(RangeError, /constant/);
    expect(() => fitLogistic4([1, 2, 3], [1, 2, 3])).to.throw(RangeError, /at least five/);
    expect(() => fitLogistic4([1, 2, 3, 4, NaN], [1, 2, 3, 4, 5])).to.throw(RangeError, /finite/);
  });
});

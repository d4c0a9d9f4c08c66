import { expect } from 'chai';
import { compareTensors } from '../../src/equiv/numeric.js';

const t = (data: number[], dims = [data.length]) => ({ dims, data: Float64Array.from(data) });

describe('equiv/numeric', () => {
  const tol = { atol: 1e-4, rtol: 1e-3 };

  it('passes an element within atol OR within rtol of the reference', () => {
    // 1000 vs 1000.5: abs 0.5 > atol but rel 5e-4 <= rtol; 0 vs 5e-5: rel infinite but abs <= atol
    const c = compareTensors('y', t([1000, 0, 1]), t([1000.5, 5e-5, 1]), tol);
    expect(c.pass).to.equal(true);
    expect(c.failing).to.equal(0);
    expect(c.maxAbs).to.equal(0.5);
    expect(c.maxRel).to.equal(Infinity);
    expect(c.worst).to.deep.equal({ index: 0, a: 1000, b: 1000.5 });
  });

  it('fails an element outside both, and reports the smallest tolerances that pass', () => {
    const c = compareTensors('y', t([1, 2, 4, 8]), t([1, 2.01, 4, 8.004]), tol);
    expect(c.pass).to.equal(false);
    expect(c.failing).to.equal(1); // 8.004: abs 4e-3 > atol, rel 5e-4 <= rtol
    expect(c.maxAbs).to.be.closeTo(0.01, 1e-12);
    expect(c.minAtol).to.equal(c.maxAbs);
    expect(c.minRtol).to.be.closeTo(0.005, 1e-12);
    expect(c.minAtolAtRtol).to.be.closeTo(0.01, 1e-12);
    // each reported tolerance passes on its own
    expect(compareTensors('y', t([1, 2, 4, 8]), t([1, 2.01, 4, 8.004]), { atol: c.minAtol, rtol: 0 }).pass).to.equal(true);
    expect(compareTensors('y', t([1, 2, 4, 8]), t([1, 2.01, 4, 8.004]), { atol: 0, rtol: c.minRtol }).pass).to.equal(true);
    expect(compareTensors('y', t([1, 2, 4, 8]), t([1, 2.01, 4, 8.004]), { atol: c.minAtol * 0.99, rtol: 0 }).pass).to.equal(false);
  });

  it('computes mean and median of the absolute and relative errors', () => {
    const c = compareTensors('y', t([1, 1, 1, 1]), t([1, 1.1, 1.2, 1.4]), tol);
    expect(c.meanAbs).to.be.closeTo(0.175, 1e-12);
    expect(c.medianAbs).to.be.closeTo(0.15, 1e-12);
    expect(c.medianRel).to.be.closeTo(0.15, 1e-12);
  });

  it('bins the absolute errors by decade', () => {
    const c = compareTensors('y', t([0, 0, 0, 0, 0]), t([0, 1e-6 * 3, 1e-6 * 5, 0.02, 20]), tol);
    const bins = Object.fromEntries(c.histogram.filter((b) => b.count).map((b) => [`${b.lo}`, b.count]));
    expect(bins).to.deep.equal({ 0: 1, 0.000001: 2, 0.01: 1, 10: 1 });
    expect(c.histogram.reduce((s, b) => s + b.count, 0)).to.equal(5);
  });

  it('treats NaN in both as equal and NaN in one as a failure', () => {
    expect(compareTensors('y', t([NaN, 1]), t([NaN, 1]), tol).pass).to.equal(true);
    const c = compareTensors('y', t([NaN, 1]), t([0, 1]), tol);
    expect(c.pass).to.equal(false);
    expect(c.maxAbs).to.equal(Infinity);
    expect(compareTensors('y', t([Infinity]), t([Infinity]), tol).pass).to.equal(true);
  });

  it('fails different shapes and missing values without comparing elements', () => {
    const c = compareTensors('y', t([1, 2, 3, 4], [2, 2]), t([1, 2, 3, 4], [4]), tol);
    expect(c.pass).to.equal(false);
    expect(c.problem).to.equal('shape [2,2] vs [4]');
    expect(compareTensors('y', t([1]), undefined, tol).problem).to.equal("'y' is produced by A and not by B");
  });
});

import { expect } from 'chai';
import { atLabels, ntProbe, ntRegulariser } from '../../src/train/defences.js';
import { l1Loss, mseLoss, normInNorm, taskLoss } from '../../src/train/losses.js';

function fdCheck(f: (p: number[]) => number, p: number[], grad: ArrayLike<number>, h = 1e-6, tol = 1e-5): void {
  p.forEach((_, i) => {
    const plus = [...p];
    const minus = [...p];
    plus[i]! += h;
    minus[i]! -= h;
    const fd = (f(plus) - f(minus)) / (2 * h);
    expect(grad[i]!, `d/dp${i}`).to.be.closeTo(fd, tol * Math.max(1, Math.abs(fd)));
  });
}

describe('train/losses', () => {
  it('norm-in-norm (p=1, q=2): hand-computed value', () => {
    // pred [1,2,3] -> centred [-1,0,1]/sqrt2; y [1,3,2] -> [-1,1,0]/sqrt2; sum|d| = (0+1+1)/sqrt2 = sqrt2; scale 2*sqrt(3)
    expect(normInNorm([1, 2, 3], [1, 3, 2]).loss).to.be.closeTo(Math.SQRT2 / (2 * Math.sqrt(3)), 1e-7);
    // invariant to affine maps of either side, zero for a perfect linear relation
    expect(normInNorm([2, 4, 6, 9], [10, 20, 30, 45]).loss).to.be.closeTo(0, 1e-7);
    expect(normInNorm([1, 2, 3], [1, 3, 2]).loss).to.be.closeTo(normInNorm([5, 7, 9], [1, 3, 2]).loss, 1e-7);
  });

  it('gradients match central finite differences (norm-in-norm p,q in {1,2}; L1; MSE), and a wrong one fails', () => {
    const pred = [0.3, 1.7, -0.4, 2.2, 0.9];
    const y = [1.0, 2.5, 0.2, 2.0, 1.1];
    for (const [p, q] of [[1, 2], [2, 2], [2, 1], [1, 1]] as const) {
      fdCheck((v) => normInNorm(v, y, { p, q }).loss, pred, normInNorm(pred, y, { p, q }).grad);
    }
    fdCheck((v) => l1Loss(v, y).loss, pred, l1Loss(pred, y).grad);
    fdCheck((v) => mseLoss(v, y).loss, pred, mseLoss(pred, y).grad);
    const wrong = normInNorm(pred, y).grad.map((g) => g * 1.05);
    expect(() => fdCheck((v) => normInNorm(v, y).loss, pred, wrong)).to.throw();
  });

  it('refuses a batch of one for norm-in-norm, non-finite values and unknown losses', () => {
    expect(() => normInNorm([1], [1])).to.throw(RangeError, /at least 2/);
    expect(() => mseLoss([1, NaN], [1, 2])).to.throw(RangeError, /not a finite number/);
    expect(() => taskLoss('huber' as 'l1', [1, 2], [1, 2])).to.throw(RangeError, /unknown loss/);
    // a constant batch of predictions has a finite loss and gradient (the guard)
    const c = normInNorm([2, 2, 2], [1, 2, 3]);
    expect(Number.isFinite(c.loss)).to.equal(true);
    expect(Array.from(c.grad).every(Number.isFinite)).to.equal(true);
  });
});

describe('train/defences', () => {
  it('NT: reg = mean(dl^2)/2 with dl = (f(x+hv) - f(x))/h; the probe steps by h along sign(grad)', () => {
    const r = ntRegulariser([1, 2], [1.01, 1.98], 0.01);
    expect(r.dl[0]).to.be.closeTo(1, 1e-9);
    expect(r.dl[1]).to.be.closeTo(-2, 1e-9);
    expect(r.reg).to.be.closeTo((1 + 4) / 4, 1e-9);
    expect(Array.from(r.dRegDdl)).to.deep.equal([r.dl[0]! / 2, r.dl[1]! / 2]);
    expect(Array.from(ntProbe(Float32Array.from([0.5, 0.5, 0.5]), Float32Array.from([3, -1, 0]), 0.01)).map((v) => +v.toFixed(4))).to.deep.equal([0.51, 0.49, 0.5]);
  });

  it('AT: labels are the MOS for an unchanged image, lowered by (1 - SSIM) x range, clamped to the range', () => {
    const [n, h, w] = [2, 16, 16];
    const clean = Float32Array.from({ length: n * 3 * h * w }, (_, i) => ((i * 7919) % 256) / 255);
    const adv = Float32Array.from(clean);
    for (let i = 3 * h * w; i < adv.length; i++) adv[i] = Math.min(1, Math.max(0, adv[i]! + (i % 2 ? 8 : -8) / 255));
    const labels = atLabels(clean, adv, [3, 1.05], [n, 3, h, w], { min: 1, max: 5 });
    expect(labels[0]).to.equal(3);
    expect(labels[1]).to.be.at.least(1);
    expect(labels[1]).to.be.lessThan(1.05);
    const lower = atLabels(clean, adv, [3, 4], [n, 3, h, w], { min: 1, max: 5 });
    expect(lower[1]).to.be.lessThan(4);
    expect(lower[1]).to.be.greaterThan(1);
  });
});

import { expect } from 'chai';
import type { RgbImage } from '../../src/data/image.js';
import { addNoise, gaussianBlur } from '../../src/data/distort.js';
import { renderScene } from '../../src/data/procedural.js';
import { gaussianKernel, ssim, ssimPlanes } from '../../src/data/ssim.js';

function grey(w: number, h: number, f: (x: number, y: number) => number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.fill(f(x, y), (y * w + x) * 3, (y * w + x) * 3 + 3);
  return { width: w, height: h, data };
}

/** Direct 2-D evaluation of Wang et al.'s formula at every valid window position (no separability). */
function bruteSsim(a: Float64Array, b: Float64Array, w: number, h: number): number {
  const k1 = gaussianKernel(11, 1.5);
  const c1 = (0.01 * 255) ** 2;
  const c2 = (0.03 * 255) ** 2;
  let sum = 0;
  let n = 0;
  for (let y = 0; y + 11 <= h; y++) {
    for (let x = 0; x + 11 <= w; x++) {
      let ma = 0, mb = 0, saa = 0, sbb = 0, sab = 0;
      for (let j = 0; j < 11; j++) {
        for (let i = 0; i < 11; i++) {
          const g = k1[i]! * k1[j]!;
          const p = a[(y + j) * w + x + i]!;
          const q = b[(y + j) * w + x + i]!;
          ma += g * p; mb += g * q; saa += g * p * p; sbb += g * q * q; sab += g * p * q;
        }
      }
      const va = saa - ma * ma, vb = sbb - mb * mb, cov = sab - ma * mb;
      sum += ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
      n++;
    }
  }
  return sum / n;
}

describe('data/ssim (Wang et al. 2004)', () => {
  const scene = renderScene('dead-leaves', 64, 48, 7);

  it('the window is an 11-tap Gaussian of sigma 1.5 summing to 1', () => {
    const k = gaussianKernel(11, 1.5);
    expect(k.reduce((a, b) => a + b, 0)).to.be.closeTo(1, 1e-12);
    expect(k[5]! / k[4]!).to.be.closeTo(Math.exp(1 / 4.5), 1e-12);
    expect(k[0]).to.equal(k[10]);
  });

  it('identical images score exactly 1', () => {
    expect(ssim(scene, scene)).to.equal(1);
  });

  it('a hand-computed case: two flat 11x11 images (one window, luminance term only)', () => {
    // mu_a = 100, mu_b = 120, no variance: SSIM = (2*100*120 + C1) / (100^2 + 120^2 + C1) * C2 / C2
    const c1 = (0.01 * 255) ** 2; // 6.5025
    const expected = (24000 + c1) / (24400 + c1); // 0.98361...
    expect(ssim(grey(11, 11, () => 100), grey(11, 11, () => 120))).to.be.closeTo(expected, 1e-12);
    expect(expected).to.be.closeTo(0.983611, 1e-6);
  });

  it('a hand-computed case: one window, contrast reversed (structure term -1)', () => {
    // a checkerboard of 60/140 against 140/60: equal means and variances, covariance = -variance
    const a = grey(11, 11, (x, y) => ((x + y) % 2 ? 140 : 60));
    const b = grey(11, 11, (x, y) => ((x + y) % 2 ? 60 : 140));
    const k = gaussianKernel(11, 1.5);
    let m = 0, s2 = 0;
    for (let y = 0; y < 11; y++) for (let x = 0; x < 11; x++) { const v = (x + y) % 2 ? 140 : 60; m += k[x]! * k[y]! * v; s2 += k[x]! * k[y]! * v * v; }
    const va = s2 - m * m;
    const mb = 200 - m; // b = 200 - a
    const c1 = (0.01 * 255) ** 2, c2 = (0.03 * 255) ** 2;
    const expected = ((2 * m * mb + c1) * (-2 * va + c2)) / ((m * m + mb * mb + c1) * (2 * va + c2));
    expect(ssim(a, b)).to.be.closeTo(expected, 1e-9);
    expect(ssim(a, b)).to.be.lessThan(-0.9);
  });

  it('matches a direct 2-D evaluation on a natural-like image', () => {
    const noisy = addNoise(scene, 15, 1);
    const lum = (img: RgbImage) => Float64Array.from({ length: img.width * img.height }, (_, i) => 0.299 * img.data[i * 3]! + 0.587 * img.data[i * 3 + 1]! + 0.114 * img.data[i * 3 + 2]!);
    expect(ssimPlanes(lum(scene), lum(noisy), 64, 48)).to.be.closeTo(bruteSsim(lum(scene), lum(noisy), 64, 48), 1e-10);
  });

  it('is symmetric', () => {
    const blurred = gaussianBlur(scene, 1.5);
    expect(ssim(scene, blurred)).to.be.closeTo(ssim(blurred, scene), 1e-12);
  });

  it('falls as noise and blur grow', () => {
    const noise = [2, 8, 20, 45].map((s) => ssim(scene, addNoise(scene, s, 3)));
    const blur = [0.6, 1.2, 2.5, 5].map((s) => ssim(scene, gaussianBlur(scene, s)));
    for (const xs of [noise, blur]) for (let i = 1; i < xs.length; i++) expect(xs[i]).to.be.lessThan(xs[i - 1]!);
    expect(noise[0]).to.be.lessThan(1);
  });

  it('refuses images of different sizes or smaller than the window', () => {
    expect(() => ssim(scene, renderScene('dead-leaves', 32, 48, 7))).to.throw(/different sizes/);
    expect(() => ssim(grey(10, 20, () => 1), grey(10, 20, () => 1))).to.throw(/at least 11x11/);
  });
});

import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { cayleySpectrum, type KernelShape } from '../../src/surgery/robust-block/cayley.js';
import { aolRescale } from '../../src/surgery/robust-block/aol.js';
import { emitAdaptivePool, emitAolConv } from '../../src/surgery/robust-block/build.js';
import { emitCayleyMaterialized, emitCayleyParametric, newtonSchulzIterations, type InverseMethod } from '../../src/surgery/robust-block/cayley-graph.js';
import { paperMaxPoolKernel } from '../../src/surgery/robust-block/pool.js';
import { l2, maxRelErr, runPart, type Tensor64 } from './block-harness.js';
import { randomFloats } from '../helpers/seeded-random.js';

interface CayleyCase {
  name: string;
  cin: number;
  cout: number;
  n: number;
  k: number;
  W: Tensor64;
  bias: Tensor64;
  x: Tensor64;
  wf_norm: number;
  variants: { init: string; alpha: number; y: Tensor64; y_nobias: Tensor64 }[];
}
const golden = JSON.parse(readFileSync('fixtures/robust-block/golden.json', 'utf8')) as {
  cayley: CayleyCase[];
  adaptive_pool: { name: string; s: number; x: Tensor64; y: Tensor64 }[];
  max_pool: { name: string; kernel: [number, number]; x: Tensor64; y: Tensor64 }[];
  aol: { name: string; W: Tensor64; W_rescaled: Tensor64 }[];
};

/**
 * Dense reference from the definition: the circular convolution whose kernel is the inverse DFT
 * of Q over the full (Hermitian-completed) spectrum, applied as a block-circulant matrix.
 */
function denseCircularReference(c: CayleyCase, alpha: number, x: Float64Array, batch: number): Float64Array {
  const { cin, cout, n } = c;
  const spec = cayleySpectrum(c.W.data, { cout, cin, k: c.k }, n, alpha);
  const m = spec.m;
  const qAt = (u: number, v: number, o: number, i: number): [number, number] => {
    if (v < m) {
      const f = spec.q[u * m + v]!;
      return [f.re[o * cin + i]!, f.im[o * cin + i]!];
    }
    const f = spec.q[((n - u) % n) * m + ((n - v) % n)]!; // Q(u,v) = conj(Q(-u,-v)) for real operators
    return [f.re[o * cin + i]!, -f.im[o * cin + i]!];
  };
  const kern = new Float64Array(cout * cin * n * n);
  for (let o = 0; o < cout; o++)
    for (let i = 0; i < cin; i++)
      for (let dy = 0; dy < n; dy++)
        for (let dx = 0; dx < n; dx++) {
          let s = 0;
          for (let u = 0; u < n; u++)
            for (let v = 0; v < n; v++) {
              const [re, im] = qAt(u, v, o, i);
              const t = (2 * Math.PI * (u * dy + v * dx)) / n;
              s += re * Math.cos(t) - im * Math.sin(t);
            }
          kern[((o * cin + i) * n + dy) * n + dx] = s / (n * n);
        }
  const y = new Float64Array(batch * cout * n * n);
  for (let b = 0; b < batch; b++)
    for (let o = 0; o < cout; o++)
      for (let p = 0; p < n; p++)
        for (let q = 0; q < n; q++) {
          let s = 0;
          for (let i = 0; i < cin; i++)
            for (let dy = 0; dy < n; dy++)
              for (let dx = 0; dx < n; dx++) s += kern[((o * cin + i) * n + dy) * n + dx]! * x[((b * cin + i) * n + ((p - dy + n) % n)) * n + ((q - dx + n) % n)]!;
          y[((b * cout + o) * n + p) * n + q] = s;
        }
  return y;
}

type Form = 'materialized' | InverseMethod;
const cayleyPart =
  (c: CayleyCase, alpha: number, bias: ArrayLike<number>, form: Form = 'materialized') =>
  (e: Parameters<Parameters<typeof runPart>[2]>[0], x: Parameters<Parameters<typeof runPart>[2]>[1]) => {
    const shape: KernelShape = { cout: c.cout, cin: c.cin, k: c.k };
    const b = e.f32('orth.bias', [c.cout, 1, 1], bias);
    if (form === 'materialized') return emitCayleyMaterialized(e, x, c.W.data, b, shape, c.n, alpha).output;
    const weight = e.f32('orth.weight', c.W.shape, c.W.data);
    const a = e.f32('orth.alpha', [], [alpha]);
    return emitCayleyParametric(e, x, { weight, alpha: a, bias: b }, shape, c.n, { method: form, iterations: newtonSchulzIterations(Math.min(c.cin, c.cout), alpha) }).output;
  };

describe('surgery/robust-block', () => {
  describe('Cayley orthogonal conv (materialized, run by ONNX Runtime)', () => {
    for (const c of golden.cayley) {
      for (const variant of c.variants) {
        for (const form of ['materialized', 'schur', 'newton-schulz', 'com.microsoft'] as const) {
          it(`${c.name} (${variant.init}, alpha ${variant.alpha.toFixed(3)}, ${form}): equals the PyTorch golden output within 1e-4`, async () => {
            const y = await runPart(c.x.shape, c.x.data, cayleyPart(c, variant.alpha, c.bias.data, form));
            expect([...y.dims]).to.deep.equal(variant.y.shape);
            expect(maxRelErr(y.data, variant.y.data)).to.be.lessThan(1e-4);
          });
        }
      }
      it(`${c.name}: its linear part preserves norms (isometry when cout >= cin) and is not the identity`, async () => {
        const zero = new Array(c.cout).fill(0);
        for (let seed = 1; seed <= 3; seed++) {
          const x = randomFloats(seed, c.x.data.length).map((v) => v * 2 - 1);
          const y = await runPart(c.x.shape, x, cayleyPart(c, c.wf_norm, zero));
          if (c.cout >= c.cin) expect(Math.abs(l2(y.data) - l2(x)) / l2(x)).to.be.lessThan(1e-4);
          else expect(l2(y.data)).to.be.at.most(l2(x) * (1 + 1e-4));
          if (c.cout === c.cin) expect(maxRelErr(y.data, x)).to.be.greaterThan(1e-2);
          else if (c.cout > c.cin) {
            // not a zero-padded copy of x: the extra channels carry signal, the first ones differ from x
            const per = c.n * c.n;
            const b = c.x.shape[0]!;
            let extra = 0;
            let diff = 0;
            for (let bi = 0; bi < b; bi++) {
              for (let o = 0; o < c.cout; o++) {
                for (let p = 0; p < per; p++) {
                  const got = y.data[(bi * c.cout + o) * per + p]!;
                  if (o >= c.cin) extra += got * got;
                  else diff = Math.max(diff, Math.abs(got - x[(bi * c.cin + o) * per + p]!));
                }
              }
            }
            expect(Math.sqrt(extra)).to.be.greaterThan(1e-3 * l2(x));
            expect(diff).to.be.greaterThan(1e-3);
          }
        }
      });
      it(`${c.name}: equals a dense block-circulant reference built from the definition`, async () => {
        const x = Float64Array.from(c.x.data);
        const batch = c.x.shape[0]!;
        const want = denseCircularReference(c, c.wf_norm, x, batch);
        const y = await runPart(c.x.shape, x, cayleyPart(c, c.wf_norm, new Array(c.cout).fill(0)));
        expect(maxRelErr(y.data, want)).to.be.lessThan(1e-4);
      });
    }

    it('a wrong answer fails: a perturbed Q no longer matches the golden output', async () => {
      const c = golden.cayley[0]!;
      const v = c.variants[0]!;
      const bent = { ...c, W: { ...c.W, data: c.W.data.map((w, i) => (i === 0 ? w + 0.05 : w)) } };
      const y = await runPart(c.x.shape, c.x.data, cayleyPart(bent, v.alpha, c.bias.data));
      expect(maxRelErr(y.data, v.y.data)).to.be.greaterThan(1e-3);
    });
  });

  describe('pool to square', () => {
    for (const p of golden.adaptive_pool) {
      it(`adaptive average ${p.x.shape.slice(2).join('x')} -> ${p.s}x${p.s} equals PyTorch's adaptive_avg_pool2d`, async () => {
        const [, , h, w] = p.x.shape as [number, number, number, number];
        const y = await runPart(p.x.shape, p.x.data, (e, x) => emitAdaptivePool(e, x, h, w, p.s));
        expect([...y.dims]).to.deep.equal(p.y.shape);
        expect(maxRelErr(y.data, p.y.data)).to.be.lessThan(1e-5);
      });
    }
    for (const p of golden.max_pool) {
      it(`paper-code max pool kernel for ${p.x.shape.slice(2).join('x')} is ${p.kernel.join('x')}, output square`, async () => {
        const [, , h, w] = p.x.shape as [number, number, number, number];
        expect(paperMaxPoolKernel(h, w)).to.deep.equal(p.kernel);
        const y = await runPart(p.x.shape, p.x.data, (e, x) => e.op('MaxPool', [x], 'mp', { kernel_shape: p.kernel, strides: [1, 1] }));
        expect(maxRelErr(y.data, p.y.data)).to.be.lessThan(1e-6);
      });
    }
  });

  describe('AOL', () => {
    for (const a of golden.aol) {
      it(`${a.name}: the rescaling (in TypeScript and inside the graph) equals the PyTorch reference`, async () => {
        const [cout, cin, kh, kw] = a.W.shape as [number, number, number, number];
        expect(maxRelErr(aolRescale(a.W.data, cout, cin, kh, kw), a.W_rescaled.data)).to.be.lessThan(1e-12);
        // in-graph: run the AOL conv on a one-hot input per channel and read back the kernel
        const n = 2 * kh + 1;
        const input = new Float64Array(cin * cin * n * n);
        for (let i = 0; i < cin; i++) input[((i * cin + i) * n + kh) * n + kw] = 1;
        const y = await runPart([cin, cin, n, n], input, (e, x) => emitAolConv(e, x, a.W.data, new Array(cout).fill(0), { cout, cin, k: kh }).output);
        const got = new Float64Array(cout * cin * kh * kw);
        const p = (kh - 1) / 2;
        for (let i = 0; i < cin; i++)
          for (let o = 0; o < cout; o++)
            for (let s = 0; s < kh; s++)
              for (let t = 0; t < kw; t++) got[((o * cin + i) * kh + s) * kw + t] = y.data[((i * cout + o) * n + (kh + p - s)) * n + (kw + p - t)]!;
        expect(maxRelErr(got, a.W_rescaled.data)).to.be.lessThan(1e-5);
      });
    }
  });
});

describe('surgery/robust-block/cayley: spectrum norm without materializing the spectrum', () => {
  it('equals the norm of the full spectrum and the PyTorch value', async () => {
    const { kernelSpectrumNorm, kernelSpectrum, frobeniusNorm } = await import('../../src/surgery/robust-block/cayley.js');
    for (const c of golden.cayley) {
      const shape = { cout: c.cout, cin: c.cin, k: c.k };
      const a = kernelSpectrumNorm(c.W.data, shape, c.n);
      expect(Math.abs(a - frobeniusNorm(kernelSpectrum(c.W.data, shape, c.n))) / a).to.be.lessThan(1e-12);
      expect(Math.abs(a - c.wf_norm) / a).to.be.lessThan(1e-12);
    }
  });
});

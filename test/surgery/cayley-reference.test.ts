/**
 * Paper-scale Cayley blocks, exact in both forms (issue 12, item 3): the trainable form's Q
 * (computed in the graph from W and alpha, exact Schur inverse) and the materialized form's Q
 * (what `materialize` stores) against a float64 reference of the definition made by
 * scripts/make-cayley-reference.py (numpy FFT and solve), for 384 -> 768 and 512 -> 1024
 * channels at n = 14, 22, 28, 32 and alpha in {1, ||Wf||_F, 4 ||Wf||_F}: Q X at two frequencies
 * within 1e-4 of max|Q X| (relative), max|Q^H Q - I| <= 1e-4, and the two forms within 1e-4
 * relative over a whole frequency row. Only the row of the reference frequencies is computed
 * (the whole Q at n = 32 is 2.3 GB); the norm ||Wf||_F is the graph's own, over all frequencies.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { Model } from '../../src/ir/model.js';
import { Emitter } from '../../src/surgery/emit.js';
import { evaluateConstants, exactCayleyQRows } from '../../src/surgery/materialize.js';
import { emitCayleyQ } from '../../src/surgery/robust-block/cayley-graph.js';
import { kernelSpectrumNorm } from '../../src/surgery/robust-block/cayley.js';
import { rfftBins } from '../../src/surgery/robust-block/dft.js';
import { mulberry32 } from '../../src/util/random.js';

interface RefCase {
  cin: number;
  cout: number;
  k: number;
  seed: number;
  n: number;
  alphaKind: string;
  alpha: number;
  wfNorm: number;
  freqs: [number, number][];
  qMaxAbs: number[];
  y: string;
}
const ref = JSON.parse(readFileSync('fixtures/robust-block/cayley-reference.json', 'utf8')) as { xSeedOffset: number; cases: RefCase[] };

function uniform(seed: number, count: number): Float64Array {
  const next = mulberry32(seed);
  return Float64Array.from({ length: count }, () => next());
}

const kernels = new Map<number, Float32Array>();
function kernel(c: RefCase): Float32Array {
  let w = kernels.get(c.seed);
  if (!w) {
    const bound = 1 / Math.sqrt(c.cin * c.k * c.k);
    w = Float32Array.from(uniform(c.seed, c.cout * c.cin * c.k * c.k), (v) => (v * 2 - 1) * bound);
    kernels.set(c.seed, w);
  }
  return w;
}

/** Q X at frequency v of a row [m, cout, cin]: [re/im][cout][2]. */
function applyQ(qr: Float32Array, qi: Float32Array, v: number, c: RefCase, x: Float64Array): Float64Array {
  const { cout, cin } = c;
  const out = new Float64Array(2 * cout * 2);
  const base = v * cout * cin;
  for (let o = 0; o < cout; o++)
    for (let j = 0; j < 2; j++) {
      let re = 0;
      let im = 0;
      for (let i = 0; i < cin; i++) {
        const a = qr[base + o * cin + i]!;
        const b = qi[base + o * cin + i]!;
        const xr = x[(j * 2 + 0) * cin + i]!;
        const xi = x[(j * 2 + 1) * cin + i]!;
        re += a * xr - b * xi;
        im += a * xi + b * xr;
      }
      out[o * 2 + j] = re;
      out[cout * 2 + o * 2 + j] = im;
    }
  return out;
}

/** max|Q^H Q - I| of each [cout, cin] complex matrix given (planes), with ONNX Runtime: one session for all. */
async function orthogonalityErrors(qs: { qr: Float32Array; qi: Float32Array }[], c: RefCase): Promise<number[]> {
  const scratch = new Model({ ir_version: 8, opset_import: [{ domain: '', version: 13 }], graph: { name: 'ortho', output: [] } });
  const e = new Emitter(scratch.graph, 'o', 13);
  const eye = new Float64Array(c.cin * c.cin);
  for (let i = 0; i < c.cin; i++) eye[i * c.cin + i] = 1;
  const I = e.f32('eye', [c.cin, c.cin], eye);
  const errs = qs.map((q, k) => {
    const ar = e.f32(`qr${k}`, [c.cout, c.cin], q.qr);
    const ai = e.f32(`qi${k}`, [c.cout, c.cin], q.qi);
    const trr = e.op('Transpose', [ar], `tr${k}`);
    const tri = e.op('Transpose', [ai], `ti${k}`);
    const gr = e.op('Sub', [e.op('Add', [e.op('MatMul', [trr, ar], `m1${k}`), e.op('MatMul', [tri, ai], `m2${k}`)], `a${k}`), I], `s1${k}`);
    const gi = e.op('Sub', [e.op('MatMul', [trr, ai], `m3${k}`), e.op('MatMul', [tri, ar], `m4${k}`)], `s2${k}`);
    return e.op('Max', [e.op('ReduceMax', [e.op('Abs', [gr], `b1${k}`)], `r1${k}`, { keepdims: 0 }), e.op('ReduceMax', [e.op('Abs', [gi], `b2${k}`)], `r2${k}`, { keepdims: 0 })], `mx${k}`);
  });
  const out = await evaluateConstants(scratch, errs);
  return errs.map((v) => new Float32Array(out.get(v)!.raw_data!.slice().buffer)[0]!);
}

/**
 * The trainable form's Q for frequency row u at several alphas in one run: the parametric graph
 * (norm and scale computed in the graph), with alpha given as [1, 1, A, 1] so that it broadcasts
 * along the graph's frequency-row axis (one row computed: the A rows of the result are the alphas).
 */
async function parametricRow(w: Float32Array, c: RefCase, u: number, alphas: number[]): Promise<{ qr: Float32Array; qi: Float32Array }> {
  const scratch = new Model({ ir_version: 8, opset_import: [{ domain: '', version: 13 }], graph: { name: 'q', output: [] } });
  const e = new Emitter(scratch.graph, 'q', 13);
  const wv = e.f32('weight', [c.cout, c.cin, c.k, c.k], w);
  const av = e.f32('alpha', [1, 1, alphas.length, 1], alphas);
  const q = emitCayleyQ(e, wv, av, { cout: c.cout, cin: c.cin, k: c.k }, c.n, { method: 'schur', iterations: 0 }, { rows: [u, u + 1] });
  const out = await evaluateConstants(scratch, [q.qr, q.qi]);
  return { qr: new Float32Array(out.get(q.qr)!.raw_data!.slice().buffer), qi: new Float32Array(out.get(q.qi)!.raw_data!.slice().buffer) };
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

describe('Cayley conv at paper scale against a float64 reference of the definition', function () {
  this.timeout(1_800_000);
  const summary: string[] = [];
  after(() => {
    if (summary.length > 0) console.log(`      worst relative error / orthogonality per case:\n${summary.map((s) => `        ${s}`).join('\n')}`);
  });
  const groups = new Map<string, RefCase[]>();
  for (const c of ref.cases) {
    const key = `${c.cin} -> ${c.cout}, n = ${c.n}`;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  for (const [key, cases] of groups) {
    it(`${key}, alpha in {${cases.map((c) => c.alphaKind).join(', ')}}: both forms match the reference within 1e-4`, async () => {
      const c0 = cases[0]!;
      const w = kernel(c0);
      const shape = { cout: c0.cout, cin: c0.cin, k: c0.k };
      const xs = uniform(c0.seed + ref.xSeedOffset, 4 * c0.cin).map((v) => v * 2 - 1);
      const u = c0.freqs[0]![0];
      expect(cases.every((c) => c.freqs.every(([fu]) => fu === u))).to.equal(true);
      const m = rfftBins(c0.n);
      const per = c0.cout * c0.cin;
      const wfNorm = kernelSpectrumNorm(w, shape, c0.n);
      expect(Math.abs(wfNorm - c0.wfNorm) / c0.wfNorm).to.be.lessThan(1e-9);
      const param = await parametricRow(w, c0, u, cases.map((c) => c.alpha));
      expect(param.qr.length).to.equal(cases.length * m * per);
      const rows: { form: string; c: RefCase; qr: Float32Array; qi: Float32Array }[] = [];
      for (const [a, c] of cases.entries()) {
        rows.push({ form: 'parametric', c, qr: param.qr.subarray(a * m * per, (a + 1) * m * per), qi: param.qi.subarray(a * m * per, (a + 1) * m * per) });
        const mat = await exactCayleyQRows(w, c.alpha, shape, c.n, [u, u + 1], wfNorm);
        rows.push({ form: 'materialized', c, ...mat });
      }
      const picks = rows.flatMap((r) => r.c.freqs.map(([, v]) => ({ qr: r.qr.subarray(v * per, (v + 1) * per), qi: r.qi.subarray(v * per, (v + 1) * per) })));
      const ortho = await orthogonalityErrors(picks, c0);
      const lines = new Map<RefCase, string[]>();
      rows.forEach((r, ri) => {
        const want = new Float32Array(Buffer.from(r.c.y, 'base64').buffer.slice(0));
        const len = 2 * r.c.cout * 2;
        let worst = 0;
        r.c.freqs.forEach(([, v], f) => {
          const y = applyQ(r.qr, r.qi, v, r.c, xs);
          const yRef = want.subarray(f * len, (f + 1) * len);
          let err = 0;
          for (let i = 0; i < len; i++) err = Math.max(err, Math.abs(y[i]! - yRef[i]!));
          worst = Math.max(worst, err / maxAbs(yRef));
        });
        const orth = Math.max(...ortho.slice(ri * r.c.freqs.length, (ri + 1) * r.c.freqs.length));
        lines.set(r.c, [...(lines.get(r.c) ?? []), `${r.form} ${worst.toExponential(1)} / ${orth.toExponential(1)}`]);
        expect(worst, `alpha ${r.c.alphaKind}, ${r.form}: max|QX - QX_ref| / max|QX_ref|`).to.be.at.most(1e-4);
        expect(orth, `alpha ${r.c.alphaKind}, ${r.form}: max|Q^H Q - I|`).to.be.at.most(1e-4);
      });
      // the two forms over the whole row
      for (let a = 0; a < cases.length; a++) {
        const p = rows[2 * a]!;
        const mt = rows[2 * a + 1]!;
        let diff = 0;
        for (let i = 0; i < p.qr.length; i++) diff = Math.max(diff, Math.abs(p.qr[i]! - mt.qr[i]!), Math.abs(p.qi[i]! - mt.qi[i]!));
        const rel = diff / Math.max(maxAbs(mt.qr), maxAbs(mt.qi));
        lines.get(p.c)!.push(`forms ${rel.toExponential(1)}`);
        expect(rel, `alpha ${p.c.alphaKind}: max|Q_trainable - Q_materialized| / max|Q_materialized| over the row`).to.be.at.most(1e-4);
      }
      for (const [c, l] of lines) summary.push(`${c.cin}->${c.cout} n=${c.n} alpha=${c.alphaKind}: ${l.join(', ')}`);
    });
  }
});

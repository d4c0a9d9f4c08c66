/**
 * Cayley orthogonal convolution in the Fourier domain (Trockman & Kolter 2021), computed in
 * float64: the kernel's spectrum per frequency, its normalisation, and the per-frequency Cayley
 * transform Q(f) (c_out x c_in, an isometry when c_out >= c_in).
 *
 * Wf[u,v] = conj(rfft2(W padded to n x n))[u,v] * exp(-2 pi i s (u+v)/n), s = (k-1)/2, which is
 * sum_{a,b} W[a,b] exp(2 pi i (u (a-s) + v (b-s)) / n); M = alpha Wf / ||Wf||_F;
 * cayley(M) = [(I+A)^-1 (I-A); -2 V (I+A)^-1] with U = M[:c_in], V = M[c_in:],
 * A = U - U^H + V^H V; for c_in > c_out: transpose, apply, transpose back.
 */
import { adjoint, add, cmat, identity, inverse, matmul, rows, scale, transpose, vstack, type CMatrix } from './complex.js';
import { rfftBins } from './dft.js';

export interface KernelShape {
  cout: number;
  cin: number;
  k: number;
}

/** Spectrum of W [cout, cin, k, k] on an n x n grid: n * m matrices (u-major), each cout x cin. */
export function kernelSpectrum(w: ArrayLike<number>, { cout, cin, k }: KernelShape, n: number): CMatrix[] {
  const m = rfftBins(n);
  const s = Math.floor((k - 1) / 2);
  const out: CMatrix[] = [];
  const eu = (u: number, a: number): [number, number] => {
    const t = (2 * Math.PI * (u * (a - s))) / n;
    return [Math.cos(t), Math.sin(t)];
  };
  for (let u = 0; u < n; u++) {
    for (let v = 0; v < m; v++) {
      const f = cmat(cout, cin);
      // phase factors for this frequency
      const ph: [number, number][] = [];
      for (let a = 0; a < k; a++) {
        for (let b = 0; b < k; b++) {
          const [c1, s1] = eu(u, a);
          const [c2, s2] = eu(v, b);
          ph.push([c1 * c2 - s1 * s2, c1 * s2 + s1 * c2]);
        }
      }
      for (let o = 0; o < cout; o++) {
        for (let i = 0; i < cin; i++) {
          let re = 0;
          let im = 0;
          const base = (o * cin + i) * k * k;
          for (let t = 0; t < k * k; t++) {
            const x = w[base + t]!;
            re += x * ph[t]![0];
            im += x * ph[t]![1];
          }
          f.re[o * cin + i] = re;
          f.im[o * cin + i] = im;
        }
      }
      out.push(f);
    }
  }
  return out;
}

/**
 * ||Wf||_F over the n x (n/2+1) frequencies, without materializing the spectrum (which is
 * 16 n (n/2+1) cout cin bytes: 4.5 GB at 1024 x 512, n = 32). Separable per kernel slice:
 * T[a][v] = sum_b W[a,b] e_v(b), then Wf[u][v] = sum_a T[a][v] e_u(a).
 */
export function kernelSpectrumNorm(w: ArrayLike<number>, { cout, cin, k }: KernelShape, n: number): number {
  const m = rfftBins(n);
  const s = Math.floor((k - 1) / 2);
  const cu = new Float64Array(n * k);
  const su = new Float64Array(n * k);
  for (let u = 0; u < n; u++)
    for (let a = 0; a < k; a++) {
      const t = (2 * Math.PI * u * (a - s)) / n;
      cu[u * k + a] = Math.cos(t);
      su[u * k + a] = Math.sin(t);
    }
  const tr = new Float64Array(k * m);
  const ti = new Float64Array(k * m);
  let total = 0;
  for (let oi = 0; oi < cout * cin; oi++) {
    const base = oi * k * k;
    for (let a = 0; a < k; a++) {
      for (let v = 0; v < m; v++) {
        let re = 0;
        let im = 0;
        for (let b = 0; b < k; b++) {
          const x = w[base + a * k + b]!;
          re += x * cu[(v % n) * k + b]!;
          im += x * su[(v % n) * k + b]!;
        }
        tr[a * m + v] = re;
        ti[a * m + v] = im;
      }
    }
    for (let u = 0; u < n; u++) {
      for (let v = 0; v < m; v++) {
        let re = 0;
        let im = 0;
        for (let a = 0; a < k; a++) {
          const c = cu[u * k + a]!;
          const sn = su[u * k + a]!;
          const xr = tr[a * m + v]!;
          const xi = ti[a * m + v]!;
          re += c * xr - sn * xi;
          im += c * xi + sn * xr;
        }
        total += re * re + im * im;
      }
    }
  }
  return Math.sqrt(total);
}

export function frobeniusNorm(spectrum: CMatrix[]): number {
  let s = 0;
  for (const f of spectrum) for (let i = 0; i < f.re.length; i++) s += f.re[i]! ** 2 + f.im[i]! ** 2;
  return Math.sqrt(s);
}

/** Cayley transform of one frequency's matrix (cout x cin). */
export function cayley(mat: CMatrix): CMatrix {
  if (mat.cols > mat.rows) return transpose(cayley(transpose(mat)));
  const cin = mat.cols;
  const u = rows(mat, 0, cin);
  const v = rows(mat, cin, mat.rows);
  let a = add(u, adjoint(u), -1);
  if (v.rows > 0) a = add(a, matmul(adjoint(v), v));
  const eye = identity(cin);
  const inv = inverse(add(eye, a));
  const top = matmul(inv, add(eye, a, -1));
  if (v.rows === 0) return top;
  return vstack(top, scale(matmul(v, inv), -2));
}

export interface CayleySpectrum {
  n: number;
  m: number;
  cout: number;
  cin: number;
  /** Q(f) for each of the n * m frequencies (u-major). */
  q: CMatrix[];
  /** ||Wf||_F, the norm alpha is relative to (locuslab initialises alpha to it). */
  wfNorm: number;
}

export function cayleySpectrum(w: ArrayLike<number>, shape: KernelShape, n: number, alpha: number): CayleySpectrum {
  const spec = kernelSpectrum(w, shape, n);
  const norm = frobeniusNorm(spec);
  if (!(norm > 0)) throw new Error('internal: Cayley kernel is all zeros');
  const q = spec.map((f) => cayley(scale(f, alpha / norm)));
  return { n, m: rfftBins(n), cout: shape.cout, cin: shape.cin, q, wfNorm: norm };
}

/** Q as two real arrays [n, m, cout, cin] (real and imaginary parts). */
export function spectrumArrays(s: CayleySpectrum): { re: Float64Array; im: Float64Array } {
  const per = s.cout * s.cin;
  const re = new Float64Array(s.q.length * per);
  const im = new Float64Array(s.q.length * per);
  s.q.forEach((f, i) => {
    re.set(f.re, i * per);
    im.set(f.im, i * per);
  });
  return { re, im };
}

/**
 * Real matrices for the 2-D real DFT (rfft2) and its inverse (irfft2) on an n x n grid, so the
 * Fourier-domain convolution is plain MatMuls in ONNX (exact at every opset, differentiable).
 *
 * Forward, for x [.., n(h), n(w)]: A = x @ Cw, B = x @ Sw (Cw[w,v] = cos(2 pi v w / n),
 * Sw[w,v] = -sin(...), v < m = n/2+1); then Xr = Ch @ A + Sh @ B, Xi = Ch @ B - Sh @ A with
 * Ch[u,h] = cos(2 pi u h / n), Sh[u,h] = sin(2 pi u h / n). This is numpy's rfft2.
 * Inverse, for Y [.., n(u), m(v)]: Zr = Ch @ Yr - Sh @ Yi, Zi = Ch @ Yi + Sh @ Yr (the conjugate
 * transform along h), then y = Zr @ Ar + Zi @ Ai with Ar[v,w] = c_v cos(2 pi v w / n) / n^2,
 * Ai[v,w] = -c_v sin(2 pi v w / n) / n^2, c_v = 1 for v = 0 and v = n/2, else 2. This is numpy's
 * irfft2 (the imaginary parts of self-conjugate bins are ignored, as numpy does).
 */
export interface DftMatrices {
  n: number;
  m: number;
  /** [n, m] */
  cw: Float64Array;
  sw: Float64Array;
  /** [n, n] */
  ch: Float64Array;
  sh: Float64Array;
  /** [m, n] */
  ar: Float64Array;
  ai: Float64Array;
}

export function rfftBins(n: number): number {
  return Math.floor(n / 2) + 1;
}

export function dftMatrices(n: number): DftMatrices {
  const m = rfftBins(n);
  const cw = new Float64Array(n * m);
  const sw = new Float64Array(n * m);
  const ch = new Float64Array(n * n);
  const sh = new Float64Array(n * n);
  const ar = new Float64Array(m * n);
  const ai = new Float64Array(m * n);
  const angle = (a: number, b: number): number => (2 * Math.PI * ((a * b) % n)) / n;
  for (let w = 0; w < n; w++) {
    for (let v = 0; v < m; v++) {
      cw[w * m + v] = Math.cos(angle(v, w));
      sw[w * m + v] = -Math.sin(angle(v, w));
    }
  }
  for (let u = 0; u < n; u++) {
    for (let h = 0; h < n; h++) {
      ch[u * n + h] = Math.cos(angle(u, h));
      sh[u * n + h] = Math.sin(angle(u, h));
    }
  }
  for (let v = 0; v < m; v++) {
    const c = v === 0 || (n % 2 === 0 && v === n / 2) ? 1 : 2;
    for (let w = 0; w < n; w++) {
      ar[v * n + w] = (c * Math.cos(angle(v, w))) / (n * n);
      ai[v * n + w] = (-c * Math.sin(angle(v, w))) / (n * n);
    }
  }
  return { n, m, cw, sw, ch, sh, ar, ai };
}

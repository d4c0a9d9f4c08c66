/**
 * Dense complex matrices in float64 (row-major, separate real and imaginary planes): just what
 * computing Cayley transforms per frequency needs.
 */
export interface CMatrix {
  rows: number;
  cols: number;
  re: Float64Array;
  im: Float64Array;
}

export function cmat(rows: number, cols: number): CMatrix {
  return { rows, cols, re: new Float64Array(rows * cols), im: new Float64Array(rows * cols) };
}

export function identity(n: number): CMatrix {
  const m = cmat(n, n);
  for (let i = 0; i < n; i++) m.re[i * n + i] = 1;
  return m;
}

export function matmul(a: CMatrix, b: CMatrix): CMatrix {
  if (a.cols !== b.rows) throw new Error(`internal: matmul ${a.rows}x${a.cols} @ ${b.rows}x${b.cols}`);
  const out = cmat(a.rows, b.cols);
  const { re: ar, im: ai } = a;
  const { re: br, im: bi } = b;
  const n = b.cols;
  for (let i = 0; i < a.rows; i++) {
    for (let k = 0; k < a.cols; k++) {
      const xr = ar[i * a.cols + k]!;
      const xi = ai[i * a.cols + k]!;
      if (xr === 0 && xi === 0) continue;
      const row = i * n;
      const brow = k * n;
      for (let j = 0; j < n; j++) {
        const yr = br[brow + j]!;
        const yi = bi[brow + j]!;
        out.re[row + j]! += xr * yr - xi * yi;
        out.im[row + j]! += xr * yi + xi * yr;
      }
    }
  }
  return out;
}

/** Conjugate transpose. */
export function adjoint(a: CMatrix): CMatrix {
  const out = cmat(a.cols, a.rows);
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < a.cols; j++) {
      out.re[j * a.rows + i] = a.re[i * a.cols + j]!;
      out.im[j * a.rows + i] = -a.im[i * a.cols + j]!;
    }
  }
  return out;
}

/** Plain transpose (no conjugation). */
export function transpose(a: CMatrix): CMatrix {
  const out = cmat(a.cols, a.rows);
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < a.cols; j++) {
      out.re[j * a.rows + i] = a.re[i * a.cols + j]!;
      out.im[j * a.rows + i] = a.im[i * a.cols + j]!;
    }
  }
  return out;
}

export function add(a: CMatrix, b: CMatrix, scaleB = 1): CMatrix {
  const out = cmat(a.rows, a.cols);
  for (let i = 0; i < a.re.length; i++) {
    out.re[i] = a.re[i]! + scaleB * b.re[i]!;
    out.im[i] = a.im[i]! + scaleB * b.im[i]!;
  }
  return out;
}

export function scale(a: CMatrix, s: number): CMatrix {
  const out = cmat(a.rows, a.cols);
  for (let i = 0; i < a.re.length; i++) {
    out.re[i] = a.re[i]! * s;
    out.im[i] = a.im[i]! * s;
  }
  return out;
}

/** Rows [r0, r1) of a. */
export function rows(a: CMatrix, r0: number, r1: number): CMatrix {
  const out = cmat(r1 - r0, a.cols);
  out.re.set(a.re.subarray(r0 * a.cols, r1 * a.cols));
  out.im.set(a.im.subarray(r0 * a.cols, r1 * a.cols));
  return out;
}

/** Stack a on top of b. */
export function vstack(a: CMatrix, b: CMatrix): CMatrix {
  const out = cmat(a.rows + b.rows, a.cols);
  out.re.set(a.re, 0);
  out.re.set(b.re, a.re.length);
  out.im.set(a.im, 0);
  out.im.set(b.im, a.im.length);
  return out;
}

/** Inverse by Gauss-Jordan elimination with partial pivoting. */
export function inverse(a: CMatrix): CMatrix {
  const n = a.rows;
  if (a.cols !== n) throw new Error('internal: inverse of a non-square matrix');
  const w = 2 * n;
  const mr = new Float64Array(n * w);
  const mi = new Float64Array(n * w);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      mr[i * w + j] = a.re[i * n + j]!;
      mi[i * w + j] = a.im[i * n + j]!;
    }
    mr[i * w + n + i] = 1;
  }
  for (let c = 0; c < n; c++) {
    let p = c;
    let best = -1;
    for (let r = c; r < n; r++) {
      const m = Math.hypot(mr[r * w + c]!, mi[r * w + c]!);
      if (m > best) {
        best = m;
        p = r;
      }
    }
    if (best < 1e-300) throw new Error('internal: singular matrix in Cayley transform');
    if (p !== c) {
      for (let j = 0; j < w; j++) {
        [mr[c * w + j], mr[p * w + j]] = [mr[p * w + j]!, mr[c * w + j]!];
        [mi[c * w + j], mi[p * w + j]] = [mi[p * w + j]!, mi[c * w + j]!];
      }
    }
    // scale pivot row by 1/pivot
    const pr = mr[c * w + c]!;
    const pi = mi[c * w + c]!;
    const d = pr * pr + pi * pi;
    const ir = pr / d;
    const ii = -pi / d;
    for (let j = 0; j < w; j++) {
      const xr = mr[c * w + j]!;
      const xi = mi[c * w + j]!;
      mr[c * w + j] = xr * ir - xi * ii;
      mi[c * w + j] = xr * ii + xi * ir;
    }
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const fr = mr[r * w + c]!;
      const fi = mi[r * w + c]!;
      if (fr === 0 && fi === 0) continue;
      for (let j = 0; j < w; j++) {
        const xr = mr[c * w + j]!;
        const xi = mi[c * w + j]!;
        mr[r * w + j]! -= fr * xr - fi * xi;
        mi[r * w + j]! -= fr * xi + fi * xr;
      }
    }
  }
  const out = cmat(n, n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      out.re[i * n + j] = mr[i * w + n + j]!;
      out.im[i * n + j] = mi[i * w + n + j]!;
    }
  }
  return out;
}

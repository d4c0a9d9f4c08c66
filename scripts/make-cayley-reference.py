#!/usr/bin/python3
"""Float64 reference of the Cayley orthogonal conv at paper scale (issue 12, item 3).

Run with Debian's python3 (numpy only):

    /usr/bin/python3 scripts/make-cayley-reference.py

Writes fixtures/robust-block/cayley-reference.json. For the channel pairs 384 -> 768 and
512 -> 1024, grid sizes n = 14, 22, 28, 32 and alpha in {1, ||Wf||_F, 4 ||Wf||_F}:

  W      [cout, cin, 3, 3] from mulberry32(seed) (the generator of src/util/random.ts, ported
         below), w = (next() * 2 - 1) / sqrt(9 cin), rounded to float32 (what a model stores);
  Wf     conj(rfft2(W zero-padded to n x n)) * exp(-2 pi i s (u + v) / n), s = 1: the centred
         kernel spectrum, by numpy's FFT (not by the project's DFT matrices);
  ||Wf|| the Frobenius norm over all n x (n/2+1) frequencies;
  Q      cayley(alpha Wf / ||Wf||) = [(I+A)^-1 (I-A); -2 V (I+A)^-1], A = U - U^H + V^H V,
         solved in complex128 at two frequencies of the row u* that holds the largest
         per-frequency Frobenius norm: (u*, v*) and (u*, (v* + m/2) mod m);
  X      two complex vectors of length cin from mulberry32(seed + 100): re then im, uniform [-1, 1);
  Y      Q X at each of the two frequencies, stored as float32 (base64, row-major [2 freqs,
         re/im, cout, 2 vectors]), with max|Q| per frequency and ||Wf||_F.

Full Q at n = 32, 1024 x 512 is 2.3 GB, hence the compact evidence. Deterministic.
"""

import base64
import json
import math
import os

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fixtures", "robust-block", "cayley-reference.json")
MASK = 0xFFFFFFFF
PAIRS = [(384, 768, 1), (512, 1024, 2)]
SIZES = [14, 22, 28, 32]
K = 3


def mulberry32(seed):
    a = seed & MASK

    def nxt():
        nonlocal a
        a = (a + 0x6D2B79F5) & MASK
        t = a
        t = ((t ^ (t >> 15)) * (t | 1)) & MASK
        t ^= (t + (((t ^ (t >> 7)) * (t | 61)) & MASK)) & MASK
        return ((t ^ (t >> 14)) & MASK) / 4294967296

    return nxt


def uniform(seed, count):
    nxt = mulberry32(seed)
    return np.array([nxt() for _ in range(count)], dtype=np.float64)


def kernel(cin, cout, seed):
    w = (uniform(seed, cout * cin * K * K) * 2 - 1) / math.sqrt(cin * K * K)
    return w.astype(np.float32).astype(np.float64).reshape(cout, cin, K, K)


def spectrum_row(w, n, u):
    """Wf for the frequency row u: [m, cout, cin] (rfft2 in chunks of output channels)."""
    m = n // 2 + 1
    s = (K - 1) // 2
    row = np.concatenate([np.fft.rfft2(w[o : o + 64], s=(n, n))[:, :, u, :] for o in range(0, w.shape[0], 64)])
    f = np.conj(row) * np.exp(-2j * math.pi * s * (u + np.arange(m)) / n)  # [cout, cin, m]
    return np.transpose(f, (2, 0, 1))


def spectrum_stats(w, n):
    """||Wf||_F and the per-frequency Frobenius norms [n, m], in chunks of output channels."""
    m = n // 2 + 1
    per = np.zeros((n, m))
    for o in range(0, w.shape[0], 64):
        f = np.fft.rfft2(w[o : o + 64], s=(n, n))
        per += np.sum(np.abs(f) ** 2, axis=(0, 1))
    return math.sqrt(per.sum()), np.sqrt(per)


def cayley(mat):
    cout, cin = mat.shape
    u, v = mat[:cin], mat[cin:]
    a = u - u.conj().T + v.conj().T @ v
    eye = np.eye(cin)
    inv = np.linalg.solve(eye + a, eye)
    return np.vstack([inv @ (eye - a), -2 * v @ inv])


def b64(x):
    return base64.b64encode(np.ascontiguousarray(x, dtype="<f4").tobytes()).decode("ascii")


def main():
    cases = []
    for cin, cout, seed in PAIRS:
        w = kernel(cin, cout, seed)
        xs = uniform(seed + 100, 2 * 2 * cin).reshape(2, 2, cin) * 2 - 1  # [vector, re/im, cin]
        x = (xs[:, 0] + 1j * xs[:, 1]).T  # [cin, 2]
        for n in SIZES:
            m = n // 2 + 1
            norm, per = spectrum_stats(w, n)
            u, v = np.unravel_index(int(np.argmax(per)), per.shape)
            freqs = [(int(u), int(v)), (int(u), int((v + m // 2) % m))]
            wf = spectrum_row(w, n, int(u))  # [m, cout, cin]
            for kind, alpha in (("1", 1.0), ("norm", norm), ("4norm", 4 * norm)):
                alpha32 = float(np.float32(alpha))
                ys = []
                qmax = []
                for fu, fv in freqs:
                    q = cayley(wf[fv] * (alpha32 / norm))
                    y = q @ x  # [cout, 2]
                    ys.append(np.stack([y.real, y.imag]))
                    qmax.append(float(np.abs(np.concatenate([q.real.ravel(), q.imag.ravel()])).max()))
                    ortho = np.abs(q.conj().T @ q - np.eye(cin)).max()
                    assert ortho < 1e-10, ortho
                cases.append(
                    {
                        "cin": cin,
                        "cout": cout,
                        "k": K,
                        "seed": seed,
                        "n": n,
                        "alphaKind": kind,
                        "alpha": alpha32,
                        "wfNorm": norm,
                        "freqs": [list(f) for f in freqs],
                        "qMaxAbs": qmax,
                        "y": b64(np.stack(ys)),
                    }
                )
                print(f"{cin}->{cout} n={n} alpha={kind} ({alpha32:.4g}) freqs={freqs} max|Q|={qmax}", flush=True)
    doc = {
        "generator": "/usr/bin/python3 scripts/make-cayley-reference.py",
        "layout": "y: float32 little-endian base64, [2 freqs][re, im][cout][2 vectors]",
        "xSeedOffset": 100,
        "cases": cases,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT + ".tmp", "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(OUT + ".tmp", OUT)
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()

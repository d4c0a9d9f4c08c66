#!/usr/bin/python3
"""Generate golden reference data for the RobustBlock pieces.

Run with Debian's python3 (python3-torch 1.13, numpy):

    /usr/bin/python3 scripts/make-robust-block-golden.py

Writes fixtures/robust-block/golden.json. Everything is computed in float64
from the formulas in docs/METHOD.md (shared docs), written independently:

  cayley         Cayley-transform convolution in the Fourier domain
                 (Trockman & Kolter 2021), two alpha initialisations each
  adaptive_pool  torch.nn.functional.adaptive_avg_pool2d to a square
  max_pool       the reference code's fixed-kernel max pooling to a square
  aol            AOL rescaling of a conv kernel (Prach & Lampert 2022)
  block          a whole RobustBlock, paper-text and paper-code variants

All tensors are stored as {"shape": [...], "data": [...]} with data
flattened row-major (C order); complex tensors as {"shape", "re", "im"}.
Floats are written with Python's shortest round-trip repr (no rounding).
Seeds are fixed and the script is deterministic (same bytes every run).
"""

import hashlib
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "fixtures", "robust-block")
OUT_PATH = os.path.join(OUT_DIR, "golden.json")
MAKE_CMD = "/usr/bin/python3 scripts/make-robust-block-golden.py"

torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)
DT = torch.float64
NORM_TOL = 1e-10


# --------------------------------------------------------------------------
# Serialisation helpers
# --------------------------------------------------------------------------

def t(x):
    """Real tensor -> {"shape", "data"} (row-major)."""
    x = x.detach().to(DT).contiguous()
    return {"shape": list(x.shape), "data": [float(v) for v in x.reshape(-1).tolist()]}


def tc(x):
    """Complex tensor -> {"shape", "re", "im"} (row-major)."""
    x = x.detach().to(torch.complex128).contiguous()
    return {
        "shape": list(x.shape),
        "re": [float(v) for v in x.real.reshape(-1).tolist()],
        "im": [float(v) for v in x.imag.reshape(-1).tolist()],
    }


def randn(*shape, scale=1.0):
    """Draw from torch's global generator (seeded per case with torch.manual_seed)."""
    return torch.randn(*shape, dtype=DT) * scale


# --------------------------------------------------------------------------
# 1. Cayley convolution
# --------------------------------------------------------------------------

def shift_matrix(n, k):
    """shift[i, j] = exp(2*pi*1j*(-s)*(i+j)/n), s = (k-1)//2, rfft columns only."""
    s = (k - 1) // 2
    idx = torch.arange(n, dtype=DT)
    phase = 2.0 * math.pi * (-s) * (idx[:, None] + idx[None, :]) / n
    full = torch.polar(torch.ones_like(phase), phase)
    return full[:, : n // 2 + 1]


def kernel_fft(W, n):
    """Wf = conj(rfft2(W zero-padded to n x n)) * shift, as [n, n//2+1, cout, cin]."""
    cout, cin, k, _ = W.shape
    Wf = torch.conj(torch.fft.rfft2(W, s=(n, n))) * shift_matrix(n, k)
    return Wf.permute(2, 3, 0, 1).contiguous()


def cayley(M):
    """Cayley transform per frequency. M: [..., cout, cin] complex."""
    cout, cin = M.shape[-2], M.shape[-1]
    if cin > cout:
        return cayley(M.transpose(-1, -2)).transpose(-1, -2)
    U = M[..., :cin, :]
    V = M[..., cin:, :]
    I = torch.eye(cin, dtype=M.dtype)
    A = U - U.conj().transpose(-1, -2) + V.conj().transpose(-1, -2) @ V
    inv = torch.linalg.inv(I + A)
    return torch.cat([inv @ (I - A), -2.0 * V @ inv], dim=-2)


def fourier_apply(Q, x):
    """y = irfft2(Q(f) @ X(f)); Q [n, n//2+1, cout, cin], x [B, cin, n, n]."""
    n = x.shape[-1]
    X = torch.fft.rfft2(x)                          # [B, cin, n, n//2+1]
    Xp = X.permute(2, 3, 1, 0)                      # [n, n//2+1, cin, B]
    Yp = Q @ Xp                                     # [n, n//2+1, cout, B]
    Y = Yp.permute(3, 2, 0, 1)                      # [B, cout, n, n//2+1]
    return torch.fft.irfft2(Y, s=(n, n))


def cayley_conv(x, W, alpha, bias):
    """Returns (y, y_nobias, Q, ||Wf||_F)."""
    n = x.shape[-1]
    assert x.shape[-2] == n, "cayley_conv needs a square input"
    Wf = kernel_fft(W, n)
    wf_norm = torch.linalg.norm(Wf)                 # Frobenius over the rfft half-spectrum
    M = alpha * Wf / wf_norm
    Q = cayley(M)
    y0 = fourier_apply(Q, x)
    return y0 + bias[:, None, None], y0, Q, float(wf_norm)


def circular_conv(x, W):
    """Spatial check of the Fourier convention: cross-correlation with circular padding s."""
    k = W.shape[-1]
    s = (k - 1) // 2
    lo, hi = s, k - 1 - s
    xp = F.pad(x, (lo, hi, lo, hi), mode="circular")
    return F.conv2d(xp, W)


def isometry_error(Q):
    """max |Q^H Q - I| (cout >= cin) or max |Q Q^H - I| (cin > cout) over all frequencies."""
    cout, cin = Q.shape[-2], Q.shape[-1]
    if cout >= cin:
        G = Q.conj().transpose(-1, -2) @ Q
        I = torch.eye(cin, dtype=Q.dtype)
    else:
        G = Q @ Q.conj().transpose(-1, -2)
        I = torch.eye(cout, dtype=Q.dtype)
    return float((G - I).abs().max())


def norm_check(x, y0):
    cin, cout = x.shape[1], y0.shape[1]
    xn = float(torch.linalg.norm(x))
    yn = float(torch.linalg.norm(y0))
    per_x = [float(v) for v in torch.linalg.norm(x.reshape(x.shape[0], -1), dim=1).tolist()]
    per_y = [float(v) for v in torch.linalg.norm(y0.reshape(y0.shape[0], -1), dim=1).tolist()]
    isometric = cout >= cin
    if isometric:
        assert abs(yn - xn) <= NORM_TOL, (xn, yn)
        for a, b in zip(per_x, per_y):
            assert abs(a - b) <= NORM_TOL, (a, b)
    else:
        assert yn <= xn + NORM_TOL, (xn, yn)
        for a, b in zip(per_x, per_y):
            assert b <= a + NORM_TOL, (a, b)
    return {
        "x_norm": xn,
        "y_nobias_norm": yn,
        "abs_diff": abs(yn - xn),
        "x_norm_per_sample": per_x,
        "y_nobias_norm_per_sample": per_y,
        "relation": "equal" if isometric else "less_or_equal",
        "tolerance": NORM_TOL,
    }


CAYLEY_CASES = [
    # name, cin, cout, n, k, seed
    ("square_n6_k3", 4, 4, 6, 3, 101),
    ("semi_orth_odd_n5_k3", 3, 6, 5, 3, 102),
    ("semi_orth_n8_k1", 4, 8, 8, 1, 103),
    ("cin_gt_cout_n4_k3", 6, 4, 4, 3, 104),
    ("square_n7_k5", 2, 2, 7, 5, 105),
]
CAYLEY_BATCH = 2


def make_cayley():
    out = []
    summary = []
    for ci, (name, cin, cout, n, k, seed) in enumerate(CAYLEY_CASES):
        torch.manual_seed(seed)
        W = randn(cout, cin, k, k, scale=0.5)
        bias = randn(cout, scale=0.1)
        x = randn(CAYLEY_BATCH, cin, n, n)

        # Convention check: with M = Wf (no Cayley), the Fourier product is the
        # circular cross-correlation with padding s = (k-1)//2.
        lin = fourier_apply(kernel_fft(W, n), x)
        lin_err = float((lin - circular_conv(x, W)).abs().max())
        assert lin_err < 1e-10, (name, lin_err)

        wf_norm = float(torch.linalg.norm(kernel_fft(W, n)))
        variants = []
        for init, alpha in (("locuslab", wf_norm), ("paper_code", 1.0)):
            y, y0, Q, wn = cayley_conv(x, W, alpha, bias)
            assert wn == wf_norm
            iso = isometry_error(Q)
            assert iso < 1e-10, (name, init, iso)
            nc = norm_check(x, y0)
            v = {
                "init": init,
                "alpha": alpha,
                "y": t(y),
                "y_nobias": t(y0),
                "norm_check": nc,
                "isometry_error": iso,
            }
            if ci == 0:
                v["Q"] = tc(Q)
            variants.append(v)
            summary.append((name, init, alpha, nc["x_norm"], nc["y_nobias_norm"], nc["abs_diff"], nc["relation"], iso))
        case = {
            "name": name,
            "cin": cin, "cout": cout, "n": n, "k": k,
            "shift": (k - 1) // 2,
            "batch": CAYLEY_BATCH,
            "seed": seed,
            "W": t(W),
            "bias": t(bias),
            "x": t(x),
            "wf_norm": wf_norm,
            "linear_conv_check_max_abs_err": lin_err,
            "variants": variants,
        }
        if ci == 0:
            case["Wf"] = tc(kernel_fft(W, n))
        out.append(case)
    return out, summary


# --------------------------------------------------------------------------
# 2. Adaptive average pooling to a square
# --------------------------------------------------------------------------

def adaptive_avg_pool_formula(x, s):
    """Bins [floor(i*H/s), ceil((i+1)*H/s)) per axis, PyTorch's definition."""
    B, C, H, Wd = x.shape
    y = torch.empty(B, C, s, s, dtype=x.dtype)
    for i in range(s):
        h0, h1 = (i * H) // s, -((-(i + 1) * H) // s)
        for j in range(s):
            w0, w1 = (j * Wd) // s, -((-(j + 1) * Wd) // s)
            y[:, :, i, j] = x[:, :, h0:h1, w0:w1].mean(dim=(-1, -2))
    return y


ADAPTIVE_CASES = [
    # name, shape, s, seed
    ("wide_7x10_to_7", (1, 3, 7, 10), 7, 201),
    ("tall_9x5_to_5", (1, 2, 9, 5), 5, 202),
    ("tall_13x11_to_11", (1, 2, 13, 11), 11, 203),
    ("tall_10x7_to_fixed_4", (1, 2, 10, 7), 4, 204),
    ("wide_32x42_to_32", (1, 1, 32, 42), 32, 205),
]


def make_adaptive():
    out = []
    for name, shape, s, seed in ADAPTIVE_CASES:
        torch.manual_seed(seed)
        x = randn(*shape)
        y = F.adaptive_avg_pool2d(x, (s, s))
        err = float((y - adaptive_avg_pool_formula(x, s)).abs().max())
        assert err < 1e-12, (name, err)
        out.append({"name": name, "seed": seed, "s": s, "x": t(x), "y": t(y)})
    return out


# --------------------------------------------------------------------------
# 3. The reference code's max pooling
# --------------------------------------------------------------------------

def max_pool_kernel(H, Wd):
    """up = ceil(0.02 * min(H, W)) + 1; kernel (up, up + W - H) for W >= H, else (up + H - W, up)."""
    up = math.ceil(0.02 * min(H, Wd)) + 1
    if Wd >= H:
        return (up, up + Wd - H), up
    return (up + H - Wd, up), up


def max_pool_square(x):
    kernel, _ = max_pool_kernel(x.shape[-2], x.shape[-1])
    y = F.max_pool2d(x, kernel_size=kernel, stride=1)
    assert y.shape[-1] == y.shape[-2], (x.shape, kernel, y.shape)
    return y, kernel


MAXPOOL_CASES = [
    ("wide_7x10", (1, 2, 7, 10), 301),
    ("wide_32x42", (1, 2, 32, 42), 302),
    ("tall_11x6", (1, 2, 11, 6), 303),
]


def make_maxpool():
    out = []
    for name, shape, seed in MAXPOOL_CASES:
        torch.manual_seed(seed)
        x = randn(*shape)
        y, kernel = max_pool_square(x)
        _, up = max_pool_kernel(shape[-2], shape[-1])
        out.append({
            "name": name, "seed": seed, "up": up,
            "kernel": list(kernel), "stride": 1,
            "s": y.shape[-1],
            "x": t(x), "y": t(y),
        })
    return out


# --------------------------------------------------------------------------
# 4. AOL rescaling
# --------------------------------------------------------------------------

def aol_rescale(W, eps=1e-6):
    """v = conv2d(W^T, W^T, padding=k-1) with W^T = W.transpose(0, 1) ([cin, cout, k, k]);
    d_j = sum_{i,x,y} |v[j,i,x,y]|; W'[:, j] = W[:, j] / sqrt(d_j + eps)."""
    k = W.shape[-1]
    WT = W.transpose(0, 1).contiguous()
    v = F.conv2d(WT, WT, padding=k - 1)             # [cin, cin, 2k-1, 2k-1]
    d = v.abs().sum(dim=(1, 2, 3))                  # [cin]
    Wp = W / torch.sqrt(d + eps)[None, :, None, None]
    return Wp, d


def conv_spectral_norm(W, size, iters, seed):
    """Operator norm of x -> conv2d(x, W, padding=(k-1)//2) (zero padding, 'same')
    on [cin, size, size] inputs: power iteration on A^T A, plus the exact value
    from the SVD of the dense operator matrix."""
    cout, cin, k, _ = W.shape
    p = (k - 1) // 2

    def A(x):
        return F.conv2d(x, W, padding=p)

    def At(y):
        return F.conv_transpose2d(y, W, padding=p)

    x = randn(1, cin, size, size)
    x = x / torch.linalg.norm(x)
    sigma = 0.0
    for _ in range(iters):
        z = At(A(x))
        sigma = math.sqrt(float(torch.linalg.norm(z)))
        x = z / torch.linalg.norm(z)
    sigma_rq = float(torch.linalg.norm(A(x)))        # ||A x|| with ||x|| = 1

    eye = torch.eye(cin * size * size, dtype=DT).reshape(-1, cin, size, size)
    dense = A(eye).reshape(cin * size * size, -1).T  # [out, in]
    exact = float(torch.linalg.svdvals(dense)[0])
    return sigma_rq, exact, sigma


AOL_CASES = [
    ("conv3_4to6", (6, 4, 3, 3), 401),
    ("linear_4to4", (4, 4, 1, 1), 402),
    ("conv3_3to8", (8, 3, 3, 3), 403),
]
AOL_SIZE = 12
AOL_ITERS = 5000


def make_aol():
    out, summary = [], []
    for name, shape, seed in AOL_CASES:
        torch.manual_seed(seed)
        W = randn(*shape)
        Wp, d = aol_rescale(W)
        sn_power, sn_exact, _ = conv_spectral_norm(Wp, AOL_SIZE, AOL_ITERS, seed + 1000)
        sn_orig, sn_orig_exact, _ = conv_spectral_norm(W, AOL_SIZE, AOL_ITERS, seed + 2000)
        assert sn_exact <= 1.0 + 1e-12, (name, sn_exact)
        assert sn_power <= sn_exact + 1e-12, (name, sn_power, sn_exact)
        if shape[-1] == 1:
            # linear case: W / sqrt(sum_i |W^T W|_{ij})
            M = W[:, :, 0, 0]
            dl = (M.T @ M).abs().sum(dim=1)
            assert float((dl - d).abs().max()) < 1e-12
        out.append({
            "name": name, "seed": seed,
            "W": t(W),
            "d": t(d),
            "eps": 1e-6,
            "W_rescaled": t(Wp),
            "spectral_norm": {
                "padding": "zeros_same",
                "input_size": AOL_SIZE,
                "power_iterations": AOL_ITERS,
                "power_iteration": sn_power,
                "exact_svd": sn_exact,
                "original_W_exact_svd": sn_orig_exact,
            },
        })
        summary.append((name, sn_power, sn_exact, sn_orig_exact))
    return out, summary


# --------------------------------------------------------------------------
# 5. Whole block
# --------------------------------------------------------------------------

def make_block():
    out = []
    seed = 501
    torch.manual_seed(seed)
    x = randn(1, 8, 7, 10)

    # Paper text: adaptive avg pool -> reduce conv 1x1 (8->4, bias) -> cayley 4->8 k=3, alpha=||Wf||
    s = min(x.shape[-2], x.shape[-1])
    red_W = randn(4, 8, 1, 1, scale=0.3)
    red_b = randn(4, scale=0.1)
    cay_W = randn(8, 4, 3, 3, scale=0.5)
    cay_b = randn(8, scale=0.1)
    pooled = F.adaptive_avg_pool2d(x, (s, s))
    reduced = F.conv2d(pooled, red_W, red_b)
    wf_norm = float(torch.linalg.norm(kernel_fft(cay_W, s)))
    y, y0, _, _ = cayley_conv(reduced, cay_W, wf_norm, cay_b)
    nc = norm_check(reduced, y0)
    assert list(y.shape) == [1, 8, 7, 7]
    out.append({
        "name": "paper_text",
        "seed": seed,
        "pool": {"kind": "adaptive_avg", "s": s},
        "reduce": {"kernel": 1, "padding": 0, "cin": 8, "cout": 4},
        "cayley": {"cin": 4, "cout": 8, "k": 3, "n": s, "init": "locuslab"},
        "x": t(x),
        "reduce_W": t(red_W), "reduce_b": t(red_b),
        "cayley_W": t(cay_W), "cayley_b": t(cay_b),
        "wf_norm": wf_norm, "alpha": wf_norm,
        "pooled": t(pooled), "reduced": t(reduced),
        "y": t(y),
        "norm_check": nc,
    })

    # Paper code: max pool -> reduce conv 3x3 no padding (8->4, bias) -> cayley 4->8 k=3, alpha=1
    seed = 502
    torch.manual_seed(seed)
    red_W = randn(4, 8, 3, 3, scale=0.3)
    red_b = randn(4, scale=0.1)
    cay_W = randn(8, 4, 3, 3, scale=0.5)
    cay_b = randn(8, scale=0.1)
    pooled, kernel = max_pool_square(x)
    s = pooled.shape[-1]
    reduced = F.conv2d(pooled, red_W, red_b)
    n = reduced.shape[-1]
    wf_norm = float(torch.linalg.norm(kernel_fft(cay_W, n)))
    y, y0, _, _ = cayley_conv(reduced, cay_W, 1.0, cay_b)
    nc = norm_check(reduced, y0)
    assert list(y.shape) == [1, 8, s - 2, s - 2]
    out.append({
        "name": "paper_code",
        "seed": seed,
        "x_from": "paper_text",
        "pool": {"kind": "max", "kernel": list(kernel), "stride": 1, "s": s},
        "reduce": {"kernel": 3, "padding": 0, "cin": 8, "cout": 4},
        "cayley": {"cin": 4, "cout": 8, "k": 3, "n": n, "init": "paper_code"},
        "x": t(x),
        "reduce_W": t(red_W), "reduce_b": t(red_b),
        "cayley_W": t(cay_W), "cayley_b": t(cay_b),
        "wf_norm": wf_norm, "alpha": 1.0,
        "pooled": t(pooled), "reduced": t(reduced),
        "y": t(y),
        "norm_check": nc,
    })
    return out


# --------------------------------------------------------------------------

def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    cay, cay_summary = make_cayley()
    aol, aol_summary = make_aol()
    data = {
        "meta": {
            "generator": MAKE_CMD,
            "dtype": "float64",
            "layout": "tensors are {shape, data} flattened row-major; complex as {shape, re, im}",
            "torch": torch.__version__.split("+")[0],
        },
        "cayley": cay,
        "adaptive_pool": make_adaptive(),
        "max_pool": make_maxpool(),
        "aol": aol,
        "block": make_block(),
    }
    text = json.dumps(data, separators=(",", ":"), allow_nan=False) + "\n"
    with open(OUT_PATH, "w") as f:
        f.write(text)

    print("cayley norm checks (||y - bias|| vs ||x||):")
    for name, init, alpha, xn, yn, diff, rel, iso in cay_summary:
        print("  %-22s %-10s alpha=%-20.17g ||x||=%.15f ||y0||=%.15f diff=%.1e (%s) iso_err=%.1e"
              % (name, init, alpha, xn, yn, diff, rel, iso))
    print("aol spectral norms (zero padding 'same', %dx%d input):" % (AOL_SIZE, AOL_SIZE))
    for name, p, e, o in aol_summary:
        print("  %-12s rescaled: power=%.15f svd=%.15f   original svd=%.6f" % (name, p, e, o))
    for b in data["block"]:
        print("block %-10s y%s  ||x_in||=%.15f ||y0||=%.15f"
              % (b["name"], b["y"]["shape"], b["norm_check"]["x_norm"], b["norm_check"]["y_nobias_norm"]))
    digest = hashlib.sha256(text.encode()).hexdigest()
    print("wrote %s: %d bytes, sha256 %s" % (os.path.relpath(OUT_PATH, ROOT), len(text.encode()), digest))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Reference values for the metrics tests (test/metrics/), computed with SciPy.

Writes fixtures/metrics/scipy-reference.json: per case the inputs, scipy.stats.spearmanr and
pearsonr, and the 4-parameter logistic fit that IQA papers apply before PLCC,
    f(x) = (b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2,  p0 = [max y, min y, mean x, std x],
fitted with scipy.optimize.curve_fit (Levenberg-Marquardt, MINPACK), with the PLCC of f(x) vs y.
Run with any Python that has NumPy and SciPy (not needed by CI or users; the JSON is committed):
    python3 scripts/make-metrics-fixtures.py
"""
import json
import os
import sys

import numpy as np
import scipy
from scipy.optimize import curve_fit
from scipy.stats import pearsonr, spearmanr


def logistic4(x, b1, b2, b3, b4):
    return (b1 - b2) / (1 + np.exp(-(x - b3) / np.abs(b4))) + b2


def num(v):
    v = float(v)
    return None if np.isnan(v) else v


def case(name, x, y, fit=True):
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    out = {"name": name, "x": x.tolist(), "y": y.tolist()}
    with np.errstate(all="ignore"):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out["spearman"] = num(spearmanr(x, y).statistic)
            out["pearson"] = num(pearsonr(x, y).statistic) if np.std(x) > 0 and np.std(y) > 0 else None
    if fit:
        p0 = [np.max(y), np.min(y), np.mean(x), np.std(x)]
        params, _ = curve_fit(logistic4, x, y, p0=p0, maxfev=10000)
        fx = logistic4(x, *params)
        out["logistic"] = {
            "p0": [float(v) for v in p0],
            "params": [float(v) for v in params],
            "sse": float(np.sum((fx - y) ** 2)),
            "plcc": float(pearsonr(fx, y).statistic),
        }
    return out


def main():
    rng = np.random.default_rng(20261202)
    cases = []
    # correlated normal pairs
    x = rng.normal(size=60)
    cases.append(case("normal-60", x, 0.7 * x + 0.5 * rng.normal(size=60), fit=False))
    # ties in both lists (integer opinion scores, binned predictions)
    xt = rng.integers(1, 6, size=40)
    cases.append(case("ties-40", xt, np.round(xt + rng.normal(scale=1.0, size=40)), fit=False))
    # negative correlation, small n
    cases.append(case("negative-7", [3.1, 0.2, 5.5, 4.4, 1.0, 2.2, 6.0], [2.0, 4.5, 0.7, 1.1, 3.9, 3.0, 0.1], fit=False))
    # constant list: no correlation defined
    cases.append(case("constant-5", [1, 2, 3, 4, 5], [2, 2, 2, 2, 2], fit=False))
    # IQA-shaped: predictions on an arbitrary scale, MOS 1..5 through a sigmoid, plus noise
    pred = rng.uniform(0, 100, size=120)
    mos = logistic4(pred, 4.6, 1.2, 48.0, 11.0) + rng.normal(scale=0.25, size=120)
    cases.append(case("logistic-120", pred, mos))
    pred2 = rng.normal(loc=0.2, scale=0.08, size=80)
    mos2 = logistic4(pred2, 90.0, 10.0, 0.22, 0.03) + rng.normal(scale=4.0, size=80)
    cases.append(case("logistic-80", pred2, mos2))
    # nearly linear relation: the fit must still converge
    pred3 = rng.uniform(2, 4, size=50)
    cases.append(case("near-linear-50", pred3, 1.5 * pred3 - 1 + rng.normal(scale=0.1, size=50)))
    out = {"generator": "scripts/make-metrics-fixtures.py", "numpy": np.__version__, "scipy": scipy.__version__, "cases": cases}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "metrics", "scipy-reference.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.relpath(path)} ({len(cases)} cases)", file=sys.stderr)


if __name__ == "__main__":
    main()

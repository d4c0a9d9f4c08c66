#!/usr/bin/env python3
"""Reference values for the PLS-VIP tests (test/surgery/prune-pls.test.ts), computed with scikit-learn.

Writes fixtures/pls/sklearn-vip.json: per case the inputs (X row-major, y), the options, and what
sklearn.cross_decomposition.PLSRegression(n_components=k, scale=...) fitted: x_weights_, x_scores_,
y_loadings_ (the target is one column), the centring/scaling it used, and the VIP per feature,
    VIP_j = sqrt(p * sum_h s_h (w_jh / ||w_h||)^2 / sum_h s_h),  s_h = (t_h' t_h)(q_h' q_h),
from x_weights_ (w), x_scores_ (t) and y_loadings_ (q).
Run with Debian's Python and scikit-learn (not needed by CI or users; the JSON is committed):
    apt-get install -y python3-sklearn && /usr/bin/python3 scripts/make-pls-fixtures.py
"""
import json
import os
import sys

import numpy as np
import sklearn
from sklearn.cross_decomposition import PLSRegression


def vip(w, t, q):
    p = w.shape[0]
    s = np.sum(t * t, axis=0) * np.sum(q * q, axis=0)
    wn = w / np.linalg.norm(w, axis=0)
    return np.sqrt(p * (wn * wn) @ s / np.sum(s))


def case(name, X, y, components=2, scale=True):
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    pls = PLSRegression(n_components=components, scale=scale).fit(X, y)
    return {
        "name": name,
        "n": X.shape[0],
        "p": X.shape[1],
        "components": components,
        "scale": scale,
        "X": X.ravel().tolist(),
        "y": y.tolist(),
        "xWeights": pls.x_weights_.ravel().tolist(),
        "xScores": pls.x_scores_.ravel().tolist(),
        "yLoadings": pls.y_loadings_[0].tolist(),
        "xMean": pls._x_mean.tolist(),
        "xStd": pls._x_std.tolist(),
        "vip": vip(pls.x_weights_, pls.x_scores_, pls.y_loadings_).tolist(),
    }


def linear_problem(rng, n, p, noise=0.5):
    X = rng.normal(size=(n, p)) * rng.uniform(0.2, 5.0, size=p) + rng.uniform(-3, 3, size=p)
    beta = rng.normal(size=p) * (rng.uniform(size=p) < 0.5)
    y = X @ beta + noise * rng.normal(size=n) + 3.0
    return X, y


def main():
    rng = np.random.default_rng(20260413)
    cases = []
    X, y = linear_problem(rng, 40, 12)
    cases.append(case("n40-p12-scaled", X, y))
    cases.append(case("n40-p12-unscaled", X, y, scale=False))
    X, y = linear_problem(rng, 40, 10)
    X[:, 3] = 2.5  # exactly representable: the mean is exact, the std exactly 0 (sklearn sets it to 1)
    cases.append(case("n40-p10-constant-column", X, y))
    X, y = linear_problem(rng, 15, 50)
    cases.append(case("n15-p50-p-gt-n", X, y))
    # Global-max-pooled ReLU features as pruning sees them: non-negative, one dead filter, MOS-like target.
    n, p = 60, 24
    Z = rng.normal(size=(n, 4))
    X = np.maximum(0.0, Z @ rng.normal(size=(4, p)) + rng.normal(scale=0.3, size=(n, p)))
    X[:, 7] = 0.0
    y = 1.0 + 4.0 / (1.0 + np.exp(-(Z[:, 0] - 0.5 * Z[:, 1]))) + 0.1 * rng.normal(size=n)
    cases.append(case("n60-p24-relu-features-dead-filter", X, y))
    cases.append(case("n60-p24-relu-features-3-components", X, y, components=3))

    out = {
        "generator": "scripts/make-pls-fixtures.py",
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "model": "PLSRegression(n_components=components, scale=scale), defaults otherwise (NIPALS, max_iter=500, tol=1e-6)",
        "layout": "X, xWeights (p x k) and xScores (n x k) are row-major",
        "cases": cases,
    }
    path = os.path.join(os.path.dirname(__file__), "..", "fixtures", "pls", "sklearn-vip.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    os.replace(path + ".tmp", path)
    print(f"wrote {os.path.normpath(path)}: {len(cases)} cases, sklearn {sklearn.__version__}")


if __name__ == "__main__":
    main()

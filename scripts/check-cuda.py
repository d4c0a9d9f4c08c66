#!/usr/bin/env python3
"""Run ONNX models on ONNX Runtime's CPU and CUDA providers and compare the outputs.

For a machine with a GPU and the `onnxruntime-gpu` Python package (the project's device check;
CI never needs it). Usage:

    python3 scripts/check-cuda.py model.onnx [more.onnx ...] [--rtol 1e-3] [--atol 1e-4]

Each model is fed seeded uniform [0, 1) inputs (symbolic dims set to 1); the script prints, per
model and output, the largest absolute and relative difference between the two providers, and
exits 1 if CUDA is unavailable or any output differs beyond atol + rtol * |cpu|.
"""
import argparse
import sys

import numpy as np
import onnxruntime as ort


def feeds(session, seed):
    rng = np.random.RandomState(seed)
    out = {}
    for i in session.get_inputs():
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in i.shape]
        dtype = np.float16 if i.type == "tensor(float16)" else np.float32
        out[i.name] = rng.rand(*shape).astype(dtype)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--rtol", type=float, default=1e-3)
    ap.add_argument("--atol", type=float, default=1e-4)
    args = ap.parse_args()
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        print("CUDAExecutionProvider is not available:", ort.get_available_providers())
        return 1
    ok = True
    for path in args.models:
        cpu = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        cuda = ort.InferenceSession(path, providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
        x = feeds(cpu, 0)
        a = cpu.run(None, x)
        b = cuda.run(None, x)
        for o, ya, yb in zip(cpu.get_outputs(), a, b):
            diff = np.abs(ya.astype(np.float64) - yb.astype(np.float64))
            rel = float(diff.max() / max(np.abs(ya).max(), 1e-30))
            good = bool(np.all(diff <= args.atol + args.rtol * np.abs(ya)))
            ok &= good
            print(f"{path} {o.name} {list(ya.shape)} max_abs={diff.max():.3g} max_rel={rel:.3g} providers={cuda.get_providers()[0]} {'ok' if good else 'DIFFERS'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

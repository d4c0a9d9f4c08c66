#!/usr/bin/env python3
"""Run ONNX models on ONNX Runtime's CPU and CUDA providers and compare the outputs.

For a machine with a GPU and the `onnxruntime-gpu` Python package (the project's device check;
CI never needs it). Usage:

    python3 scripts/check-cuda.py model.onnx [more.onnx ...] [--rtol 1e-3] [--atol 1e-4]

Each model is fed seeded uniform [0, 1) inputs (symbolic dims set to 1); a graph input that has an
initializer of the same name (ONNX's input default, IR >= 4) is not fed, so its default is used:
the gradient graphs written by scripts/dump-gradient-graphs.ts keep the trained parameters as
inputs with their values as defaults, and only the image and the loss cotangents are fed. The
script prints, per model and output, what the output is (loss, forward output, or the gradient of
which input or parameter, from the metadata `iqa-surgeon.gradient-outputs` those graphs carry; an
output named `*_grad` is taken for a gradient in other files), the largest absolute and relative
difference between the two providers, and exits 1 if CUDA is unavailable or any output differs
beyond atol + rtol * |cpu|. See docs/AUTODIFF.md, "Gradient graphs on CUDA".
"""
import argparse
import json
import sys

import numpy as np
import onnxruntime as ort

GRADIENT_OUTPUTS_KEY = "iqa-surgeon.gradient-outputs"


def defaulted_inputs(session):
    """Names of the graph inputs that have an initializer (ORT lists them as overridable initializers)."""
    return {i.name for i in session.get_overridable_initializers()}


def feeds(session, seed):
    rng = np.random.RandomState(seed)
    skip = defaulted_inputs(session)
    out = {}
    for i in session.get_inputs():
        if i.name in skip:
            continue
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in i.shape]
        dtype = np.float16 if i.type == "tensor(float16)" else np.float32
        out[i.name] = rng.rand(*shape).astype(dtype)
    return out, skip


def output_roles(session):
    """Output name -> what it is ('loss', 'forward output', 'gradient of input x', 'gradient of parameter w')."""
    meta = session.get_modelmeta().custom_metadata_map.get(GRADIENT_OUTPUTS_KEY)
    roles = {}
    if meta:
        m = json.loads(meta)
        roles[m["loss"]] = "loss"
        for o, name in m.get("outputs", {}).items():
            roles[name] = f"forward output {o}"
        for x, name in m.get("inputGrads", {}).items():
            roles[name] = f"gradient of input {x}"
        for p, name in m.get("paramGrads", {}).items():
            roles[name] = f"gradient of parameter {p}"
    for o in session.get_outputs():
        if o.name not in roles:
            roles[o.name] = "gradient" if o.name.endswith("_grad") else "output"
    return roles


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
        x, skipped = feeds(cpu, 0)
        roles = output_roles(cpu)
        print(f"{path}: fed {', '.join(sorted(x))}; {len(skipped)} input(s) take their initializer defaults; providers={cuda.get_providers()}")
        a = cpu.run(None, x)
        b = cuda.run(None, x)
        grads = 0
        for o, ya, yb in zip(cpu.get_outputs(), a, b):
            diff = np.abs(ya.astype(np.float64) - yb.astype(np.float64))
            rel = float(diff.max() / max(np.abs(ya).max(), 1e-30)) if diff.size else 0.0
            good = bool(np.all(diff <= args.atol + args.rtol * np.abs(ya)))
            ok &= good
            role = roles[o.name]
            grads += role.startswith("gradient")
            print(f"{path} {o.name} [{role}] {list(ya.shape)} max_abs={diff.max() if diff.size else 0:.3g} max_rel={rel:.3g} providers={cuda.get_providers()[0]} {'ok' if good else 'DIFFERS'}")
        print(f"{path}: {grads} gradient output(s) of {len(a)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Generate the Inception-style ONNX fixture of the pruning/shrink tests: fixtures/prune/.

Run with Debian's python3 (python3-torch 1.13, python3-onnx 1.12):

    /usr/bin/python3 scripts/make-prune-fixtures.py

A small GoogLeNet/Inception-style IQA model, exported the way real models are
(model.eval(), torch.onnx.export, opset 13, do_constant_folding=True, input
"input", output "score", dynamic batch axis): a stem conv, two Inception blocks
(four parallel towers: 1x1; 1x1 -> 3x3; 1x1 -> 3x3 -> 3x3; 3x3 max-pool ->
1x1, joined by Concat along the channels), a BatchNorm + ReLU after each Concat
(not foldable into a conv, so it stays a BatchNormalization node whose channels
come from four convs at four offsets), then global average pooling and an FC
head (Linear -> ReLU -> Linear). The towers' conv + BN pairs are folded by the
export (conv with bias). Weights and BN statistics are random from fixed seeds;
the script is deterministic. Beside the model, inception_iqa.expected.json holds
a batch-2 32x32 input (float32, little-endian, base64) and PyTorch's output for it.
"""

import base64
import json
import os

import numpy as np
import onnx
import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "fixtures", "prune")
OPSET = 13

torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)


class BasicConv(nn.Module):
    def __init__(self, cin, cout, k, stride=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-3)
        self.relu = nn.ReLU(inplace=False)

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    def __init__(self, cin, c1, c3r, c3, c5r, c5, cp):
        super().__init__()
        self.b1 = BasicConv(cin, c1, 1)
        self.b2 = nn.Sequential(BasicConv(cin, c3r, 1), BasicConv(c3r, c3, 3))
        self.b3 = nn.Sequential(BasicConv(cin, c5r, 1), BasicConv(c5r, c5, 3), BasicConv(c5, c5, 3))
        self.b4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), BasicConv(cin, cp, 1))
        self.out = c1 + c3 + c5 + cp

    def forward(self, x):
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)


class InceptionIqa(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = BasicConv(3, 16, 3, stride=2)
        self.pool = nn.MaxPool2d(2)
        self.inc1 = Inception(16, 8, 8, 12, 4, 8, 8)
        self.bn1 = nn.BatchNorm2d(self.inc1.out)
        self.inc2 = Inception(self.inc1.out, 12, 12, 16, 6, 10, 10)
        self.bn2 = nn.BatchNorm2d(self.inc2.out)
        self.relu = nn.ReLU(inplace=False)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Linear(self.inc2.out, 16)
        self.fc2 = nn.Linear(16, 1)

    def forward(self, x):
        x = self.pool(self.stem(x))
        x = self.relu(self.bn1(self.inc1(x)))
        x = self.relu(self.bn2(self.inc2(x)))
        x = torch.flatten(self.gap(x), 1)
        return self.fc2(self.relu(self.fc1(x)))


def randomize_bn(model, gen):
    """Non-trivial BatchNorm statistics and affine parameters (fresh ones are the identity)."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.weight.data = 0.5 + torch.rand(n, generator=gen)
            m.bias.data = 0.2 * torch.randn(n, generator=gen)
            m.running_mean.data = 0.2 * torch.randn(n, generator=gen)
            m.running_var.data = 0.5 + torch.rand(n, generator=gen)


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    torch.manual_seed(13)
    gen = torch.Generator().manual_seed(13)
    model = InceptionIqa()
    randomize_bn(model, gen)
    model.eval()
    x = torch.rand(2, 3, 32, 32, generator=gen)
    path = os.path.join(OUT_DIR, "inception_iqa.onnx")
    torch.onnx.export(model, x, path, opset_version=OPSET, do_constant_folding=True, input_names=["input"], output_names=["score"], dynamic_axes={"input": {0: "batch"}, "score": {0: "batch"}})
    onnx.checker.check_model(onnx.load(path))
    with torch.no_grad():
        y = model(x)
    expected = {"input_shape": list(x.shape), "input_float32_base64": base64.b64encode(x.numpy().astype("<f4").tobytes()).decode("ascii"), "output_shape": list(y.shape), "output": [float(v) for v in y.numpy().reshape(-1)]}
    with open(os.path.join(OUT_DIR, "inception_iqa.expected.json"), "w") as f:
        json.dump(expected, f)
    ops = {}
    for n in onnx.load(path).graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    print(f"{path}: {os.path.getsize(path)} bytes; ops {ops}")


if __name__ == "__main__":
    main()

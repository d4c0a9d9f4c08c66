#!/usr/bin/python3
"""PyTorch side of `npm run bench -- --only torch` (src/bench/torch-bench.ts): a record, not a goal.

Run with Debian's python3-torch (apt-get install python3-torch python3-torchvision), i.e.
/usr/bin/python3, not a pyenv python3 on PATH:

    /usr/bin/python3 scripts/torch-pgd-bench.py [--threads 1,2] [--height 498] [--width 664] [--reps 3]

Model: the architecture of the benchmarks' ONNX model (src/bench/make-large-model.ts widens the
reduced export fixtures/models/resnet50_iqa.onnx, made by scripts/make-fixtures.py from
torchvision's Bottleneck [3,4,6,3], to torchvision's widths): torchvision ResNet-50 with the IQA
head avgpool -> flatten -> Linear(2048, 1), random weights, in eval mode with every BatchNorm
folded into its conv (as the ONNX export does: Conv with a bias, no BatchNormalization node).
Batch 1 at HxW, float32, CPU. Per thread count, medians of `reps` timed runs after one warm-up:
- forward (torch.no_grad);
- input-gradient step: forward + backward of the summed score to the input only;
- all-weight gradient step: forward + backward to every weight and bias (no input gradient);
- PGD-8 per image: eps 8/255, step 1/255, 8 sign steps from the clean image (no random start),
  pixels in [0,1] normalised by ImageNet mean/std inside each step, projected to the eps ball
  and [0,1]; seconds per image over `pgd_images` images after the warm-ups above.
Each time is given as wall time and as process CPU time (time.process_time: all threads, user +
system), the latter less sensitive to other processes on a shared machine. Prints one JSON object
on stdout.
"""
import argparse
import json
import sys
import time

import torch
import torch.nn as nn
from torch.nn.utils.fusion import fuse_conv_bn_eval
from torchvision.models.resnet import resnet50

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def fold_batchnorm(module: nn.Module) -> None:
    """Replace every (conv, bn) pair of torchvision's ResNet by one conv with a bias, in place."""
    for name, child in list(module.named_children()):
        fold_batchnorm(child)
    pairs = [("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3")]
    for c, b in pairs:
        conv, bn = getattr(module, c, None), getattr(module, b, None)
        if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
            setattr(module, c, fuse_conv_bn_eval(conv, bn))
            setattr(module, b, nn.Identity())
    ds = getattr(module, "downsample", None)
    if isinstance(ds, nn.Sequential) and len(ds) == 2 and isinstance(ds[1], nn.BatchNorm2d):
        module.downsample = nn.Sequential(fuse_conv_bn_eval(ds[0], ds[1]))


def make_model() -> nn.Module:
    torch.manual_seed(50)
    m = resnet50(num_classes=1)
    # random BatchNorm statistics, so the folded biases are not all zero
    g = torch.Generator().manual_seed(150)
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            n = mod.num_features
            mod.running_mean.copy_(torch.rand(n, generator=g) * 0.2 - 0.1)
            mod.running_var.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
            mod.weight.data.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
            mod.bias.data.copy_(torch.rand(n, generator=g) * 0.2 - 0.1)
    m.eval()
    fold_batchnorm(m)
    assert not any(isinstance(x, nn.BatchNorm2d) for x in m.modules())
    return m


def median(xs):
    s = sorted(xs)
    return s[len(s) // 2]


def timed(reps, f):
    """Median wall ms, median process CPU ms (all threads), and the wall times, of `reps` runs after a warm-up."""
    f()
    ts, cs = [], []
    for _ in range(reps):
        t, c = time.perf_counter(), time.process_time()
        f()
        ts.append((time.perf_counter() - t) * 1000)
        cs.append((time.process_time() - c) * 1000)
    return median(ts), median(cs), ts


def bench(model, threads, h, w, reps, pgd_images):
    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(1)
    pixels = torch.rand(1, 3, h, w, generator=gen) * 0.8 + 0.1
    x = (pixels - MEAN) / STD
    params = list(model.parameters())

    def forward():
        with torch.no_grad():
            return model(x)

    def input_grad():
        for p in params:
            p.requires_grad_(False)
        xi = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(model(xi).sum(), xi)
        return g

    def weight_grad():
        for p in params:
            p.requires_grad_(True)
        return torch.autograd.grad(model(x).sum(), params)

    def pgd8(px):
        for p in params:
            p.requires_grad_(False)
        eps, step = 8 / 255, 1 / 255
        adv = px.clone()
        for _ in range(8):
            adv.requires_grad_(True)
            score = model((adv - MEAN) / STD).sum()
            (g,) = torch.autograd.grad(score, adv)
            with torch.no_grad():
                adv = adv + step * g.sign()
                adv = torch.min(torch.max(adv, px - eps), px + eps).clamp(0, 1)
        return adv.detach()

    fwd, fwd_cpu, fwd_all = timed(reps, forward)
    ig, ig_cpu, ig_all = timed(reps, input_grad)
    wg, wg_cpu, wg_all = timed(reps, weight_grad)
    t, c = time.perf_counter(), time.process_time()
    for i in range(pgd_images):
        g = torch.Generator().manual_seed(5 + i)
        pgd8(torch.rand(1, 3, h, w, generator=g) * 0.8 + 0.1)
    pgd_s = (time.perf_counter() - t) / pgd_images
    pgd_cpu_s = (time.process_time() - c) / pgd_images
    return {
        "threads": threads,
        "torch_get_num_threads": torch.get_num_threads(),
        "forward_ms": fwd,
        "input_grad_ms": ig,
        "weight_grad_ms": wg,
        "input_grad_ratio": ig / fwd,
        "weight_grad_ratio": wg / fwd,
        "pgd8_s_per_image": pgd_s,
        "pgd8_forwards": pgd_s * 1000 / fwd,
        "cpu": {"forward_ms": fwd_cpu, "input_grad_ms": ig_cpu, "weight_grad_ms": wg_cpu, "pgd8_s_per_image": pgd_cpu_s},
        "runs_ms": {"forward": fwd_all, "input_grad": ig_all, "weight_grad": wg_all},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts (torch.set_num_threads)")
    ap.add_argument("--height", type=int, default=498)
    ap.add_argument("--width", type=int, default=664)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--pgd-images", type=int, default=1)
    a = ap.parse_args()
    threads = [int(t) for t in a.threads.split(",")]
    if any(t < 1 or t > 1024 for t in threads) or not (1 <= a.reps <= 100) or not (1 <= a.pgd_images <= 100):
        sys.exit("torch-pgd-bench: --threads values in 1..1024, --reps and --pgd-images in 1..100")
    if not (16 <= a.height <= 4096 and 16 <= a.width <= 4096):
        sys.exit("torch-pgd-bench: --height and --width in 16..4096")
    model = make_model()
    out = {
        "torch": torch.__version__,
        "model": "torchvision ResNet-50, IQA head Linear(2048,1), BatchNorm folded into the convs, random weights, eval mode",
        "size": [a.height, a.width],
        "batch": 1,
        "params": sum(p.numel() for p in model.parameters()),
        "reps": a.reps,
        "pgd_images": a.pgd_images,
        "rows": [bench(model, t, a.height, a.width, a.reps, a.pgd_images) for t in threads],
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()

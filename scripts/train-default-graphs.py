#!/usr/bin/python3
"""Train and export the default IQA graphs under graphs/.

Run from the repository root with Debian's python3 (torch 1.13, torchvision, onnx 1.12) after
`npm run build` (the script uses dist/):

    /usr/bin/python3 scripts/train-default-graphs.py

Steps:
  1. The TypeScript generator writes the embedded dataset (size 400, seed 0) to a temp folder.
  2. The TypeScript side selects the train and val splits (selectSplit, seed 0: 70/10/20) and
     loads them with the project's loader (sharp, the preprocessing below), so the tensors the
     models train on are the tensors the toolkit feeds them.
  3. Two small no-reference IQA models are trained on CPU (seeded, deterministic algorithms):
       linearity_r18w16  Linearity-style ResNet-18 (base width 16): pooled layer3 and layer4
                         features feed two Linear heads; a Linear(2,1) gives the score.
       dbcnn_vgg_bilinear DBCNN-style: a small VGG-like trunk, bilinear (outer-product) pooling,
                         signed square root, L2 normalisation, Linear -> score.
  4. Each is exported the way real IQA models are exported (eval, torch.onnx.export, opset 13,
     input "input" [batch,3,H,W] with a dynamic batch, output "score"), the preprocessing is
     stored in metadata_props under "iqa-surgeon.preprocess", and graphs/README.md is written
     with the validation SROCC/PLCC (computed on the PyTorch outputs of the val split).
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GRAPHS = os.path.join(ROOT, "graphs")
OPSET = 13
DATA_SIZE = 400
DATA_SEED = 0
SPLIT_SEED = 0
TRAIN_SEED = 0
H, W = 96, 128
PREPROCESS = {
    "size": [H, W],
    "range": [0, 1],
    "mean": [0.485, 0.456, 0.406],
    "std": [0.229, 0.224, 0.225],
    "colorOrder": "RGB",
    "kernel": "lanczos3",
    "fit": "fill",
}
MAKE_CMD = "/usr/bin/python3 scripts/train-default-graphs.py"

torch.use_deterministic_algorithms(True)
torch.set_num_threads(2)

# The ResNet classes of the fixture exporter (torchvision naming, configurable width).
_spec = importlib.util.spec_from_file_location("make_fixtures", os.path.join(ROOT, "scripts", "make-fixtures.py"))
make_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_fixtures)
torch.set_num_threads(2)  # make-fixtures sets 1 on import
LinearityIQA = make_fixtures.LinearityIQA

# --------------------------------------------------------------------------
# Data: generated and loaded by the TypeScript code
# --------------------------------------------------------------------------

NODE_DUMP = r"""
import { writeFileSync } from 'node:fs';
import path from 'node:path';
const root = process.argv[1];
const [out, size, seed, splitSeed, pre] = process.argv.slice(2);
const md = await import(path.join(root, 'dist/data/make-default.js'));
const ds = await import(path.join(root, 'dist/data/dataset.js'));
const ld = await import(path.join(root, 'dist/data/loader.js'));
const pp = await import(path.join(root, 'dist/data/preprocess.js'));
const dataDir = path.join(out, 'data');
await md.makeDefaultDataset({ out: dataDir, size: Number(size), seed: Number(seed) });
const items = ds.listDataset(ds.parseDatasetSpec(dataDir)).items;
const spec = pp.resolvePreprocess(JSON.parse(pre));
const info = {};
for (const split of ['train', 'val']) {
  const sel = ds.selectSplit(items, split, { seed: Number(splitSeed) });
  const chunks = [];
  const mos = [];
  for await (const b of ld.loadBatches(sel, spec, { batchSize: 32 })) {
    chunks.push(Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength));
    mos.push(...b.mos);
  }
  writeFileSync(path.join(out, split + '.f32'), Buffer.concat(chunks));
  info[split] = { names: sel.map((it) => it.name), mos };
}
writeFileSync(path.join(out, 'splits.json'), JSON.stringify(info));
"""


def load_data(tmp):
    t0 = time.time()
    subprocess.run(["node", "--input-type=module", "-e", NODE_DUMP, ROOT, tmp, str(DATA_SIZE), str(DATA_SEED),
                    str(SPLIT_SEED), json.dumps(PREPROCESS)], check=True, cwd=ROOT)
    with open(os.path.join(tmp, "splits.json")) as f:
        info = json.load(f)
    out = {}
    for split in ("train", "val"):
        x = np.fromfile(os.path.join(tmp, split + ".f32"), dtype=np.float32).reshape(-1, 3, H, W)
        y = np.array(info[split]["mos"], dtype=np.float32)
        assert x.shape[0] == y.shape[0]
        out[split] = (torch.from_numpy(x.copy()), torch.from_numpy(y))
    print("data: %d train, %d val images in %.1f s" % (len(out["train"][1]), len(out["val"][1]), time.time() - t0))
    return out


# --------------------------------------------------------------------------
# Metrics (same definitions as src/metrics/correlation.ts)
# --------------------------------------------------------------------------

def average_ranks(a):
    a = np.asarray(a, dtype=np.float64)
    order = np.argsort(a, kind="mergesort")
    ranks = np.empty(len(a), dtype=np.float64)
    i = 0
    while i < len(a):
        j = i
        while j + 1 < len(a) and a[order[j + 1]] == a[order[i]]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def plcc(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    da, db = a - a.mean(), b - b.mean()
    return float((da * db).sum() / np.sqrt((da * da).sum() * (db * db).sum()))


def srocc(a, b):
    return plcc(average_ranks(a), average_ranks(b))


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------

class DBCNNStyle(nn.Module):
    """DBCNN-style model: a small VGG-like trunk (the synthetic-distortion branch S-CNN of DBCNN
    in spirit), bilinear pooling of the last feature map (mean of outer products over positions),
    signed square root, L2 normalisation and a Linear regression to the score."""

    def __init__(self, widths=(16, 32, 48, 32)):
        super().__init__()
        layers = []
        cin = 3
        for i, c in enumerate(widths):
            layers += [nn.Conv2d(cin, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
            if i < len(widths) - 1:
                layers += [nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                           nn.MaxPool2d(2)]
            cin = c
        self.features = nn.Sequential(*layers)
        self.channels = cin
        self.fc = nn.Linear(cin * cin, 1)

    def forward(self, x):
        f = self.features(x)
        n, c, h, w = f.shape
        f = f.reshape(n, c, h * w)
        b = torch.bmm(f, f.transpose(1, 2)) / (h * w)
        b = b.reshape(n, c * c)
        b = torch.sign(b) * torch.sqrt(torch.abs(b) + 1e-8)
        b = F.normalize(b, dim=1)
        return self.fc(b)


# --------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------

def predict(model, x, batch=64):
    model.eval()
    with torch.no_grad():
        return torch.cat([model(x[i:i + batch]).flatten() for i in range(0, len(x), batch)]).numpy()


def train(model, data, epochs, lr, seed, name):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    xtr, ytr = data["train"]
    xva, yva = data["val"]
    mu, sd = float(ytr.mean()), float(ytr.std())
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    bs = 16
    t0 = time.time()
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(xtr), generator=g)
        total = 0.0
        for i in range(0, len(xtr), bs):
            idx = perm[i:i + bs]
            if len(idx) < 2:
                continue
            xb = xtr[idx]
            flip = torch.rand(len(idx), generator=g) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            yb = (ytr[idx] - mu) / sd
            loss = F.smooth_l1_loss(model(xb).flatten(), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
        sched.step()
        if ep % 5 == 4 or ep == epochs - 1:
            p = predict(model, xva)
            print("%s epoch %d loss %.4f val SROCC %.4f PLCC %.4f (%.0f s)" % (
                name, ep + 1, total / len(xtr), srocc(p, yva.numpy()), plcc(p, yva.numpy()), time.time() - t0))
    # fold the target scaling into the last Linear so the model outputs MOS-scale scores
    last = model.regressor if hasattr(model, "regressor") else model.fc
    with torch.no_grad():
        last.weight.mul_(sd)
        last.bias.mul_(sd).add_(mu)
    return time.time() - t0


def export(model, name, x_example):
    model.eval()
    path = os.path.join(GRAPHS, name + ".onnx")
    torch.onnx.export(model, x_example, path, export_params=True, opset_version=OPSET, do_constant_folding=True,
                      input_names=["input"], output_names=["score"],
                      dynamic_axes={"input": {0: "batch"}, "score": {0: "batch"}})
    m = onnx.load(path)
    onnx.checker.check_model(m)
    p = m.metadata_props.add()
    p.key = "iqa-surgeon.preprocess"
    p.value = json.dumps(PREPROCESS, separators=(",", ":"))
    onnx.save(m, path)
    return path


MODELS = [
    {
        "name": "linearity_r18w16",
        "make": lambda: LinearityIQA(base_width=16),
        "arch": "Linearity-style: torchvision ResNet-18 topology (BasicBlock [2,2,2,2]), widths 16/32/64/128; "
                "globally average-pooled layer3 and layer4 features feed Linear(64,1) and Linear(128,1) heads, "
                "Linear(2,1) combines them",
        "epochs": 60, "lr": 2e-3,
    },
    {
        "name": "dbcnn_vgg_bilinear",
        "make": lambda: DBCNNStyle(),
        "arch": "DBCNN-style: VGG-like trunk (conv3x3+BN+ReLU, widths 16/32/48/32, 3 max-pools), bilinear pooling "
                "(mean outer product of the 32-channel map, 1024 features), signed sqrt, L2 normalisation, "
                "Linear(1024,1)",
        "epochs": 30, "lr": 2e-3,
    },
]


def write_readme(results):
    lines = [
        "# graphs/",
        "",
        "The default no-reference IQA models the toolkit ships (issue 5): small models in the style of",
        "the paper's models, trained on the embedded dataset and exported from PyTorch the way real IQA",
        "models are exported (`model.eval()`, `torch.onnx.export`, opset %d, `do_constant_folding=True`," % OPSET,
        "input `input` [batch,3,%d,%d] with a dynamic batch axis, output `score` [batch,1])." % (H, W),
        "",
        "**The scores are not human opinion scores.** The embedded dataset's MOS is derived from SSIM",
        "against the undistorted procedural scene (`mos = 1 + 4 * clamp(SSIM, 0, 1)`, see docs/DATA.md),",
        "so these models predict an SSIM-like quality on procedural images; they are stand-ins for",
        "KonIQ-trained models, small enough to fine-tune on a 2-core CPU.",
        "",
        "| file | architecture | input | params | file size | val SROCC | val PLCC | training time (2-core CPU) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append("| `%s` | %s | [batch,3,%d,%d] | %d | %.2f MB | %.4f | %.4f | %.0f s |" % (
            r["file"], r["arch"], H, W, r["params"], r["bytes"] / 1e6, r["srocc"], r["plcc"], r["seconds"]))
    lines += [
        "",
        "## How they were made",
        "",
        "`%s` (after `npm run build`):" % MAKE_CMD,
        "",
        "- data: `makeDefaultDataset({ size: %d, seed: %d })` (the same as" % (DATA_SIZE, DATA_SEED),
        "  `iqa-surgeon dataset make-default --size %d --seed %d`), split by `selectSplit` with seed %d" % (DATA_SIZE, DATA_SEED, SPLIT_SEED),
        "  (70/10/20: %d train, %d val images; the test split is not used)." % (results[0]["n_train"], results[0]["n_val"]),
        "- images loaded by the toolkit's loader (src/data/loader.ts) with the preprocessing stored in",
        "  each model's metadata_props under `iqa-surgeon.preprocess`:",
        "  `%s`" % json.dumps(PREPROCESS, separators=(",", ":")),
        "- training: CPU, `torch.manual_seed(%d)`, deterministic algorithms, 2 threads, Adam" % TRAIN_SEED,
        "  (weight decay 1e-4), cosine learning rate, batch 16, random horizontal flips, smooth-L1 loss on",
        "  standardised MOS (the scaling is folded into the last Linear, so `score` is on the 1..5 scale).",
        "- val SROCC (Spearman, tied ranks averaged) and PLCC (Pearson) of the PyTorch outputs on the",
        "  val split; test/graphs/default-graphs.test.ts regenerates the dataset and checks that ONNX",
        "  Runtime reproduces the SROCC and PLCC above within 0.01. Retraining on another machine (other CPU, other",
        "  torch or libvips build) can give slightly different weights and numbers.",
        "",
        "Reported by the script: torch %s, onnx %s." % (torch.__version__, onnx.__version__),
        "",
    ]
    with open(os.path.join(GRAPHS, "README.md"), "w") as f:
        f.write("\n".join(lines))


def main():
    os.makedirs(GRAPHS, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="iqa-default-graphs-")
    try:
        data = load_data(tmp)
        results = []
        for spec in MODELS:
            torch.manual_seed(TRAIN_SEED)
            model = spec["make"]()
            seconds = train(model, data, spec["epochs"], spec["lr"], TRAIN_SEED, spec["name"])
            xva, yva = data["val"]
            p = predict(model, xva)
            path = export(model, spec["name"], xva[:1])
            r = {
                "file": os.path.basename(path), "arch": spec["arch"],
                "params": sum(t.numel() for t in model.parameters()),
                "bytes": os.path.getsize(path), "srocc": srocc(p, yva.numpy()), "plcc": plcc(p, yva.numpy()),
                "seconds": seconds, "n_train": len(data["train"][1]), "n_val": len(yva),
            }
            print("%s: SROCC %.4f PLCC %.4f params %d file %d bytes, %.0f s" % (
                r["file"], r["srocc"], r["plcc"], r["params"], r["bytes"], seconds))
            results.append(r)
        write_readme(results)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

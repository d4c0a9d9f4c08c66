#!/usr/bin/python3
"""Generate the seed-style ONNX fixture models under fixtures/seed-models/.

Run with Debian's python3 (python3-torch 1.13, python3-torchvision, python3-onnx 1.12):

    /usr/bin/python3 scripts/make-seed-fixtures.py

Reduced-width PyTorch models in the style of the four IQA models the paper patches
(Linearity, KonCept512, DBCNN, TReS) plus wrapped ResNet-18/50 backbones, written the
way their published repositories write them (module names, nn.Sequential of a backbone's
children, wrappers around the backbone, the heads' operations) and exported the way those
repositories' models are exported: model.eval(), torch.onnx.export with a dynamic batch
axis, do_constant_folding=True, node names as torch gives them. Weights are random from
fixed seeds (BatchNorm statistics randomised so BN folding is exercised); the script is
deterministic. Beside each model a <name>.expected.json holds a deterministic batch-1
input and PyTorch's output for it (same layout as fixtures/models/*.expected.json).

The published repositories' code is not copied here: the modules below are written from
the architectures' descriptions, with the same module names, so the ONNX node names
(e.g. /features1/features1.28/Conv, /base/base.13/Add, /r/layer3/layer3.0/conv1/Conv)
look like those of a real export.
"""

import hashlib
import importlib.util
import json
import math
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.resnet import BasicBlock, Bottleneck
from torchvision.models.vgg import make_layers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "fixtures", "seed-models")
MAKE_CMD = "/usr/bin/python3 scripts/make-seed-fixtures.py"

torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)

# The reduced torchvision-named ResNet of scripts/make-fixtures.py (same module names as
# torchvision: conv1, bn1, relu, maxpool, layer1..layer4, avgpool, fc).
_spec = importlib.util.spec_from_file_location("make_fixtures", os.path.join(ROOT, "scripts", "make-fixtures.py"))
_mf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mf)
ResNet = _mf.ResNet
randomize_batchnorm = _mf.randomize_batchnorm
f32_list = _mf.f32_list
make_input = _mf.make_input


def randomize_batchnorm_all(model, seed):
    """randomize_batchnorm for BatchNorm1d/2d (the heads use BatchNorm1d)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                n = m.num_features
                m.weight.copy_(0.5 + torch.rand(n, generator=g))
                m.bias.copy_(0.2 * torch.randn(n, generator=g))
                m.running_mean.copy_(0.2 * torch.randn(n, generator=g))
                m.running_var.copy_(0.5 + torch.rand(n, generator=g))


# --------------------------------------------------------------------------
# 0. torchvision ResNet-18 / ResNet-50 wrapped in an IQA module (self.r = resnet)
# --------------------------------------------------------------------------

class WrappedResNetIQA(nn.Module):
    """An IQA module holding a torchvision-style ResNet as `self.r`, its fc replaced by a
    Linear(..., 1) regressor (the usual fine-tuning recipe); node names /r/layer3/..."""

    def __init__(self, block, layers, base_width):
        super().__init__()
        self.r = ResNet(block, layers, base_width)
        self.r.fc = nn.Linear(self.r.feature_dim, 1)

    def forward(self, x):
        return self.r(x)


# --------------------------------------------------------------------------
# 1. Linearity-style (lidq92/LinearityIQA IQAModel, arch resnet50)
# --------------------------------------------------------------------------

class LinearityIQA(nn.Module):
    """features = nn.Sequential(*list(resnet50.children())[:-2]) (so layer3 is features.6
    and layer4 features.7); the globally average-pooled outputs of features.6 and features.7
    each go through a dimension-reduction MLP (dr6, dr7: Linear-BN1d-Linear-BN1d-Linear-BN1d-ReLU);
    regr6/regr7 score each, and `regression` scores their concatenation (the returned score).
    The layer3 output feeds both the dr6 head and layer4."""

    def __init__(self, base_width=8):
        super().__init__()
        resnet = ResNet(Bottleneck, [3, 4, 6, 3], base_width)
        self.features = nn.Sequential(*list(resnet.children())[:-2])
        c3, c4 = base_width * 4 * 4, base_width * 8 * 4

        def dr(c):
            return nn.Sequential(nn.Linear(c, 64), nn.BatchNorm1d(64), nn.Linear(64, 32),
                                 nn.BatchNorm1d(32), nn.Linear(32, 16), nn.BatchNorm1d(16), nn.ReLU())
        self.dr6 = dr(c3)
        self.dr7 = dr(c4)
        self.regr6 = nn.Linear(16, 1)
        self.regr7 = nn.Linear(16, 1)
        self.regression = nn.Linear(16 * 2, 1)

    def extract_features(self, x):
        f = []
        for ii, model in enumerate(self.features):
            x = model(x)
            if ii == 6 or ii == 7:
                f.append(F.adaptive_avg_pool2d(x, 1).view(x.size(0), -1))  # SPSP, P=1, avg
        return f

    def forward(self, x):
        f = self.extract_features(x)
        x6 = self.dr6(f[0])
        x7 = self.dr7(f[1])
        return self.regression(torch.cat((x6, x7), 1))


# --------------------------------------------------------------------------
# 2. KonCept512-style (Inception-ResNet-v2 base, module names of pretrainedmodels)
# --------------------------------------------------------------------------

class BasicConv2d(nn.Module):
    def __init__(self, cin, cout, kernel_size, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001, momentum=0.1, affine=True)
        self.relu = nn.ReLU(inplace=False)

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))


class Mixed_5b(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.branch0 = BasicConv2d(192 // d, 96 // d, 1)
        self.branch1 = nn.Sequential(BasicConv2d(192 // d, 48 // d, 1), BasicConv2d(48 // d, 64 // d, 5, padding=2))
        self.branch2 = nn.Sequential(BasicConv2d(192 // d, 64 // d, 1), BasicConv2d(64 // d, 96 // d, 3, padding=1),
                                     BasicConv2d(96 // d, 96 // d, 3, padding=1))
        self.branch3 = nn.Sequential(nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
                                     BasicConv2d(192 // d, 64 // d, 1))

    def forward(self, x):
        return torch.cat((self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)), 1)


class Block35(nn.Module):
    def __init__(self, d, scale=0.17):
        super().__init__()
        self.scale = scale
        self.branch0 = BasicConv2d(320 // d, 32 // d, 1)
        self.branch1 = nn.Sequential(BasicConv2d(320 // d, 32 // d, 1), BasicConv2d(32 // d, 32 // d, 3, padding=1))
        self.branch2 = nn.Sequential(BasicConv2d(320 // d, 32 // d, 1), BasicConv2d(32 // d, 48 // d, 3, padding=1),
                                     BasicConv2d(48 // d, 64 // d, 3, padding=1))
        self.conv2d = nn.Conv2d(128 // d, 320 // d, 1)
        self.relu = nn.ReLU(inplace=False)

    def forward(self, x):
        out = torch.cat((self.branch0(x), self.branch1(x), self.branch2(x)), 1)
        out = self.conv2d(out)
        out = out * self.scale + x
        return self.relu(out)


class Mixed_6a(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.branch0 = BasicConv2d(320 // d, 384 // d, 3, stride=2)
        self.branch1 = nn.Sequential(BasicConv2d(320 // d, 256 // d, 1), BasicConv2d(256 // d, 256 // d, 3, padding=1),
                                     BasicConv2d(256 // d, 384 // d, 3, stride=2))
        self.branch2 = nn.MaxPool2d(3, stride=2)

    def forward(self, x):
        return torch.cat((self.branch0(x), self.branch1(x), self.branch2(x)), 1)


class Block17(nn.Module):
    def __init__(self, d, scale=0.10):
        super().__init__()
        self.scale = scale
        self.branch0 = BasicConv2d(1088 // d, 192 // d, 1)
        self.branch1 = nn.Sequential(BasicConv2d(1088 // d, 128 // d, 1),
                                     BasicConv2d(128 // d, 160 // d, (1, 7), padding=(0, 3)),
                                     BasicConv2d(160 // d, 192 // d, (7, 1), padding=(3, 0)))
        self.conv2d = nn.Conv2d(384 // d, 1088 // d, 1)
        self.relu = nn.ReLU(inplace=False)

    def forward(self, x):
        out = torch.cat((self.branch0(x), self.branch1(x)), 1)
        out = self.conv2d(out)
        out = out * self.scale + x
        return self.relu(out)


class Mixed_7a(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.branch0 = nn.Sequential(BasicConv2d(1088 // d, 256 // d, 1), BasicConv2d(256 // d, 384 // d, 3, stride=2))
        self.branch1 = nn.Sequential(BasicConv2d(1088 // d, 256 // d, 1), BasicConv2d(256 // d, 288 // d, 3, stride=2))
        self.branch2 = nn.Sequential(BasicConv2d(1088 // d, 256 // d, 1), BasicConv2d(256 // d, 288 // d, 3, padding=1),
                                     BasicConv2d(288 // d, 320 // d, 3, stride=2))
        self.branch3 = nn.MaxPool2d(3, stride=2)

    def forward(self, x):
        return torch.cat((self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)), 1)


class Block8(nn.Module):
    def __init__(self, d, scale=1.0, noReLU=False):
        super().__init__()
        self.scale = scale
        self.noReLU = noReLU
        self.branch0 = BasicConv2d(2080 // d, 192 // d, 1)
        self.branch1 = nn.Sequential(BasicConv2d(2080 // d, 192 // d, 1),
                                     BasicConv2d(192 // d, 224 // d, (1, 3), padding=(0, 1)),
                                     BasicConv2d(224 // d, 256 // d, (3, 1), padding=(1, 0)))
        self.conv2d = nn.Conv2d(448 // d, 2080 // d, 1)
        if not self.noReLU:
            self.relu = nn.ReLU(inplace=False)

    def forward(self, x):
        out = torch.cat((self.branch0(x), self.branch1(x)), 1)
        out = self.conv2d(out)
        out = out * self.scale + x
        if not self.noReLU:
            out = self.relu(out)
        return out


class InceptionResNetV2(nn.Module):
    """Inception-ResNet-v2 with the pretrainedmodels module names, widths / d and the
    repeated blocks cut to `repeats` (10, 20, 9 in the original)."""

    def __init__(self, d=8, repeats=(2, 2, 2)):
        super().__init__()
        self.conv2d_1a = BasicConv2d(3, 32 // d, 3, stride=2)
        self.conv2d_2a = BasicConv2d(32 // d, 32 // d, 3)
        self.conv2d_2b = BasicConv2d(32 // d, 64 // d, 3, padding=1)
        self.maxpool_3a = nn.MaxPool2d(3, stride=2)
        self.conv2d_3b = BasicConv2d(64 // d, 80 // d, 1)
        self.conv2d_4a = BasicConv2d(80 // d, 192 // d, 3)
        self.maxpool_5a = nn.MaxPool2d(3, stride=2)
        self.mixed_5b = Mixed_5b(d)
        self.repeat = nn.Sequential(*[Block35(d, 0.17) for _ in range(repeats[0])])
        self.mixed_6a = Mixed_6a(d)
        self.repeat_1 = nn.Sequential(*[Block17(d, 0.10) for _ in range(repeats[1])])
        self.mixed_7a = Mixed_7a(d)
        self.repeat_2 = nn.Sequential(*[Block8(d, 0.20) for _ in range(repeats[2])])
        self.block8 = Block8(d, noReLU=True)
        self.conv2d_7b = BasicConv2d(2080 // d, 1536 // d, 1)
        self.avgpool_1a = nn.AdaptiveAvgPool2d(1)
        self.last_linear = nn.Linear(1536 // d, 1000)


class KonCept512(nn.Module):
    """KonCept512's PyTorch form: base = nn.Sequential(*list(inceptionresnetv2.children())[:-1])
    (so block8 is base.13 and conv2d_7b base.14), then x.view(N, -1) and an MLP head
    (Linear-ReLU-BN1d-Dropout x3, Linear -> 1)."""

    def __init__(self, d=8):
        super().__init__()
        base_model = InceptionResNetV2(d)
        self.base = nn.Sequential(*list(base_model.children())[:-1])
        c = 1536 // d
        self.fc = nn.Sequential(
            nn.Linear(c, 128), nn.ReLU(inplace=True), nn.BatchNorm1d(128), nn.Dropout(p=0.25),
            nn.Linear(128, 64), nn.ReLU(inplace=True), nn.BatchNorm1d(64), nn.Dropout(p=0.25),
            nn.Linear(64, 16), nn.ReLU(inplace=True), nn.BatchNorm1d(16), nn.Dropout(p=0.5),
            nn.Linear(16, 1),
        )
        # variance-preserving init (PyTorch's default conv init shrinks the signal over this many
        # layers until the score no longer depends on the image)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")

    def forward(self, x):
        x = self.base(x)
        x = x.view(x.size(0), -1)
        return self.fc(x)


# --------------------------------------------------------------------------
# 3. DBCNN-style (zwx8981/DBCNN-PyTorch): VGG-16 branch + S-CNN branch, bilinear pooling
# --------------------------------------------------------------------------

class SCNN(nn.Module):
    """The S-CNN (synthetic-distortion CNN) feature stack: nine 3x3 conv-BN-ReLU, strides
    1,2,1,2,1,2,1,1,2, widths 48,48,64,64,64,64,128,128,128 (here / d)."""

    def __init__(self, d=4):
        super().__init__()
        cfg = [(48, 1), (48, 2), (64, 1), (64, 2), (64, 1), (64, 2), (128, 1), (128, 1), (128, 2)]
        layers, cin = [], 3
        for c, s in cfg:
            layers += [nn.Conv2d(cin, c // d, 3, s, 1), nn.BatchNorm2d(c // d), nn.ReLU(inplace=True)]
            cin = c // d
        self.features = nn.Sequential(*layers)


class DBCNN(nn.Module):
    """features1: VGG-16 features without the last max-pool (conv5_3 is features1.28);
    features2: the S-CNN's features; the S-CNN map is resized (bilinear) to the VGG map's
    size when they differ; bilinear pooling bmm(X1, X2^T)/(H*W), flatten, sqrt(x + 1e-8),
    L2 normalisation, fc."""

    CFG_D = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]

    def __init__(self, dv=8, ds=4):
        super().__init__()
        cfg = [v if v == "M" else v // dv for v in self.CFG_D]
        self.features1 = nn.Sequential(*list(make_layers(cfg, batch_norm=False).children())[:-1])
        self.features2 = SCNN(ds).features
        self.c1, self.c2 = 512 // dv, 128 // ds
        self.fc = nn.Linear(self.c1 * self.c2, 1)
        for m in self.features1.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.normal_(m.bias, 0, 0.05)

    def forward(self, X):
        N = X.size()[0]
        X1 = self.features1(X)
        H = X1.size()[2]
        W = X1.size()[3]
        X2 = self.features2(X)
        H2 = X2.size()[2]
        W2 = X2.size()[3]
        if (H != H2) | (W != W2):
            X2 = F.interpolate(X2, size=(H, W), mode="bilinear", align_corners=True)  # = F.upsample_bilinear
        X1 = X1.view(N, self.c1, H * W)
        X2 = X2.view(N, self.c2, H * W)
        X = torch.bmm(X1, torch.transpose(X2, 1, 2)) / (H * W)  # bilinear pooling
        X = X.view(N, self.c1 * self.c2)
        X = torch.sqrt(X + 1e-8)
        X = F.normalize(X)
        return self.fc(X)


# --------------------------------------------------------------------------
# 4. TReS-style (isalirezag/TReS): ResNet-50 + multi-scale taps + transformer encoder
# --------------------------------------------------------------------------

class L2pooling(nn.Module):
    """L2 pooling with a fixed Hanning window (depthwise conv, stride 2): sqrt(conv(x^2) + 1e-12)."""

    def __init__(self, channels, filter_size=5, stride=2):
        super().__init__()
        self.padding = (filter_size - 2) // 2
        self.stride = stride
        self.channels = channels
        a = np.hanning(filter_size)[1:-1]
        g = torch.Tensor(a[:, None] * a[None, :])
        g = g / torch.sum(g)
        self.register_buffer("filter", g[None, None, :, :].repeat((self.channels, 1, 1, 1)))

    def forward(self, input):
        input = input ** 2
        out = F.conv2d(input, self.filter, stride=self.stride, padding=self.padding, groups=self.channels)
        return (out + 1e-12).sqrt()


class ResNetTaps(ResNet):
    """The ResNet-50 trunk returning its four layers' outputs (TReS's resnet_modify)."""

    def forward(self, x):
        x = self.stem(x)
        l1 = self.layer1(x)
        l2 = self.layer2(l1)
        l3 = self.layer3(l2)
        l4 = self.layer4(l3)
        return l1, l2, l3, l4


class TReS(nn.Module):
    """ResNet-50 trunk (self.model); each layer's output is L2-normalised over channels,
    L2-pooled and average-pooled to layer4's size; the four are concatenated, projected by
    a 1x1 conv to d_model, flattened into tokens, given a learned positional embedding and
    run through nn.TransformerEncoder (pre-norm); the mean token goes through fc2 and is
    concatenated with the average-pooled layer4 features; fc gives the score."""

    def __init__(self, base_width=8, d_model=64, nhead=4, layers=2, ff=128, tokens=(3, 3),
                 block=Bottleneck, blocks=(3, 4, 6, 3), layer4_head=True):
        super().__init__()
        self.model = ResNetTaps(block, list(blocks), base_width, head=False)
        chans = [base_width * k * block.expansion for k in (1, 2, 4, 8)]
        self.layer4_head = layer4_head
        self.L2pooling_l1 = L2pooling(chans[0])
        self.L2pooling_l2 = L2pooling(chans[1])
        self.L2pooling_l3 = L2pooling(chans[2])
        self.L2pooling_l4 = L2pooling(chans[3])
        self.tokens = tokens
        self.avg = nn.AdaptiveAvgPool2d(tokens)
        self.projection = nn.Conv2d(sum(chans), d_model, 1)
        self.pos = nn.Parameter(0.02 * torch.randn(tokens[0] * tokens[1], 1, d_model))
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=ff, dropout=0.1, norm_first=True)
        self.transformer = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(d_model), enable_nested_tensor=False)
        self.fc2 = nn.Linear(d_model, chans[3])
        self.avg7 = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(chans[3] * (2 if layer4_head else 1), 1)

    def forward(self, x):
        l1, l2, l3, l4 = self.model(x)
        # F.normalize(l, dim=1, p=2) written with a broadcasting division: F.normalize's Expand
        # hides H and W from the exporter's shape inference, which adaptive pooling needs
        def normalize(l):
            return l / l.norm(p=2, dim=1, keepdim=True).clamp_min(1e-12)
        t1 = self.avg(self.L2pooling_l1(normalize(l1)))
        t2 = self.avg(self.L2pooling_l2(normalize(l2)))
        t3 = self.avg(self.L2pooling_l3(normalize(l3)))
        t4 = self.avg(self.L2pooling_l4(normalize(l4)))
        t = self.projection(torch.cat((t1, t2, t3, t4), dim=1))
        seq = torch.flatten(t, start_dim=2).permute(2, 0, 1)  # (HW, N, C)
        out = self.transformer(seq + self.pos)
        out_t = self.fc2(out.mean(dim=0))
        if not self.layer4_head:
            return self.fc(out_t)
        l4_o = torch.flatten(self.avg7(l4), start_dim=1)
        return self.fc(torch.cat((out_t, l4_o), dim=1))


# --------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------

def write_json(name, data):
    with open(os.path.join(OUT_DIR, name + ".expected.json"), "w") as f:
        json.dump(data, f, separators=(",", ":"))
        f.write("\n")


def export(model, name, input_shape, opset):
    model.eval()
    path = os.path.join(OUT_DIR, name + ".onnx")
    x = make_input(input_shape)
    xt = torch.from_numpy(x)
    with torch.no_grad():
        y = model(xt).numpy()
        torch.onnx.export(
            model, xt, path,
            export_params=True,
            opset_version=opset,
            do_constant_folding=True,
            input_names=["input"],
            output_names=["score"],
            dynamic_axes={"input": {0: "batch"}, "score": {0: "batch"}},
        )
    write_json(name, {
        "model": name + ".onnx",
        "input_name": "input",
        "output_name": "score",
        "input_shape": list(x.shape),
        "input_dtype": "float32",
        "input_recipe": "np.round(np.random.RandomState(0).rand(*input_shape), 3).astype(np.float32)",
        "input": f32_list(x),
        "output_shape": list(y.shape),
        "output_dtype": "float32",
        "output": f32_list(y),
        "reference": "PyTorch %s, float32, CPU, model.eval()" % torch.__version__,
    })
    return path


MODELS = [
    # name, builder, seed, input shape (N,C,H,W), opset, description, paper position
    ("resnet18_wrapped", lambda: WrappedResNetIQA(BasicBlock, [2, 2, 2, 2], 8), 1018, [1, 3, 96, 128], 13,
     "torchvision ResNet-18 topology (widths 8/16/32/64) held as `self.r` by an IQA module, `r.fc` = Linear(64,1); "
     "node names `/r/layer3/layer3.0/conv1/Conv`",
     "`--stage layer3` (after layer3, [32,6,8])"),
    ("resnet50_wrapped", lambda: WrappedResNetIQA(Bottleneck, [3, 4, 6, 3], 8), 1050, [1, 3, 96, 128], 13,
     "torchvision ResNet-50 topology (Bottleneck [3,4,6,3], widths 8/16/32/64, out 256) held as `self.r`, "
     "`r.fc` = Linear(256,1)",
     "`--stage layer3` (after layer3, [128,6,8])"),
    ("linearity_r50", lambda: LinearityIQA(6), 1001, [1, 3, 96, 128], 11,
     "Linearity-style: `features` = nn.Sequential of a ResNet-50's children (widths 6/12/24/48, out 192; layer3 = `features.6`, "
     "layer4 = `features.7`); GAP(features.6) and GAP(features.7) -> dr6/dr7 MLPs (Linear-BN1d x3, ReLU); "
     "`regression` on their concatenation is the score (regr6/regr7 are training-only heads, not exported)",
     "after layer3 = stage `features.6` ([96,6,8]); its output feeds the dr6 head and layer4"),
    ("koncept_irv2", lambda: KonCept512(8), 1002, [1, 3, 192, 256], 12,
     "KonCept512-style: `base` = nn.Sequential of an Inception-ResNet-v2's children (pretrainedmodels names, "
     "widths / 8, repeats 2/2/2 instead of 10/20/9): stem, mixed_5b, Block35 x2, mixed_6a, Block17 x2, mixed_7a, "
     "Block8 x2, block8 (no ReLU) = `base.13`, conv2d_7b = `base.14`, adaptive avg pool; view(N,-1) -> "
     "MLP head (Linear-ReLU-BN1d-Dropout x3, Linear -> 1)",
     "after block8 = the output of `base.13` ([260,4,6]), inside the last stage, before conv2d_7b"),
    ("dbcnn_vgg16_scnn", lambda: DBCNN(8, 4), 1003, [1, 3, 100, 132], 11,
     "DBCNN-style: `features1` = VGG-16 features without the last max-pool (widths / 8, conv5_3 = "
     "`features1.28`), `features2` = the S-CNN's 9 conv-BN-ReLU (widths / 4); the S-CNN map [32,7,9] is resized "
     "(bilinear, align_corners) to the VGG map's size [64,6,8]; bilinear pooling bmm(X1, X2^T)/(H*W) (MatMul), "
     "flatten, sqrt(x + 1e-8), L2 normalisation, fc Linear(2048,1). Input 100x132 so the two branches' sizes "
     "differ and the export has the Resize",
     "before conv5_3 = the input of `features1.28` (the ReLU output of conv5_2, [64,6,8])"),
    ("tres_r50_transformer", lambda: TReS(6), 1004, [1, 3, 192, 192], 13,
     "TReS-style: ResNet-50 trunk `model` (widths 6/12/24/48); each layer's output L2-normalised, L2-pooled "
     "(depthwise Hanning conv, stride 2) and average-pooled to 3x3, concatenated (360 ch), `projection` 1x1 conv "
     "to 64, flattened to 9 tokens + learned positional embedding, nn.TransformerEncoder (2 pre-norm layers, "
     "4 heads, ff 128); fc2(mean token) concatenated with GAP(layer4); fc -> score",
     "after layer3 = stage `layer3` ([96,12,12]); layer3's output also feeds the multi-scale tap"),
    ("tres_r18_taps_only", lambda: TReS(4, d_model=32, nhead=2, layers=1, ff=64, block=BasicBlock, blocks=(2, 2, 2, 2),
                                        layer4_head=False), 1005, [1, 3, 192, 192], 13,
     "TReS-style variant whose layers reach the score only through the multi-scale taps: ResNet-18 trunk `model` "
     "(widths 4/8/16/32), taps as in `tres_r50_transformer` (60 ch -> `projection` 32), one transformer layer "
     "(2 heads), fc(fc2(mean token)) -> score; no GAP(layer4) head, so no tensor after layer1 lies on every path",
     "after layer3 = stage `layer3` ([16,12,12])"),
]


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    only = set(sys.argv[1:])
    rows = []
    for name, build, seed, ishape, opset, desc, pos in MODELS:
        if only and name not in only:
            continue
        torch.manual_seed(seed)
        model = build()
        randomize_batchnorm_all(model, seed + 1)
        path = export(model, name, ishape, opset)
        onnx.checker.check_model(path)
        size = os.path.getsize(path)
        digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
        nodes = len(onnx.load(path).graph.node)
        print("%-24s %9d bytes  opset %d  %4d nodes  sha256 %s" % (name + ".onnx", size, opset, nodes, digest[:16]))
        rows.append((name, desc, ishape, opset, size, pos))
    if only:
        return 0

    with open(os.path.join(OUT_DIR, "README.md"), "w") as f:
        f.write("# Seed-style ONNX fixture models\n\n")
        f.write("Reduced-width PyTorch models in the style of the four IQA models the paper patches "
                "(Linearity, KonCept512, DBCNN, TReS) and torchvision ResNets wrapped in an IQA module, "
                "generated by `%s` (Debian python3-torch %s, python3-onnx %s). The modules are written from the "
                "architectures' descriptions with the published repositories' module names, so node names look "
                "like a real export's (`/features1/features1.28/Conv`, `/base/base.13/Add`, "
                "`/r/layer3/layer3.0/conv1/Conv`); no code of those repositories is copied. Random weights from "
                "fixed seeds (BatchNorm statistics randomised); the script is deterministic.\n\n"
                % (MAKE_CMD, torch.__version__, onnx.__version__))
        f.write("All models: exported in eval mode with `torch.onnx.export(..., do_constant_folding=True)`, "
                "input `input`, output `score` [batch,1], dynamic batch axis (H and W fixed at the export size). "
                "Each `<name>.expected.json` holds a deterministic batch-1 input (flattened, row-major), its "
                "shape, and PyTorch's output (ONNX Runtime agrees to ~1e-5 relative).\n\n")
        f.write("| file | what it is | input | opset | size (bytes) | the paper's position |\n")
        f.write("|---|---|---|---|---|---|\n")
        for name, desc, ishape, opset, size, pos in rows:
            f.write("| `%s.onnx` | %s | [batch,%s] | %d | %d | %s |\n"
                    % (name, desc, ",".join(str(v) for v in ishape[1:]), opset, size, pos))
        f.write("\nNotes (where the fixtures differ from the published models, and why):\n\n"
                "- Widths are reduced (see each row) and KonCept's repeated blocks cut to 2 each, to keep each "
                "file under 2 MB; the topology (branches, joins, module names, the paper's position) is kept.\n"
                "- DBCNN: `sqrt(x + 1e-8)` without a sign, as DBCNN-PyTorch writes it: the bilinear features are "
                "non-negative only because both branches end in ReLU, so a block spliced into a branch can make "
                "them negative (NaN).\n"
                "- KonCept512: `avgpool_1a` is adaptive (a fixed 8x8 average pool needs 299x299 inputs).\n"
                "- TReS: `F.normalize(l, dim=1)` is written as `l / l.norm(dim=1, keepdim=True).clamp_min(1e-12)` "
                "(the same function): F.normalize's Expand hides H and W from the exporter, and adaptive pooling "
                "to 3x3 needs them. Input 192x192 so that every pooled size divides evenly.\n"
                "- Linearity: the model returns only the `regression` score (the repository also returns the "
                "two per-layer scores during training).\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

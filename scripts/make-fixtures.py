#!/usr/bin/python3
"""Generate the small ONNX fixture models under fixtures/models/.

Run with Debian's python3 (python3-torch 1.13, python3-torchvision, python3-onnx 1.12):

    /usr/bin/python3 scripts/make-fixtures.py

Every model is exported the way real IQA models are exported
(model.eval(), torch.onnx.export, opset 13, do_constant_folding=True,
input name "input", output name "score", dynamic batch axis), but with
channel widths divided by 8 so the files stay small. Weights are random
from fixed seeds; the script is deterministic (same bytes on every run).

Beside each model a <name>.expected.json holds a deterministic batch-1
input (flattened, row-major) and PyTorch's output for it, so tests can
check that ONNX Runtime reproduces PyTorch within tolerance.
"""

import hashlib
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.resnet import BasicBlock, Bottleneck, conv1x1
from torchvision.models.vgg import make_layers

OPSET = 13
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "fixtures", "models")
MAKE_CMD = "/usr/bin/python3 scripts/make-fixtures.py"

torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------

class ResNet(nn.Module):
    """torchvision.models.resnet.ResNet reproduced with a configurable base
    width (torchvision hard-codes 64). Submodule names match torchvision
    (conv1, bn1, relu, maxpool, layer1..layer4, avgpool, fc), so the ONNX
    node names match a torchvision export (/layer1/layer1.0/conv1/Conv)."""

    def __init__(self, block, layers, base_width=8, num_outputs=1, head=True):
        super().__init__()
        self.inplanes = base_width
        self.dilation = 1
        self.groups = 1
        self.base_width = 64  # torchvision's width_per_group default
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, base_width, layers[0])
        self.layer2 = self._make_layer(block, base_width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(block, base_width * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(block, base_width * 8, layers[3], stride=2)
        self.feature_dim = base_width * 8 * block.expansion
        if head:
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(self.feature_dim, num_outputs)

        # torchvision's initialisation
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample, self.groups,
                        self.base_width, self.dilation, nn.BatchNorm2d)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups,
                                base_width=self.base_width, dilation=self.dilation,
                                norm_layer=nn.BatchNorm2d))
        return nn.Sequential(*layers)

    def stem(self, x):
        return self.maxpool(self.relu(self.bn1(self.conv1(x))))

    def forward(self, x):
        x = self.stem(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)


class ResNetStaticHead(ResNet):
    """ResNet-18 whose head flattens the layer4 map without pooling:
    flatten([64,2,2]) -> Linear(256,1). Only valid for 64x64 inputs."""

    def __init__(self, base_width=8, spatial=(2, 2)):
        super().__init__(BasicBlock, [2, 2, 2, 2], base_width, head=False)
        self.fc = nn.Linear(self.feature_dim * spatial[0] * spatial[1], 1)

    def forward(self, x):
        x = self.stem(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)
        x = torch.flatten(x, 1)
        return self.fc(x)


class VGGIQA(nn.Module):
    """torchvision VGG-16 (cfg "D") feature extractor, widths / 8, followed
    by an IQA head: AdaptiveAvgPool2d((1,1)) -> flatten -> Linear -> ReLU ->
    Linear(...,1). Names match torchvision (features.N, avgpool, classifier.N)."""

    CFG_D = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]

    def __init__(self, div=8, hidden=32):
        super().__init__()
        cfg = [v if v == "M" else v // div for v in self.CFG_D]
        self.features = make_layers(cfg, batch_norm=False)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Sequential(
            nn.Linear(512 // div, hidden),
            nn.ReLU(True),
            nn.Linear(hidden, 1),
        )
        # torchvision's VGG initialisation for the conv weights, but random
        # (not zero) biases: identical all-zero biases would be de-duplicated
        # by the exporter into shared initializers + Identity nodes, which a
        # trained model never shows. Linear layers keep PyTorch's default
        # init (torchvision's N(0, 0.01) would make the score ~1e-4).
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.normal_(m.bias, 0, 0.05)

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


class LinearityIQA(nn.Module):
    """Linearity-style IQA model: reduced ResNet-18 backbone; the globally
    average-pooled layer3 and layer4 features each feed a Linear->1 head and
    a final Linear(2,1) combines the two head outputs into the score."""

    def __init__(self, base_width=8):
        super().__init__()
        self.backbone = ResNet(BasicBlock, [2, 2, 2, 2], base_width, head=False)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.head3 = nn.Linear(base_width * 4, 1)
        self.head4 = nn.Linear(base_width * 8, 1)
        self.regressor = nn.Linear(2, 1)

    def forward(self, x):
        b = self.backbone
        x = b.stem(x)
        x = b.layer1(x)
        x = b.layer2(x)
        f3 = b.layer3(x)
        f4 = b.layer4(f3)
        s3 = self.head3(torch.flatten(self.avgpool(f3), 1))
        s4 = self.head4(torch.flatten(self.avgpool(f4), 1))
        return self.regressor(torch.cat([s3, s4], dim=1))


def randomize_batchnorm(model, seed):
    """Give every BatchNorm non-trivial affine parameters and running stats
    so that the BN folding done at export time is actually exercised."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(0.5 + torch.rand(n, generator=g))
                m.bias.copy_(0.2 * torch.randn(n, generator=g))
                m.running_mean.copy_(0.2 * torch.randn(n, generator=g))
                m.running_var.copy_(0.5 + torch.rand(n, generator=g))


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

def f32_list(a):
    """Flattened list of Python floats that round-trip exactly through
    float32 (shortest float32 repr, so JSON stays small)."""
    return [float(repr(v)) for v in np.asarray(a, dtype=np.float32).reshape(-1)]


def make_input(shape, seed=0):
    """Deterministic input: RandomState(seed).rand(*shape) rounded to 3
    decimals (keeps the JSON short), as float32."""
    return np.round(np.random.RandomState(seed).rand(*shape), 3).astype(np.float32)


def write_json(name, data):
    path = os.path.join(OUT_DIR, name + ".expected.json")
    with open(path, "w") as f:
        json.dump(data, f, separators=(",", ":"))
        f.write("\n")


def export(model, name, input_shape, dynamic=True):
    """Export the way real IQA models are exported and record PyTorch's
    output for a deterministic batch-1 input."""
    model.eval()
    path = os.path.join(OUT_DIR, name + ".onnx")
    x = make_input(input_shape)
    xt = torch.from_numpy(x)
    with torch.no_grad():
        y = model(xt).numpy()
    kwargs = {}
    if dynamic:
        kwargs["dynamic_axes"] = {"input": {0: "batch"}, "score": {0: "batch"}}
    torch.onnx.export(
        model, xt, path,
        export_params=True,
        opset_version=OPSET,
        do_constant_folding=True,
        input_names=["input"],
        output_names=["score"],
        **kwargs,
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
    return path, x, y


# --------------------------------------------------------------------------
# fp16 conversion (PyTorch 1.13 cannot run/export half models on CPU:
# "slow_conv2d_cpu" not implemented for 'Half')
# --------------------------------------------------------------------------

def convert_to_fp16(model):
    """Convert every float32 tensor, value type and Cast target of a model
    to float16 (what exporting model.half() with a half input would give)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph

    def conv_tensor(t):
        if t.data_type == TensorProto.FLOAT:
            arr = numpy_helper.to_array(t).astype(np.float16)
            nt = numpy_helper.from_array(arr, t.name)
            t.CopyFrom(nt)

    def conv_type(vi):
        tt = vi.type.tensor_type
        if tt.elem_type == TensorProto.FLOAT:
            tt.elem_type = TensorProto.FLOAT16

    def conv_graph(graph):
        for t in graph.initializer:
            conv_tensor(t)
        for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
            conv_type(vi)
        for node in graph.node:
            for a in node.attribute:
                if a.type == onnx.AttributeProto.TENSOR:
                    conv_tensor(a.t)
                elif a.type == onnx.AttributeProto.GRAPH:
                    conv_graph(a.g)
                elif a.type == onnx.AttributeProto.GRAPHS:
                    for sg in a.graphs:
                        conv_graph(sg)
                if node.op_type == "Cast" and a.name == "to" and a.i == TensorProto.FLOAT:
                    a.i = TensorProto.FLOAT16

    conv_graph(g)
    return m


# --------------------------------------------------------------------------
# QDQ model built with onnx.helper
# --------------------------------------------------------------------------

def quantize_np(x, scale, zp, qmin, qmax, axis=None):
    """ONNX QuantizeLinear semantics: saturate(round_half_even(x/scale)+zp)."""
    if axis is not None:
        shape = [1] * x.ndim
        shape[axis] = -1
        scale = np.reshape(scale, shape)
        zp = np.reshape(zp, shape)
    q = np.rint(x / scale) + zp
    return np.clip(q, qmin, qmax)


def build_qdq():
    """input[1,3,16,16] -> Q/DQ(u8) -> Conv(3->8,3x3,pad1) -> Q/DQ(u8)
    -> Relu -> Q/DQ(u8) -> Conv(8->4,3x3,pad1) -> Q/DQ(u8) -> score[1,4,16,16].
    Weights int8 symmetric per-output-channel (axis 0, 7-bit range), biases int32 with
    scale = x_scale * w_scale[c] (the ORT QDQ format)."""
    rs = np.random.RandomState(1234)
    shape = [1, 3, 16, 16]
    x = make_input(shape)
    w1 = (rs.randn(8, 3, 3, 3) * 0.3).astype(np.float32)
    b1 = (rs.randn(8) * 0.1).astype(np.float32)
    w2 = (rs.randn(4, 8, 3, 3) * 0.2).astype(np.float32)
    b2 = (rs.randn(4) * 0.1).astype(np.float32)

    # Weights use ORT's "reduce_range" (7-bit, [-63, 63]) inside int8: with
    # full-range int8 weights, ORT's fused QLinearConv on x86 AVX2 (U8S8,
    # vpmaddubsw) saturates int16 pair sums and diverges from the QDQ
    # semantics by many quanta.
    def wq(w):
        s = (np.abs(w).reshape(w.shape[0], -1).max(axis=1) / 63.0).astype(np.float32)
        q = quantize_np(w, s, np.zeros_like(s), -63, 63, axis=0).astype(np.int8)
        return q, s

    # fixed activation quantisation parameters (uint8)
    x_s, x_zp = np.float32(1.0 / 255.0), np.uint8(0)          # input in [0,1]
    c1_s, c1_zp = np.float32(4.0 / 255.0), np.uint8(128)      # conv1 out in ~[-2,2]
    r_s, r_zp = np.float32(2.0 / 255.0), np.uint8(0)          # relu out in [0,2]
    c2_s, c2_zp = np.float32(4.0 / 255.0), np.uint8(128)      # conv2 out in ~[-2,2]

    w1q, w1s = wq(w1)
    w2q, w2s = wq(w2)
    b1s = (x_s * w1s).astype(np.float32)
    b2s = (r_s * w2s).astype(np.float32)
    b1q = np.rint(b1 / b1s).astype(np.int32)
    b2q = np.rint(b2 / b2s).astype(np.int32)

    inits = [
        numpy_helper.from_array(np.array(x_s, np.float32), "input_scale"),
        numpy_helper.from_array(np.array(x_zp, np.uint8), "input_zero_point"),
        numpy_helper.from_array(w1q, "conv1.weight_quantized"),
        numpy_helper.from_array(w1s, "conv1.weight_scale"),
        numpy_helper.from_array(np.zeros(8, np.int8), "conv1.weight_zero_point"),
        numpy_helper.from_array(b1q, "conv1.bias_quantized"),
        numpy_helper.from_array(b1s, "conv1.bias_scale"),
        numpy_helper.from_array(np.zeros(8, np.int32), "conv1.bias_zero_point"),
        numpy_helper.from_array(np.array(c1_s, np.float32), "conv1_output_scale"),
        numpy_helper.from_array(np.array(c1_zp, np.uint8), "conv1_output_zero_point"),
        numpy_helper.from_array(np.array(r_s, np.float32), "relu_output_scale"),
        numpy_helper.from_array(np.array(r_zp, np.uint8), "relu_output_zero_point"),
        numpy_helper.from_array(w2q, "conv2.weight_quantized"),
        numpy_helper.from_array(w2s, "conv2.weight_scale"),
        numpy_helper.from_array(np.zeros(4, np.int8), "conv2.weight_zero_point"),
        numpy_helper.from_array(b2q, "conv2.bias_quantized"),
        numpy_helper.from_array(b2s, "conv2.bias_scale"),
        numpy_helper.from_array(np.zeros(4, np.int32), "conv2.bias_zero_point"),
        numpy_helper.from_array(np.array(c2_s, np.float32), "score_scale"),
        numpy_helper.from_array(np.array(c2_zp, np.uint8), "score_zero_point"),
    ]
    N = helper.make_node
    nodes = [
        N("QuantizeLinear", ["input", "input_scale", "input_zero_point"], ["input_quantized"], name="input_QuantizeLinear"),
        N("DequantizeLinear", ["input_quantized", "input_scale", "input_zero_point"], ["input_dequantized"], name="input_DequantizeLinear"),
        N("DequantizeLinear", ["conv1.weight_quantized", "conv1.weight_scale", "conv1.weight_zero_point"], ["conv1.weight"], name="conv1.weight_DequantizeLinear", axis=0),
        N("DequantizeLinear", ["conv1.bias_quantized", "conv1.bias_scale", "conv1.bias_zero_point"], ["conv1.bias"], name="conv1.bias_DequantizeLinear", axis=0),
        N("Conv", ["input_dequantized", "conv1.weight", "conv1.bias"], ["conv1_output"], name="/conv1/Conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]),
        N("QuantizeLinear", ["conv1_output", "conv1_output_scale", "conv1_output_zero_point"], ["conv1_output_quantized"], name="conv1_output_QuantizeLinear"),
        N("DequantizeLinear", ["conv1_output_quantized", "conv1_output_scale", "conv1_output_zero_point"], ["conv1_output_dequantized"], name="conv1_output_DequantizeLinear"),
        N("Relu", ["conv1_output_dequantized"], ["relu_output"], name="/relu/Relu"),
        N("QuantizeLinear", ["relu_output", "relu_output_scale", "relu_output_zero_point"], ["relu_output_quantized"], name="relu_output_QuantizeLinear"),
        N("DequantizeLinear", ["relu_output_quantized", "relu_output_scale", "relu_output_zero_point"], ["relu_output_dequantized"], name="relu_output_DequantizeLinear"),
        N("DequantizeLinear", ["conv2.weight_quantized", "conv2.weight_scale", "conv2.weight_zero_point"], ["conv2.weight"], name="conv2.weight_DequantizeLinear", axis=0),
        N("DequantizeLinear", ["conv2.bias_quantized", "conv2.bias_scale", "conv2.bias_zero_point"], ["conv2.bias"], name="conv2.bias_DequantizeLinear", axis=0),
        N("Conv", ["relu_output_dequantized", "conv2.weight", "conv2.bias"], ["conv2_output"], name="/conv2/Conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]),
        N("QuantizeLinear", ["conv2_output", "score_scale", "score_zero_point"], ["score_quantized"], name="score_QuantizeLinear"),
        N("DequantizeLinear", ["score_quantized", "score_scale", "score_zero_point"], ["score"], name="score_DequantizeLinear"),
    ]
    graph = helper.make_graph(
        nodes, "qdq_conv",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, [1, 4, 16, 16])],
        initializer=inits,
    )
    model = helper.make_model(graph, producer_name="iqa-surgeon make-fixtures.py",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 7  # same IR version torch 1.13 writes for opset 13

    # Reference: the QDQ graph evaluated in float64 with PyTorch conv2d
    # (exact ONNX QuantizeLinear/DequantizeLinear semantics).
    def qdq(t, s, zp):
        return (quantize_np(t, np.float64(s), np.float64(zp), 0, 255) - np.float64(zp)) * np.float64(s)

    def deq_w(q, s):
        return q.astype(np.float64) * s.astype(np.float64).reshape(-1, 1, 1, 1)

    def conv(a, w, b):
        return F.conv2d(torch.from_numpy(a), torch.from_numpy(w), torch.from_numpy(b), padding=1).numpy()

    a = qdq(x.astype(np.float64), x_s, x_zp)
    a = conv(a, deq_w(w1q, w1s), b1q.astype(np.float64) * b1s.astype(np.float64))
    a = qdq(a, c1_s, c1_zp)
    a = np.maximum(a, 0.0)
    a = qdq(a, r_s, r_zp)
    a = conv(a, deq_w(w2q, w2s), b2q.astype(np.float64) * b2s.astype(np.float64))
    y = qdq(a, c2_s, c2_zp).astype(np.float32)

    path = os.path.join(OUT_DIR, "qdq_conv.onnx")
    onnx.save(model, path)
    write_json("qdq_conv", {
        "model": "qdq_conv.onnx",
        "input_name": "input",
        "output_name": "score",
        "input_shape": shape,
        "input_dtype": "float32",
        "input_recipe": "np.round(np.random.RandomState(0).rand(*input_shape), 3).astype(np.float32)",
        "input": f32_list(x),
        "output_shape": list(y.shape),
        "output_dtype": "float32",
        "output": f32_list(y),
        "output_quantum": float(c2_s),
        "reference": "the QDQ graph evaluated in float64 with exact ONNX QuantizeLinear/DequantizeLinear "
                     "semantics (round half to even, saturate) and torch.nn.functional.conv2d (PyTorch %s)" % torch.__version__,
        "note": "ONNX Runtime (graph optimization level 'extended' or 'all') fuses the QDQ pattern into integer "
                "QLinearConv kernels whose requantisation rounding can differ from this float reference; compare "
                "with a tolerance of one output quantum (output_quantum = score_scale). Weights are int8 with "
                "reduce_range (values in [-63, 63]) so the x86 AVX2 U8S8 kernels do not saturate.",
    })
    return path


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

FIXTURES = []  # (file, description, input shape, dynamic)


def main():
    os.makedirs(OUT_DIR, exist_ok=True)

    # 1. ResNet-18 IQA
    torch.manual_seed(18)
    r18 = ResNet(BasicBlock, [2, 2, 2, 2], base_width=8)
    randomize_batchnorm(r18, 118)
    _, x18, y18 = export(r18, "resnet18_iqa", [1, 3, 64, 64])
    FIXTURES.append(("resnet18_iqa.onnx",
                     "torchvision ResNet-18 topology (BasicBlock [2,2,2,2]), widths 8/16/32/64; "
                     "IQA head avgpool -> flatten -> fc Linear(64,1)", "[batch,3,64,64]"))

    # 2. ResNet-50 IQA
    torch.manual_seed(50)
    r50 = ResNet(Bottleneck, [3, 4, 6, 3], base_width=8)
    randomize_batchnorm(r50, 150)
    export(r50, "resnet50_iqa", [1, 3, 64, 64])
    FIXTURES.append(("resnet50_iqa.onnx",
                     "torchvision ResNet-50 topology (Bottleneck [3,4,6,3], expansion 4), widths 8/16/32/64 "
                     "(out 256); IQA head avgpool -> flatten -> fc Linear(256,1)", "[batch,3,64,64]"))

    # 3. VGG-16 IQA
    torch.manual_seed(16)
    vgg = VGGIQA(div=8, hidden=32)
    export(vgg, "vgg16_iqa", [1, 3, 64, 64])
    FIXTURES.append(("vgg16_iqa.onnx",
                     "torchvision VGG-16 features (cfg D, widths 8/16/32/64/64); IQA head "
                     "AdaptiveAvgPool2d(1) -> flatten -> Linear(64,32) -> ReLU -> Linear(32,1)", "[batch,3,64,64]"))

    # 4. Linearity-style IQA
    torch.manual_seed(4)
    lin = LinearityIQA(base_width=8)
    randomize_batchnorm(lin, 104)
    export(lin, "linearity_iqa", [1, 3, 64, 96])
    FIXTURES.append(("linearity_iqa.onnx",
                     "Linearity-style: reduced ResNet-18 backbone; GAP(layer3)->Linear(32,1) and "
                     "GAP(layer4)->Linear(64,1), concatenated -> Linear(2,1)", "[batch,3,64,96]"))

    # 5. ResNet-18 with spatial-size-dependent head, static shapes
    torch.manual_seed(5)
    rst = ResNetStaticHead(base_width=8)
    randomize_batchnorm(rst, 105)
    export(rst, "resnet18_iqa_static", [1, 3, 64, 64], dynamic=False)
    FIXTURES.append(("resnet18_iqa_static.onnx",
                     "ResNet-18 (widths /8) without global pooling: flatten(layer4 [64,2,2]) -> "
                     "fc Linear(256,1); no dynamic axes", "[1,3,64,64]"))

    # 6. fp16 version of model 1 (converted in ONNX, see convert_to_fp16)
    m32 = onnx.load(os.path.join(OUT_DIR, "resnet18_iqa.onnx"))
    m16 = convert_to_fp16(m32)
    onnx.save(m16, os.path.join(OUT_DIR, "resnet18_iqa_fp16.onnx"))
    x16 = x18.astype(np.float16)
    with torch.no_grad():
        y16ref = r18.eval()(torch.from_numpy(x16.astype(np.float32))).numpy()
    write_json("resnet18_iqa_fp16", {
        "model": "resnet18_iqa_fp16.onnx",
        "input_name": "input",
        "output_name": "score",
        "input_shape": list(x16.shape),
        "input_dtype": "float16",
        "input_recipe": "resnet18_iqa input cast to float16",
        "input": [float(v) for v in x16.reshape(-1)],
        "output_shape": list(y16ref.shape),
        "output_dtype": "float16",
        "output": f32_list(y16ref),
        "reference": "PyTorch %s float32 resnet18_iqa model on the float16-rounded input" % torch.__version__,
        "note": "PyTorch 1.13 cannot run or export half-precision models on CPU ('slow_conv2d_cpu' not "
                "implemented for 'Half'), so the model is resnet18_iqa.onnx with every float32 tensor, "
                "value type and Cast target converted to float16 using the onnx API. The expected output is "
                "the float32 PyTorch output for the same (float16-exact) input; an fp16 runtime will differ "
                "by fp16 rounding (use a relative tolerance of about 1e-2).",
    })
    FIXTURES.append(("resnet18_iqa_fp16.onnx",
                     "resnet18_iqa converted to float16 (all initializers, inputs, outputs, value types) "
                     "with the onnx API", "[batch,3,64,64] float16"))

    # 7. QDQ model
    build_qdq()
    FIXTURES.append(("qdq_conv.onnx",
                     "QDQ-quantized Conv(3->8) -> Relu -> Conv(8->4), uint8 activations, int8 per-channel "
                     "weights, int32 biases; built with onnx.helper", "[1,3,16,16]"))

    # Check and summarise
    rows = []
    total = 0
    for fname, desc, ishape in FIXTURES:
        path = os.path.join(OUT_DIR, fname)
        onnx.checker.check_model(path)
        m = onnx.load(path)
        opset = [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")][0]
        size = os.path.getsize(path)
        total += size
        digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
        print("%-28s %9d bytes  opset %d  checker OK  sha256 %s" % (fname, size, opset, digest[:16]))
        rows.append((fname, desc, ishape, opset, size))
    print("total %d bytes" % total)

    with open(os.path.join(OUT_DIR, "README.md"), "w") as f:
        f.write("# ONNX fixture models\n\n")
        f.write("Generated by `%s` (Debian python3-torch %s, python3-onnx %s). "
                "Random weights from fixed seeds; the script is deterministic. "
                "Widths are torchvision's divided by 8 to keep the files small. "
                "All models: input `input`, output `score`; exported with "
                "`torch.onnx.export(..., opset_version=13, do_constant_folding=True)` "
                "in eval mode (BatchNorm is folded into Conv), dynamic batch axis "
                "unless stated otherwise.\n\n" % (MAKE_CMD, torch.__version__, onnx.__version__))
        f.write("Each `<name>.expected.json` holds a deterministic batch-1 input (flattened, "
                "row-major), its shape, and the reference output and output shape.\n\n")
        f.write("| file | what it is | input shape | opset | size (bytes) | made by |\n")
        f.write("|---|---|---|---|---|---|\n")
        for fname, desc, ishape, opset, size in rows:
            f.write("| `%s` | %s | %s | %d | %d | `%s` |\n" % (fname, desc, ishape, opset, size, MAKE_CMD))
        f.write("\nNotes:\n\n"
                "- Float32 models: the expected output is PyTorch's; ONNX Runtime should agree to ~1e-5 relative.\n"
                "- `resnet18_iqa_fp16`: PyTorch 1.13 cannot run half models on CPU, so the float32 export was "
                "converted with the onnx API; the expected output is the float32 PyTorch output for the "
                "fp16-exact input (compare with ~1e-2 relative tolerance).\n"
                "- `qdq_conv`: the expected output is the QDQ graph evaluated exactly in float64; weights use a "
                "7-bit range ([-63, 63]) so ONNX Runtime's fused x86 AVX2 U8S8 kernels do not saturate. "
                "Compare within one output quantum (`output_quantum` in the JSON).\n"
                "- `resnet18_iqa_static` has a fixed batch of 1 and only accepts 64x64 inputs.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""netdefs/analysis/fusion.py (fusions predicted from the documented rules, weights, FLOPs), tools/inspect_engine.py and
tools/build.py --report."""
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import reftrt as trt
from netdefs.analysis import fusion

ROOT = Path(__file__).resolve().parents[2]


def run(tool, *args):
    return subprocess.run([sys.executable, str(ROOT / "tools" / tool), *map(str, args)], capture_output=True,
                          text=True, timeout=600, cwd=ROOT)


class Network:
    """A reftrt network and the weight arrays it reads (kept alive until it is analysed)."""

    def __init__(self):
        self.network = trt.Builder(trt.Logger(trt.Logger.ERROR)).create_network()
        self.keep = []
        self.rng = np.random.default_rng(0)

    def __getattr__(self, name):
        return getattr(self.network, name)

    def w(self, *shape):
        a = self.rng.standard_normal(shape).astype(np.float32)
        self.keep.append(a)
        return a


def network():
    return Network()


def named(layer, name):
    layer.name = name
    layer.get_output(0).name = name
    return layer.get_output(0)


def conv(n, x, name, c_out, k=3, c_in=None):
    c_in = c_in or x.shape[1]
    layer = n.add_convolution_nd(x, c_out, (k, k), n.w(c_out, c_in, k, k), n.w(c_out))
    layer.padding_nd = (k // 2, k // 2)
    return named(layer, name)


def bn(n, x, name):
    c = x.shape[1]
    return named(n.add_scale(x, trt.ScaleMode.CHANNEL, n.w(c), n.w(c), trt.Weights(trt.float32)), name)


def groups_of(n, trt_version=fusion.DEFAULT_TRT_VERSION):
    s = fusion.analyse(trt, n.network, trt_version)
    return s, {tuple(lay.name for lay in g.layers): g.rule for g in s.groups}


def test_resnet_block_conv_bn_relu_and_conv_bn_add_relu():
    n = network()
    x = n.add_input("x", trt.float32, (1, 8, 6, 6))
    y = conv(n, x, "conv1", 8)
    y = bn(n, y, "bn1")
    y = named(n.add_activation(y, trt.ActivationType.RELU), "relu1")
    y = conv(n, y, "conv2", 8)
    y = bn(n, y, "bn2")
    y = named(n.add_elementwise(y, x, trt.ElementWiseOperation.SUM), "add")
    y = named(n.add_activation(y, trt.ActivationType.RELU), "out")
    n.mark_output(y)
    s, groups = groups_of(n)
    assert groups == {("conv1", "bn1", "relu1"): "conv_scale_act", ("conv2", "bn2", "add", "out"): "conv_eltwise"}
    assert s.num_layers == 7 and s.kernels == 2
    assert s.weights == 2 * (8 * 8 * 9 + 8) + 2 * 16
    # FLOPs: each convolution 2 · (8·6·6 outputs) · (8 inputs · 9 taps); scale, add, relu: one per element
    assert s.flops == 2 * (2 * 288 * 72) + 288 * 5


def test_silu_is_a_pointwise_chain_and_a_shared_tensor_stops_conv_fusion():
    n = network()
    x = n.add_input("x", trt.float32, (1, 4, 5, 5))
    y = bn(n, conv(n, x, "cv.conv", 4), "cv.bn")
    s_ = named(n.add_activation(y, trt.ActivationType.SIGMOID), "cv.act.sigmoid")
    y = named(n.add_elementwise(y, s_, trt.ElementWiseOperation.PROD), "cv.act")
    y = named(n.add_elementwise(x, y, trt.ElementWiseOperation.SUM), "add")
    n.mark_output(y)
    _, groups = groups_of(n)
    # bn's output feeds both SiLU layers: the activation cannot join the convolution (one consumer only)
    assert groups == {("cv.conv", "cv.bn"): "conv_scale", ("cv.act.sigmoid", "cv.act", "add"): "pointwise"}


def test_pointwise_join_never_makes_a_cycle():
    """a → conv → b and a → b: joining a and b would need the convolution inside their kernel. (b is a product:
    a sum would join the convolution as Convolution + ElementWise.)"""
    n = network()
    x = n.add_input("x", trt.float32, (1, 4, 5, 5))
    a = named(n.add_activation(x, trt.ActivationType.SIGMOID), "a")
    c = conv(n, a, "conv", 4)
    b = named(n.add_elementwise(a, c, trt.ElementWiseOperation.PROD), "b")
    n.mark_output(b)
    _, groups = groups_of(n)
    assert groups == {("a",): "pointwise", ("conv",): "single", ("b",): "pointwise"}


def test_padding_conv_shuffles_softmax_topk_and_reduce():
    n = network()
    x = n.add_input("x", trt.float32, (1, 4, 6, 6))
    p = n.add_padding_nd(x, (1, 1), (1, 1))
    y = conv(n, named(p, "pad"), "conv", 4, k=3)
    s1 = n.add_shuffle(y)
    s1.first_transpose = (0, 2, 3, 1)
    s2 = n.add_shuffle(named(s1, "perm"))
    s2.reshape_dims = (1, -1, 4)
    y = named(s2, "flat")
    sm = n.add_softmax(y)
    sm.axes = 1 << 2
    t = n.add_topk(named(sm, "softmax"), trt.TopKOperation.MAX, 2, 1 << 2)
    named(t, "topk")
    n.mark_output(t.get_output(0))
    r = n.add_reduce(x, trt.ReduceOperation.AVG, 0b1100, True)
    n.mark_output(named(r, "gap"))
    _, groups = groups_of(n, "8")
    assert groups == {("pad", "conv"): "padding_conv", ("perm", "flat"): "shuffle_shuffle",
                      ("softmax", "topk"): "softmax_topk", ("gap",): "reduce_pool"}
    # TensorRT 10 (Myelin) splits the softmax; the second kernel takes the TopK (mnist-h100-trt10.16 listing)
    s, _ = groups_of(n, "10")
    assert [(g.rule, [m.name for m in g.layers]) for g in s.groups if "softmax" in g.rule] == [
        ("softmax_part1", ["softmax"]), ("softmax_part2", ["softmax", "topk"])]


def test_int8_qdq_fuse_into_the_convolution_and_its_producer():
    """relu → Q → DQ → conv (weights: constant → Q → DQ into input 1) → bn: the activation Q joins the relu kernel
    (fuse with non-weighted node), the input DQ joins the convolution (fuse with weighted node), the weights'
    Q/DQ is folded at build time."""
    n = network()
    x = n.add_input("x", trt.float32, (1, 4, 6, 6))
    r = named(n.add_activation(x, trt.ActivationType.RELU), "relu")

    def const(name, a):
        return named(n.add_constant(a.shape, a), name)

    def qdq(t, name, scale, axis=None):
        s_ = const(f"{name}.scale", scale)
        q = n.add_quantize(t, s_, trt.int8)
        dq = n.add_dequantize(named(q, f"{name}.quantize"), s_, trt.float32)
        if axis is not None:
            q.axis = dq.axis = axis
        return named(dq, f"{name}.dequantize")

    a = qdq(r, "conv.input_quantizer", np.array(0.02, np.float32))
    w = const("conv.weight", n.w(8, 4, 3, 3))
    k = qdq(w, "conv.weight_quantizer", np.full(8, 0.01, np.float32), axis=0)
    layer = n.add_convolution_nd(a, 8, (3, 3), trt.Weights(trt.float32), n.w(8))
    layer.set_input(1, k)
    y = bn(n, named(layer, "conv"), "bn")
    n.mark_output(y)
    s, groups = groups_of(n)
    assert groups[("relu", "conv.input_quantizer.quantize")] == "pointwise"
    assert groups[("conv.input_quantizer.dequantize", "conv", "bn")] == "conv_scale"
    assert groups[("conv.weight_quantizer.quantize", "conv.weight_quantizer.dequantize")] == "qdq_weights"
    assert s.kernels == 2
    text = fusion.text_report(s, "int8")
    assert "Convolution + Scale (INT8)" in text and "fuse with weighted node" in text
    assert "fuse with non-weighted node" in text


@pytest.mark.parametrize("model", ["yolov5n", "yolov5n-seg", "resnet18", "unet-resnet18"])
def test_every_layer_in_exactly_one_group_for_zoo_models(model):
    import netdefs as engine
    from netdefs.runtime.demo import DemoWeights
    d = engine.define(model, DemoWeights(), backend="reference", quiet=True, imgsz=64)
    s = fusion.analyse(d.trt, d.network)
    names = [lay.name for g in s.groups for lay in g.layers]
    assert sorted(names) == sorted(d.network.get_layer(i).name for i in range(d.network.num_layers))
    assert s.kernels == sum(g.rule not in fusion.NO_KERNEL for g in s.groups) < s.num_layers
    # weights: every parameter the netdef read (BN folds 4 tensors into 2 per channel, so compare conv kernels)
    convs = [lay for lay in s.layers if lay.type == "CONVOLUTION"]
    assert sum(lay.attrs["maps"] for lay in convs) > 0 and s.flops > sum(lay.flops for lay in convs) > 0


def test_inspect_model_writes_table_svg_and_json(tmp_path):
    svg, js = tmp_path / "y.svg", tmp_path / "y.json"
    r = run("inspect_engine.py", "yolov5n", "--imgsz", 64, "--svg", svg, "--json", js, "--layers")
    assert r.returncode == 0, r.stderr
    data = json.loads(js.read_text())
    assert f"layers defined: {data['layers_defined']}   predicted kernels: {data['predicted_kernels']}" in r.stdout
    assert "PREDICTED" in r.stdout and "catalog: Convolution and Scale" in r.stdout
    assert "model.4.m.0.cv2.conv [convolution], model.4.m.0.cv2.bn [scale]" in r.stdout
    root = ET.parse(svg).getroot()
    fills = {e.get("fill") for e in root.iter("{http://www.w3.org/2000/svg}rect")}
    assert fusion.COLOURS["conv_scale"] in fills and fusion.COLOURS["pointwise"] in fills
    titles = [e.text for e in root.iter("{http://www.w3.org/2000/svg}title")]
    assert any("model.0.conv [convolution]" in t for t in titles)


def test_build_report_and_inspect_engine(tmp_path):
    engine = tmp_path / "r18.engine"
    r = run("build.py", "resnet18", "--imgsz", 64, "-o", engine, "--report", "--backend", "reference")
    assert r.returncode == 0, r.stderr
    text = Path(f"{engine}.report.txt").read_text()
    assert "PREDICTED fusions" in text and "engine layers (73" in text and "layer1.0.conv2 [convolution]" in text
    # the engine's layers aligned with the prediction, by name (reftrt: one engine layer per netdef layer)
    assert "reftrt does not fuse: real engine vs PREDICTED fusions" in text and "aligned by name" in text
    assert "predicted:   [Convolution + Scale + Act.] conv1 + bn1 + relu" in text
    ET.parse(f"{engine}.report.svg")
    r = run("inspect_engine.py", engine)
    assert r.returncode == 0, r.stderr
    assert "73 layers in the engine" in r.stdout and "Row major linear FLOAT" in r.stdout
    assert "resnet18 (from r18.engine.json): PREDICTED" in r.stdout
    assert "r18.engine: real engine vs PREDICTED fusions" in r.stdout and "matched 3/70 real kernels" in r.stdout


def test_inspect_bad_target():
    r = run("inspect_engine.py", "nosuch.engine")
    assert r.returncode == 2 and "nosuch.engine: no such engine file" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("model, weights_enum", [("resnet18", "ResNet18_Weights"), ("resnet50", "ResNet50_Weights"),
                                                 ("mobilenet_v2", "MobileNet_V2_Weights"),
                                                 ("mobilenet_v3_small", "MobileNet_V3_Small_Weights")])
def test_flops_agree_with_torchvisions_published_operation_counts(model, weights_enum):
    """torchvision publishes GFLOPS (multiply-adds of convolutions and linear layers, 224x224) per model; ours
    count a multiply-add as 2 FLOPs."""
    torchvision = pytest.importorskip("torchvision")
    import netdefs as engine
    from netdefs.runtime.demo import DemoWeights
    d = engine.define(model, DemoWeights(), backend="reference", quiet=True)
    s = fusion.analyse(d.trt, d.network)
    macs = sum(lay.flops for lay in s.layers if lay.type in ("CONVOLUTION", "MATRIX_MULTIPLY")) / 2e9
    published = getattr(torchvision.models, weights_enum).IMAGENET1K_V1.meta["_ops"]
    assert round(macs, 3) == pytest.approx(published, abs=0.0011)


def test_inspect_int8_engine_predicts_the_qdq_fusions(tmp_path):
    yolov5 = pytest.importorskip("yolov5")
    bus = Path(yolov5.__file__).parent / "data" / "images" / "bus.jpg"
    engine = tmp_path / "r18-int8.engine"
    r = run("build.py", "resnet18", "--imgsz", 32, "-o", engine, "--backend", "reference", "--precision", "int8",
            "--calib", bus, "--calib-method", "max", "--fallback", "layer4.*=fp16", "--quiet")
    assert r.returncode == 0, r.stderr
    r = run("inspect_engine.py", engine)
    assert r.returncode == 0, r.stderr
    assert "r18-int8.engine.json): PREDICTED" in r.stdout
    assert "Convolution + Scale + Act. (INT8)" in r.stdout and "fuse with weighted node" in r.stdout
    # the engine's fallback is honoured: layer4 runs in fp16, without quantizers
    assert "layer3.1.conv2.input_quantizer.dequantize" in r.stdout
    assert "layer4.0.conv1.input_quantizer" not in r.stdout
    r = run("inspect_engine.py", "resnet18", "--precision", "int8", "--imgsz", 32)
    assert r.returncode == 0 and "layer4.0.conv1.input_quantizer.dequantize [dequantize]" in r.stdout

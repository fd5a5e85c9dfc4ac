"""tools/onnx_route.py and its table of TensorRT ONNX-parser behaviours (netdefs/analysis/onnx_route.py): every
known behaviour on hand-made ONNX graphs (onnx.helper), both exporters on a one-op module, the tool on rtdetr-l, and
why the project builds RT-DETR by hand: a grid_sample network equals PyTorch where the nearest sampling the parser
falls back to does not."""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")
from onnx import TensorProto, helper  # noqa: E402

from netdefs.analysis.onnx_route import KNOWN, check, findings  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def graph(nodes, opset, inputs=("x", "g"), functions=()):
    """A model of `nodes` on float inputs of unknown shape (the checks read attributes only)."""
    ins = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in inputs]
    out = [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, None)]
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(f.domain, 1) for f in functions]
    return helper.make_model(helper.make_graph(nodes, "g", ins, out), opset_imports=opsets, functions=list(functions))


def keys(model):
    return [(f.key, f.detail) for f in findings(model)]


@pytest.mark.parametrize("opset,mode,flagged", [
    (20, "linear", True), (20, "cubic", True), (20, None, True),  # opset 20's default mode is "linear"
    (20, "nearest", False), (16, "bilinear", False), (16, None, False), (16, "bicubic", False)])
def test_gridsample_modes(opset, mode, flagged):
    attrs = {} if mode is None else {"mode": mode}
    model = graph([helper.make_node("GridSample", ["x", "g"], ["y"], name="gs", **attrs)], opset)
    found = keys(model)
    assert (found == [("gridsample-linear", f'mode "{mode or "linear"}"')]) if flagged else found == []


def test_resize_antialias_dft_deformconv_and_custom_ops():
    resize = helper.make_node("Resize", ["x", "", "g"], ["r"], mode="linear", antialias=1)
    plain = helper.make_node("Resize", ["r", "", "g"], ["p"], mode="linear")
    dft = helper.make_node("DFT", ["p"], ["d"])
    deform = helper.make_node("DeformConv", ["d", "g", "g"], ["c"], pads=[1, 1, 2, 2])
    custom = helper.make_node("deform_conv2d", ["c"], ["y"], domain="torchvision")
    found = keys(graph([resize, plain, dft, deform, custom], 20))
    assert found == [("resize-antialias", 'antialias=1, mode "linear"'), ("dft", ""),
                     ("deformconv", "pads [1, 1, 2, 2] (asymmetric)"), ("custom-domain", "")]
    for key, _ in found:
        b = KNOWN[key]
        assert b.source and b.versions and b.effect  # every behaviour says where it is from and when it applies


def test_model_local_functions_are_searched_not_flagged():
    inner = helper.make_node("GridSample", ["a", "b"], ["c"], mode="linear")
    fn = helper.make_function("pkg", "Sampler", ["a", "b"], ["c"], [inner], [helper.make_opsetid("", 20)])
    call = helper.make_node("Sampler", ["x", "g"], ["y"], domain="pkg")
    assert [k for k, _ in keys(graph([call], 20, functions=[fn]))] == ["gridsample-linear"]


class Sampler(torch.nn.Module):
    def forward(self, x):
        grid = torch.tanh(x[:, :2].permute(0, 2, 3, 1))
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def test_both_exporters_on_grid_sample():
    """With torch 2.14 both exporters default to opset 20 and write mode "linear" (flagged); at opset 17 they write
    "bilinear", which the parser imports right (clean). onnxruntime matches PyTorch every time: the ONNX model is
    right, the parser is what goes wrong."""
    x = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    for route in check(Sampler().eval(), x):
        assert route.opset >= 20 and route.ort < 1e-5, route
        assert [f.key for f in route.findings] == ["gridsample-linear"], route
        assert route.verdict == "TensorRT: silently wrong"
    for route in check(Sampler().eval(), x, opset=17):
        assert route.opset == 17 and route.ort < 1e-5 and route.findings == [] and route.verdict == "clean", route


def test_grid_sample_netdef_equals_pytorch_where_nearest_does_not():
    """A one-layer network through ops.grid_sample (IGridSampleLayer LINEAR / FILL / align_corners False) on reftrt
    equals F.grid_sample(bilinear); the same layer in NEAREST mode, what the parser builds from mode "linear",
    is off by a large fraction of the signal."""
    import reftrt as trt
    from netdefs import Engine
    from netdefs.layers.net import Net
    from netdefs.layers.ops import grid_sample
    from weights import WeightStore

    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 6, 7)).astype(np.float32)
    g = rng.uniform(-1.1, 1.1, (2, 5, 3, 2)).astype(np.float32)  # some points outside: zeros padding matters
    ref = F.grid_sample(torch.from_numpy(x), torch.from_numpy(g), mode="bilinear", padding_mode="zeros",
                        align_corners=False).numpy()

    def run(mode):
        builder = trt.Builder(trt.Logger(trt.Logger.ERROR))
        network = builder.create_network(0)
        net = Net(trt, network, WeightStore({}), "fp32")
        y = grid_sample(net, net.input("x", x.shape), net.input("g", g.shape), "sample", mode=mode)
        net.output(y, "y")
        plan = builder.build_serialized_network(network, builder.create_builder_config())
        return Engine(plan, {}, "reference", trt=trt)({"x": x, "g": g})["y"]

    scale = np.abs(ref).max()
    assert np.abs(run("bilinear") - ref).max() / scale < 1e-6
    assert np.abs(run("nearest") - ref).max() / scale > 0.1


def test_tool_reports_the_gridsample_finding_for_rtdetr_l():
    """tools/onnx_route.py rtdetr-l (160x160, ~1 min): the default exporter's 18 GridSample nodes (6 decoder layers x 3
    levels) are flagged, with their source."""
    pytest.importorskip("ultralytics")
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, YOLO_OFFLINE="1", YOLO_CONFIG_DIR=tmp)
        out = Path(tmp) / "r.json"
        p = subprocess.run([sys.executable, str(ROOT / "tools" / "onnx_route.py"), "rtdetr-l", "--imgsz", "160",
                            "--json", str(out)], capture_output=True, text=True, timeout=900, cwd=ROOT, env=env)
        assert p.returncode == 1, p.stderr[-2000:]
        doc = json.loads(out.read_text())
    dynamo, legacy = doc["routes"]
    assert dynamo["exporter"] == "dynamo" and dynamo["verdict"] == "TensorRT: silently wrong"
    grid = [f for f in dynamo["findings"] if f["key"] == "gridsample-linear"]
    assert len(grid) == 18 and "NVIDIA/TensorRT#4646" in grid[0]["source"]
    assert dynamo["onnxruntime_rel_err"] < 1e-4
    assert legacy["verdict"] in ("TensorRT: silently wrong", "export fails")  # opset 20 too with torch 2.14
    assert "GridSample" in p.stdout and "NVIDIA/TensorRT#4646" in p.stdout


def test_tool_refuses_an_unknown_model_in_one_line():
    p = subprocess.run([sys.executable, str(ROOT / "tools" / "onnx_route.py"), "yolov9000"], capture_output=True,
                       text=True, timeout=120, cwd=ROOT)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "unknown model" in p.stderr, p.stderr

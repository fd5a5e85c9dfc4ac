"""The fusion prediction held against real TensorRT engines (shared/real_engines/): every listing aligned with its
netdef, the match figures, and the alignments that show the rules."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

import reftrt as trt
from netdefs.analysis import fusion
from netdefs.analysis import real_engines
from tests.fusion import mnist_net

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT / "tests" / "data" / "real_engines"  # copied from shared/real_engines/, as the Cookbook logs are

# listing -> (precision, fallback): the QAT listing has no residual quantizers, which 'layer?.?=fp16' removes
RESNET = {"fp32": ("fp32", []), "fp16": ("fp16", []), "qat": ("int8", ["layer?.?=fp16"]),
          "qat-residual": ("int8", [])}


def _inspect_tool():
    import importlib.util
    sys.path.append(str(ROOT / "tools"))
    spec = importlib.util.spec_from_file_location("inspect_tool", ROOT / "tools" / "inspect_engine.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def resnet18_alignment(name):
    precision, fallback = RESNET[name]
    tool = _inspect_tool()
    d = tool.define("resnet18", None, {}, precision, "reference", {"fallback": fallback})
    layers = real_engines.read_layers(REAL / f"resnet18-a100-{name}.graph.json")
    summary = fusion.analyse(d.trt, d.network, real_engines.trt_version_of(layers))
    times = real_engines.read_profile(REAL / f"resnet18-a100-{name}.profile.json")
    return real_engines.align(layers, summary, times)


def mnist_alignment():
    net = mnist_net.define(trt)
    layers = real_engines.read_layers(REAL / "mnist-h100-trt10.16-fp16.inspector.log")
    summary = fusion.analyse(trt, net.network, real_engines.trt_version_of(layers))
    return real_engines.align(layers, summary)


def rows_by_real(al):
    return {r.real.name: r for r in al.rows}


def covers(row):
    return [lay.name for lay in row.covered]


@pytest.fixture(scope="module")
def alignments():
    out = {name: resnet18_alignment(name) for name in RESNET}
    out["mnist"] = mnist_alignment()
    return out


@pytest.mark.parametrize("name", list(RESNET) + ["mnist"])
def test_match_figures(alignments, name):
    """Acceptance: at least 95% of the real compute kernels matched exactly, the kernel count within 1."""
    al = alignments[name]
    assert al.compute > 0 and al.matched / al.compute >= 0.95, real_engines.text(al, name)
    assert abs(al.summary.kernels - al.compute) <= 1
    assert al.mode == "by structure"


def test_resnet18_fp32_residual_add_joins_the_shortcut_and_gemm_is_one_kernel(alignments):
    al = alignments["fp32"]
    assert al.trt_version == "8" and (al.matched, al.compute, al.summary.kernels) == (23, 23, 23)
    rows = rows_by_real(al)
    assert covers(rows["Conv_16 + Add_17 + Relu_18"]) == [
        "layer2.0.downsample.0", "layer2.0.downsample.1", "layer2.0.add", "layer2.0"]
    assert rows["Conv_16 + Add_17 + Relu_18"].verdict == "agree"
    assert covers(rows["Conv_15"]) == ["layer2.0.conv2", "layer2.0.bn2"] and rows["Conv_15"].verdict == "agree"
    assert covers(rows["Conv_5 + Add_6 + Relu_7"]) == ["layer1.0.conv2", "layer1.0.bn2", "layer1.0.add", "layer1.0"]
    gemm = rows["Gemm_48"]
    assert gemm.verdict == "agree" and gemm.groups[0].rule == "gemm_bias"
    assert {"fc.matmul", "fc"} <= set(covers(gemm))
    # copies and no-ops are counted apart, with their time
    assert rows["Reformatting CopyNode for Output Tensor 0 to MaxPool_2"].kind == "reformat"
    assert rows["reshape_after_Gemm_48"].kind == "noop"
    assert rows["Conv_0 + Relu_1"].time == pytest.approx((0.52224, 24.5902))


def test_resnet18_fp16_precision_boundaries_are_predicted_copies(alignments):
    al = alignments["fp16"]
    rows = rows_by_real(al)
    first = rows["Reformatting CopyNode for Input Tensor 0 to Conv_0 + Relu_1"]
    last = rows["Reformatting CopyNode for Output Tensor 0 to reshape_after_Gemm_48"]
    assert (covers(first), first.verdict) == (["images.half"], "predicted copy")
    assert (covers(last), last.verdict) == (["logits"], "predicted copy")
    assert al.summary.reformats == 2 and al.reformats == 2


def test_resnet18_qat_quantizers(alignments):
    rows = rows_by_real(alignments["qat"])
    assert covers(rows["QuantizeLinear_2"]) == ["images.half", "conv1.input_quantizer.quantize"]
    # no residual quantizer: the blocks write FP16 and the next quantizer runs alone, once for both readers
    assert covers(rows["QuantizeLinear_65"]) == ["layer2.0.conv1.input_quantizer.quantize",
                                                 "layer2.0.downsample.0.input_quantizer.quantize"]
    ds = rows["layer2.0.downsample.0.weight + QuantizeLinear_93 + Conv_95 + Add_97 + Relu_98"]
    assert ds.verdict == "agree" and covers(ds)[0] == "layer2.0.downsample.0.input_quantizer.dequantize"
    q = rows["QuantizeLinear_250"]  # not into the pooling (the flatten between runs no kernel)
    assert covers(q) == ["flatten", "fc.input_quantizer.quantize"] and q.verdict == "agree"
    assert all(r.verdict == "agree" for r in rows.values() if r.kind == "compute")


def test_resnet18_qat_residual_quantizers(alignments):
    rows = rows_by_real(alignments["qat-residual"])
    stem = rows["conv1.weight + QuantizeLinear_7 + Conv_9 + MaxPool_12"]
    assert stem.verdict == "agree" and stem.groups[0].rule == "conv_act_pool"
    assert covers(stem)[-2:] == ["layer1.0.conv1.input_quantizer.quantize", "layer1.0.residual_quantizer.quantize"]
    # the residual is INT8: the add stays with the main branch, the shortcut writes INT8 alone
    main = rows["layer2.0.conv2.weight + QuantizeLinear_94 + Conv_96 + Add_115 + Relu_116"]
    assert main.verdict == "agree" and "layer2.0.residual_quantizer.dequantize" in covers(main)
    assert covers(rows["layer2.0.downsample.0.weight + QuantizeLinear_105 + Conv_107"])[-1] == \
        "layer2.0.residual_quantizer.quantize"
    # the last block writes float: its residual Dequantize is a kernel of its own
    assert covers(rows["DequantizeLinear_291"]) == ["layer4.1.residual_quantizer.dequantize"]
    assert rows["DequantizeLinear_291"].verdict == "agree"


def test_mnist_trt10_myelin(alignments):
    al = alignments["mnist"]
    assert al.trt_version == "10" and (al.matched, al.compute) == (10, 10)
    rows = rows_by_real(al)
    assert covers(rows["node_linear_myl5_2"]) == ["fc1.matmul", "fc1", "relu3"]
    assert covers(rows["__myl_MaxrSubExpSum_myl5_4"]) == ["softmax"]
    assert covers(rows["__myl_DivMulTopk_myl5_5"]) == ["softmax", "argmax"]
    assert rows["__myl_DivMulTopk_myl5_5"].groups[0].rule == "softmax_part2"
    assert covers(rows["__myl_Resh_myl5_1"]) == ["flatten"]
    assert rows["__myl_Cast_myl5_7"].kind == "reformat"  # FP16 -> FP32 for y: the builder's precision choice
    assert rows["__mye260_0_myl5_0"].kind == "noop"
    assert not any("myl11" in name for name in rows)  # the second optimization profile is not counted twice


def test_trt8_rules_for_softmax_and_reshape():
    net = mnist_net.define(trt)
    s8 = fusion.analyse(trt, net.network, "8")
    rules = {g.rule for g in s8.groups}
    assert "softmax_topk" in rules and not rules & {"softmax_part1", "softmax_part2", "myelin_reshape"}
    assert s8.kernels == 8


def test_oneline_and_json_read_alike(tmp_path):
    """The same engine layer in the inspector's JSON and ONELINE forms reads the same."""
    layers = real_engines.read_layers(REAL / "mnist-h100-trt10.16-fp16.inspector.log")
    conv = layers[0]
    assert conv.name == "node_conv2d + node_relu" and conv.type == "CaskConvolution"
    assert conv.params["Kernel"] == [5, 5] and conv.params["OutMaps"] == 32
    assert conv.inputs == [("x", "Row major linear FP32")] and real_engines.operations(conv) == ["conv", "relu"]
    row = {"Name": conv.name, "LayerType": conv.type, "Inputs": [{"Name": "x", "Format/Datatype": conv.inputs[0][1]}],
           "Outputs": [{"Name": "relu", "Format/Datatype": conv.outputs[0][1]}], "Kernel": [5, 5], "OutMaps": 32,
           "Metadata": conv.metadata}
    path = tmp_path / "one.json"
    path.write_text(json.dumps({"Layers": [row]}))
    again = real_engines.read_layers(path)[0]
    assert (again.name, again.inputs, again.outputs, again.params["Kernel"]) == \
        (conv.name, conv.inputs, conv.outputs, conv.params["Kernel"])


def test_inspect_real_side_by_side_json_and_svg(tmp_path):
    svg, js = tmp_path / "a.svg", tmp_path / "a.json"
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "inspect_engine.py"), "resnet18", "--real",
                        str(REAL / "resnet18-a100-fp32.graph.json"), "--profile",
                        str(REAL / "resnet18-a100-fp32.profile.json"), "--svg", str(svg), "--json", str(js)],
                       capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "matched 23/23 real kernels" in r.stdout and "TensorRT 8.x rules; aligned by structure" in r.stdout
    line = next(x for x in r.stdout.splitlines() if "Conv_16 + Add_17 + Relu_18" in x)
    assert "agree" in line and "layer2.0.downsample.0 + layer2.0.downsample.1 + layer2.0.add + layer2.0" in line
    data = json.loads(js.read_text())
    assert (data["matched"], data["real_kernels"], data["predicted_kernels"]) == (23, 23, 23)
    import xml.etree.ElementTree as ET
    titles = [e.text for e in ET.parse(svg).getroot().iter("{http://www.w3.org/2000/svg}title")]
    assert any(t.startswith("Conv_16 + Add_17 + Relu_18 [CaskConvolution]\nagree") for t in titles)


def test_a_difference_is_shown():
    """Held against the old rule (the add with the main branch's convolution), the listing disagrees: the report
    says so, with the predicted group beside the real kernel."""
    al = resnet18_alignment("fp32")
    for g in al.summary.groups:  # undo the rule: the add and relu go to layer2.0.conv2's group
        if [m.name for m in g.layers][:2] == ["layer2.0.downsample.0", "layer2.0.downsample.1"]:
            moved = g.layers[2:]
            g.layers[2:] = []
    target = next(g for g in al.summary.groups if g.layers[0].name == "layer2.0.conv2")
    target.layers += moved
    al = real_engines.align([r.real for r in al.rows], al.summary)
    rows = rows_by_real(al)
    assert rows["Conv_16 + Add_17 + Relu_18"].verdict == "differ" and rows["Conv_15"].verdict == "differ"
    assert al.matched == 21
    text = real_engines.text(al, "old rule")
    assert "predicted:" in text and "matched 21/23" in text
    picture = real_engines.svg(al, "old rule")
    assert picture.count('stroke="#d62728"') == 2 and "≠ Conv_15" in picture


def test_the_figures_tell_a_wrong_prediction():
    """The figures are not agreement by construction: the QAT listing held against the netdef with residual
    quantizers, or the TensorRT 10 listing against the 8.x rules, falls short."""
    tool = _inspect_tool()
    d = tool.define("resnet18", None, {}, "int8", "reference", {"fallback": []})
    layers = real_engines.read_layers(REAL / "resnet18-a100-qat.graph.json")
    al = real_engines.align(layers, fusion.analyse(d.trt, d.network, "8"))
    assert al.compute == 33 and al.matched / al.compute < 0.5
    net = mnist_net.define(trt)
    layers = real_engines.read_layers(REAL / "mnist-h100-trt10.16-fp16.inspector.log")
    al = real_engines.align(layers, fusion.analyse(trt, net.network, "8"))
    rows = rows_by_real(al)
    assert rows["__myl_MaxrSubExpSum_myl5_4"].verdict == "differ" and al.matched < al.compute


def test_an_engine_built_from_the_netdef_aligns_by_name():
    """TensorRT names a fused layer after the netdef layers it joins ("a + b", "PWN(a, b)")."""
    net = mnist_net.define(trt)
    summary = fusion.analyse(trt, net.network, "10")

    def row(name, kind, inputs, outputs, fmt="Row major linear FP32"):
        return {"Name": name, "LayerType": kind, "Inputs": [{"Name": t, "Format/Datatype": fmt} for t in inputs],
                "Outputs": [{"Name": t, "Format/Datatype": fmt} for t in outputs]}

    listing = [row("conv1 + relu1", "CaskConvolution", ["x"], ["relu1"]),
               row("pool1", "CaskPooling", ["relu1"], ["pool1"]),
               row("Reformatting CopyNode for Input Tensor 0 to conv2 + relu2", "Reformat", ["pool1"], ["r"]),
               row("conv2", "CaskConvolution", ["r"], ["conv2"]),
               row("PWN(relu2)", "PointWise", ["conv2"], ["relu2"])]
    al = real_engines.align(real_engines.layers_from_json(listing), summary)
    rows = rows_by_real(al)
    assert al.mode == "by name" and (al.matched, al.compute, al.reformats) == (2, 4, 1)
    assert covers(rows["PWN(relu2)"]) == ["relu2"] and rows["conv2"].verdict == "differ"
    assert [g.rule for g in rows["conv2"].groups] == ["conv_act"]

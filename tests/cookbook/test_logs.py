"""The Cookbook log parser (tests/cookbook/logs.py) against all recorded logs, with values checked by eye."""
import math

import numpy as np
import pytest

from tests.cookbook.logs import IOLine, load_log, log_names, parse_array

LOGS = log_names()


def test_all_logs_present():
    assert len(LOGS) == 47  # 46 layer folders + template
    assert {"Convolution", "NMS", "DynamicQuantize", "template"} <= set(LOGS)


@pytest.mark.parametrize("name", LOGS)
def test_structure(name):
    log = load_log(name)
    assert log.preamble[0] == "[TensorRT-Cookbook] Version: 1.0.0"
    for case in log.cases:
        assert case.ended, f"{name}.{case.name} has no End marker"
        for block in case.blocks:
            names = [line.name for line in block.io]
            assert len(names) == len(set(names))
            assert [line.mode for line in block.io] == sorted((line.mode for line in block.io), key="Input".__ne__)
            # Inference ran iff arrays were printed; then every I/O tensor was printed, in I/O order.
            assert list(block.arrays) in ([], names), f"{name}.{case.name}"
            for line in block.io:
                assert len(line.build_shape) == len(line.runtime_shape)
                assert all(b in (-1, r) for b, r in zip(line.build_shape, line.runtime_shape))
            for array_name, array in block.arrays.items():
                _check_array_against_io(array, block.line(array_name), f"{name}.{case.name}.{array_name}")


def _check_array_against_io(array, line, where):
    run = line.runtime_shape
    if array.summarised:
        assert array.corner_index is not None, where
        assert array.corner.shape == tuple(len(ix) for ix in array.corner_index), where
        assert [ix[-1] + 1 for ix in array.corner_index] == list(run), where
        return
    if all(d >= 0 for d in run):
        assert array.size == math.prod(run), where
    else:  # data-dependent: the printed array has the real extent where the I/O line has -1
        assert len(array.shape) == len(run) and all(r in (-1, s) for r, s in zip(run, array.shape)), where


def test_case_counts():
    counts = {name: len(load_log(name).cases) for name in LOGS}
    assert counts["DistCollective"] == 0  # "Skip since no enough GPU is ready (need 2, get 1)"
    assert counts["Einsum"] == 9 and counts["Resize"] == 7 and counts["Shuffle"] == 7 and counts["Slice"] == 4
    assert load_log("Assertion").case_names == ["case_buildtime_check", "case_buildtime_check",
                                                 "case_runtime_check", "case_runtime_check"]


def test_io_line_round_trip():
    line = load_log("TopK").case("case_shape_input").block().line("(Unnamed Layer* 0) [TopK]_output (1)")
    assert line == IOLine("Output", "DataType.INT32", (3, -1, 5), (3, 2, 5), "(Unnamed Layer* 0) [TopK]_output (1)")
    assert str(line) == "Output->DataType.INT32, (3, -1, 5), (3, 2, 5), (Unnamed Layer* 0) [TopK]_output (1)"
    assert str(load_log("Fill").case("case_linspace_2").block().line("tensor")) == \
        "Input ->DataType.FLOAT, (), (), tensor"


def test_convolution_values():
    block = load_log("Convolution").case("case_simple").block()
    assert [str(line) for line in block.io] == [
        "Input ->DataType.FLOAT, (1, 1, 6, 9), (1, 1, 6, 9), tensor",
        "Output->DataType.FLOAT, (1, 1, 4, 7), (1, 1, 4, 7), (Unnamed Layer* 0) [Convolution]_output"]
    out = block["(Unnamed Layer* 0) [Convolution]_output"]
    assert out.dtype == np.float32 and out.shape == (1, 1, 4, 7)
    assert out[0, 0, 0, 0] == np.float32(12345.679) and out[0, 0, 2, 6] == np.float32(78912.34)
    assert block["tensor"][0, 0, 5].tolist() == [7, 8, 9, 7, 8, 9, 7, 8, 9]
    # Scientific notation carries 9 significant digits: exact for float32.
    printed = load_log("Convolution").case("case_stride_dilation_pad").block().arrays[
        "(Unnamed Layer* 0) [Convolution]_output"]
    assert printed.quantum == 0 and printed.values[0, 0, 0, 0] == np.float32(4.6012998)
    assert block.arrays["tensor"].quantum == 5e-9


def test_cast_dtypes():
    block = load_log("Cast").case("case_simple").block()
    assert [line.dtype_name for line in block.outputs] == ["BOOL", "UINT8", "INT32", "INT64", "HALF", "BF16", "FLOAT"]
    data = block["tensor"]
    assert block["(Unnamed Layer* 0) [Cast]_output"].dtype == np.bool_
    assert block["(Unnamed Layer* 0) [Cast]_output"].sum() == 59  # only the 0 is False
    uint8 = block["(Unnamed Layer* 1) [Cast]_output"]
    assert uint8.dtype == np.uint8 and uint8[0, 0, 0] == 0 and uint8[2, 3, 1] == 4  # -300 -> 0, 260 -> 4
    assert block["(Unnamed Layer* 3) [Cast]_output"].dtype == np.int64
    assert block["(Unnamed Layer* 4) [Cast]_output"].dtype == np.float16
    bf16 = block.arrays["(Unnamed Layer* 5) [Cast]_output"]
    assert "bfloat16" in bf16.note and bf16.values.dtype == np.float32
    np.testing.assert_array_equal(bf16.values, data)  # b'\x96\xC3' is -300.0
    int8 = load_log("Cast").case("case_int8").block()["(Unnamed Layer* 0) [Cast]_output"]
    assert int8.dtype == np.int8 and int8[0, 0, 0] == -127 and int8[2, 3, 4] == 123


def test_scalars_and_data_dependent_shapes():
    dot = load_log("Einsum").case("case_dot_product").block().arrays["(Unnamed Layer* 0) [Einsum]_output"]
    assert dot.shape == () and dot.values == np.float32(6.0)
    nms = load_log("NMS").case("case_simple").block()
    assert nms.line("(Unnamed Layer* 1) [NMS]_output").runtime_shape == (-1, 3)
    assert nms["(Unnamed Layer* 1) [NMS]_output"].shape == (105, 3)
    assert nms["(Unnamed Layer* 1) [NMS]_output"][0].tolist() == [0, 8, 2]
    assert nms["(Unnamed Layer* 1) [NMS]_output (1)"] == 100 and nms["(Unnamed Layer* 1) [NMS]_output (1)"].ndim == 0
    nonzero = load_log("NonZero").case("case_simple").block()["(Unnamed Layer* 0) [NonZero]_output"]
    assert nonzero.dtype == np.int64 and nonzero.shape == (3, 12) and nonzero[:, -1].tolist() == [2, 3, 1]
    # A 0-d input is printed 1-d: the Cookbook prints np.ascontiguousarray(data).
    topk = load_log("TopK").case("case_shape_input").block()
    assert topk.line("tensor1").runtime_shape == () and topk.arrays["tensor1"].shape == (1,)
    assert topk["tensor1"].tolist() == [2]


def test_bool_and_int_arrays():
    block = load_log("Select").case("case_simple").block()
    cond = block["tensor2"]
    assert cond.dtype == np.bool_ and cond.shape == (1, 3, 4, 5) and cond[0, 0, 0].tolist() == [False, True] * 2 + [False]
    assert block["(Unnamed Layer* 0) [Select]_output"][0, 0, 0, 1] == 1.0
    gather = load_log("Gather").case("case_default_mode").block()
    assert gather["tensor1"].tolist() == [[1, 0, 2], [0, 0, -1]]


def test_logger_lines_cutting_an_array():
    case = load_log("Gather").case("case_element_mode")
    assert len(case.trt_messages) == 3 and case.trt_messages[0].severity == "W"
    assert case.block()["tensor"][1, 2, 3, 4] == 1234.0


def test_several_blocks_and_failures():
    assert len(load_log("Fill").case("case_random_normal").blocks) == 2
    assert len(load_log("IfConditionStructure").case("case_simple").blocks) == 2
    failed = load_log("Assertion").case("case_buildtime_check", (False,))
    assert not failed.built and failed.text[-1] == "Failed building engine"
    assert load_log("Assertion").case("case_runtime_check", (True,)).block().arrays == {}
    dq = load_log("DynamicQuantize")
    assert not dq.case("case_v2_double_quantization").built
    assert any("Could not find any implementation" in m.text and m.severity == "E" for m in dq.trt_messages)
    assert load_log("MoE").case("case_api_minimal").text[0].startswith("`add_moe` failed on current platform")


def test_summarised_array():
    array = load_log("AttentionStructure").case("case_quantization").block().arrays["q"]
    assert array.summarised and array.values is None
    assert array.corner_index == [[0], [0, 1, 2, 29, 30, 31], [0, 1, 2, 13, 14, 15], [0, 1, 2, 29, 30, 31]]
    assert array.corner[0, 0, 0, :3].tolist() == pytest.approx([0.4442041, 0.9080384, 0.77635])


def test_enums():
    assert load_log("Slice").enums["SampleMode"] == {"STRICT_BOUNDS": 0, "WRAP": 1, "CLAMP": 2, "FILL": 3, "REFLECT": 4}
    data_type = load_log("DynamicQuantize").enums["DataType"]
    assert data_type["BF16"] == 7 and data_type["FP4"] == 10 and data_type["E8M0"] == 11


def test_parse_array_corner_cases():
    assert parse_array("[]", "FLOAT", (0, 3)).values.shape == (0, 3)
    special = parse_array("[ nan  inf -inf  1.5]", "FLOAT").values
    assert np.isnan(special[0]) and special[1:].tolist() == [np.inf, -np.inf, 1.5]
    assert parse_array("[1.e-05 1.e+00]", "FLOAT").values.tolist() == pytest.approx([1e-5, 1.0])
    assert parse_array("True", "BOOL").values.dtype == np.bool_
    assert parse_array("[b'\\x80\\x3F' b'\\x00\\xC0']", "BF16").values.tolist() == [1.0, -2.0]
    # numpy's own summarisation, parsed back
    full = np.arange(2000, dtype=np.float32).reshape(10, 200) / 7
    # numpy's default print options, as the Cookbook printed with (importing yolov5 changes the global ones)
    with np.printoptions(precision=8, threshold=1000, edgeitems=3, linewidth=75, suppress=False,
                         formatter=None, floatmode="maxprec", sign="-", legacy=False):
        text = str(full)
    printed = parse_array(text, "FLOAT", full.shape)
    np.testing.assert_array_equal(printed.corner, full[np.ix_(*printed.corner_index)])
    with pytest.raises(ValueError):
        parse_array("[[1. 2.]\n [3.]]", "FLOAT")

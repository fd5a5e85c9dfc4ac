"""Cookbook NMS: every case of cookbook/02-API/Layer/NMS/main.py against NMS.log (TensorRT 10.16).

The cases draw boxes and scores with an unseeded np.random: the printed inputs are fed again. SelectedIndices has a
data-dependent shape (-1, 3): the harness reads it through an IOutputAllocator, as the Cookbook's TRTWrapperDDS
does. Both cases set indices_type, which exists in the 11.x API only (skipped under REFTRT_TRT_VERSION=10.3).

NumOutputBoxes of case_simple: the log prints 100, but the SelectedIndices printed in the same run has 105 rows, and
NumOutputBoxes is specified as "the number of output boxes in SelectedIndices" (NvInfer.h). The upstream history of
this log shows the same run (same timestamps, same random inputs) recorded as 105 in commit 99a4b0e5 ("v1.6.0-
trt10.16: add trex"); the squashed commit df11b652 changed only that line, to 100. reftrt gives the row count, 105;
these tests assert that and pin the edited line. Every selected index and its order match the log in both cases.
"""
import numpy as np
import pytest

import reftrt as trt
from tests.cookbook.harness import assert_case, log_inputs, run
from tests.cookbook.test_resize import layer_attributes, logged_attributes
from tests.cookbook.logs import load_log

LOG = load_log("NMS")
SELECTED, COUNT = "(Unnamed Layer* 1) [NMS]_output", "(Unnamed Layer* 1) [NMS]_output (1)"
api_11 = pytest.mark.skipif(not hasattr(trt.INMSLayer, "indices_type"), reason="indices_type is TensorRT 11 API")


def _check(case_name, four_args):
    case = LOG.case(case_name)
    data = log_inputs(case)
    assert data["tensor"].shape == (5, 3, 4) and data["tensor1"].shape == (5, 3, 10)
    seen = {}

    def build(b):
        tensor0 = b.network.add_input("tensor", trt.float32, data["tensor"].shape)
        tensor1 = b.network.add_input("tensor1", trt.float32, data["tensor1"].shape)
        max_output = b.network.add_constant([], np.int32(20).reshape(-1))
        if four_args:
            layer = b.network.add_nms(tensor0, tensor1, max_output.get_output(0), trt.int64)
        else:
            layer = b.network.add_nms(tensor0, tensor1, max_output.get_output(0))
        seen["defaults"] = (layer.indices_type, layer.topk_box_limit, layer.bounding_box_format)
        layer.indices_type = trt.int64
        layer.topk_box_limit = 100
        layer.bounding_box_format = trt.BoundingBoxFormat.CENTER_SIZES
        seen["attributes"] = layer_attributes(layer)
        assert tuple(layer.get_output(0).shape) == (-1, 3) and tuple(layer.get_output(1).shape) == ()
        return [layer.get_output(0), layer.get_output(1)]

    result = run(build, data)
    assert_case(result, case, skip=(COUNT,))
    return result, case, seen


@api_11
def test_case_simple():
    result, case, seen = _check("case_simple", four_args=True)
    assert seen["attributes"] == logged_attributes(case)
    assert seen["defaults"] == (trt.int64, 5000, trt.BoundingBoxFormat.CORNER_PAIRS)
    rows = case.blocks[0][SELECTED].shape[0]
    assert rows == 105 and int(result[COUNT]) == rows
    assert int(case.blocks[0][COUNT]) == 100  # the edited line, see the module docstring


@api_11
def test_case_deprecated():
    result, case, seen = _check("case_deprecated", four_args=False)
    assert seen["defaults"] == (trt.int32, 5000, trt.BoundingBoxFormat.CORNER_PAIRS)
    assert int(result[COUNT]) == int(case.blocks[0][COUNT]) == case.blocks[0][SELECTED].shape[0] == 92


def test_enum_members():
    assert {k: int(v) for k, v in trt.BoundingBoxFormat.__members__.items()} == LOG.enums["BoundingBoxFormat"]

"""Cookbook TopK: every case of cookbook/02-API/Layer/TopK/main.py against TopK.log (TensorRT 10.16).

The Cookbook draws its inputs from an unseeded RNG; the tests feed the inputs the log printed. case_simple and
case_deprecated use INT64 indices (`indices_type`, TensorRT 11 API): skipped under REFTRT_TRT_VERSION=10.3.
case_shape_input takes k from a shape-tensor input (known once its value is set); case_dds computes k with a Reduce
of an execution input, so the output shape stays -1 until the run and the outputs come through an output allocator.
"""
import numpy as np
import pytest

import reftrt as trt
from tests.cookbook._math_family import IS_10, assert_case, expected_attributes, layer_attributes
from tests.cookbook.harness import log_inputs, run
from tests.cookbook.logs import load_log

LOG = load_log("TopK")
needs_11 = pytest.mark.skipif(IS_10, reason="indices_type is TensorRT 11 API")


@needs_11
def test_case_simple():
    case = LOG.case("case_simple")
    data = log_inputs(case)

    def build(b):
        tensor = b.network.add_input("tensor", trt.float32, data["tensor"].shape)
        layer = b.network.add_topk(tensor, trt.TopKOperation.MAX, 2, 1 << 1, trt.DataType.INT64)
        layer.op = trt.TopKOperation.MAX
        layer.k = 2
        layer.axes = 1 << 1
        layer.indices_type = trt.DataType.INT64
        assert (layer.op, layer.k, layer.axes, layer.indices_type) == \
            (trt.TopKOperation.MAX, 2, 2, trt.DataType.INT64)
        assert layer_attributes(layer) == expected_attributes(case, only_11=["indices_type"])
        return [layer.get_output(0), layer.get_output(1)]

    assert_case(run(build, data), case)


@needs_11
def test_case_deprecated():
    case = LOG.case("case_deprecated")
    data = log_inputs(case)

    def build(b):
        tensor = b.network.add_input("tensor", trt.float32, data["tensor"].shape)
        layer = b.network.add_topk(tensor, trt.TopKOperation.MAX, 2, 1 << 1)
        assert layer.indices_type == trt.DataType.INT32  # the default
        layer.indices_type = trt.DataType.INT64
        return [layer.get_output(0), layer.get_output(1)]

    assert_case(run(build, data), case)


def test_case_shape_input():
    case = LOG.case("case_shape_input")
    data = log_inputs(case)
    data["tensor1"] = np.array(2, dtype=np.int32)  # a 0-D shape-tensor input (printed 1-D by the Cookbook)

    def build(b):
        tensor = b.network.add_input("tensor", trt.float32, data["tensor"].shape)
        tensor1 = b.network.add_input("tensor1", trt.int32, [])
        b.profile.set_shape_input(tensor1.name, [1], [2], [3])
        layer = b.network.add_topk(tensor, trt.TopKOperation.MAX, 1, 1 << 1)
        layer.set_input(1, tensor1)
        assert layer.k == -1  # "If a second layer input is present and non-null, this function returns -1"
        assert layer.get_output(0).shape == (3, -1, 5)
        return [layer.get_output(0), layer.get_output(1)]

    result = run(build, data)
    assert result.engine.is_shape_inference_io("tensor1")
    assert_case(result, case)


def test_case_dds():
    case = LOG.case("case_dds")
    data = log_inputs(case)

    def build(b):
        tensor = b.network.add_input("tensor", trt.float32, data["tensor"].shape)
        tensor1 = b.network.add_input("tensor1", trt.int32, [-1])
        b.profile.set_shape(tensor1.name, [1], [2], [2])
        layer1 = b.network.add_reduce(tensor1, trt.ReduceOperation.SUM, 1 << 0, False)
        layer = b.network.add_topk(tensor, trt.TopKOperation.MAX, 1, 1 << 1)
        layer.set_input(1, layer1.get_output(0))
        return [layer.get_output(0), layer.get_output(1)]

    result = run(build, data)
    assert not result.engine.is_shape_inference_io("tensor1")  # an execution input, as the log's wrapper treats it
    assert_case(result, case)


def test_enum_members():
    assert {k: int(v) for k, v in trt.TopKOperation.__members__.items()} == LOG.enums["TopKOperation"]

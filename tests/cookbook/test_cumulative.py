"""Cookbook Cumulative: every case of cookbook/02-API/Layer/Cumulative/main.py against Cumulative.log
(TensorRT 10.16). add_cumulative is TensorRT 11 API (10.3 lacks it): skipped under REFTRT_TRT_VERSION=10.3.
tests/reftrt/test_math_family.py covers exclusive / reverse, negative axes and integer inputs.
"""
import numpy as np
import pytest

import reftrt as trt
from tests.cookbook._math_family import assert_case, layer_attributes, logged_attributes
from tests.cookbook.harness import run
from tests.cookbook.logs import load_log

pytestmark = pytest.mark.skipif(not hasattr(trt.INetworkDefinition, "add_cumulative"),
                                reason="add_cumulative is TensorRT 11 API")
LOG = load_log("Cumulative")


def test_case_simple():
    data = {"tensor": np.arange(60, dtype=np.float32).reshape(3, 4, 5)}
    case = LOG.case("case_simple")

    def build(b):
        tensor = b.network.add_input("tensor", trt.float32, data["tensor"].shape)
        layer_axis = b.network.add_constant(shape=(), weights=np.array([1], dtype=np.int32))
        layer = b.network.add_cumulative(tensor, layer_axis.get_output(0), trt.CumulativeOperation.SUM, False, False)
        layer.op = trt.CumulativeOperation.SUM
        layer.exclusive = False
        layer.reverse = False
        assert (layer.op, layer.exclusive, layer.reverse) == (trt.CumulativeOperation.SUM, False, False)
        assert layer.type == trt.LayerType.CUMULATIVE
        assert layer_attributes(layer) == logged_attributes(case)
        return [layer.get_output(0)]

    assert_case(run(build, data), case)


def test_enum_members():
    assert {k: int(v) for k, v in trt.CumulativeOperation.__members__.items()} == LOG.enums["CumulativeOperation"]

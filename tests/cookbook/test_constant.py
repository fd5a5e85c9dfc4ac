"""Cookbook Constant: every case of cookbook/02-API/Layer/Constant/main.py against Constant.log (TensorRT 10.16).

case_datatype_int4 is skipped: INT4 weights (packed two per byte, given as a raw pointer) are a GPU-only data type
that reftrt does not execute.
"""
import numpy as np
import pytest

import reftrt as trt
from tests.cookbook._math_family import assert_case, layer_attributes, logged_attributes
from tests.cookbook.harness import run
from tests.cookbook.logs import load_log

LOG = load_log("Constant")


def test_case_simple():
    data = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    case = LOG.case("case_simple")

    def build(b):
        layer = b.network.add_constant(data.shape, trt.Weights(np.ascontiguousarray(data)))
        layer.shape = data.shape
        layer.weights = trt.Weights(np.ascontiguousarray(data))
        assert layer.shape == (3, 4, 5) and layer.weights.size == 60
        assert layer_attributes(layer) == logged_attributes(case)
        assert layer.get_output(0).shape == (3, 4, 5) and layer.get_output(0).dtype == trt.float32
        return [layer.get_output(0)]

    assert_case(run(build), case)


def test_case_datatype_int4():
    pytest.skip("GPU-only: INT4 weights (trt.Weights(trt.int4, ptr, count)) and their Dequantize")

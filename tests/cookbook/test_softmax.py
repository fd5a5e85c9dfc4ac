"""Cookbook Softmax: every case of cookbook/02-API/Layer/Softmax/main.py against Softmax.log (TensorRT 10.16).

The case sets the axis explicitly, so the log does not show the default; reftrt follows NvInfer.h
(1 << max(0, rank - 3)), checked here for the case's rank-2 input and in tests/reftrt/test_math_family.py.
"""
import numpy as np

import reftrt as trt
from tests.cookbook._math_family import assert_case, layer_attributes, logged_attributes
from tests.cookbook.harness import run
from tests.cookbook.logs import load_log

LOG = load_log("Softmax")


def test_case_simple():
    data = {"tensor": np.arange(9, dtype=np.float32).reshape(3, 3) - 4}
    case = LOG.case("case_simple")

    def build(b):
        tensor = b.network.add_input("tensor", trt.float32, data["tensor"].shape)
        layer = b.network.add_softmax(tensor)
        assert layer.axes == 1 << 0  # rank 2: max(0, 2 - 3) = 0
        layer.axes = 1 << 1
        assert layer_attributes(layer) == logged_attributes(case)
        return [layer.get_output(0)]

    assert_case(run(build, data), case)

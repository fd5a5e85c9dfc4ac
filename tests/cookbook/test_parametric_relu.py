"""Cookbook ParametricReLU: the case of cookbook/02-API/Layer/ParametricReLU/main.py against ParametricReLU.log
(TensorRT 10.16)."""
import numpy as np

from tests.cookbook.harness import assert_case, run
from tests.cookbook.logs import load_log
from tests.cookbook.test_convolution import coverage, logged_coverage

LOG = load_log("ParametricReLU")


def test_case_simple():
    data = np.arange(60, dtype=np.float32).reshape(3, 4, 5) - 30
    seen = {}

    def build(b):
        tensor = b.network.add_input("tensor", b.trt.float32, data.shape)
        slopes = b.network.add_constant([1, 1, 1], np.array([0.5], dtype=np.float32))
        layer = b.network.add_parametric_relu(tensor, slopes.get_output(0))
        seen["coverage"] = coverage(layer)
        return [layer.get_output(0)]

    case = LOG.case("case_simple")
    assert_case(run(build, {"tensor": data}), case)
    assert seen["coverage"] == logged_coverage(case) == []

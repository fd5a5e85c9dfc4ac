"""Cookbook Padding: every case of cookbook/02-API/Layer/Padding/main.py against Padding.log (TensorRT 10.16)."""
import numpy as np

from tests.cookbook.harness import assert_case, run
from tests.cookbook.logs import load_log
from tests.cookbook.test_convolution import coverage, logged_coverage

LOG = load_log("Padding")
DATA = np.arange(60, dtype=np.float32).reshape(1, 3, 4, 5) + 1


def test_case_simple():
    seen = {}

    def build(b):
        tensor = b.network.add_input("tensor", b.trt.float32, DATA.shape)
        layer = b.network.add_padding_nd(tensor, [1, 2], [3, 4])
        layer.pre_padding_nd = [1, 2]
        layer.post_padding_nd = [3, 4]
        assert layer.pre_padding_nd == (1, 2) and layer.post_padding_nd == (3, 4)
        seen["coverage"] = coverage(layer)
        return [layer.get_output(0)]

    case = LOG.case("case_simple")
    assert_case(run(build, {"tensor": DATA}), case)
    assert seen["coverage"] == logged_coverage(case)


def test_case_crop():
    def build(b):
        tensor = b.network.add_input("tensor", b.trt.float32, DATA.shape)
        return [b.network.add_padding_nd(tensor, [-1, 0], [0, -2]).get_output(0)]

    assert_case(run(build, {"tensor": DATA}), LOG.case("case_crop"))

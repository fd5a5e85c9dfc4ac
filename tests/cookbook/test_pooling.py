"""Cookbook Pooling: every case of cookbook/02-API/Layer/Pooling/main.py against Pooling.log (TensorRT 10.16)."""
import numpy as np

import reftrt as trt
from tests.cookbook.harness import assert_case, run
from tests.cookbook.logs import load_log
from tests.cookbook.test_convolution import coverage, logged_coverage

LOG = load_log("Pooling")
DATA = np.tile(np.arange(9, dtype=np.float32).reshape(3, 3), [1, 1, 2, 3]) + 1


def test_case_simple():
    seen = {}

    def build(b):
        tensor = b.network.add_input("tensor", b.trt.float32, DATA.shape)
        layer = b.network.add_pooling_nd(tensor, b.trt.PoolingType.AVERAGE, [2, 2])
        assert layer.stride_nd == (1, 1) and layer.average_count_excludes_padding is True
        assert layer.blend_factor == 0.0 and layer.padding_mode == b.trt.PaddingMode.EXPLICIT_ROUND_DOWN
        layer.type = b.trt.PoolingType.AVERAGE
        layer.window_size_nd = [2, 2]
        layer.padding_nd = [1, 1]
        layer.stride_nd = [1, 1]
        layer.pre_padding = [1, 1]
        layer.post_padding = [1, 1]
        layer.padding_mode = b.trt.PaddingMode.SAME_UPPER
        layer.average_count_excludes_padding = False
        assert layer.type == b.trt.PoolingType.AVERAGE and layer.window_size_nd == (2, 2)
        seen["coverage"] = coverage(layer)
        return [layer.get_output(0)]

    case = LOG.case("case_simple")
    assert_case(run(build, {"tensor": DATA}), case)
    assert seen["coverage"] == logged_coverage(case)


def test_case_blend_factor():
    def build(b):
        tensor = b.network.add_input("tensor", b.trt.float32, DATA.shape)
        layer = b.network.add_pooling_nd(tensor, b.trt.PoolingType.MAX_AVERAGE_BLEND, [2, 2])
        layer.blend_factor = 0.5
        return [layer.get_output(0)]

    assert_case(run(build, {"tensor": DATA}), LOG.case("case_blend_factor"))


def test_case_3d():
    data = np.tile(DATA, (2, 1, 1)).reshape([1, 1, 2, 6, 9])
    data[0, 0, 1] *= 10

    def build(b):
        tensor = b.network.add_input("tensor", b.trt.float32, data.shape)
        layer = b.network.add_pooling_nd(tensor, b.trt.PoolingType.MAX, [2, 2, 2])
        return [layer.get_output(0)]

    assert_case(run(build, {"tensor": data}), LOG.case("case_3d"))


def test_enum_members():
    for name in ("PoolingType", "PaddingMode"):
        assert LOG.enums[name] == {k: int(m) for k, m in getattr(trt, name).__members__.items()}

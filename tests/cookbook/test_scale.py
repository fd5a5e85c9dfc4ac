"""Cookbook Scale: every case of cookbook/02-API/Layer/Scale/main.py against Scale.log (TensorRT 10.16)."""
import numpy as np

import reftrt as trt
from tests.cookbook.harness import assert_case, run
from tests.cookbook.logs import load_log
from tests.cookbook.test_convolution import coverage, logged_coverage

LOG = load_log("Scale")
SHAPE = [1, 3, 3, 3]
DATA = np.arange(np.prod(SHAPE), dtype=np.float32).reshape(SHAPE) + 1


def f32(values):
    return np.ascontiguousarray(np.array(values, dtype=np.float32))


def test_case_simple():
    seen = {}

    def build(b):
        tensor = b.network.add_input("tensor", b.trt.float32, DATA.shape)
        scale, shift, power = f32([0.5]), f32([-7.0]), f32([1.0])
        layer = b.network.add_scale(tensor, b.trt.ScaleMode.UNIFORM, b.trt.Weights(shift), b.trt.Weights(scale),
                                    b.trt.Weights(power))
        layer.mode = b.trt.ScaleMode.UNIFORM
        layer.shift = b.trt.Weights(shift)
        layer.scale = b.trt.Weights(scale)
        layer.power = b.trt.Weights(power)
        assert layer.channel_axis == 1
        seen["coverage"] = coverage(layer)
        return [layer.get_output(0)]

    case = LOG.case("case_simple")
    assert_case(run(build, {"tensor": DATA}), case)
    assert seen["coverage"] == logged_coverage(case)


def test_case_channel():
    def build(b):
        tensor = b.network.add_input("tensor", b.trt.float32, DATA.shape)
        layer = b.network.add_scale(tensor, b.trt.ScaleMode.CHANNEL, b.trt.Weights(f32([-2.5, -7.0, -11.5])),
                                    b.trt.Weights(f32([0.5, 0.5, 0.5])), b.trt.Weights(f32([1, 1, 1])))
        return [layer.get_output(0)]

    assert_case(run(build, {"tensor": DATA}), LOG.case("case_channel"))


def test_case_element():
    def build(b):
        tensor = b.network.add_input("tensor", b.trt.float32, DATA.shape)
        layer = b.network.add_scale(tensor, b.trt.ScaleMode.ELEMENTWISE, b.trt.Weights(f32(np.full(SHAPE[1:], -7.0))),
                                    b.trt.Weights(f32(np.full(SHAPE[1:], 0.5))), b.trt.Weights(f32(np.ones(SHAPE[1:]))))
        return [layer.get_output(0)]

    assert_case(run(build, {"tensor": DATA}), LOG.case("case_element"))


def test_case_scale_channel_axis():
    def build(b):
        tensor = b.network.add_input("tensor", b.trt.float32, DATA.shape)
        layer = b.network.add_scale_nd(tensor, b.trt.ScaleMode.CHANNEL, b.trt.Weights(f32([-2.5, -7.0, -11.5])),
                                       b.trt.Weights(f32([0.5, 0.5, 0.5])), b.trt.Weights(f32([1, 1, 1])), 0)
        assert layer.channel_axis == 0
        layer.channel_axis = 1
        return [layer.get_output(0)]

    assert_case(run(build, {"tensor": DATA}), LOG.case("case_scale_channel_axis"))


def test_scale_mode_members():
    assert LOG.enums["ScaleMode"] == {k: int(m) for k, m in trt.ScaleMode.__members__.items()}

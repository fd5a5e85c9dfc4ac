"""Cookbook Deconvolution: every case of cookbook/02-API/Layer/Deconvolution/main.py against Deconvolution.log
(TensorRT 10.16).

case_3d's output is the cancellation of two equal transposed convolutions (the kernel's second input channel is the
negated first): TensorRT printed float32 noise below 3e-8, compared with an absolute tolerance of 1e-6.
case_int8qdq: under the TensorRT 11 API add_quantize / add_dequantize get the INT8 / FLOAT output types the 10.x
two-argument calls default to.
"""
import numpy as np

import reftrt as trt
from tests.cookbook.harness import assert_case, run
from tests.cookbook.logs import load_log
from tests.cookbook.test_convolution import W, B, coverage, dequantize, logged_coverage, quantize

LOG = load_log("Deconvolution")
DATA = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3) + 1


def test_case_simple():
    seen = {}

    def build(b):
        tensor = b.network.add_input("tensor", b.trt.float32, DATA.shape)
        layer = b.network.add_deconvolution_nd(tensor, 1, [3, 3], b.trt.Weights(W), b.trt.Weights(B))
        layer.num_output_maps = 1
        layer.kernel_size_nd = [3, 3]
        layer.kernel = b.trt.Weights(W)
        layer.bias = b.trt.Weights(B)
        seen["coverage"] = coverage(layer)
        return [layer.get_output(0)]

    case = LOG.case("case_simple")
    assert_case(run(build, {"tensor": DATA}), case)
    assert seen["coverage"] == logged_coverage(case)


def test_case_stride_dilation_pad():
    def build(b):
        tensor = b.network.add_input("tensor", b.trt.float32, DATA.shape)
        layer = b.network.add_deconvolution_nd(tensor, 1, [3, 3], b.trt.Weights(W), b.trt.Weights(B))
        layer.stride_nd = [2, 2]
        layer.dilation_nd = [2, 2]
        layer.padding_nd = [1, 1]
        layer.pre_padding = [1, 1]
        layer.post_padding = [1, 1]
        layer.padding_mode = b.trt.PaddingMode.SAME_UPPER
        return [layer.get_output(0)]

    assert_case(run(build, {"tensor": DATA}), LOG.case("case_stride_dilation_pad"))


def test_case_group():
    data = np.tile(DATA, [1, 2, 1, 1])

    def build(b):
        tensor = b.network.add_input("tensor", b.trt.float32, data.shape)
        w = np.ascontiguousarray(np.concatenate([W, -W], 0))
        layer = b.network.add_deconvolution_nd(tensor, 2, [3, 3], b.trt.Weights(w),
                                               b.trt.Weights(np.zeros(2, dtype=np.float32)))
        layer.num_groups = 2
        return [layer.get_output(0)]

    assert_case(run(build, {"tensor": data}), LOG.case("case_group"))


def test_case_3d():
    data = np.tile(DATA, [1, 2, 1, 1]).reshape(1, 1, 2, 3, 3)

    def build(b):
        tensor = b.network.add_input("tensor", b.trt.float32, data.shape)
        w = np.ascontiguousarray(np.concatenate([W, -W], 0))
        layer = b.network.add_deconvolution_nd(tensor, 1, [3, 3], b.trt.Weights(w), b.trt.Weights(B))
        return [layer.get_output(0)]

    assert_case(run(build, {"tensor": data}), LOG.case("case_3d"), atol=1e-6)


def test_case_int8qdq():
    def build(b):
        net = b.network
        tensor = net.add_input("tensor", b.trt.float32, DATA.shape)
        q0_scale = net.add_constant([], np.array([1], dtype=np.float32))
        q1_scale = net.add_constant([], np.array([1], dtype=np.float32))
        weight = net.add_constant(W.shape, b.trt.Weights(W))
        q0 = quantize(net, tensor, q0_scale.get_output(0))
        q0.axis = 0
        dq0 = dequantize(net, q0.get_output(0), q1_scale.get_output(0))
        dq0.axis = 0
        q1 = quantize(net, weight.get_output(0), q0_scale.get_output(0))
        q1.axis = 0
        dq1 = dequantize(net, q1.get_output(0), q1_scale.get_output(0))
        dq1.axis = 0
        layer = net.add_deconvolution_nd(dq0.get_output(0), 1, [3, 3], b.trt.Weights(),
                                         b.trt.Weights(np.ascontiguousarray(B)))
        layer.set_input(1, dq1.get_output(0))
        return [layer.get_output(0)]

    assert_case(run(build, {"tensor": DATA}), LOG.case("case_int8qdq"))


def test_padding_mode_members():
    assert LOG.enums["PaddingMode"] == {name: int(m) for name, m in trt.PaddingMode.__members__.items()}

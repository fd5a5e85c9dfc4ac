"""Cookbook Convolution: every case of cookbook/02-API/Layer/Convolution/main.py against Convolution.log
(TensorRT 10.16).

case_3d's output is the cancellation of two equal correlations (the kernel's second channel is the negated first),
so what TensorRT printed is float32 rounding noise of sums reaching 1e5 (|values| < 0.01): which noise depends on the
summation order of the CPU kernel PyTorch picks (AVX2 and AVX-512 machines differ by up to 0.004). It is compared
with an absolute tolerance of one ulp of the partial sums, ulp(1e5) = 2^-7; a wrong weight or layout gives errors
of 1e3 and more.
case_int8qdq calls add_quantize / add_dequantize without output_type, which the TensorRT 11 API no longer accepts:
under 11.4 the test passes INT8 / FLOAT explicitly (the defaults of the 10.x overloads it reproduces).
"""
import ast

import numpy as np

import reftrt as trt
from tests.cookbook.harness import assert_case, run
from tests.cookbook.logs import load_log

LOG = load_log("Convolution")
IS_11 = trt.__version__.startswith("11.")
W = np.ascontiguousarray(np.power(10, range(4, -5, -1), dtype=np.float32).reshape(1, 1, 3, 3))
B = np.zeros(1, dtype=np.float32)


def tiled(channels):
    data = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)
    return np.tile(data, (1, channels, 2, 3)) + 1


def logged_coverage(case):
    line = next(text for text in case.text if "Non-callable attributions:" in text)
    return ast.literal_eval(line.split("attributions:", 1)[1].strip())


def coverage(layer):
    """What the Cookbook's check_api_coverage lists: the layer's own non-callable public members."""
    base = set(dir(trt.ILayer))
    return sorted(k for k in dir(type(layer))
                  if not k.startswith("_") and k not in base and not callable(getattr(layer, k)))


def quantize(network, tensor, scale):
    if IS_11:
        return network.add_quantize(tensor, scale, trt.DataType.INT8)
    return network.add_quantize(tensor, scale)


def dequantize(network, tensor, scale):
    if IS_11:
        return network.add_dequantize(tensor, scale, trt.DataType.FLOAT)
    return network.add_dequantize(tensor, scale)


def test_case_simple():
    seen = {}

    def build(b):
        tensor = b.network.add_input("tensor", b.trt.float32, (1, 1, 6, 9))
        layer = b.network.add_convolution_nd(tensor, 1, [3, 3], b.trt.Weights(W), b.trt.Weights(B))
        layer.num_output_maps = 1
        layer.kernel_size_nd = [3, 3]
        layer.kernel = b.trt.Weights(W)
        layer.bias = b.trt.Weights(B)
        assert layer.num_output_maps == 1 and layer.kernel_size_nd == (3, 3) and layer.num_groups == 1
        assert layer.stride_nd == (1, 1) and layer.dilation_nd == (1, 1) and layer.padding_nd == (0, 0)
        assert layer.padding_mode == b.trt.PaddingMode.EXPLICIT_ROUND_DOWN
        np.testing.assert_array_equal(layer.kernel.numpy(), W.ravel())
        seen["coverage"] = coverage(layer)
        return [layer.get_output(0)]

    case = LOG.case("case_simple")
    assert_case(run(build, {"tensor": tiled(1)}), case)
    assert seen["coverage"] == logged_coverage(case)


def test_case_stride_dilation_pad():
    def build(b):
        tensor = b.network.add_input("tensor", b.trt.float32, (1, 1, 6, 9))
        layer = b.network.add_convolution_nd(tensor, 1, [3, 3], b.trt.Weights(W), b.trt.Weights(B))
        layer.stride_nd = [2, 2]
        layer.dilation_nd = [2, 2]
        layer.padding_nd = [1, 1]
        layer.pre_padding = [1, 1]
        layer.post_padding = [1, 1]
        layer.padding_mode = b.trt.PaddingMode.SAME_UPPER
        return [layer.get_output(0)]

    assert_case(run(build, {"tensor": tiled(1)}), LOG.case("case_stride_dilation_pad"))


def test_case_group():
    def build(b):
        tensor = b.network.add_input("tensor", b.trt.float32, (1, 2, 6, 9))
        w = np.ascontiguousarray(np.concatenate([W, -W], 0))
        layer = b.network.add_convolution_nd(tensor, 2, [3, 3], b.trt.Weights(w),
                                             b.trt.Weights(np.zeros(2, dtype=np.float32)))
        layer.num_groups = 2
        return [layer.get_output(0)]

    assert_case(run(build, {"tensor": tiled(2)}), LOG.case("case_group"))


def test_case_3d():
    data = tiled(2).reshape(1, 1, 2, 6, 9)

    def build(b):
        tensor = b.network.add_input("tensor", b.trt.float32, data.shape)
        w = np.ascontiguousarray(np.concatenate([W, -W], 0))
        layer = b.network.add_convolution_nd(tensor, 1, [3, 3], b.trt.Weights(w), b.trt.Weights(B))
        return [layer.get_output(0)]

    assert_case(run(build, {"tensor": data}), LOG.case("case_3d"), atol=float(np.spacing(np.float32(1e5))))


def test_case_int8qdq():
    def build(b):
        net = b.network
        tensor = net.add_input("tensor", b.trt.float32, (1, 1, 6, 9))
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
        layer = net.add_convolution_nd(dq0.get_output(0), 1, [3, 3], b.trt.Weights(), b.trt.Weights(B))
        layer.set_input(1, dq1.get_output(0))
        assert q0.to_type == b.trt.DataType.INT8 and dq0.to_type == b.trt.DataType.FLOAT
        assert q1.get_output(0).dtype == b.trt.DataType.INT8
        return [layer.get_output(0)]

    assert_case(run(build, {"tensor": tiled(1)}), LOG.case("case_int8qdq"))


def test_padding_mode_members():
    assert LOG.enums["PaddingMode"] == {name: int(m) for name, m in trt.PaddingMode.__members__.items()}

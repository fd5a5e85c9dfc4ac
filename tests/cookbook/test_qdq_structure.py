"""Cookbook QDQStructure (the Quantize and Dequantize layers' Cookbook cases): every case of
cookbook/02-API/Layer/QDQStructure/main.py.

No log of these cases is among the recorded TensorRT outputs, so the expected values are computed here by hand with
numpy from the documented formulas (quantize: clamp(round_half_even(x / scale)), dequantize: x * scale), and E4M3
rounding written out independently of torch's float8 conversion. BuilderFlag.INT8 (set by the 10.x cases) does not
exist in the TensorRT 11 API; the strongly typed three-argument forms are used there.
"""
import numpy as np

import reftrt as trt
from tests.cookbook.harness import run

IS_11 = trt.__version__.startswith("11.")
DATA = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
OUT = "(Unnamed Layer* {}) [Dequantize]_output"


def quantize_int8(x, scale):
    return np.clip(np.round(x / scale), -128, 127)


def round_e4m3(v):
    """Round float64 values to the nearest float8 E4M3 value (ties to even), saturating at +-448."""
    v = np.clip(np.asarray(v, dtype=np.float64), -448.0, 448.0)
    magnitude = np.abs(v)
    exponent = np.floor(np.log2(np.where(magnitude > 0, magnitude, 1.0)))
    exponent = np.maximum(exponent, -6.0)  # subnormals share the smallest normal's quantum
    quantum = np.exp2(exponent - 3)
    return np.round(v / quantum) * quantum


def add_qdq(b, q_scale, dq_scale, axis_q=None, axis_dq=None, zero_point=None, three_argument=False):
    net = b.network
    tensor = net.add_input("tensor", b.trt.float32, DATA.shape)
    s_q = net.add_constant(q_scale.shape, np.ascontiguousarray(q_scale, dtype=np.float32))
    s_dq = net.add_constant(dq_scale.shape, np.ascontiguousarray(dq_scale, dtype=np.float32))
    if three_argument:
        q = net.add_quantize(tensor, s_q.get_output(0), b.trt.DataType.FP8)
        dq = net.add_dequantize(q.get_output(0), s_dq.get_output(0), b.trt.DataType.FLOAT)
    elif IS_11:
        q = net.add_quantize(tensor, s_q.get_output(0), b.trt.DataType.INT8)
        dq = net.add_dequantize(q.get_output(0), s_dq.get_output(0), b.trt.DataType.FLOAT)
    else:
        b.config.set_flag(b.trt.BuilderFlag.INT8)
        q = net.add_quantize(tensor, s_q.get_output(0))
        dq = net.add_dequantize(q.get_output(0), s_dq.get_output(0))
    if axis_q is not None:
        q.axis = axis_q
    if zero_point is not None:
        zp = net.add_constant(zero_point.shape, zero_point)
        q.set_input(2, zp.get_output(0))
    if axis_dq is not None:
        dq.axis = axis_dq
    return [dq.get_output(0)]


def test_case_simple():
    scale = np.array([60 / 127], dtype=np.float32)

    def build(b):
        outputs = add_qdq(b, scale.reshape(()), np.array(1, dtype=np.float32), axis_q=0, axis_dq=0)
        layer_q = b.network.get_layer(2)
        assert layer_q.axis == 0 and layer_q.to_type == b.trt.DataType.INT8
        return outputs

    result = run(build, {"tensor": DATA})
    assert result.built, result.explain()
    np.testing.assert_array_equal(result[OUT.format(3)], quantize_int8(DATA, scale[0]))
    assert result.io[1].dtype == "DataType.FLOAT"


def test_case_axis():
    scale = np.array([40, 80, 120, 160], dtype=np.float32) / np.float32(127)

    def build(b):
        return add_qdq(b, scale, np.array(1, dtype=np.float32), axis_q=1)

    result = run(build, {"tensor": DATA})
    assert result.built, result.explain()
    np.testing.assert_array_equal(result[OUT.format(3)], quantize_int8(DATA, scale.reshape(1, 4, 1)))


def test_case_set_input_zero_point():
    scale = np.array([20, 40, 60, 80], dtype=np.float32) / np.float32(127)

    def build(b):
        return add_qdq(b, scale, np.array(1, dtype=np.float32), axis_q=1, axis_dq=0,
                       zero_point=np.zeros(4, dtype=np.float32))

    result = run(build, {"tensor": DATA})
    assert result.built, result.explain()
    expected = quantize_int8(DATA, scale.reshape(1, 4, 1))
    assert expected.max() == 127  # saturation happens in this case
    np.testing.assert_array_equal(result[OUT.format(3)], expected)


def test_case_three_argument():
    scale = np.float32(60 / 127)

    def build(b):
        outputs = add_qdq(b, np.array(scale), np.array(1, dtype=np.float32), three_argument=True)
        assert b.network.get_layer(2).get_output(0).dtype == b.trt.DataType.FP8
        return outputs

    flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    result = run(build, {"tensor": DATA}, network_flags=flags)
    assert result.built, result.explain()
    expected = round_e4m3((DATA / scale).astype(np.float32))
    np.testing.assert_array_equal(result[OUT.format(3)], expected)
    assert expected.max() == 128  # 59 / (60 / 127) = 124.9 rounds to the E4M3 value 128

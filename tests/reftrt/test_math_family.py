"""The math-family layers beyond the Cookbook cases: Activation, Unary, ElementWise, Reduce, SoftMax, TopK,
MatrixMultiply, Einsum, Cumulative, Normalization, Select, Cast / Identity.

Every enum value of every option runs on fresh seeded random data against a float64 PyTorch / numpy reference:
float32 results within 1e-5 relative (plus 1e-6 absolute for values near 0); float16 inputs give HALF outputs within
FP16_RTOL = FP16_ATOL = 2e-3 of the reference computed from the same float16 inputs (float16 has a 2**-11 relative
rounding step; the layer computes in float32 and rounds once, the reference rounds nowhere). Integer and bool results
are exact. Invalid configurations make the build return None with an error that names the layer, as TensorRT does.
"""
import math
import os
import subprocess
import sys
import zlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import reftrt as trt
from tests.cookbook.harness import run

IS_11 = trt.__version__.startswith("11.")
FP16_RTOL = FP16_ATOL = 2e-3
F32, F16, I32, I64, BOOL = trt.float32, trt.float16, trt.int32, trt.int64, trt.bool
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def rng(seed):
    return np.random.default_rng(seed)


def trt_type(array):
    return {np.float32: F32, np.float16: F16, np.int32: I32, np.int64: I64, np.bool_: BOOL,
            np.int8: trt.int8, np.uint8: trt.uint8}[array.dtype.type]


def run_layer(make, *arrays, names=None, outputs=None):
    """Build a network with one input per array, `make(network, *tensors)` returning a layer (or a tensor list), run
    it and return (result, output arrays)."""
    names = names or [f"x{i}" for i in range(len(arrays))]
    made = {}

    def build(b):
        tensors = [b.network.add_input(n, trt_type(a), a.shape) for n, a in zip(names, arrays)]
        layer = make(b.network, *tensors)
        made["layer"] = layer
        if isinstance(layer, list):
            return layer
        return [layer.get_output(i) for i in range(outputs or layer.num_outputs)]

    result = run(build, dict(zip(names, arrays)))
    assert result.built, result.explain()
    assert result.ran, result.error
    outs = [result.outputs[line.name] for line in result.io if line.mode == "Output"]
    return made["layer"], outs


def assert_rejected(make, *arrays, names=None, words=()):
    """The build fails and an error names the layer (and contains `words`)."""
    names = names or [f"x{i}" for i in range(len(arrays))]
    made = {}

    def build(b):
        tensors = [b.network.add_input(n, trt_type(a), a.shape) for n, a in zip(names, arrays)]
        layer = make(b.network, *tensors)
        layer.name = "the_layer"
        made["layer"] = layer
        return [layer.get_output(0)]

    result = run(build, dict(zip(names, arrays)))
    assert not result.built, "the build should have failed"
    errors = [text for severity, text in result.messages if severity in ("ERROR", "INTERNAL_ERROR")]
    assert any("the_layer" in e for e in errors), result.explain()
    for word in words:
        assert any(word in e for e in errors), (word, result.explain())


def close32(got, want, rtol=1e-5, atol=1e-6):
    want = np.asarray(want, dtype=np.float64)
    assert got.dtype == np.float32, got.dtype
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=rtol, atol=atol, equal_nan=True)


def close16(got, want):
    assert got.dtype == np.float16, got.dtype
    np.testing.assert_allclose(got.astype(np.float64), np.asarray(want, np.float64), rtol=FP16_RTOL,
                               atol=FP16_ATOL, equal_nan=True)


def t64(a):
    return torch.from_numpy(np.asarray(a, dtype=np.float64))


# ---------------------------------------------------------------------------------------------------------- Activation

def _activation_ref(name, x, a, b):
    x = t64(x)
    ref = {
        "RELU": lambda: torch.relu(x), "SIGMOID": lambda: torch.sigmoid(x), "TANH": lambda: torch.tanh(x),
        "LEAKY_RELU": lambda: torch.where(x >= 0, x, a * x), "ELU": lambda: torch.where(x >= 0, x, a * torch.expm1(x)),
        "SELU": lambda: torch.where(x > 0, b * x, b * (a * torch.exp(x) - a)),
        "SOFTSIGN": lambda: x / (1 + x.abs()), "SOFTPLUS": lambda: a * torch.log(torch.exp(b * x) + 1),
        "CLIP": lambda: torch.clamp(x, a, b), "HARD_SIGMOID": lambda: torch.clamp(a * x + b, 0, 1),
        "SCALED_TANH": lambda: a * torch.tanh(b * x), "THRESHOLDED_RELU": lambda: torch.where(x > a, x, 0 * x),
        "GELU_ERF": lambda: 0.5 * x * (1 + torch.erf(x / math.sqrt(2))),
        "GELU_TANH": lambda: 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))),
    }[name]
    return ref().numpy()


@pytest.mark.parametrize("name", sorted(trt.ActivationType.__members__))
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_activation_every_type(name, dtype):
    r = rng(zlib.crc32(name.encode()) % 1000)  # hash(str) is randomised per process
    x = (r.standard_normal((4, 5, 6)) * 3).astype(dtype)
    a, b = float(r.uniform(0.2, 1.5)), float(r.uniform(0.5, 2.0))
    if name == "CLIP":
        a, b = -1.0, 1.5

    def make(net, t):
        layer = net.add_activation(t, getattr(trt.ActivationType, name))
        layer.alpha, layer.beta = a, b
        return layer

    layer, (out,) = run_layer(make, x)
    want = _activation_ref(name, x.astype(np.float64), np.float64(np.float32(a)), np.float64(np.float32(b)))
    (close32 if dtype == np.float32 else close16)(out, want)


def test_activation_thresholded_relu_boundary():
    # NvInfer.h: x > alpha ? x : 0 (not the Operators page's max(0, x - alpha)): x == alpha gives 0.
    x = np.array([[0.5, 1.0, 1.5, 3.0]], np.float32)

    def make(net, t):
        layer = net.add_activation(t, trt.ActivationType.THRESHOLDED_RELU)
        layer.alpha = 1.0
        return layer

    _, (out,) = run_layer(make, x)
    np.testing.assert_array_equal(out, [[0, 0, 1.5, 3.0]])


def test_activation_integer_relu_only():
    x = np.array([[-3, 0, 5]], np.int32)
    _, (out,) = run_layer(lambda net, t: net.add_activation(t, trt.ActivationType.RELU), x)
    assert out.dtype == np.int32 and out.tolist() == [[0, 0, 5]]
    _, (out,) = run_layer(lambda net, t: net.add_activation(t, trt.ActivationType.RELU), x.astype(np.int64))
    assert out.dtype == np.int64
    for kind in (trt.ActivationType.CLIP, trt.ActivationType.SIGMOID):
        assert_rejected(lambda net, t: net.add_activation(t, kind), x, words=[str(kind)])
    assert_rejected(lambda net, t: net.add_activation(t, trt.ActivationType.RELU), np.zeros((2,), bool))


# --------------------------------------------------------------------------------------------------------------- Unary

_DOMAINS = {"LOG": (0.1, 5), "SQRT": (0.0, 5), "RECIP": (0.5, 3), "ASIN": (-0.95, 0.95), "ACOS": (-0.95, 0.95),
            "ACOSH": (1.05, 5), "ATANH": (-0.9, 0.9), "TAN": (-1.2, 1.2), "EXP": (-4, 4), "SINH": (-4, 4),
            "COSH": (-4, 4)}
_NUMPY_UNARY = {"EXP": np.exp, "LOG": np.log, "SQRT": np.sqrt, "RECIP": lambda v: 1 / v, "ABS": np.abs,
                "NEG": np.negative, "SIN": np.sin, "COS": np.cos, "TAN": np.tan, "SINH": np.sinh, "COSH": np.cosh,
                "ASIN": np.arcsin, "ACOS": np.arccos, "ATAN": np.arctan, "ASINH": np.arcsinh, "ACOSH": np.arccosh,
                "ATANH": np.arctanh, "CEIL": np.ceil, "FLOOR": np.floor, "ERF": lambda v: torch.erf(t64(v)).numpy(),
                "SIGN": np.sign, "ROUND": np.round}


@pytest.mark.parametrize("name", sorted(_NUMPY_UNARY))
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_unary_float_ops(name, dtype):
    lo, hi = _DOMAINS.get(name, (-4, 4))
    x = rng(7).uniform(lo, hi, (3, 4, 5)).astype(dtype)
    if name in ("ROUND", "CEIL", "FLOOR", "SIGN"):
        x.reshape(-1)[:6] = [-2.5, -1.5, -0.5, 0.5, 1.5, 0.0]  # ROUND: half to even
    _, (out,) = run_layer(lambda net, t: net.add_unary(t, getattr(trt.UnaryOperation, name)), x)
    want = _NUMPY_UNARY[name](x.astype(np.float64))
    (close32 if dtype == np.float32 else close16)(out, want)


def test_unary_round_half_to_even():
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.6], np.float32)
    _, (out,) = run_layer(lambda net, t: net.add_unary(t, trt.UnaryOperation.ROUND), x)
    np.testing.assert_array_equal(out, [-2, -2, -0, 0, 2, 2, 3])


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64])
@pytest.mark.parametrize("name", ["ABS", "NEG", "SIGN"])
def test_unary_integer_ops(name, dtype):
    x = rng(3).integers(-100, 100, (4, 6)).astype(dtype)
    _, (out,) = run_layer(lambda net, t: net.add_unary(t, getattr(trt.UnaryOperation, name)), x)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, {"ABS": np.abs, "NEG": np.negative, "SIGN": np.sign}[name](x))


def test_unary_not_isinf_isnan():
    b = rng(4).random((3, 4)) > 0.5
    _, (out,) = run_layer(lambda net, t: net.add_unary(t, trt.UnaryOperation.NOT), b)
    assert out.dtype == np.bool_ and (out == ~b).all()
    for dtype in (np.float32, np.float16):
        x = np.array([1.0, np.inf, -np.inf, np.nan, 0.0], dtype)
        _, (isinf,) = run_layer(lambda net, t: net.add_unary(t, trt.UnaryOperation.ISINF), x)
        _, (isnan,) = run_layer(lambda net, t: net.add_unary(t, trt.UnaryOperation.ISNAN), x)
        assert isinf.dtype == isnan.dtype == np.bool_
        assert isinf.tolist() == [False, True, True, False, False]
        assert isnan.tolist() == [False, False, False, True, False]


@pytest.mark.parametrize("name, array", [
    ("EXP", np.ones((2,), np.int32)), ("ISNAN", np.ones((2,), np.int32)), ("NOT", np.ones((2,), np.float32)),
    ("ABS", np.ones((2,), bool)), ("SIN", np.ones((2,), np.int8)), ("NEG", np.ones((2,), np.uint8)),
])
def test_unary_rejected_types(name, array):
    assert_rejected(lambda net, t: net.add_unary(t, getattr(trt.UnaryOperation, name)), array, words=[name])


# --------------------------------------------------------------------------------------------------------- ElementWise

_EW_FLOAT = {"SUM": np.add, "PROD": np.multiply, "MAX": np.maximum, "MIN": np.minimum, "SUB": np.subtract,
             "DIV": np.divide, "POW": np.power, "FLOOR_DIV": lambda a, b: np.floor(a / b)}
_EW_COMPARE = {"EQUAL": np.equal, "GREATER": np.greater, "LESS": np.less}
_EW_LOGIC = {"AND": np.logical_and, "OR": np.logical_or, "XOR": np.logical_xor}


def _ew(op):
    return lambda net, a, b: net.add_elementwise(a, b, getattr(trt.ElementWiseOperation, op))


@pytest.mark.parametrize("op", sorted(_EW_FLOAT))
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_elementwise_float_ops(op, dtype):
    r = rng(11)
    a = r.uniform(0.5, 3, (2, 1, 5)).astype(dtype)  # broadcasts against b's (2, 4, 1)
    b = r.uniform(0.5, 2, (2, 4, 1)).astype(dtype)
    if op in ("SUB", "MAX", "MIN", "SUM", "PROD"):
        a = (a - 1.5).astype(dtype)
    _, (out,) = run_layer(_ew(op), a, b)
    assert out.shape == (2, 4, 5)
    want = _EW_FLOAT[op](a.astype(np.float64), b.astype(np.float64))
    (close32 if dtype == np.float32 else close16)(out, want)


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64])
def test_elementwise_integer_ops(dtype):
    r = rng(12)
    a = r.integers(-20, 20, (3, 8)).astype(dtype)
    b = r.integers(1, 6, (3, 8)).astype(dtype) * r.choice([-1, 1], (3, 8)).astype(dtype)
    exact = {"SUM": a + b, "PROD": a * b, "MAX": np.maximum(a, b), "MIN": np.minimum(a, b), "SUB": a - b,
             "DIV": (np.trunc(a / b)).astype(dtype),  # C division: toward zero
             "FLOOR_DIV": a // b}
    for op, want in exact.items():
        _, (out,) = run_layer(_ew(op), a, b)
        assert out.dtype == dtype, op
        np.testing.assert_array_equal(out, want.astype(dtype), err_msg=op)
    e = np.abs(b) % 3
    _, (out,) = run_layer(_ew("POW"), a, e.astype(dtype))
    np.testing.assert_array_equal(out, (a.astype(np.int64) ** e.astype(np.int64)).astype(dtype))
    if dtype != np.int8:
        for op, f in _EW_COMPARE.items():
            _, (out,) = run_layer(_ew(op), a, b)
            assert out.dtype == np.bool_
            np.testing.assert_array_equal(out, f(a, b), err_msg=op)


def test_elementwise_integer_pow_negative_exponent_and_division_by_zero():
    a = np.array([2, -3, 7, 0], np.int32)
    _, (out,) = run_layer(_ew("POW"), a, np.array([-1, -1, 0, 2], np.int32))
    assert out.tolist() == [0, 0, 1, 0]  # computed in floating point, truncated: 2**-1 = 0.5 -> 0
    _, (out,) = run_layer(_ew("DIV"), a, np.array([0, 2, 0, 1], np.int32))
    assert out.tolist() == [-1, -1, -1, 0]  # no trap; a zero divisor gives -1 (-3 / 2 truncates to -1 too)


def test_elementwise_logic_and_compare():
    r = rng(13)
    p, q = r.random((4, 5)) > 0.5, r.random((4, 1)) > 0.5
    for op, f in _EW_LOGIC.items():
        _, (out,) = run_layer(_ew(op), p, q)
        assert out.dtype == np.bool_
        np.testing.assert_array_equal(out, f(p, q), err_msg=op)
    x, y = r.integers(0, 3, (4, 5)).astype(np.float32), r.integers(0, 3, (1, 5)).astype(np.float32)
    for dtype in (np.float32, np.float16):
        for op, f in _EW_COMPARE.items():
            _, (out,) = run_layer(_ew(op), x.astype(dtype), y.astype(dtype))
            assert out.dtype == np.bool_
            np.testing.assert_array_equal(out, f(x, y), err_msg=op)


@pytest.mark.parametrize("op, a, b, words", [
    ("SUM", np.ones((2, 3), np.float32), np.ones((2, 3), np.float16), ["same type"]),
    ("SUM", np.ones((2, 3), np.float32), np.ones((3,), np.float32), ["same rank"]),
    ("SUM", np.ones((2, 3), np.float32), np.ones((2, 4), np.float32), ["not broadcastable"]),
    ("SUM", np.ones((2,), bool), np.ones((2,), bool), ["SUM"]),
    ("AND", np.ones((2,), np.int32), np.ones((2,), np.int32), ["AND"]),
    ("EQUAL", np.ones((2,), bool), np.ones((2,), bool), ["EQUAL"]),
    ("GREATER", np.ones((2,), np.int8), np.ones((2,), np.int8), ["GREATER"]),
    ("DIV", np.ones((2,), np.uint8), np.ones((2,), np.uint8), ["DIV"]),
])
def test_elementwise_rejected(op, a, b, words):
    assert_rejected(_ew(op), a, b, words=words)


def test_elementwise_broadcast_to_zero_length():
    a, b = np.ones((1, 0, 3), np.float32), np.ones((2, 1, 3), np.float32)
    _, (out,) = run_layer(_ew("SUM"), a, b)
    assert out.shape == (2, 0, 3)


# -------------------------------------------------------------------------------------------------------------- Reduce

_REDUCE = {"SUM": np.sum, "PROD": np.prod, "MAX": np.max, "MIN": np.min, "AVG": np.mean}
_REDUCE_OPS = sorted(_REDUCE)


@pytest.mark.parametrize("op", _REDUCE_OPS)
@pytest.mark.parametrize("mask", [0b0001, 0b0100, 0b1010, 0b1111])
@pytest.mark.parametrize("keep_dims", [False, True])
def test_reduce_float(op, mask, keep_dims):
    x = rng(21).uniform(0.5, 1.5, (2, 3, 4, 5)).astype(np.float32)
    axes = tuple(i for i in range(4) if mask >> i & 1)
    layer, (out,) = run_layer(lambda net, t: net.add_reduce(t, getattr(trt.ReduceOperation, op), mask, keep_dims), x)
    close32(out, _REDUCE[op](x.astype(np.float64), axis=axes, keepdims=keep_dims))
    assert layer.get_output(0).shape == out.shape


@pytest.mark.parametrize("op", _REDUCE_OPS)
def test_reduce_float16_and_integers(op):
    x = rng(22).uniform(0.5, 1.5, (3, 4, 5)).astype(np.float16)
    _, (out,) = run_layer(lambda net, t: net.add_reduce(t, getattr(trt.ReduceOperation, op), 0b110, False), x)
    close16(out, _REDUCE[op](x.astype(np.float64), axis=(1, 2)))
    for dtype in (np.int32, np.int64, np.int8):
        xi = rng(23).integers(-3, 4, (3, 4, 5)).astype(dtype)
        _, (out,) = run_layer(lambda net, t: net.add_reduce(t, getattr(trt.ReduceOperation, op), 0b100, True), xi)
        assert out.dtype == dtype
        if op == "AVG":  # integer average truncates toward zero
            want = np.trunc(xi.astype(np.float64).sum(axis=2, keepdims=True) / 5)
        else:
            want = _REDUCE[op](xi.astype(np.int64), axis=2, keepdims=True)
        np.testing.assert_array_equal(out, want.astype(dtype))


def test_reduce_empty_volume_and_all_axes():
    x = np.zeros((2, 0, 3), np.float32)
    want = {"SUM": 0, "PROD": 1, "MAX": -np.inf, "MIN": np.inf, "AVG": np.nan}
    for op, value in want.items():
        _, (out,) = run_layer(lambda net, t: net.add_reduce(t, getattr(trt.ReduceOperation, op), 0b010, False), x)
        assert out.shape == (2, 3)
        np.testing.assert_array_equal(out, np.full((2, 3), value, np.float32))
    xi = np.zeros((0, 2), np.int32)
    _, (out,) = run_layer(lambda net, t: net.add_reduce(t, trt.ReduceOperation.MAX, 1, False), xi)
    assert out.tolist() == [np.iinfo(np.int32).min] * 2
    y = rng(24).random((2, 3)).astype(np.float32)
    layer, (out,) = run_layer(lambda net, t: net.add_reduce(t, trt.ReduceOperation.SUM, 0b11, False), y)
    assert out.shape == () and layer.get_output(0).shape == ()
    close32(out, y.astype(np.float64).sum())
    _, (out,) = run_layer(lambda net, t: net.add_reduce(t, trt.ReduceOperation.SUM, 0, False), y)
    np.testing.assert_array_equal(out, y)  # reftrt's choice for axes = 0: nothing is reduced


def test_reduce_rejected():
    x = np.ones((2, 3), np.float32)
    assert_rejected(lambda net, t: net.add_reduce(t, trt.ReduceOperation.SUM, 0b100, False), x, words=["axes"])
    assert_rejected(lambda net, t: net.add_reduce(t, trt.ReduceOperation.SUM, 1, False), np.ones((2,), bool))
    assert_rejected(lambda net, t: net.add_reduce(t, trt.ReduceOperation.SUM, 0, False), np.ones((), np.float32),
                    words=["rank"])
    if IS_11:
        assert_rejected(lambda net, t: net.add_reduce(t, trt.ReduceOperation.NONE, 1, False), x, words=["NONE"])
    with pytest.raises(TypeError):
        run_layer(lambda net, t: net.add_reduce(t, trt.ReduceOperation.SUM, -1, False), x)


# ------------------------------------------------------------------------------------------------------------- SoftMax

@pytest.mark.parametrize("rank", [1, 2, 3, 4, 5])
def test_softmax_default_axis_and_every_axis(rank):
    shape = (2, 3, 4, 5, 6)[:rank]
    x = rng(31).standard_normal(shape).astype(np.float32)
    layer, (out,) = run_layer(lambda net, t: net.add_softmax(t), x)
    default = max(0, rank - 3)  # NvInfer.h: the number of axes minus three, 0 below three axes
    assert layer.axes == 1 << default
    close32(out, torch.softmax(t64(x), default).numpy())
    for axis in range(rank):
        def make(net, t):
            layer = net.add_softmax(t)
            layer.axes = 1 << axis
            return layer
        _, (out,) = run_layer(make, x)
        close32(out, torch.softmax(t64(x), axis).numpy())
        _, (out16,) = run_layer(make, x.astype(np.float16))
        close16(out16, torch.softmax(t64(x.astype(np.float16)), axis).numpy())


def test_softmax_rejected():
    def with_axes(mask):
        def make(net, t):
            layer = net.add_softmax(t)
            layer.axes = mask
            return layer
        return make

    x = np.ones((2, 3), np.float32)
    assert_rejected(with_axes(0b11), x, words=["exactly one"])
    assert_rejected(with_axes(0), x, words=["exactly one"])
    assert_rejected(with_axes(0b100), x, words=["rank"])
    assert_rejected(lambda net, t: net.add_softmax(t), np.ones((2, 3), np.int32))


# ---------------------------------------------------------------------------------------------------------------- TopK

@pytest.mark.parametrize("op", ["MAX", "MIN"])
@pytest.mark.parametrize("axis", [1, 2, 3, 4])
def test_topk_every_axis(op, axis):
    x = rng(41).permutation(2 * 3 * 4 * 5 * 6).astype(np.float32).reshape(2, 3, 4, 5, 6)
    k = min(3, x.shape[axis])
    layer, (values, indices) = run_layer(
        lambda net, t: net.add_topk(t, getattr(trt.TopKOperation, op), k, 1 << axis), x)
    ref = torch.topk(torch.from_numpy(x), k, dim=axis, largest=op == "MAX", sorted=True)
    np.testing.assert_array_equal(values, ref.values.numpy())
    np.testing.assert_array_equal(indices, ref.indices.numpy())
    assert indices.dtype == np.int32 and layer.get_output(1).dtype == I32


@pytest.mark.parametrize("dtype", [np.float16, np.int32, np.int64])
def test_topk_types_and_ties(dtype):
    x = np.array([[3, 1, 3, 2, 1, 3]], dtype)
    _, (values, indices) = run_layer(lambda net, t: net.add_topk(t, trt.TopKOperation.MAX, 4, 1 << 1), x)
    assert values.dtype == dtype
    assert values.tolist() == [[3, 3, 3, 2]] and indices.tolist() == [[0, 2, 5, 3]]  # ties: smaller index first
    _, (values, indices) = run_layer(lambda net, t: net.add_topk(t, trt.TopKOperation.MIN, 3, 1 << 1), x)
    assert values.tolist() == [[1, 1, 2]] and indices.tolist() == [[1, 4, 3]]


@pytest.mark.skipif(not IS_11, reason="indices_type is TensorRT 11 API")
def test_topk_indices_type():
    x = rng(42).random((2, 6)).astype(np.float32)
    layer, (_, indices) = run_layer(
        lambda net, t: net.add_topk(t, trt.TopKOperation.MAX, 2, 1 << 1, trt.DataType.INT64), x)
    assert indices.dtype == np.int64 and layer.indices_type == trt.DataType.INT64

    def invalid(net, t):
        layer = net.add_topk(t, trt.TopKOperation.MAX, 2, 1 << 1)
        layer.indices_type = trt.DataType.FLOAT  # logs an error, keeps INT32
        assert layer.indices_type == trt.DataType.INT32
        return layer

    _, (_, indices) = run_layer(invalid, x)
    assert indices.dtype == np.int32


def test_topk_dynamic_k_and_k_setter():
    x = rng(43).permutation(40).astype(np.float32).reshape(4, 10)
    seen = {}

    def build(b):
        t = b.network.add_input("x", F32, x.shape)
        k = b.network.add_input("k", I32, [])
        b.profile.set_shape_input("k", [1], [3], [10])
        layer = b.network.add_topk(t, trt.TopKOperation.MIN, 1, 1 << 1)
        layer.set_input(1, k)
        seen["k"], seen["shape"] = layer.k, layer.get_output(0).shape
        return [layer.get_output(0), layer.get_output(1)]

    for k in (1, 4, 10):
        result = run(build, {"x": x, "k": np.array(k, np.int32)})
        values = result.outputs["(Unnamed Layer* 0) [TopK]_output"]
        np.testing.assert_array_equal(values, np.sort(x, axis=1)[:, :k])
    assert seen == {"k": -1, "shape": (4, -1)}

    def reset(net, t):
        layer = net.add_topk(t, trt.TopKOperation.MAX, 1, 1 << 1)
        layer.set_input(1, net.add_constant((), np.array(5, np.int32)).get_output(0))
        assert layer.k == -1 and layer.num_inputs == 2
        layer.k = 2  # "If a second input to this layer has been set, it will be reset to null by this method."
        assert layer.k == 2 and layer.num_inputs == 1
        return layer

    _, (values, _) = run_layer(reset, x)
    assert values.shape == (4, 2)


def test_topk_rejected():
    x = np.ones((2, 3, 4, 5, 6), np.float32)
    assert_rejected(lambda net, t: net.add_topk(t, trt.TopKOperation.MAX, 7, 1 << 4), x, words=["exceeds"])
    assert_rejected(lambda net, t: net.add_topk(t, trt.TopKOperation.MAX, 1, 1 << 0), x, words=["last four"])
    assert_rejected(lambda net, t: net.add_topk(t, trt.TopKOperation.MAX, 1, 0b110), x, words=["exactly one"])
    assert_rejected(lambda net, t: net.add_topk(t, trt.TopKOperation.MAX, 0, 1 << 4), x)
    assert_rejected(lambda net, t: net.add_topk(t, trt.TopKOperation.MAX, 1, 1), np.ones((3,), bool))


# ------------------------------------------------------------------------------------------------------ MatrixMultiply

_OPS = ["NONE", "TRANSPOSE", "VECTOR"]


def _matmul_operand(shape_batch, rows, cols, op, second):
    if op == "NONE":
        return shape_batch + (rows, cols)
    if op == "TRANSPOSE":
        return shape_batch + (cols, rows)
    return shape_batch + ((rows,) if second else (cols,))


@pytest.mark.parametrize("op0", _OPS)
@pytest.mark.parametrize("op1", _OPS)
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_matmul_every_operation_pair(op0, op1, dtype):
    m, k, n = 3, 5, 4
    r = rng(51)
    a = r.standard_normal(_matmul_operand((2, 1), m, k, op0, False)).astype(dtype)
    b = r.standard_normal(_matmul_operand((1, 3), k, n, op1, True)).astype(dtype)
    ta, tb = t64(a), t64(b)
    ta = ta.transpose(-1, -2) if op0 == "TRANSPOSE" else ta.unsqueeze(-2) if op0 == "VECTOR" else ta
    tb = tb.transpose(-1, -2) if op1 == "TRANSPOSE" else tb.unsqueeze(-1) if op1 == "VECTOR" else tb
    want = torch.matmul(ta, tb)
    want = want.squeeze(-1) if op1 == "VECTOR" else want
    want = want.squeeze(-2 if op1 != "VECTOR" else -1) if op0 == "VECTOR" else want
    layer, (out,) = run_layer(lambda net, x, y: net.add_matrix_multiply(
        x, getattr(trt.MatrixOperation, op0), y, getattr(trt.MatrixOperation, op1)), a, b)
    assert out.shape == tuple(want.shape) == tuple(layer.get_output(0).shape)
    (close32 if dtype == np.float32 else close16)(out, want.numpy())


def test_matmul_vector_rank1():
    a, b = rng(52).standard_normal(5).astype(np.float32), rng(53).standard_normal(5).astype(np.float32)
    V = trt.MatrixOperation.VECTOR
    _, (out,) = run_layer(lambda net, x, y: net.add_matrix_multiply(x, V, y, V), a, b)
    assert out.shape == ()
    close32(out, np.dot(a.astype(np.float64), b))


@pytest.mark.parametrize("a, b, op0, op1, words", [
    ((2, 3), (4, 5), "NONE", "NONE", ["inner"]),
    ((2, 2, 3), (3, 4), "NONE", "NONE", ["batch"]),
    ((2, 2, 3), (3, 3, 4), "NONE", "NONE", ["batch dimension"]),
    ((3,), (3, 4), "NONE", "NONE", ["at least 2"]),
])
def test_matmul_rejected(a, b, op0, op1, words):
    assert_rejected(lambda net, x, y: net.add_matrix_multiply(x, getattr(trt.MatrixOperation, op0), y,
                                                              getattr(trt.MatrixOperation, op1)),
                    np.ones(a, np.float32), np.ones(b, np.float32), words=words)


def test_matmul_rejected_types():
    N = trt.MatrixOperation.NONE
    assert_rejected(lambda net, x, y: net.add_matrix_multiply(x, N, y, N), np.ones((2, 2), np.int32),
                    np.ones((2, 2), np.int32))
    assert_rejected(lambda net, x, y: net.add_matrix_multiply(x, N, y, N), np.ones((2, 2), np.float32),
                    np.ones((2, 2), np.float16), words=["same type"])


# -------------------------------------------------------------------------------------------------------------- Einsum

@pytest.mark.parametrize("equation, shapes", [
    ("ij,jk->ik", [(3, 4), (4, 5)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("ij->", [(3, 4)]),
    ("i,i->", [(6,), (6,)]), ("ik,k->i", [(3, 4), (4,)]), ("ii->i", [(4, 4)]), ("...ii->...i", [(2, 3, 3)]),
    ("ij,kl->ijkl", [(2, 3), (4, 1)]), ("ba", [(3, 4)]), ("ij , jk -> ki", [(2, 3), (3, 2)]),
    ("ij,jk->ik", [(3, 1), (4, 5)]),  # a length-1 dimension broadcasts
])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_einsum_equations(equation, shapes, dtype):
    arrays = [rng(61 + i).standard_normal(s).astype(dtype) for i, s in enumerate(shapes)]
    _, (out,) = run_layer(lambda net, *ts: net.add_einsum(list(ts), equation), *arrays)
    want = torch.einsum(equation.replace(" ", ""), *[t64(a) for a in arrays]).numpy()
    (close32 if dtype == np.float32 else close16)(out, want)


def test_einsum_invalid():
    net = trt.Builder(trt.Logger()).create_network()
    x = net.add_input("x", F32, (2, 3))
    for bad in ("iJ->i", "ij->ii", "ij->k", "ij->->i", "i.j", "ij,jk"):
        assert net.add_einsum([x], bad) is None, bad
    layer = net.add_einsum([x], "ij->ji")
    layer.equation = "i?j"  # not syntactically valid: kept as it was
    assert layer.equation == "ij->ji"
    assert_rejected(lambda net, t: _set_equation(net.add_einsum([t], "ij->ji"), "ijk->k"), np.ones((2, 3), np.float32),
                    words=["rank"])
    assert_rejected(lambda net, a, b: net.add_einsum([a, b], "ij,jk->ik"), np.ones((2, 3), np.float32),
                    np.ones((4, 2), np.float32), words=["lengths"])
    assert_rejected(lambda net, a, b: net.add_einsum([a, b], "ij,jk->ik"), np.ones((2, 3), np.float32),
                    np.ones((3, 2), np.float16), words=["same type"])
    assert_rejected(lambda net, t: net.add_einsum([t], "ij->ji"), np.ones((2, 3), np.int32))


def _set_equation(layer, equation):
    layer.equation = equation
    return layer


# ---------------------------------------------------------------------------------------------------------- Cumulative

needs_cumulative = pytest.mark.skipif(not hasattr(trt.INetworkDefinition, "add_cumulative"),
                                      reason="add_cumulative is TensorRT 11 API")


def _cumulative_ref(x, axis, exclusive, reverse):
    x = np.flip(x, axis) if reverse else x
    out = np.cumsum(x, axis=axis, dtype=np.float64 if x.dtype.kind == "f" else np.int64)
    if exclusive:
        out = out - x
    return np.flip(out, axis) if reverse else out


@needs_cumulative
@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("axis", [0, 2, -1, -3])
def test_cumulative(exclusive, reverse, axis):
    x = rng(71).uniform(-2, 2, (3, 4, 5)).astype(np.float32)

    def make(net, t, dtype=np.int32):
        a = net.add_constant((), np.array(axis, dtype)).get_output(0)
        return net.add_cumulative(t, a, trt.CumulativeOperation.SUM, exclusive, reverse)

    _, (out,) = run_layer(make, x)
    close32(out, _cumulative_ref(x.astype(np.float64), axis % 3, exclusive, reverse))
    xi = rng(72).integers(-5, 5, (3, 4, 5)).astype(np.int64)
    _, (out,) = run_layer(lambda net, t: make(net, t, np.int64), xi)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, _cumulative_ref(xi, axis % 3, exclusive, reverse))
    _, (out,) = run_layer(make, x.astype(np.float16))
    close16(out, _cumulative_ref(x.astype(np.float16).astype(np.float64), axis % 3, exclusive, reverse))


@needs_cumulative
def test_cumulative_rejected():
    x = np.ones((3, 4), np.float32)
    axis = np.array(2, np.int32)
    assert_rejected(lambda net, t: net.add_cumulative(t, net.add_constant((), axis).get_output(0),
                                                      trt.CumulativeOperation.SUM, False, False), x, words=["axis"])
    assert_rejected(lambda net, t, a: net.add_cumulative(t, a, trt.CumulativeOperation.SUM, False, False),
                    x, np.array([[0]], np.int32), words=["0-D"])
    assert_rejected(lambda net, t: net.add_cumulative(t, net.add_constant((), np.array(0, np.int32)).get_output(0),
                                                      trt.CumulativeOperation.SUM, False, False), np.ones((3,), bool))


def test_cumulative_absent_from_10_3():
    code = ("import reftrt as trt\n"
            "assert not hasattr(trt.INetworkDefinition, 'add_cumulative') and not hasattr(trt, 'ICumulativeLayer')\n"
            "assert not hasattr(trt, 'CumulativeOperation') and not hasattr(trt.ITopKLayer, 'indices_type')\n"
            "assert hasattr(trt.INormalizationLayer, 'compute_precision')\n"
            "assert not hasattr(trt.INormalizationLayer, 'is_v2')\n"
            "assert not hasattr(trt.INetworkDefinition, 'add_normalization_v2')\n"
            "assert not hasattr(trt.ReduceOperation, 'NONE')\n"
            "print('ok')\n")
    env = dict(os.environ, REFTRT_TRT_VERSION="10.3")
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr


# ------------------------------------------------------------------------------------------------------- Normalization

def _normalization(x, scale, bias, mask, groups=1, eps=1e-5, v2=IS_11):
    def make(net, t, s, b):
        add = net.add_normalization_v2 if v2 else net.add_normalization
        layer = add(t, s, b, mask)
        layer.num_groups = groups
        layer.epsilon = eps
        return layer
    return run_layer(make, x, scale, bias)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_normalization_layer_instance_group(dtype):
    r = rng(81)
    x = r.standard_normal((2, 6, 3, 4)).astype(dtype)
    tx = t64(x)
    # Layer norm over (C, H, W), per-element scale and bias.
    s, b = r.standard_normal((1, 6, 3, 4)).astype(dtype), r.standard_normal((1, 6, 3, 4)).astype(dtype)
    _, (out,) = _normalization(x, s, b, 0b1110, eps=1e-3)
    want = F.layer_norm(tx, (6, 3, 4), t64(s)[0], t64(b)[0], eps=float(np.float32(1e-3)))
    (close32 if dtype == np.float32 else close16)(out, want.numpy())
    # Instance norm: over (H, W), per-channel scale and bias.
    s, b = r.standard_normal((1, 6, 1, 1)).astype(dtype), r.standard_normal((1, 6, 1, 1)).astype(dtype)
    _, (out,) = _normalization(x, s, b, 0b1100)
    want = F.instance_norm(tx, weight=t64(s).reshape(6), bias=t64(b).reshape(6), eps=float(np.float32(1e-5)))
    (close32 if dtype == np.float32 else close16)(out, want.numpy())
    if not IS_11:
        return  # V2 group norm (per-channel scale) is TensorRT 11 API; V1's is checked below
    # Group norm, V2: per-channel scale and bias.
    _, (out,) = _normalization(x, s, b, 0b1100, groups=3)
    want = F.group_norm(tx, 3, t64(s).reshape(6), t64(b).reshape(6), eps=float(np.float32(1e-5)))
    (close32 if dtype == np.float32 else close16)(out, want.numpy())


def test_normalization_v1_group_scale_per_group():
    r = rng(82)
    x = r.standard_normal((2, 6, 5)).astype(np.float32)
    sg, bg = r.standard_normal((1, 3, 1)).astype(np.float32), r.standard_normal((1, 3, 1)).astype(np.float32)
    layer, (out,) = _normalization(x, sg, bg, 0b100, groups=3, v2=False)
    assert layer.name.endswith("[Normalization]")
    normalized = F.group_norm(t64(x), 3, eps=float(np.float32(1e-5))).reshape(2, 3, 2, 5)
    want = normalized * t64(sg).reshape(1, 3, 1, 1) + t64(bg).reshape(1, 3, 1, 1)
    close32(out, want.reshape(2, 6, 5).numpy())
    if not IS_11:
        return
    assert layer.is_v2 is False
    layer, _ = _normalization(x, np.ones((1, 6, 1), np.float32), np.zeros((1, 6, 1), np.float32), 0b100, groups=3)
    assert layer.is_v2 is True and layer.name.endswith("[NormalizationV2]")


def test_normalization_rejected():
    x = np.ones((2, 6, 4), np.float32)
    c = np.ones((1, 6, 1), np.float32)

    def make(groups=1, mask=0b100, s=c, b=c):
        def build(net, t, ss, bb):
            layer = net.add_normalization(t, ss, bb, mask)
            layer.num_groups = groups
            return layer
        return build, s, b

    for (build, s, b), words in [
        (make(groups=4), ["does not divide"]),
        (make(groups=2, mask=0b110), ["channel axis"]),
        (make(mask=0), ["at least one"]),
        (make(mask=0b1000), ["rank"]),
        (make(s=np.ones((1, 6, 1), np.float16), b=np.ones((1, 6, 1), np.float16)), ["same type"]),
        (make(s=np.ones((1, 5, 1), np.float32), b=np.ones((1, 5, 1), np.float32)), ["broadcast"]),
        (make(s=np.ones((6, 1), np.float32), b=np.ones((6, 1), np.float32)), ["rank"]),
    ]:
        assert_rejected(build, x, s, b, words=words)


# -------------------------------------------------------------------------------------------------------------- Select

@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int32, np.int64, np.bool_])
def test_select_types_and_broadcast(dtype):
    r = rng(91)
    cond = r.random((1, 4, 5)) > 0.5
    a = (r.standard_normal((3, 1, 5)) * 10).astype(dtype)
    b = (r.standard_normal((3, 4, 1)) * 10).astype(dtype)
    layer, (out,) = run_layer(lambda net, c, x, y: net.add_select(c, x, y), cond, a, b)
    assert out.dtype == dtype and out.shape == (3, 4, 5) == tuple(layer.get_output(0).shape)
    np.testing.assert_array_equal(out, np.where(cond, a, b))


def test_select_rejected():
    f = np.ones((2, 3), np.float32)
    assert_rejected(lambda net, c, x, y: net.add_select(c, x, y), f, f, f, words=["BOOL"])
    assert_rejected(lambda net, c, x, y: net.add_select(c, x, y), np.ones((2, 3), bool), f,
                    np.ones((2, 3), np.int32), words=["same type"])
    assert_rejected(lambda net, c, x, y: net.add_select(c, x, y), np.ones((2, 3), bool), f, np.ones((3,), np.float32),
                    words=["rank"])
    assert_rejected(lambda net, c, x, y: net.add_select(c, x, y), np.ones((2, 3), bool), f, np.ones((4, 3),
                                                                                                     np.float32))


# --------------------------------------------------------------------------------------------------- Cast and Identity

def test_cast_conversions():
    x = np.array([-300.7, -1.7, -0.5, 0.0, 0.4, 1.9, 255.9, 260.2, 5e9, np.nan], np.float32)
    expected = {
        trt.int32: [-300, -1, 0, 0, 0, 1, 255, 260, 2147483647, 0],  # truncation, saturation, NaN -> 0
        trt.int64: [-300, -1, 0, 0, 0, 1, 255, 260, 5000000000, 0],
        trt.uint8: [0, 0, 0, 0, 0, 1, 255, 4, 255, 0],  # Cast.log: negatives -> 0, above 255 the low 8 bits
        trt.bool: [True, True, True, False, True, True, True, True, True, True],
    }
    for dtype, want in expected.items():
        _, (out,) = run_layer(lambda net, t: net.add_cast(t, dtype), x)
        assert out.dtype == trt.nptype(dtype)
        assert out.tolist() == want, dtype
    _, (out,) = run_layer(lambda net, t: net.add_cast(t, trt.float16), x)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(out, x.astype(np.float16))  # 5e9 -> inf
    b = np.array([True, False])
    for dtype in (trt.float32, trt.int32, trt.int8, trt.uint8, trt.float16):
        _, (out,) = run_layer(lambda net, t: net.add_cast(t, dtype), b)
        assert out.tolist() == [1, 0]
    i = np.array([-129, 127, 300, 0], np.int32)
    _, (out,) = run_layer(lambda net, t: net.add_cast(t, trt.int8), i)
    assert out.tolist() == [127, 127, 44, 0]  # integer narrowing keeps the low bits
    _, (out,) = run_layer(lambda net, t: net.add_cast(t, trt.float32), i)
    assert out.dtype == np.float32 and out.tolist() == [-129, 127, 300, 0]


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int32, np.int64, np.int8, np.uint8, np.bool_])
def test_identity_keeps_type(dtype):
    x = (rng(95).standard_normal((2, 3)) * 5).astype(dtype)
    layer, (out,) = run_layer(lambda net, t: net.add_identity(t), x)
    assert out.dtype == dtype and layer.get_output(0).dtype == trt_type(x)
    np.testing.assert_array_equal(out, x)


# ------------------------------------------------------------------------------------------------------ Dynamic shapes

def test_dynamic_shapes_definition_time_and_run_time():
    seen = {}

    def build(b):
        x = b.network.add_input("x", F32, (-1, 4, -1))
        w = b.network.add_input("w", F32, (1, -1, 3))
        b.profile.set_shape("x", (1, 4, 1), (2, 4, 5), (4, 4, 8))
        b.profile.set_shape("w", (1, 1, 3), (1, 5, 3), (1, 8, 3))
        red = b.network.add_reduce(x, trt.ReduceOperation.MAX, 1 << 1, True)
        sm = b.network.add_softmax(x)
        sm.axes = 1 << 2
        mm = b.network.add_matrix_multiply(sm.get_output(0), trt.MatrixOperation.NONE, w, trt.MatrixOperation.NONE)
        top = b.network.add_topk(x, trt.TopKOperation.MAX, 2, 1 << 1)
        ew = b.network.add_elementwise(x, red.get_output(0), trt.ElementWiseOperation.SUB)
        cond = b.network.add_elementwise(ew.get_output(0), x, trt.ElementWiseOperation.LESS)
        sel = b.network.add_select(cond.get_output(0), x, red.get_output(0))
        einsum = b.network.add_einsum([x], "bcl->lc")
        outs = {"red": red, "mm": mm, "top": top, "sel": sel, "einsum": einsum}
        seen.update({k: tuple(v.get_output(0).shape) for k, v in outs.items()})
        for k, v in outs.items():
            v.get_output(0).name = k
        return [v.get_output(0) for v in outs.values()]

    r = rng(99)
    x, w = r.standard_normal((3, 4, 6)).astype(np.float32), r.standard_normal((1, 6, 3)).astype(np.float32)
    result = run(build, {"x": x, "w": w})
    assert seen == {"red": (-1, 1, -1), "mm": (-1, 4, 3), "top": (-1, 2, -1), "sel": (-1, 4, -1),
                    "einsum": (-1, 4)}
    tx = t64(x)
    close32(result.outputs["red"], x.max(axis=1, keepdims=True))
    close32(result.outputs["mm"], torch.matmul(torch.softmax(tx, 2), t64(w)).numpy())
    np.testing.assert_array_equal(result.outputs["top"], -np.sort(-x, axis=1)[:, :2])
    close32(result.outputs["sel"], np.where(x - x.max(axis=1, keepdims=True) < x, x, x.max(axis=1, keepdims=True)))
    close32(result.outputs["einsum"], x.astype(np.float64).sum(axis=0).T)


def test_strongly_typed_mismatch_names_the_layer():
    """A float16 tensor meeting a float32 one fails the build; the error names the offending layer."""
    def make(net, a, b):
        h = net.add_cast(a, trt.float16).get_output(0)
        return net.add_elementwise(h, b, trt.ElementWiseOperation.SUM)

    assert_rejected(make, np.ones((2,), np.float32), np.ones((2,), np.float32), words=["same type"])


def test_shape_tensor_arithmetic():
    """Reduce, ElementWise, Unary and Select on shape tensors (Shape -> ... -> Shuffle's reshape dimensions):
    the reshape resolves per run, and at definition time the dimension depending on the input reads -1."""
    seen = {}

    def build(b):
        x = b.network.add_input("x", F32, (-1, 3, 4))
        b.profile.set_shape("x", (1, 3, 4), (2, 3, 4), (6, 3, 4))
        shape = b.network.add_shape(x).get_output(0)
        volume = b.network.add_reduce(shape, trt.ReduceOperation.PROD, 1, True).get_output(0)  # [N * 12]
        three = b.network.add_constant((1,), np.array([3], np.int64)).get_output(0)
        rows = b.network.add_elementwise(volume, three, trt.ElementWiseOperation.FLOOR_DIV).get_output(0)
        minus = b.network.add_unary(three, trt.UnaryOperation.NEG).get_output(0)
        big = b.network.add_elementwise(rows, three, trt.ElementWiseOperation.GREATER).get_output(0)
        first = b.network.add_select(big, rows, minus).get_output(0)  # N*4 when > 3, else -3 (never taken here)
        dims = b.network.add_concatenation([first, three]).get_output(0)
        shuffle = b.network.add_shuffle(x)
        shuffle.set_input(1, dims)
        seen["shape"] = tuple(shuffle.get_output(0).shape)
        return [shuffle.get_output(0)]

    for n in (1, 2, 5):
        x = rng(100 + n).standard_normal((n, 3, 4)).astype(np.float32)
        result = run(build, {"x": x})
        assert result.ran, result.explain()
        (out,) = result.outputs.values()
        np.testing.assert_array_equal(out, x.reshape(n * 4, 3))
    assert seen["shape"] == (-1, 3)

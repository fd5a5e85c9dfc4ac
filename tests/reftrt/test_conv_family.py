"""Convolution, Deconvolution, Pooling, Padding, Scale, ParametricReLU, Quantize and Dequantize beyond the Cookbook:
fresh seeded random data against torch.nn.functional or hand-written references, every PaddingMode, PoolingType and
ScaleMode, dynamic shapes, float16 and invalid configurations.

References run in float64 from the exact inputs; float32 results are compared with rtol 1e-5 (atol 1e-5 for sums
of O(1) terms that may cancel). Float16 networks compute in float32 and round the output once, so they are compared
with a float64 reference from the same float16 inputs within rtol 2^-10 and atol 1e-3.
"""
import inspect
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import reftrt as trt
from tests.cookbook.harness import run
from tests.cookbook.test_qdq_structure import round_e4m3

IS_11 = trt.__version__.startswith("11.")
F32, F16, I8 = trt.DataType.FLOAT, trt.DataType.HALF, trt.DataType.INT8
MODES = [trt.PaddingMode.EXPLICIT_ROUND_DOWN, trt.PaddingMode.EXPLICIT_ROUND_UP, trt.PaddingMode.SAME_UPPER,
         trt.PaddingMode.SAME_LOWER]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def rng(seed):
    return np.random.default_rng(seed)


def single(build_layer, inputs, *, flags=0, profile=None, trt_dtype=None):
    """Build a network with one input per entry of `inputs` and the layer `build_layer(b, *tensors)` makes; return
    (result, the layer's output name, the layer)."""
    seen = {}

    def build(b):
        tensors = []
        for name, array in inputs.items():
            dtype = trt_dtype or {np.float32: F32, np.float16: F16, np.int32: trt.DataType.INT32,
                                  np.int8: I8}[array.dtype.type]
            shape = array.shape if profile is None else profile[name][0]
            tensors.append(b.network.add_input(name, dtype, shape))
            if profile is not None:
                b.profile.set_shape(name, *profile[name][1:])
        layer = build_layer(b, *tensors)
        seen["layer"] = layer
        return [layer.get_output(0)]

    result = run(build, inputs, network_flags=flags)
    layer = seen["layer"]
    return result, layer.get_output(0).name, layer


def output(build_layer, inputs, **kw):
    result, name, _ = single(build_layer, inputs, **kw)
    assert result.built, result.explain()
    assert result.ran, result.error
    return result[name]


def expect_build_error(build_layer, inputs, fragment=None, flags=0):
    result, _, layer = single(build_layer, inputs, flags=flags)
    assert not result.built, "the build should have failed"
    text = result.explain()
    assert layer.name in text, text
    if fragment is not None:
        assert fragment in text, text


def t64(array):
    return torch.from_numpy(np.asarray(array, dtype=np.float64))


def pad_spec(pads):
    spec = []
    for before, after in reversed(pads):
        spec += [before, after]
    return spec


def conv_geometry(mode, size, kernel, stride, dilation, pre, post):
    """(output size, pads before, pads after) of a convolution dimension, from NvInfer.h's PaddingMode formulas."""
    dk = 1 + dilation * (kernel - 1)
    padded = size + pre + post
    if mode == trt.PaddingMode.EXPLICIT_ROUND_DOWN:
        return math.floor((padded - dk) / stride) + 1, pre, post
    if mode == trt.PaddingMode.EXPLICIT_ROUND_UP:
        out = math.ceil((padded - dk) / stride) + 1
        return out, pre, post + max(0, (out - 1) * stride + dk - padded)
    out = math.ceil(size / stride)
    total = math.floor((size - 1) / stride) * stride + dk - size
    assert total >= 0
    if mode == trt.PaddingMode.SAME_UPPER:
        before = math.floor(total / 2)
    else:
        before = total - math.floor(total / 2)
    return out, before, total - before


# ---------------------------------------------------------------------------------------------------- convolution

CONV_CASES = [
    # c_in, k, groups, hw, kernel, stride, dilation, pre, post, bias
    (3, 4, 1, (9, 11), (3, 3), (1, 1), (1, 1), (0, 0), (0, 0), True),
    (4, 6, 2, (10, 7), (3, 2), (2, 1), (1, 2), (1, 0), (2, 1), True),
    (6, 6, 6, (8, 8), (3, 3), (1, 2), (2, 1), (1, 1), (1, 1), False),  # depthwise
    (4, 8, 4, (12, 9), (5, 3), (3, 2), (1, 1), (2, 1), (0, 2), True),
    (2, 3, 1, (5, 6), (1, 1), (2, 3), (1, 1), (0, 0), (1, 0), True),
]


@pytest.mark.parametrize("case", range(len(CONV_CASES)))
def test_conv2d_explicit_padding_against_torch(case):
    c_in, k, g, hw, kernel, stride, dilation, pre, post, bias = CONV_CASES[case]
    r = rng(100 + case)
    x = r.standard_normal((2, c_in) + hw).astype(np.float32)
    w = r.standard_normal((k, c_in // g) + kernel).astype(np.float32)
    b = r.standard_normal(k).astype(np.float32) if bias else None

    def make(net, t):
        layer = net.network.add_convolution_nd(t, k, kernel, w, b)
        layer.num_groups, layer.stride_nd, layer.dilation_nd = g, stride, dilation
        layer.pre_padding, layer.post_padding = pre, post
        return layer

    got = output(make, {"x": x})
    ref = F.conv2d(F.pad(t64(x), pad_spec(list(zip(pre, post)))), t64(w), None if b is None else t64(b),
                   stride=stride, dilation=dilation, groups=g)
    np.testing.assert_allclose(got, ref.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.name)
@pytest.mark.parametrize("geometry", [
    # (size, kernel, stride, dilation, pre, post) per spatial dimension
    ((7, 3, 2, 1, 1, 0), (10, 4, 3, 1, 0, 2)),
    ((8, 3, 3, 2, 2, 1), (6, 2, 1, 3, 1, 1)),
    ((5, 5, 2, 1, 0, 0), (9, 3, 4, 2, 1, 2)),
], ids=["g0", "g1", "g2"])
def test_conv2d_every_padding_mode(mode, geometry):
    r = rng(7)
    (h, kh, sh, dh, ph0, ph1), (wd, kw, sw, dw, pw0, pw1) = geometry
    x = r.standard_normal((1, 2, h, wd)).astype(np.float32)
    w = r.standard_normal((3, 2, kh, kw)).astype(np.float32)
    b = r.standard_normal(3).astype(np.float32)

    def make(net, t):
        layer = net.network.add_convolution_nd(t, 3, (kh, kw), w, b)
        layer.stride_nd, layer.dilation_nd = (sh, sw), (dh, dw)
        layer.pre_padding, layer.post_padding = (ph0, pw0), (ph1, pw1)
        layer.padding_mode = mode
        return layer

    oh, bh, ah = conv_geometry(mode, h, kh, sh, dh, ph0, ph1)
    ow, bw, aw = conv_geometry(mode, wd, kw, sw, dw, pw0, pw1)
    got = output(make, {"x": x})
    assert got.shape == (1, 3, oh, ow)
    ref = F.conv2d(F.pad(t64(x), [bw, aw, bh, ah]), t64(w), t64(b), stride=(sh, sw), dilation=(dh, dw))
    np.testing.assert_allclose(got, ref[:, :, :oh, :ow].numpy(), rtol=1e-5, atol=1e-5)


def test_conv3d_against_torch():
    r = rng(11)
    x = r.standard_normal((2, 4, 6, 7, 8)).astype(np.float32)
    w = r.standard_normal((6, 2, 3, 2, 3)).astype(np.float32)
    b = r.standard_normal(6).astype(np.float32)
    mode = trt.PaddingMode.SAME_LOWER

    def make(net, t):
        layer = net.network.add_convolution_nd(t, 6, (3, 2, 3), w, b)
        layer.num_groups, layer.stride_nd, layer.dilation_nd, layer.padding_mode = 2, (1, 2, 2), (2, 1, 1), mode
        assert layer.padding_nd == (0, 0, 0)
        return layer

    geo = [conv_geometry(mode, s, k, st, d, 0, 0) for s, k, st, d in zip((6, 7, 8), (3, 2, 3), (1, 2, 2), (2, 1, 1))]
    got = output(make, {"x": x})
    assert got.shape == (2, 6) + tuple(o for o, _, _ in geo)
    ref = F.conv3d(F.pad(t64(x), pad_spec([(bb, aa) for _, bb, aa in geo])), t64(w), t64(b), stride=(1, 2, 2),
                   dilation=(2, 1, 1), groups=2)
    np.testing.assert_allclose(got, ref.numpy(), rtol=1e-5, atol=1e-5)


def test_conv_leading_batch_dimensions():
    """A 2-D kernel over a 6-D input: the dimensions before the channel are batch dimensions (Cookbook case_3d)."""
    r = rng(12)
    x = r.standard_normal((2, 3, 4, 5, 6)).astype(np.float32)
    w = r.standard_normal((2, 4, 3, 3)).astype(np.float32)
    got = output(lambda net, t: net.network.add_convolution_nd(t, 2, (3, 3), w), {"x": x})
    ref = F.conv2d(t64(x).reshape(6, 4, 5, 6), t64(w)).reshape(2, 3, 2, 3, 4)
    np.testing.assert_allclose(got, ref.numpy(), rtol=1e-5, atol=1e-5)


def test_conv_kernel_and_bias_from_tensors():
    r = rng(13)
    x = r.standard_normal((1, 3, 6, 6)).astype(np.float32)
    w = r.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = r.standard_normal(4).astype(np.float32)

    def make(net, t):
        kernel = net.network.add_constant(w.shape, w)
        bias = net.network.add_constant(b.shape, b)
        layer = net.network.add_convolution_nd(t, 4, (3, 3), trt.Weights(), trt.Weights())
        layer.set_input(1, kernel.get_output(0))
        layer.set_input(2, bias.get_output(0))
        assert layer.num_inputs == 3 and layer.kernel.size == 0 and layer.get_output(0).shape == (1, 4, 4, 4)
        return layer

    got = output(make, {"x": x})
    np.testing.assert_allclose(got, F.conv2d(t64(x), t64(w), t64(b)).numpy(), rtol=1e-5, atol=1e-5)


def test_conv_per_channel_qdq_weights():
    """The explicit-quantization pattern: constant -> Quantize (per output channel) -> Dequantize -> kernel."""
    r = rng(14)
    x = r.standard_normal((1, 2, 5, 5)).astype(np.float32)
    w = r.standard_normal((3, 2, 3, 3)).astype(np.float32)
    scale = (np.abs(w).reshape(3, -1).max(1) / 127).astype(np.float32)

    def make(net, t):
        n = net.network
        kernel = n.add_constant(w.shape, w)
        s = n.add_constant(scale.shape, scale)
        q = n.add_quantize(kernel.get_output(0), s.get_output(0), I8)
        q.axis = 0
        dq = n.add_dequantize(q.get_output(0), s.get_output(0), F32)
        dq.axis = 0
        layer = n.add_convolution_nd(t, 3, (3, 3), trt.Weights())
        layer.set_input(1, dq.get_output(0))
        return layer

    wq = np.clip(np.round(w / scale.reshape(3, 1, 1, 1)), -128, 127) * scale.reshape(3, 1, 1, 1)
    got = output(make, {"x": x})
    np.testing.assert_allclose(got, F.conv2d(t64(x), t64(wq.astype(np.float32))).numpy(), rtol=1e-5, atol=1e-5)


def test_conv_padding_settings_and_defaults():
    net = trt.Builder(trt.Logger()).create_network()
    x = net.add_input("x", F32, (1, 2, 8, 8))
    layer = net.add_convolution_nd(x, 2, (3, 3), np.zeros((2, 2, 3, 3), np.float32))
    assert layer.type == trt.LayerType.CONVOLUTION and layer.name == "(Unnamed Layer* 0) [Convolution]"
    assert layer.bias.size == 0 and layer.num_groups == 1 and layer.padding_mode == trt.PaddingMode.EXPLICIT_ROUND_DOWN
    assert layer.stride_nd == (1, 1) and layer.dilation_nd == (1, 1) and layer.pre_padding == (0, 0)
    layer.padding_nd = (2, 1)
    assert layer.pre_padding == (2, 1) and layer.post_padding == (2, 1) and layer.padding_nd == (2, 1)
    layer.post_padding = (0, 3)
    assert layer.padding_nd == (2, 1)  # "If the padding is asymmetric, the pre-padding is returned."
    assert layer.get_output(0).shape == (1, 2, 8, 10)
    layer.padding_mode = trt.PaddingMode.SAME_UPPER  # takes precedence over the explicit padding
    assert layer.get_output(0).shape == (1, 2, 8, 8)


def test_conv_dynamic_shapes():
    r = rng(15)
    w = r.standard_normal((5, 3, 3, 3)).astype(np.float32)
    x1 = r.standard_normal((1, 3, 8, 10)).astype(np.float32)
    x2 = r.standard_normal((3, 3, 13, 7)).astype(np.float32)
    shapes = {"x": ((-1, 3, -1, -1), (1, 3, 4, 4), (2, 3, 8, 8), (4, 3, 16, 16))}

    def make(net, t):
        layer = net.network.add_convolution_nd(t, 5, (3, 3), w)
        layer.stride_nd = (2, 2)
        layer.padding_mode = trt.PaddingMode.SAME_UPPER
        assert layer.get_output(0).shape == (-1, 5, -1, -1)
        return layer

    result, name, _ = single(make, {"x": x1}, profile=shapes)
    assert result.built and result.ran, result.explain()
    assert result.io[1].build_shape == (-1, 5, -1, -1)
    for x, res in ((x1, result), (x2, result.infer({"x": x2}))):
        geo = [conv_geometry(trt.PaddingMode.SAME_UPPER, s, 3, 2, 1, 0, 0) for s in x.shape[2:]]
        ref = F.conv2d(F.pad(t64(x), pad_spec([(b, a) for _, b, a in geo])), t64(w), stride=2)
        np.testing.assert_allclose(res[name], ref.numpy(), rtol=1e-5, atol=1e-5)


def test_conv_float16():
    r = rng(16)
    x = r.standard_normal((1, 4, 9, 9)).astype(np.float16)
    w = (r.standard_normal((6, 4, 3, 3)) / 4).astype(np.float16)
    b = r.standard_normal(6).astype(np.float16)

    def make(net, t):
        layer = net.network.add_convolution_nd(t, 6, (3, 3), w, b)
        layer.padding_nd = (1, 1)
        assert layer.get_output(0).dtype == F16
        return layer

    got = output(make, {"x": x})
    assert got.dtype == np.float16
    ref = F.conv2d(t64(x), t64(w), t64(b), padding=1).numpy()
    np.testing.assert_allclose(got.astype(np.float64), ref, rtol=2 ** -10, atol=1e-3)


def test_conv_float32_weights_in_float16_layer_are_rounded():
    r = rng(17)
    x = r.standard_normal((1, 2, 5, 5)).astype(np.float16)
    w = r.standard_normal((2, 2, 3, 3)).astype(np.float32)
    got = output(lambda net, t: net.network.add_convolution_nd(t, 2, (3, 3), w), {"x": x})
    ref = F.conv2d(t64(x), t64(w.astype(np.float16))).numpy()
    np.testing.assert_allclose(got.astype(np.float64), ref, rtol=2 ** -10, atol=1e-3)


@pytest.mark.parametrize("what", ["count", "groups", "both_kernels", "window", "bias", "rank", "int32", "no_kernel"])
def test_conv_invalid(what):
    x = np.zeros((1, 4, 5, 5), np.float32)
    w = np.zeros((2, 4, 3, 3), np.float32)

    def make(net, t):
        n = net.network
        if what == "count":
            return n.add_convolution_nd(t, 2, (3, 3), np.zeros(20, np.float32))
        if what == "groups":
            layer = n.add_convolution_nd(t, 2, (3, 3), w)
            layer.num_groups = 3
            return layer
        if what == "both_kernels":
            layer = n.add_convolution_nd(t, 2, (3, 3), w)
            layer.set_input(1, n.add_constant(w.shape, w).get_output(0))
            return layer
        if what == "window":
            return n.add_convolution_nd(t, 2, (7, 3), np.zeros((2, 4, 7, 3), np.float32))
        if what == "bias":
            return n.add_convolution_nd(t, 2, (3, 3), w, np.zeros(3, np.float32))
        if what == "rank":
            return n.add_convolution_nd(t, 2, (3,), np.zeros((2, 4, 3), np.float32))
        if what == "int32":
            return n.add_convolution_nd(n.add_cast(t, trt.DataType.INT32).get_output(0), 2, (3, 3), w)
        return n.add_convolution_nd(t, 2, (3, 3), trt.Weights())

    expect_build_error(make, {"x": x})


# -------------------------------------------------------------------------------------------------- deconvolution

DECONV_CASES = [
    # c_in, k, groups, hw, kernel, stride, dilation, pre, post, bias
    (3, 2, 1, (4, 5), (3, 3), (1, 1), (1, 1), (0, 0), (0, 0), True),
    (4, 6, 2, (3, 4), (3, 2), (2, 3), (1, 2), (1, 0), (2, 1), True),
    (4, 4, 4, (5, 5), (4, 4), (2, 2), (1, 1), (1, 1), (1, 1), False),
    (2, 3, 1, (3, 3), (2, 3), (3, 1), (2, 1), (0, 2), (1, 0), True),
]


@pytest.mark.parametrize("case", range(len(DECONV_CASES)))
def test_deconv2d_against_torch(case):
    c_in, k, g, hw, kernel, stride, dilation, pre, post, bias = DECONV_CASES[case]
    r = rng(200 + case)
    x = r.standard_normal((2, c_in) + hw).astype(np.float32)
    w = r.standard_normal((c_in, k // g) + kernel).astype(np.float32)  # CKRS
    b = r.standard_normal(k).astype(np.float32) if bias else None

    def make(net, t):
        layer = net.network.add_deconvolution_nd(t, k, kernel, w, b)
        layer.num_groups, layer.stride_nd, layer.dilation_nd = g, stride, dilation
        layer.pre_padding, layer.post_padding = pre, post
        return layer

    got = output(make, {"x": x})
    full = F.conv_transpose2d(t64(x), t64(w), None if b is None else t64(b), stride=stride, dilation=dilation,
                              groups=g)
    expect = [(i - 1) * s + 1 + d * (f - 1) - (p0 + p1) for i, s, d, f, p0, p1 in
              zip(hw, stride, dilation, kernel, pre, post)]
    ref = full[:, :, pre[0]:pre[0] + expect[0], pre[1]:pre[1] + expect[1]]
    assert got.shape == (2, k) + tuple(expect)
    np.testing.assert_allclose(got, ref.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.name)
def test_deconv_every_padding_mode(mode):
    r = rng(21)
    x = r.standard_normal((1, 2, 4, 5)).astype(np.float32)
    w = r.standard_normal((2, 3, 3, 4)).astype(np.float32)
    stride, dilation, pre, post = (2, 3), (2, 1), (1, 2), (2, 0)

    def make(net, t):
        layer = net.network.add_deconvolution_nd(t, 3, (3, 4), w)
        layer.stride_nd, layer.dilation_nd, layer.padding_mode = stride, dilation, mode
        layer.pre_padding, layer.post_padding = pre, post
        return layer

    full = F.conv_transpose2d(t64(x), t64(w), stride=stride, dilation=dilation)
    crops = []
    for i, s, d, f, p0, p1 in zip((4, 5), stride, dilation, (3, 4), pre, post):
        dk = 1 + d * (f - 1)
        if mode.name.startswith("EXPLICIT"):
            crops.append((p0, (i - 1) * s + dk - (p0 + p1)))
        else:
            total = max(dk - s, 0)
            before = total // 2 if mode == trt.PaddingMode.SAME_UPPER else total - total // 2
            out = min(i * s, (i - 1) * s + dk)
            crops.append((before, out))
    got = output(make, {"x": x})
    (b0, o0), (b1, o1) = crops
    assert got.shape == (1, 3, o0, o1)
    np.testing.assert_allclose(got, full[:, :, b0:b0 + o0, b1:b1 + o1].numpy(), rtol=1e-5, atol=1e-5)


def test_deconv3d_against_torch():
    r = rng(22)
    x = r.standard_normal((1, 4, 3, 4, 3)).astype(np.float32)
    w = r.standard_normal((4, 1, 2, 3, 2)).astype(np.float32)
    b = r.standard_normal(2).astype(np.float32)

    def make(net, t):
        layer = net.network.add_deconvolution_nd(t, 2, (2, 3, 2), w, b)
        layer.num_groups, layer.stride_nd, layer.padding_nd = 2, (2, 1, 2), (0, 1, 1)
        return layer

    got = output(make, {"x": x})
    ref = F.conv_transpose3d(t64(x), t64(w), t64(b), stride=(2, 1, 2), padding=(0, 1, 1), groups=2)
    np.testing.assert_allclose(got, ref.numpy(), rtol=1e-5, atol=1e-5)


def test_deconv_float16_and_invalid():
    r = rng(23)
    x = r.standard_normal((1, 2, 4, 4)).astype(np.float16)
    w = (r.standard_normal((2, 2, 3, 3)) / 2).astype(np.float16)
    got = output(lambda net, t: net.network.add_deconvolution_nd(t, 2, (3, 3), w), {"x": x})
    assert got.dtype == np.float16
    np.testing.assert_allclose(got.astype(np.float64), F.conv_transpose2d(t64(x), t64(w)).numpy(),
                               rtol=2 ** -10, atol=1e-3)

    def crop_all(net, t):
        layer = net.network.add_deconvolution_nd(t, 2, (3, 3), np.zeros((2, 2, 3, 3), np.float32))
        layer.padding_nd = (3, 0)
        return layer

    expect_build_error(crop_all, {"x": x.astype(np.float32)})
    expect_build_error(lambda net, t: net.network.add_deconvolution_nd(t, 2, (3, 3), np.zeros(12, np.float32)),
                       {"x": x.astype(np.float32)}, "count")


# -------------------------------------------------------------------------------------------------------- pooling

def pool_reference(x, kind, window, stride, mode, pre, post, excludes, blend):
    """TensorRT pooling over the last len(window) dimensions, window by window (float64)."""
    n = len(window)
    lead, sizes = x.shape[:-n], x.shape[-n:]
    geo = [conv_geometry(mode, s, f, st, 1, p0, p1) for s, f, st, p0, p1 in zip(sizes, window, stride, pre, post)]
    if mode.name.startswith("EXPLICIT"):
        bounds = [(p0, p1) for p0, p1 in zip(pre, post)]  # the padded input, without the ROUND_UP overhang
    else:
        bounds = [(b, a) for _, b, a in geo]
    out = np.zeros(lead + tuple(o for o, _, _ in geo))
    for index in np.ndindex(*out.shape[-n:]):
        starts = [i * s - b for i, s, (_, b, _) in zip(index, stride, geo)]
        inside = [slice(max(s0, 0), min(s0 + f, size)) for s0, f, size in zip(starts, window, sizes)]
        values = x[(Ellipsis,) + tuple(inside)].reshape(lead + (-1,))
        if excludes:
            count = values.shape[-1]
        else:
            count = np.prod([min(s0 + f, size + a) - max(s0, -b)
                             for s0, f, size, (b, a) in zip(starts, window, sizes, bounds)])
        # Padding positions hold -inf for the maximum and zero for the sum.
        mx = values.max(-1) if values.shape[-1] else np.full(lead, -np.inf)
        avg = values.sum(-1) / count if count else np.zeros(lead)
        result = {"MAX": mx, "AVERAGE": avg, "MAX_AVERAGE_BLEND": (1 - blend) * mx + blend * avg}[kind.name]
        out[(Ellipsis,) + index] = result
    return out


@pytest.mark.parametrize("kind", [trt.PoolingType.MAX, trt.PoolingType.AVERAGE, trt.PoolingType.MAX_AVERAGE_BLEND],
                         ids=lambda k: k.name)
@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.name)
@pytest.mark.parametrize("excludes", [True, False], ids=["excl", "incl"])
def test_pooling_every_mode(kind, mode, excludes):
    r = rng(31)
    x = r.standard_normal((2, 3, 7, 9)).astype(np.float32)
    window, stride, pre, post, blend = (3, 4), (2, 3), (1, 0), (1, 2), 0.3

    def make(net, t):
        layer = net.network.add_pooling_nd(t, kind, window)
        layer.stride_nd, layer.padding_mode, layer.average_count_excludes_padding = stride, mode, excludes
        layer.pre_padding, layer.post_padding, layer.blend_factor = pre, post, blend
        return layer

    got = output(make, {"x": x})
    ref = pool_reference(x.astype(np.float64), kind, window, stride, mode, pre, post, excludes, blend)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("excludes", [True, False])
def test_pooling_against_torch(excludes):
    """Symmetric padding: MAX is torch's max_pool2d; AVERAGE with average_count_excludes_padding is
    avg_pool2d(count_include_pad=False), without it count_include_pad=True."""
    r = rng(32)
    x = r.standard_normal((2, 3, 10, 11)).astype(np.float32)

    def make(kind):
        def f(net, t):
            layer = net.network.add_pooling_nd(t, kind, (3, 4))
            layer.stride_nd, layer.padding_nd, layer.average_count_excludes_padding = (2, 3), (1, 2), excludes
            return layer
        return f

    got_max = output(make(trt.PoolingType.MAX), {"x": x})
    np.testing.assert_array_equal(got_max, F.max_pool2d(torch.from_numpy(x), (3, 4), (2, 3), (1, 2)).numpy())
    got_avg = output(make(trt.PoolingType.AVERAGE), {"x": x})
    ref = F.avg_pool2d(t64(x), (3, 4), (2, 3), (1, 2), count_include_pad=not excludes)
    np.testing.assert_allclose(got_avg, ref.numpy(), rtol=1e-5, atol=1e-6)


def test_pooling_3d_and_rank3_input():
    r = rng(33)
    x = r.standard_normal((1, 2, 5, 6, 7)).astype(np.float32)

    def make3(net, t):
        layer = net.network.add_pooling_nd(t, trt.PoolingType.AVERAGE, (2, 3, 2))
        layer.stride_nd, layer.padding_nd, layer.average_count_excludes_padding = (1, 2, 2), (1, 1, 0), False
        return layer

    ref = F.avg_pool3d(t64(x), (2, 3, 2), (1, 2, 2), (1, 1, 0), count_include_pad=True)
    np.testing.assert_allclose(output(make3, {"x": x}), ref.numpy(), rtol=1e-5, atol=1e-6)
    y = r.standard_normal((3, 8, 8)).astype(np.float32)
    got = output(lambda net, t: net.network.add_pooling_nd(t, trt.PoolingType.MAX, (2, 2)), {"y": y})
    np.testing.assert_array_equal(got, F.max_pool2d(torch.from_numpy(y)[None], 2, 1)[0].numpy())


def test_pooling_float16_and_dynamic():
    r = rng(34)
    x = r.standard_normal((2, 3, 9, 8)).astype(np.float16)
    shapes = {"x": ((-1, 3, -1, -1), (1, 3, 4, 4), (2, 3, 9, 8), (4, 3, 16, 16))}

    def make(net, t):
        layer = net.network.add_pooling_nd(t, trt.PoolingType.AVERAGE, (2, 2))
        layer.stride_nd = (2, 2)
        layer.padding_mode = trt.PaddingMode.EXPLICIT_ROUND_UP
        assert layer.get_output(0).shape == (-1, 3, -1, -1) and layer.get_output(0).dtype == F16
        return layer

    result, name, _ = single(make, {"x": x}, profile=shapes)
    assert result.built and result.ran, result.explain()
    ref = F.avg_pool2d(t64(x), 2, 2, ceil_mode=True, count_include_pad=False)
    np.testing.assert_allclose(result[name].astype(np.float64), ref.numpy(), rtol=2 ** -10, atol=1e-3)


@pytest.mark.parametrize("what", ["window_1d", "too_large", "blend", "int32"])
def test_pooling_invalid(what):
    x = np.zeros((1, 2, 4, 4), np.float32)

    def make(net, t):
        n = net.network
        if what == "window_1d":
            return n.add_pooling_nd(t, trt.PoolingType.MAX, (2,))
        if what == "too_large":
            return n.add_pooling_nd(t, trt.PoolingType.MAX, (5, 2))
        if what == "blend":
            layer = n.add_pooling_nd(t, trt.PoolingType.MAX_AVERAGE_BLEND, (2, 2))
            layer.blend_factor = 1.5
            return layer
        return n.add_pooling_nd(n.add_cast(t, trt.DataType.INT32).get_output(0), trt.PoolingType.MAX, (2, 2))

    expect_build_error(make, {"x": x})


# -------------------------------------------------------------------------------------------------------- padding

@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int32])
def test_padding_random(dtype):
    r = rng(41)
    x = (r.standard_normal((2, 3, 6, 7)) * 10).astype(dtype)
    pre, post = (2, -3), (-1, 4)
    got = output(lambda net, t: net.network.add_padding_nd(t, pre, post), {"x": x})
    ref = np.pad(x, [(0, 0), (0, 0), (2, 0), (0, 4)])[:, :, :, 3:][:, :, :-1, :]
    assert got.dtype == x.dtype
    np.testing.assert_array_equal(got, ref)


def test_padding_dynamic_and_invalid():
    x = np.arange(2 * 5 * 6, dtype=np.float32).reshape(1, 2, 5, 6)
    shapes = {"x": ((1, 2, -1, -1), (1, 2, 3, 3), (1, 2, 5, 6), (1, 2, 9, 9))}

    def make(net, t):
        layer = net.network.add_padding_nd(t, (1, -2), (0, 1))
        assert layer.get_output(0).shape == (1, 2, -1, -1)
        return layer

    result, name, _ = single(make, {"x": x}, profile=shapes)
    assert result.built and result.ran, result.explain()
    np.testing.assert_array_equal(result[name], np.pad(x[:, :, :, 2:], [(0, 0), (0, 0), (1, 0), (0, 1)]))
    expect_build_error(lambda net, t: net.network.add_padding_nd(t, (1, 1, 1), (0, 0, 0)), {"x": x}, "2-D")
    expect_build_error(lambda net, t: net.network.add_padding_nd(t, (-3, 0), (-3, 0)), {"x": x})
    expect_build_error(lambda net, t: net.network.add_padding_nd(t, (1, 1), (1, 1)), {"y": x[0]})


# ---------------------------------------------------------------------------------------------------------- scale

@pytest.mark.parametrize("mode", [trt.ScaleMode.UNIFORM, trt.ScaleMode.CHANNEL, trt.ScaleMode.ELEMENTWISE],
                         ids=lambda m: m.name)
@pytest.mark.parametrize("present", ["ssp", "s--", "-s-", "--p", "---"])
def test_scale_modes_and_defaults(mode, present):
    r = rng(51)
    x = np.abs(r.standard_normal((2, 3, 4, 5))).astype(np.float32) + 0.5
    shape = {"UNIFORM": (1, 1, 1, 1), "CHANNEL": (1, 3, 1, 1), "ELEMENTWISE": (1, 3, 4, 5)}[mode.name]
    shift = (r.random(shape) + 0.1).astype(np.float32)
    scale = (r.random(shape) + 0.5).astype(np.float32)
    power = (r.random(shape) * 2 + 0.5).astype(np.float32)
    chosen = [w.ravel() if flag != "-" else None for w, flag in zip((shift, scale, power), present)]

    got = output(lambda net, t: net.network.add_scale(t, mode, *chosen), {"x": x})
    y = x.astype(np.float64)
    y = y * (scale if chosen[1] is not None else 1.0) + (shift if chosen[0] is not None else 0.0)
    y = y ** (power if chosen[2] is not None else 1.0)
    np.testing.assert_allclose(got, y, rtol=1e-5, atol=1e-6)


def test_scale_channel_axis():
    r = rng(52)
    x = r.standard_normal((2, 3, 4, 5, 6)).astype(np.float32)
    w = r.standard_normal((5, 6)).astype(np.float32)
    got = output(lambda net, t: net.network.add_scale_nd(t, trt.ScaleMode.ELEMENTWISE, None, w, None, 3), {"x": x})
    np.testing.assert_allclose(got, x * w, rtol=1e-6)
    c = r.standard_normal(4).astype(np.float32)

    def channel(net, t):
        layer = net.network.add_scale_nd(t, trt.ScaleMode.CHANNEL, c, None, None, channel_axis=0)
        layer.channel_axis = 2
        return layer

    np.testing.assert_allclose(output(channel, {"x": x}), x + c.reshape(1, 1, 4, 1, 1), rtol=1e-6)

    def implicit(net, t):
        layer = net.network.add_scale(t, trt.ScaleMode.ELEMENTWISE, None, r.standard_normal(120).astype(np.float32))
        assert layer.channel_axis == 2  # rank - 3: "the product of the last three dimensions"
        return layer

    assert output(implicit, {"x": x}).shape == x.shape


def test_scale_float16_and_invalid():
    r = rng(53)
    x = r.standard_normal((1, 4, 3, 3)).astype(np.float16)
    s = r.standard_normal(4).astype(np.float16)
    b = r.standard_normal(4).astype(np.float16)
    got = output(lambda net, t: net.network.add_scale(t, trt.ScaleMode.CHANNEL, b, s), {"x": x})
    assert got.dtype == np.float16
    ref = x.astype(np.float64) * s.reshape(1, 4, 1, 1) + b.reshape(1, 4, 1, 1)
    np.testing.assert_allclose(got.astype(np.float64), ref, rtol=2 ** -10, atol=1e-3)
    x32 = x.astype(np.float32)
    expect_build_error(lambda net, t: net.network.add_scale(t, trt.ScaleMode.CHANNEL, np.zeros(3, np.float32)),
                       {"x": x32}, "count")
    expect_build_error(lambda net, t: net.network.add_scale(t, trt.ScaleMode.UNIFORM, np.zeros(2, np.float32)),
                       {"x": x32})
    expect_build_error(lambda net, t: net.network.add_scale_nd(t, trt.ScaleMode.CHANNEL, None, None, None, 4),
                       {"x": x32}, "channel_axis")
    expect_build_error(lambda net, t: net.network.add_scale(t, trt.ScaleMode.UNIFORM), {"y": x32[0, 0]})


def test_add_scale_nd_signature():
    net = trt.Builder(trt.Logger()).create_network()
    x = net.add_input("x", F32, (1, 2, 3, 3))
    with pytest.raises(TypeError, match="channel_axis"):
        net.add_scale_nd(x, trt.ScaleMode.UNIFORM)
    params = inspect.signature(trt.INetworkDefinition.add_scale_nd).parameters
    assert list(params) == ["self", "input", "mode", "shift", "scale", "power", "channel_axis"]
    assert params["channel_axis"].default is inspect.Parameter.empty and params["power"].default is None


# -------------------------------------------------------------------------------------------------- parametric relu

@pytest.mark.parametrize("slope_shape", [(1, 1, 1, 1), (1, 3, 1, 1), (2, 1, 4, 1), (2, 3, 4, 5)])
def test_parametric_relu_broadcast(slope_shape):
    r = rng(61)
    x = r.standard_normal((2, 3, 4, 5)).astype(np.float32)
    slopes = r.standard_normal(slope_shape).astype(np.float32)

    def make(net, t):
        s = net.network.add_constant(slopes.shape, slopes)
        return net.network.add_parametric_relu(t, s.get_output(0))

    got = output(make, {"x": x})
    np.testing.assert_array_equal(got, np.where(x >= 0, x, x * slopes))


def test_parametric_relu_float16_and_invalid():
    r = rng(62)
    x = r.standard_normal((2, 3, 4)).astype(np.float16)
    slopes = r.standard_normal((1, 3, 1)).astype(np.float16)

    def make(slope_array):
        def f(net, t):
            s = net.network.add_constant(slope_array.shape, slope_array)
            return net.network.add_parametric_relu(t, s.get_output(0))
        return f

    got = output(make(slopes), {"x": x})
    ref = np.where(x >= 0, x.astype(np.float64), x.astype(np.float64) * slopes)
    np.testing.assert_allclose(got.astype(np.float64), ref, rtol=2 ** -10, atol=1e-3)
    expect_build_error(make(slopes.astype(np.float32)), {"x": x}, "type")  # types must match
    expect_build_error(make(np.ones((3, 1), np.float16)), {"x": x}, "broadcast")  # ranks must match
    expect_build_error(make(np.ones((1, 2, 1), np.float16)), {"x": x}, "broadcast")


# ------------------------------------------------------------------------------------------ quantize / dequantize

def qdq(x, scale, *, axis=None, to=I8, back=F32, zero_point=None, quantized_output=False, block_shape=None):
    """Run x -> Quantize(scale) [-> Dequantize(scale)] and return the output array."""
    scale = np.asarray(scale)

    def make(net, t):
        n = net.network
        s = n.add_constant(scale.shape, np.ascontiguousarray(scale))
        q = n.add_quantize(t, s.get_output(0), to)
        if axis is not None:
            q.axis = axis
        if block_shape is not None:
            q.block_shape = block_shape
        if zero_point is not None:
            q.set_input(2, n.add_constant(zero_point.shape, zero_point).get_output(0))
        if quantized_output:
            return q
        dq = n.add_dequantize(q.get_output(0), s.get_output(0), back)
        if axis is not None:
            dq.axis = axis
        if block_shape is not None:
            dq.block_shape = block_shape
        return dq

    return make


def test_quantize_rounds_half_to_even_and_saturates():
    x = np.array([[0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.49, -3.51, 126.5, 127.5, 200.0, -128.5, -129.0, -1e6]],
                 dtype=np.float32)
    got = output(qdq(x, np.array(1.0, np.float32), quantized_output=True), {"x": x})
    assert got.dtype == np.int8
    np.testing.assert_array_equal(got, [[0, 2, 2, 0, -2, -2, 3, -4, 126, 127, 127, -128, -128, -128]])
    # with a scale: 0.75 / 0.5 = 1.5 -> 2; 1.25 / 0.5 = 2.5 -> 2; the dequantized values are multiples of 0.5
    y = np.array([[0.75, 1.25, -0.25, 70.0]], dtype=np.float32)
    np.testing.assert_array_equal(output(qdq(y, np.array(0.5, np.float32)), {"x": y}), [[1.0, 1.0, -0.0, 63.5]])


@pytest.mark.parametrize("axis", [0, 1])
def test_quantize_per_channel(axis):
    r = rng(71)
    x = (r.standard_normal((3, 4, 5)) * 50).astype(np.float32)
    scale = (r.random(x.shape[axis]) + 0.1).astype(np.float32)
    view = scale.reshape([-1 if i == axis else 1 for i in range(3)])
    got = output(qdq(x, scale, axis=axis), {"x": x})
    np.testing.assert_array_equal(got, (np.clip(np.round(x / view), -128, 127) * view).astype(np.float32))


def test_quantize_fp8():
    r = rng(72)
    x = np.concatenate([r.standard_normal(200) * 30, [500.0, -1000.0, 0.0, 1e-3, 17.0, 19.0]]).astype(np.float32)
    x = x.reshape(2, -1)
    scale = np.float32(0.75)
    got = output(qdq(x, np.array(scale), to=trt.DataType.FP8), {"x": x})
    np.testing.assert_array_equal(got, (round_e4m3((x / scale).astype(np.float32)) * scale).astype(np.float32))


def test_quantize_fp8_blocks():
    r = rng(73)
    x = (r.standard_normal((4, 8)) * 10).astype(np.float32)
    scale = (r.random((4, 2)) + 0.5).astype(np.float32)  # blocks of 4 along the last dimension
    view = np.repeat(scale, 4, axis=1)
    expected = (round_e4m3((x / view).astype(np.float32)) * view).astype(np.float32)
    np.testing.assert_array_equal(output(qdq(x, scale, to=trt.DataType.FP8), {"x": x}), expected)
    if IS_11:
        got = output(qdq(x, scale, to=trt.DataType.FP8, block_shape=(1, 4)), {"x": x})
        np.testing.assert_array_equal(got, expected)


def test_quantize_float16_and_half_output():
    r = rng(74)
    x = (r.standard_normal((2, 6)) * 20).astype(np.float16)
    scale = np.array(0.25, np.float16)
    got = output(qdq(x, scale, back=F16), {"x": x})
    assert got.dtype == np.float16
    q = np.clip(np.round(x.astype(np.float32) / np.float32(0.25)), -128, 127)
    np.testing.assert_array_equal(got, (q * 0.25).astype(np.float16))


def test_quantize_zero_point():
    x = np.array([[1.0, -2.6, 3.4]], np.float32)
    got = output(qdq(x, np.array(0.5, np.float32), zero_point=np.array(0, np.int8), quantized_output=True),
                 {"x": x})
    np.testing.assert_array_equal(got, [[2, -5, 7]])


def test_quantize_dynamic_shape():
    x = np.linspace(-3, 3, 24, dtype=np.float32).reshape(2, 12)
    shapes = {"x": ((-1, 12), (1, 12), (2, 12), (8, 12))}

    def make(net, t):
        layer = qdq(x, np.array(0.1, np.float32))(net, t)
        assert layer.get_output(0).shape == (-1, 12)
        return layer

    result, name, _ = single(make, {"x": x}, profile=shapes)
    assert result.built and result.ran, result.explain()
    np.testing.assert_allclose(result[name], np.clip(np.round(x / np.float32(0.1)), -128, 127) * np.float32(0.1),
                               rtol=1e-6)


@pytest.mark.parametrize("what", ["negative_axis", "axis_size", "zero_point", "scale", "int8_block", "to_type",
                                  "dq_input", "half_scale"])
def test_quantize_invalid(what):
    x = np.ones((3, 4), np.float32)

    def make(net, t):
        n = net.network
        if what == "negative_axis":
            return qdq(x, np.ones(4, np.float32), quantized_output=True)(net, t)
        if what == "axis_size":
            return qdq(x, np.ones(3, np.float32), axis=1, quantized_output=True)(net, t)
        if what == "zero_point":
            return qdq(x, np.array(1.0, np.float32), zero_point=np.array(1, np.int8), quantized_output=True)(net, t)
        if what == "scale":
            return qdq(x, np.array(0.0, np.float32), quantized_output=True)(net, t)
        if what == "int8_block":
            return qdq(x, np.ones((3, 2), np.float32), quantized_output=True)(net, t)
        if what == "to_type":
            return qdq(x, np.array(1.0, np.float32), to=trt.DataType.INT32, quantized_output=True)(net, t)
        if what == "half_scale":
            return qdq(x, np.array(1.0, np.float16), quantized_output=True)(net, t)
        s = n.add_constant((), np.array(1.0, np.float32))
        return n.add_dequantize(t, s.get_output(0), F32)  # a FLOAT input

    # A HALF scale for a FLOAT input is an error in strongly typed networks (always, under TensorRT 11).
    expect_build_error(make, {"x": x}, flags=1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))


@pytest.mark.skipif(not IS_11, reason="the TensorRT 11 API")
def test_quantize_output_type_required_in_11():
    net = trt.Builder(trt.Logger()).create_network()
    x = net.add_input("x", F32, (2,))
    s = net.add_constant((), np.array(1.0, np.float32)).get_output(0)
    with pytest.raises(TypeError):
        net.add_quantize(x, s)
    q = net.add_quantize(x, s, trt.DataType.FP8)
    assert q.to_type == trt.DataType.FP8 and q.axis == -1 and q.block_shape == ()
    q.to_type = trt.DataType.INT8
    assert q.get_output(0).dtype == I8
    with pytest.raises(TypeError):
        net.add_dequantize(q.get_output(0), s)


def test_quantize_api_10_3():
    """Under the 10.3 API: the two-argument overloads (INT8 / FLOAT), no block_shape, set_output_type as to_type."""
    code = (
        "import numpy as np, reftrt as trt\n"
        "n = trt.Builder(trt.Logger()).create_network()\n"
        "x = n.add_input('x', trt.DataType.FLOAT, (1, 4))\n"
        "s = n.add_constant((), np.array(0.5, np.float32)).get_output(0)\n"
        "q = n.add_quantize(x, s)\n"
        "assert q.to_type == trt.DataType.INT8 and q.get_output(0).dtype == trt.DataType.INT8\n"
        "assert not hasattr(trt.IQuantizeLayer, 'block_shape')\n"
        "dq = n.add_dequantize(q.get_output(0), s)\n"
        "assert dq.to_type == trt.DataType.FLOAT and dq.get_output(0).dtype == trt.DataType.FLOAT\n"
        "q.set_output_type(0, trt.DataType.FP8)\n"
        "assert q.get_output(0).dtype == trt.DataType.FP8\n"
        "q2 = n.add_quantize(x, s, trt.DataType.FP8)\n"
        "assert q2.to_type == trt.DataType.FP8\n"
        "print('ok')\n")
    env = dict(os.environ, REFTRT_TRT_VERSION="10.3")
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr

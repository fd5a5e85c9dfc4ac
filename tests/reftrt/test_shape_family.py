"""Shape-family layers beyond the Cookbook cases: Shuffle, Slice, Shape, Concatenation, Squeeze/Unsqueeze, Gather,
Fill, OneHot, checked with fresh seeded random data against numpy / torch references, dynamic shapes, shape-tensor
network inputs, float16 data and invalid configurations.
"""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import reftrt as trt
from tests.helpers.trt_logger import Recorder

F32, F16, I32, I64 = trt.DataType.FLOAT, trt.DataType.HALF, trt.DataType.INT32, trt.DataType.INT64
_NP = {np.dtype(np.float32): F32, np.dtype(np.float16): F16, np.dtype(np.int32): I32, np.dtype(np.int64): I64,
       np.dtype(np.bool_): trt.DataType.BOOL}
HAS_SQUEEZE = hasattr(trt.INetworkDefinition, "add_squeeze")




class Net:
    """Build a network, then run it for several input feeds."""

    def __init__(self):
        self.logger = Recorder()
        self.builder = trt.Builder(self.logger)
        self.network = self.builder.create_network()
        self.profile = self.builder.create_optimization_profile()
        self.config = self.builder.create_builder_config()
        self.context = None

    def input(self, name, array_or_dtype, shape=None):
        if shape is None:
            return self.network.add_input(name, _NP[np.asarray(array_or_dtype).dtype], np.shape(array_or_dtype))
        return self.network.add_input(name, array_or_dtype, shape)

    def const(self, array):
        array = np.array(array, order="C")  # keeps 0-d arrays 0-d, unlike np.ascontiguousarray
        return self.network.add_constant(array.shape, array).get_output(0)

    def build(self, *outputs, profile=None):
        for t in outputs:
            self.network.mark_output(t)
        if profile or self.profile._shapes or self.profile._values:
            self.config.add_optimization_profile(self.profile)
        plan = self.builder.build_serialized_network(self.network, self.config)
        if plan is None:
            return None
        self.engine = trt.Runtime(self.logger).deserialize_cuda_engine(plan)
        self.context = self.engine.create_execution_context()
        return self

    def run(self, **feeds):
        e, c = self.engine, self.context
        names = [e.get_tensor_name(i) for i in range(e.num_io_tensors)]
        keep = {}
        for n in names:
            if e.get_tensor_mode(n) != trt.TensorIOMode.INPUT:
                continue
            keep[n] = np.array(feeds[n], dtype=trt.nptype(e.get_tensor_dtype(n)), order="C")
            if e.is_shape_inference_io(n):
                c.set_tensor_address(n, keep[n].ctypes.data)
            else:
                assert c.set_input_shape(n, keep[n].shape)
        outputs = {}
        for n in names:
            if e.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT:
                shape = tuple(c.get_tensor_shape(n))
                assert all(d >= 0 for d in shape), (n, shape)
                outputs[n] = np.zeros(shape, dtype=trt.nptype(e.get_tensor_dtype(n)))
                c.set_tensor_address(n, outputs[n].ctypes.data)
            else:
                if not e.is_shape_inference_io(n):
                    c.set_tensor_address(n, keep[n].ctypes.data)
        assert c.execute_async_v3(0), self.logger.errors()
        return outputs


def run1(net, output, **feeds):
    return net.run(**feeds)[output.name]


def expect_build_error(net, output, *fragments):
    assert net.build(output) is None
    errors = "\n".join(net.logger.errors())
    for fragment in fragments:
        assert fragment in errors, errors
    return errors


# ---------------------------------------------------------------- Shuffle

@pytest.mark.parametrize("seed", range(6))
def test_shuffle_random_against_numpy(seed):
    rng = np.random.default_rng(seed)
    rank = int(rng.integers(1, 6))
    shape = tuple(int(d) for d in rng.integers(1, 5, rank))
    x = rng.standard_normal(shape).astype(np.float32)
    p1 = [int(v) for v in rng.permutation(rank)]
    mid = x.transpose(p1)
    # Split the volume into a random new shape, then mark a random dim as -1 and leading ones as 0 when they match.
    volume = mid.size
    new = []
    while volume > 1 and len(new) < 4:
        divisors = [d for d in range(1, volume + 1) if volume % d == 0]
        d = int(rng.choice(divisors))
        new.append(d)
        volume //= d
    new.append(volume)
    dims = list(new)
    dims[int(rng.integers(len(dims)))] = -1
    for i in range(min(len(dims), mid.ndim)):
        if dims[i] == mid.shape[i] and rng.random() < 0.5:
            dims[i] = 0
    p2 = [int(v) for v in rng.permutation(len(new))]
    expected = mid.reshape(new).transpose(p2)

    net = Net()
    layer = net.network.add_shuffle(net.input("x", x))
    layer.first_transpose = p1
    layer.reshape_dims = dims
    layer.second_transpose = p2
    out = layer.get_output(0)
    assert out.shape == expected.shape
    net.build(out)
    np.testing.assert_array_equal(run1(net, out, x=x), expected)


def test_shuffle_permutation_is_numpy_convention():
    # CHW -> HWC needs [1, 2, 0] (the header's example): out.shape[i] = in.shape[perm[i]].
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    net = Net()
    layer = net.network.add_shuffle(net.input("x", x))
    layer.first_transpose = trt.Permutation([1, 2, 0])
    assert layer.get_output(0).shape == (3, 4, 2)
    net.build(layer.get_output(0))
    np.testing.assert_array_equal(run1(net, layer.get_output(0), x=x), x.transpose(1, 2, 0))


def test_shuffle_defaults_and_zero_placeholder():
    x = np.random.default_rng(1).standard_normal((2, 3, 4)).astype(np.float32)
    net = Net()
    layer = net.network.add_shuffle(net.input("x", x))
    assert layer.reshape_dims is None and layer.zero_is_placeholder is True
    assert list(layer.first_transpose) == list(range(8)) and list(layer.second_transpose) == list(range(8))
    assert layer.get_output(0).shape == (2, 3, 4)  # no reshape, identity transposes
    layer.reshape_dims = (0, -1)  # fewer dims than the input: 0s align with the leading dimensions
    assert layer.get_output(0).shape == (2, 12)
    layer.zero_is_placeholder = False
    layer.reshape_dims = (2, 0, 12)  # a real zero-size dimension: volume 24 -> 0 is rejected
    net2 = Net()
    z = net2.network.add_shuffle(net2.const(np.zeros((0, 3), np.float32)))
    z.zero_is_placeholder = False
    z.reshape_dims = (3, 0)
    assert z.get_output(0).shape == (3, 0)
    expect_build_error(net, layer.get_output(0), "(Unnamed Layer* 0) [Shuffle]", "volume")


def test_shuffle_zero_copies_the_transposed_dimension():
    # reftrt's reading of an undocumented point: 0 copies the dimension of the tensor being reshaped (after the
    # first transpose).
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    net = Net()
    layer = net.network.add_shuffle(net.input("x", x))
    layer.first_transpose = (2, 0, 1)
    layer.reshape_dims = (0, -1)
    assert layer.get_output(0).shape == (4, 6)
    net.build(layer.get_output(0))
    np.testing.assert_array_equal(run1(net, layer.get_output(0), x=x), x.transpose(2, 0, 1).reshape(4, 6))


def test_shuffle_setting_reshape_dims_resets_input_1():
    net = Net()
    x = net.input("x", F32, (2, 6))
    layer = net.network.add_shuffle(x)
    layer.set_input(1, net.const(np.array([3, 4], np.int32)))
    assert layer.reshape_dims is None and layer.get_output(0).shape == (3, 4)
    layer.reshape_dims = (4, 3)
    assert layer.get_input(1) is None and layer.reshape_dims == (4, 3)
    assert layer.get_output(0).shape == (4, 3)


def test_shuffle_dynamic_reshape_from_shape_arithmetic():
    """Input (-1, 3, -1, -1) reshaped to (N, 3, H*W) with dims computed by Shape -> Gather -> Concatenation."""
    net = Net()
    x = net.input("x", F32, (-1, 3, -1, -1))
    shape = net.network.add_shape(x).get_output(0)
    nc = net.network.add_gather(shape, net.const(np.array([0, 1], np.int32)), 0).get_output(0)
    dims = net.network.add_concatenation([nc, net.const(np.array([-1], np.int64))])
    dims.axis = 0
    layer = net.network.add_shuffle(x)
    layer.set_input(1, dims.get_output(0))
    out = layer.get_output(0)
    assert shape.shape == (4,) and shape.dtype == I64
    assert dims.get_output(0).shape == (3,)
    assert out.shape == (-1, 3, -1)  # where TensorRT reports -1
    assert shape.is_shape_tensor and dims.get_output(0).is_shape_tensor and not x.is_shape_tensor
    net.profile.set_shape("x", (1, 3, 1, 1), (2, 3, 4, 5), (4, 3, 8, 8))
    assert net.build(out) is not None, net.logger.errors()
    assert tuple(net.engine.get_tensor_shape(out.name)) == (-1, 3, -1)
    rng = np.random.default_rng(7)
    for n, h, w in ((2, 4, 5), (3, 7, 1)):
        data = rng.standard_normal((n, 3, h, w)).astype(np.float32)
        result = run1(net, out, x=data)
        assert tuple(net.context.get_tensor_shape(out.name)) == (n, 3, h * w)
        np.testing.assert_array_equal(result, data.reshape(n, 3, h * w))


@pytest.mark.parametrize("dtype", [I32, I64])
def test_shuffle_shape_tensor_network_input(dtype):
    net = Net()
    x = net.input("x", F32, (2, 3, 4))
    dims = net.input("dims", dtype, (3,))
    layer = net.network.add_shuffle(x)
    layer.set_input(1, dims)
    out = layer.get_output(0)
    assert dims.is_shape_tensor and out.shape == (-1, -1, -1)
    net.profile.set_shape_input("dims", [0, 0, 1], [4, 3, 2], [24, 24, 24])
    assert net.build(out) is not None, net.logger.errors()
    assert any("kMIN values are not self-consistent" in m for m in net.logger.warnings())
    assert net.engine.is_shape_inference_io("dims")
    assert net.engine.get_tensor_location("dims") == trt.TensorLocation.HOST
    data = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    for value in ([4, 3, 2], [2, 0, 4], [1, 1, 24]):
        result = run1(net, out, x=data, dims=np.array(value, trt.nptype(dtype)))
        expected = data.reshape([data.shape[i] if v == 0 else v for i, v in enumerate(value)])
        np.testing.assert_array_equal(result, expected)


def test_shuffle_invalid_configs():
    net = Net()
    layer = net.network.add_shuffle(net.input("x", F32, (2, 3)))
    layer.reshape_dims = (-1, -1)
    expect_build_error(net, layer.get_output(0), "[Shuffle]", "more than one -1")
    net = Net()
    layer = net.network.add_shuffle(net.input("x", F32, (2, 3)))
    layer.first_transpose = (0, 2)
    expect_build_error(net, layer.get_output(0), "[Shuffle]", "first_transpose")


def test_shuffle_float16_and_bool():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 4)).astype(np.float16)
    b = rng.random((2, 6)) > 0.5
    net = Net()
    l1 = net.network.add_shuffle(net.input("x", x))
    l1.first_transpose = (2, 1, 0)
    l1.reshape_dims = (4, -1)
    l2 = net.network.add_shuffle(net.input("b", b))
    l2.reshape_dims = (3, 4)
    assert l1.get_output(0).dtype == F16 and l2.get_output(0).dtype == trt.DataType.BOOL
    net.build(l1.get_output(0), l2.get_output(0))
    out = net.run(x=x, b=b)
    assert out[l1.get_output(0).name].dtype == np.float16
    np.testing.assert_array_equal(out[l1.get_output(0).name], x.transpose(2, 1, 0).reshape(4, -1))
    np.testing.assert_array_equal(out[l2.get_output(0).name], b.reshape(3, 4))


# ---------------------------------------------------------------- Slice

def _slice_reference(x, start, size, stride, mode, fill=0.0):
    """numpy reference from explicit index maps, one axis at a time."""
    out = x
    for axis in range(x.ndim):
        d = x.shape[axis]
        c = start[axis] + stride[axis] * np.arange(size[axis])
        inside = (c >= 0) & (c < d)
        if mode == "WRAP":
            idx = np.mod(c, d)
        elif mode == "CLAMP":
            idx = np.clip(c, 0, d - 1)
        elif mode == "REFLECT":
            if d == 1:
                idx = np.zeros_like(c)
            else:
                m = np.mod(c, 2 * (d - 1))
                idx = np.where(m >= d, 2 * (d - 1) - m, m)
        else:
            idx = np.clip(c, 0, d - 1)
        out = np.take(out, idx, axis=axis)
        if mode == "FILL":
            shape = [1] * x.ndim
            shape[axis] = -1
            out = np.where(inside.reshape(shape), out, np.asarray(fill, out.dtype))
    return out


@pytest.mark.parametrize("mode", ["WRAP", "CLAMP", "FILL", "REFLECT"])
@pytest.mark.parametrize("seed", range(3))
def test_slice_modes_random(mode, seed):
    rng = np.random.default_rng(100 * seed + len(mode))
    shape = tuple(int(d) for d in rng.integers(1, 6, 3))
    x = rng.standard_normal(shape).astype(np.float32)
    start = [int(v) for v in rng.integers(-7, 8, 3)]
    size = [int(v) for v in rng.integers(0, 9, 3)]
    stride = [int(v) for v in rng.integers(-3, 4, 3)]
    fill = float(rng.standard_normal())
    net = Net()
    layer = net.network.add_slice(net.input("x", x), start, size, stride)
    layer.mode = getattr(trt.SampleMode, mode)
    if mode == "FILL":
        layer.set_input(4, net.const(np.array([fill], np.float32)))
    out = layer.get_output(0)
    assert out.shape == tuple(size)
    net.build(out)
    np.testing.assert_array_equal(run1(net, out, x=x), _slice_reference(x, start, size, stride, mode, fill))


def test_slice_fill_default_value_is_zero():
    # Not documented and not in any recorded case: reftrt fills 0 when input 4 is absent.
    x = np.arange(1, 7, dtype=np.float32).reshape(2, 3)
    net = Net()
    layer = net.network.add_slice(net.input("x", x), (0, 1), (3, 3), (1, 1))
    layer.mode = trt.SampleMode.FILL
    net.build(layer.get_output(0))
    np.testing.assert_array_equal(run1(net, layer.get_output(0), x=x), [[2, 3, 0], [5, 6, 0], [0, 0, 0]])


def test_slice_strict_bounds_negative_stride_and_header_example():
    x = np.array([[0, 2, 4], [1, 3, 5]], np.float32)
    net = Net()
    inp = net.input("x", x)
    a = net.network.add_slice(inp, (1, 0), (1, 2), (1, 2))  # the header's example
    b = net.network.add_slice(inp, (1, 2), (2, 3), (-1, -1))
    net.build(a.get_output(0), b.get_output(0))
    out = net.run(x=x)
    np.testing.assert_array_equal(out[a.get_output(0).name], [[1, 5]])
    np.testing.assert_array_equal(out[b.get_output(0).name], x[::-1, ::-1])


def test_slice_axes_property_and_input():
    x = np.array([[0, 2, 4], [1, 3, 5]], np.float32)
    net = Net()
    inp = net.input("x", x)
    a = net.network.add_slice(inp, (1,), (2,), (1,))
    assert a.axes is None
    a.axes = (1,)  # the docstring's example: output {{2, 4}, {3, 5}}
    b = net.network.add_slice(inp, (0,), (1,), (1,))
    b.set_input(5, net.const(np.array([-2], np.int64)))  # negative axes count from the back
    assert b.axes is None
    assert a.get_output(0).shape == (2, 2) and b.get_output(0).shape == (1, 3)
    net.build(a.get_output(0), b.get_output(0))
    out = net.run(x=x)
    np.testing.assert_array_equal(out[a.get_output(0).name], [[2, 4], [3, 5]])
    np.testing.assert_array_equal(out[b.get_output(0).name], [[0, 2, 4]])


def test_slice_dynamic_inputs_from_shape_arithmetic():
    """Slice the last half of a dynamic axis: start = dim // 2 computed with shape layers."""
    net = Net()
    x = net.input("x", F32, (2, -1))
    shape = net.network.add_shape(x).get_output(0)
    two = net.const(np.array([1, 2], np.int64))
    half = net.network.add_elementwise(shape, two, trt.ElementWiseOperation.FLOOR_DIV).get_output(0)
    zero_start = net.network.add_elementwise(half, net.const(np.array([0, 1], np.int64)),
                                             trt.ElementWiseOperation.PROD).get_output(0)
    layer = net.network.add_slice(x, (), (), (1, 1))
    layer.set_input(1, zero_start)  # [0, dim // 2]
    layer.set_input(2, half)  # [2 // 1, dim // 2]
    out = layer.get_output(0)
    assert out.shape == (2, -1)
    net.profile.set_shape("x", (2, 2), (2, 8), (2, 16))
    assert net.build(out) is not None, net.logger.errors()
    for width in (6, 11):
        data = np.arange(2 * width, dtype=np.float32).reshape(2, width)
        np.testing.assert_array_equal(run1(net, out, x=data), data[:, width // 2: 2 * (width // 2)])


def test_slice_invalid_configs():
    net = Net()
    layer = net.network.add_slice(net.input("x", F32, (2, 3)), (0, 2), (2, 2), (1, 1))
    expect_build_error(net, layer.get_output(0), "(Unnamed Layer* 0) [Slice]", "out of bounds")
    net = Net()
    layer = net.network.add_slice(net.input("x", F32, (2, 3)), (0,), (1,), (1,))
    expect_build_error(net, layer.get_output(0), "[Slice]", "start has 1 values")
    net = Net()
    layer = net.network.add_slice(net.input("x", F32, (2, 3)), (0, 0), (1, 1), (1, 1))
    layer.set_input(4, net.const(np.array([1], np.float32)))  # a fill value needs SampleMode.FILL
    expect_build_error(net, layer.get_output(0), "[Slice]", "SampleMode.FILL")
    net = Net()
    layer = net.network.add_slice(net.input("x", F32, (0, 3)), (0, 0), (2, 3), (1, 1))
    layer.mode = trt.SampleMode.REFLECT
    expect_build_error(net, layer.get_output(0), "[Slice]", "zero-size")


def test_slice_float16():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 6)).astype(np.float16)
    net = Net()
    layer = net.network.add_slice(net.input("x", x), (-1, 1), (5, 3), (1, 2))
    layer.mode = trt.SampleMode.FILL
    layer.set_input(4, net.const(np.array([2.5], np.float16)))
    assert layer.get_output(0).dtype == F16
    net.build(layer.get_output(0))
    np.testing.assert_array_equal(run1(net, layer.get_output(0), x=x),
                                  _slice_reference(x, (-1, 1), (5, 3), (1, 2), "FILL", 2.5))


# ---------------------------------------------------------------- Gather

def _take_with_zeros(x, idx, axis):
    d = x.shape[axis]
    w = np.where(idx < 0, idx + d, idx)
    ok = (w >= 0) & (w < d)
    out = np.take(x, np.where(ok, w, 0), axis=axis)
    mask = ok.reshape((1,) * axis + ok.shape + (1,) * (x.ndim - axis - 1))
    return np.where(mask, out, 0)


@pytest.mark.parametrize("seed", range(4))
def test_gather_default_random(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((3, 4, 5)).astype(np.float32)
    axis = int(rng.integers(0, 3))
    d = x.shape[axis]
    idx = rng.integers(-d - 2, d + 2, (2, 3)).astype(np.int64)  # includes negatives and out-of-range (read 0)
    net = Net()
    layer = net.network.add_gather(net.input("x", x), net.input("i", idx), axis)
    out = layer.get_output(0)
    net.build(out)
    np.testing.assert_array_equal(run1(net, out, x=x, i=idx), _take_with_zeros(x, idx, axis))


def test_gather_default_elementwise_dim_with_broadcast():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((1, 3, 4, 2)).astype(np.float32)
    idx = rng.integers(-4, 4, (5, 2)).astype(np.int32)  # data's leading 1 broadcasts to 5
    net = Net()
    layer = net.network.add_gather_v2(net.input("x", x), net.input("i", idx), trt.GatherMode.DEFAULT)
    layer.axis = 2
    layer.num_elementwise_dims = 1
    out = layer.get_output(0)
    assert out.shape == (5, 3, 2, 2)
    net.build(out)
    expected = np.stack([np.take(x[0], np.mod(idx[b], 4), axis=1) for b in range(5)])
    np.testing.assert_array_equal(run1(net, out, x=x, i=idx), expected)


def test_gather_element_random():
    rng = np.random.default_rng(12)
    x = rng.standard_normal((3, 4, 5)).astype(np.float32)
    for axis in range(3):
        outer = (2, 3, 4) if axis == 1 else x.shape  # smaller than the data (torch.gather semantics) or equal
        idx = rng.integers(0, x.shape[axis], outer[:axis] + (6,) + outer[axis + 1:]).astype(np.int32)
        idx = np.minimum(idx, x.shape[axis] - 1)
        shape = list(idx.shape)
        for d in range(3):
            if d != axis:
                shape[d] = min(shape[d], x.shape[d])
        idx = np.ascontiguousarray(idx[tuple(slice(0, s) for s in shape)])
        net = Net()
        layer = net.network.add_gather_v2(net.input("x", x), net.input("i", idx), trt.GatherMode.ELEMENT)
        layer.axis = axis
        net.build(layer.get_output(0))
        expected = torch.gather(torch.from_numpy(x), axis, torch.from_numpy(idx).long()).numpy()
        if idx.shape[:axis] + idx.shape[axis + 1:] == x.shape[:axis] + x.shape[axis + 1:]:
            np.testing.assert_array_equal(expected, np.take_along_axis(x, idx.astype(np.int64), axis))
        np.testing.assert_array_equal(run1(net, layer.get_output(0), x=x, i=idx), expected)


def _gather_nd(x, idx, b):
    batch = x.shape[:b]
    out = []
    for bi in np.ndindex(*batch) if b else [()]:
        xb, ib = x[bi], idx[bi]
        rows = [xb[tuple(np.mod(i, xb.shape[:len(i)]))] for i in ib.reshape(-1, ib.shape[-1])]
        out.append(np.stack(rows).reshape(ib.shape[:-1] + xb.shape[ib.shape[-1]:]))
    return np.stack(out).reshape(idx.shape[:-1] + x.shape[b + idx.shape[-1]:])


@pytest.mark.parametrize("ned,k", [(0, 1), (0, 2), (0, 4), (1, 1), (1, 3), (2, 2)])
def test_gather_nd_random(ned, k):
    rng = np.random.default_rng(10 * ned + k)
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    lead = x.shape[:ned]
    idx = np.stack([rng.integers(-s, s, lead + (3,)) for s in x.shape[ned:ned + k]], axis=-1).astype(np.int32)
    net = Net()
    layer = net.network.add_gather_v2(net.input("x", x), net.input("i", idx), trt.GatherMode.ND)
    layer.num_elementwise_dims = ned
    out = layer.get_output(0)
    expected = _gather_nd(x, idx, ned)
    assert out.shape == expected.shape
    net.build(out)
    np.testing.assert_array_equal(run1(net, out, x=x, i=idx), expected)


def test_gather_torch_reference_float16():
    rng = np.random.default_rng(13)
    x = rng.standard_normal((4, 6)).astype(np.float16)
    idx = rng.integers(0, 6, (3,)).astype(np.int32)
    net = Net()
    layer = net.network.add_gather(net.input("x", x), net.input("i", idx), 1)
    assert layer.get_output(0).dtype == F16
    net.build(layer.get_output(0))
    expected = torch.index_select(torch.from_numpy(x), 1, torch.from_numpy(idx).long()).numpy()
    np.testing.assert_array_equal(run1(net, layer.get_output(0), x=x, i=idx), expected)


def test_gather_invalid_configs():
    for mode, axis, ned, fragment in ((trt.GatherMode.DEFAULT, 3, 0, "axis 3"),
                                      (trt.GatherMode.DEFAULT, 1, 2, "num_elementwise_dims"),
                                      (trt.GatherMode.ELEMENT, 0, 1, "num_elementwise_dims"),
                                      (trt.GatherMode.ND, 0, 3, "num_elementwise_dims")):
        net = Net()
        layer = net.network.add_gather_v2(net.input("x", F32, (2, 3, 4)), net.input("i", I32, (2, 3)), mode)
        layer.axis = axis
        layer.num_elementwise_dims = ned
        expect_build_error(net, layer.get_output(0), "(Unnamed Layer* 0) [Gather]", fragment)
    net = Net()
    layer = net.network.add_gather(net.input("x", F32, (2, 3)), net.input("i", F32, (2,)), 0)
    expect_build_error(net, layer.get_output(0), "[Gather]", "INT32 or INT64")


# ---------------------------------------------------------------- Concatenation, Shape

def test_concatenation_default_axis_and_random():
    rng = np.random.default_rng(20)
    for rank, default in ((1, 0), (2, 0), (3, 0), (4, 1), (5, 2)):
        shape = tuple(int(d) for d in rng.integers(1, 4, rank))
        a = rng.standard_normal(shape).astype(np.float32)
        other = list(shape)
        other[default] += 2
        b = rng.standard_normal(other).astype(np.float32)
        net = Net()
        layer = net.network.add_concatenation([net.input("a", a), net.input("b", b)])
        assert layer.axis == default
        net.build(layer.get_output(0))
        np.testing.assert_array_equal(run1(net, layer.get_output(0), a=a, b=b), np.concatenate([a, b], default))


def test_concatenation_dynamic_and_invalid():
    net = Net()
    a, b = net.input("a", F32, (-1, 3)), net.input("b", F32, (2, 3))
    layer = net.network.add_concatenation([a, b, a])
    layer.axis = 0
    assert layer.get_output(0).shape == (-1, 3)
    net.profile.set_shape("a", (1, 3), (2, 3), (4, 3))
    net.build(layer.get_output(0))
    x, y = np.ones((3, 3), np.float32), np.zeros((2, 3), np.float32)
    np.testing.assert_array_equal(run1(net, layer.get_output(0), a=x, b=y), np.concatenate([x, y, x]))
    net = Net()
    layer = net.network.add_concatenation([net.input("a", F32, (2, 3)), net.input("b", F32, (2, 4))])
    expect_build_error(net, layer.get_output(0), "[Concatenation]", "incompatible")
    net = Net()
    layer = net.network.add_concatenation([net.input("a", F32, (2, 3)), net.input("b", F16, (2, 3))])
    expect_build_error(net, layer.get_output(0), "[Concatenation]", "same type")


def test_shape_of_dynamic_input_and_half():
    net = Net()
    x = net.input("x", F16, (-1, 4, -1))
    layer = net.network.add_shape(x)
    assert layer.get_output(0).dtype == I64 and layer.get_output(0).shape == (3,)
    net.profile.set_shape("x", (1, 4, 1), (2, 4, 3), (5, 4, 9))
    net.build(layer.get_output(0))
    np.testing.assert_array_equal(run1(net, layer.get_output(0), x=np.zeros((5, 4, 2), np.float16)), [5, 4, 2])


# ---------------------------------------------------------------- Squeeze / Unsqueeze

@pytest.mark.skipif(not HAS_SQUEEZE, reason="TensorRT 11 API")
def test_squeeze_unsqueeze_random_axes():
    rng = np.random.default_rng(30)
    x = rng.standard_normal((2, 1, 3, 1)).astype(np.float32)
    net = Net()
    inp = net.input("x", x)
    sq = net.network.add_squeeze(inp, net.const(np.array([-1, 1], np.int64)))
    un = net.network.add_unsqueeze(inp, net.const(np.array([0, -1, 3], np.int32)))
    auto = net.network.add_squeeze(inp)  # 11.4: no axes removes every static 1
    assert auto.num_inputs == 1
    assert sq.get_output(0).shape == (2, 3) and un.get_output(0).shape == (1, 2, 1, 1, 3, 1, 1)
    assert auto.get_output(0).shape == (2, 3)
    net.build(sq.get_output(0), un.get_output(0), auto.get_output(0))
    out = net.run(x=x)
    np.testing.assert_array_equal(out[sq.get_output(0).name], x.squeeze((1, 3)))
    np.testing.assert_array_equal(out[un.get_output(0).name], np.expand_dims(x, (0, 3, 6)))
    np.testing.assert_array_equal(out[auto.get_output(0).name], x.squeeze())


@pytest.mark.skipif(not HAS_SQUEEZE, reason="TensorRT 11 API")
def test_squeeze_without_axes_keeps_dynamic_dims():
    net = Net()
    layer = net.network.add_squeeze(net.input("x", F32, (1, -1, 1, 4)))
    assert layer.get_output(0).shape == (-1, 4)
    net.profile.set_shape("x", (1, 1, 1, 4), (1, 3, 1, 4), (1, 8, 1, 4))
    net.build(layer.get_output(0))
    data = np.arange(12, dtype=np.float32).reshape(1, 3, 1, 4)
    np.testing.assert_array_equal(run1(net, layer.get_output(0), x=data), data.reshape(3, 4))


@pytest.mark.skipif(not HAS_SQUEEZE, reason="TensorRT 11 API")
def test_squeeze_unsqueeze_invalid():
    net = Net()
    layer = net.network.add_squeeze(net.input("x", F32, (2, 3)), net.const(np.array([0], np.int32)))
    expect_build_error(net, layer.get_output(0), "[Squeeze]", "not 1")
    net = Net()
    layer = net.network.add_unsqueeze(net.input("x", F32, (2, 3)), net.const(np.array([0, 0], np.int32)))
    expect_build_error(net, layer.get_output(0), "[Unsqueeze]", "unique")


# ---------------------------------------------------------------- OneHot

@pytest.mark.parametrize("axis", [-3, -1, 0, 1, 2])
def test_one_hot_random(axis):
    rng = np.random.default_rng(40 + axis)
    depth = 5
    idx = rng.integers(-depth - 1, depth + 1, (3, 4)).astype(np.int32)
    values = np.array([-2.5, 7.0], np.float16)
    net = Net()
    layer = net.network.add_one_hot(net.input("i", idx), net.const(values), net.const(np.array(depth, np.int64)),
                                    axis)
    out = layer.get_output(0)
    a = axis + 3 if axis < 0 else axis
    assert out.dtype == F16 and out.shape == idx.shape[:a] + (depth,) + idx.shape[a:]
    net.build(out)
    wrapped = np.where(idx < 0, idx + depth, idx)
    hot = np.expand_dims(wrapped, a) == np.arange(depth).reshape((depth,) + (1,) * (2 - a))
    np.testing.assert_array_equal(run1(net, out, i=idx), np.where(hot, values[1], values[0]))


def test_one_hot_invalid():
    net = Net()
    layer = net.network.add_one_hot(net.input("i", I32, (3,)), net.const(np.array([0, 1], np.float32)),
                                    net.const(np.array(0, np.int32)), -1)
    expect_build_error(net, layer.get_output(0), "[OneHot]", "depth must be positive")
    net = Net()
    layer = net.network.add_one_hot(net.input("i", I32, (3,)), net.const(np.array([0, 1], np.float32)),
                                    net.const(np.array(4, np.int32)), 2)
    expect_build_error(net, layer.get_output(0), "[OneHot]", "axis 2")


# ---------------------------------------------------------------- Fill

@pytest.mark.parametrize("dtype", [I32, I64, F32])
def test_fill_linspace_static_and_types(dtype):
    net = Net()
    layer = net.network.add_fill([5], trt.FillOperation.LINSPACE, dtype)
    layer.alpha = -3
    layer.beta = 2
    assert layer.is_alpha_beta_int64() is True and layer.alpha == -3 and isinstance(layer.alpha, int)
    assert layer.get_output(0).dtype == dtype
    net.build(layer.get_output(0))
    result = run1(net, layer.get_output(0))
    assert result.dtype == trt.nptype(dtype)
    np.testing.assert_array_equal(result, [-3, -1, 1, 3, 5])
    layer2 = Net().network.add_fill([3], trt.FillOperation.LINSPACE)
    layer2.alpha = 0.5
    assert layer2.is_alpha_beta_int64() is False and layer2.alpha == 0.5 and layer2.to_type == F32


def test_fill_linspace_dynamic_int64_nd():
    net = Net()
    start, delta = net.input("start", I64, ()), net.input("delta", I64, (2,))
    layer = net.network.add_fill([3, 4], trt.FillOperation.LINSPACE)
    layer.set_input(1, start)
    layer.set_input(2, delta)
    assert layer.get_output(0).dtype == I64  # alpha/beta inputs decide the type (see reftrt/layers/fill.py)
    net.build(layer.get_output(0))
    big = 1 << 40  # exact in int64, not in float
    result = run1(net, layer.get_output(0), start=np.array(big, np.int64), delta=np.array([10, 1], np.int64))
    np.testing.assert_array_equal(result, big + 10 * np.arange(3)[:, None] + np.arange(4)[None, :])


def test_fill_random_half_statistics():
    net = Net()
    uniform = net.network.add_fill([4000], trt.FillOperation.RANDOM_UNIFORM, F16)
    uniform.alpha, uniform.beta = -1.0, 3.0
    normal = net.network.add_fill([4000], trt.FillOperation.RANDOM_NORMAL, F32)
    normal.alpha, normal.beta = 2.0, 0.5
    assert uniform.get_output(0).dtype == F16
    net.build(uniform.get_output(0), normal.get_output(0))
    first = net.run()
    u, n = first[uniform.get_output(0).name].astype(np.float64), first[normal.get_output(0).name]
    assert u.min() >= -1 and u.max() <= 3 and abs(u.mean() - 1.0) < 0.1 and abs(u.std() - 4 / np.sqrt(12)) < 0.1
    assert abs(n.mean() - 2.0) < 0.05 and abs(n.std() - 0.5) < 0.05
    second = net.run()
    assert not np.array_equal(second[normal.get_output(0).name], n)


def test_fill_setters_follow_the_bindings():
    net = Net()
    layer = net.network.add_fill([2], trt.FillOperation.LINSPACE)
    layer.alpha = "x"  # not a number: ignored, as pybind's caught cast error
    assert layer.alpha == 0.0
    layer.set_input(1, net.const(np.array(1.0, np.float32)))
    layer.set_input(2, net.const(np.array([1.0], np.float32)))
    assert layer.alpha == -1.0 and layer.beta == -1.0
    layer.alpha = 4.0  # resets input 1
    assert layer.get_input(1) is None and layer.alpha == 4.0
    layer.shape = [3]
    assert layer.shape == (3,)


def test_fill_invalid_configs():
    net = Net()
    layer = net.network.add_fill([2, 3], trt.FillOperation.LINSPACE)
    expect_build_error(net, layer.get_output(0), "(Unnamed Layer* 0) [Fill]", "1-D output")
    net = Net()
    layer = net.network.add_fill([2], trt.FillOperation.RANDOM_UNIFORM, I32)
    expect_build_error(net, layer.get_output(0), "[Fill]", "cannot output")
    net = Net()
    layer = net.network.add_fill([2], trt.FillOperation.LINSPACE)
    layer.set_input(1, net.const(np.array(1.0, np.float32)))
    expect_build_error(net, layer.get_output(0), "[Fill]", "both be static or both be tensors")


def test_plan_keeps_dynamic_parameters():
    """Parameters and dynamic inputs survive the plan: a reloaded engine runs the same."""
    net = Net()
    x = net.input("x", F32, (2, 6))
    sh = net.network.add_shuffle(x)
    sh.set_input(1, net.const(np.array([3, 4], np.int32)))
    sl = net.network.add_slice(sh.get_output(0), (0, 0), (3, 2), (1, 2))
    sl.axes = (0, 1)
    net.build(sl.get_output(0))
    data = np.arange(12, dtype=np.float32).reshape(2, 6)
    np.testing.assert_array_equal(run1(net, sl.get_output(0), x=data), data.reshape(3, 4)[:, ::2])


def test_api_10_3_variants():
    """Under the 10.3 API: no Squeeze/Unsqueeze, add_fill's two-argument overload."""
    code = (
        "import numpy as np, reftrt as trt\n"
        "assert not hasattr(trt, 'ISqueezeLayer') and not hasattr(trt.INetworkDefinition, 'add_squeeze')\n"
        "assert not hasattr(trt.INetworkDefinition, 'add_unsqueeze')\n"
        "b = trt.Builder(trt.Logger()); n = b.create_network()\n"
        "l = n.add_fill([3], trt.FillOperation.LINSPACE)\n"
        "assert l.to_type == trt.DataType.FLOAT and l.get_output(0).shape == (3,)\n"
        "l2 = n.add_fill([3], trt.FillOperation.LINSPACE, output_type=trt.DataType.INT32)\n"
        "assert l2.get_output(0).dtype == trt.DataType.INT32\n"
        "print('ok')\n")
    env = dict(os.environ, REFTRT_TRT_VERSION="10.3")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr

"""Resize, GridSample, NMS and NonZero beyond the Cookbook cases: fresh seeded random data against PyTorch and
hand-written references, every enum value of every option, dynamic shapes, float16 data, data-dependent outputs read
through an IOutputAllocator, and invalid configurations.

Resize's references: PyTorch's F.interpolate where TensorRT's mode must agree with it (nearest + ASYMMETRIC + FLOOR
is 'nearest'; nearest + HALF_PIXEL + HALF_UP is 'nearest-exact'; linear + HALF_PIXEL / ALIGN_CORNERS is
(bi/tri)linear with align_corners False / True; cubic with A = -0.75 is bicubic), and for everything else `ref_resize`
below, a per-element float32 implementation of the NvInfer.h formulas written independently of reftrt's.
"""
import itertools
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import reftrt as trt
from tests.helpers.trt_logger import Recorder
from reftrt.layers import resize as resize_module

F32, F16, I32, I64, BOOL = (trt.DataType.FLOAT, trt.DataType.HALF, trt.DataType.INT32, trt.DataType.INT64,
                            trt.DataType.BOOL)
_NP = {np.dtype(np.float32): F32, np.dtype(np.float16): F16, np.dtype(np.int32): I32, np.dtype(np.int64): I64,
       np.dtype(np.bool_): BOOL}
IM, CT, SEL, RND = (trt.InterpolationMode, trt.ResizeCoordinateTransformation, trt.ResizeSelector,
                    trt.ResizeRoundMode)
IS_11 = hasattr(trt.INMSLayer, "indices_type")




class Allocator(trt.IOutputAllocator):
    def __init__(self):
        super().__init__()
        self.shape, self.buffer, self.calls = None, np.zeros(0, dtype=np.uint8), 0

    def reallocate_output(self, tensor_name, old_address, size, alignment):
        self.calls += 1
        if size > self.buffer.nbytes:
            self.buffer = np.zeros(size, dtype=np.uint8)
        return self.buffer.ctypes.data

    def notify_shape(self, tensor_name, shape):
        self.shape = tuple(shape)


class Net:
    """Build a network once, then run it for several input feeds."""

    def __init__(self):
        self.logger = Recorder()
        self.builder = trt.Builder(self.logger)
        self.network = self.builder.create_network()
        self.profile = self.builder.create_optimization_profile()
        self.config = self.builder.create_builder_config()

    def input(self, name, array_or_dtype, shape=None):
        if shape is None:
            array = np.asarray(array_or_dtype)
            return self.network.add_input(name, _NP[array.dtype], array.shape)
        return self.network.add_input(name, array_or_dtype, shape)

    def const(self, array):
        array = np.array(array, order="C")
        return self.network.add_constant(array.shape, array).get_output(0)

    def build(self, *outputs):
        for t in outputs:
            self.network.mark_output(t)
        if self.profile._shapes or self.profile._values:
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
        buffers, allocators = {}, {}
        for n in names:
            if e.get_tensor_mode(n) == trt.TensorIOMode.INPUT:
                buffers[n] = np.array(feeds[n], dtype=trt.nptype(e.get_tensor_dtype(n)), order="C")
                if e.is_shape_inference_io(n):
                    c.set_tensor_address(n, buffers[n].ctypes.data)
                else:
                    assert c.set_input_shape(n, buffers[n].shape)
                    c.set_tensor_address(n, buffers[n].ctypes.data)
        for n in names:
            if e.get_tensor_mode(n) == trt.TensorIOMode.INPUT:
                continue
            shape = tuple(c.get_tensor_shape(n))
            if -1 in shape:
                allocators[n] = Allocator()
                c.set_output_allocator(n, allocators[n])
            else:
                buffers[n] = np.zeros(shape, dtype=trt.nptype(e.get_tensor_dtype(n)))
                c.set_tensor_address(n, buffers[n].ctypes.data)
        assert c.execute_async_v3(0), self.logger.errors()
        out = {n: buffers[n] for n in names if e.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT and n in buffers}
        for n, a in allocators.items():
            dtype = np.dtype(trt.nptype(e.get_tensor_dtype(n)))
            count = int(np.prod(a.shape))
            out[n] = a.buffer[:count * dtype.itemsize].view(dtype).reshape(a.shape).copy()
        return out


def run_one(t_out, net, **feeds):
    return net.run(**feeds)[t_out.name]


# ================================================================================================ Resize
# ---- an independent reference: per-element loops over the NvInfer.h formulas, in float32 ----

def _coord(o, l_in, l_out, transform, selector, scale):
    f = np.float32
    if selector == "UPPER" and l_out == 1:
        return f(0)
    if transform == "ALIGN_CORNERS":
        return f(0) if l_out == 1 else f(o) * (f(l_in - 1) / f(l_out - 1))
    r = f(1) / f(scale) if scale is not None else f(l_in) / f(l_out)
    return (f(o) + f(0.5)) * r - f(0.5) if transform == "HALF_PIXEL" else f(o) * r


def _kernel(d, a):
    d = abs(float(d))
    if d <= 1:
        return ((a + 2) * d - (a + 3)) * d * d + 1
    if d < 2:
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return 0.0


def _ref_1d(v, l_out, mode, transform, selector, rounding, a, exclude, scale):
    l_in = len(v)
    out = np.zeros(l_out, dtype=np.float64)
    for o in range(l_out):
        x = float(_coord(o, l_in, l_out, transform, selector, scale))
        if mode == "NEAREST":
            i = {"FLOOR": np.floor(x), "CEIL": np.ceil(x), "HALF_UP": np.floor(x + 0.5),
                 "HALF_DOWN": np.ceil(x - 0.5)}[rounding]
            out[o] = v[int(min(max(i, 0), l_in - 1))]
        elif mode == "LINEAR":
            x = min(max(x, 0.0), l_in - 1)
            i0 = int(np.floor(x))
            i1 = min(i0 + 1, l_in - 1)
            out[o] = v[i0] * (1 - (x - i0)) + v[i1] * (x - i0)
        else:
            base = int(np.floor(x))
            taps = [(j, _kernel(x - j, a)) for j in range(base - 1, base + 3)]
            if exclude:
                taps = [(j, w) for j, w in taps if 0 <= j < l_in]
                total = sum(w for _, w in taps)
                taps = [(j, w / total) for j, w in taps]
            out[o] = sum(v[min(max(j, 0), l_in - 1)] * w for j, w in taps)
    return out


def ref_resize(x, size, mode="NEAREST", transform="ASYMMETRIC", selector="FORMULA", rounding="FLOOR", a=-0.75,
               exclude=False, scales=None):
    y = np.asarray(x, dtype=np.float64)
    for d in range(y.ndim):
        scale = None if scales is None else scales[d]
        if y.shape[d] == size[d] and scale in (None, 1.0):
            continue
        y = np.apply_along_axis(_ref_1d, d, y, size[d], mode, transform, selector, rounding, a, exclude, scale)
    return y


def resize_net(x_or_shape, configs, dtype=F32):
    """One network with a resize layer per config (dict of attributes); returns (net, input, layers)."""
    net = Net()
    shape = x_or_shape if isinstance(x_or_shape, tuple) else np.shape(x_or_shape)
    tensor = net.input("x", dtype, shape)
    layers = []
    for cfg in configs:
        layer = net.network.add_resize(tensor)
        for key, value in cfg.items():
            setattr(layer, key, value)
        layers.append(layer)
    return net, tensor, layers


def _sizes(rng, k):
    return [int(v) for v in rng.integers(1, 9, k)], [int(v) for v in rng.integers(1, 14, k)]


@pytest.mark.parametrize("k", [1, 2, 3])
def test_nearest_asymmetric_floor_is_torch_nearest(k):
    rng = np.random.default_rng(10 + k)
    for _ in range(12):
        sp_in, sp_out = _sizes(rng, k)
        x = rng.standard_normal([2, 3] + sp_in).astype(np.float32)
        ref = F.interpolate(torch.from_numpy(x), size=sp_out, mode="nearest").numpy()
        generic = resize_module.resize(torch.from_numpy(x), [2, 3] + sp_out, None, "NEAREST", "ASYMMETRIC",
                                       "FORMULA", "FLOOR", fast=False)
        np.testing.assert_array_equal(generic.numpy(), ref)
        net, _, (layer,) = resize_net(x, [dict(shape=[2, 3] + sp_out)])
        np.testing.assert_array_equal(run_one(layer.get_output(0), net.build(layer.get_output(0)), x=x), ref)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_nearest_half_pixel_half_up_is_torch_nearest_exact(k):
    rng = np.random.default_rng(20 + k)
    for _ in range(12):
        sp_in, sp_out = _sizes(rng, k)
        x = rng.standard_normal([2, 3] + sp_in).astype(np.float32)
        ref = F.interpolate(torch.from_numpy(x), size=sp_out, mode="nearest-exact").numpy()
        generic = resize_module.resize(torch.from_numpy(x), [2, 3] + sp_out, None, "NEAREST", "HALF_PIXEL",
                                       "FORMULA", "HALF_UP", fast=False)
        np.testing.assert_array_equal(generic.numpy(), ref)
        net, _, (layer,) = resize_net(x, [dict(shape=[2, 3] + sp_out, coordinate_transformation=CT.HALF_PIXEL,
                                               nearest_rounding=RND.HALF_UP)])
        np.testing.assert_array_equal(run_one(layer.get_output(0), net.build(layer.get_output(0)), x=x), ref)


@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_linear_is_torch_linear(k, align):
    rng = np.random.default_rng(30 + k + 3 * align)
    torch_mode = ("linear", "bilinear", "trilinear")[k - 1]
    transform = CT.ALIGN_CORNERS if align else CT.HALF_PIXEL
    for _ in range(12):
        sp_in, sp_out = _sizes(rng, k)
        x = rng.standard_normal([2, 3] + sp_in).astype(np.float32)
        ref = F.interpolate(torch.from_numpy(x), size=sp_out, mode=torch_mode, align_corners=align).numpy()
        for fast in (False, True):
            got = resize_module.resize(torch.from_numpy(x), [2, 3] + sp_out, None, "LINEAR", transform.name,
                                       "FORMULA", "FLOOR", fast=fast)
            np.testing.assert_allclose(got.numpy(), ref, rtol=1e-5, atol=1e-5)
        net, _, (layer,) = resize_net(x, [dict(shape=[2, 3] + sp_out, resize_mode=IM.LINEAR,
                                               coordinate_transformation=transform)])
        got = run_one(layer.get_output(0), net.build(layer.get_output(0)), x=x)
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("align", [False, True])
def test_cubic_is_torch_bicubic(align):
    rng = np.random.default_rng(40 + align)
    transform = CT.ALIGN_CORNERS if align else CT.HALF_PIXEL
    for _ in range(12):
        sp_in, sp_out = _sizes(rng, 2)
        x = rng.standard_normal([2, 3] + sp_in).astype(np.float32)
        ref = F.interpolate(torch.from_numpy(x), size=sp_out, mode="bicubic", align_corners=align).numpy()
        net, _, (layer,) = resize_net(x, [dict(shape=[2, 3] + sp_out, resize_mode=IM.CUBIC,
                                               coordinate_transformation=transform)])
        got = run_one(layer.get_output(0), net.build(layer.get_output(0)), x=x)
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=2e-5)


def test_fast_paths_are_taken_and_identical():
    """The F.interpolate shortcuts: nearest is bitwise identical to the separable gather, linear equal up to
    rounding; and the common YOLO / segmentation cases do take them."""
    rng = np.random.default_rng(50)
    calls = []
    real = resize_module._call_interpolate

    def spy(*args):
        calls.append(args[3])
        return real(*args)

    resize_module._call_interpolate = spy
    try:
        x = torch.from_numpy(rng.standard_normal((1, 4, 10, 12)).astype(np.float32))
        for transform, rounding in itertools.product(CT.__members__, RND.__members__):
            for out in ([1, 4, 20, 24], [1, 4, 13, 31], [1, 4, 7, 5]):
                fast = resize_module.resize(x, out, None, "NEAREST", transform, "FORMULA", rounding)
                slow = resize_module.resize(x, out, None, "NEAREST", transform, "FORMULA", rounding, fast=False)
                assert torch.equal(fast, slow), (transform, rounding, out)
        calls.clear()
        resize_module.resize(x, [1, 4, 20, 24], None, "NEAREST", "ASYMMETRIC", "FORMULA", "FLOOR")
        assert calls == ["nearest"]  # YOLO's 2x upsampling
        for transform in ("HALF_PIXEL", "ALIGN_CORNERS"):
            for out in ([1, 4, 40, 48], [1, 4, 13, 31], [1, 4, 7, 5], [1, 4, 1, 1]):
                calls.clear()
                fast = resize_module.resize(x, out, None, "LINEAR", transform, "FORMULA", "FLOOR")
                slow = resize_module.resize(x, out, None, "LINEAR", transform, "FORMULA", "FLOOR", fast=False)
                assert calls == ["bilinear"]
                torch.testing.assert_close(fast, slow, rtol=1e-6, atol=1e-6)
        calls.clear()  # no shortcut where PyTorch has no equivalent
        resize_module.resize(x, [1, 4, 20, 24], None, "LINEAR", "ASYMMETRIC", "FORMULA", "FLOOR")
        resize_module.resize(x, [1, 4, 1, 1], None, "LINEAR", "HALF_PIXEL", "UPPER", "FLOOR")
        resize_module.resize(x, [1, 4, 20, 24], None, "CUBIC", "HALF_PIXEL", "FORMULA", "FLOOR")
        resize_module.resize(x, [2, 4, 20, 24], None, "NEAREST", "ASYMMETRIC", "FORMULA", "FLOOR")
        assert calls == []
    finally:
        resize_module._call_interpolate = real


def test_every_option_against_reference():
    """All modes x transforms x selectors x rounding modes x exclude_outside, cubic coefficients, up- and
    downsampling and length-1 outputs, in one network per input, against `ref_resize`."""
    rng = np.random.default_rng(60)
    for sp_in, sp_out in [((4, 5), (7, 3)), ((3, 6), (1, 9)), ((5, 1), (2, 4)), ((6, 7), (6, 1))]:
        x = rng.standard_normal((2, 1) + sp_in).astype(np.float32)
        size = [2, 1] + list(sp_out)
        configs, refs = [], []
        for mode, transform, selector in itertools.product(IM.__members__, CT.__members__, SEL.__members__):
            variants = [dict(nearest_rounding=getattr(RND, r)) for r in RND.__members__] if mode == "NEAREST" \
                else [dict(exclude_outside=e, cubic_coeff=c) for e in (False, True)
                      for c in ((-0.75, -0.5, 0.5) if mode == "CUBIC" else (-0.75,))]
            for extra in variants:
                cfg = dict(shape=size, resize_mode=getattr(IM, mode), coordinate_transformation=getattr(CT, transform),
                           selector_for_single_pixel=getattr(SEL, selector), **extra)
                configs.append(cfg)
                refs.append(ref_resize(x, size, mode, transform, selector,
                                       extra.get("nearest_rounding", RND.FLOOR).name, extra.get("cubic_coeff", -0.75),
                                       extra.get("exclude_outside", False)))
        net, _, layers = resize_net(x, configs)
        outs = net.build(*[layer.get_output(0) for layer in layers]).run(x=x)
        for cfg, layer, ref in zip(configs, layers, refs):
            got = outs[layer.get_output(0).name]
            if cfg["resize_mode"] == IM.NEAREST:
                np.testing.assert_array_equal(got, ref.astype(np.float32), err_msg=str(cfg))
            else:
                np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5, err_msg=str(cfg))


def test_selector_and_exclude_outside_by_hand():
    x = np.array([[1.0, 2.0, 4.0, 8.0]], dtype=np.float32)
    configs = [dict(shape=[1, 1], resize_mode=IM.LINEAR, coordinate_transformation=CT.HALF_PIXEL),
               dict(shape=[1, 1], resize_mode=IM.LINEAR, coordinate_transformation=CT.HALF_PIXEL,
                    selector_for_single_pixel=SEL.UPPER),
               dict(shape=[1, 2], resize_mode=IM.CUBIC, coordinate_transformation=CT.ALIGN_CORNERS),
               dict(shape=[1, 2], resize_mode=IM.CUBIC, coordinate_transformation=CT.ASYMMETRIC, cubic_coeff=-0.5,
                    exclude_outside=True)]
    net, _, layers = resize_net(x, configs)
    outs = net.build(*[layer.get_output(0) for layer in layers]).run(x=x)
    got = [outs[layer.get_output(0).name] for layer in layers]
    # FORMULA: x = (0 + 0.5) * 4 - 0.5 = 1.5, halfway between 2 and 4; UPPER: element 0.
    np.testing.assert_allclose(got[0], [[3.0]])
    np.testing.assert_allclose(got[1], [[1.0]])
    # ALIGN_CORNERS to length 2: x = 0 and x = 3, the corner values.
    np.testing.assert_allclose(got[2], [[1.0, 8.0]], rtol=1e-6)
    # ASYMMETRIC to length 2: x = 0 and 2. At x = 0 with A = -0.5 the taps -1, 0, 1, 2 weigh 0, 1, 0, 0.
    # At x = 2 the taps 1..4 weigh 0, 1, 0, 0 too (tap 4 is outside and excluded).
    np.testing.assert_allclose(got[3], [[1.0, 4.0]], rtol=1e-6)


def test_output_size_from_scales_shape_and_default():
    rng = np.random.default_rng(70)
    x = rng.standard_normal((2, 3, 5, 7)).astype(np.float32)
    net, tensor, layers = resize_net(x, [dict(scales=[1.0, 1.0, 1.5, 0.5]), dict(scales=[2.0, 1.0, 1.0, 1.0]),
                                         dict(shape=[1, 2, 5, 7]), dict()])
    assert layers[0].scales == [1.0, 1.0, 1.5, 0.5] and layers[0].shape is None
    assert tuple(layers[0].get_output(0).shape) == (2, 3, 7, 3)  # floor(5 * 1.5), floor(7 * 0.5)
    assert tuple(layers[1].get_output(0).shape) == (4, 3, 5, 7)
    assert tuple(layers[3].get_output(0).shape) == (2, 3, 5, 7) and layers[3].shape == (2, 3, 5, 7)
    assert layers[3].scales == []
    outs = net.build(*[layer.get_output(0) for layer in layers]).run(x=x)
    got = [outs[layer.get_output(0).name] for layer in layers]
    np.testing.assert_array_equal(got[0], ref_resize(x, [2, 3, 7, 3], scales=[1.0, 1.0, 1.5, 0.5]))
    np.testing.assert_array_equal(got[1], np.repeat(x, 2, axis=0))  # the batch dimension resized
    np.testing.assert_array_equal(got[2], x[:1, :2])  # shrinking picks the first elements (ASYMMETRIC, FLOOR)
    np.testing.assert_array_equal(got[3], x)


def test_scales_drive_the_coordinate_transform():
    """reftrt's choice where no recorded case decides: with `scales`, ASYMMETRIC / HALF_PIXEL use 1 / scale."""
    rng = np.random.default_rng(71)
    x = rng.standard_normal((1, 2, 5, 6)).astype(np.float32)
    net, _, layers = resize_net(x, [dict(scales=[1, 1, 1.5, 1.7], resize_mode=IM.LINEAR,
                                         coordinate_transformation=CT.HALF_PIXEL),
                                    dict(shape=[1, 2, 7, 10], resize_mode=IM.LINEAR,
                                         coordinate_transformation=CT.HALF_PIXEL)])
    outs = net.build(*[layer.get_output(0) for layer in layers]).run(x=x)
    by_scales, by_shape = (outs[layer.get_output(0).name] for layer in layers)
    xt = torch.from_numpy(x)
    np.testing.assert_allclose(by_scales, F.interpolate(xt, scale_factor=(1.5, 1.7), mode="bilinear",
                                                        recompute_scale_factor=False).numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(by_shape, F.interpolate(xt, size=(7, 10), mode="bilinear").numpy(), rtol=1e-5,
                               atol=1e-5)
    assert np.abs(by_scales - by_shape).max() > 1e-2


def test_getters_setters_and_dynamic_layer():
    net = Net()
    tensor = net.input("x", F32, (1, 2, 3, 4))
    layer = net.network.add_resize(tensor)
    layer.scales = np.array([1, 1, 2, 2], dtype=np.float32)
    assert layer.scales == [1.0, 1.0, 2.0, 2.0] and layer.shape is None
    layer.shape = (1, 2, 5, 5)  # the last one set wins
    assert layer.shape == (1, 2, 5, 5) and layer.scales == []
    assert any("Resize scale factors are not set. Output dims are set instead." in m for m in net.logger.warnings())
    layer.scales = [1, 1, 0.5, 0.5]
    assert tuple(layer.get_output(0).shape) == (1, 2, 1, 2)
    layer.set_input(1, net.const(np.array([1, 2, 6, 8], dtype=np.int64)))
    assert layer.shape is None and layer.scales == []
    assert tuple(layer.get_output(0).shape) == (1, 2, 6, 8)
    before = len(net.logger.errors())
    layer.shape = (1, 1, 1, 1)
    layer.scales = [1, 1, 1, 1]
    assert len(net.logger.errors()) == before + 2  # a dynamic resize layer cannot be made static again
    assert tuple(layer.get_output(0).shape) == (1, 2, 6, 8)
    with pytest.raises(TypeError):
        layer.resize_mode = 1
    with pytest.raises(TypeError):
        layer.scales = "2"
    layer.exclude_outside = 0
    assert layer.exclude_outside is False


def test_dynamic_shapes():
    rng = np.random.default_rng(80)
    net = Net()
    tensor = net.input("x", F32, (-1, 3, -1, -1))
    net.profile.set_shape("x", (1, 3, 2, 2), (2, 3, 8, 8), (4, 3, 16, 16))
    by_scales = net.network.add_resize(tensor)
    by_scales.scales = [1, 1, 2, 2]
    by_scales.resize_mode = IM.LINEAR
    by_scales.coordinate_transformation = CT.HALF_PIXEL
    by_shape = net.network.add_resize(tensor)
    by_shape.shape = [2, 3, 5, 5]
    size = net.input("size", I32, (4,))
    net.profile.set_shape_input("size", (1, 1, 1, 1), (2, 3, 4, 4), (8, 3, 32, 32))
    by_input = net.network.add_resize(tensor)
    by_input.set_input(1, size)
    by_input.nearest_rounding = RND.HALF_DOWN
    by_input.coordinate_transformation = CT.HALF_PIXEL
    assert tuple(by_scales.get_output(0).shape) == (-1, 3, -1, -1)
    assert tuple(by_shape.get_output(0).shape) == (2, 3, 5, 5)
    assert tuple(by_input.get_output(0).shape) == (-1, -1, -1, -1)
    outputs = [layer.get_output(0) for layer in (by_scales, by_shape, by_input)]
    net.build(*outputs)
    for shape, target in [((1, 3, 3, 5), (2, 3, 7, 4)), ((3, 3, 16, 9), (3, 3, 4, 30))]:
        x = rng.standard_normal(shape).astype(np.float32)
        outs = net.run(x=x, size=np.array(target, dtype=np.int32))
        ref = F.interpolate(torch.from_numpy(x), scale_factor=2, mode="bilinear").numpy()
        np.testing.assert_allclose(outs[outputs[0].name], ref, rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(outs[outputs[1].name], ref_resize(x, [2, 3, 5, 5]))
        np.testing.assert_array_equal(outs[outputs[2].name],
                                      ref_resize(x, target, transform="HALF_PIXEL", rounding="HALF_DOWN"))


@pytest.mark.parametrize("mode", ["NEAREST", "LINEAR", "CUBIC"])
def test_float16(mode):
    rng = np.random.default_rng(90)
    x = rng.standard_normal((1, 4, 6, 7)).astype(np.float16)
    net, _, (layer,) = resize_net(x, [dict(shape=[1, 4, 11, 5], resize_mode=getattr(IM, mode),
                                           coordinate_transformation=CT.HALF_PIXEL)], dtype=F16)
    assert layer.get_output(0).dtype == F16
    got = run_one(layer.get_output(0), net.build(layer.get_output(0)), x=x)
    assert got.dtype == np.float16
    ref = ref_resize(x.astype(np.float32), [1, 4, 11, 5], mode, "HALF_PIXEL")
    # fp16 rounding of the result: 2^-11 relative, plus the cubic overshoot of values up to ~4.
    np.testing.assert_allclose(got.astype(np.float32), ref, rtol=2e-3, atol=4e-3)


@pytest.mark.parametrize("config, input_shape, dtype, message", [
    (dict(shape=[2, 3, 4, 5], resize_mode=IM.LINEAR), (1, 3, 4, 5), F32, "innermost 3"),
    (dict(shape=[1, 6, 4, 5], resize_mode=IM.CUBIC), (1, 3, 4, 5), F32, "innermost 2"),
    (dict(shape=[7], resize_mode=IM.CUBIC), (5,), F32, "rank >= 2"),
    (dict(shape=[1, 3, 4]), (1, 3, 4, 5), F32, "rank 4"),
    (dict(scales=[1, 2, 2]), (1, 3, 4, 5), F32, "rank 4"),
    (dict(scales=[1, 1, -2, 2]), (1, 3, 4, 5), F32, "positive"),
    (dict(shape=[1, 3, -4, 5]), (1, 3, 4, 5), F32, "negative"),
    (dict(shape=[1, 3, 8, 10]), (1, 3, 4, 5), I32, "not supported"),
    (dict(shape=[1, 3, 8, 10], resize_mode=IM.LINEAR), (1, 3, 4, 5), trt.DataType.INT8, "not supported"),
])
def test_invalid_configurations(config, input_shape, dtype, message):
    net, _, (layer,) = resize_net(input_shape, [config], dtype=dtype)
    assert net.build(layer.get_output(0)) is None
    assert any(layer.name in m and message in m for m in net.logger.errors()), net.logger.errors()


def test_invalid_shape_tensor_value_at_run_time():
    net = Net()
    tensor = net.input("x", F32, (1, 3, 4, 5))
    size = net.input("size", I32, (4,))
    net.profile.set_shape_input("size", (1, 3, 1, 1), (1, 3, 8, 8), (2, 3, 16, 16))
    layer = net.network.add_resize(tensor)
    layer.set_input(1, size)
    layer.resize_mode = IM.LINEAR
    net.build(layer.get_output(0))
    x = np.zeros((1, 3, 4, 5), dtype=np.float32)
    assert net.run(x=x, size=np.array([1, 3, 8, 8], np.int32))[layer.get_output(0).name].shape == (1, 3, 8, 8)
    with pytest.raises(AssertionError):  # LINEAR cannot resize the batch dimension
        net.run(x=x, size=np.array([2, 3, 8, 8], np.int32))


# ================================================================================================ GridSample

_GS_MODES = {"LINEAR": "bilinear", "NEAREST": "nearest", "CUBIC": "bicubic"}
_GS_PADDING = {"FILL": "zeros", "CLAMP": "border", "REFLECT": "reflection"}


@pytest.mark.parametrize("rank", [4, 5] if IS_11 else [4])
def test_grid_sample_every_option(rank):
    rng = np.random.default_rng(100 + rank)
    spatial_in, spatial_out = ((5, 6), (4, 7)) if rank == 4 else ((3, 4, 5), (2, 3, 4))
    x = rng.standard_normal((2, 3) + spatial_in).astype(np.float32)
    grid = rng.uniform(-1.3, 1.3, (2,) + spatial_out + (rank - 2,)).astype(np.float32)
    net = Net()
    tx, tg = net.input("x", x), net.input("grid", grid)
    cases = []
    for mode, padding, align in itertools.product(_GS_MODES, _GS_PADDING, (False, True)):
        if mode == "CUBIC" and rank == 5:
            continue
        layer = net.network.add_grid_sample(tx, tg)
        layer.interpolation_mode = getattr(IM, mode)
        layer.sample_mode = getattr(trt.SampleMode, padding)
        layer.align_corners = align
        cases.append((layer, mode, padding, align))
    outs = net.build(*[c[0].get_output(0) for c in cases]).run(x=x, grid=grid)
    for layer, mode, padding, align in cases:
        ref = F.grid_sample(torch.from_numpy(x), torch.from_numpy(grid), mode=_GS_MODES[mode],
                            padding_mode=_GS_PADDING[padding], align_corners=align).numpy()
        assert outs[layer.get_output(0).name].shape == (2, 3) + spatial_out
        np.testing.assert_allclose(outs[layer.get_output(0).name], ref, rtol=1e-5, atol=1e-5)


def test_grid_sample_by_hand_dynamic_and_float16():
    # Bilinear, align_corners=False: x = ((g + 1) * W - 1) / 2. On a 1x2 input [0, 10], g = 0 is x = 0.5 -> 5,
    # g = -1 is x = -0.5 -> half of element 0 and half of the zero padding (FILL) -> 0; g = 1 -> x = 1.5 -> 5;
    # g = 0.25 -> x = 0.75 -> 7.5.
    net = Net()
    tx = net.input("x", F16, (-1, 1, 1, 2))
    tg = net.input("grid", F16, (-1, 1, -1, 2))
    net.profile.set_shape("x", (1, 1, 1, 2), (1, 1, 1, 2), (2, 1, 1, 2))
    net.profile.set_shape("grid", (1, 1, 1, 2), (1, 1, 3, 2), (2, 1, 8, 2))
    layer = net.network.add_grid_sample(tx, tg)
    assert tuple(layer.get_output(0).shape) == (-1, 1, 1, -1) and layer.get_output(0).dtype == F16
    net.build(layer.get_output(0))
    x = np.array([[[[0, 10]]]], dtype=np.float16)
    grid = np.array([[[[0, 0], [-1, 0], [1, 0], [0.25, 0]]]], dtype=np.float16)
    got = net.run(x=x, grid=grid)[layer.get_output(0).name]
    assert got.dtype == np.float16
    np.testing.assert_allclose(got.astype(np.float32), [[[[5, 0, 5, 7.5]]]])


def test_grid_sample_invalid():
    net = Net()
    tx, tg = net.input("x", F32, (1, 2, 3, 4)), net.input("grid", F32, (1, 5, 6, 3))
    layer = net.network.add_grid_sample(tx, tg)
    layer.sample_mode = trt.SampleMode.WRAP  # unsupported: an error, and the mode stays FILL
    assert layer.sample_mode == trt.SampleMode.FILL and net.logger.errors()
    layer.sample_mode = trt.SampleMode.STRICT_BOUNDS
    assert layer.sample_mode == trt.SampleMode.FILL
    assert net.build(layer.get_output(0)) is None
    assert any(layer.name in m and "last grid dimension" in m for m in net.logger.errors())
    if IS_11:
        net = Net()
        tx, tg = net.input("x", F32, (1, 2, 3, 4, 5)), net.input("grid", F32, (1, 2, 2, 2, 3))
        layer = net.network.add_grid_sample(tx, tg)
        layer.interpolation_mode = IM.CUBIC
        assert net.build(layer.get_output(0)) is None
        assert any(layer.name in m and "CUBIC" in m for m in net.logger.errors())


# ================================================================================================ NMS

def _iou(a, b):
    f = np.float32
    ax1, ax2, ay1, ay2 = min(a[0], a[2]), max(a[0], a[2]), min(a[1], a[3]), max(a[1], a[3])
    bx1, bx2, by1, by2 = min(b[0], b[2]), max(b[0], b[2]), min(b[1], b[3]), max(b[1], b[3])
    w = max(f(min(ax2, bx2) - max(ax1, bx1)), f(0))
    h = max(f(min(ay2, by2) - max(ay1, by1)), f(0))
    inter = f(w * h)
    union = f(f((ax2 - ax1) * (ay2 - ay1)) + f((bx2 - bx1) * (by2 - by1)) - inter)
    return f(inter / union) if union > 0 else f(0)


def _to_corners(box, fmt):
    f = np.float32
    box = [f(v) for v in box]
    if fmt == "CENTER_SIZES":
        return [box[0] - box[2] * f(0.5), box[1] - box[3] * f(0.5), box[0] + box[2] * f(0.5),
                box[1] + box[3] * f(0.5)]
    return box


def ref_nms(boxes, scores, max_out, iou_thr=0.0, score_thr=0.0, fmt="CORNER_PAIRS", topk=5000):
    """The INMSLayer description, as plain loops (equal scores: lower flat index n * C + c first)."""
    n_batch, n_box, n_class = scores.shape
    out = []
    for b in range(n_batch):
        cands = [(-float(scores[b, n, c]), n * n_class + c, n, c) for n in range(n_box) for c in range(n_class)
                 if scores[b, n, c] > score_thr]
        cands = sorted(cands)[:topk]
        kept = {}
        for _, _, n, c in cands:
            box = _to_corners(boxes[b, n, c] if boxes.ndim == 4 else boxes[b, n], fmt)
            mine = kept.setdefault(c, [])
            if len(mine) < max_out and all(_iou(box, other) <= np.float32(iou_thr) for other in mine):
                mine.append(box)
                out.append((b, c, n))
    return np.array(out, dtype=np.int64).reshape(-1, 3)


def nms_net(boxes, scores, max_out, iou=None, score=None, dynamic=False, indices_type=None):
    net = Net()
    if dynamic:
        tb = net.input("boxes", F32, (-1, -1) + boxes.shape[2:])
        ts = net.input("scores", F32, (-1, -1, scores.shape[2]))
        net.profile.set_shape("boxes", (1, 1) + boxes.shape[2:], boxes.shape, (4, 64) + boxes.shape[2:])
        net.profile.set_shape("scores", (1, 1, scores.shape[2]), scores.shape, (4, 64, scores.shape[2]))
    else:
        tb, ts = net.input("boxes", boxes), net.input("scores", scores)
    args = (tb, ts, net.const(np.int32(max_out)))
    layer = net.network.add_nms(*args) if indices_type is None else net.network.add_nms(*args, indices_type)
    if iou is not None:
        layer.set_input(3, net.const(np.float32(iou)))
    if score is not None:
        layer.set_input(4, net.const(np.float32(score)))
    return net, layer


def _random_boxes(rng, shape, fmt):
    if fmt == "CENTER_SIZES":
        centers = rng.uniform(0, 10, shape[:-1] + (2,))
        sizes = rng.uniform(0.5, 4, shape[:-1] + (2,))
        return np.concatenate([centers, sizes], -1).astype(np.float32)
    a, b = rng.uniform(0, 10, shape[:-1] + (2,)), rng.uniform(0, 10, shape[:-1] + (2,))
    b = a + (b - a) * 0.4  # any pair of diagonal corners, in either order
    return np.concatenate([b, a], -1).astype(np.float32) if rng.random() < 0.5 else \
        np.concatenate([a, b], -1).astype(np.float32)


@pytest.mark.parametrize("fmt", ["CORNER_PAIRS", "CENTER_SIZES"])
@pytest.mark.parametrize("per_class", [False, True])
def test_nms_against_reference(fmt, per_class):
    rng = np.random.default_rng(110 + per_class + 2 * (fmt == "CENTER_SIZES"))
    for trial in range(4):
        n_batch, n_box, n_class = 2, int(rng.integers(5, 40)), int(rng.integers(1, 5))
        shape = (n_batch, n_box, n_class, 4) if per_class else (n_batch, n_box, 4)
        boxes = _random_boxes(rng, shape, fmt)
        scores = rng.random((n_batch, n_box, n_class)).astype(np.float32)
        if trial % 2:
            scores = np.round(scores * 4) / 4  # many equal scores
        max_out, iou, score = int(rng.integers(1, 8)), float(rng.uniform(0.1, 0.7)), float(rng.uniform(0, 0.5))
        net, layer = nms_net(boxes, scores, max_out, iou, score)
        layer.bounding_box_format = getattr(trt.BoundingBoxFormat, fmt)
        layer.topk_box_limit = int(rng.integers(5, 60))
        outs = net.build(layer.get_output(0), layer.get_output(1)).run(boxes=boxes, scores=scores)
        ref = ref_nms(boxes, scores, max_out, iou, score, fmt, layer.topk_box_limit)
        np.testing.assert_array_equal(outs[layer.get_output(0).name], ref)
        assert outs[layer.get_output(0).name].dtype == np.int32
        assert int(outs[layer.get_output(1).name]) == len(ref)


def test_nms_suppression_is_per_class_and_thresholds():
    # Three nearly identical boxes; classes 0 and 1. Box 0 wins class 0 and suppresses box 1 there, but box 1
    # still wins class 1. Box 2 does not overlap. Box 3 has no score above the threshold.
    boxes = np.array([[[0, 0, 10, 10], [0, 0, 10, 9], [20, 20, 30, 30], [40, 40, 50, 50]]], dtype=np.float32)
    scores = np.array([[[0.9, 0.1], [0.8, 0.7], [0.3, 0.3], [0.05, 0.05]]], dtype=np.float32)
    net, layer = nms_net(boxes, scores, 5, iou=0.5, score=0.06)
    outs = net.build(layer.get_output(0), layer.get_output(1)).run(boxes=boxes, scores=scores)
    expected = [[0, 0, 0], [0, 1, 1], [0, 0, 2], [0, 1, 2]]  # decreasing score; 0.3 ties keep class order
    np.testing.assert_array_equal(outs[layer.get_output(0).name], expected)
    # IoU(box 0, box 1) = 0.9: not suppressed with a threshold of 0.9 (selected boxes have IoU <= threshold).
    net, layer = nms_net(boxes, scores, 5, iou=0.9, score=0.06)
    outs = net.build(layer.get_output(0)).run(boxes=boxes, scores=scores)
    assert [0, 0, 1] in outs[layer.get_output(0).name].tolist()
    # Default thresholds (no inputs 3 and 4): IoU 0 suppresses any overlap; score 0 keeps every positive score.
    net, layer = nms_net(boxes, scores, 1)
    outs = net.build(layer.get_output(0)).run(boxes=boxes, scores=scores)
    np.testing.assert_array_equal(outs[layer.get_output(0).name], [[0, 0, 0], [0, 1, 1]])
    net, layer = nms_net(boxes, scores, 0)
    outs = net.build(layer.get_output(0), layer.get_output(1)).run(boxes=boxes, scores=scores)
    assert outs[layer.get_output(0).name].shape == (0, 3) and int(outs[layer.get_output(1).name]) == 0


def test_nms_dynamic_shapes_and_indices_type():
    rng = np.random.default_rng(120)
    boxes = _random_boxes(rng, (2, 30, 4), "CORNER_PAIRS")
    scores = rng.random((2, 30, 3)).astype(np.float32)
    net, layer = nms_net(boxes, scores, 4, iou=0.3, dynamic=True,
                         indices_type=trt.DataType.INT64 if IS_11 else None)
    assert tuple(layer.get_output(0).shape) == (-1, 3) and tuple(layer.get_output(1).shape) == ()
    assert layer.get_output(1).dtype == I32
    net.build(layer.get_output(0), layer.get_output(1))
    name, itemsize = layer.get_output(0).name, 8 if IS_11 else 4
    assert net.context.get_max_output_size(name) == -1  # input shapes not set yet
    net.context.set_input_shape("boxes", (3, 50, 4))
    net.context.set_input_shape("scores", (3, 50, 3))
    # MaxOutputBoxesPerClass is a constant: at most batch * classes * min(boxes, 4) rows of 3 indices.
    assert net.context.get_max_output_size(name) == 3 * 3 * 4 * 3 * itemsize
    for n_batch, n_box in [(2, 30), (1, 7), (4, 64)]:
        b = _random_boxes(rng, (n_batch, n_box, 4), "CORNER_PAIRS")
        s = rng.random((n_batch, n_box, 3)).astype(np.float32)
        outs = net.run(boxes=b, scores=s)
        got = outs[layer.get_output(0).name]
        assert got.dtype == (np.int64 if IS_11 else np.int32)
        np.testing.assert_array_equal(got, ref_nms(b, s, 4, 0.3))
    if IS_11:
        layer.indices_type = trt.DataType.FLOAT  # rejected: an error, the type is not updated
        assert layer.indices_type == trt.DataType.INT64 and net.logger.errors()
        assert net.network.add_nms(layer.get_input(0), layer.get_input(1), layer.get_input(2),
                                   trt.DataType.FLOAT) is None


@pytest.mark.parametrize("change, message", [
    (lambda net, layer: setattr(layer, "topk_box_limit", 6000), "topk_box_limit"),
    (lambda net, layer: layer.set_input(3, net.const(np.float16(0.5))), "IoUThreshold"),
    (lambda net, layer: layer.set_input(2, net.const(np.int32([3]))), "MaxOutputBoxesPerClass"),
    (lambda net, layer: layer.set_input(0, net.const(np.zeros((1, 4, 5), np.float32))), "boxes must be"),
])
def test_nms_invalid(change, message):
    boxes, scores = np.zeros((1, 4, 4), np.float32), np.zeros((1, 4, 2), np.float32)
    net, layer = nms_net(boxes, scores, 3)
    change(net, layer)
    assert net.build(layer.get_output(0)) is None
    assert any(layer.name in m and message in m for m in net.logger.errors()), net.logger.errors()


# ================================================================================================ NonZero

@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int32, np.int64, np.bool_])
def test_nonzero_against_torch(dtype):
    rng = np.random.default_rng(130)
    for shape in [(7,), (3, 4), (2, 3, 4), (2, 1, 3, 5)]:
        x = (rng.random(shape) < 0.4) * rng.integers(1, 5, shape)
        x = x.astype(dtype)
        net = Net()
        layer = net.network.add_non_zero(net.input("x", x))
        assert tuple(layer.get_output(0).shape) == (len(shape), -1)
        assert layer.get_output(0).dtype == I32
        got = run_one(layer.get_output(0), net.build(layer.get_output(0)), x=x)
        np.testing.assert_array_equal(got, torch.nonzero(torch.from_numpy(x)).t().numpy())
        assert got.dtype == np.int32


def test_nonzero_dynamic_empty_and_int64():
    net = Net()
    tx = net.input("x", F32, (-1, 4))
    net.profile.set_shape("x", (0, 4), (3, 4), (10, 4))
    layer = net.network.add_non_zero(tx, I64) if IS_11 else net.network.add_non_zero(tx)
    assert tuple(layer.get_output(0).shape) == (2, -1)
    net.build(layer.get_output(0))
    assert net.context.get_max_output_size(layer.get_output(0).name) == -1
    net.context.set_input_shape("x", (6, 4))
    assert net.context.get_max_output_size(layer.get_output(0).name) == 2 * 24 * (8 if IS_11 else 4)
    for x in [np.eye(3, 4, dtype=np.float32), np.zeros((5, 4), np.float32), np.zeros((0, 4), np.float32),
              np.ones((10, 4), np.float32)]:
        got = net.run(x=x)[layer.get_output(0).name]
        assert got.dtype == (np.int64 if IS_11 else np.int32)
        np.testing.assert_array_equal(got, np.stack(np.nonzero(x)).reshape(2, -1))
    if IS_11:
        assert net.network.add_non_zero(tx, F32) is None and net.logger.errors()


def test_nonzero_feeds_downstream_layers():
    """A data-dependent output used by later layers: the count of non-zeros through Shape and Gather."""
    net = Net()
    tx = net.input("x", F32, (2, 5))
    nz = net.network.add_non_zero(tx).get_output(0)
    count = net.network.add_shape(nz).get_output(0)
    assert tuple(count.shape) == (2,)
    out = net.network.add_identity(nz).get_output(0)
    net.build(out, count)
    x = np.array([[0, 1, 0, 2, 0], [3, 0, 0, 0, 0]], dtype=np.float32)
    outs = net.run(x=x)
    np.testing.assert_array_equal(outs[out.name], [[0, 0, 1], [1, 3, 0]])
    np.testing.assert_array_equal(outs[count.name], [2, 3])


def test_nonzero_invalid_input_type():
    net = Net()
    layer = net.network.add_non_zero(net.input("x", trt.DataType.INT8, (3,)))
    assert net.build(layer.get_output(0)) is None
    assert any(layer.name in m and "not supported" in m for m in net.logger.errors())


# ================================================================================================ the 10.3 API

def test_version_10_3_api():
    code = """
import numpy as np, reftrt as trt
assert not hasattr(trt.INMSLayer, "indices_type") and not hasattr(trt.INonZeroLayer, "indices_type")
logger = trt.Logger(trt.Logger.INTERNAL_ERROR)
builder = trt.Builder(logger)
net = builder.create_network()
x = net.add_input("x", trt.DataType.FLOAT, (2, 3))
layer = net.add_non_zero(x)
b = net.add_input("b", trt.DataType.FLOAT, (1, 4, 4))
s = net.add_input("s", trt.DataType.FLOAT, (1, 4, 2))
m = net.add_constant([], np.int32(2).reshape(-1)).get_output(0)
nms = net.add_nms(b, s, m)
try:
    net.add_nms(b, s, m, trt.DataType.INT64)
    raise SystemExit("add_nms took indices_type")
except TypeError:
    pass
g = net.add_grid_sample(net.add_input("g0", trt.DataType.FLOAT, (1, 1, 2, 2, 2)),
                        net.add_input("g1", trt.DataType.FLOAT, (1, 1, 1, 1, 3)))
for t in (layer.get_output(0), nms.get_output(0), g.get_output(0)):
    net.mark_output(t)
assert layer.get_output(0).dtype == trt.DataType.INT32 and nms.get_output(0).dtype == trt.DataType.INT32
assert builder.build_serialized_network(net, builder.create_builder_config()) is None  # rank-5 grid sample
print("ok")
"""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, REFTRT_TRT_VERSION="10.3", PYTHONPATH=root)
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip().splitlines()[-1:] == ["ok"], result.stdout + result.stderr

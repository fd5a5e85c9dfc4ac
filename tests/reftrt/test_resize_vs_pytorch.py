"""Where TensorRT's native Resize (IResizeLayer) differs from PyTorch's F.interpolate.

These tests assert that the differences exist: a network definition that must reproduce such an F.interpolate call
cannot use IResizeLayer and needs a plugin. Each test also shows which TensorRT configuration does match PyTorch
where one exists.

(a) antialias=True (PyTorch >= 1.11, downscaling with bilinear / bicubic): PyTorch widens the filter by 1 / scale so
    that every input pixel contributes; TensorRT's LINEAR / CUBIC always use 2 / 4 taps per dimension (ONNX's
    antialias attribute is not supported by TensorRT's ONNX parser either).
(b) scale_factor with an output size that is not an integer multiple: PyTorch computes the output size as
    floor(in * scale_factor) and, with recompute_scale_factor False / None (the default), maps coordinates with
    1 / scale_factor. TensorRT with the output size given (`shape` or input 1, which is what dynamic-shape network
    definitions use) maps with L_in / L_out, the ratio of the integer sizes: the sampling positions differ. With
    `scales` set, reftrt assumes TensorRT maps with 1 / scale (ONNX's definition; Resize.log has no case with scales,
    so the recorded outputs cannot decide - see reftrt/layers/resize.py), which would match PyTorch; that assumption is
    asserted here too, so that a GPU check that disproves it fails loudly.
(c) Defaults: add_resize defaults to ASYMMETRIC; F.interpolate's bilinear / bicubic default (align_corners=False) is
    HALF_PIXEL. Only its legacy 'nearest' is TensorRT's default (ASYMMETRIC + FLOOR).
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import reftrt as trt

IM, CT = trt.InterpolationMode, trt.ResizeCoordinateTransformation


def trt_resize(x, **attributes):
    """Run one IResizeLayer with `attributes` on the numpy array x."""
    logger = trt.Logger(trt.Logger.ERROR)
    builder = trt.Builder(logger)
    network = builder.create_network()
    tensor = network.add_input("x", trt.DataType.FLOAT, x.shape)
    layer = network.add_resize(tensor)
    for key, value in attributes.items():
        setattr(layer, key, value)
    network.mark_output(layer.get_output(0))
    plan = builder.build_serialized_network(network, builder.create_builder_config())
    context = trt.Runtime(logger).deserialize_cuda_engine(plan).create_execution_context()
    x = np.ascontiguousarray(x, dtype=np.float32)
    out = np.zeros(tuple(context.get_tensor_shape(layer.get_output(0).name)), dtype=np.float32)
    context.set_tensor_address("x", x.ctypes.data)
    context.set_tensor_address(layer.get_output(0).name, out.ctypes.data)
    assert context.execute_async_v3(0)
    return out


def _image(seed, shape):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# ---- (a) antialias -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode, torch_mode", [(IM.LINEAR, "bilinear"), (IM.CUBIC, "bicubic")])
def test_antialias_downscale_differs(mode, torch_mode):
    x = _image(1, (1, 3, 32, 40))
    size = (11, 13)
    got = trt_resize(x, shape=(1, 3) + size, resize_mode=mode, coordinate_transformation=CT.HALF_PIXEL)
    xt = torch.from_numpy(x)
    plain = F.interpolate(xt, size=size, mode=torch_mode, align_corners=False, antialias=False).numpy()
    smooth = F.interpolate(xt, size=size, mode=torch_mode, align_corners=False, antialias=True).numpy()
    np.testing.assert_allclose(got, plain, rtol=1e-5, atol=2e-5)  # TensorRT = PyTorch without antialias
    assert np.abs(got - smooth).max() > 0.1  # ... and far from PyTorch with antialias
    # Antialiasing averages ~3x3 input pixels per output pixel here: the output has much less variance.
    assert smooth.std() < 0.8 * got.std()


def test_antialias_upscale_is_the_same():
    x = _image(2, (1, 2, 5, 6))
    got = trt_resize(x, shape=(1, 2, 9, 14), resize_mode=IM.LINEAR, coordinate_transformation=CT.HALF_PIXEL)
    ref = F.interpolate(torch.from_numpy(x), size=(9, 14), mode="bilinear", antialias=True).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)  # antialias only matters when downscaling


# ---- (b) scale_factor whose output size is not an integer multiple ----------------------------------------------

@pytest.mark.parametrize("mode, torch_mode, kwargs", [
    (IM.LINEAR, "bilinear", {"align_corners": False}),
    (IM.CUBIC, "bicubic", {"align_corners": False}),
    (IM.NEAREST, "nearest-exact", {}),
])
def test_scale_factor_with_fractional_size_differs_from_output_size(mode, torch_mode, kwargs):
    x = _image(3, (1, 2, 5, 7))
    scale = (1.7, 1.3)  # floor(5 * 1.7) = 8, floor(7 * 1.3) = 9: neither 8 / 5 nor 9 / 7 is the scale
    xt = torch.from_numpy(x)
    by_factor = F.interpolate(xt, scale_factor=scale, mode=torch_mode, **kwargs).numpy()
    assert by_factor.shape == (1, 2, 8, 9)
    # TensorRT given the output size maps with 5 / 8 and 7 / 9 instead of 1 / 1.7 and 1 / 1.3.
    rounding = trt.ResizeRoundMode.HALF_UP  # with HALF_PIXEL: PyTorch's nearest-exact
    got = trt_resize(x, shape=(1, 2, 8, 9), resize_mode=mode, coordinate_transformation=CT.HALF_PIXEL,
                     nearest_rounding=rounding)
    assert np.abs(got - by_factor).max() > 0.05
    # That is PyTorch with the scale recomputed from the sizes.
    recomputed = F.interpolate(xt, scale_factor=scale, mode=torch_mode, recompute_scale_factor=True,
                               **kwargs).numpy()
    np.testing.assert_allclose(got, recomputed, rtol=1e-5, atol=2e-5)
    # reftrt's assumption (undecided by the recorded outputs): with `scales`, TensorRT maps with 1 / scale.
    with_scales = trt_resize(x, scales=(1.0, 1.0) + scale, resize_mode=mode,
                             coordinate_transformation=CT.HALF_PIXEL, nearest_rounding=rounding)
    np.testing.assert_allclose(with_scales, by_factor, rtol=1e-5, atol=2e-5)


def test_scale_factor_legacy_nearest_differs():
    # PyTorch 'nearest' with scale_factor: index floor(o / scale); TensorRT ASYMMETRIC + FLOOR given the output size:
    # floor(o * L_in / L_out).
    x = np.arange(5, dtype=np.float32).reshape(1, 1, 5)
    by_factor = F.interpolate(torch.from_numpy(x), scale_factor=1.7, mode="nearest").numpy()
    got = trt_resize(x, shape=(1, 1, 8))
    np.testing.assert_array_equal(by_factor[0, 0], [0, 0, 1, 1, 2, 2, 3, 4])  # o / 1.7
    np.testing.assert_array_equal(got[0, 0], [0, 0, 1, 1, 2, 3, 3, 4])  # o * 5 / 8
    np.testing.assert_array_equal(trt_resize(x, scales=(1, 1, 1.7))[0, 0], by_factor[0, 0])


def test_integer_scale_factor_is_the_same():
    x = _image(4, (1, 3, 6, 5))
    for mode, torch_mode in [(IM.LINEAR, "bilinear"), (IM.CUBIC, "bicubic")]:
        ref = F.interpolate(torch.from_numpy(x), scale_factor=2, mode=torch_mode, align_corners=False).numpy()
        got = trt_resize(x, shape=(1, 3, 12, 10), resize_mode=mode, coordinate_transformation=CT.HALF_PIXEL)
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=2e-5)
    ref = F.interpolate(torch.from_numpy(x), scale_factor=2, mode="nearest").numpy()
    np.testing.assert_array_equal(trt_resize(x, shape=(1, 3, 12, 10)), ref)


# ---- (c) defaults ------------------------------------------------------------------------------------------------

def test_default_coordinate_transformation_differs():
    x = _image(5, (1, 2, 4, 6))
    xt = torch.from_numpy(x)
    got = trt_resize(x, shape=(1, 2, 8, 12), resize_mode=IM.LINEAR)  # ASYMMETRIC by default
    assert np.abs(got - F.interpolate(xt, size=(8, 12), mode="bilinear").numpy()).max() > 0.1
    np.testing.assert_array_equal(trt_resize(x, shape=(1, 2, 7, 9)),
                                  F.interpolate(xt, size=(7, 9), mode="nearest").numpy())

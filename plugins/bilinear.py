"""`trt_netdefs::bilinear_resize`: PyTorch's bilinear F.interpolate where TensorRT's Resize layer cannot express it.

TensorRT's IResizeLayer (LINEAR) always interpolates between 2 taps per axis, at a source coordinate computed from
the ratio of the integer sizes (tests/reftrt/test_resize_vs_pytorch.py). Two PyTorch variants differ:

(a) `antialias=True` when downscaling: PyTorch widens the triangle filter by the scale (in / out) so that every input
    pixel contributes, and normalises the weights at the borders (aten/src/ATen/native/cpu/UpSampleKernel.cpp,
    `_compute_weights_aa` with `HelperInterpLinear::aa_filter`). Axes whose size does not change are left untouched.
(b) `scale_factor` (recompute_scale_factor None / False, align_corners=False) with an output size that is not an
    integer multiple: the output size is floor(in * scale_factor) but the source coordinate uses the given scale,
    src = (dst + 0.5) / scale_factor - 0.5 (clamped at 0), not the size ratio (`area_pixel_compute_scale` /
    `area_pixel_compute_source_index`).

PyTorch's CPU kernels are the reference. Two of their corners: an axis whose size does not change is copied, also
when a scale_factor != 1 is given (its CUDA kernel applies the scale there); and PyTorch 2.14's CPU antialias kernel
with an output width of 1 and a resized height reads only the first input row (a bug: the plugin computes what the
transposed call gives; tests/plugins/test_bilinear.py leaves such draws out of the comparisons).

Both are separable: per axis, each output index o reads taps idx[o, 0..K-1] with weights w[o, 0..K-1] (zero padded).
`axis_taps` computes these tables with PyTorch's float32 / float64 arithmetic step by step (numpy, exact to the
rounding), `reference` applies them with plain torch ops (width first, then height, as PyTorch's CPU kernel) and the
Triton kernel (`plugins/_bilinear_triton.py`) applies the same tables on the GPU.

Plugin attributes: out_h, out_w (the output size), scale_h, scale_w (the scale_factor PyTorch was given, 0.0 when
the size was given: the size ratio is used), align_corners, antialias. The output shape is [N, C, out_h, out_w]; N, C
(and the input's H, W when the size is given) may be dynamic.

Registration: `register(trtp)` with the plugin module in use, `tensorrt.plugin` (TensorRT >= 10.6) or
`reftrt.plugin`; `netdefs.common.interpolate` does it. TensorRT 10.3 (JetPack 6) has no `tensorrt.plugin`: there
only the native Resize is available, and `interpolate` raises for these two variants.
The impl runs the Triton kernel when the tensors are on a CUDA device (real TensorRT) and Triton is installed, the
torch reference otherwise (reftrt on the CPU, or a GPU without Triton). No torch import at module level: netdefs
imports this module to build engines.
"""
import math
from typing import List, Tuple

import numpy as np

PLUGIN_ID = "trt_netdefs::bilinear_resize"
_F32, _F64 = np.float32, np.float64


# ---- the per-axis tables (PyTorch's arithmetic) ------------------------------------------------------------------

def output_size(l_in, scale_factor):
    """F.interpolate's output size for a scale factor: floor(float(in) * scale) in double."""
    return int(math.floor(float(l_in) * float(scale_factor)))


def torch_scale(l_in, l_out, align_corners, scale_factor=None):
    """`area_pixel_compute_scale<float>`: the float32 input step per output step that PyTorch uses."""
    if align_corners:
        return _F32(l_in - 1) / _F32(l_out - 1) if l_out > 1 else _F32(0.0)
    if scale_factor is not None and scale_factor > 0:
        return _F32(1.0 / float(scale_factor))
    return _F32(l_in) / _F32(l_out)


def _linear_taps(l_in, l_out, scale, align_corners):
    """`compute_indices_weights_linear`: 2 taps, source coordinate clamped at 0, the second tap clamped at the end."""
    o = np.arange(l_out, dtype=_F32)
    if align_corners:
        src = scale * o
    else:
        # scale * (o + 0.5) - 0.5, contracted to one fused multiply-add by the compiler (one rounding)
        src = (_F64(scale) * (o + _F32(0.5)).astype(_F64) - 0.5).astype(_F32)
        src = np.where(src < 0, _F32(0.0), src).astype(_F32)
    i0 = np.minimum(np.floor(src).astype(np.int64), l_in - 1)
    lam = np.clip(src - i0.astype(_F32), _F32(0.0), _F32(1.0)).astype(_F32)
    i1 = i0 + (i0 < l_in - 1)
    return np.stack([i0, i1], 1), np.stack([_F32(1.0) - lam, lam], 1).astype(_F32)


def _aa_taps(l_in, l_out, scale, align_corners):
    """`_compute_index_ranges_weights` + `_compute_weights_aa` with the bilinear (triangle) filter, interp_size 2."""
    support = _F32(_F64(1.0) * _F64(scale)) if scale >= 1.0 else _F32(1.0)
    width = int(math.ceil(float(support))) * 2 + 1
    invscale = _F32(1.0 / _F64(scale)) if scale >= 1.0 else _F32(1.0)
    i = np.arange(l_out, dtype=_F64)
    center = (_F64(scale) * (i + 0.5)).astype(_F32)  # align_corners_delta is 0 for float inputs
    xmin = np.maximum(np.trunc((center - support).astype(_F64) + 0.5).astype(np.int64), 0)
    xmax = np.minimum(np.trunc((center + support).astype(_F64) + 0.5).astype(np.int64), l_in)
    xsize = np.clip(xmax - xmin, 0, width)
    j = np.arange(width, dtype=np.int64)
    # (j + xmin - center + 0.5) * invscale: int64 - float -> float, + 0.5 -> double, then the filter takes a float
    arg = ((((j[None, :] + xmin[:, None]).astype(_F32) - center[:, None]).astype(_F64) + 0.5)
           * _F64(invscale)).astype(_F32)
    arg = np.abs(arg)
    w = np.where(arg < 1, _F32(1.0) - arg, _F32(0.0)).astype(_F32)
    w = np.where(j[None, :] < xsize[:, None], w, _F32(0.0)).astype(_F32)
    total = np.zeros(l_out, _F32)
    for k in range(width):  # float32 accumulation in tap order
        total = (total + w[:, k]).astype(_F32)
    w = np.where(total[:, None] != 0, w / np.where(total == 0, _F32(1.0), total)[:, None], w).astype(_F32)
    idx = np.minimum(xmin[:, None] + j[None, :], l_in - 1)  # padded taps (weight 0) read a valid pixel
    return idx, w


def axis_taps(l_in, l_out, align_corners=False, antialias=False, scale_factor=None):
    """(idx int64 [l_out, K], w float32 [l_out, K]) of one axis, or None when PyTorch leaves the axis as it is."""
    if scale_factor is not None and scale_factor <= 0:
        scale_factor = None
    if antialias:
        if l_in == l_out:  # the separable AA kernel skips axes whose size does not change
            return None
        return _aa_taps(l_in, l_out, torch_scale(l_in, l_out, align_corners, scale_factor), align_corners)
    if l_in == l_out:  # PyTorch's CPU kernel skips it too, whatever the scale (its CUDA kernel applies the scale)
        return None
    return _linear_taps(l_in, l_out, torch_scale(l_in, l_out, align_corners, scale_factor), align_corners)


def tables(in_hw, out_hw, scales=(None, None), align_corners=False, antialias=False):
    """Per-axis (idx int32 [L_out, K], w float32 [L_out, K]) for H and W; an unchanged axis gets the identity."""
    result = []
    for l_in, l_out, s in zip(in_hw, out_hw, scales):
        taps = axis_taps(l_in, l_out, align_corners, antialias, s)
        if taps is None:
            taps = (np.arange(l_out, dtype=np.int64)[:, None], np.ones((l_out, 1), _F32))
        idx, w = taps
        result.append((np.ascontiguousarray(idx, dtype=np.int32), np.ascontiguousarray(w, dtype=_F32)))
    return result


# ---- PyTorch reference -------------------------------------------------------------------------------------------

def _apply_axis(x, dim, idx, w):
    import torch
    view = [1] * x.dim()
    view[dim] = -1
    idx = torch.from_numpy(idx.astype(np.int64)).to(x.device)
    w = torch.from_numpy(w).to(device=x.device, dtype=torch.float64)
    out = x.index_select(dim, idx[:, 0]).double() * w[:, 0].view(view)
    for k in range(1, idx.shape[1]):  # float64 sums: the float32 kernels' fused multiply-adds round less often
        out += x.index_select(dim, idx[:, k]).double() * w[:, k].view(view)
    return out.float()


def reference(x, size=None, scale_factor=None, align_corners=False, antialias=False):
    """F.interpolate(x, size, scale_factor, mode='bilinear', align_corners, antialias) of an NCHW tensor, in plain
    torch (gathers and weighted sums, float32), for recompute_scale_factor None / False."""
    h, w = x.shape[-2:]
    out_hw, scales = _resolve(h, w, size, scale_factor)
    return _reference(x, out_hw, scales, align_corners, antialias)


def _resolve(h, w, size, scale_factor):
    if (size is None) == (scale_factor is None):
        raise ValueError("give exactly one of size and scale_factor")
    if size is not None:
        size = (size, size) if isinstance(size, int) else tuple(size)
        return (int(size[0]), int(size[1])), (None, None)
    s = (scale_factor, scale_factor) if isinstance(scale_factor, (int, float)) else tuple(scale_factor)
    s = (float(s[0]), float(s[1]))
    return (output_size(h, s[0]), output_size(w, s[1])), s


def _reference(x, out_hw, scales, align_corners, antialias):
    import torch
    dtype = x.dtype
    y = x.float()
    h, w = x.shape[-2:]
    taps_h = axis_taps(h, out_hw[0], align_corners, antialias, scales[0])
    taps_w = axis_taps(w, out_hw[1], align_corners, antialias, scales[1])
    if taps_w is not None:
        y = _apply_axis(y, y.dim() - 1, *taps_w)
    if taps_h is not None:
        y = _apply_axis(y, y.dim() - 2, *taps_h)
    return y.to(dtype).contiguous() if y is not x else y.clone()


# ---- the GPU path --------------------------------------------------------------------------------------------------

_TABLE_CACHE = {}


def _device_tables(device, in_hw, out_hw, scales, align_corners, antialias):
    import torch
    key = (str(device), tuple(in_hw), tuple(out_hw), tuple(scales), bool(align_corners), bool(antialias))
    found = _TABLE_CACHE.get(key)
    if found is None:
        found = [tuple(torch.from_numpy(a).to(device) for a in pair)
                 for pair in tables(in_hw, out_hw, scales, align_corners, antialias)]
        if len(_TABLE_CACHE) > 256:
            _TABLE_CACHE.clear()
        _TABLE_CACHE[key] = found
    return found


def resize_gpu(x, out, out_hw, scales=(None, None), align_corners=False, antialias=False, block=256):
    """Run the Triton kernel: x [..., H, W] and out [..., OH, OW], contiguous CUDA tensors (float32 / float16)."""
    from . import _bilinear_triton
    h, w = x.shape[-2:]
    (iy, wy), (ix, wx) = _device_tables(x.device, (h, w), out_hw, scales, align_corners, antialias)
    _bilinear_triton.launch(x, out, iy, wy, ix, wx, block)
    return out


def _triton_available():
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def run(x, out, out_hw, scales, align_corners, antialias):
    """What the plugin's impl does with torch tensors: the Triton kernel on CUDA, the reference elsewhere."""
    if x.is_cuda and _triton_available():
        return resize_gpu(x.contiguous(), out, out_hw, scales, align_corners, antialias)
    out.copy_(_reference(x, out_hw, scales, align_corners, antialias))
    return out


# ---- registration with tensorrt.plugin / reftrt.plugin ------------------------------------------------------------

_REGISTERED = set()


def register(trtp):
    """Register `trt_netdefs::bilinear_resize` with the plugin module `trtp` (once per module); returns the op."""
    if trtp.__name__ in _REGISTERED:
        return trtp.op.trt_netdefs.bilinear_resize

    @trtp.register(PLUGIN_ID)
    def bilinear_resize_desc(x: trtp.TensorDesc, out_h: int, out_w: int, scale_h: float, scale_w: float,
                             align_corners: bool, antialias: bool) -> trtp.TensorDesc:
        n, c = x.shape_expr[0], x.shape_expr[1]
        return trtp.from_shape_expr((n, c, out_h, out_w), dtype=x.dtype)

    @trtp.autotune(PLUGIN_ID)
    def bilinear_resize_autotune(x: trtp.TensorDesc, outputs: Tuple[trtp.TensorDesc]) -> List[
            trtp.AutoTuneCombination]:
        return [trtp.AutoTuneCombination("FP32|FP16, FP32|FP16", "LINEAR")]

    @trtp.impl(PLUGIN_ID)
    def bilinear_resize_impl(x: trtp.Tensor, out_h: int, out_w: int, scale_h: float, scale_w: float,
                             align_corners: bool, antialias: bool, outputs: Tuple[trtp.Tensor], stream: int) -> None:
        import torch
        xt = torch.as_tensor(x)
        yt = torch.as_tensor(outputs[0])
        scales = (scale_h if scale_h > 0 else None, scale_w if scale_w > 0 else None)
        if xt.is_cuda:
            with torch.cuda.stream(torch.cuda.ExternalStream(stream)):
                run(xt, yt, (out_h, out_w), scales, align_corners, antialias)
        else:
            run(xt, yt, (out_h, out_w), scales, align_corners, antialias)

    _REGISTERED.add(trtp.__name__)
    return trtp.op.trt_netdefs.bilinear_resize

"""Resize layer (IResizeLayer). Follows NvInfer.h `IResizeLayer`, `InterpolationMode`,
`ResizeCoordinateTransformation`, `ResizeSelector`, `ResizeRoundMode`, the Python bindings (pyGraph.cpp: `scales`
reads [] when unused) and Cookbook Resize (case_simple, case_set_input, case_cubic_mode, case_linear,
case_nearest_round_modes, case_shape_input, case_exclude_outside).

Output size: input 1 (a 1-D INT32/INT64 shape tensor, set with set_input(1, ...)), else `shape`, else
floor(in[i] * scales[i]) (product in float32, as the C++ float scales), else the input shape. `shape` and `scales` are
exclusive: the last one set wins; `shape` reads None while scales or input 1 are used, `scales` reads [] (with
TensorRT's warning "Resize scale factors are not set. Output dims are set instead." when the shape is, as Resize.log
shows for case_simple's check_api_coverage). Once input 1 is set, setting either is an error and changes nothing.

Any dimension may be resized, the batch included (case_simple resizes 1x3x4x5 to 2x3x6x10). NEAREST: the innermost
m <= min(8, N) dimensions; LINEAR: the innermost 3; CUBIC: the innermost 2 (N >= 2). A dimension counts as resized
when its length changes, or when its scale is not 1.

Each output index o of a dimension maps to a source coordinate x (float32 arithmetic, like the GPU kernels and
PyTorch's CPU kernels):
- ALIGN_CORNERS: x = o * (L_in - 1) / (L_out - 1), and 0 when L_out == 1 (the header's formula divides by zero;
  PyTorch and ONNX Runtime use 0, reftrt does the same - nothing recorded decides it).
- ASYMMETRIC:    x = o * r
- HALF_PIXEL:    x = (o + 0.5) * r - 0.5
  with r = L_in / L_out when the output size comes from `shape` or input 1, and r = 1 / scale when `scales` are set.
  The header and the Operators page write only the length ratio; Resize.log has no case with scales (case_simple's
  `layer.scales` line is commented out), so the recorded outputs cannot decide. reftrt follows ONNX's definition
  (x = (o + 0.5) / scale - 0.5), because the ONNX parser passes ONNX `scales` straight to setScales for half_pixel
  and asymmetric, and TensorRT 6 was reported (NVIDIA/TensorRT#823) to give different results for the same
  resize set through scales and through output dimensions. `_SCALES_USE_SCALE` switches this in one place.
- selector_for_single_pixel UPPER: x = 0 for every dimension whose output length is 1 (case_linear: 4x5 -> 1x1
  with ALIGN_CORNERS gives element [0, 0]). FORMULA uses the formula.

NEAREST rounds x (FLOOR, CEIL, HALF_UP: floor(x + 0.5), HALF_DOWN: ceil(x - 0.5); case_nearest_round_modes checks all
four) and clamps to [0, L_in - 1]. LINEAR interpolates between floor(x) and floor(x) + 1 after clamping x to
[0, L_in - 1] (the Cookbook README: "outermost centers are clamped back"). CUBIC uses the header's kernel with
coefficient A (`cubic_coeff`, default -0.75) on the four taps floor(x) - 1 .. floor(x) + 2 of the unclamped x; taps
outside the input repeat the edge value, or with `exclude_outside` get weight 0 and the weights are renormalised to
sum 1 (for NEAREST and LINEAR, exclude_outside changes nothing: their outside taps only occur where the result is the
edge value either way).

Interpolation is separable, one dimension at a time, with explicit index and weight vectors. Where PyTorch's
F.interpolate computes exactly the same indices (NEAREST: then the results are identical) or the same coordinates
and weights (LINEAR with HALF_PIXEL or ALIGN_CORNERS over the trailing 1-3 dimensions: equal up to float rounding
of the weighted sum), it is used instead, for speed (tests/reftrt/test_resize_family.py checks both claims).
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

from .._enums import InterpolationMode, ResizeCoordinateTransformation, ResizeRoundMode, ResizeSelector, Severity
from .._graph import ILayer, Param
from .._types import Dims
from ._common import dims_param, enum_param, float_param, network_method, tensor_arg
from .shuffle import host_ints, shapes_only, unknown_dims

__all__ = ["IResizeLayer"]

# True: with `scales` set, ASYMMETRIC / HALF_PIXEL use 1 / scale (ONNX's definition); False: L_in / L_out.
_SCALES_USE_SCALE = True

_F32 = torch.float32
_FLOAT_TYPES = (torch.float32, torch.float16, torch.bfloat16)
# The innermost dimensions each mode may resize.
_MAX_RESIZED = {"NEAREST": 8, "LINEAR": 3, "CUBIC": 2}


def bool_like(value):
    """pybind11's bool conversion: numbers convert too (the Cookbook assigns exclude_outside = 1)."""
    if isinstance(value, (bool, int, float, np.bool_, np.number)):
        return bool(value)
    raise TypeError(f"expected a bool, got {type(value).__name__}")


def _float32_param(value):
    return float(np.float32(float_param(value)))  # a C++ float


def _scales_param(value):
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"scales: expected a sequence of floats, got {type(value).__name__}")
    return [_float32_param(v) for v in value]


class _OutputShape(Param):
    """`shape`: None while input 1 or scales decide the output; setting it selects the output-dimensions mode."""

    def __init__(self):
        self.default, self.convert, self.attr = None, dims_param, None

        def get(layer):
            if layer.get_input(1) is not None or layer._p["_size_mode"] == "scales":
                return None
            if layer._p["_size_mode"] == "shape":
                return Dims(layer._p["shape"])
            return layer.get_input(0).shape

        def set_(layer, value):
            value = dims_param(value)
            if layer.get_input(1) is not None:
                layer._network._log_error(f"{layer.name}: setOutputDimensions: the output dimensions come from "
                                          f"input 1 (a dynamic resize layer); they are not updated")
                return
            layer._p["shape"], layer._p["_size_mode"] = value, "shape"
            layer._network._changed(layer)

        property.__init__(self, get, set_)


class _Scales(Param):
    """`scales`: [] unless scales decide the output; setting it selects the scales mode."""

    def __init__(self):
        self.default, self.convert, self.attr = None, _scales_param, None

        def get(layer):
            if layer.get_input(1) is None and layer._p["_size_mode"] == "scales":
                return list(layer._p["scales"])
            if layer.get_input(1) is None and layer._p["_size_mode"] == "shape":
                layer._network._log(Severity.WARNING, f"{layer.name}: Resize scale factors are not set. Output dims "
                                                      f"are set instead.")
            return []

        def set_(layer, value):
            value = _scales_param(value)
            if layer.get_input(1) is not None:
                layer._network._log_error(f"{layer.name}: setScales: the output dimensions come from input 1 (a "
                                          f"dynamic resize layer); the scales are not updated")
                return
            layer._p["scales"], layer._p["_size_mode"] = value, "scales"
            layer._network._changed(layer)

        property.__init__(self, get, set_)


class IResizeLayer(ILayer):
    _layer_type = "RESIZE"
    _type_str = "Resize"
    _value_inputs = (1,)
    _shape_inputs = (1,)
    shape = _OutputShape()
    scales = _Scales()
    resize_mode = Param(InterpolationMode.NEAREST, enum_param(InterpolationMode))
    coordinate_transformation = Param(ResizeCoordinateTransformation.ASYMMETRIC,
                                      enum_param(ResizeCoordinateTransformation))
    selector_for_single_pixel = Param(ResizeSelector.FORMULA, enum_param(ResizeSelector))
    nearest_rounding = Param(ResizeRoundMode.FLOOR, enum_param(ResizeRoundMode))
    cubic_coeff = Param(-0.75, _float32_param)
    exclude_outside = Param(False, bool_like)
    # None (the input shape), "shape" or "scales": which of the two static parameters was set last.
    _size_mode = Param(None, readonly=True)

    def _max_inputs(self):
        return 2

    # ---- output size
    def _output_size(self, x, shape_t, ctx):
        rank = x.dim()
        if shape_t is not None:
            size = host_ints(self, shape_t, ctx, "output dimensions (input 1)")
            if size is None:
                if shape_t.shape[0] != rank:
                    self._fail(f"output dimensions (input 1) have {shape_t.shape[0]} values, the input has rank "
                               f"{rank}")
                return None, None
            what = "output dimensions (input 1)"
        elif self._p["_size_mode"] == "scales":
            scales = self._p["scales"]
            if len(scales) != rank:
                self._fail(f"{len(scales)} scales given for an input of rank {rank}")
            if any(not s > 0 or not math.isfinite(s) for s in scales):
                self._fail(f"scales {scales} must be positive")
            size = [int(math.floor(float(np.float32(d) * np.float32(s)))) for d, s in zip(x.shape, scales)]
            return size, list(scales)
        elif self._p["_size_mode"] == "shape":
            size, what = list(self._p["shape"]), "output dimensions"
        else:
            return list(x.shape), None
        if len(size) != rank:
            self._fail(f"{what} {Dims(size)} have {len(size)} values, the input has rank {rank}")
        if any(d < 0 for d in size):
            self._fail(f"{what} {Dims(size)} have a negative value")
        return [int(d) for d in size], None

    def _forward(self, inputs, ctx):
        x = inputs[0]
        shape_t = inputs[1] if len(inputs) > 1 else None
        mode = self.resize_mode.name
        if x.dim() < 1:
            self._fail("the input must have at least one dimension")
        if x.dtype not in _FLOAT_TYPES and not (x.dtype == torch.int8 and mode == "NEAREST"):
            self._fail(f"input type {x.dtype} is not supported (FLOAT, HALF, BF16; INT8 with NEAREST only)")
        if mode == "CUBIC" and x.dim() < 2:
            self._fail("CUBIC resize needs an input of rank >= 2")
        size, scales = self._output_size(x, shape_t, ctx)
        if size is None:  # decided by a run-time shape tensor
            return [torch.empty(unknown_dims(ctx, x.dim()), dtype=x.dtype, device="meta")]
        resized = [i for i, (a, b) in enumerate(zip(x.shape, size))
                   if a != b or (scales is not None and scales[i] != 1.0)]
        limit = min(_MAX_RESIZED[mode], x.dim())
        # The builder's engine-shape pass only wants shapes (its kMIN shape-tensor values may be inconsistent).
        if resized and resized[0] < x.dim() - limit and not shapes_only(ctx):
            self._fail(f"{mode} resize can only resize the innermost {limit} dimensions, but dimension "
                       f"{resized[0]} changes ({Dims(list(x.shape))} -> {Dims(size)})")
        for i in resized:
            if x.shape[i] == 0 and size[i] > 0 and not shapes_only(ctx):
                self._fail(f"cannot resize dimension {i} of length 0 to {size[i]}")
        if x.is_meta or any(d == 0 for d in size):
            return [torch.empty(size, dtype=x.dtype, device=x.device)]
        return [resize(x, size, scales, mode, self.coordinate_transformation.name,
                       self.selector_for_single_pixel.name, self.nearest_rounding.name, self.cubic_coeff,
                       self.exclude_outside)]


# ---- the math ------------------------------------------------------------------------------------------------------

def _ratio(l_in, l_out, scale, transform):
    """The float32 factor of the coordinate transform of one dimension."""
    if transform == "ALIGN_CORNERS":
        if l_out <= 1:
            return torch.tensor(0.0, dtype=_F32)
        return torch.tensor(l_in - 1, dtype=_F32) / torch.tensor(l_out - 1, dtype=_F32)
    if scale is not None and _SCALES_USE_SCALE:
        return torch.tensor(1.0, dtype=_F32) / torch.tensor(scale, dtype=_F32)
    return torch.tensor(l_in, dtype=_F32) / torch.tensor(l_out, dtype=_F32)


def source_coordinates(l_in, l_out, scale, transform, selector):
    """x for o = 0 .. l_out - 1 (float32), before rounding or clamping."""
    r = _ratio(l_in, l_out, scale, transform)
    o = torch.arange(l_out, dtype=_F32)
    if selector == "UPPER" and l_out == 1:
        return torch.zeros(1, dtype=_F32)
    if transform == "HALF_PIXEL":
        return (o + 0.5) * r - 0.5
    return o * r


def nearest_indices(x, l_in, rounding):
    if rounding == "FLOOR":
        idx = torch.floor(x)
    elif rounding == "CEIL":
        idx = torch.ceil(x)
    elif rounding == "HALF_UP":
        idx = torch.floor(x + 0.5)
    elif rounding == "HALF_DOWN":
        idx = torch.ceil(x - 0.5)
    else:
        raise ValueError(f"unknown ResizeRoundMode {rounding}")
    return idx.to(torch.int64).clamp_(0, l_in - 1)


def linear_taps(x, l_in):
    """Indices [2, L_out] and weights [2, L_out] of linear interpolation at coordinates x."""
    x = x.clamp(min=0.0)
    i0 = torch.floor(x).to(torch.int64).clamp_(max=l_in - 1)
    lam = x - i0.to(_F32)
    i1 = (i0 + 1).clamp_(max=l_in - 1)
    return torch.stack([i0, i1]), torch.stack([1.0 - lam, lam])


def cubic_weights(t, a):
    """The header's cubic kernel at distances 1 + t, t, 1 - t, 2 - t (PyTorch's evaluation order)."""
    a = torch.tensor(a, dtype=_F32)

    def near(d):  # |d| <= 1
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def far(d):  # 1 < |d| < 2
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

    return torch.stack([far(t + 1.0), near(t), near(1.0 - t), far((1.0 - t) + 1.0)])


def cubic_taps(x, l_in, a, exclude_outside):
    i = torch.floor(x)
    t = x - i
    i = i.to(torch.int64)
    idx = torch.stack([i - 1, i, i + 1, i + 2])
    w = cubic_weights(t, a)
    if exclude_outside:
        inside = (idx >= 0) & (idx < l_in)
        w = torch.where(inside, w, torch.zeros((), dtype=_F32))
        w = w / w.sum(0, keepdim=True)
    return idx.clamp(0, l_in - 1), w


def _taps(l_in, l_out, scale, mode, transform, selector, rounding, a, exclude_outside):
    """(indices [K, L_out], weights [K, L_out] or None) for one dimension, or None when it maps identically."""
    x = source_coordinates(l_in, l_out, scale, transform, selector)
    if mode == "NEAREST":
        idx = nearest_indices(x, l_in, rounding)
        if l_in == l_out and torch.equal(idx, torch.arange(l_out)):
            return None
        return idx[None], None
    if l_in == l_out and torch.equal(x, torch.arange(l_out, dtype=_F32)):
        return None
    if mode == "LINEAR":
        return linear_taps(x, l_in)
    return cubic_taps(x, l_in, a, exclude_outside)


def _apply_taps(x, dim, idx, w):
    if w is None:
        return x.index_select(dim, idx[0])
    view = [1] * x.dim()
    view[dim] = -1
    out = x.index_select(dim, idx[0]).mul_(w[0].view(view))
    for k in range(1, idx.shape[0]):
        out.addcmul_(x.index_select(dim, idx[k]), w[k].view(view))
    return out


def resize(x, size, scales, mode, transform, selector, rounding, a=-0.75, exclude_outside=False, fast=True):
    """TensorRT's resize of `x` (float32 for LINEAR / CUBIC) to `size`. `scales` (a list) when set by scales."""
    plans = []
    for d in range(x.dim()):
        scale = scales[d] if scales is not None else None
        if x.shape[d] == size[d] and scale in (None, 1.0):
            plans.append(None)
            continue
        plans.append(_taps(x.shape[d], size[d], scale, mode, transform, selector, rounding, a, exclude_outside))
    if fast:
        out = _interpolate_fast(x, size, scales, plans, mode, transform, selector)
        if out is not None:
            return out
    # Shrinking dimensions first keeps the intermediate tensors small.
    order = sorted((d for d in range(x.dim()) if plans[d] is not None),
                   key=lambda d: (size[d] >= x.shape[d], -d))
    for d in order:
        idx, w = plans[d]
        x = _apply_taps(x, d, idx, w)
    return x.contiguous()


# ---- F.interpolate where it computes the same thing ----------------------------------------------------------------

def _torch_nearest_indices(l_in, l_out, exact):
    """PyTorch's `nearest_idx` / `nearest_neighbor_exact_compute_source_index` (float32 scale l_in / l_out)."""
    if not exact and l_out == l_in:
        return torch.arange(l_out)
    if not exact and l_out == 2 * l_in:
        return torch.arange(l_out) // 2
    r = torch.tensor(l_in, dtype=_F32) / torch.tensor(l_out, dtype=_F32)
    o = torch.arange(l_out, dtype=_F32)
    src = torch.floor((o + 0.5) * r if exact else o * r)
    return src.to(torch.int64).clamp_(max=l_in - 1)


def _interpolate_fast(x, size, scales, plans, mode, transform, selector):
    rank = x.dim()
    changed = [d for d in range(rank) if plans[d] is not None]
    if not changed or x.dtype != _F32:
        return None
    k = rank - changed[0]
    if k > 3 or mode == "CUBIC":  # the separable path is faster than F.interpolate's bicubic on CPU
        return None
    spatial = list(range(rank - k, rank))
    if mode == "NEAREST":
        # A plan is None only for an identity mapping, so the indices are then 0 .. L - 1.
        have = [torch.arange(size[d]) if plans[d] is None else plans[d][0][0] for d in spatial]
        for exact, name in ((False, "nearest"), (True, "nearest-exact")):
            if all(torch.equal(h, _torch_nearest_indices(x.shape[d], size[d], exact)) for h, d in zip(have, spatial)):
                return _call_interpolate(x, size, k, name, None)
        return None
    if transform not in ("HALF_PIXEL", "ALIGN_CORNERS"):
        return None
    for d in spatial:
        l_in, l_out = x.shape[d], size[d]
        if plans[d] is None and l_in != l_out:
            return None
        if selector == "UPPER" and l_out == 1 and transform == "HALF_PIXEL" and l_in > 1:
            return None
        scale = scales[d] if scales is not None else None
        if not torch.equal(_ratio(l_in, l_out, scale, transform), _ratio(l_in, l_out, None, transform)):
            return None
    return _call_interpolate(x, size, k, ("linear", "bilinear", "trilinear")[k - 1], transform == "ALIGN_CORNERS")


def _call_interpolate(x, size, k, name, align_corners):
    outer = list(x.shape[:-k])
    batch = 1
    for d in outer:
        batch *= d
    y = x.reshape([1, batch] + list(x.shape[-k:]))
    kwargs = {} if align_corners is None else {"align_corners": align_corners}
    out = F.interpolate(y, size=size[-k:], mode=name, **kwargs)
    return out.reshape(outer + list(size[-k:]))


@network_method
def add_resize(self, input):
    return IResizeLayer(self, [tensor_arg(input, "add_resize")])

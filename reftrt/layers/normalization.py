"""Normalization layer (INormalizationLayer). NvInfer.h `INormalizationLayer`, `addNormalization` and
`addNormalizationV2`; Cookbook Normalization (case_layer_normalization, case_group_normalization,
case_instance_normalization).

Y = (X - Mean(X, axes)) / Sqrt(Variance(X, axes) + epsilon) * S + B, with the biased variance
Mean((X - Mean(X, axes))^2, axes).
- `axes` is a bitmask; `epsilon` defaults to 1e-5; `num_groups` (default 1) splits the channel dimension (dimension
  1 of [N, C, ...]) into groups normalized separately: C must be a multiple of it, and the channel axis itself cannot
  be in `axes` then (the header expects the axes after the channel dimension).
- Scale and bias have the same shape, the input's rank, and broadcast to the input one way. With num_groups != 1 the
  deprecated add_normalization (V1) takes them per group, [1, G, 1, ...]; add_normalization_v2 (TensorRT 11 API) per
  channel, [1, C, 1, ...]. V2 layers print as "NormalizationV2" (Normalization.log), and `is_v2` reads True.
- Input, scale and bias have the same type, HALF, FLOAT or BF16. The math runs in float32 (TensorRT 10's default
  `compute_precision`, FLOAT). TensorRT 10's compute_precision = HALF computes in float16: reftrt rounds the input and
  the result to float16, which reproduces the Cookbook's recorded case_layer_normalization (TensorRT 11 removed the
  property).
"""
import torch

from .._enums import DataType
from .._graph import ILayer, Param
from ._common import enum_param, float_param, int_param, network_method, tensor_arg
from .reduce import mask_axes, mask_param

__all__ = ["INormalizationLayer"]

_FLOATS = (torch.float16, torch.float32, torch.bfloat16)
_COMPUTE = {"FLOAT": torch.float32, "HALF": torch.float16, "BF16": torch.bfloat16}


class INormalizationLayer(ILayer):
    _layer_type = "NORMALIZATION"
    _type_str = "Normalization"
    epsilon = Param(1e-5, float_param)
    axes = Param(0, mask_param)
    num_groups = Param(1, int_param)
    compute_precision = Param(DataType.FLOAT, enum_param(DataType))  # TensorRT 10 API only
    is_v2 = Param(False, readonly=True)  # TensorRT 11 API only

    def __init__(self, network, inputs, is_v2=False, **params):
        if is_v2:
            self._type_str = "NormalizationV2"
        super().__init__(network, inputs, **params)
        # Set here: the version-specific Params are pruned from the class by the API version in use.
        self._p["is_v2"] = is_v2
        self._p.setdefault("compute_precision", DataType.FLOAT)

    def _forward(self, inputs, ctx):
        x, scale, bias = inputs
        for what, t in (("input", x), ("scale", scale), ("bias", bias)):
            if t.dtype not in _FLOATS:
                self._fail(f"the {what} has type {t.dtype}: Normalization takes HALF, FLOAT or BF16")
        if scale.dtype != x.dtype or bias.dtype != x.dtype:
            self._fail(f"input, scale and bias must have the same type, got {x.dtype}, {scale.dtype}, {bias.dtype}")
        if list(scale.shape) != list(bias.shape):
            self._fail(f"scale {list(scale.shape)} and bias {list(bias.shape)} must have the same shape")
        rank = x.dim()
        if scale.dim() != rank:
            self._fail(f"scale and bias must have the input's rank {rank}, got shape {list(scale.shape)}")
        axes = mask_axes(self, self.axes, rank)
        groups = self.num_groups
        v2 = bool(self._p["is_v2"])
        precision = self._p["compute_precision"]
        if precision.name not in _COMPUTE:
            self._fail(f"compute_precision must be FLOAT, HALF or BF16, got {precision}")
        if not axes and groups == 1:
            self._fail("axes must select at least one dimension")
        if groups < 1:
            self._fail(f"num_groups must be positive, got {groups}")
        expected = list(x.shape)
        if groups != 1:
            if rank < 2:
                self._fail("group normalization needs an input of rank >= 2 ([N, C, ...])")
            if x.shape[1] % groups:
                self._fail(f"num_groups {groups} does not divide the {x.shape[1]} channels")
            if 1 in axes:
                self._fail("with num_groups != 1 the channel axis 1 cannot be a normalization axis")
            if not v2:
                expected[1] = groups
        for d, (s, e) in enumerate(zip(scale.shape, expected)):
            if s != e and s != 1:
                self._fail(f"scale/bias shape {list(scale.shape)} does not broadcast to {expected} (dimension {d})")
        if x.is_meta or scale.is_meta or bias.is_meta:
            return [torch.empty_like(x)]
        dtype = x.dtype
        compute = _COMPUTE[precision.name]
        if compute != torch.float32:
            x, scale, bias = (t.to(compute).float() for t in (x, scale, bias))
        x, scale, bias = x.float(), scale.float(), bias.float()
        if groups != 1:
            # [N, C, rest...] -> [N, G, C/G, rest...]: normalize each group over its channels and `axes`.
            grouped = x.reshape([x.shape[0], groups, x.shape[1] // groups] + list(x.shape[2:]))
            y = _normalize(grouped, [2] + [a + 1 for a in axes], self.epsilon)
            if not v2:  # scale and bias per group: [1, G, ...] -> [1, G, 1, ...] against the grouped view
                scale, bias = scale.unsqueeze(2), bias.unsqueeze(2)
                y = (y * scale + bias).reshape(x.shape)
                return [_finish(y, compute, dtype)]
            y = y.reshape(x.shape)
        else:
            y = _normalize(x, axes, self.epsilon)
        return [_finish(y * scale + bias, compute, dtype)]


def _finish(y, compute, dtype):
    if compute != torch.float32:
        y = y.to(compute)
    return y.to(dtype)


def _normalize(x, dims, eps):
    mean = x.mean(dims, keepdim=True)
    centered = x - mean
    var = (centered * centered).mean(dims, keepdim=True)
    return centered / torch.sqrt(var + eps)


def _add(network, input, scale, bias, axesMask, v2):
    return INormalizationLayer(network, [tensor_arg(input, "add_normalization"), tensor_arg(scale, "add_normalization"),
                                         tensor_arg(bias, "add_normalization")], axes=axesMask, is_v2=v2)


@network_method
def add_normalization(self, input, scale, bias, axesMask):
    return _add(self, input, scale, bias, axesMask, False)


@network_method
def add_normalization_v2(self, input, scale, bias, axesMask):
    return _add(self, input, scale, bias, axesMask, True)

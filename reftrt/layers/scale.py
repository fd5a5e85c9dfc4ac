"""Scale layer (IScaleLayer). NvInfer.h `IScaleLayer`, `ScaleMode`, `addScale`, `addScaleNd`; Cookbook Scale
(case_simple, case_channel, case_element, case_scale_channel_axis).

output = (input * scale + shift) ^ power, with per-tensor (UNIFORM: 1 value), per-channel (CHANNEL: one value per
index of the channel axis) or per-element (ELEMENTWISE: one value per index of the channel axis and every axis
after it) coefficients. Empty weights mean scale 1, shift 0, power 1 (the power is then not applied at all).

Channel axis: `add_scale_nd` takes it; for `add_scale` the header gives ELEMENTWISE "the product of the last three
dimensions of the input", so reftrt sets channel_axis = rank - 3 (1 for the NCHW inputs of the Cookbook cases,
which cannot tell it apart from a fixed 1). Input rank: the header says at least 4 dimensions, the Python docstring
at least 3; reftrt accepts 3.

Types: the output has the input's type. Weights of another floating type are converted to the input's type (what a
TensorRT builder does with weights) and the math runs in float32. Under the TensorRT 10 API, a Scale layer whose
output type is set to INT8 is a quantization node ("Quantization rounds ties to even, and clamps to [-128, 127]").
"""
import inspect

import torch

from .._enums import DataType, ScaleMode
from .._graph import ILayer, Param
from .._types import volume
from ._common import enum_param, int_param, network_method, tensor_arg, weights_param

__all__ = ["IScaleLayer"]

_FLOATS = (torch.float32, torch.float16, torch.bfloat16)


class IScaleLayer(ILayer):
    _layer_type = "SCALE"
    _type_str = "Scale"
    _upcast = False
    mode = Param(ScaleMode.UNIFORM, enum_param(ScaleMode))
    shift = Param(None, weights_param)
    scale = Param(None, weights_param)
    power = Param(None, weights_param)
    channel_axis = Param(1, int_param)

    def _coefficients(self, weights, what, shape, dtype):
        # Converted once per weights object, shape and type: an engine runs the same layer again and again.
        cache = self.__dict__.setdefault("_coefficient_cache", {})
        key = (what, tuple(shape), dtype)
        hit = cache.get(key)
        if hit is not None and hit[0] is weights:
            return hit[1]
        result = self._convert_coefficients(weights, what, shape, dtype)
        cache[key] = (weights, result)
        return result

    def _convert_coefficients(self, weights, what, shape, dtype):
        if weights.size == 0:
            return None
        count = volume(shape)
        if weights.size != count:
            self._fail(f"{what} weights has count {weights.size} but {count} was expected for {self.mode} "
                       f"on an input of this shape")
        w = weights._torch()
        if not w.is_floating_point():
            self._fail(f"{what} weights of type {weights.dtype} are not supported")
        # Stored in the layer's type by the builder, then computed in float32.
        return w.to(dtype).float().reshape(shape)

    def _forward(self, inputs, ctx):
        x = inputs[0]
        if x.dtype not in _FLOATS + (torch.int8,):
            self._fail(f"input type {x.dtype} is not supported (FLOAT, HALF, BF16, INT8)")
        if x.dim() < 3:
            self._fail(f"the input must have at least 3 dimensions, got {x.dim()}")
        axis = self.channel_axis
        if not 0 <= axis < x.dim():
            self._fail(f"channel_axis {axis} is out of range for an input of rank {x.dim()}")
        mode = self.mode
        if mode == ScaleMode.UNIFORM:
            shape = [1] * x.dim()
        elif mode == ScaleMode.CHANNEL:
            shape = [1] * x.dim()
            shape[axis] = x.shape[axis]
        else:
            shape = [1] * axis + list(x.shape[axis:])
        coeff_type = x.dtype if x.is_floating_point() else torch.float32
        scale, shift, power = (self._coefficients(w, what, shape, coeff_type) for w, what in
                               ((self.scale, "scale"), (self.shift, "shift"), (self.power, "power")))
        forced = self._output_types[0]
        out_type = torch.int8 if forced == DataType.INT8 else x.dtype
        if x.is_meta:
            return [torch.empty(x.shape, dtype=out_type, device="meta")]
        y = x.float()
        # In place where the memory is ours: the input's when the executor donates it (Context.donated), else the
        # first result's (in-place broadcast ops are PyTorch's fastest path here; same math as y * scale + shift).
        owned = 0 in ctx.donated and y is x
        if scale is not None:
            y = y.mul_(scale) if owned else y * scale
            owned = True
        if shift is not None:
            y = y.add_(shift) if owned else y + shift
        if power is not None:
            y = torch.pow(y, power)
        if out_type == torch.int8:
            return [torch.round(y).clamp(-128, 127).to(torch.int8)]
        return [y.to(out_type)]


@network_method
def add_scale(self, input, mode, shift=None, scale=None, power=None):
    tensor_arg(input, "add_scale")
    return IScaleLayer(self, [input], mode=mode, shift=weights_param(shift), scale=weights_param(scale),
                       power=weights_param(power), channel_axis=max(len(input.shape) - 3, 0))


class _Required:
    def __repr__(self):
        return "<required>"


_REQUIRED = _Required()


@network_method
def add_scale_nd(self, input, mode, shift=None, scale=None, power=None, channel_axis=_REQUIRED):
    if channel_axis is _REQUIRED:
        raise TypeError("add_scale_nd(): missing required argument 'channel_axis'")
    return IScaleLayer(self, [tensor_arg(input, "add_scale_nd")], mode=mode, shift=weights_param(shift),
                       scale=weights_param(scale), power=weights_param(power), channel_axis=channel_axis)


def _signature():
    # pybind11 lets `channel_axis` be required after parameters with defaults; Python needs a sentinel default,
    # and the signature shows what the binding accepts.
    P = inspect.Parameter
    params = [P("self", P.POSITIONAL_OR_KEYWORD), P("input", P.POSITIONAL_OR_KEYWORD),
              P("mode", P.POSITIONAL_OR_KEYWORD)]
    params += [P(name, P.POSITIONAL_OR_KEYWORD, default=None) for name in ("shift", "scale", "power")]
    params.append(P("channel_axis", P.POSITIONAL_OR_KEYWORD))
    return inspect.Signature(params, __validate_parameters__=False)


add_scale_nd.__signature__ = _signature()

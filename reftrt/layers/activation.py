"""Activation layer (IActivationLayer). Formulas from NvInfer.h `ActivationType`; Cookbook Activation/case_simple.

THRESHOLDED_RELU: the header and the Python docstring say `x > alpha ? x : 0`, the Operators page
`max(0, x - alpha)`; the header's form is used (no recorded case decides it).
alpha and beta default to 0 (the Cookbook's comment; its recorded case sets them and uses RELU, which ignores them).
Input types: HALF, FLOAT, BF16; INT32 and INT64 for RELU only (NvInfer.h addActivation).
"""
import math

import torch
import torch.nn.functional as F

from .._enums import ActivationType
from .._graph import ILayer, Param
from ._common import enum_param, float_param, network_method, tensor_arg

__all__ = ["IActivationLayer"]

_FLOATS = (torch.float16, torch.float32, torch.bfloat16)
_INPLACE = {"RELU": torch.relu_, "SIGMOID": torch.sigmoid_, "TANH": torch.tanh_}


def _apply(kind, x, a, b):
    name = kind.name
    if name == "RELU":
        return torch.relu(x)
    if name == "SIGMOID":
        return torch.sigmoid(x)
    if name == "TANH":
        return torch.tanh(x)
    if name == "LEAKY_RELU":
        return torch.where(x >= 0, x, a * x)
    if name == "ELU":
        return torch.where(x >= 0, x, a * torch.expm1(x))
    if name == "SELU":
        return torch.where(x > 0, b * x, b * (a * torch.exp(x) - a))
    if name == "SOFTSIGN":
        return x / (1 + x.abs())
    if name == "SOFTPLUS":
        return a * F.softplus(b * x)
    if name == "CLIP":
        return torch.clamp(x, a, b)
    if name == "HARD_SIGMOID":
        return torch.clamp(a * x + b, 0, 1)
    if name == "SCALED_TANH":
        return a * torch.tanh(b * x)
    if name == "THRESHOLDED_RELU":
        return torch.where(x > a, x, torch.zeros_like(x))
    if name == "GELU_ERF":
        return 0.5 * x * (1 + torch.erf(x * math.sqrt(0.5)))
    if name == "GELU_TANH":
        return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (0.044715 * x ** 3 + x)))
    raise NotImplementedError(f"activation {kind}")


class IActivationLayer(ILayer):
    _layer_type = "ACTIVATION"
    _type_str = "Activation"
    # TensorRT's Python IActivationLayer.type is the activation type (it shadows ILayer.type).
    type = Param(ActivationType.RELU, enum_param(ActivationType))
    alpha = Param(0.0, float_param)
    beta = Param(0.0, float_param)

    def _forward(self, inputs, ctx):
        x = inputs[0]
        # "Int32 and Int64 are valid only for activation type kRELU" (NvInfer.h addActivation).
        if x.dtype not in _FLOATS and not (self.type.name == "RELU" and x.dtype in (torch.int32, torch.int64)):
            self._fail(f"activation {self.type} does not accept {x.dtype} inputs (HALF, FLOAT, BF16; INT32 and "
                       f"INT64 for RELU only)")
        if x.is_meta:
            return [torch.empty_like(x)]
        inplace = _INPLACE.get(self.type.name)
        if inplace is not None and 0 in ctx.donated:
            return [inplace(x)]  # the executor gave us x's memory (Context.donated): same values, no new buffer
        return [_apply(self.type, x, self.alpha, self.beta)]


@network_method
def add_activation(self, input, type):
    return IActivationLayer(self, [tensor_arg(input, "add_activation")], type=type)

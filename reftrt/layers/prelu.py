"""Parametric ReLU layer (IParametricReLULayer). NvInfer.h `addParametricReLU` and the Python docstring; Cookbook
ParametricReLU case_simple.

output = input >= 0 ? input : input * slope. The slopes tensor is "unidirectional broadcastable" to the input: same
rank, each dimension equal to the input's or 1; the output has the input's shape. Both tensors have the same type
(FLOAT, HALF, BF16 or INT8; INT32, INT64, BOOL and UINT8 are not allowed). INT8 results round half to even and
saturate, which no recorded case checks.
"""
import torch

from .._graph import ILayer
from ._common import network_method, tensor_arg
from .pooling import round_to

__all__ = ["IParametricReLULayer"]

_SUPPORTED = (torch.float32, torch.float16, torch.bfloat16, torch.int8)


class IParametricReLULayer(ILayer):
    _layer_type = "PARAMETRIC_RELU"
    _type_str = "Parametric ReLU"

    def _forward(self, inputs, ctx):
        x, slopes = inputs
        if x.dtype not in _SUPPORTED:
            self._fail(f"input type {x.dtype} is not supported (FLOAT, HALF, BF16, INT8)")
        if slopes.dtype != x.dtype:
            self._fail(f"the slopes have type {slopes.dtype}, the input {x.dtype}")
        if slopes.dim() != x.dim() or any(s != d and s != 1 for s, d in zip(slopes.shape, x.shape)):
            self._fail(f"slopes of shape {list(slopes.shape)} are not unidirectionally broadcastable to the input "
                       f"shape {list(x.shape)}")
        if x.is_meta or slopes.is_meta:
            return [torch.empty(x.shape, dtype=x.dtype, device="meta")]
        xf = x.float()
        return [round_to(torch.where(xf >= 0, xf, xf * slopes.float()), x.dtype)]


@network_method
def add_parametric_relu(self, input, slopes):
    return IParametricReLULayer(self, [tensor_arg(input, "add_parametric_relu"),
                                       tensor_arg(slopes, "add_parametric_relu")])

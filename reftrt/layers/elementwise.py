"""ElementWise layer (IElementWiseLayer). NvInfer.h `ElementWiseOperation`; Cookbook Elementwise cases.

Broadcasting follows TensorRT, not numpy: both inputs must have the same rank, and each dimension pair must match
or one of them be 1. Strongly typed: both inputs have the same type. Comparisons give BOOL; AND/OR/XOR take BOOL.
"""
import torch

from .._enums import ElementWiseOperation
from .._graph import ILayer, Param
from ._common import enum_param, network_method, tensor_arg

__all__ = ["IElementWiseLayer"]

_LOGICAL = {"AND", "OR", "XOR"}
_COMPARE = {"EQUAL", "GREATER", "LESS"}


def _int_div(a, b):
    # C semantics for integer division: truncation toward zero.
    return torch.div(a, b, rounding_mode="trunc")


_OPS = {
    "SUM": torch.add, "PROD": torch.mul, "MAX": torch.maximum, "MIN": torch.minimum, "SUB": torch.sub,
    "POW": torch.pow, "AND": torch.logical_and, "OR": torch.logical_or, "XOR": torch.logical_xor,
    "EQUAL": torch.eq, "GREATER": torch.gt, "LESS": torch.lt,
    "FLOOR_DIV": lambda a, b: torch.div(a, b, rounding_mode="floor"),
}


def broadcast_shape(layer, a, b):
    if a.dim() != b.dim():
        layer._fail(f"ElementWise inputs must have the same rank, got {list(a.shape)} and {list(b.shape)}")
    out = []
    for x, y in zip(a.shape, b.shape):
        if x != y and x != 1 and y != 1:
            layer._fail(f"ElementWise input dimensions {list(a.shape)} and {list(b.shape)} are not broadcastable")
        out.append(y if x == 1 else x)
    return out


class IElementWiseLayer(ILayer):
    _layer_type = "ELEMENTWISE"
    _type_str = "ElementWise"
    op = Param(ElementWiseOperation.SUM, enum_param(ElementWiseOperation))

    def _forward(self, inputs, ctx):
        a, b = inputs
        if a.dtype != b.dtype:
            self._fail(f"ElementWise inputs must have the same type, got {a.dtype} and {b.dtype}")
        name = self.op.name
        if name in _LOGICAL and a.dtype != torch.bool:
            self._fail(f"{name} needs BOOL inputs, got {a.dtype}")
        if name not in _LOGICAL | _COMPARE and a.dtype == torch.bool:
            self._fail(f"{name} does not take BOOL inputs")
        shape = broadcast_shape(self, a, b)
        out_dtype = torch.bool if name in _LOGICAL | _COMPARE else a.dtype
        if a.is_meta or b.is_meta:
            return [torch.empty(shape, dtype=out_dtype, device="meta")]
        if name == "DIV":
            out = torch.div(a, b) if a.is_floating_point() else _int_div(a, b)
        else:
            out = _OPS[name](a, b)
        return [out.to(out_dtype)]


@network_method
def add_elementwise(self, input1, input2, op):
    return IElementWiseLayer(self, [tensor_arg(input1, "add_elementwise"), tensor_arg(input2, "add_elementwise")],
                             op=op)

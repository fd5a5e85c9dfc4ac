"""ElementWise layer (IElementWiseLayer). NvInfer.h `ElementWiseOperation` and `addElementWise`; Cookbook Elementwise
(case_simple, case_broadcast).

Broadcasting follows TensorRT, not numpy: both inputs must have the same rank, and each dimension pair must match
or one of them be 1 (which broadcasts to the other length, 0 included). Strongly typed: both inputs have the same
type. Types, from the Cookbook's table:
- SUM, PROD, MAX, MIN, SUB, DIV, POW, FLOOR_DIV: INT8, INT32, INT64, HALF, FLOAT, BF16; the output has that type;
- AND, OR, XOR: BOOL;
- EQUAL, GREATER, LESS: INT32, INT64, HALF, FLOAT, BF16; the output is BOOL.
Integer arithmetic, which no recorded case decides: DIV truncates toward zero (C division), FLOOR_DIV rounds toward
negative infinity, POW with a negative exponent is computed in floating point and truncated; a division by zero
gives -1 (what NVIDIA GPUs' integer division returns) instead of trapping.
"""
import torch

from .._enums import ElementWiseOperation
from .._graph import ILayer, Param
from ._common import enum_param, network_method, tensor_arg

__all__ = ["IElementWiseLayer"]

_LOGICAL = {"AND", "OR", "XOR"}
_INPLACE = {"SUM", "SUB", "PROD", "MAX", "MIN"}  # torch ops with out= for the same-type result
_COMPARE = {"EQUAL", "GREATER", "LESS"}
_ARITH_TYPES = (torch.int8, torch.int32, torch.int64, torch.float16, torch.float32, torch.bfloat16)
_COMPARE_TYPES = (torch.int32, torch.int64, torch.float16, torch.float32, torch.bfloat16)


def _int_div(a, b, mode):
    zero = b == 0
    q = torch.div(a, torch.where(zero, torch.ones_like(b), b), rounding_mode=mode)
    return torch.where(zero, torch.full_like(q, -1), q)


def _pow(a, b):
    if a.is_floating_point() or not bool((b < 0).any()):
        return torch.pow(a, b)
    return torch.pow(a.double(), b.double()).trunc().to(a.dtype)


_OPS = {
    "SUM": torch.add, "PROD": torch.mul, "MAX": torch.maximum, "MIN": torch.minimum, "SUB": torch.sub,
    "POW": _pow, "AND": torch.logical_and, "OR": torch.logical_or, "XOR": torch.logical_xor,
    "EQUAL": torch.eq, "GREATER": torch.gt, "LESS": torch.lt,
    "DIV": lambda a, b: torch.div(a, b) if a.is_floating_point() else _int_div(a, b, "trunc"),
    "FLOOR_DIV": lambda a, b: torch.floor(a / b) if a.is_floating_point() else _int_div(a, b, "floor"),
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
        allowed = (torch.bool,) if name in _LOGICAL else _COMPARE_TYPES if name in _COMPARE else _ARITH_TYPES
        if a.dtype not in allowed:
            self._fail(f"ElementWiseOperation.{name} does not accept {a.dtype} inputs")
        shape = broadcast_shape(self, a, b)
        out_dtype = torch.bool if name in _LOGICAL | _COMPARE else a.dtype
        if a.is_meta or b.is_meta:
            return [torch.empty(shape, dtype=out_dtype, device="meta")]
        if ctx.donated and name in _INPLACE and out_dtype == a.dtype:
            # The executor gave us an input's memory (Context.donated): write the result there if it fits.
            for i, x in ((0, a), (1, b)):
                if i in ctx.donated and list(x.shape) == shape and x.is_contiguous():
                    return [_OPS[name](a, b, out=x)]
        out = _OPS[name](a, b).to(out_dtype)
        # Not a view when nothing is expanded: a fresh tensor can be computed in place later (Context.donated).
        return [out if list(out.shape) == shape else out.expand(shape).contiguous()]


@network_method
def add_elementwise(self, input1, input2, op):
    return IElementWiseLayer(self, [tensor_arg(input1, "add_elementwise"), tensor_arg(input2, "add_elementwise")],
                             op=op)

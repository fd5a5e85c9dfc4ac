"""Unary layer (IUnaryLayer). NvInfer.h `UnaryOperation` and `addUnary`; Cookbook Unary/case_simple.

Input types, from the header and the Cookbook's table:
- NOT takes BOOL;
- ABS, NEG and SIGN take INT8, INT32, INT64 and the floating-point types (HALF, FLOAT, BF16);
- every other operation takes the floating-point types. (INT8 "as a quantized float" needs TensorRT's implicit
  quantization, which reftrt does not implement: rejected.)
ISINF and ISNAN output BOOL; the others the input's type. ROUND rounds half to even ("Round to nearest even");
SIGN gives -1, 0 or 1; RECIP is 1/x.
"""
import torch

from .._enums import UnaryOperation
from .._graph import ILayer, Param
from ._common import enum_param, network_method, tensor_arg

__all__ = ["IUnaryLayer"]

_FLOATS = (torch.float16, torch.float32, torch.bfloat16)
_SIGNED_INTS = (torch.int8, torch.int32, torch.int64)

_OPS = {
    "EXP": torch.exp, "LOG": torch.log, "SQRT": torch.sqrt, "RECIP": torch.reciprocal, "ABS": torch.abs,
    "NEG": torch.neg, "SIN": torch.sin, "COS": torch.cos, "TAN": torch.tan, "SINH": torch.sinh, "COSH": torch.cosh,
    "ASIN": torch.asin, "ACOS": torch.acos, "ATAN": torch.atan, "ASINH": torch.asinh, "ACOSH": torch.acosh,
    "ATANH": torch.atanh, "CEIL": torch.ceil, "FLOOR": torch.floor, "ERF": torch.erf, "NOT": torch.logical_not,
    "SIGN": torch.sign, "ROUND": torch.round, "ISINF": torch.isinf, "ISNAN": torch.isnan,
}


def _check_type(layer, name, dtype):
    if name == "NOT":
        ok = dtype == torch.bool
    elif name in ("ABS", "NEG", "SIGN"):
        ok = dtype in _FLOATS or dtype in _SIGNED_INTS
    else:
        ok = dtype in _FLOATS
    if not ok:
        layer._fail(f"UnaryOperation.{name} does not accept {dtype} inputs")


class IUnaryLayer(ILayer):
    _layer_type = "UNARY"
    _type_str = "Unary"
    op = Param(UnaryOperation.EXP, enum_param(UnaryOperation))

    def _forward(self, inputs, ctx):
        x = inputs[0]
        name = self.op.name
        _check_type(self, name, x.dtype)
        out_dtype = torch.bool if name in ("ISINF", "ISNAN") else x.dtype
        if x.is_meta:
            return [torch.empty(x.shape, dtype=out_dtype, device="meta")]
        return [_OPS[name](x).to(out_dtype)]


@network_method
def add_unary(self, input, op):
    return IUnaryLayer(self, [tensor_arg(input, "add_unary")], op=op)

"""Reduce layer (IReduceLayer). NvInfer.h `IReduceLayer`, `ReduceOperation` and `addReduce`; Cookbook
Reduce/case_simple.

- `axes` is a bitmask: bit i reduces dimension i. `keep_dims` keeps the reduced dimensions with length 1, otherwise
  they are removed (reducing every dimension without keep_dims gives a 0-D tensor).
- Input types: INT8, INT32, INT64, HALF, FLOAT, BF16 (the header: "a reduction across a non-bool tensor"; the
  Cookbook's type list), rank >= 1 (the Cookbook). The output has the input's type.
- Reducing an empty volume gives the header's table: SUM 0, PROD 1, MAX -inf / the type's minimum, MIN +inf / the
  type's maximum, AVG NaN for floating point and 0 for integers.
- ReduceOperation.NONE (TensorRT 11) "is applicable to Multi-Device mode only" (IDistCollectiveLayer): reftrt
  rejects it in a Reduce layer.
- Not decided by the header or a recorded case, reftrt's choices: AVG of integers truncates toward zero (C division);
  `axes` = 0 reduces nothing (the output is the input).
"""
import torch

from .._enums import ReduceOperation
from .._graph import ILayer, Param
from ._common import axes_from_mask, bool_param, enum_param, int_param, network_method, tensor_arg

__all__ = ["IReduceLayer"]

_TYPES = (torch.int8, torch.int32, torch.int64, torch.float16, torch.float32, torch.bfloat16)


def mask_param(value):
    """A uint32 bitmask, converted as pybind converts a C++ uint32_t (TypeError outside [0, 2**32))."""
    value = int_param(value)
    if not 0 <= value < 1 << 32:
        raise TypeError(f"expected an unsigned 32-bit bitmask, got {value}")
    return value


def mask_axes(layer, mask, rank, what="axes"):
    """The dimensions selected by a bitmask; a bit at or beyond the rank is an error."""
    if mask >> rank:
        layer._fail(f"{what} bitmask {mask:#x} selects a dimension outside the input's rank {rank}")
    return axes_from_mask(mask, rank)


def _empty_value(op, dtype):
    if op == "SUM":
        return 0
    if op == "PROD":
        return 1
    floating = dtype.is_floating_point
    if op == "MAX":
        return float("-inf") if floating else torch.iinfo(dtype).min
    if op == "MIN":
        return float("inf") if floating else torch.iinfo(dtype).max
    return float("nan") if floating else 0  # AVG


def reduce(x, op, axes, keep_dims):
    """Reduce real tensor `x` over `axes` (a list) with ReduceOperation name `op`."""
    if not axes:
        return x.clone()
    shape = [1 if i in axes else d for i, d in enumerate(x.shape)] if keep_dims else \
        [d for i, d in enumerate(x.shape) if i not in axes]
    count = 1
    for a in axes:
        count *= x.shape[a]
    if count == 0:
        return torch.full(shape, _empty_value(op, x.dtype), dtype=x.dtype)
    if op == "SUM":
        out = torch.sum(x, axes, keepdim=keep_dims)
    elif op == "PROD":
        out = x
        for a in sorted(axes, reverse=True):
            out = torch.prod(out, a, keepdim=keep_dims)
    elif op == "MAX":
        out = torch.amax(x, axes, keepdim=keep_dims)
    elif op == "MIN":
        out = torch.amin(x, axes, keepdim=keep_dims)
    else:  # AVG
        if x.is_floating_point():
            out = torch.mean(x, axes, keepdim=keep_dims)
        else:
            out = torch.div(torch.sum(x.to(torch.int64), axes, keepdim=keep_dims), count, rounding_mode="trunc")
    return out.to(x.dtype).reshape(shape)


class IReduceLayer(ILayer):
    _layer_type = "REDUCE"
    _type_str = "Reduce"
    op = Param(ReduceOperation.SUM, enum_param(ReduceOperation))
    axes = Param(0, mask_param)
    keep_dims = Param(False, bool_param)

    def _forward(self, inputs, ctx):
        x = inputs[0]
        op = self.op.name
        if op == "NONE":
            self._fail("ReduceOperation.NONE is only valid in a DistCollective layer")
        if x.dtype not in _TYPES:
            self._fail(f"Reduce does not accept {x.dtype} inputs (INT8, INT32, INT64, HALF, FLOAT or BF16)")
        if x.dim() < 1:
            self._fail("the input must have rank >= 1")
        axes = mask_axes(self, self.axes, x.dim())
        if x.is_meta:
            if self.keep_dims:
                shape = [1 if i in axes else d for i, d in enumerate(x.shape)]
            else:
                shape = [d for i, d in enumerate(x.shape) if i not in axes]
            return [torch.empty(shape, dtype=x.dtype, device="meta")]
        return [reduce(x, op, axes, self.keep_dims)]


@network_method
def add_reduce(self, input, op, axes, keep_dims):
    return IReduceLayer(self, [tensor_arg(input, "add_reduce")], op=op, axes=axes, keep_dims=keep_dims)

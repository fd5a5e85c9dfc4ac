"""Cumulative layer (ICumulativeLayer), TensorRT 11 API only (10.3 lacks it). NvInfer.h `ICumulativeLayer`,
`CumulativeOperation` and `addCumulative`; Cookbook Cumulative/case_simple.

For a vector x of length n, y[j] sums x over 0..j (forward, inclusive), 0..j-1 (forward, exclusive), j..n-1
(reverse, inclusive) or j+1..n-1 (reverse, exclusive); an empty sum is 0. The output has the input's shape and type.
- Input types: INT32, INT64, HALF, FLOAT, BF16; rank >= 1 (Cookbook's table).
- `axis` is input 1: "a build-time constant 0D shape tensor" (INT32 or INT64) in [-rank, rank - 1], negative
  values counting from the back. reftrt rejects an axis whose value is not known while building.
"""
import torch

from .. import _version
from .. import _enums
from .._graph import ILayer, Param
from ._common import bool_param, enum_param, network_method, tensor_arg

__all__ = ["ICumulativeLayer"] if _version.IS_11 else []

_TYPES = (torch.int32, torch.int64, torch.float16, torch.float32, torch.bfloat16)


def cumulative_sum(x, axis, exclusive, reverse):
    if reverse:
        x = x.flip(axis)
    out = torch.cumsum(x, axis).to(x.dtype)
    if exclusive:
        # Shift by one along the axis (not cumsum - x, which would round differently for floats).
        n = x.shape[axis]
        zero = torch.zeros_like(x.narrow(axis, 0, min(n, 1)))
        out = torch.cat([zero, out.narrow(axis, 0, max(n - 1, 0))], axis)
    if reverse:
        out = out.flip(axis)
    return out


# TensorRT 10.3 has no CumulativeOperation: the layer then exists only for plans' sake and add_cumulative is pruned.
CumulativeOperation = getattr(_enums, "CumulativeOperation", None)


class ICumulativeLayer(ILayer):
    _layer_type = "CUMULATIVE"
    _type_str = "Cumulative"
    _value_inputs = (1,)
    _shape_inputs = (1,)
    op = Param(CumulativeOperation and CumulativeOperation.SUM,
               CumulativeOperation and enum_param(CumulativeOperation))
    exclusive = Param(False, bool_param)
    reverse = Param(False, bool_param)

    def _forward(self, inputs, ctx):
        x, axis = inputs
        if x.dtype not in _TYPES:
            self._fail(f"Cumulative does not accept {x.dtype} inputs (INT32, INT64, HALF, FLOAT or BF16)")
        if x.dim() < 1:
            self._fail("the input must have rank >= 1")
        if axis.dtype not in (torch.int32, torch.int64) or axis.dim() != 0:
            self._fail(f"the axis must be a 0-D INT32 or INT64 tensor, got {axis.dtype} of shape {list(axis.shape)}")
        if axis.is_meta:
            self._fail("the axis must be a build-time constant")
        a = int(axis)
        if not -x.dim() <= a < x.dim():
            self._fail(f"axis {a} is outside [{-x.dim()}, {x.dim() - 1}]")
        a %= x.dim()
        if x.is_meta:
            return [torch.empty_like(x)]
        return [cumulative_sum(x, a, self.exclusive, self.reverse)]


@network_method
def add_cumulative(self, input, axis, op, exclusive, reverse):
    return ICumulativeLayer(self, [tensor_arg(input, "add_cumulative"), tensor_arg(axis, "add_cumulative")],
                            op=op, exclusive=exclusive, reverse=reverse)

"""NonZero layer (INonZeroLayer). Follows NvInfer.h `INonZeroLayer` and Cookbook NonZero (case_simple,
case_deprecated).

The output is [rank, count]: column j holds the coordinates of the j-th non-zero element in row-major order (for
BOOL, "non-zero" means true). The count is data-dependent: definition-time shapes read (rank, -1), as NonZero.log
shows; its upper bound is the input volume. Output type: `indices_type`, INT32 by default, INT64 when set (11.x: the
property and add_non_zero's second argument; the 10.3 API has neither and always gives INT32). A rank-0 input gives
[0, 1] or [0, 0], as numpy's nonzero of a scalar would be shaped. Inputs: FLOAT, HALF, BF16, INT32, INT64 or BOOL
(the Cookbook's list; the header names FLOAT, HALF, INT32, BOOL).
"""
import torch

from .. import _version
from .._enums import DataType
from .._graph import ILayer
from .._types import torch_dtype
from ._common import network_method, tensor_arg
from .nms import _IndicesType, _valid_indices_type

__all__ = ["INonZeroLayer"]

_INPUT_TYPES = (torch.float32, torch.float16, torch.bfloat16, torch.int32, torch.int64, torch.bool)


class INonZeroLayer(ILayer):
    _layer_type = "NON_ZERO"
    _type_str = "NonZero"
    _upcast = False
    indices_type = _IndicesType()

    def _forward(self, inputs, ctx):
        x = inputs[0]
        if x.dtype not in _INPUT_TYPES:
            self._fail(f"input type {x.dtype} is not supported (FLOAT, HALF, BF16, INT32, INT64, BOOL)")
        # Through _p: in the 10.3 API the property does not exist (INT32 only).
        out_type = torch_dtype(self._p.get("indices_type", DataType.INT32))
        if ctx.analysis:
            count = ctx.unknown_size(x.numel())
            return [torch.empty((x.dim(), count), dtype=out_type, device="meta")]
        if x.dim() == 0:
            return [torch.zeros((0, int(bool(x.item()))), dtype=out_type)]
        return [torch.nonzero(x).t().contiguous().to(out_type)]


if _version.IS_11:
    @network_method
    def add_non_zero(self, input, indices_type=None):
        if indices_type is not None and not _valid_indices_type(self, indices_type, "addNonZero"):
            return None
        layer = INonZeroLayer(self, [tensor_arg(input, "add_non_zero")])
        if indices_type is not None:
            layer.indices_type = indices_type
        return layer
else:
    @network_method
    def add_non_zero(self, input):
        return INonZeroLayer(self, [tensor_arg(input, "add_non_zero")])

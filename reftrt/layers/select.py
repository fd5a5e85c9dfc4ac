"""Select layer (ISelectLayer). NvInfer.h `ISelectLayer` and `addSelect`; Cookbook Select/case_simple.

output = condition ? then_input : else_input, elementwise, like numpy.where with three arguments.
- The condition is BOOL; then_input and else_input have the same type, one of INT32, INT64, HALF, FLOAT, BF16, BOOL
  (Cookbook's table); the output has that type.
- Broadcasting as ElementWise: the three inputs have the same rank, and along each axis the lengths are equal or 1.
  A length 1 broadcasts to the others' length, including 0 (NvInfer.h: [1,1,0,9] with [1,3,1,9] gives [1,3,0,9]).
"""
import torch

from .._graph import ILayer
from ._common import network_method, tensor_arg

__all__ = ["ISelectLayer"]

_TYPES = (torch.int32, torch.int64, torch.float16, torch.float32, torch.bfloat16, torch.bool)


def broadcast_shapes(layer, tensors, what="inputs"):
    """TensorRT's broadcast of same-rank tensors: per axis, equal lengths or 1."""
    rank = tensors[0].dim()
    if any(t.dim() != rank for t in tensors):
        layer._fail(f"{what} must have the same rank, got shapes {[list(t.shape) for t in tensors]}")
    out = []
    for axis in range(rank):
        lengths = {t.shape[axis] for t in tensors} - {1}
        if len(lengths) > 1:
            layer._fail(f"{what} shapes {[list(t.shape) for t in tensors]} do not broadcast on axis {axis}")
        out.append(lengths.pop() if lengths else 1)
    return out


class ISelectLayer(ILayer):
    _layer_type = "SELECT"
    _type_str = "Select"
    _upcast = False

    def _forward(self, inputs, ctx):
        cond, a, b = inputs
        if cond.dtype != torch.bool:
            self._fail(f"the condition must be BOOL, got {cond.dtype}")
        if a.dtype != b.dtype:
            self._fail(f"then_input and else_input must have the same type, got {a.dtype} and {b.dtype}")
        if a.dtype not in _TYPES:
            self._fail(f"Select does not accept {a.dtype} inputs (INT32, INT64, HALF, FLOAT, BF16 or BOOL)")
        shape = broadcast_shapes(self, [cond, a, b])
        if cond.is_meta or a.is_meta or b.is_meta:
            return [torch.empty(shape, dtype=a.dtype, device="meta")]
        return [torch.where(cond, a, b).expand(shape).contiguous()]


@network_method
def add_select(self, condition, then_input, else_input):
    return ISelectLayer(self, [tensor_arg(condition, "add_select"), tensor_arg(then_input, "add_select"),
                               tensor_arg(else_input, "add_select")])

"""OneHot layer (IOneHotLayer). NvInfer.h `IOneHotLayer`, the Operators page (OneHot), Cookbook OneHot/case_simple.

Inputs: indices (INT32), values ([off_value, on_value], a 2-element 1-D tensor whose type is the output's) and depth
(a positive 0-D INT32/INT64 shape tensor known while building). The output inserts a dimension of size depth at
`axis` (valid range [-rank(indices) - 1, rank(indices)]), holds on_value where the index along it equals
indices[...] and off_value elsewhere. Negative indices count from the end of the depth axis (ONNX OneHot, and the
indices -1..-5 of the Operators example); indices still outside [0, depth) produce an all-off row. No recorded case
has a negative index, so that rule is ONNX's, not a TensorRT observation.
"""
import torch

from .._graph import ILayer, Param
from ._common import int_param, network_method, tensor_arg
from .shuffle import host_ints, unknown_dims

__all__ = ["IOneHotLayer"]


class IOneHotLayer(ILayer):
    _layer_type = "ONE_HOT"
    _type_str = "OneHot"
    _value_inputs = (2,)
    _shape_inputs = (2,)
    _upcast = False
    axis = Param(-1, int_param)

    def _forward(self, inputs, ctx):
        indices, values, depth_t = inputs
        if indices.dtype != torch.int32:
            self._fail(f"indices must be INT32, got {indices.dtype}")
        if values.dim() != 1 or values.shape[0] != 2:
            self._fail(f"values must be a 1-D tensor [off_value, on_value], got shape {list(values.shape)}")
        q = indices.dim()
        axis = self.axis
        if not -q - 1 <= axis <= q:
            self._fail(f"axis {axis} is out of range [{-q - 1}, {q}] for indices of rank {q}")
        if axis < 0:
            axis += q + 1
        depth = host_ints(self, depth_t, ctx, "depth (input 2)", rank=0)
        if depth is None:
            depth = unknown_dims(ctx, 1)[0]
        elif depth <= 0:
            self._fail(f"depth must be positive, got {depth}")
        shape = list(indices.shape[:axis]) + [depth] + list(indices.shape[axis:])
        if indices.is_meta or values.is_meta:
            return [torch.empty(shape, dtype=values.dtype, device="meta")]
        idx = indices.to(torch.int64)
        idx = torch.where(idx < 0, idx + depth, idx)
        classes = torch.arange(depth).reshape([depth] + [1] * (q - axis))
        hot = idx.unsqueeze(axis) == classes
        return [torch.where(hot, values[1], values[0])]


@network_method
def add_one_hot(self, indices, values, depth, axis):
    return IOneHotLayer(self, [tensor_arg(indices, "add_one_hot"), tensor_arg(values, "add_one_hot"),
                               tensor_arg(depth, "add_one_hot")], axis=axis)

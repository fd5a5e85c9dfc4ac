"""Concatenation layer (IConcatenationLayer). NvInfer.h `IConcatenationLayer`; Cookbook Concatenation/case_simple.

The default axis is max(0, rank - 3) of the first input when the layer is created (C for NCHW), as the header says.
All inputs must have the same rank, type and dimensions except along the axis. The header gives no negative axes;
reftrt rejects an axis outside [0, rank).
"""
import torch

from .._graph import ILayer, Param
from ._common import int_param, network_method, tensors_arg

__all__ = ["IConcatenationLayer"]


def _default_axis(layer):
    rank = len(layer._inputs[0].shape) if layer._inputs else 0
    return max(0, rank - 3)


class IConcatenationLayer(ILayer):
    _layer_type = "CONCATENATION"
    _type_str = "Concatenation"
    _upcast = False
    axis = Param(_default_axis, int_param)

    def _forward(self, inputs, ctx):
        if not inputs or any(t is None for t in inputs):
            self._fail("every input of a concatenation must be set")
        first = inputs[0]
        rank, axis = first.dim(), self.axis
        if not 0 <= axis < max(rank, 1) or rank == 0:
            self._fail(f"concatenation axis {axis} is out of range for inputs of rank {rank}")
        for i, t in enumerate(inputs[1:], 1):
            if t.dtype != first.dtype:
                self._fail(f"input {i} has type {t.dtype}, input 0 has {first.dtype}: all inputs must have the same "
                           f"type")
            if t.dim() != rank or any(a != b for d, (a, b) in enumerate(zip(t.shape, first.shape)) if d != axis):
                self._fail(f"input {i} has dimensions {list(t.shape)}, incompatible with input 0 {list(first.shape)} "
                           f"for concatenation on axis {axis}")
        if any(t.is_meta for t in inputs):
            shape = list(first.shape)
            shape[axis] = sum(t.shape[axis] for t in inputs)
            return [torch.empty(shape, dtype=first.dtype, device="meta")]
        return [torch.cat(inputs, axis)]


@network_method
def add_concatenation(self, inputs):
    return IConcatenationLayer(self, tensors_arg(inputs, "add_concatenation"))

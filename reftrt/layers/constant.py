"""Constant layer (IConstantLayer): a tensor from weights. Cookbook Constant cases."""
import torch

from .._graph import ILayer, Param
from .._types import torch_dtype, volume
from ._common import dims_param, network_method, weights_param

__all__ = ["IConstantLayer"]


class IConstantLayer(ILayer):
    _layer_type = "CONSTANT"
    _type_str = "Constant"
    shape = Param(None, dims_param)
    weights = Param(None, weights_param)

    def _forward(self, inputs, ctx):
        shape = list(self.shape)
        if any(d < 0 for d in shape):
            self._fail(f"constant shape {self.shape} has a negative dimension")
        w = self.weights
        if w.size != volume(shape):
            self._fail(f"weights has count {w.size} but shape {self.shape} needs {volume(shape)}")
        return [w._torch().reshape(shape).to(torch_dtype(w.dtype))]


@network_method
def add_constant(self, shape, weights):
    return IConstantLayer(self, [], shape=shape, weights=weights)

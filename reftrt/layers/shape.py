"""Shape layer (IShapeLayer): a 1-D INT64 tensor holding the dimensions of its input.

NvInfer.h `IShapeLayer` ("a 1D tensor of type Int64"); Cookbook Shape/case_simple (TensorRT 10.16 prints INT64; the
TensorRT 10 and 11 APIs agree). The output depends only on the input's shape, so it is computed for real even when
the input is only a shape during analysis: this is what makes Shape -> Gather -> Concatenation -> Shuffle chains
resolve while building. The class is a `_ShapeSource`: shape-tensor propagation stops at it (its input is an
execution tensor).
"""
import torch

from .._graph import ILayer, _ShapeSource
from ._common import network_method, tensor_arg

__all__ = ["IShapeLayer"]


class IShapeLayer(ILayer, _ShapeSource):
    _layer_type = "SHAPE"
    _type_str = "Shape"
    _upcast = False

    def _forward(self, inputs, ctx):
        return [torch.tensor(list(inputs[0].shape), dtype=torch.int64)]


@network_method
def add_shape(self, input):
    return IShapeLayer(self, [tensor_arg(input, "add_shape")])

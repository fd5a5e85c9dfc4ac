"""SoftMax layer (ISoftMaxLayer). NvInfer.h `ISoftMaxLayer::setAxes`; Cookbook Softmax/case_simple.

- `axes` is a bitmask with exactly one bit set: the axis the softmax normalizes over.
- Default: "softmax is performed on the axis which is the number of axes minus three. It is 0 if there are fewer
  than 3 axes" (NvInfer.h), i.e. 1 << max(0, rank - 3) for the input's rank when the layer is created. (One Python
  docstring line says H for NHW; the header's rule is used. The recorded case sets the axis explicitly.)
- Input types: HALF, FLOAT, BF16 ("Int32 tensors are not valid input tensors"; the Cookbook's type list).
- The printed layer type is "Softmax" (Softmax.log), not "SoftMax".
"""
import torch

from .._graph import ILayer, Param
from ._common import network_method, tensor_arg
from .reduce import mask_axes, mask_param

__all__ = ["ISoftMaxLayer"]

_FLOATS = (torch.float16, torch.float32, torch.bfloat16)


def _default_axes(layer):
    rank = len(layer._inputs[0].shape) if layer._inputs else 0
    return 1 << max(0, rank - 3)


class ISoftMaxLayer(ILayer):
    _layer_type = "SOFTMAX"
    _type_str = "Softmax"
    axes = Param(_default_axes, mask_param)

    def _forward(self, inputs, ctx):
        x = inputs[0]
        if x.dtype not in _FLOATS:
            self._fail(f"SoftMax needs a HALF, FLOAT or BF16 input, got {x.dtype}")
        axes = mask_axes(self, self.axes, x.dim())
        if len(axes) != 1:
            self._fail(f"axes bitmask {self.axes:#x} must select exactly one axis")
        if x.is_meta:
            return [torch.empty_like(x)]
        return [torch.softmax(x, axes[0])]


@network_method
def add_softmax(self, input):
    return ISoftMaxLayer(self, [tensor_arg(input, "add_softmax")])

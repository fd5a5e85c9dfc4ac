"""Padding layer (IPaddingLayer). NvInfer.h `IPaddingLayer`; Cookbook Padding (case_simple, case_crop).

Zero-pads the last two dimensions by `pre_padding_nd` before and `post_padding_nd` after; negative values crop
(case_crop: pre (-1, 0), post (0, -2) turns 4x5 into 3x3). The header supports only 2-D padding ("To pad across any
subset of dimensions, use ISliceLayer with SampleMode::kFILL") and the Cookbook notes an input rank of at least 4.
A crop larger than the dimension is an error.
"""
import torch
import torch.nn.functional as F

from .._graph import ILayer, Param
from ._common import dims_param, network_method, tensor_arg

__all__ = ["IPaddingLayer"]


class IPaddingLayer(ILayer):
    _layer_type = "PADDING"
    _type_str = "Padding"
    _upcast = False  # pure data movement
    pre_padding_nd = Param(None, dims_param)
    post_padding_nd = Param(None, dims_param)

    def _forward(self, inputs, ctx):
        x = inputs[0]
        pre, post = list(self.pre_padding_nd), list(self.post_padding_nd)
        if len(pre) != 2 or len(post) != 2:
            self._fail(f"only 2-D padding is supported, got pre_padding_nd {tuple(pre)} and post_padding_nd "
                       f"{tuple(post)}")
        if x.dim() < 4:
            self._fail(f"the input must have at least 4 dimensions, got {x.dim()}")
        if x.dtype == torch.bool:
            self._fail("BOOL input is not supported")
        lead = list(x.shape[:-2])
        outs = [d + a + b for d, a, b in zip(x.shape[-2:], pre, post)]
        if any(o < 0 for o in outs):
            self._fail(f"the padding {tuple(pre)} / {tuple(post)} crops more than the input dimensions "
                       f"{tuple(x.shape[-2:])}")
        if x.is_meta:
            return [torch.empty(lead + outs, dtype=x.dtype, device="meta")]
        if 0 in outs:
            return [x.new_zeros(lead + outs)]
        return [F.pad(x, [pre[1], post[1], pre[0], post[0]])]


@network_method
def add_padding_nd(self, input, pre_padding, post_padding):
    return IPaddingLayer(self, [tensor_arg(input, "add_padding_nd")], pre_padding_nd=pre_padding,
                         post_padding_nd=post_padding)

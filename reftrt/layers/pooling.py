"""Pooling layer (IPoolingLayer). NvInfer.h `IPoolingLayer`, `PoolingType` and the `PaddingMode` formulas for
pooling; Cookbook Pooling (case_simple, case_blend_factor, case_3d).

- The last len(window_size_nd) dimensions (2 or 3) are pooled; every dimension before them is kept as is.
- `stride_nd` defaults to ones (Cookbook case_blend_factor: 6x9 input, 2x2 window -> 5x8), although the Cookbook's
  comment says "same as window_size_nd".
- Padding settings and output sizes as for convolution (see convolution.py), with the window F in place of DK.
  `padding_nd` and `pre_padding`/`post_padding` are one setting; a SAME_* mode overrides them.
- MAX pads with -inf. AVERAGE sums the window over zero padding and divides by the number of positions the window
  overlaps: of the unpadded input when `average_count_excludes_padding` (default True), else of the padded input
  (input plus pre- and post-padding, SAME padding included: Cookbook case_simple prints 2.25 = (3 + 6) / 4 at the
  right edge). Positions an EXPLICIT_ROUND_UP window reaches beyond the padded input never count. A window that
  overlaps nothing it may count gives 0.
- MAX_AVERAGE_BLEND: (1 - blend_factor) max + blend_factor average (blend_factor default 0.0).
- Float types compute in float32 and round to the input type. INT8 and FP8 inputs (the Cookbook lists them; in a
  network they come from Quantize layers) are pooled on their values and rounded back to nearest-even with
  saturation, which no recorded case checks.
"""
import torch
import torch.nn.functional as F

from .._enums import PaddingMode, PoolingType
from .._graph import ILayer, Param
from .._types import Dims, volume
from ._common import bool_param, dims_param, enum_param, float_param, network_method, tensor_arg
from .convolution import nd_param, pad_spec, window_padding

__all__ = ["IPoolingLayer"]

_SUPPORTED = (torch.float32, torch.float16, torch.bfloat16, torch.int8, torch.float8_e4m3fn)


def round_to(value, dtype):
    """float32 values to `dtype`: float types round to nearest; INT8 and FP8 round half-to-even and saturate."""
    if dtype == torch.int8:
        return torch.round(value).clamp(-128, 127).to(torch.int8)
    if dtype == torch.float8_e4m3fn:
        return value.clamp(-448, 448).to(dtype)
    return value.to(dtype)


class IPoolingLayer(ILayer):
    _layer_type = "POOLING"
    _type_str = "Pooling"
    # IPoolingLayer.type is the pooling type (it shadows ILayer.type, as in TensorRT's Python bindings).
    type = Param(PoolingType.MAX, enum_param(PoolingType))
    pre_padding = Param(lambda layer: Dims([0] * len(layer.window_size_nd)), dims_param)
    post_padding = Param(lambda layer: Dims([0] * len(layer.window_size_nd)), dims_param)
    padding_mode = Param(PaddingMode.EXPLICIT_ROUND_DOWN, enum_param(PaddingMode))
    blend_factor = Param(0.0, float_param)
    average_count_excludes_padding = Param(True, bool_param)
    window_size_nd = Param(None, dims_param)
    stride_nd = Param(lambda layer: Dims([1] * len(layer.window_size_nd)), dims_param)

    @property
    def padding_nd(self):
        return Dims(self.pre_padding)

    @padding_nd.setter
    def padding_nd(self, value):
        value = dims_param(value)
        self.pre_padding = value
        self.post_padding = Dims(value)

    def _forward(self, inputs, ctx):
        x = inputs[0]
        if x.dtype not in _SUPPORTED:
            self._fail(f"input type {x.dtype} is not supported (FLOAT, HALF, BF16, INT8, FP8)")
        window = list(self.window_size_nd)
        n = len(window)
        if n not in (2, 3):
            self._fail(f"only 2-D and 3-D windows are supported, window_size_nd is {tuple(window)}")
        if any(f <= 0 for f in window):
            self._fail(f"window_size_nd {tuple(window)} must be positive")
        if x.dim() < n + 1:
            self._fail(f"input of rank {x.dim()} is too small for a {n}-D window (needs at least {n + 1})")
        blend = self.blend_factor
        if self.type == PoolingType.MAX_AVERAGE_BLEND and not 0.0 <= blend <= 1.0:
            self._fail(f"blend_factor must be in [0, 1], got {blend}")
        stride = nd_param(self, "stride_nd", 1, n)
        if any(s <= 0 for s in stride):
            self._fail(f"stride_nd {tuple(stride)} must be positive")
        pre = nd_param(self, "pre_padding", 0, n)
        post = nd_param(self, "post_padding", 0, n)
        lead, sizes = list(x.shape[:x.dim() - n]), list(x.shape[x.dim() - n:])
        outs, pads = [], []
        for i in range(n):
            out, before, after, extra = window_padding(self, self.padding_mode, sizes[i], window[i], stride[i],
                                                       pre[i], post[i])
            outs.append(out)
            pads.append((before, after, extra))
        if x.is_meta:
            return [torch.empty(lead + outs, dtype=x.dtype, device="meta")]
        x3 = x.reshape([1, volume(lead)] + sizes).float()
        full = pad_spec([(b, a + e) for b, a, e in pads])
        kind = self.type
        result = None
        if kind in (PoolingType.MAX, PoolingType.MAX_AVERAGE_BLEND):
            pool = F.max_pool2d if n == 2 else F.max_pool3d
            result = pool(F.pad(x3, full, value=float("-inf")), window, stride)
        if kind in (PoolingType.AVERAGE, PoolingType.MAX_AVERAGE_BLEND):
            pool = F.avg_pool2d if n == 2 else F.avg_pool3d
            sums = pool(F.pad(x3, full), window, stride, divisor_override=1)
            mask = torch.ones([1, 1] + sizes)
            if self.average_count_excludes_padding:
                mask = F.pad(mask, full)
            else:
                mask = F.pad(F.pad(mask, pad_spec([(b, a) for b, a, _ in pads]), value=1.0),
                             pad_spec([(0, e) for _, _, e in pads]))
            counts = pool(mask, window, stride, divisor_override=1)
            average = torch.where(counts > 0, sums / counts.clamp(min=1), torch.zeros_like(sums))
            result = average if result is None else (1.0 - blend) * result + blend * average
        result = result[(slice(None), slice(None)) + tuple(slice(0, o) for o in outs)]
        return [round_to(result.reshape(lead + outs), x.dtype)]


@network_method
def add_pooling_nd(self, input, type, window_size):
    return IPoolingLayer(self, [tensor_arg(input, "add_pooling_nd")], type=type, window_size_nd=window_size)

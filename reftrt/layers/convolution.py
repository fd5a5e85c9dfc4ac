"""Convolution and Deconvolution layers (IConvolutionLayer, IDeconvolutionLayer).

Follows NvInfer.h `IConvolutionLayer`, `IDeconvolutionLayer` and the `PaddingMode` formulas (also the Operators
page Convolution.html), and Cookbook Convolution / Deconvolution (case_simple, case_stride_dilation_pad, case_group,
case_3d, case_int8qdq).

- Convolution is a correlation (no kernel flip). Kernel weights are GKCRS ([K, C/G, *kernel]); deconvolution
  weights are CKRS ([C, K/G, *kernel], the layout of torch's conv_transpose). Bias has K values or none.
- The last len(kernel_size_nd) dimensions are spatial, the one before is the channel dimension, and any dimensions
  before that are batch dimensions (input rank from 4 to 8 for a 2-D kernel: Cookbook case_3d runs a 2-D kernel
  over a 5-D input [1, 1, 2, 6, 9] with 18 weights = K 1 x C 2 x 3 x 3, and prints (1, 1, 1, 4, 7)).
- Padding: `padding_nd` and `pre_padding`/`post_padding` are one setting, as the header's "If the padding is
  asymmetric, the pre-padding is returned" implies: setting `padding_nd` sets both sides and reading it gives the
  pre-padding (the Cookbook's "padding_mode > pre_padding = post_padding > padding_nd" holds for its order of
  assignments). A SAME_* `padding_mode` ignores the explicit padding ("takes precedence").
  With I input, B pre, A post, S stride, DK = 1 + D (F - 1):
    EXPLICIT_ROUND_DOWN  O = floor((I + B + A - DK) / S) + 1;  EXPLICIT_ROUND_UP  O = ceil(...) + 1
    SAME_UPPER / LOWER   O = ceil(I / S), P = floor((I - 1) / S) S + DK - I, B = floor(P / 2) (UPPER) or
                         P - floor(P / 2) (LOWER), A = P - B.
  P can be negative when S > DK; reftrt clamps it to 0 (as ONNX does), which keeps O = ceil(I / S); no document or
  recorded case decides it.
  Deconvolution crops its full output (I - 1) S + DK by B before and A after: O = (I - 1) S + DK - (B + A); SAME
  modes use P = max(DK - S, 0), giving O = min(I S, (I - 1) S + DK) (Cookbook case_stride_dilation_pad: 3x3 input,
  stride 2, dilation 2 -> 6x6 with B = 1).
- The kernel and bias may come from tensors (inputs 1 and 2, `set_input`); the header says the kernel / bias
  Weights must then be empty. Those tensors have the input's type; Weights of another floating type are converted
  to the input's type (what a TensorRT builder does with weights), then everything is computed in float32 and the
  output rounded to the input's type.
"""
import torch
import torch.nn.functional as F

from .._enums import PaddingMode
from .._graph import ILayer, Param
from .._types import Dims, volume
from ._common import dims_param, enum_param, int_param, network_method, tensor_arg, weights_param

__all__ = ["IConvolutionLayer", "IDeconvolutionLayer"]

_FLOATS = (torch.float32, torch.float16, torch.bfloat16)


def nd_param(layer, name, fill, n):
    """A Dims parameter as a list of n values; an untouched default of another rank follows the kernel's rank."""
    value = list(getattr(layer, name))
    if len(value) == n:
        return value
    if all(v == fill for v in value):
        return [fill] * n
    layer._fail(f"{name} {tuple(value)} has {len(value)} dimensions, the kernel/window has {n}")


def window_padding(layer, mode, size, window, stride, pre, post):
    """(output size, pre-padding, post-padding, extra) of one spatial dimension of a convolution or pooling window.

    `window` is the dilated kernel size DK (or the pooling window F). `extra` counts the positions after the
    post-padding that the last EXPLICIT_ROUND_UP window reaches (outside the padded input).
    """
    name = mode.name
    if name in ("SAME_UPPER", "SAME_LOWER"):
        out = -(-size // stride)
        total = max((size - 1) // stride * stride + window - size, 0)
        before = total // 2 if name == "SAME_UPPER" else total - total // 2
        return out, before, total - before, 0
    if pre < 0 or post < 0:
        layer._fail(f"padding must be non-negative, got pre-padding {pre} and post-padding {post}")
    span = size + pre + post - window
    if span < 0:
        layer._fail(f"the window ({window}) is larger than the padded input ({size + pre + post})")
    if name == "EXPLICIT_ROUND_UP":
        out = -(-span // stride) + 1
    else:
        out = span // stride + 1
    return out, pre, post, max((out - 1) * stride + window - (size + pre + post), 0)


def split_batch(layer, x, n, what="kernel"):
    """View x as [B, C, *spatial] for an n-D kernel; returns (view, batch dims)."""
    if x.dim() < n + 2:
        layer._fail(f"input of rank {x.dim()} is too small for a {n}-D {what} (needs at least {n + 2} dimensions)")
    batch = list(x.shape[:x.dim() - n - 1])
    return x.reshape([volume(batch)] + list(x.shape[x.dim() - n - 1:])), batch


def pad_spec(pads):
    """F.pad's argument (last dimension first) from [(before, after)] in dimension order."""
    spec = []
    for before, after in reversed(pads):
        spec += [before, after]
    return spec


class _ConvBase(ILayer):
    _upcast = False
    num_output_maps = Param(None, int_param)
    pre_padding = Param(lambda layer: Dims([0] * len(layer.kernel_size_nd)), dims_param)
    post_padding = Param(lambda layer: Dims([0] * len(layer.kernel_size_nd)), dims_param)
    padding_mode = Param(PaddingMode.EXPLICIT_ROUND_DOWN, enum_param(PaddingMode))
    num_groups = Param(1, int_param)
    kernel = Param(None, weights_param)
    bias = Param(None, weights_param)
    kernel_size_nd = Param(None, dims_param)
    stride_nd = Param(lambda layer: Dims([1] * len(layer.kernel_size_nd)), dims_param)
    dilation_nd = Param(lambda layer: Dims([1] * len(layer.kernel_size_nd)), dims_param)

    @property
    def padding_nd(self):
        return Dims(self.pre_padding)

    @padding_nd.setter
    def padding_nd(self, value):
        value = dims_param(value)
        self.pre_padding = value
        self.post_padding = Dims(value)

    def _max_inputs(self):
        return 3

    def _operands(self, x, inputs, n, c_in):
        """(kernel, bias) as float32 tensors (meta during analysis), validated against the layer's settings."""
        if any(t is not None for t in inputs[1:]):
            return self._convert_operands(x, inputs, n, c_in)
        # From Weights: converted once per weights objects and settings (an engine runs the same layer repeatedly).
        key = (x.dtype, x.is_meta, c_in, n, self.num_output_maps, self.num_groups, tuple(self.kernel_size_nd))
        hit = self.__dict__.get("_operand_cache")
        if hit is not None and hit[0] == key and hit[1] is self.kernel and hit[2] is self.bias:
            return hit[3]
        result = self._convert_operands(x, inputs, n, c_in)
        self.__dict__["_operand_cache"] = (key, self.kernel, self.bias, result)
        return result

    def _convert_operands(self, x, inputs, n, c_in):
        k, g = self.num_output_maps, self.num_groups
        if k is None or k <= 0:
            self._fail(f"num_output_maps must be positive, got {k}")
        if g <= 0:
            self._fail(f"num_groups must be positive, got {g}")
        if c_in % g or k % g:
            self._fail(f"the input channels ({c_in}) and num_output_maps ({k}) must be divisible by num_groups ({g})")
        kernel_size = list(self.kernel_size_nd)
        if any(f <= 0 for f in kernel_size):
            self._fail(f"kernel_size_nd {tuple(kernel_size)} must be positive")
        shape = self._kernel_shape(k, c_in, g, kernel_size)
        kernel_t = inputs[1] if len(inputs) > 1 else None
        bias_t = inputs[2] if len(inputs) > 2 else None
        if kernel_t is not None:
            if self.kernel.size:
                self._fail("the kernel comes from input 1, so the kernel Weights must be empty")
            if kernel_t.dtype != x.dtype:
                self._fail(f"the kernel tensor has type {kernel_t.dtype}, the input {x.dtype}")
            if list(kernel_t.shape) != shape:
                self._fail(f"the kernel tensor has shape {list(kernel_t.shape)}, expected {shape}")
            w = kernel_t
        else:
            weights = self.kernel
            if weights.size == 0:
                self._fail("kernel weights are empty and no kernel tensor is set (input 1)")
            if weights.size != volume(shape):
                self._fail(f"kernel weights has count {weights.size} but {volume(shape)} was expected "
                           f"(shape {shape})")
            w = self._weights_tensor(weights, x.dtype).reshape(shape)
        b = None
        if bias_t is not None:
            if self.bias.size:
                self._fail("the bias comes from input 2, so the bias Weights must be empty")
            if bias_t.dtype != x.dtype:
                self._fail(f"the bias tensor has type {bias_t.dtype}, the input {x.dtype}")
            if list(bias_t.shape) != [k]:
                self._fail(f"the bias tensor has shape {list(bias_t.shape)}, expected [{k}]")
            b = bias_t
        elif self.bias.size:
            if self.bias.size != k:
                self._fail(f"bias weights has count {self.bias.size} but {k} (num_output_maps) was expected")
            b = self._weights_tensor(self.bias, x.dtype)
        if x.is_meta:
            w = torch.empty(w.shape, dtype=torch.float32, device="meta")
            b = None if b is None else torch.empty(b.shape, dtype=torch.float32, device="meta")
        else:
            w = w.float()
            b = None if b is None else b.float()
        return w, b

    def _weights_tensor(self, weights, dtype):
        w = weights._torch()
        if not w.is_floating_point():
            self._fail(f"{weights.dtype} weights are not supported with a {dtype} input")
        # The builder stores weights in the layer's type: float32 weights in a float16 layer are rounded.
        return w.to(dtype)

    def _check_input(self, x):
        if x.dtype not in _FLOATS:
            self._fail(f"input type {x.dtype} is not supported by reftrt (FLOAT, HALF, BF16; INT8 and FP8 "
                       f"convolutions are expressed with Quantize/Dequantize layers)")
        n = len(self.kernel_size_nd)
        if n not in (2, 3):
            self._fail(f"only 2-D and 3-D kernels are supported, kernel_size_nd is {tuple(self.kernel_size_nd)}")
        return n


class IConvolutionLayer(_ConvBase):
    _layer_type = "CONVOLUTION"
    _type_str = "Convolution"

    def _kernel_shape(self, k, c_in, g, kernel_size):
        return [k, c_in // g] + kernel_size

    def _geometry(self, x, inputs):
        """Everything the computation needs besides x's data, validated against the layer's settings."""
        n = self._check_input(x)
        x3, batch = split_batch(self, x, n)
        c_in, sizes = x3.shape[1], list(x3.shape[2:])
        w, b = self._operands(x, inputs, n, c_in)
        stride = nd_param(self, "stride_nd", 1, n)
        dilation = nd_param(self, "dilation_nd", 1, n)
        pre = nd_param(self, "pre_padding", 0, n)
        post = nd_param(self, "post_padding", 0, n)
        if any(s <= 0 for s in stride) or any(d <= 0 for d in dilation):
            self._fail(f"stride {tuple(stride)} and dilation {tuple(dilation)} must be positive")
        pads, outs = [], []
        for i in range(n):
            dk = 1 + dilation[i] * (self.kernel_size_nd[i] - 1)
            out, before, after, extra = window_padding(self, self.padding_mode, sizes[i], dk, stride[i], pre[i],
                                                       post[i])
            outs.append(out)
            pads.append((before, after + extra))
        out_shape = batch + [self.num_output_maps] + outs
        return n, list(x3.shape), w, b, stride, dilation, pads, outs, out_shape

    def _forward(self, inputs, ctx):
        x = inputs[0]
        # An engine's layers never change: at run time the geometry is computed once per input shape and type.
        reuse = not ctx.analysis and all(t is None for t in inputs[1:])
        cached = self.__dict__.get("_geometry_cache") if reuse else None
        if cached is not None and cached[0] == (x.shape, x.dtype):
            geometry = cached[1]
        else:
            geometry = self._geometry(x, inputs)
            if reuse:
                self.__dict__["_geometry_cache"] = ((x.shape, x.dtype), geometry)
        n, flat, w, b, stride, dilation, pads, outs, out_shape = geometry
        if x.is_meta:
            return [torch.empty(out_shape, dtype=x.dtype, device="meta")]
        x3 = x if list(x.shape) == flat else x.reshape(flat)
        conv = F.conv2d if n == 2 else F.conv3d
        if all(before == after for before, after in pads):
            # Symmetric zero padding: let the convolution pad (no padded copy of the input; same result).
            y = conv(x3.float(), w, b, stride=stride, padding=[before for before, _ in pads], dilation=dilation,
                     groups=self.num_groups)
        else:
            xp = F.pad(x3.float(), pad_spec(pads))
            y = conv(xp, w, b, stride=stride, dilation=dilation, groups=self.num_groups)
        # The formula's O can be smaller than what the padded input allows (a window ending in the extra
        # EXPLICIT_ROUND_UP zeros is never partial), so keep exactly O positions.
        # Views only where needed: a fresh output can later be computed in place (Context.donated).
        if list(y.shape[2:]) != outs:
            y = y[(slice(None), slice(None)) + tuple(slice(0, o) for o in outs)]
        if list(y.shape) != out_shape:
            y = y.reshape(out_shape)
        return [y if y.dtype == x.dtype else y.to(x.dtype)]


class IDeconvolutionLayer(_ConvBase):
    _layer_type = "DECONVOLUTION"
    _type_str = "Deconvolution"

    def _kernel_shape(self, k, c_in, g, kernel_size):
        return [c_in, k // g] + kernel_size

    def _forward(self, inputs, ctx):
        x = inputs[0]
        n = self._check_input(x)
        x3, batch = split_batch(self, x, n)
        c_in, sizes = x3.shape[1], list(x3.shape[2:])
        w, b = self._operands(x, inputs, n, c_in)
        stride = nd_param(self, "stride_nd", 1, n)
        dilation = nd_param(self, "dilation_nd", 1, n)
        pre = nd_param(self, "pre_padding", 0, n)
        post = nd_param(self, "post_padding", 0, n)
        if any(s <= 0 for s in stride) or any(d <= 0 for d in dilation):
            self._fail(f"stride {tuple(stride)} and dilation {tuple(dilation)} must be positive")
        crops, outs = [], []
        same = self.padding_mode.name in ("SAME_UPPER", "SAME_LOWER")
        for i in range(n):
            dk = 1 + dilation[i] * (self.kernel_size_nd[i] - 1)
            full = (sizes[i] - 1) * stride[i] + dk
            if same:
                total = max(dk - stride[i], 0)
                before = total // 2 if self.padding_mode.name == "SAME_UPPER" else total - total // 2
                after = total - before
            else:
                before, after = pre[i], post[i]
                if before < 0 or after < 0:
                    self._fail(f"padding must be non-negative, got pre-padding {before} and post-padding {after}")
            out = full - before - after
            if out <= 0:
                self._fail(f"the padding ({before} + {after}) removes the whole output ({full}) in dimension {i}")
            crops.append((before, out))
            outs.append(out)
        out_shape = batch + [self.num_output_maps] + outs
        if x.is_meta:
            return [torch.empty(out_shape, dtype=x.dtype, device="meta")]
        deconv = F.conv_transpose2d if n == 2 else F.conv_transpose3d
        y = deconv(x3.float(), w, None, stride=stride, dilation=dilation, groups=self.num_groups)
        y = y[(slice(None), slice(None)) + tuple(slice(s, s + o) for s, o in crops)]
        if b is not None:
            y = y + b.reshape([1, -1] + [1] * n)
        return [y.reshape(out_shape).to(x.dtype)]


def _add(cls, network, input, num_output_maps, kernel_shape, kernel, bias):
    return cls(network, [tensor_arg(input, f"add_{cls._type_str.lower()}_nd")],
               num_output_maps=num_output_maps, kernel_size_nd=kernel_shape, kernel=weights_param(kernel),
               bias=weights_param(bias))


@network_method
def add_convolution_nd(self, input, num_output_maps, kernel_shape, kernel, bias=None):
    return _add(IConvolutionLayer, self, input, num_output_maps, kernel_shape, kernel, bias)


@network_method
def add_deconvolution_nd(self, input, num_output_maps, kernel_shape, kernel, bias=None):
    return _add(IDeconvolutionLayer, self, input, num_output_maps, kernel_shape, kernel, bias)


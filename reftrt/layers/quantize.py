"""Quantize and Dequantize layers (IQuantizeLayer, IDequantizeLayer). NvInfer.h `IQuantizeLayer`,
`IDequantizeLayer`, `addQuantize`, `addDequantize` and the Python docstrings of 11.4 and 10.3; Cookbook
Convolution / Deconvolution case_int8qdq and QDQStructure (whose log is not among the recorded outputs).

Quantize: output = clamp(round(input / scale) + zeroPt), rounding half to even, clamped to [-128, 127] for INT8 and
[-448, 448] for FP8 (then rounded to the nearest E4M3 value). Dequantize: output = (input - zeroPt) * scale.
Both compute in float32 (input / scale is a float32 division) and round the result to the output type.

- Inputs: 0 the data, 1 the scale, 2 the optional zero point (`set_input(2, ...)`), which must have the scale's
  shape and contain only zeros (checked when its value is known while building). The header asks for a zero point
  of the quantized type; the Cookbook's QDQStructure case passes a FLOAT one, so both are accepted.
- Scale: FLOAT, HALF or BF16, strictly positive (checked when known while building). A scale with one coefficient
  quantizes per tensor (the axis is then ignored); a 1-D scale quantizes along `axis` (default -1; a negative axis
  is an error then, as TensorRT's "unexpected negative axis"), its size that of the axis; a scale of the input's
  rank quantizes blocks (FP8 only among the types reftrt executes; INT4 and FP4 are GPU-only here): the blocked
  dimensions are those where the scale is smaller than the input, which must divide evenly, or come from
  `block_shape` (TensorRT 11; -1 means a whole dimension).
- Types: quantize takes FLOAT, HALF or BF16 and gives `to_type` (INT8 default, or FP8); dequantize takes INT8 or
  FP8 and gives `to_type` (FLOAT default, HALF or BF16). In strongly typed networks (always under TensorRT 11) a
  HALF or BF16 scale must match the quantize input type and the dequantize output type. `add_quantize` and
  `add_dequantize` require `output_type` in TensorRT 11; the 10.3 API also has the two-argument overloads. Under the
  10.3 API, `set_output_type(0, t)` on these layers acts as `to_type` (the header requires them to agree).
- The header restricts per-channel quantization to weights (inputs rooted at constants); reftrt does not check where
  the input comes from.
"""
import torch

from .. import _version
from .._enums import DataType, NetworkDefinitionCreationFlag
from .._graph import ILayer, Param
from .._types import Dims, torch_dtype
from ._common import dims_param, enum_param, int_param, network_method, tensor_arg

__all__ = ["IQuantizeLayer", "IDequantizeLayer"]

_FLOATS = (torch.float32, torch.float16, torch.bfloat16)
_QUANT = {"INT8": (torch.int8, -128.0, 127.0), "FP8": (torch.float8_e4m3fn, -448.0, 448.0)}
_GPU_ONLY = ("INT4", "FP4")


def _strongly_typed(network):
    if _version.IS_11:
        return True
    return network.get_flag(NetworkDefinitionCreationFlag.STRONGLY_TYPED)


class _QDQBase(ILayer):
    _upcast = False
    _value_inputs = (1, 2)  # keep build-time constant scales and zero points real, to check their values
    axis = Param(-1, int_param)
    block_shape = Param(lambda layer: Dims(), dims_param)  # TensorRT 11 only (see reftrt/_version.py)

    def _max_inputs(self):
        return 3

    def _to_type(self):
        forced = self._output_types[0]
        return forced if forced is not None else self.to_type

    def _expanded_scale(self, x, scale, out_type, ctx):
        """The scale broadcast to x's shape (None while x is meta), after validating its shape and values."""
        if scale.dtype not in _FLOATS:
            self._fail(f"the scale has type {scale.dtype}; FLOAT, HALF or BF16 expected")
        if x.dim() == 0:
            self._fail("the input must not be a scalar")
        checks = not getattr(ctx, "shapes_only", False)
        if checks and not scale.is_meta and scale.numel() and not bool((scale > 0).all()):
            self._fail("scale coefficients must be strictly positive")
        rank = x.dim()
        if scale.numel() == 1 and scale.dim() <= rank:
            view = scale.reshape([1] * rank)
        elif scale.dim() == 1:
            axis = self.axis
            if axis < 0:
                self._fail(f"unexpected negative axis {axis}: a scale of {scale.numel()} coefficients needs the "
                           f"quantization axis")
            if axis >= rank:
                self._fail(f"axis {axis} is out of range for an input of rank {rank}")
            if scale.shape[0] != x.shape[axis]:
                self._fail(f"the scale has {scale.shape[0]} coefficients, axis {axis} of the input has "
                           f"{x.shape[axis]} elements")
            shape = [1] * rank
            shape[axis] = scale.shape[0]
            view = scale.reshape(shape)
        elif scale.dim() == rank:
            view = self._block_view(x, scale, out_type)
        else:
            self._fail(f"the scale has shape {list(scale.shape)}: a scalar, a 1-D tensor or a tensor of the "
                       f"input's rank is expected")
        if x.is_meta or scale.is_meta:
            return None
        return view.float()

    def _block_view(self, x, scale, out_type):
        if out_type.name not in ("FP8",) + _GPU_ONLY:
            self._fail(f"block quantization needs FP8, INT4 or FP4 data, not {out_type}")
        block = list(self._p.get("block_shape") or [])
        if block:
            if len(block) != x.dim():
                self._fail(f"block_shape {tuple(block)} must have the input's rank {x.dim()}")
            block = [d if b == -1 else b for b, d in zip(block, x.shape)]
            if any(b <= 0 for b in block):
                self._fail(f"block_shape {tuple(self.block_shape)} must be positive or -1")
        else:
            block = [d // s if s and d % s == 0 else 0 for d, s in zip(x.shape, scale.shape)]
        for i, (d, s, b) in enumerate(zip(x.shape, scale.shape, block)):
            if b <= 0 or d % b or d // b != s:
                self._fail(f"the scale shape {list(scale.shape)} does not divide the input shape {list(x.shape)} "
                           f"into blocks (dimension {i})")
        view = scale
        for i, b in enumerate(block):
            if b > 1 and not scale.is_meta:
                view = view.repeat_interleave(b, dim=i)
        return view

    def _check_zero_point(self, zero_point, scale, allowed, ctx):
        if zero_point is None:
            return None
        if zero_point.dtype not in allowed:
            self._fail(f"the zero point has type {zero_point.dtype}")
        if list(zero_point.shape) != list(scale.shape):
            self._fail(f"the zero point has shape {list(zero_point.shape)}, the scale {list(scale.shape)}")
        if not zero_point.is_meta and not getattr(ctx, "shapes_only", False) and \
                bool((zero_point.float() != 0).any()):
            self._fail("the zero point must contain only zeros (only symmetric quantization is supported)")
        return zero_point


class IQuantizeLayer(_QDQBase):
    _layer_type = "QUANTIZE"
    _type_str = "Quantize"
    to_type = Param(DataType.INT8, enum_param(DataType))

    def _forward(self, inputs, ctx):
        x, scale = inputs[0], inputs[1]
        zero_point = inputs[2] if len(inputs) > 2 else None
        out_type = self._to_type()
        if out_type.name in _GPU_ONLY:
            self._fail(f"{out_type} data is GPU-only in reftrt")
        if out_type.name not in _QUANT:
            self._fail(f"to_type must be INT8 or FP8 (or INT4, FP4), got {out_type}")
        if x.dtype not in _FLOATS:
            self._fail(f"the input has type {x.dtype}; FLOAT, HALF or BF16 expected")
        if _strongly_typed(self._network) and scale.dtype != torch.float32 and scale.dtype != x.dtype:
            self._fail(f"a {scale.dtype} scale must have the input's type ({x.dtype})")
        dtype, low, high = _QUANT[out_type.name]
        view = self._expanded_scale(x, scale, out_type, ctx)
        self._check_zero_point(zero_point, scale, (torch.float32, dtype), ctx)
        if view is None:
            return [torch.empty(x.shape, dtype=dtype, device="meta")]
        q = (x.float() / view).clamp(low, high)
        return [torch.round(q).to(dtype) if dtype == torch.int8 else q.to(dtype)]


class IDequantizeLayer(_QDQBase):
    _layer_type = "DEQUANTIZE"
    _type_str = "Dequantize"
    to_type = Param(DataType.FLOAT, enum_param(DataType))

    def _forward(self, inputs, ctx):
        x, scale = inputs[0], inputs[1]
        zero_point = inputs[2] if len(inputs) > 2 else None
        out_type = self._to_type()
        if out_type.name not in ("FLOAT", "HALF", "BF16"):
            self._fail(f"to_type must be FLOAT, HALF or BF16, got {out_type}")
        in_type = next((name for name, spec in _QUANT.items() if spec[0] == x.dtype), None)
        if in_type is None:
            self._fail(f"the input has type {x.dtype}; INT8 or FP8 expected (INT4 and FP4 are GPU-only in reftrt)")
        dtype = torch_dtype(out_type)
        if _strongly_typed(self._network) and scale.dtype != torch.float32 and scale.dtype != dtype:
            self._fail(f"a {scale.dtype} scale needs the output type to match, got {out_type}")
        view = self._expanded_scale(x, scale, getattr(DataType, in_type), ctx)
        zero_point = self._check_zero_point(zero_point, scale, (torch.float32, x.dtype), ctx)
        if view is None:
            return [torch.empty(x.shape, dtype=dtype, device="meta")]
        return [(x.float() * view).to(dtype)]


def _make_adders():
    # TensorRT 11 requires output_type; the 10.3 bindings also accept (input, scale) with INT8 / FLOAT defaults.
    if _version.IS_11:
        def add_quantize(self, input, scale, output_type):
            return _quantize(self, input, scale, output_type)

        def add_dequantize(self, input, scale, output_type):
            return _dequantize(self, input, scale, output_type)
    else:
        def add_quantize(self, input, scale, output_type=None):
            return _quantize(self, input, scale, output_type)

        def add_dequantize(self, input, scale, output_type=None):
            return _dequantize(self, input, scale, output_type)
    network_method(add_quantize)
    network_method(add_dequantize)


def _quantize(network, input, scale, output_type):
    inputs = [tensor_arg(input, "add_quantize"), tensor_arg(scale, "add_quantize")]
    params = {} if output_type is None else {"to_type": output_type}
    return IQuantizeLayer(network, inputs, **params)


def _dequantize(network, input, scale, output_type):
    inputs = [tensor_arg(input, "add_dequantize"), tensor_arg(scale, "add_dequantize")]
    params = {} if output_type is None else {"to_type": output_type}
    return IDequantizeLayer(network, inputs, **params)


_make_adders()

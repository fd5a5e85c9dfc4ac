"""Identity and Cast layers (IIdentityLayer, ICastLayer). Cookbook Identity (case_simple, case_datatype_conversion,
case_datatype_conversion_int8) and Cast (case_simple, case_int8); the Operators page "Cast".

Identity copies its input; its output has the input's type (in TensorRT 10's weakly typed networks an output type
set with set_output_type / ITensor.dtype converts, as for any layer).

Cast converts between BOOL, UINT8, INT8, INT32, INT64, HALF, BF16 and FLOAT ("All conversions between supported
data types are allowed"):
- floating point to integer truncates toward zero (Operators page: 1.2 ... 9.1 -> 1 ... 9). Out of range values
  saturate to INT32 / INT64 (NaN gives 0), as CUDA's float-to-int conversion does. Narrower types keep the low bits of
  that 32-bit result: UINT8 from an unsigned conversion (Cast.log: -300 -> 0, 260 -> 4, 290 -> 34), INT8 from a
  signed one (reftrt's choice: no recorded case decides it).
- to BOOL: nonzero is True (Cast.log: 0 -> False); from BOOL: 0 or 1.
- integer to narrower integer keeps the low bits; to floating point rounds to nearest.
- TensorRT 10 (weakly typed) Cast to INT8 with a dynamic range on its output quantizes implicitly:
  round-half-even(x * (1 / s)) clamped to [-128, 127], s = max(|min|, |max|) / 127, in float32 (Cast.log case_int8
  with range +-300: -300 -> -127, 10 -> 4, -150 -> -63; Identity.log case_datatype_conversion_int8 with range
  [0, 127]: unchanged).
"""
import torch

from .._enums import DataType
from .._graph import ILayer, Param
from .._types import torch_dtype
from ._common import enum_param, network_method, tensor_arg

__all__ = ["IIdentityLayer", "ICastLayer"]

_I32 = (-(1 << 31), (1 << 31) - 1)
_I64 = (-(1 << 63), (1 << 63) - 1)


def _float_to_int(x, dtype):
    """Truncate toward zero and saturate as CUDA's float-to-int conversions do; NaN gives 0."""
    x = torch.nan_to_num(x.double(), nan=0.0).trunc()
    if dtype == torch.int64:
        # float64 cannot hold INT64_MAX; the largest float64 below 2**63 is 2**63 - 1024.
        out = x.clamp(-(2.0 ** 63), 2.0 ** 63 - 1024).to(torch.int64)
        return torch.where(x >= 2.0 ** 63, torch.full_like(out, _I64[1]), out)
    if dtype == torch.uint8:
        return x.clamp(0, 2.0 ** 32 - 1).to(torch.int64).remainder(256).to(torch.uint8)
    wide = x.clamp(*_I32).to(torch.int64)
    if dtype == torch.int32:
        return wide.to(torch.int32)
    return wide.to(torch.int32).to(dtype)  # INT8: the low 8 bits of the 32-bit result


def cast(x, dtype):
    """Convert torch tensor `x` to torch dtype `dtype` with TensorRT's ICastLayer rules."""
    if x.dtype == dtype:
        return x.clone()
    if dtype == torch.bool:
        return x != 0
    if x.is_floating_point() and not dtype.is_floating_point:
        return _float_to_int(x, dtype)
    return x.to(dtype)


class IIdentityLayer(ILayer):
    _layer_type = "IDENTITY"
    _type_str = "Identity"
    _upcast = False

    def _forward(self, inputs, ctx):
        return [inputs[0].clone() if not inputs[0].is_meta else inputs[0]]


class ICastLayer(ILayer):
    _layer_type = "CAST"
    _type_str = "Cast"
    _upcast = False
    to_type = Param(DataType.FLOAT, enum_param(DataType))
    # TensorRT 10 implicit quantization: the output's dynamic range, recorded while building (the plan keeps layer
    # parameters, not tensor attributes).
    _int8_range = Param(None)

    def _forward(self, inputs, ctx):
        x = inputs[0]
        dtype = torch_dtype(self.to_type)
        if ctx.analysis and self._network._builder is not None:
            self._p["_int8_range"] = self._outputs[0]._dynamic_range
        if x.is_meta:
            return [torch.empty(x.shape, dtype=dtype, device="meta")]
        limits = self._p.get("_int8_range")
        if dtype == torch.int8 and limits is not None and x.is_floating_point():
            # float32 all along, multiplying by the reciprocal of the scale: Cast.log's -150 gives -63 (x / s is
            # exactly -63.5, which would round to -64; x * (1 / s) is -63.499996).
            scale = torch.tensor(max(abs(limits[0]), abs(limits[1])), dtype=torch.float32) / 127
            return [torch.round(x.float() * (1 / scale)).clamp(-128, 127).to(torch.int8)]
        return [cast(x, dtype)]


@network_method
def add_identity(self, input):
    return IIdentityLayer(self, [tensor_arg(input, "add_identity")])


@network_method
def add_cast(self, input, to_type):
    return ICastLayer(self, [tensor_arg(input, "add_cast")], to_type=to_type)

"""reftrt.plugin: the `tensorrt.plugin` API (quickly deployable Python plugins, TensorRT >= 10.6), on the CPU.

Plugins written against `tensorrt.plugin` run unchanged here: `@register` (shape/type function), `@impl` (the
implementation, called with `Tensor`s over host memory), `@autotune` (supported type combinations, checked at build
time), `@aot_impl` (recorded; reftrt cannot run compiled GPU code, so it runs the `@impl`), and
`network.add_plugin(trtp.op.<ns>.<name>(*tensors, **attrs))`.

Portable impl code converts tensors with `torch.as_tensor(t)` (no `device=`): TensorRT's `Tensor` exposes
`__cuda_array_interface__` (a CUDA tensor), reftrt's exposes DLPack and `__array_interface__` (a CPU tensor).

The module exists only in the TensorRT 11 API that reftrt emulates; TensorRT 10.3 has no `tensorrt.plugin`.
"""
from .. import _version

if not _version.IS_11:
    raise ModuleNotFoundError(f"No module named 'reftrt.plugin': tensorrt.plugin needs TensorRT >= 10.6, reftrt "
                              f"emulates TensorRT {_version.TRT_VERSION} (REFTRT_TRT_VERSION)", name=__name__)

from .._logger import Logger as _Logger
from ._autotune import AutoTuneCombination
from ._lib import aot_impl, autotune, impl, op, register
from ._tensor import (KernelLaunchParams, Shape, ShapeExpr, ShapeExprs, SizeTensorDesc, SizeTensorShapeExpr,
                      SymExprs, SymInt8, SymInt16, SymInt32, SymIntExprs, Tensor, TensorDesc)
from ._top_level import cdiv, from_shape_expr, max, min, size_tensor

_Logger().log(_Logger.WARNING, "Functionality provided through tensorrt.plugin module is experimental.")

__all__ = ["AutoTuneCombination", "op", "register", "impl", "aot_impl", "autotune", "SymInt32", "SymInt8",
           "SymInt16", "ShapeExpr", "SizeTensorShapeExpr", "SymExprs", "ShapeExprs", "SymIntExprs", "Shape",
           "TensorDesc", "SizeTensorDesc", "Tensor", "KernelLaunchParams", "cdiv", "max", "min", "size_tensor",
           "from_shape_expr"]

"""reftrt: the TensorRT Python network API, executed on the CPU with PyTorch.

Network-definition code runs unchanged with `import reftrt as trt`. reftrt is no TensorRT: it fuses nothing, picks
no tactics and uses no GPU; it computes what each layer is specified to compute, checked against real TensorRT's
recorded outputs (tests/cookbook) and API manifests (tests/conformance). Host memory addresses take the place of
device addresses in `set_tensor_address`.
"""
from . import _version
from ._builder import Builder, IBuilderConfig, IOptimizationProfile, IProgressMonitor, ITimingCache
from ._enums import ENUMS as _ENUMS
from ._graph import ILayer, INetworkDefinition, ITensor
from ._hostmemory import IHostMemory
from ._logger import ILogger, Logger
from ._plugins import IPluginRegistry, get_plugin_registry
from ._runtime import (EngineInspector, ICudaEngine, IDebugListener, IExecutionContext, IOutputAllocator, IProfiler,
                       Profiler, Runtime)
from ._types import Dims, Dims2, Dims3, Dims4, DimsHW, Permutation, Weights, nptype, volume
from . import layers as _layers

globals().update(_ENUMS)
globals().update({name: getattr(_layers, name) for name in _layers.__all__})

# Module aliases of DataType members, as the real bindings define them (trt.float32, trt.int64, ...).
for _alias, _member in (("float32", "FLOAT"), ("float16", "HALF"), ("bfloat16", "BF16"), ("int8", "INT8"),
                        ("int32", "INT32"), ("int64", "INT64"), ("bool", "BOOL"), ("uint8", "UINT8"),
                        ("fp8", "FP8"), ("int4", "INT4"), ("fp4", "FP4"), ("e8m0", "E8M0")):
    if _member in DataType.__members__:
        globals()[_alias] = getattr(DataType, _member)
del _alias, _member

__version__ = _version.TRT_VERSION
__reftrt_version__ = _version.REFTRT_VERSION


def _prune_to_version():
    """Remove the members the emulated TensorRT version does not have (see reftrt/_version.py)."""
    gone = _version.ONLY_11 if not _version.IS_11 else _version.ONLY_10
    for qualified in gone:
        cls_name, member = qualified.split(".")
        cls = globals().get(cls_name)
        for klass in (cls.__mro__ if cls is not None else ()):
            if member in vars(klass):
                delattr(klass, member)


_prune_to_version()
del _prune_to_version

"""Helpers shared by the layer modules: registering `add_*` methods and converting parameters as pybind does."""
import numpy as np

from .._enums import TrtEnum
from .._graph import INetworkDefinition, ITensor
from .._types import Dims, Weights, as_dims, as_permutation, as_weights


def network_method(fn):
    """Attach `fn` to INetworkDefinition (each layer module adds its own `add_*`)."""
    setattr(INetworkDefinition, fn.__name__, fn)
    return fn


def tensor_arg(value, what):
    if not isinstance(value, ITensor):
        raise TypeError(f"{what}: expected trt.ITensor, got {type(value).__name__}")
    return value


def tensors_arg(values, what):
    return [tensor_arg(v, what) for v in values]


def enum_param(cls):
    def convert(value):
        if not isinstance(value, cls):
            raise TypeError(f"expected trt.{cls.__name__}, got {type(value).__name__} {value!r}")
        return value
    return convert


def dims_param(value):
    return as_dims(value)


def weights_param(value):
    return as_weights(value)


def perm_param(value):
    return as_permutation(value)


def float_param(value):
    if isinstance(value, (TrtEnum, str)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"expected a float, got {type(value).__name__}")
    return float(value)


def int_param(value):
    if isinstance(value, (bool, TrtEnum)) or not hasattr(value, "__index__"):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return int(value)


def bool_param(value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"expected a bool, got {type(value).__name__}")
    return bool(value)


def axes_from_mask(mask, rank):
    return [i for i in range(rank) if mask >> i & 1]

"""IHostMemory: the serialized plan (or timing cache) that the builder and ICudaEngine.serialize return.

TensorRT's IHostMemory is a pybind11 object exposing the buffer protocol, with `dtype` and `nbytes` and nothing
else: no len(), no indexing, no bytes methods (write `bytes(plan)` or `memoryview(plan)`). A Python class gets
the buffer protocol only from a C base before Python 3.12 (PEP 688's `__buffer__`), so each instance is of a
subclass of IHostMemory and of a ctypes uint8 array of its size: ctypes arrays export their memory and have no
public members, and the subclass hides their sequence protocol. `trt.IHostMemory` itself has only `dtype` and
`nbytes`, as in the TensorRT manifests (tests/conformance), and on Python >= 3.12 instances have `__buffer__`.
"""
import ctypes
import functools

from ._enums import DataType


class IHostMemory:
    """Host memory holding a serialized plan; read it with bytes(plan), memoryview(plan) or numpy.frombuffer."""

    __slots__ = ()

    def __init__(self):
        raise TypeError("reftrt.IHostMemory: No constructor defined!")

    @property
    def dtype(self):
        return DataType.UINT8

    @property
    def nbytes(self):
        return ctypes.sizeof(self)


def _not_a_sequence(what):
    def refuse(self, *args):
        raise TypeError(what)
    return refuse


@functools.lru_cache(maxsize=64)
def _sized(nbytes):
    members = {
        "__slots__": (),
        "__module__": IHostMemory.__module__,
        "__qualname__": "IHostMemory",
        "__doc__": IHostMemory.__doc__,
        # pybind11 objects hash and compare by identity; ctypes arrays are unhashable.
        "__hash__": object.__hash__,
        "__len__": _not_a_sequence("object of type 'IHostMemory' has no len()"),
        "__getitem__": _not_a_sequence("'IHostMemory' object is not subscriptable"),
        "__setitem__": _not_a_sequence("'IHostMemory' object does not support item assignment"),
        "__delitem__": _not_a_sequence("'IHostMemory' object does not support item deletion"),
        "__iter__": _not_a_sequence("'IHostMemory' object is not iterable"),
        "__reduce__": _not_a_sequence("cannot pickle 'IHostMemory' object"),
    }
    return type("IHostMemory", (IHostMemory, ctypes.c_ubyte * nbytes), members)


def host_memory(data):
    """An IHostMemory holding a copy of `data` (any bytes-like object)."""
    view = memoryview(data).cast("B")
    return _sized(view.nbytes).from_buffer_copy(view)

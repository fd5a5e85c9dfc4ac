"""Value types of the TensorRT Python API: Dims, Weights, Permutation, the DataType maps, and `overloads`.

They accept and refuse what the real pybind11 bindings do, with the same exception types, values, str and repr:
tests/conformance/trt_valuecases.py runs every argument form on both side by side. The argument conversions
follow pybind11: `to_int` (a C++ integer) and `to_int_list` (a std::vector of them, which TensorRT 11's
pybind11 3 also fills from generators and sets, and TensorRT 10's pybind11 2 only from sequences).
"""
import ctypes
import inspect
import operator
import sys

import numpy as np
import torch

from . import _version
from ._enums import DataType

# ---- pybind11's argument conversions -----------------------------------------------------------

_PySequence_Check = ctypes.pythonapi.PySequence_Check
_PyNumber_Check = ctypes.pythonapi.PyNumber_Check
for _f in (_PySequence_Check, _PyNumber_Check):
    _f.argtypes, _f.restype = [ctypes.py_object], ctypes.c_int
del _f

# Iterables other than sequences that pybind11 3 (TensorRT 11) converts to a std::vector.
_VECTOR_ITERABLES = ("dict_keys", "dict_values", "dict_items", "map", "zip")


class Mismatch(TypeError):
    """The arguments are not of an overload's types: an `overloads` dispatcher then tries the next overload.

    Raised by `to_int` / `to_int_list`, or by an overload itself, before it changes anything."""


def to_int(value, bits=64, unsigned=False):
    """`value` as pybind11 converts it to a C++ integer: an int or anything with __index__, or (pybind11's
    second, converting pass) a number that int() takes, such as np.float32(2); never a float. Mismatch if it
    does not convert or does not fit."""
    if type(value) is not int:
        if isinstance(value, float):
            raise Mismatch(f"expected an integer, got float {value!r}")
        try:
            value = operator.index(value)
        except TypeError:
            if not _PyNumber_Check(value):
                raise Mismatch(f"expected an integer, got {type(value).__name__}") from None
            try:
                value = int(value)
            except (TypeError, ValueError, OverflowError):
                raise Mismatch(f"expected an integer, got {type(value).__name__} {value!r}") from None
    low, high = (0, 1 << bits) if unsigned else (-(1 << (bits - 1)), 1 << (bits - 1))
    if not low <= value < high:
        raise Mismatch(f"{value} does not fit in a{' u' if unsigned else 'n '}int{bits}")
    return value


def to_int_list(value, bits=64):
    """`value` as pybind11 converts it to a std::vector of integers: a sequence other than str and bytes (list,
    tuple, range, 1-D numpy array, Dims, ...); with TensorRT 11 also a generator, set or dict view. Mismatch
    otherwise."""
    if type(value) not in (list, tuple):
        if isinstance(value, (str, bytes)):
            raise Mismatch(f"expected a sequence of integers, got {type(value).__name__}")
        if not _PySequence_Check(value):
            if not (_version.IS_11 and (inspect.isgenerator(value) or isinstance(value, (set, frozenset))
                                        or type(value).__name__ in _VECTOR_ITERABLES)):
                raise Mismatch(f"expected a sequence of integers, got {type(value).__name__}")
        value = list(value)
    return [v if type(v) is int and -(1 << (bits - 1)) <= v < 1 << (bits - 1) else to_int(v, bits) for v in value]


def _plain_int(value, bits=64):
    """to_int for a public API call outside `overloads`: a plain TypeError, as the bindings raise."""
    try:
        return to_int(value, bits)
    except Mismatch as e:
        raise TypeError(str(e)) from None


def _check_argument(value, want):
    if want is int:
        to_int(value)
    elif want is float:
        if isinstance(value, (str, bytes)) or not isinstance(value, (int, float)) and not _PyNumber_Check(value):
            raise Mismatch(f"expected a number, got {type(value).__name__}")
    elif isinstance(want, type) or (isinstance(want, tuple) and all(isinstance(w, type) for w in want)):
        if not isinstance(value, want):
            names = " or ".join(w.__name__ for w in (want if isinstance(want, tuple) else (want,)))
            raise Mismatch(f"expected {names}, got {type(value).__name__}")


def overloads(*fns):
    """Decorator: a method (or function) with several TensorRT overloads, resolved as pybind11 does.

        def _empty(self, type: DataType = DataType.FLOAT): ...
        def _from_array(self, a: np.ndarray): ...

        class Weights:
            @overloads(_empty, _from_array)
            def __init__(self, *args, **kwargs):
                "Weights(type=DataType.FLOAT) or Weights(a)."

    Each fn has exactly the parameter names and defaults of one real overload, self first for a method
    (tests/conformance checks them through `__trt_overloads__`). A call goes to the first fn whose signature
    binds the arguments, whose annotated arguments pass their check (`int`: an integer as `to_int` converts it;
    `float`: a number; a class or tuple of classes: isinstance) and which does not raise Mismatch. Otherwise
    TypeError, as pybind11's "incompatible function arguments". The decorated function gives the name and the
    docstring; its body never runs.
    """
    if not fns:
        raise ValueError("overloads() needs at least one overload")

    def decorate(stub):
        resolved = []

        def entries():
            if not resolved:
                for fn in fns:
                    try:
                        sig = inspect.signature(fn, eval_str=True)
                    except NameError:  # a string annotation naming something undefined: leave it unchecked
                        sig = inspect.signature(fn)
                    checks = {name: p.annotation for name, p in sig.parameters.items()
                              if p.annotation is not p.empty and not isinstance(p.annotation, str)}
                    resolved.append((fn, sig, checks))
            return resolved

        takes_self = next(iter(inspect.signature(stub).parameters), None) == "self"

        def dispatcher(*args, **kwargs):
            reasons = []
            for fn, sig, checks in entries():
                try:
                    bound = sig.bind(*args, **kwargs)
                except TypeError as e:
                    reasons.append(str(e))
                    continue
                try:
                    for name, want in checks.items():
                        if name in bound.arguments:
                            _check_argument(bound.arguments[name], want)
                    return fn(*args, **kwargs)
                except Mismatch as e:  # other exceptions are the overload's own: they propagate
                    reasons.append(str(e))
            what = "constructor" if stub.__name__ == "__init__" else "function"
            supported = "\n".join(f"    {i}. {stub.__qualname__}{sig}: {reason}"
                                  for i, ((_, sig, _), reason) in enumerate(zip(entries(), reasons), 1))
            shown = ", ".join([repr(a) for a in (args[1:] if takes_self else args)]
                              + [f"{k}={v!r}" for k, v in kwargs.items()])
            raise TypeError(f"{stub.__name__}(): incompatible {what} arguments. The following argument types "
                            f"are supported:\n{supported}\nInvoked with: {shown}")

        for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
            setattr(dispatcher, attr, getattr(stub, attr))
        dispatcher.__trt_overloads__ = fns
        return dispatcher

    return decorate


# ---- Dims ------------------------------------------------------------------------------------------

def _dims_values(shape):
    if isinstance(shape, Dims):
        return list(shape._d)
    values = to_int_list(shape)
    if len(values) > Dims.MAX_DIMS:
        raise ValueError(f"Input length {len(values)}. Max expected length is {Dims.MAX_DIMS}")
    return values


def _index(index, length):
    try:
        i = to_int(index)
    except Mismatch as e:
        raise TypeError(f"index: {e}") from None
    if not -length <= i < length:
        raise IndexError("Out of bounds")
    return i + length if i < 0 else i


class Dims:
    """A shape: up to MAX_DIMS integers, -1 for a dimension known only at run time.

    As the bindings' Dims: not a tuple; equal only to lists and tuples (comparing with anything else, another
    Dims included, raises TypeError: compare `list(a) == list(b)`); unhashable; slices read as tuples."""

    __slots__ = ("_d",)
    MAX_DIMS = 8

    def __init__(self, shape=()):
        try:
            self._d = _dims_values(shape)
        except Mismatch as e:
            raise TypeError(f"Dims(): {e}") from None

    def __len__(self):
        return len(self._d)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return tuple(self._d[index])
        return self._d[_index(index, len(self._d))]

    def __setitem__(self, index, value):
        if not isinstance(index, slice):
            self._d[_index(index, len(self._d))] = _plain_int(value)
            return
        try:
            source = _dims_values(value)
        except (Mismatch, ValueError) as e:  # pybind11's implicit conversion to Dims hides why it failed
            raise TypeError(f"__setitem__(): cannot convert {type(value).__name__} to Dims: {e}") from None
        start, stop, step = index.indices(len(self._d))
        if stop >= len(self._d):
            raise IndexError("Out of bounds")
        # As the bindings: element j of the source (zero beyond its length) goes to the j-th index of the slice.
        source += [0] * (self.MAX_DIMS - len(source))
        for j, i in enumerate(range(start, stop, step) if step > 0 else ()):
            self._d[i] = source[j]

    def __iter__(self):
        return iter(self._d)

    def __eq__(self, other):
        if not isinstance(other, (list, tuple)):
            raise TypeError(f"__eq__(): incompatible function arguments: a Dims compares with a list or a tuple, "
                            f"not {type(other).__name__}; compare list(a) == list(b)")
        if len(other) != len(self._d):
            return False
        try:
            return [to_int(v) for v in other] == self._d
        except Mismatch:
            raise RuntimeError(f"Unable to cast Python instance of type {type(other)} to C++ type '?'") from None

    __hash__ = None

    def __repr__(self):
        return str(tuple(self._d))

    __str__ = __repr__


def _set_values(self, *values):
    self._d = [to_int(v) for v in values]


def _zeros(n):
    def zeros(self):
        self._d = [0] * n
    return zeros


def _of_shape(n, name):
    def of_shape(self, shape):
        values = to_int_list(shape) if not isinstance(shape, Dims) else list(shape._d)
        if len(values) != n:
            raise ValueError(f"Input length {len(values)} not equal to expected {name} length, which is {n}")
        self._d = values
    return of_shape


def _dims2(self, dim0: int, dim1: int):
    _set_values(self, dim0, dim1)


def _dims3(self, dim0: int, dim1: int, dim2: int):
    _set_values(self, dim0, dim1, dim2)


def _dims4(self, dim0: int, dim1: int, dim2: int, dim3: int):
    _set_values(self, dim0, dim1, dim2, dim3)


def _dims_hw(self, h: int, w: int):
    _set_values(self, h, w)


class Dims2(Dims):
    __slots__ = ()

    @overloads(_zeros(2), _dims2, _of_shape(2, "Dims2"))
    def __init__(self, *args, **kwargs):
        """Dims2() (zeros), Dims2(dim0, dim1) or Dims2(shape)."""


class Dims3(Dims):
    __slots__ = ()

    @overloads(_zeros(3), _dims3, _of_shape(3, "Dims3"))
    def __init__(self, *args, **kwargs):
        """Dims3() (zeros), Dims3(dim0, dim1, dim2) or Dims3(shape)."""


class Dims4(Dims):
    __slots__ = ()

    @overloads(_zeros(4), _dims4, _of_shape(4, "Dims4"))
    def __init__(self, *args, **kwargs):
        """Dims4() (zeros), Dims4(dim0, dim1, dim2, dim3) or Dims4(shape)."""


class DimsHW(Dims2):
    __slots__ = ()

    @overloads(_zeros(2), _dims_hw, _of_shape(2, "DimsHW"))
    def __init__(self, *args, **kwargs):
        """DimsHW() (zeros), DimsHW(h, w) or DimsHW(shape)."""

    @property
    def h(self):
        return self._d[0]

    @h.setter
    def h(self, value):
        self._d[0] = _plain_int(value)

    @property
    def w(self):
        return self._d[1]

    @w.setter
    def w(self, value):
        self._d[1] = _plain_int(value)


def as_dims(value, what="shape"):
    """A Dims from what the bindings convert implicitly (a sequence of ints), plus torch.Size."""
    if isinstance(value, Dims):
        return Dims(value)
    try:
        return Dims(value)
    except TypeError as e:
        raise TypeError(f"{what}: {e}") from None


# ---- Permutation -----------------------------------------------------------------------------------

_NO_ORDER = object()


class Permutation:
    """A transpose order: output dimension i takes input dimension order[i] (numpy's convention).

    As nvinfer1::Permutation and its bindings: always MAX_DIMS (8) int32 entries, those not given are 0 (so
    Permutation() is all zeros, not the identity: write Permutation(range(8)) for that); nothing is validated;
    equality and hashing are by identity; no slicing. Layers read the first `rank` entries with `_values(rank)`.
    """

    __slots__ = ("_p",)

    def __init__(self, order=_NO_ORDER, /):
        try:
            values = [] if order is _NO_ORDER else to_int_list(order, bits=32)
        except Mismatch as e:
            raise TypeError(f"Permutation(): {e}") from None
        if len(values) > Dims.MAX_DIMS:
            raise ValueError(f"Invalid input length. Max expected length is {Dims.MAX_DIMS}")
        self._p = values + [0] * (Dims.MAX_DIMS - len(values))

    def _values(self, rank):
        """reftrt: the first `rank` entries, the order for a tensor of that rank (a new list)."""
        return self._p[:rank]

    def __len__(self):
        return Dims.MAX_DIMS

    def __getitem__(self, index):
        if isinstance(index, slice):
            raise TypeError("__getitem__(): incompatible function arguments: a Permutation takes no slices")
        return self._p[_index(index, Dims.MAX_DIMS)]

    def __setitem__(self, index, value):
        self._p[_index(index, Dims.MAX_DIMS)] = _plain_int(value, bits=32)

    def __iter__(self):
        return iter(list(self._p))

    def __repr__(self):
        return str(tuple(self._p))

    __str__ = __repr__


def as_permutation(value):
    return value if isinstance(value, Permutation) else Permutation(value)


# ---- DataType maps ---------------------------------------------------------------------------------

# DataType -> (torch dtype, numpy dtype or None). numpy has no bfloat16 or fp8.
_TORCH = {
    "FLOAT": torch.float32, "HALF": torch.float16, "BF16": torch.bfloat16, "INT8": torch.int8,
    "INT32": torch.int32, "INT64": torch.int64, "BOOL": torch.bool, "UINT8": torch.uint8,
    "FP8": torch.float8_e4m3fn,
}
_NUMPY = {
    "FLOAT": np.float32, "HALF": np.float16, "INT8": np.int8, "INT32": np.int32, "INT64": np.int64,
    "BOOL": np.bool_, "UINT8": np.uint8,
}
_FROM_TORCH = {v: k for k, v in _TORCH.items()}
# Native byte order only: the bindings refuse a big-endian float32 array.
_FROM_NUMPY = {np.dtype(v): k for k, v in _NUMPY.items()}
# Bits per element, for Weights.nbytes (sub-byte types pack two to a byte).
_BITS = {"FLOAT": 32, "HALF": 16, "BF16": 16, "INT8": 8, "INT32": 32, "INT64": 64, "BOOL": 8, "UINT8": 8,
         "FP8": 8, "INT4": 4, "FP4": 4, "E8M0": 8}


def torch_dtype(dt):
    try:
        return _TORCH[dt.name]
    except KeyError:
        raise TypeError(f"reftrt does not execute {dt}") from None


def from_torch_dtype(dtype):
    return getattr(DataType, _FROM_TORCH[dtype])


def from_numpy_dtype(dtype):
    name = _FROM_NUMPY.get(np.dtype(dtype))
    if name is None:
        raise TypeError(f"Unsupported numpy data type: {np.dtype(dtype)}")
    return getattr(DataType, name)


def nptype(trt_type):
    """The numpy type of a DataType (as tensorrt.nptype)."""
    if isinstance(trt_type, DataType) and trt_type.name in _NUMPY:
        return _NUMPY[trt_type.name]
    raise TypeError("Could not resolve TensorRT datatype to an equivalent numpy datatype.")


def volume(iterable):
    """The product of the elements (as tensorrt.volume)."""
    result = 1
    for v in iterable:
        result *= v
    return result


# ---- Weights ---------------------------------------------------------------------------------------

def _storage(dtype, raw):
    """The flat array a Weights keeps: typed when numpy has the type, else the raw bytes (uint8)."""
    npdtype = _NUMPY.get(dtype.name)
    return raw.view(npdtype) if npdtype is not None else raw


def _weights_empty(self, type: DataType = DataType.FLOAT):
    self._type, self._count = type, 0
    self._array = _storage(type, np.empty(0, np.uint8))


def _weights_from_pointer(self, type: DataType, ptr, count):
    ptr, count = to_int(ptr, unsigned=True), to_int(count)
    if count < 0:
        raise ValueError(f"Weights: count {count} is negative")
    nbytes = (count * _BITS[type.name] + 7) // 8
    if nbytes and not ptr:
        raise ValueError(f"Weights: {count} elements at a null pointer")
    # reftrt runs on the host: `ptr` is a host address, read in place (TensorRT keeps a reference, not a copy).
    raw = np.frombuffer((ctypes.c_uint8 * nbytes).from_address(ptr), np.uint8) if nbytes else np.empty(0, np.uint8)
    self._type, self._count, self._array = type, count, _storage(type, raw)


def _weights_from_array(self, a: np.ndarray):
    if not a.flags.c_contiguous:
        raise ValueError("Could not convert non-contiguous NumPy array to Weights. "
                         "Please use numpy.ascontiguousarray() to fix this.")
    name = _FROM_NUMPY.get(a.dtype)
    if name is None:
        message = (f"[TRT] [E] Could not implicitly convert NumPy data type: {a.dtype.kind}{a.dtype.itemsize * 8} "
                   f"to TensorRT.")
        print(message, file=sys.stderr, flush=True)  # the bindings log it as well as raising it
        raise ValueError(message)
    # A flat view: it shares the caller's memory and keeps the array alive.
    self._type, self._count, self._array = getattr(DataType, name), int(a.size), a.reshape(-1)


class Weights:
    """Weights given to a layer: a typed, flat view of host memory (TensorRT keeps a reference, not a copy).

    Weights(a) takes a C-contiguous numpy array of float32, float16, int8, int32, int64, bool or uint8, and
    views it; numpy() returns a flat view of the same memory, or the Weights itself for types numpy lacks."""

    @overloads(_weights_empty, _weights_from_pointer, _weights_from_array)
    def __init__(self, *args, **kwargs):
        """Weights(type=DataType.FLOAT) (empty), Weights(type, ptr, count) (count elements at host address ptr)
        or Weights(a) (a numpy array)."""

    @property
    def dtype(self):
        return self._type

    @property
    def size(self):
        return self._count

    @property
    def nbytes(self):
        return (self._count * _BITS[self._type.name] + 7) // 8

    def __len__(self):
        return self.size

    def numpy(self):
        if self._type.name not in _NUMPY:
            return self  # as the bindings do for BF16, FP8, INT4, FP4, E8M0
        return self._array.view()

    def _torch(self):
        """reftrt: the values as a flat torch tensor (shares memory)."""
        if self._array.size == 0:
            return torch.empty(0, dtype=torch_dtype(self._type))
        tensor = torch.from_numpy(self._array)
        return tensor if self._type.name in _NUMPY else tensor.view(torch_dtype(self._type))


def as_weights(value, what="weights"):
    """Weights from what the bindings convert implicitly: a Weights or a numpy array (None: empty)."""
    if value is None:
        return Weights()
    if isinstance(value, Weights):
        return value
    if isinstance(value, np.ndarray):
        try:
            return Weights(value)
        except ValueError as e:  # pybind11's implicit conversion turns the constructor's error into a TypeError
            raise TypeError(f"{what}: {e}") from None
    raise TypeError(f"{what}: expected trt.Weights or a numpy array, got {type(value).__name__}")

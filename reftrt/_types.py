"""Value types of the TensorRT Python API: Dims, Weights, Permutation, and the DataType maps."""
import operator

import numpy as np
import torch

from ._enums import DataType


def _as_int(value, what):
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{what}: expected an integer, got {type(value).__name__} {value!r}") from None


class Dims:
    """A shape: up to MAX_DIMS integers, -1 for a dimension known only at run time."""

    MAX_DIMS = 8

    def __init__(self, shape=()):
        if isinstance(shape, Dims):
            values = list(shape._d)
        else:
            if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
                raise TypeError(f"Dims: expected a sequence of integers, got {type(shape).__name__}")
            values = [_as_int(v, "Dims") for v in shape]
        if len(values) > Dims.MAX_DIMS:
            raise ValueError(f"Dims: at most {Dims.MAX_DIMS} dimensions, got {len(values)}")
        self._d = values

    def __len__(self):
        return len(self._d)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return tuple(self._d[index])
        return self._d[_as_int(index, "Dims index")]

    def __setitem__(self, index, value):
        self._d[_as_int(index, "Dims index")] = _as_int(value, "Dims")

    def __iter__(self):
        return iter(self._d)

    def __eq__(self, other):
        if isinstance(other, Dims):
            return self._d == other._d
        if isinstance(other, (tuple, list)):
            return self._d == list(other)
        return NotImplemented

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    __hash__ = None

    def __str__(self):
        return str(tuple(self._d))

    __repr__ = __str__


def _dims_class(name, n, field_names=None):
    def __init__(self, *args):
        if not args:
            Dims.__init__(self, [0] * n)
        elif len(args) == n and all(isinstance(a, int) or hasattr(a, "__index__") for a in args):
            Dims.__init__(self, args)
        elif len(args) == 1:
            Dims.__init__(self, args[0])
            if len(self._d) != n:
                raise ValueError(f"{name}: expected {n} dimensions, got {len(self._d)}")
        else:
            raise TypeError(f"{name}: expected {n} integers or one sequence")

    namespace = {"__init__": __init__, "__module__": "reftrt"}
    for i, field in enumerate(field_names or ()):
        namespace[field] = property(lambda self, i=i: self._d[i],
                                    lambda self, v, i=i: self.__setitem__(i, v))
    return namespace


class Dims2(Dims):
    __init__ = _dims_class("Dims2", 2)["__init__"]


class Dims3(Dims):
    __init__ = _dims_class("Dims3", 3)["__init__"]


class Dims4(Dims):
    __init__ = _dims_class("Dims4", 4)["__init__"]


class DimsHW(Dims2):
    _ns = _dims_class("DimsHW", 2, ("h", "w"))
    __init__, h, w = _ns["__init__"], _ns["h"], _ns["w"]
    del _ns


def as_dims(value, what="shape"):
    if isinstance(value, Dims):
        return Dims(value)
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, torch.Size):
        value = list(value)
    try:
        return Dims(value)
    except TypeError as e:
        raise TypeError(f"{what}: {e}") from None


class Permutation:
    """A transpose order: output dimension i takes input dimension order[i] (numpy's convention)."""

    def __init__(self, order=()):
        if isinstance(order, Permutation):
            order = order._p
        values = [_as_int(v, "Permutation") for v in order]
        if len(values) > Dims.MAX_DIMS:
            raise ValueError(f"Permutation: at most {Dims.MAX_DIMS} entries")
        # Unspecified entries are the identity, as in nvinfer1::Permutation's fixed-size array.
        self._p = values + list(range(len(values), Dims.MAX_DIMS))

    def __len__(self):
        return Dims.MAX_DIMS

    def __getitem__(self, index):
        return self._p[_as_int(index, "Permutation index")]

    def __setitem__(self, index, value):
        self._p[_as_int(index, "Permutation index")] = _as_int(value, "Permutation")

    def __iter__(self):
        return iter(self._p)

    def __eq__(self, other):
        if isinstance(other, Permutation):
            return self._p == other._p
        if isinstance(other, (tuple, list)):
            return self._p[:len(other)] == list(other)
        return NotImplemented

    __hash__ = None

    def __str__(self):
        return str(tuple(self._p))

    __repr__ = __str__


def as_permutation(value):
    return value if isinstance(value, Permutation) else Permutation(value)


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
_FROM_NUMPY = {np.dtype(v): k for k, v in _NUMPY.items()}


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
    try:
        return _NUMPY[trt_type.name]
    except (KeyError, AttributeError):
        raise TypeError(f"Could not resolve TensorRT datatype to an equivalent numpy datatype. {trt_type}") from None


def volume(iterable):
    """The product of the elements (as tensorrt.volume)."""
    result = 1
    for v in iterable:
        result *= v
    return result


class Weights:
    """Weights given to a layer: a typed, flat view of host memory (TensorRT keeps a reference, not a copy)."""

    def __init__(self, *args, **kwargs):
        if "a" in kwargs or (len(args) == 1 and isinstance(args[0], np.ndarray)):
            array = kwargs.pop("a", None) if not args else args[0]
            self._type = from_numpy_dtype(array.dtype)
            self._array = np.ascontiguousarray(array)
            return
        if "ptr" in kwargs or len(args) == 3:
            raise TypeError("Weights(type, ptr, count): reftrt cannot read raw device pointers; pass a numpy array")
        dtype = kwargs.pop("type", args[0] if args else DataType.FLOAT)
        if not isinstance(dtype, DataType):
            raise TypeError(f"Weights(): incompatible constructor arguments: {args!r} {kwargs!r}")
        self._type = dtype
        self._array = None

    @property
    def dtype(self):
        return self._type

    @property
    def size(self):
        return 0 if self._array is None else int(self._array.size)

    @property
    def nbytes(self):
        return 0 if self._array is None else int(self._array.nbytes)

    def __len__(self):
        return self.size

    def numpy(self):
        return None if self._array is None else self._array.reshape(-1)

    def _torch(self):
        """reftrt: the values as a flat torch tensor (shares memory)."""
        if self._array is None:
            return torch.empty(0, dtype=torch_dtype(self._type))
        return torch.from_numpy(self._array.reshape(-1))


def as_weights(value, what="weights"):
    if value is None:
        return Weights()
    if isinstance(value, Weights):
        return value
    if isinstance(value, np.ndarray):
        return Weights(value)
    raise TypeError(f"{what}: expected trt.Weights or a numpy array, got {type(value).__name__}")

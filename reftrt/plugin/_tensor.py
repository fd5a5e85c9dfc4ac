"""Symbolic shapes, tensor descriptors and data-carrying tensors of `tensorrt.plugin`.

Mirrors `tensorrt/plugin/_tensor.py` of the TensorRT 11.4 bindings wheel (same classes, properties and errors).
Where TensorRT builds `IDimensionExpr`s through an expression builder, reftrt evaluates shape expressions directly:
every reftrt shape analysis runs on concrete sizes (profile shapes, probe sizes or run-time shapes), so a `ShapeExpr`
carries an int value. `is_constant` is True only where TensorRT would know the value at build time: literals,
static input dimensions, and arithmetic over them. Data-dependent extents (size tensors) have no value until the
plugin has run.

Differences that cannot be avoided on the CPU: `Tensor` wraps host memory (a CPU torch tensor) and exposes
`__dlpack__` / `__array_interface__` instead of `__cuda_array_interface__`, so `torch.as_tensor(t)` (without
`device=`) works on both: it gives a CUDA tensor on TensorRT and a CPU tensor on reftrt.
"""
import numpy as np

from .._enums import DataType, TensorFormat
from .._types import Dims, nptype, torch_dtype

_OPS = {
    "SUM": lambda a, b: a + b,
    "SUB": lambda a, b: a - b,
    "PROD": lambda a, b: a * b,
    "FLOOR_DIV": lambda a, b: a // b,
    "CEIL_DIV": lambda a, b: -(-a // b),
    "MAX": max,
    "MIN": min,
    "EQUAL": lambda a, b: int(a == b),
    "LESS": lambda a, b: int(a < b),
}


class SymExpr:
    """Base of symbolic expressions (abstract in TensorRT)."""


class SymIntExpr(SymExpr):
    """Symbolic integer (scalar) expression."""

    def __init__(self, value=None):
        # _v: the value (None when unknown); _c: whether TensorRT would know it at build time.
        self._v, self._c = None, False
        if isinstance(value, bool):
            raise ValueError("Unsupported type: 'bool'")
        if isinstance(value, (int, np.integer)):
            self._v, self._c = int(value), True
        elif isinstance(value, SymIntExpr):
            self._v, self._c = value._v, value._c

    @classmethod
    def _make(cls, value, const):
        expr = cls.__new__(cls)
        SymIntExpr.__init__(expr)
        expr._v, expr._c = value, const
        return expr

    def _op(self, op, other):
        if isinstance(other, (int, np.integer)) and not isinstance(other, bool):
            other = SymIntExpr(int(other))
        if not isinstance(other, SymIntExpr):
            raise TypeError(f"unsupported operand type for symbolic expression: {type(other).__name__}")
        value = None
        if self._v is not None and other._v is not None:
            if op in ("FLOOR_DIV", "CEIL_DIV") and other._v == 0:
                raise ValueError("Division by zero in a symbolic shape expression")
            value = _OPS[op](self._v, other._v)
        return SymIntExpr._make(value, self._c and other._c)

    # TensorRT defines +, -, *, //, ==, < (no reflected operators: `2 * expr` fails there too).
    def __add__(self, other):
        return self._op("SUM", other)

    def __sub__(self, other):
        return self._op("SUB", other)

    def __mul__(self, other):
        return self._op("PROD", other)

    def __floordiv__(self, other):
        return self._op("FLOOR_DIV", other)

    def __eq__(self, other):
        return self._op("EQUAL", other)

    def __lt__(self, other):
        return self._op("LESS", other)

    __hash__ = None

    def __bool__(self):
        if not self.is_constant:
            raise RuntimeError("Cannot evaluate symbolic expression as boolean. "
                               "Use is_constant and constant_value() for conditional checks.")
        return bool(self._v)

    def __repr__(self):
        if not self.is_constant:
            return f"SymIntExpr[id={id(self)}]"
        return f"SymIntExpr[{self._v}]"

    @property
    def is_constant(self):
        return self._c and self._v is not None

    def constant_value(self):
        if not self.is_constant:
            raise RuntimeError("Not accessible for non-constant integer expressions. "
                               "Check is_constant to determine accessibility.")
        return self._v

    @property
    def _expr(self):
        return self

    def _clone(self):
        return SymIntExpr._make(self._v, self._c)


class SymInt32(SymIntExpr):
    """Symbolic expression for a 32-bit integer (a scalar argument of an AOT kernel)."""

    def __call__(self):
        return self


class SymInt8(SymIntExpr):
    """Symbolic expression for an 8-bit integer."""


class SymInt16(SymIntExpr):
    """Symbolic expression for a 16-bit integer."""


class ShapeExpr(SymInt32):
    """Symbolic expression for one dimension of a tensor."""

    def __init__(self, value=None):
        super().__init__(value)
        self._is_dummy = value is None
        self._is_size_tensor = False
        if isinstance(value, ShapeExpr):
            self._is_dummy, self._is_size_tensor = value._is_dummy, value._is_size_tensor

    @classmethod
    def _make(cls, value, const):
        expr = ShapeExpr.__new__(ShapeExpr)
        ShapeExpr.__init__(expr, 0)
        expr._v, expr._c = value, const
        return expr

    def _op(self, op, other):
        if self._is_size_tensor or getattr(other, "_is_size_tensor", False):
            raise ValueError("It is not permitted to perform binary operations on size tensor expressions")
        if self._is_dummy:
            return ShapeExpr()
        result = super()._op(op, other)
        return ShapeExpr._make(result._v, result._c)

    def __bool__(self):
        if self._is_dummy:
            raise RuntimeError("Cannot evaluate fake ShapeExpr as boolean. Check is_fake first.")
        return super().__bool__()

    def __repr__(self):
        if self._is_dummy:
            return f"FakeShapeExpr[id={id(self)}]"
        if not self.is_constant:
            return f"ShapeExpr[id={id(self)}]"
        return f"ShapeExpr[{self._v}]"

    @property
    def is_fake(self):
        return self._is_dummy

    @property
    def is_size_tensor(self):
        return self._is_size_tensor

    @property
    def is_constant(self):
        if self._is_dummy:
            raise RuntimeError("Not accessible for fake 'ShapeExpr's. Check is_fake to determine accessibility.")
        return super().is_constant

    def constant_value(self):
        if not self.is_constant:
            raise RuntimeError("Not accessible for non-constant shape expressions. "
                               "Check is_constant to determine accessibility.")
        return self._v

    def _clone(self):
        clone = ShapeExpr._make(self._v, self._c)
        clone._is_dummy, clone._is_size_tensor = self._is_dummy, self._is_size_tensor
        return clone


class SizeTensorShapeExpr(ShapeExpr):
    """A shape expression that stands for the value of a size tensor (a data-dependent extent)."""

    def __init__(self, size_tensor_desc):
        super().__init__()
        self._is_size_tensor = True
        self._is_dummy = size_tensor_desc.opt.is_fake
        self._size_tensor_desc = size_tensor_desc

    def _op(self, op, other):
        raise ValueError("It is not permitted to perform binary operations on size tensor expressions")

    @property
    def is_constant(self):
        if self._is_dummy:
            raise RuntimeError("Not accessible for fake 'ShapeExpr's. Check is_fake to determine accessibility.")
        return False

    def _clone(self):
        return self

    def __repr__(self):
        return f"ShapeExpr[is_size_tensor = True, id={id(self)}]"


def _from_scalar(value):
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return SymInt32(int(value))
    if isinstance(value, float):
        raise ValueError("Float symbolic expressions are not supported")
    raise ValueError(f"Unsupported type: '{type(value)}'")


class SymExprs:
    """Iterable holding symbolic expressions."""

    def __init__(self, length):
        self._length = length
        self._exprs = [None] * length

    @classmethod
    def from_tuple(cls, shape_exprs):
        exprs = [e if isinstance(e, SymExpr) else _from_scalar(e) for e in shape_exprs]
        inst = cls(len(exprs))
        inst._exprs = exprs
        return inst

    def __iter__(self):
        return iter(self._exprs)

    def __getitem__(self, index):
        return self._exprs[index]

    def __len__(self):
        return self._length

    def __setitem__(self, index, expr):
        if index >= self._length:
            raise IndexError("Index out of range")
        self._exprs[index] = expr if isinstance(expr, SymExpr) else _from_scalar(expr)

    def __repr__(self):
        return f"SymExprs[{', '.join(repr(s) for s in self._exprs)}]"


class ShapeExprs(SymExprs):
    """The `ShapeExpr`s of a tensor's dimensions."""

    def __init__(self, length, _is_dummy=False):
        if length > Dims.MAX_DIMS:
            raise ValueError(f"ShapeExprs can only support up to trt.Dims.MAX_DIMS = {Dims.MAX_DIMS} dimensions. "
                             f"{length} given.")
        super().__init__(length)
        self._is_dummy = _is_dummy
        if _is_dummy:
            self._exprs = [ShapeExpr() for _ in range(length)]

    @classmethod
    def from_tuple(cls, shape_exprs):
        exprs = [e if isinstance(e, ShapeExpr) else ShapeExpr(_shape_int(e)) for e in shape_exprs]
        inst = cls(len(exprs))
        inst._exprs = exprs
        return inst

    def numel(self):
        total = ShapeExpr(1)
        for s in self._exprs:
            total *= s
        return total

    def __setitem__(self, index, value):
        if index >= self._length:
            raise IndexError("Index out of range")
        if not isinstance(value, ShapeExpr):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                raise ValueError(f"Value should be int or ShapeExpr. Got '{type(value)}'")
            value = ShapeExpr(int(value))
        self._exprs[index] = value

    def __repr__(self):
        return f"ShapeExprs[{', '.join(repr(s) for s in self._exprs)}]"

    def _clone(self):
        clone = ShapeExprs.from_tuple([e._clone() for e in self._exprs])
        clone._is_dummy = self._is_dummy
        return clone


def _shape_int(value):
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    raise ValueError(f"Value should be int or ShapeExpr. Got '{type(value)}'")


class SymIntExprs(SymExprs):
    """Iterable holding `SymIntExpr`s (the scalar arguments of an AOT kernel)."""

    @classmethod
    def from_tuple(cls, shape_exprs):
        exprs = [e if isinstance(e, SymIntExpr) else SymIntExpr(e) for e in shape_exprs]
        inst = cls(len(exprs))
        inst._exprs = exprs
        return inst

    def __setitem__(self, index, value):
        if index >= self._length:
            raise IndexError("Index out of range")
        if not isinstance(value, SymIntExpr):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                raise ValueError(f"Value should be int or SymIntExpr. Got '{type(value)}'")
            value = SymIntExpr(int(value))
        self._exprs[index] = value

    def __repr__(self):
        return f"SymIntExprs[{', '.join(repr(s) for s in self._exprs)}]"


class Shape:
    """Numerical representation of a tensor shape (-1 marks a dynamic or data-dependent dimension)."""

    def __init__(self, tensor_desc=None):
        self._is_dynamic = None
        self._range = None  # (min, opt, max) when known
        if tensor_desc is None:
            self._shapes = []
        elif isinstance(tensor_desc, (tuple, list, Dims)):
            self._shapes = [int(d) for d in tensor_desc]
        else:
            raise ValueError("Unsupported type used for constructing trt.plugin.Shape! tensor_desc must be a "
                             "Tuple[int], trt.DynamicPluginTensorDesc, or trt.PluginTensorDesc")
        self._length = len(self._shapes)

    def numel(self):
        if self.is_dynamic:
            raise ValueError("Shape has at least one dynamic dimension.")
        return int(np.prod(self._shapes, dtype=np.int64))

    def __iter__(self):
        yield from self._shapes

    def __getitem__(self, index):
        return self._shapes[index]

    def __len__(self):
        return self._length

    def __str__(self):
        return "Shape" + str(tuple(self))

    __repr__ = __str__

    @property
    def is_dynamic(self):
        if self._is_dynamic is None:
            self._is_dynamic = any(d == -1 for d in self._shapes)
        return self._is_dynamic

    def _bound(self, which, index):
        if not self.is_dynamic:
            raise ValueError(f"{which} property is only accessible if is_dynamic is true")
        if self._range is None:
            raise AttributeError(f"Shape object has at least one dynamic dimension, but no information is available "
                                 f"on '{which}' property.")
        return tuple(self._range[index])

    @property
    def opt(self):
        return self._bound("opt", 1)

    @property
    def min(self):
        return self._bound("min", 0)

    @property
    def max(self):
        return self._bound("max", 2)

    def __setitem__(self, index, val):
        if index >= self._length:
            raise IndexError("Index out of range")
        self._shapes[index] = int(val)
        self._is_dynamic = None

    def _clone(self):
        clone = Shape(list(self._shapes))
        clone._range = self._range
        return clone


class TensorDesc:
    """Descriptor of a tensor (symbolic shape, type, and in autotune its concrete shape and format); no data."""

    def __init__(self, shape_expr=None, dtype=None, format=None, scale=None):
        if isinstance(shape_expr, (tuple, list)):
            shape_expr = ShapeExprs.from_tuple(shape_expr)
        self._shape_expr = shape_expr
        self._dtype = dtype
        self._shape = None
        self._format = format
        self._scale = scale
        self._aliased_to = None
        self._immutable = False

    def numel(self):
        if not self.has_shape:
            raise ValueError("TensorDesc has no shape information available at this stage. "
                             "Inspect TensorDesc.has_shape to determine availability.")
        return int(np.prod(list(self.shape), dtype=np.int64))

    @property
    def ndim(self):
        return len(self._shape_expr)

    @property
    def is_size_tensor(self):
        return False

    def like(self):
        """A mutable descriptor with the same properties as this one."""
        cloned = self._clone()
        cloned._immutable = False
        return cloned

    def aliased(self):
        """An (immutable) descriptor with the same properties, whose tensor shares this tensor's memory."""
        cloned = self._clone()
        cloned._immutable = False
        cloned._aliased_to = self
        cloned._immutable = True
        return cloned

    def _clone(self):
        cloned = TensorDesc.__new__(type(self))
        object.__setattr__(cloned, "_immutable", False)
        cloned.__dict__.update(self.__dict__)
        cloned.__dict__["_immutable"] = False
        cloned.__dict__["_shape_expr"] = self._shape_expr._clone() if self._shape_expr is not None else None
        if self._shape is not None:
            cloned.__dict__["_shape"] = self._shape._clone()
        cloned.__dict__["_immutable"] = True
        return cloned

    def get_aliased(self):
        return self._aliased_to

    def _validate_has_shape(self):
        if not self.has_shape:
            raise ValueError("TensorDesc has no shape information available at this stage. "
                             "Inspect TensorDesc.has_shape to determine availability.")

    def _validate_not_immutable(self):
        if getattr(self, "_immutable", False):
            raise ValueError("Cannot modify immutable TensorDesc")

    @property
    def shape_expr(self):
        return self._shape_expr

    @shape_expr.setter
    def shape_expr(self, value):
        self._shape_expr = value

    @property
    def dtype(self):
        return self._dtype

    @dtype.setter
    def dtype(self, value):
        self._dtype = value

    @property
    def shape(self):
        self._validate_has_shape()
        return self._shape

    @shape.setter
    def shape(self, value):
        self._validate_not_immutable()
        self._shape = value

    @property
    def format(self):
        self._validate_has_shape()
        return self._format

    @format.setter
    def format(self, value):
        self._validate_not_immutable()
        self._format = value

    @property
    def scale(self):
        self._validate_has_shape()
        return self._scale

    @scale.setter
    def scale(self, value):
        self._validate_not_immutable()
        self._scale = value

    @property
    def is_aliased(self):
        return self._aliased_to is not None

    @property
    def has_shape(self):
        return self._shape is not None

    @property
    def is_dynamic(self):
        self._validate_has_shape()
        return self.shape.is_dynamic

    @property
    def has_shape_expr(self):
        return self.shape_expr is not None

    def __setattr__(self, name, value):
        if getattr(self, "_immutable", False) and name != "_immutable":
            raise ValueError("Cannot modify immutable TensorDesc properties")
        super().__setattr__(name, value)

    def __repr__(self):
        return f"TensorDesc(shape_expr={self._shape_expr!r}, dtype={self._dtype})"


class SizeTensorDesc(TensorDesc):
    """Descriptor of a size tensor: an INT32 or INT64 scalar holding the extent of a data-dependent dimension."""

    def __init__(self, opt, upper_bound):
        super().__init__(ShapeExprs(0), DataType.INT32)
        self._opt = opt
        self._upper_bound = upper_bound
        self._index = None
        self._expr = SizeTensorShapeExpr(self)

    @property
    def is_size_tensor(self):
        return True

    @property
    def opt(self):
        return self._opt

    @property
    def upper_bound(self):
        return self._upper_bound

    @property
    def index(self):
        return self._index

    def _set_index(self, idx):
        self._index = idx

    def expr(self):
        return self._expr


class Tensor:
    """A tensor that carries data, given to `@tensorrt.plugin.impl` functions.

    On reftrt the data is host memory: `data_ptr` is a host address, and the tensor converts without copying with
    `torch.as_tensor(t)` / `torch.from_dlpack(t)` (DLPack) or `numpy.asarray(t)` (`__array_interface__`).
    """

    def __init__(self):
        self._data_ptr = None
        self._shape = None
        self._format = None
        self._dtype = None
        self._scale = None
        self._strides = None
        self._aliased_to = None
        self._stream = None
        self._read_only = None
        self._buffer = None  # reftrt: the flat torch tensor that owns the memory
        self._immutable = False

    @classmethod
    def _wrap(cls, buffer, shape, dtype, stream, read_only):
        """A Tensor over `buffer` (a contiguous CPU torch tensor, at least as large as `shape` needs)."""
        t = cls()
        t._buffer = buffer.reshape(-1)
        t._dtype = dtype
        t._shape = Shape(list(shape))
        t._format = TensorFormat.LINEAR
        t._scale = -1.0
        t._data_ptr = t._buffer.data_ptr()
        t._strides = _contiguous_strides(shape)
        t._stream = stream
        t._read_only = read_only
        return t

    @property
    def ndim(self):
        return len(self._shape)

    @property
    def data_ptr(self):
        return self._data_ptr

    @data_ptr.setter
    def data_ptr(self, value):
        self._data_ptr = value

    @property
    def dtype(self):
        return self._dtype

    @dtype.setter
    def dtype(self, value):
        self._dtype = value

    @property
    def shape(self):
        return self._shape

    @shape.setter
    def shape(self, value):
        self._shape = value

    @property
    def format(self):
        return self._format

    @format.setter
    def format(self, value):
        self._format = value

    @property
    def scale(self):
        return self._scale

    @scale.setter
    def scale(self, value):
        self._scale = value

    @property
    def strides(self):
        return self._strides

    @strides.setter
    def strides(self, value):
        self._strides = value

    def numel(self):
        if self.is_data_dependent:
            raise ValueError("Tensor has a data-dependent dimension. Examine Tensor.shape to determine wildcards "
                             "(representing data-dependent dimensions).")
        return int(np.prod(list(self._shape), dtype=np.int64))

    def _torch(self):
        """The torch view of this tensor's memory (reftrt)."""
        if self.is_data_dependent:
            raise ValueError("Tensor has a data-dependent dimension: use Tensor.aliased(shape) with the actual shape "
                             "to get a tensor over its memory.")
        if self._buffer is None:
            raise ValueError("Tensor has no memory")
        return self._buffer[:self.numel()].view(list(self._shape))

    def __dlpack__(self, *args, **kwargs):
        return self._torch().__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._torch().__dlpack_device__()

    @property
    def __array_interface__(self):
        if self._dtype not in (DataType.FLOAT, DataType.HALF, DataType.INT8, DataType.INT32, DataType.INT64,
                               DataType.BOOL, DataType.UINT8):
            raise ValueError(f"Handling {self._dtype} via '__array_interface__' is not supported")
        view = self._torch()
        return {"shape": tuple(view.shape), "typestr": np.dtype(nptype(self._dtype)).str,
                "data": (view.data_ptr(), False), "strides": None, "version": 3}

    def __setattr__(self, name, value):
        if getattr(self, "_immutable", False) and name != "_immutable":
            raise ValueError("Cannot modify immutable Tensor properties")
        super().__setattr__(name, value)

    def get_aliased(self):
        return self._aliased_to

    @property
    def is_aliased(self):
        # TensorRT 11.4 returns `self._aliased_to is None` here, the opposite of its docstring ("True if this tensor
        # is aliased to another tensor"); reftrt follows the docstring.
        return self._aliased_to is not None

    @property
    def is_data_dependent(self):
        return self._shape.is_dynamic

    def aliased(self, shape=None):
        """A Tensor with the same memory (`data_ptr`) and the given shape (default: the same shape)."""
        cloned = Tensor()
        cloned.__dict__.update(self.__dict__)
        cloned.__dict__["_immutable"] = False
        if isinstance(shape, Shape):
            cloned._shape = shape._clone()
        elif isinstance(shape, (tuple, list)) or _is_torch_size(shape):
            cloned._shape = Shape([int(d) for d in shape])
        elif shape is not None:
            raise ValueError("Unsupported type for 'shape'")
        if not cloned._shape.is_dynamic and self._buffer is not None and \
                cloned._shape.numel() > self._buffer.numel():
            raise ValueError("Volume of this tensor is less than the provided 'shape'.")
        cloned._strides = _contiguous_strides(list(cloned._shape))
        cloned._aliased_to = self
        return cloned

    def __repr__(self):
        return f"Tensor(shape={self._shape}, dtype={self._dtype}, data_ptr={self._data_ptr})"


def _is_torch_size(value):
    return type(value).__name__ == "Size" and isinstance(value, tuple)


def _contiguous_strides(shape):
    strides, acc = [], 1
    for d in reversed(list(shape)):
        strides.insert(0, acc)
        acc *= max(int(d), 1)
    return tuple(strides)


class KernelLaunchParams:
    """Grid, block and shared-memory sizes of an AOT kernel launch (recorded; reftrt cannot launch PTX)."""

    _FIELDS = ("grid_x", "grid_y", "grid_z", "block_x", "block_y", "block_z", "shared_mem")

    def __init__(self, grid_x=1, grid_y=1, grid_z=1, block_x=1, block_y=1, block_z=1, shared_mem=0):
        for name, value in zip(self._FIELDS, (grid_x, grid_y, grid_z, block_x, block_y, block_z, shared_mem)):
            setattr(self, name, value)

    def __setattr__(self, name, value):
        if name not in self._FIELDS:
            raise AttributeError(f"KernelLaunchParams object has no attribute '{name}'")
        self.__dict__[name] = SymInt32(value)


def torch_dtype_of(desc_dtype, what):
    """The torch dtype for a descriptor's DataType, failing clearly for types reftrt cannot hold."""
    if not isinstance(desc_dtype, DataType):
        raise ValueError(f"{what}: dtype must be a trt.DataType, got {desc_dtype!r}")
    return torch_dtype(desc_dtype)

"""Top-level functions of `tensorrt.plugin`: cdiv, max, min, size_tensor, from_shape_expr (TensorRT 11.4
`tensorrt/plugin/_top_level.py`)."""
from ._tensor import ShapeExpr, ShapeExprs, SizeTensorDesc, TensorDesc


def _binary(op, first, second):
    if isinstance(first, int):
        if isinstance(second, int):
            raise ValueError("Both arguments cannot be 'int's")
        first = ShapeExpr(first)
    return first._op(op, second)


def cdiv(first, second):
    """Symbolic ceiling division of `first` by `second` (at least one a ShapeExpr)."""
    return _binary("CEIL_DIV", first, second)


def max(first, second):
    """Symbolic maximum of `first` and `second` (at least one a ShapeExpr)."""
    return _binary("MAX", first, second)


def min(first, second):
    """Symbolic minimum of `first` and `second` (at least one a ShapeExpr)."""
    return _binary("MIN", first, second)


def size_tensor(opt, upper_bound):
    """A size tensor (the extent of a data-dependent dimension) with autotune extent `opt` and `upper_bound`."""
    return SizeTensorDesc(opt, upper_bound)


def from_shape_expr(shape_expr, dtype):
    """A TensorDesc with the given shape (ShapeExprs, or a tuple of ShapeExprs and ints) and DataType."""
    if isinstance(shape_expr, tuple):
        shape_expr = ShapeExprs.from_tuple(shape_expr)
    return TensorDesc(shape_expr, dtype)

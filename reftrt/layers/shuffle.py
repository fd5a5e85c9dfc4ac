"""Shuffle layer (IShuffleLayer): first transpose, reshape, second transpose.

Follows NvInfer.h `IShuffleLayer` and `Permutation`, and Cookbook Shuffle (case_simple, case_dynamic, case_shape_input,
case_zero, case_zero_is_placeholder, case_zero_is_placeholder_2).

- Permutations use numpy's convention, out.shape[i] = in.shape[perm[i]]: the header's own example ("CHW to HWC
  requires [1, 2, 0]") only works that way, whatever its formula says. The Cookbook cases use involutions, so
  they cannot tell the two readings apart.
- Reshape dims: 0 copies the corresponding dimension (when `zero_is_placeholder`, the default), aligning the most
  significant dimensions; -1 is inferred (at most one); the volume must not change. Neither the header nor a recorded
  case says whether "the corresponding dimension" is taken before or after the first transpose. reftrt reads it
  from the tensor being reshaped, i.e. after the first transpose.
- `set_input(1, dims)` makes the reshape dynamic (a 1-D INT32/INT64 shape tensor). Setting `reshape_dims` resets
  input 1 to null, and the getter returns None while input 1 is set, as `getReshapeDimensions` reports nbDims -1.
  An unset `reshape_dims` means no reshape.

The helpers `InputParam` and `host_ints` are shared with the Slice and Fill layers.
"""
import torch

from .._graph import ILayer, Param, UnknownValue, value_of
from .._types import Dims, Permutation
from ._common import bool_param, dims_param, network_method, perm_param, tensor_arg

__all__ = ["IShuffleLayer"]

# Upper bound reported for a dimension whose size comes from a value known only at run time.
_UNKNOWN_UPPER = 1 << 16


class InputParam(Param):
    """A parameter that an optional input tensor can replace (TensorRT's "dynamic" layer parameters).

    While input `index` is set, the getter returns `dynamic_value` (None, as the bindings report an nbDims -1
    Dims); the setter stores the value and resets that input to null, as the C++ setters document.
    """

    def __init__(self, index, default=None, convert=None, dynamic_value=None, doc=None):
        self.default, self.convert, self.attr, self.index = default, convert, None, index

        def get(layer):
            if layer.get_input(index) is not None:
                return dynamic_value
            return layer._p[self.attr]

        def set_(layer, value):
            layer._p[self.attr] = self.convert(value) if self.convert and value is not None else value
            if index < len(layer._inputs):
                layer._inputs[index] = None
            layer._network._changed(layer)

        property.__init__(self, get, set_, None, doc)


def optional_dims(value):
    return None if value is None else dims_param(value)


def host_ints(layer, tensor, ctx, what, rank=1):
    """The integer values of a shape-tensor input of the given rank: a list, or an int for rank 0.

    Returns None during definition-time analysis when the values are only known at run time (callers then report
    the dimensions they decide as unknown, so the rank stays known); raises UnknownValue while building.
    """
    if tensor.dtype not in (torch.int32, torch.int64):
        layer._fail(f"{what} must be an INT32 or INT64 tensor, got {tensor.dtype}")
    if tensor.dim() != rank:
        layer._fail(f"{what} must be a {rank}-D tensor, got shape {list(tensor.shape)}")
    try:
        value = value_of(tensor, layer, what)
    except UnknownValue:
        if ctx.validate or not ctx.analysis:
            raise
        return None
    return value.tolist()


def unknown_dims(ctx, count):
    """Sizes for `count` dimensions decided by run-time values (they read as -1 at definition time)."""
    return [ctx.unknown_size(_UNKNOWN_UPPER) for _ in range(count)]


def shapes_only(ctx):
    """True when the builder only wants output shapes (its engine-shape pass): value-dependent checks are skipped."""
    return getattr(ctx, "shapes_only", False)


def check_permutation(layer, perm, rank, what):
    order = list(perm)[:rank]
    if sorted(order) != list(range(rank)):
        layer._fail(f"{what} {tuple(order)} is not a permutation of the {rank} dimensions of its input")
    return order


def resolve_reshape(layer, dims, in_shape, zero_is_placeholder, check=True):
    """Resolve 0 and -1 in reshape dimensions against `in_shape` (TensorRT's rules)."""
    dims = [int(d) for d in dims]
    out = []
    infer = []
    for i, d in enumerate(dims):
        if d == 0 and zero_is_placeholder:
            if i >= len(in_shape):
                layer._fail(f"reshape dimension {i} is 0 (copy the input dimension), but the input has only "
                            f"{len(in_shape)} dimensions")
            out.append(int(in_shape[i]))
        elif d == -1:
            infer.append(i)
            out.append(-1)
        elif d < 0:
            layer._fail(f"reshape dimensions {Dims(dims)} have an invalid negative value {d}")
        else:
            out.append(d)
    if len(infer) > 1:
        layer._fail(f"reshape dimensions {Dims(dims)} have more than one -1")
    volume = 1
    for d in in_shape:
        volume *= int(d)
    known = 1
    for d in out:
        if d != -1:
            known *= d
    if infer:
        if known == 0:
            if check:
                layer._fail(f"reshape dimensions {Dims(dims)}: the -1 is indeterminate because another dimension "
                            f"is 0")
            out[infer[0]] = 0
        else:
            out[infer[0]] = volume // known
            known *= out[infer[0]]
    if check and known != volume:
        layer._fail(f"reshaping failed for tensor: tensor reshape would change volume {volume} to {known}: input "
                    f"dims {Dims(list(in_shape))} reshape dims {Dims(dims)}")
    return out


class IShuffleLayer(ILayer):
    _layer_type = "SHUFFLE"
    _type_str = "Shuffle"
    _value_inputs = (1,)
    _shape_inputs = (1,)
    _upcast = False
    first_transpose = Param(lambda layer: Permutation(range(Dims.MAX_DIMS)), perm_param)  # identity
    reshape_dims = InputParam(1, None, optional_dims)
    second_transpose = Param(lambda layer: Permutation(range(Dims.MAX_DIMS)), perm_param)  # identity
    zero_is_placeholder = Param(True, bool_param)

    def _max_inputs(self):
        return 2

    def _forward(self, inputs, ctx):
        x = inputs[0]
        dims_tensor = inputs[1] if len(inputs) > 1 else None
        x = x.permute(check_permutation(self, self.first_transpose, x.dim(), "first_transpose"))
        if dims_tensor is not None:
            dims = host_ints(self, dims_tensor, ctx, "reshape dimensions (input 1)")
            if dims is None:
                shape = unknown_dims(ctx, dims_tensor.shape[0])
                x = torch.empty(shape, dtype=x.dtype, device="meta")
                return [x.permute(check_permutation(self, self.second_transpose, x.dim(), "second_transpose"))]
        else:
            dims = self._p["reshape_dims"]
        if dims is not None:
            if len(dims) > Dims.MAX_DIMS:
                self._fail(f"reshape dimensions have {len(dims)} entries, at most {Dims.MAX_DIMS} are allowed")
            lenient = shapes_only(ctx)
            shape = resolve_reshape(self, dims, x.shape, self.zero_is_placeholder, check=not lenient)
            x = torch.empty(shape, dtype=x.dtype, device="meta") if lenient else x.reshape(shape)
        x = x.permute(check_permutation(self, self.second_transpose, x.dim(), "second_transpose"))
        return [x if x.is_meta else x.contiguous()]


@network_method
def add_shuffle(self, input):
    return IShuffleLayer(self, [tensor_arg(input, "add_shuffle")])

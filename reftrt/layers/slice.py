"""Slice layer (ISliceLayer). NvInfer.h `ISliceLayer` and `SampleMode`; Cookbook Slice (case_simple, case_pad,
case_set_input, case_shape_input).

Output element i along an axis reads input coordinate c = start + i * stride (strides may be negative or zero).
Out-of-bounds coordinates are handled per `mode`:
- STRICT_BOUNDS (default): an error (checked whenever start, size and stride are known, i.e. while building);
- WRAP: c modulo the dimension;
- CLAMP: c clamped to [0, d - 1]; a zero-size input dimension needs a zero-size output dimension;
- FILL: the value of input 4 (a one-element tensor of the input's type, or converted among FLOAT, HALF, INT8 and
  FP8 as the header allows; Cookbook case_pad fills -1). The value
  used without input 4 is not documented and no recorded case shows it: reftrt fills 0, the value the header's DLA
  notes mention for FILL;
- REFLECT: reflection about the centre of the border element, repeated indefinitely (period 2(d - 1); a single
  element repeats; a zero-size dimension is an error).
Inputs 1, 2, 3 and 5 (start, size, stride, axes) are 1-D INT32/INT64 shape tensors replacing the `start`, `shape`,
`stride` and `axes` properties (which then read None). With axes, start/size/stride apply to those axes only
(negative axes count from the back); the other axes are copied whole.
"""
import torch

from .._enums import SampleMode
from .._graph import ILayer, Param
from .._types import Dims
from ._common import enum_param, network_method, tensor_arg
from .shuffle import InputParam, host_ints, optional_dims, shapes_only, unknown_dims

__all__ = ["ISliceLayer"]

# The header allows a fill value of another type among these (implicit conversion).
_CONVERTIBLE = {torch.float32, torch.float16, torch.int8, torch.float8_e4m3fn}


def _coordinates(layer, mode, axis, start, size, stride, dim, check):
    """Input coordinates for one axis and, for FILL, which of them are in bounds."""
    c = start + stride * torch.arange(size, dtype=torch.int64)
    inside = (c >= 0) & (c < dim)
    name = mode.name
    if size == 0:
        return c, inside
    if name == "STRICT_BOUNDS":
        if check and not bool(inside.all()):
            bad = int(c[~inside][0])
            layer._fail(f"ISliceLayer has out of bounds access on axis {axis}: coordinate {bad} is outside "
                        f"[0, {dim}) (start {start}, size {size}, stride {stride})")
        return c.clamp(0, max(dim - 1, 0)), inside
    if dim == 0:
        if name == "FILL":
            return torch.zeros_like(c), inside
        layer._fail(f"SampleMode.{name} cannot sample a zero-size dimension (axis {axis}) into a non-empty output")
    if name == "WRAP":
        return torch.remainder(c, dim), inside
    if name == "CLAMP":
        return c.clamp(0, dim - 1), inside
    if name == "FILL":
        return c.clamp(0, dim - 1), inside
    if name == "REFLECT":
        if dim == 1:
            return torch.zeros_like(c), inside
        period = 2 * (dim - 1)
        m = torch.remainder(c, period)
        return torch.where(m >= dim, period - m, m), inside
    raise NotImplementedError(f"SampleMode {mode}")


class ISliceLayer(ILayer):
    _layer_type = "SLICE"
    _type_str = "Slice"
    _value_inputs = (1, 2, 3, 5)
    _shape_inputs = (1, 2, 3, 5)
    _upcast = False
    start = InputParam(1, None, optional_dims)
    shape = InputParam(2, None, optional_dims)
    stride = InputParam(3, None, optional_dims)
    mode = Param(SampleMode.STRICT_BOUNDS, enum_param(SampleMode))
    axes = InputParam(5, None, optional_dims)

    def _max_inputs(self):
        return 6

    def _param(self, inputs, index, name, ctx):
        t = inputs[index] if index < len(inputs) else None
        if t is not None:
            return host_ints(self, t, ctx, f"{name} (input {index})"), t.shape[0]
        value = self._p[name]
        if value is None:
            return None, None
        return list(value), len(value)

    def _forward(self, inputs, ctx):
        x = inputs[0]
        rank = x.dim()
        fill = inputs[4] if len(inputs) > 4 else None
        if fill is not None and self.mode != SampleMode.FILL:
            self._fail(f"input 4 (fill value) is only allowed with SampleMode.FILL, the mode is {self.mode}")
        start, n_start = self._param(inputs, 1, "start", ctx)
        size, n_size = self._param(inputs, 2, "shape", ctx)
        stride, n_stride = self._param(inputs, 3, "stride", ctx)
        axes, n_axes = self._param(inputs, 5, "axes", ctx)
        count = n_axes if n_axes is not None else rank
        for what, n in (("start", n_start), ("size", n_size), ("stride", n_stride)):
            if n is None:
                self._fail(f"{what} is not set")
            if n != count:
                per = "one per axis" if n_axes is not None else "the input rank"
                self._fail(f"{what} has {n} values, expected {count} ({per})")
        if axes is None and n_axes is not None:
            # Axes known only at run time: every dimension may be sliced.
            return [torch.empty(unknown_dims(ctx, rank), dtype=x.dtype, device="meta")]
        if axes is None:
            axes = list(range(rank))
        else:
            axes = [a + rank if a < 0 else a for a in axes]
            if any(not 0 <= a < rank for a in axes) or len(set(axes)) != len(axes):
                self._fail(f"axes {Dims(axes)} must be unique and within [-{rank}, {rank - 1}]")
        out_shape = list(x.shape)
        unknown = size is None
        for k, a in enumerate(axes):
            if unknown:
                out_shape[a] = None
            else:
                if size[k] < 0:
                    self._fail(f"size {Dims(size)} has a negative value")
                out_shape[a] = int(size[k])
        if unknown:
            sizes = iter(unknown_dims(ctx, len(axes)))
            out_shape = [next(sizes) if d is None else d for d in out_shape]
        if fill is not None:
            if fill.numel() != 1:
                self._fail(f"the fill value (input 4) must have one element, got shape {list(fill.shape)}")
            if fill.dtype != x.dtype and not {fill.dtype, x.dtype} <= _CONVERTIBLE:
                self._fail(f"the fill value (input 4) has type {fill.dtype}, not convertible to the input's type "
                           f"{x.dtype}")
        if unknown or start is None or stride is None:
            return [torch.empty(out_shape, dtype=x.dtype, device="meta")]
        check = not shapes_only(ctx)
        plan = []
        for k, a in enumerate(axes):
            c, inside = _coordinates(self, self.mode, a, int(start[k]), out_shape[a], int(stride[k]), x.shape[a],
                                     check)
            plan.append((a, c, inside))
        if x.is_meta or (fill is not None and fill.is_meta):
            return [torch.empty(out_shape, dtype=x.dtype, device="meta")]
        out = x
        mask = None
        for a, c, inside in plan:
            if c.numel() == x.shape[a] and bool((c == torch.arange(x.shape[a])).all()):
                continue
            out = out.index_select(a, c) if x.shape[a] else out.new_zeros(
                [c.numel() if d == a else s for d, s in enumerate(out.shape)])
            if self.mode == SampleMode.FILL and not bool(inside.all()):
                view = [1] * rank
                view[a] = -1
                m = inside.view(view)
                mask = m if mask is None else mask & m
        if mask is not None:
            value = fill.reshape(()) if fill is not None else torch.zeros((), dtype=x.dtype)
            out = torch.where(mask, out, value.to(out.dtype))
        return [out.contiguous()]


@network_method
def add_slice(self, input, start, shape, stride):
    return ISliceLayer(self, [tensor_arg(input, "add_slice")], start=start, shape=shape, stride=stride)

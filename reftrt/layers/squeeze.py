"""Squeeze and Unsqueeze layers (ISqueezeLayer, IUnsqueezeLayer), TensorRT 11 only (absent from the 10.3 API).

NvInfer.h `ISqueezeLayer`, `IUnsqueezeLayer`, `addSqueeze`, `addUnsqueeze`, the 11.4 bindings' docstrings;
Cookbook Squeeze/case_simple and Unsqueeze/case_simple.

- Axes (input 1) are a 1-D INT32/INT64 shape tensor resolvable while building, with unique values. Squeeze: in
  [-r, r-1], each removed dimension must be 1. Unsqueeze: in [-r_final, r_final-1] with r_final = r + len(axes)
  (positions in the output), r_final at most Dims.MAX_DIMS.
- 11.4 `add_squeeze(input, axes=None)`: without axes, every dimension that is statically 1 in the network
  definition is removed; dynamic dimensions are kept (the binding says they "must not be 1 at runtime", which reftrt
  checks when it runs). The definition-time shape decides which dimensions those are; reftrt records them while
  building, so a plan keeps the choice.
"""
import torch

from .. import _version
from .._graph import ILayer
from .._types import Dims
from ._common import network_method, tensor_arg
from .shuffle import host_ints, unknown_dims

__all__ = ["ISqueezeLayer", "IUnsqueezeLayer"] if _version.IS_11 else []


def _axes(layer, inputs, ctx):
    t = inputs[1] if len(inputs) > 1 else None
    if t is None:
        return None, None
    return host_ints(layer, t, ctx, "axes (input 1)"), t.shape[0]


class ISqueezeLayer(ILayer):
    _layer_type = "SQUEEZE"
    _type_str = "Squeeze"
    _value_inputs = (1,)
    _shape_inputs = (1,)
    _upcast = False

    def _max_inputs(self):
        return 2

    def _static_unit_axes(self):
        # Definition networks have a builder; a plan's network does not and uses what the build recorded.
        if self._network._builder is not None:
            self._p["static_unit_axes"] = [i for i, d in enumerate(self._inputs[0].shape) if d == 1]
        return self._p.get("static_unit_axes") or []

    def _forward(self, inputs, ctx):
        x = inputs[0]
        r = x.dim()
        axes, count = _axes(self, inputs, ctx)
        if count is None:
            axes = self._static_unit_axes()
            if not ctx.analysis:
                if any(d == 1 for i, d in enumerate(x.shape) if i not in axes):
                    self._fail(f"a dynamic dimension of the input {list(x.shape)} is 1 at run time; without axes only "
                               f"dimensions that are statically 1 are removed")
        elif axes is None:
            return [torch.empty(unknown_dims(ctx, max(r - count, 0)), dtype=x.dtype, device="meta")]
        norm = [a + r if a < 0 else a for a in axes]
        if any(not 0 <= a < r for a in norm) or len(set(norm)) != len(norm):
            self._fail(f"axes {Dims(list(axes))} must be unique and within [{-r}, {r - 1}]")
        for a in norm:
            if x.shape[a] != 1:
                self._fail(f"cannot squeeze axis {a}: the input dimension is {x.shape[a]}, not 1 (input "
                           f"{list(x.shape)})")
        shape = [d for i, d in enumerate(x.shape) if i not in norm]
        if x.is_meta:
            return [torch.empty(shape, dtype=x.dtype, device="meta")]
        return [x.reshape(shape)]


class IUnsqueezeLayer(ILayer):
    _layer_type = "UNSQUEEZE"
    _type_str = "Unsqueeze"
    _value_inputs = (1,)
    _shape_inputs = (1,)
    _upcast = False

    def _max_inputs(self):
        return 2

    def _forward(self, inputs, ctx):
        x = inputs[0]
        r = x.dim()
        axes, count = _axes(self, inputs, ctx)
        if count is None:
            self._fail("the axes input (input 1) is not set")
        final = r + count
        if final > Dims.MAX_DIMS:
            self._fail(f"the output would have {final} dimensions, more than {Dims.MAX_DIMS}")
        if axes is None:
            return [torch.empty(unknown_dims(ctx, final), dtype=x.dtype, device="meta")]
        norm = [a + final if a < 0 else a for a in axes]
        if any(not 0 <= a < final for a in norm) or len(set(norm)) != len(norm):
            self._fail(f"axes {Dims(list(axes))} must be unique and within [{-final}, {final - 1}]")
        dims = iter(x.shape)
        shape = [1 if i in norm else next(dims) for i in range(final)]
        if x.is_meta:
            return [torch.empty(shape, dtype=x.dtype, device="meta")]
        return [x.reshape(shape)]


@network_method
def add_squeeze(self, input, axes=None):
    inputs = [tensor_arg(input, "add_squeeze")]
    if axes is not None:
        inputs.append(tensor_arg(axes, "add_squeeze"))
    return ISqueezeLayer(self, inputs)


@network_method
def add_unsqueeze(self, input, axes):
    return IUnsqueezeLayer(self, [tensor_arg(input, "add_unsqueeze"), tensor_arg(axes, "add_unsqueeze")])

"""Fill layer (IFillLayer). NvInfer.h `FillOperation` and `IFillLayer`, the Python bindings (pyGraph.cpp) for
`alpha`/`beta`; Cookbook Fill (case_linspace_1, case_linspace_2, case_random_normal, case_random_uniform,
case_shape_input, case_dds).

- LINSPACE: element [i, j, ...] = alpha + beta[0]*i + beta[1]*j + ...; a static beta is a 1-D [beta], so static
  alpha/beta need a 1-D output (the header's warning). Output INT32, INT64 or FLOAT.
- RANDOM_UNIFORM: uniform in [alpha, beta] (defaults 0 and 1). RANDOM_NORMAL: mean alpha, standard deviation beta
  (defaults 0 and 1). Output FLOAT or HALF. The random state is kept per layer and advances with every run, so
  consecutive runs differ and a fresh engine repeats the sequence (TensorRT: "deterministic when starting from the
  same initial state"). reftrt's random numbers are torch's, not TensorRT's: only their distribution matches.
- Inputs replace parameters: 0 the dimensions (a 1-D INT32/INT64 shape tensor), 1 alpha, 2 beta (both or neither;
  alpha a scalar, beta a scalar or, for LINSPACE, a 1-D tensor with one delta per output dimension). The setters
  `shape`, `alpha`, `beta` reset their input, and the getters report None / -1.0 while it is set.
- Output type: `to_type` (add_fill's `output_type`, FLOAT by default). The header says the output type parameter "is
  only used for static alpha/beta": with alpha/beta inputs the output takes their type.
- The `alpha`/`beta` setters mirror the bindings: a value that converts to a float sets the double parameter, one
  that converts to an integer (Python int, numpy integer) then sets the int64 one, which is why assigning an int makes
  `is_alpha_beta_int64()` true; anything else (e.g. a list, as Cookbook case_linspace_1 does) is silently ignored,
  which is why that case prints [0, 1, 2, 3] although it assigns alpha = [1000].
"""
import numpy as np
import torch

from .._enums import DataType, FillOperation
from .._graph import _FOLD_LIMIT, ILayer, Param
from .._types import torch_dtype
from ._common import enum_param, network_method
from .shuffle import InputParam, host_ints, optional_dims, unknown_dims

__all__ = ["IFillLayer"]

_TYPES = {"LINSPACE": ("INT32", "INT64", "FLOAT"), "RANDOM_UNIFORM": ("FLOAT", "HALF"),
          "RANDOM_NORMAL": ("FLOAT", "HALF")}


def _as_double(value):
    if isinstance(value, (bool, int, float, np.number)):
        return float(value)
    return None


def _as_int64(value):
    # pybind11 refuses Python floats (and numpy float64, a float subclass) for integers, but converts other numbers.
    if isinstance(value, float):
        return None
    if isinstance(value, (bool, int, np.number)):
        return int(value)
    return None


class _Scalar(Param):
    """`alpha` / `beta`: the bindings' try-double-then-int64 setter, and -1 while input `index` is set."""

    def __init__(self, index, default):
        self.default, self.convert, self.attr, self.index = default, None, None, index

        def get(layer):
            as_int = layer._p["_alpha_beta_int64"]
            if layer.get_input(index) is not None:
                return -1 if as_int else -1.0
            return int(layer._p[self.attr]) if as_int else float(layer._p[self.attr])

        def set_(layer, value):
            as_double, as_int = _as_double(value), _as_int64(value)
            if as_double is None and as_int is None:
                return
            layer._p[self.attr] = as_int if as_int is not None else as_double
            layer._p["_alpha_beta_int64"] = as_int is not None
            if index < len(layer._inputs):
                layer._inputs[index] = None
            layer._network._changed(layer)

        property.__init__(self, get, set_)


class IFillLayer(ILayer):
    _layer_type = "FILL"
    _type_str = "Fill"
    _value_inputs = (0,)
    _shape_inputs = (0,)
    shape = InputParam(0, None, optional_dims)
    operation = Param(FillOperation.LINSPACE, enum_param(FillOperation))
    alpha = _Scalar(1, 0.0)
    beta = _Scalar(2, 1.0)
    to_type = Param(DataType.FLOAT, enum_param(DataType))
    _alpha_beta_int64 = Param(False, readonly=True)

    def is_alpha_beta_int64(self):
        return self._p["_alpha_beta_int64"]

    def _max_inputs(self):
        return 3

    def _forward(self, inputs, ctx):
        inputs = list(inputs) + [None] * (3 - len(inputs))
        dims_t, alpha_t, beta_t = inputs[:3]
        op = self.operation.name
        if (alpha_t is None) != (beta_t is None):
            self._fail("alpha (input 1) and beta (input 2) must both be static or both be tensors")
        dynamic = alpha_t is not None
        if dynamic:
            if alpha_t.dtype != beta_t.dtype:
                self._fail(f"alpha and beta must have the same type, got {alpha_t.dtype} and {beta_t.dtype}")
            out_type = alpha_t.dtype
            allowed = [torch_dtype(getattr(DataType, n)) for n in _TYPES[op]]
            if out_type not in allowed:
                self._fail(f"FillOperation.{op} does not take {out_type} alpha/beta (output types: "
                           f"{', '.join(_TYPES[op])})")
        else:
            if self.to_type.name not in _TYPES[op]:
                self._fail(f"FillOperation.{op} cannot output {self.to_type} (supported: {', '.join(_TYPES[op])})")
            out_type = torch_dtype(self.to_type)
        if dims_t is not None:
            shape = host_ints(self, dims_t, ctx, "dimensions (input 0)")
            if shape is None:
                return [torch.empty(unknown_dims(ctx, dims_t.shape[0]), dtype=out_type, device="meta")]
        else:
            if self._p["shape"] is None:
                self._fail("the output dimensions are not set")
            shape = list(self._p["shape"])
        if any(d < 0 for d in shape):
            self._fail(f"output dimensions {shape} have a negative value")
        rank = len(shape)
        if op == "LINSPACE":
            if not dynamic and rank != 1:
                self._fail(f"LINSPACE with static alpha/beta needs a 1-D output, got {rank} dimensions: set alpha and "
                           f"beta as tensors (inputs 1 and 2) for an N-D output")
            if dynamic:
                if alpha_t.numel() != 1:
                    self._fail(f"LINSPACE start (input 1) must be a scalar, got shape {list(alpha_t.shape)}")
                if not ((beta_t.dim() == 1 and beta_t.shape[0] == rank) or (beta_t.dim() == 0 and rank == 1)):
                    self._fail(f"LINSPACE delta (input 2) must be a 1-D tensor of {rank} values, got shape "
                               f"{list(beta_t.shape)}")
        else:
            if dynamic and (alpha_t.numel() != 1 or beta_t.numel() != 1):
                self._fail(f"{op} alpha and beta (inputs 1 and 2) must be scalars")
        volume = 1
        for d in shape:
            volume *= d
        if (dynamic and (alpha_t.is_meta or beta_t.is_meta)) or (ctx.analysis and (op != "LINSPACE"
                                                                                   or volume > _FOLD_LIMIT)):
            # Random values are never folded into build-time constants, nor large ranges computed while analysing.
            return [torch.empty(shape, dtype=out_type, device="meta")]
        if dynamic:
            alpha, beta = alpha_t.reshape(-1)[0], beta_t.reshape(-1)
        else:
            alpha, beta = torch.tensor(self._p["alpha"]), torch.tensor([self._p["beta"]])
        if op == "LINSPACE":
            exact = not out_type.is_floating_point and not alpha.is_floating_point() and not beta.is_floating_point()
            acc = torch.int64 if exact else torch.float64
            out = torch.full(shape, 0, dtype=acc) + alpha.to(acc)
            for k in range(rank):
                view = [1] * rank
                view[k] = -1
                out = out + beta[k].to(acc) * torch.arange(shape[k], dtype=acc).view(view)
            return [out.to(out_type)]
        gen = getattr(self, "_generator", None)
        if gen is None:
            gen = self._generator = torch.Generator().manual_seed(0)
        a, b = float(alpha), float(beta[0])
        if op == "RANDOM_UNIFORM":
            out = torch.rand(shape, generator=gen, dtype=torch.float32) * (b - a) + a
        else:
            out = torch.randn(shape, generator=gen, dtype=torch.float32) * b + a
        return [out.to(out_type)]


@network_method
def add_fill(self, shape, op, output_type=DataType.FLOAT):
    if not isinstance(output_type, DataType):
        raise TypeError(f"add_fill: output_type must be trt.DataType, got {type(output_type).__name__}")
    return IFillLayer(self, [], shape=shape, operation=op, to_type=output_type)

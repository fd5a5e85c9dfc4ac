"""TopK layer (ITopKLayer). NvInfer.h `ITopKLayer` and `addTopK`; Cookbook TopK (case_simple, case_deprecated,
case_shape_input, case_dds).

- Two outputs of the same shape: the values, sorted largest first (MAX) or smallest first (MIN), and their indices
  along the axis. Of equal values the one with the smaller index comes first (Cookbook TopK README).
- `axes` selects exactly one dimension, one of the last four. 1 <= k <= min(3840, axis length).
- k is static (`k`, from add_topk) or dynamic: `set_input(1, t)` with a 0-D integer tensor, which overrides the
  static value; `k` then reads -1, and setting `k` removes input 1 (NvInfer.h). A k from a shape-tensor input is known
  once the input values are set (Cookbook case_shape_input); a k computed from execution tensors makes the output
  shape data-dependent (case_dds: the dimension stays -1 until the run).
- Indices are INT32 by default; TensorRT 11 has `indices_type` (INT32 or INT64; any other value logs an error and
  leaves it unchanged) and the five-argument add_topk.
- Input types: INT32, INT64, HALF, FLOAT, BF16 (Cookbook TopK README). The header calls the k input "a scalar Int32
  tensor"; reftrt also accepts INT64 (TensorRT 11's Shape layer produces INT64), which no recorded case decides.
"""
import torch

from .. import _version
from .._enums import DataType, TopKOperation
from .._graph import ILayer, Param
from .._types import torch_dtype
from ._common import enum_param, int_param, network_method, tensor_arg
from .reduce import mask_axes, mask_param

__all__ = ["ITopKLayer"]

_TYPES = (torch.int32, torch.int64, torch.float16, torch.float32, torch.bfloat16)
MAX_K = 3840


class ITopKLayer(ILayer):
    _layer_type = "TOPK"
    _type_str = "TopK"
    _value_inputs = (1,)
    _shape_inputs = (1,)
    op = Param(TopKOperation.MAX, enum_param(TopKOperation))
    axes = Param(0, mask_param)
    # Stored privately: the public `k` and `indices_type` behave as the bindings do (see the properties below).
    _k = Param(1, int_param)
    _indices_type = Param(DataType.INT32)

    def __init__(self, network, inputs, **params):
        super().__init__(network, inputs, num_outputs=2, **params)

    @property
    def k(self):
        return -1 if self._dynamic_k() else self._p["_k"]

    @k.setter
    def k(self, value):
        self._p["_k"] = int_param(value)
        del self._inputs[1:]  # "If a second input to this layer has been set, it will be reset to null"
        self._network._changed(self)

    @property
    def indices_type(self):
        return self._p["_indices_type"]

    @indices_type.setter
    def indices_type(self, value):
        if not isinstance(value, DataType):
            raise TypeError(f"indices_type: expected trt.DataType, got {type(value).__name__}")
        if value not in (DataType.INT32, DataType.INT64):
            self._network._log_error(f"{self._name}: ITopKLayer::setIndicesType: indices type must be INT32 or "
                                     f"INT64, got {value}")
            return
        self._p["_indices_type"] = value
        self._network._changed(self)

    def _max_inputs(self):
        return 2

    def _dynamic_k(self):
        return len(self._inputs) > 1 and self._inputs[1] is not None

    def _forward(self, inputs, ctx):
        x = inputs[0]
        if x.dtype not in _TYPES:
            self._fail(f"TopK does not accept {x.dtype} inputs (INT32, INT64, HALF, FLOAT or BF16)")
        axes = mask_axes(self, self.axes, x.dim())
        if len(axes) != 1:
            self._fail(f"axes bitmask {self.axes:#x} must select exactly one axis")
        axis = axes[0]
        if axis < x.dim() - 4:
            self._fail(f"the TopK axis must be one of the last four dimensions, got axis {axis} of rank {x.dim()}")
        length = x.shape[axis]
        k_input = inputs[1] if len(inputs) > 1 else None
        if k_input is not None:
            if k_input.dtype not in (torch.int32, torch.int64) or k_input.dim() != 0:
                self._fail(f"the k input must be a 0-D INT32 tensor, got {k_input.dtype} of shape "
                           f"{list(k_input.shape)}")
            if k_input.is_meta:
                k = ctx.unknown_size(min(length, MAX_K)) if ctx.analysis else None
            else:
                k = int(k_input)
        else:
            k = self._p["_k"]
        if not ctx.analysis or k_input is None or not k_input.is_meta:
            if not 1 <= k <= MAX_K:
                self._fail(f"k = {k} is outside [1, {MAX_K}]")
            if k > length:
                self._fail(f"k = {k} exceeds the length {length} of axis {axis}")
        index_dtype = torch_dtype(self._p["_indices_type"])
        shape = list(x.shape)
        shape[axis] = k
        if x.is_meta or k_input is not None and k_input.is_meta:
            return [torch.empty(shape, dtype=x.dtype, device="meta"),
                    torch.empty(shape, dtype=index_dtype, device="meta")]
        # A stable sort keeps equal values in index order, so the smaller index wins ties.
        values, indices = torch.sort(x, dim=axis, descending=self.op == TopKOperation.MAX, stable=True)
        return [values.narrow(axis, 0, k).contiguous(), indices.narrow(axis, 0, k).to(index_dtype)]


if _version.IS_11:
    @network_method
    def add_topk(self, input, op, k, axes, indices_type=None):
        layer = ITopKLayer(self, [tensor_arg(input, "add_topk")], op=op, axes=axes, _k=k)
        if indices_type is not None:
            layer.indices_type = indices_type
        return layer
else:
    @network_method
    def add_topk(self, input, op, k, axes):
        return ITopKLayer(self, [tensor_arg(input, "add_topk")], op=op, axes=axes, _k=k)

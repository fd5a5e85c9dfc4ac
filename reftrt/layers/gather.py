"""Gather layer (IGatherLayer). NvInfer.h `IGatherLayer` and `GatherMode`; Cookbook Gather (case_default_mode,
case_default_mode_num_elementwise_axis_1, case_element_mode, case_nd_mode, case_nd_mode_num_elementwise_axis_1,
case_gather_nonzeros).

- DEFAULT (ONNX Gather): output = data.shape[:axis] + indices.shape + data.shape[axis+1:]. With
  num_elementwise_dims = 1 the leading dimension of data and indices is handled elementwise (and broadcast when one
  of them is 1): output = [B] + data.shape[1:axis] + indices.shape[1:] + data.shape[axis+1:].
- ELEMENT (ONNX GatherElements): output[J] = data[J with J[axis] replaced by indices[J]]; indices have the rank of
  data and no dimension larger than data's outside `axis`.
- ND (ONNX GatherND): the last indices dimension k must be known while building; with b = num_elementwise_dims
  leading batch dimensions (equal in data and indices, no broadcast), output = indices.shape[:-1] +
  data.shape[b+k:].
- Indices are INT32 or INT64. A negative index counts from the end of its axis (Cookbook cases use -1 in DEFAULT
  and ND modes); an index still out of range reads 0 ("Zero will be stored for OOB access").
- The axis must be within [0, rank(data)); the header documents no negative axis.
"""
import torch

from .._enums import GatherMode
from .._graph import ILayer, Param
from ._common import enum_param, int_param, network_method, tensor_arg

__all__ = ["IGatherLayer"]


def _wrap(indices, size):
    """Indices with negative values counted from the end, and the mask of those within [0, size)."""
    idx = indices.to(torch.int64)
    idx = torch.where(idx < 0, idx + size, idx)
    valid = (idx >= 0) & (idx < size)
    return torch.where(valid, idx, torch.zeros_like(idx)), valid


def _zero_invalid(out, valid, lead, trail):
    """Zero the outputs of out-of-range indices; `valid` covers dims [lead, lead + valid.dim())."""
    if bool(valid.all()):
        return out
    mask = valid.reshape([1] * lead + list(valid.shape) + [1] * trail)
    return torch.where(mask, out, torch.zeros((), dtype=out.dtype))


class IGatherLayer(ILayer):
    _layer_type = "GATHER"
    _type_str = "Gather"
    _upcast = False
    axis = Param(0, int_param)
    num_elementwise_dims = Param(0, int_param)
    mode = Param(GatherMode.DEFAULT, enum_param(GatherMode))

    def _forward(self, inputs, ctx):
        data, indices = inputs[0], inputs[1]
        if indices.dtype not in (torch.int32, torch.int64):
            self._fail(f"indices must be INT32 or INT64, got {indices.dtype}")
        r = data.dim()
        if r < 1:
            self._fail("data must have rank >= 1")
        mode, ned = self.mode.name, self.num_elementwise_dims
        if mode == "DEFAULT":
            return [self._default(data, indices, ned)]
        if mode == "ELEMENT":
            return [self._element(data, indices, ned)]
        return [self._nd(data, indices, ned)]

    def _check_axis(self, r):
        axis = self.axis
        if not 0 <= axis < r:
            self._fail(f"gather axis {axis} is out of range for data of rank {r}")
        return axis

    def _default(self, data, indices, ned):
        r, axis = data.dim(), self._check_axis(data.dim())
        if ned not in (0, 1):
            self._fail(f"num_elementwise_dims must be 0 or 1 in GatherMode.DEFAULT, got {ned}")
        if ned == 0:
            shape = list(data.shape[:axis]) + list(indices.shape) + list(data.shape[axis + 1:])
            if data.is_meta or indices.is_meta:
                return torch.empty(shape, dtype=data.dtype, device="meta")
            idx, valid = _wrap(indices, data.shape[axis])
            moved = data.movedim(axis, 0)
            g = moved[idx] if data.shape[axis] else moved.new_zeros(list(idx.shape) + list(moved.shape[1:]))
            # g: indices dims, then data dims without axis (pre, post); bring pre to the front.
            q = indices.dim()
            order = list(range(q, q + axis)) + list(range(q)) + list(range(q + axis, g.dim()))
            out = g.permute(order)
            return _zero_invalid(out, valid, axis, r - 1 - axis).contiguous()
        if axis < 1:
            self._fail("with num_elementwise_dims = 1 the gather axis must be at least 1")
        if indices.dim() < 1:
            self._fail("with num_elementwise_dims = 1 the indices must have rank >= 1")
        b0, b1 = data.shape[0], indices.shape[0]
        if b0 != b1 and b0 != 1 and b1 != 1:
            self._fail(f"the elementwise dimension of data ({b0}) and indices ({b1}) must match or be 1")
        batch = b1 if b0 == 1 else b0
        shape = [batch] + list(data.shape[1:axis]) + list(indices.shape[1:]) + list(data.shape[axis + 1:])
        if data.is_meta or indices.is_meta:
            return torch.empty(shape, dtype=data.dtype, device="meta")
        d = data.expand([batch] + list(data.shape[1:]))
        idx, valid = _wrap(indices.expand([batch] + list(indices.shape[1:])), data.shape[axis])
        moved = d.movedim(axis, 1)  # (B, D_axis, pre..., post...)
        rows = torch.arange(batch).reshape([batch] + [1] * (idx.dim() - 1))
        if data.shape[axis]:
            g = moved[rows, idx]  # (B, I..., pre..., post...)
        else:
            g = moved.new_zeros(list(idx.shape) + list(moved.shape[2:]))
        qi = idx.dim() - 1
        pre = axis - 1
        order = [0] + list(range(1 + qi, 1 + qi + pre)) + list(range(1, 1 + qi)) + list(range(1 + qi + pre, g.dim()))
        out = g.permute(order)
        out = torch.where(valid.reshape([batch] + [1] * pre + list(valid.shape[1:]) + [1] * (r - 1 - axis)), out,
                          torch.zeros((), dtype=out.dtype))
        return out.contiguous()

    def _element(self, data, indices, ned):
        r, axis = data.dim(), self._check_axis(data.dim())
        if ned != 0:
            self._fail(f"num_elementwise_dims must be 0 in GatherMode.ELEMENT, got {ned}")
        if indices.dim() != r:
            self._fail(f"GatherMode.ELEMENT needs indices of the data's rank {r}, got rank {indices.dim()}")
        for d in range(r):
            if d != axis and indices.shape[d] > data.shape[d]:
                self._fail(f"indices dimension {d} ({indices.shape[d]}) exceeds the data's ({data.shape[d]})")
        if data.is_meta or indices.is_meta:
            return torch.empty(indices.shape, dtype=data.dtype, device="meta")
        idx, valid = _wrap(indices, data.shape[axis])
        if data.shape[axis] == 0:
            return torch.zeros(indices.shape, dtype=data.dtype)
        out = torch.gather(data, axis, idx)
        return torch.where(valid, out, torch.zeros((), dtype=out.dtype))

    def _nd(self, data, indices, ned):
        r, q = data.dim(), indices.dim()
        if q < 1:
            self._fail("GatherMode.ND needs indices of rank >= 1")
        if not 0 <= ned < r:
            self._fail(f"num_elementwise_dims must be within [0, {r - 1}] in GatherMode.ND, got {ned}")
        if ned > q - 1:
            self._fail(f"num_elementwise_dims {ned} exceeds the {q - 1} leading dimensions of the indices")
        k = indices.shape[-1]
        if ned + k > r:
            self._fail(f"the last indices dimension ({k}) plus num_elementwise_dims ({ned}) exceeds the data rank {r}")
        if list(data.shape[:ned]) != list(indices.shape[:ned]):
            self._fail(f"the first {ned} dimensions of data {list(data.shape)} and indices {list(indices.shape)} "
                       f"must be equal")
        shape = list(indices.shape[:-1]) + list(data.shape[ned + k:])
        if data.is_meta or indices.is_meta:
            return torch.empty(shape, dtype=data.dtype, device="meta")
        batch = 1
        for d in data.shape[:ned]:
            batch *= d
        sizes = list(data.shape[ned:ned + k])
        tail = list(data.shape[ned + k:])
        idx = indices.reshape(batch, -1, k).to(torch.int64)
        valid = torch.ones(idx.shape[:2], dtype=torch.bool)
        linear = torch.zeros(idx.shape[:2], dtype=torch.int64)
        for j, size in enumerate(sizes):
            w, ok = _wrap(idx[..., j], size)
            valid &= ok
            linear = linear * size + w
        volume = 1
        for s in sizes:
            volume *= s
        flat = data.reshape([batch, volume] + tail)
        if volume == 0:
            out = flat.new_zeros([batch, idx.shape[1]] + tail)
        else:
            out = flat[torch.arange(batch).unsqueeze(1), torch.where(valid, linear, torch.zeros_like(linear))]
        out = torch.where(valid.reshape(list(valid.shape) + [1] * len(tail)), out, torch.zeros((), dtype=out.dtype))
        return out.reshape(shape)


@network_method
def add_gather(self, input, indices, axis):
    return IGatherLayer(self, [tensor_arg(input, "add_gather"), tensor_arg(indices, "add_gather")],
                        axis=axis, mode=GatherMode.DEFAULT)


@network_method
def add_gather_v2(self, input, indices, mode):
    return IGatherLayer(self, [tensor_arg(input, "add_gather_v2"), tensor_arg(indices, "add_gather_v2")], mode=mode)

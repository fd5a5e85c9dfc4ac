"""Non-maximum suppression layer (INMSLayer). Follows NvInfer.h `INMSLayer` / `BoundingBoxFormat`, the Python
docstrings of INMSLayer and add_nms, and Cookbook NMS (case_simple, case_deprecated).

Inputs: 0 boxes [B, N, 4] (shared by every class) or [B, N, C, 4]; 1 scores [B, N, C] (same type as the boxes:
FLOAT, HALF or BF16); 2 MaxOutputBoxesPerClass, an INT32 scalar; optional 3 IoUThreshold and 4 ScoreThreshold,
FLOAT scalars, both 0 by default. Per batch item:
1. the (box, class) pairs whose score exceeds ScoreThreshold (strictly) are sorted by decreasing score, across
   classes, and only the first `topk_box_limit` are kept (the "filtered boxes considered for selection");
2. in that order, a pair is selected unless its class already has MaxOutputBoxesPerClass selected boxes or its box
   overlaps a selected box of the same class with IoU > IoUThreshold (selected boxes have IoU <= the threshold);
   boxes of different classes never suppress each other.
Outputs: 0 SelectedIndices [K, 3] of (batch, class, box), in increasing batch and then decreasing score order
(`indices_type`, INT32 by default, INT64 in 11.x); 1 NumOutputBoxes, an INT32 scalar K. K is data-dependent:
definition-time shapes read (-1, 3), as NMS.log shows; its upper bound is B * C * min(N, MaxOutputBoxesPerClass)
when that input is a build-time constant, else B * C * N.

Boxes are (x1, y1, x2, y2) with any pair of diagonal corners (CORNER_PAIRS), or (x_center, y_center, width, height)
(CENTER_SIZES). IoU is computed in float32; a zero-area union gives IoU 0. Equal scores keep the order of the flat
(box, class) index, the same on every run (TensorRT: "unspecified, but consistent across runs").
"""
import numpy as np
import torch

from .. import _version
from .._enums import BoundingBoxFormat, DataType
from .._graph import ILayer, Param
from .._types import torch_dtype
from ._common import enum_param, int_param, network_method, tensor_arg

__all__ = ["INMSLayer"]

# TensorRT's device limit on topk_box_limit (2000 on SM 5.3 / 6.2, which reftrt does not emulate).
TOPK_MAX = 5000
# Rows of the IoU matrix computed at a time (bounds the temporary memory).
_CHUNK = 1024


def _indices_type(value):
    if not isinstance(value, DataType):
        raise TypeError(f"expected trt.DataType, got {type(value).__name__}")
    return value


def _valid_indices_type(network, value, what):
    """add_nms / add_non_zero with an indices type other than INT32 / INT64 log an error and return None."""
    value = _indices_type(value)
    if value not in (DataType.INT32, DataType.INT64):
        network._log_error(f"INetworkDefinition::{what}: the indices type must be INT32 or INT64, got {value}")
        return False
    return True


class _IndicesType(Param):
    """`indices_type`: INT32 or INT64; any other type is an error and leaves it unchanged (setIndicesType)."""

    def __init__(self):
        self.default, self.convert, self.attr = DataType.INT32, _indices_type, None

        def get(layer):
            return layer._p[self.attr]

        def set_(layer, value):
            value = _indices_type(value)
            if value not in (DataType.INT32, DataType.INT64):
                layer._network._log_error(f"{layer.name}: setIndicesType: the indices type must be INT32 or INT64, "
                                          f"got {value}; it is not updated")
                return
            layer._p[self.attr] = value
            layer._network._changed(layer)

        property.__init__(self, get, set_)


def corners(boxes, fmt):
    """[..., 4] boxes -> (x1, y1, x2, y2) with x1 <= x2 and y1 <= y2, float32."""
    b = boxes.to(torch.float32)
    if fmt == "CENTER_SIZES":
        half_w, half_h = b[..., 2] * 0.5, b[..., 3] * 0.5
        a0, a1, a2, a3 = b[..., 0] - half_w, b[..., 1] - half_h, b[..., 0] + half_w, b[..., 1] + half_h
    else:
        a0, a1, a2, a3 = b.unbind(-1)
    return torch.stack([torch.minimum(a0, a2), torch.minimum(a1, a3), torch.maximum(a0, a2),
                        torch.maximum(a1, a3)], -1)


def iou_matrix(a, b):
    """IoU of corner boxes a [M, 4] with b [K, 4] -> [M, K]."""
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    w = (torch.minimum(a[:, None, 2], b[None, :, 2]) - torch.maximum(a[:, None, 0], b[None, :, 0])).clamp(min=0)
    h = (torch.minimum(a[:, None, 3], b[None, :, 3]) - torch.maximum(a[:, None, 1], b[None, :, 1])).clamp(min=0)
    inter = w * h
    union = area_a[:, None] + area_b[None, :] - inter
    return torch.where(union > 0, inter / torch.where(union > 0, union, torch.ones(())), torch.zeros(()))


def nms(boxes, scores, max_per_class, iou_threshold=0.0, score_threshold=0.0, fmt="CORNER_PAIRS",
        topk=TOPK_MAX):
    """TensorRT's NMS on real tensors: an int64 [K, 3] tensor of (batch, class, box)."""
    n_batch, n_box, n_class = scores.shape
    per_class = boxes.dim() == 4
    rows = []
    for b in range(n_batch):
        flat = scores[b].to(torch.float32).reshape(-1)  # index n * C + c
        keep = torch.nonzero(flat > score_threshold).reshape(-1)
        if keep.numel() == 0 or max_per_class <= 0:
            continue
        order = torch.sort(flat[keep], descending=True, stable=True).indices[:topk]
        cand = keep[order]
        box_idx, cls_idx = cand // n_class, cand % n_class
        cb = corners(boxes[b, box_idx, cls_idx] if per_class else boxes[b, box_idx], fmt)
        m = cand.numel()
        same = cls_idx[:, None] == cls_idx[None, :]
        over = np.empty((m, m), dtype=bool)
        for start in range(0, m, _CHUNK):
            stop = min(start + _CHUNK, m)
            hit = (iou_matrix(cb[start:stop], cb) > iou_threshold) & same[start:stop]
            over[start:stop] = hit.numpy()
        classes = cls_idx.numpy()
        count = np.zeros(n_class, dtype=np.int64)
        suppressed = np.zeros(m, dtype=bool)
        chosen = []
        for i in range(m):
            c = classes[i]
            if suppressed[i] or count[c] >= max_per_class:
                continue
            chosen.append(i)
            count[c] += 1
            suppressed |= over[i]
        if chosen:
            sel = torch.tensor(chosen, dtype=torch.int64)
            rows.append(torch.stack([torch.full_like(sel, b), cls_idx[sel], box_idx[sel]], 1))
    if not rows:
        return torch.zeros((0, 3), dtype=torch.int64)
    return torch.cat(rows)


def _scalar(t, what, layer, dtype):
    if t is None:
        return None
    if t.dim() != 0:
        layer._fail(f"{what} must be a scalar (0-D tensor), got shape {list(t.shape)}")
    if t.dtype != dtype:
        layer._fail(f"{what} must be {dtype}, got {t.dtype}")
    return t


class INMSLayer(ILayer):
    _layer_type = "NMS"
    _type_str = "NMS"
    # The value of MaxOutputBoxesPerClass, when a build-time constant, bounds the output size.
    _value_inputs = (2,)
    bounding_box_format = Param(BoundingBoxFormat.CORNER_PAIRS, enum_param(BoundingBoxFormat))
    topk_box_limit = Param(TOPK_MAX, int_param)
    indices_type = _IndicesType()

    def _max_inputs(self):
        return 5

    def _forward(self, inputs, ctx):
        inputs = list(inputs) + [None] * (5 - len(inputs))
        boxes, scores, max_out = inputs[0], inputs[1], inputs[2]
        if boxes is None or scores is None or max_out is None:
            self._fail("the boxes, scores and MaxOutputBoxesPerClass inputs (0, 1, 2) are required")
        if boxes.dtype not in (torch.float32, torch.float16, torch.bfloat16):
            self._fail(f"boxes must be FLOAT, HALF or BF16, got {boxes.dtype}")
        if scores.dtype != boxes.dtype:
            self._fail(f"scores type {scores.dtype} differs from boxes type {boxes.dtype}")
        if scores.dim() != 3:
            self._fail(f"scores must be [batchSize, numInputBoundingBoxes, numClasses], got {list(scores.shape)}")
        n_batch, n_box, n_class = scores.shape
        if boxes.dim() == 3:
            expected = [n_batch, n_box, 4]
        elif boxes.dim() == 4:
            expected = [n_batch, n_box, n_class, 4]
        else:
            expected = None
        if expected is None or list(boxes.shape) != expected:
            self._fail(f"boxes must be [{n_batch}, {n_box}, 4] or [{n_batch}, {n_box}, {n_class}, 4] for scores "
                       f"{list(scores.shape)}, got {list(boxes.shape)}")
        _scalar(max_out, "MaxOutputBoxesPerClass (input 2)", self, torch.int32)
        iou_t = _scalar(inputs[3], "IoUThreshold (input 3)", self, torch.float32)
        score_t = _scalar(inputs[4], "ScoreThreshold (input 4)", self, torch.float32)
        limit = self.topk_box_limit
        if not 0 < limit <= TOPK_MAX:
            self._fail(f"topk_box_limit {limit} must be in [1, {TOPK_MAX}]")
        # Through _p: in the 10.3 API the property does not exist (INT32 only).
        out_type = torch_dtype(self._p.get("indices_type", DataType.INT32))
        if ctx.analysis:
            bound = n_box if max_out.is_meta else max(0, min(n_box, int(max_out)))
            count = ctx.unknown_size(n_batch * n_class * bound)
            return [torch.empty((count, 3), dtype=out_type, device="meta"),
                    torch.empty((), dtype=torch.int32, device="meta")]
        selected = nms(boxes, scores, int(max_out), 0.0 if iou_t is None else float(iou_t),
                       0.0 if score_t is None else float(score_t), self.bounding_box_format.name, limit)
        return [selected.to(out_type), torch.tensor(selected.shape[0], dtype=torch.int32)]


if _version.IS_11:
    @network_method
    def add_nms(self, boxes, scores, max_output_boxes_per_class, indices_type=None):
        if indices_type is not None and not _valid_indices_type(self, indices_type, "addNMS"):
            return None
        layer = INMSLayer(self, [tensor_arg(boxes, "add_nms"), tensor_arg(scores, "add_nms"),
                                 tensor_arg(max_output_boxes_per_class, "add_nms")], num_outputs=2)
        if indices_type is not None:
            layer.indices_type = indices_type
        return layer
else:
    @network_method
    def add_nms(self, boxes, scores, max_output_boxes_per_class):
        return INMSLayer(self, [tensor_arg(boxes, "add_nms"), tensor_arg(scores, "add_nms"),
                                tensor_arg(max_output_boxes_per_class, "add_nms")], num_outputs=2)

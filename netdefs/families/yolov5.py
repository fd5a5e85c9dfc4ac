"""YOLOv5 (ultralytics/yolov5 v7.0, anchor-based): n / s / m / l / x, the P6 variants n6 ... x6, the v5.0
Focus / SPP variant, and the segmentation variant (-seg).

The architecture tables below are the YOLOv5 yaml files (models/yolov5s.yaml, models/hub/yolov5s6.yaml,
models/segment/yolov5s-seg.yaml), read top to bottom: Backbone, Neck ("head" in YOLOv5's yaml, up to the
detection layer), Head. `define` walks them like YOLOv5's `parse_model`, over the blocks of netdefs/layers/yolo.py. Number of classes, anchors and strides
come from the weights, not from constants.

Head outputs (`head=`):
- "raw": the detection-conv maps, (batch, anchors, ny, nx, 5 + classes) per level, as YOLOv5's `model(x)[1]`.
- "decode": (batch, anchors * cells, 5 + classes [+ 32 mask coefficients]) as YOLOv5's `model(x)[0]`.
- "nms" (default): `num_dets` (batch, 1), `boxes` (batch, max_det, 4) x1y1x2y2 in input pixels, `scores`
  (batch, max_det), `classes` (batch, max_det), ordered by decreasing score, as
  `yolov5.utils.general.non_max_suppression` (single label per box, per-class NMS).
Decoding uses native layers, not a plugin: the same engine then builds on TensorRT 10.3 (JetPack 6), which has no
`tensorrt.plugin`, and TensorRT fuses the pointwise chain. NMS is TensorRT's INMSLayer, followed by native layers
that pack its (batch, class, box) index list into fixed-size per-image outputs.
"""
import math
import warnings

import numpy as np

from ..errors import ModelMismatch
from ..family import Family, check_choice, check_count, check_unit_interval
from ..layers.ops import (activation, arange, cast, concat, constant, conv2d, elementwise, gather, gather_nd,
                          interpolate, matmul, nms, reduce, select, shape, shape_of, shuffle, slice_axis)
from ..layers.yolo import C3, SPP, SPPF, Conv, Focus

VARIANTS = {"n": (0.33, 0.25), "s": (0.33, 0.50), "m": (0.67, 0.75), "l": (1.0, 1.0), "x": (1.33, 1.25)}
MAX_DET = 10000  # detections per image kept at most: the packed outputs are (batch, max_det, ...)
BLOCKS = {"Conv": Conv, "C3": C3, "SPPF": SPPF, "SPP": SPP, "Focus": Focus}

# ---- models/yolov5s.yaml (v6.0+): [from, number, module, args]
BACKBONE_P5 = [
    [-1, 1, "Conv", [64, 6, 2, 2]],  # 0-P1/2
    [-1, 1, "Conv", [128, 3, 2]],  # 1-P2/4
    [-1, 3, "C3", [128]],
    [-1, 1, "Conv", [256, 3, 2]],  # 3-P3/8
    [-1, 6, "C3", [256]],
    [-1, 1, "Conv", [512, 3, 2]],  # 5-P4/16
    [-1, 9, "C3", [512]],
    [-1, 1, "Conv", [1024, 3, 2]],  # 7-P5/32
    [-1, 3, "C3", [1024]],
    [-1, 1, "SPPF", [1024, 5]],  # 9
]
NECK_P5 = [
    [-1, 1, "Conv", [512, 1, 1]],
    [-1, 1, "Upsample", [None, 2, "nearest"]],
    [[-1, 6], 1, "Concat", [1]],  # cat backbone P4
    [-1, 3, "C3", [512, False]],  # 13
    [-1, 1, "Conv", [256, 1, 1]],
    [-1, 1, "Upsample", [None, 2, "nearest"]],
    [[-1, 4], 1, "Concat", [1]],  # cat backbone P3
    [-1, 3, "C3", [256, False]],  # 17 (P3/8-small)
    [-1, 1, "Conv", [256, 3, 2]],
    [[-1, 14], 1, "Concat", [1]],  # cat head P4
    [-1, 3, "C3", [512, False]],  # 20 (P4/16-medium)
    [-1, 1, "Conv", [512, 3, 2]],
    [[-1, 10], 1, "Concat", [1]],  # cat head P5
    [-1, 3, "C3", [1024, False]],  # 23 (P5/32-large)
]
HEAD_P5 = [[17, 20, 23], 1, "Detect", []]  # Detect(P3, P4, P5)
ANCHORS_P5 = [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119], [116, 90, 156, 198, 373, 326]]

# ---- models/hub/yolov5s6.yaml
BACKBONE_P6 = [
    [-1, 1, "Conv", [64, 6, 2, 2]],  # 0-P1/2
    [-1, 1, "Conv", [128, 3, 2]],  # 1-P2/4
    [-1, 3, "C3", [128]],
    [-1, 1, "Conv", [256, 3, 2]],  # 3-P3/8
    [-1, 6, "C3", [256]],
    [-1, 1, "Conv", [512, 3, 2]],  # 5-P4/16
    [-1, 9, "C3", [512]],
    [-1, 1, "Conv", [768, 3, 2]],  # 7-P5/32
    [-1, 3, "C3", [768]],
    [-1, 1, "Conv", [1024, 3, 2]],  # 9-P6/64
    [-1, 3, "C3", [1024]],
    [-1, 1, "SPPF", [1024, 5]],  # 11
]
NECK_P6 = [
    [-1, 1, "Conv", [768, 1, 1]],
    [-1, 1, "Upsample", [None, 2, "nearest"]],
    [[-1, 8], 1, "Concat", [1]],  # cat backbone P5
    [-1, 3, "C3", [768, False]],  # 15
    [-1, 1, "Conv", [512, 1, 1]],
    [-1, 1, "Upsample", [None, 2, "nearest"]],
    [[-1, 6], 1, "Concat", [1]],  # cat backbone P4
    [-1, 3, "C3", [512, False]],  # 19
    [-1, 1, "Conv", [256, 1, 1]],
    [-1, 1, "Upsample", [None, 2, "nearest"]],
    [[-1, 4], 1, "Concat", [1]],  # cat backbone P3
    [-1, 3, "C3", [256, False]],  # 23 (P3/8-small)
    [-1, 1, "Conv", [256, 3, 2]],
    [[-1, 20], 1, "Concat", [1]],  # cat head P4
    [-1, 3, "C3", [512, False]],  # 26 (P4/16-medium)
    [-1, 1, "Conv", [512, 3, 2]],
    [[-1, 16], 1, "Concat", [1]],  # cat head P5
    [-1, 3, "C3", [768, False]],  # 29 (P5/32-large)
    [-1, 1, "Conv", [768, 3, 2]],
    [[-1, 12], 1, "Concat", [1]],  # cat head P6
    [-1, 3, "C3", [1024, False]],  # 32 (P6/64-xlarge)
]
HEAD_P6 = [[23, 26, 29, 32], 1, "Detect", []]
ANCHORS_P6 = [[19, 27, 44, 40, 38, 94], [96, 68, 86, 152, 180, 137], [140, 301, 303, 264, 238, 542],
              [436, 615, 739, 380, 925, 792]]

# ---- yolov5s.yaml at release v5.0: Focus stem, SPP, C3 after SPP.
BACKBONE_V50 = [
    [-1, 1, "Focus", [64, 3]],  # 0-P1/2
    [-1, 1, "Conv", [128, 3, 2]],  # 1-P2/4
    [-1, 3, "C3", [128]],
    [-1, 1, "Conv", [256, 3, 2]],  # 3-P3/8
    [-1, 9, "C3", [256]],
    [-1, 1, "Conv", [512, 3, 2]],  # 5-P4/16
    [-1, 9, "C3", [512]],
    [-1, 1, "Conv", [1024, 3, 2]],  # 7-P5/32
    [-1, 1, "SPP", [1024, [5, 9, 13]]],
    [-1, 3, "C3", [1024, False]],  # 9
]

ARCHITECTURES = {
    "p5": (BACKBONE_P5, NECK_P5, HEAD_P5, ANCHORS_P5, (8, 16, 32)),
    "p6": (BACKBONE_P6, NECK_P6, HEAD_P6, ANCHORS_P6, (8, 16, 32, 64)),
    "v5.0": (BACKBONE_V50, NECK_P5, HEAD_P5, ANCHORS_P5, (8, 16, 32)),
}


def detect_index(arch):
    backbone, neck = ARCHITECTURES[arch][:2]
    return len(backbone) + len(neck)


def _make_divisible(x, divisor=8):
    return math.ceil(x / divisor) * divisor


def describe_yolov5(shapes):
    """Which YOLOv5 model a state_dict is: (name, num_classes), from its names and shapes alone."""
    # Element counts, not shapes: tensorrtx .wts files store every tensor flat.
    counts = {k: int(np.prod(s)) for k, s in shapes.items()}
    # The stem has 108 weights per output channel either way: 3 × 6 × 6 (v6+) or Focus's 12 × 3 × 3 (v5.0).
    if "model.0.conv.conv.weight" in counts:
        arch, c0 = "v5.0", counts["model.0.conv.conv.weight"] // 108
    elif "model.0.conv.weight" in counts:
        arch, c0 = ("p6" if any(k.startswith("model.33.") for k in counts) else "p5"), counts["model.0.conv.weight"] // 108
    else:
        raise ModelMismatch("these weights are not a YOLOv5 model (no model.0.conv weights)")
    if "model.2.cv3.conv.weight" not in counts:  # C3; ultralytics' YOLOv8 / YOLO11 have C2f / C3k2 there
        raise ModelMismatch("these weights are not a YOLOv5 model (model.2 is not a C3 block)")
    width = c0 / 64
    depth_count = len({k.split(".")[3] for k in counts if k.startswith("model.2.m.")})
    variant = next((v for v, (gd, gw) in VARIANTS.items()
                    if math.isclose(gw, width) and max(round(3 * gd), 1) == depth_count), None)
    if variant is None:
        raise ModelMismatch(f"YOLOv5 weights with width {width:g} and depth {depth_count} match no n/s/m/l/x variant")
    d = detect_index(arch)
    seg = f"model.{d}.proto.cv1.conv.weight" in counts
    if f"model.{d}.m.0.bias" not in counts:
        raise ModelMismatch(f"these weights are not a YOLOv5 model (no Detect head model.{d}.m.0)")
    na = len(ANCHORS_P5[0]) // 2
    no = counts[f"model.{d}.m.0.bias"] // na
    nc = no - 5 - (32 if seg else 0)
    suffix = {"p5": "", "p6": "6", "v5.0": "-v5.0"}[arch] + ("-seg" if seg else "")
    return f"yolov5{variant}{suffix}", nc


class YOLOv5(Family):
    name = "yolov5"
    reference = "yolov5 7.0.14 DetectionModel / SegmentationModel"
    task = "detect"
    models = tuple(f"yolov5{v}{suffix}" for suffix in ("", "6", "-seg", "-v5.0") for v in VARIANTS)
    imgsz = 640
    demo_classes = 80
    options = {"head": "nms", "score_threshold": 0.25, "iou_threshold": 0.45, "max_det": 300}
    heads = ("raw", "decode", "nms")
    compare_options = {"head": "raw"}  # forward hooks see Detect's convolutions; NMS has no module to compare with

    def parse(self, name):
        """'yolov5s6' -> ('s', 'p6', False); 'yolov5n-seg' -> ('n', 'p5', True); 'yolov5s-v5.0' -> ('s', 'v5.0',
        False)."""
        rest = name[len("yolov5"):]
        return rest[0], {"": "p5", "6": "p6", "-seg": "p5", "-v5.0": "v5.0"}[rest[1:]], rest[1:] == "-seg"

    def stride_of(self, variant):
        return ARCHITECTURES[variant[1]][4][-1]  # 32 (P5), 64 (P6)

    def describe(self, shapes):
        return describe_yolov5(shapes)

    def check_options(self, options):
        check_choice("head", options["head"], self.heads)
        check_unit_interval("score_threshold", options["score_threshold"])
        check_unit_interval("iou_threshold", options["iou_threshold"])
        check_count("max_det", options["max_det"], 1, MAX_DET)

    def quant_defaults(self, variant):
        """INT8 fallbacks: the detection convolutions (`model.24.m.*`) stay out of INT8: their outputs are the boxes
        and scores themselves (ModelOpt and TensorRT's YOLO samples keep the head in higher precision). The
        segmentation variant's proto head too."""
        d = detect_index(variant[1])
        return [(f"model.{d}.m.*", "fp16"), (f"model.{d}.proto.cv3.*", "fp16")]

    def preprocess(self, variant, imgsz):
        return {"letterbox": True, "stride": ARCHITECTURES[variant[1]][4][-1], "scale": 1 / 255, "rgb": True}

    def define(self, net, variant, x, num_classes, head, score_threshold, iou_threshold, max_det):
        """Backbone and neck as the yaml says, then the Detect head (and Segment's prototypes) and the chosen
        outputs; returns the sidecar's detection metadata (strides, anchors, head, thresholds)."""
        size, arch, seg = variant
        gd, gw = VARIANTS[size]
        backbone, neck, detect, _, strides = ARCHITECTURES[arch]
        d = detect_index(arch)
        outputs = []
        for i, (source, number, module, args) in enumerate(backbone + neck):
            inputs = [outputs[s] if s >= 0 else (outputs[-1] if outputs else x)
                      for s in (source if isinstance(source, list) else [source])]
            n = max(round(number * gd), 1) if number > 1 else number
            prefix = f"model.{i}"
            if module == "Upsample":
                y = interpolate(net, inputs[0], prefix, scale_factor=args[1], mode="nearest")
            elif module == "Concat":
                y = concat(net, inputs, prefix, axis=args[0])
            else:
                c2 = _make_divisible(args[0] * gw)
                if module == "Conv":
                    y = Conv(net, inputs[0], prefix, c2, *args[1:4])
                elif module == "C3":
                    y = C3(net, inputs[0], prefix, c2, n, *args[1:2])
                elif module == "SPP":
                    y = SPP(net, inputs[0], prefix, c2, tuple(args[1]))
                else:
                    y = BLOCKS[module](net, inputs[0], prefix, c2, args[1])
            outputs.append(y)

        levels = [outputs[s] for s in detect[0]]
        anchors = _anchors(net, d, len(levels), strides)
        info = {"strides": list(strides), "anchors": anchors.tolist(), "head": head}
        raw = [_detect_conv(net, level, f"model.{d}.m.{i}", anchors.shape[1], num_classes, seg)
               for i, level in enumerate(levels)]
        proto = _proto(net, levels[0], f"model.{d}.proto", _make_divisible(256 * gw)) if seg else None
        if head == "raw":
            for i, r in enumerate(raw):
                net.output(r, f"raw{i}")
            info["outputs"] = [f"raw{i}" for i in range(len(raw))]
        else:
            pred = _decode(net, raw, f"model.{d}", anchors, strides, num_classes, seg)
            if head == "decode":
                net.output(pred, "pred")
                info["outputs"] = ["pred"]
            else:
                _nms_head(net, pred, f"model.{d}.nms", num_classes, score_threshold, iou_threshold, max_det, seg)
                info["outputs"] = ["num_dets", "boxes", "scores", "classes"] + (["mask_coefficients"] if seg else [])
                info.update(score_threshold=score_threshold, iou_threshold=iou_threshold, max_det=max_det)
        if seg:
            net.output(proto, "proto")
            info["outputs"].append("proto")
        net.weights.mark_used(f"model.{d}.anchors", f"model.{d}.anchor_grid", f"model.{d}.strides")
        return info


def _anchors(net, d, nl, strides):
    """Anchors in input pixels, (levels, anchors, 2): from `anchor_grid` (tensorrtx's gen_wts) or `anchors` × stride
    (YOLOv5 stores anchors divided by the stride)."""
    weights = net.weights
    if weights.has(f"model.{d}.strides"):  # tensorrtx's gen_wts stores them: they must be this architecture's
        found = np.asarray(weights.get(f"model.{d}.strides", None, dtype=np.float64)).reshape(-1)
        if found.tolist() != [float(s) for s in strides]:
            raise ModelMismatch(f"model.{d}.strides in the weights are {found.tolist()}, this architecture's are "
                                f"{list(strides)}")
    if weights.has(f"model.{d}.anchor_grid"):
        return np.asarray(weights.get(f"model.{d}.anchor_grid", None, dtype=np.float64)).reshape(nl, -1, 2)
    if weights.has(f"model.{d}.anchors"):
        anchors = np.asarray(weights.get(f"model.{d}.anchors", None, dtype=np.float64))
        return anchors.reshape(nl, -1, 2) * np.asarray(strides, dtype=np.float64).reshape(-1, 1, 1)
    if not getattr(weights, "demo", False):  # demo weights have no anchors, and say so loudly already
        warnings.warn(f"the weights have no model.{d}.anchors: using the YOLOv5 yaml's default anchors")
    return np.asarray(ARCHITECTURES["p6" if nl == 4 else "p5"][3], dtype=np.float64).reshape(nl, -1, 2)


def _detect_conv(net, x, prefix, na, nc, seg):
    """Detection conv, reshaped to (batch, anchors, ny, nx, outputs) as YOLOv5's Detect.forward does."""
    no = nc + 5 + (32 if seg else 0)
    y = conv2d(net, x, prefix, na * no, 1, bias=True)
    ny, nx = shape_of(y)[2:]
    return shuffle(net, y, f"{prefix}.view", reshape=(0, na, no, ny, nx), second=(0, 1, 3, 4, 2))


def _decode(net, raw, prefix, anchors, strides, nc, seg):
    """YOLOv5 Detect inference: xy = (2·σ + grid − 0.5)·stride, wh = (2·σ)²·anchor, conf = σ; masks stay raw."""
    levels = []
    for i, r in enumerate(raw):
        p = f"{prefix}.decode{i}"
        _, na, ny, nx, no = shape_of(r)
        xy = slice_axis(net, r, f"{p}.xy", 4, 0, 2)
        wh = slice_axis(net, r, f"{p}.wh", 4, 2, 2)
        conf = slice_axis(net, r, f"{p}.conf", 4, 4, nc + 1)
        yv, xv = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
        grid = (np.stack((xv, yv), 2) - 0.5).reshape(1, 1, ny, nx, 2)
        two = constant(net, np.full((1, 1, 1, 1, 1), 2.0), f"{p}.two")
        xy = activation(net, xy, f"{p}.xy.sigmoid", "sigmoid")
        xy = elementwise(net, xy, two, f"{p}.xy.x2", "prod")
        xy = elementwise(net, xy, constant(net, grid, f"{p}.grid"), f"{p}.xy.grid", "sum")
        xy = elementwise(net, xy, constant(net, np.full((1, 1, 1, 1, 1), strides[i]), f"{p}.stride"),
                         f"{p}.xy.stride", "prod")
        wh = activation(net, wh, f"{p}.wh.sigmoid", "sigmoid")
        wh = elementwise(net, wh, two, f"{p}.wh.x2", "prod")
        wh = elementwise(net, wh, wh, f"{p}.wh.square", "prod")
        wh = elementwise(net, wh, constant(net, anchors[i].reshape(1, na, 1, 1, 2), f"{p}.anchor_grid"),
                         f"{p}.wh.anchor", "prod")
        parts = [xy, wh, activation(net, conf, f"{p}.conf.sigmoid", "sigmoid")]
        if seg:
            parts.append(slice_axis(net, r, f"{p}.mask", 4, 5 + nc, 32))
        y = concat(net, parts, f"{p}.cat", axis=4)
        levels.append(shuffle(net, y, f"{p}.view", reshape=(0, na * ny * nx, no)))
    return concat(net, levels, f"{prefix}.decode", axis=1)


def _proto(net, x, prefix, npr):
    """Segment head's mask prototypes: Conv 3×3 → nearest ×2 → Conv 3×3 → Conv 1×1 (32 masks). `npr` prototype
    channels: Segment's npr=256 scaled by the width multiple, as parse_model does."""
    y = Conv(net, x, f"{prefix}.cv1", npr, 3)
    y = interpolate(net, y, f"{prefix}.upsample", scale_factor=2, mode="nearest")
    y = Conv(net, y, f"{prefix}.cv2", npr, 3)
    return Conv(net, y, f"{prefix}.cv3", 32, 1)


def _nms_head(net, pred, prefix, nc, score_threshold, iou_threshold, max_det, seg):
    """`non_max_suppression(pred, conf_thres, iou_thres, max_det=max_det)` (single label per box, per-class NMS),
    packed into fixed-size per-image outputs: num_dets (B, 1), boxes (B, max_det, 4) x1y1x2y2, scores, classes
    (-1 in empty slots) [, mask_coefficients (B, max_det, 32)]."""
    if pred.dtype != net.trt.DataType.FLOAT:
        pred = cast(net, pred, f"{prefix}.float", "float32")
    f32, i32 = np.float32, np.int32
    obj = slice_axis(net, pred, f"{prefix}.obj", 2, 4, 1)
    # conf = obj_conf * cls_conf; multi_label=False: only each box's best class keeps its score
    conf = elementwise(net, slice_axis(net, pred, f"{prefix}.cls", 2, 5, nc), obj, f"{prefix}.conf", "prod")
    best = reduce(net, conf, f"{prefix}.best", "max", (2,))
    zero = constant(net, np.zeros((1, 1, 1)), f"{prefix}.zero", f32)
    scores = select(net, elementwise(net, conf, best, f"{prefix}.is_best", "equal"), conf, zero,
                    f"{prefix}.best_scores")
    # xywh2xyxy as one matrix product: [x, y, w, h] @ M = [x - w/2, y - h/2, x + w/2, y + h/2]
    to_xyxy = np.array([[1, 0, 1, 0], [0, 1, 0, 1], [-0.5, 0, 0.5, 0], [0, -0.5, 0, 0.5]], dtype=f32)
    boxes = matmul(net, slice_axis(net, pred, f"{prefix}.xywh", 2, 0, 4),
                   constant(net, to_xyxy.reshape(1, 4, 4), f"{prefix}.xywh2xyxy", f32), f"{prefix}.xyxy")
    # torchvision.ops.batched_nms per image and class, conf > conf_thres, at most max_det per image
    selected, total = nms(net, boxes, scores, f"{prefix}.select", max_det, iou_threshold, score_threshold,
                          min(5000, shape_of(pred)[1]))  # (K, 3) rows (image, class, box), sorted by image, score

    # Pack: image b's rows are the contiguous run from start[b] = #rows of earlier images, per_image[b] long.
    rows = concat(net, [selected, constant(net, np.zeros((1, 3)), f"{prefix}.pad_row", i32)], f"{prefix}.rows", 0)
    row_image = shuffle(net, gather(net, selected, 0, f"{prefix}.batch_ids", axis=1), f"{prefix}.batch_ids.row",
                        reshape=(1, -1))
    n_images = slice_axis(net, shape(net, pred, f"{prefix}.pred_shape"), f"{prefix}.n_images", 0, 0, 1)
    image = shuffle(net, arange(net, n_images, f"{prefix}.images"), f"{prefix}.images.col", reshape=(-1, 1))

    def rows_where(op, name):  # per image: how many rows have an image index `op` (equal / less) than it
        hits = cast(net, elementwise(net, row_image, image, f"{name}.cmp", op), f"{name}.int", "int32")
        return reduce(net, hits, name, "sum", (1,))

    per_image, start = rows_where("equal", f"{prefix}.per_image"), rows_where("less", f"{prefix}.start")  # (B, 1)
    slots = constant(net, np.arange(max_det).reshape(1, max_det), f"{prefix}.slots", i32)
    valid = elementwise(net, slots, per_image, f"{prefix}.valid", "less")  # (B, max_det)
    index = elementwise(net, start, slots, f"{prefix}.row_index", "sum")
    index = elementwise(net, index, shuffle(net, total, f"{prefix}.total", reshape=(1, 1)),
                        f"{prefix}.row_index.clamp", "min")  # empty slots point at the zero pad row
    picked = gather(net, rows, index, f"{prefix}.picked", axis=0)  # (B, max_det, 3)

    def column(cols, name):
        return gather(net, picked, np.array(cols, dtype=i32), name, axis=2)

    valid3 = shuffle(net, valid, f"{prefix}.valid3", reshape=(0, 0, 1))
    zeros2, zeros3 = constant(net, np.zeros((1, 1)), f"{prefix}.zeros", f32), constant(net, np.zeros((1, 1, 1)),
                                                                                      f"{prefix}.zeros3", f32)
    det_boxes = gather_nd(net, boxes, column([0, 2], f"{prefix}.batch_box"), f"{prefix}.det_boxes")
    det_scores = gather_nd(net, scores, column([0, 2, 1], f"{prefix}.batch_box_class"), f"{prefix}.det_scores")
    net.output(select(net, valid3, det_boxes, zeros3, f"{prefix}.out_boxes"), "boxes")
    net.output(select(net, valid, det_scores, zeros2, f"{prefix}.out_scores"), "scores")
    net.output(select(net, valid, column(1, f"{prefix}.det_classes"),
                      constant(net, np.full((1, 1), -1), f"{prefix}.minus_one", i32), f"{prefix}.out_classes"),
               "classes")
    net.output(elementwise(net, per_image, constant(net, np.full((1, 1), max_det), f"{prefix}.max_det2", i32),
                           f"{prefix}.num", "min"), "num_dets")
    if seg:
        # non_max_suppression multiplies every column from 5 on by the objectness, the mask coefficients included
        # (`x[:, 5:] *= x[:, 4:5]`), and YOLOv5's mask pipeline uses them so: do the same, for identical masks.
        coeffs = elementwise(net, slice_axis(net, pred, f"{prefix}.coeffs_raw", 2, 5 + nc, 32), obj,
                             f"{prefix}.coeffs", "prod")
        det_coeffs = gather_nd(net, coeffs, column([0, 2], f"{prefix}.batch_box2"), f"{prefix}.det_coeffs")
        net.output(select(net, valid3, det_coeffs, zeros3, f"{prefix}.mask_coefficients"), "mask_coefficients")


FAMILY = YOLOv5()

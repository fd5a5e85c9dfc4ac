"""YOLOv8, YOLO11 and YOLO26 from ultralytics 8.4.x: n / s / m / l / x, each as a detector, -seg (instance
segmentation: boxes with mask coefficients, and the prototypes), -cls (classification), -pose (keypoints) and -obb
(oriented boxes).

The tables below are ultralytics' yaml files (cfg/models/v8/yolov8.yaml, yolov8-seg.yaml, yolov8-cls.yaml,
cfg/models/11/yolo11*.yaml, cfg/models/26/yolo26*.yaml), with their scales (depth, width, max_channels); the -pose
and -obb yamls repeat the detector's rows and scales and change only the head (Pose / Pose26 [nc, kpt_shape],
OBB / OBB26 [nc, 1]), built from netdefs/layers/ultralytics_pose_obb.py; `define`
walks them as ultralytics' `parse_model` does, over the blocks of netdefs/layers/ultralytics.py. Class count and task
come from the weights; strides from the architecture (8, 16, 32: the P3-P5 outputs); reg_max from the generation
(16 bins of DFL, YOLO26: 1, no DFL).

A -seg model's task is "detect" (as yolov5-seg): its outputs are detections, plus the prototypes ("proto") that
masks are made from; the project's "segment" task is per-pixel semantic segmentation. -pose models have the task
"pose", -obb models "obb". The keypoint layout (17 x 3 in every published model) comes from the width of the
keypoint convolution; demo weights use COCO's.

Head outputs (`head=`; default "nms", YOLO26 "end2end"):
- "raw": the per-level maps raw{i}, (batch, 4·reg_max + classes [+ 32], ny, nx): the box, class (and mask coefficient)
  convolutions of each level, concatenated along channels.
- "decode": "pred" (batch, 4 + classes [+ 32], anchors) as ultralytics' model(x)[0] (with model.end2end False):
  xywh boxes in input pixels, sigmoid class scores, raw mask coefficients.
- "nms": num_dets (batch, 1), boxes (batch, max_det, 4) x1y1x2y2, scores, classes [, mask_coefficients
  (batch, max_det, 32)], as ultralytics.utils.nms.non_max_suppression (best class per box, per-class NMS).
- "end2end" (YOLO26): the one-to-one head and its own top-k selection instead of NMS, the same outputs, equal to
  ultralytics' model(x)[0] with model.end2end = True followed by non_max_suppression's score filter.
Segmentation models add "proto" (batch, 32, H/4, W/4); classification models output "logits".
Pose and OBB (`ultralytics_pose_obb`'s recipe): "raw" adds the cv4 branch flat over anchors ("kpts" undecoded, or
"angle" in radians, as ultralytics' prediction dict); "decode" is PoseModel's / OBBModel's model(x)[0] (keypoints
decoded, or the angle after the class scores, boxes rotated xywh); "nms" adds "keypoints" (batch, max_det, 17, 3),
or gives OBB's boxes (batch, max_det, 5) xywhr from the rotated (Fast-)NMS of non_max_suppression(rotated=True),
whose candidate list is `candidates` long (default 1024; with a dynamic image size at most the MIN size's anchor
count); "end2end" (YOLO26) the one-to-one branch's top-k, keypoints or xywhr boxes included.
Decoding uses native layers and computes the anchors from the feature-map sizes at run time, so the family builds on
a dynamic image size (one engine for 320 ... 1280).
"""
import math

import numpy as np

from ..errors import ModelMismatch, UserError
from ..family import Family, check_choice, check_count, check_unit_interval, count
from ..layers.ops import (cast, concat, constant, elementwise, gather, gather_elements, gather_nd, matmul, nms,
                          reduce, reshape, select, shape, shape_of, shuffle, slice_axis, topk, interpolate, arange)
from ..layers import ultralytics_pose_obb as po
from ..layers.ultralytics import (BN_EPS, CLASSIFY_BN_EPS, C2PSA, C2f, C3k2, DFL, SPPF, Classify, Conv, Proto,
                                  Proto26, decode_boxes, detect_maps, flat_levels, make_anchors, sigmoid)

MAX_DET = 10000
STRIDES = (8, 16, 32)
NM = 32  # mask coefficients per box (Segment's nm)
MAX_WH = 7680  # non_max_suppression's per-class box offset (pixels)

# ---- (depth, width, max_channels) per scale, from each yaml's `scales`
SCALES = {
    "v8": {"n": (0.33, 0.25, 1024), "s": (0.33, 0.50, 1024), "m": (0.67, 0.75, 768), "l": (1.00, 1.00, 512),
           "x": (1.00, 1.25, 512)},
    "v8-cls": {"n": (0.33, 0.25, 1024), "s": (0.33, 0.50, 1024), "m": (0.67, 0.75, 1024), "l": (1.00, 1.00, 1024),
               "x": (1.00, 1.25, 1024)},
    "11": {"n": (0.50, 0.25, 1024), "s": (0.50, 0.50, 1024), "m": (0.50, 1.00, 512), "l": (1.00, 1.00, 512),
           "x": (1.00, 1.50, 512)},
}
SCALES["26"] = SCALES["11"]

# ---- cfg/models/v8/yolov8.yaml: [from, number, module, args]
BACKBONE_V8 = [
    [-1, 1, "Conv", [64, 3, 2]],  # 0-P1/2
    [-1, 1, "Conv", [128, 3, 2]],  # 1-P2/4
    [-1, 3, "C2f", [128, True]],
    [-1, 1, "Conv", [256, 3, 2]],  # 3-P3/8
    [-1, 6, "C2f", [256, True]],
    [-1, 1, "Conv", [512, 3, 2]],  # 5-P4/16
    [-1, 6, "C2f", [512, True]],
    [-1, 1, "Conv", [1024, 3, 2]],  # 7-P5/32
    [-1, 3, "C2f", [1024, True]],
    [-1, 1, "SPPF", [1024, 5]],  # 9
]
HEAD_V8 = [
    [-1, 1, "Upsample", [None, 2, "nearest"]],
    [[-1, 6], 1, "Concat", [1]],  # cat backbone P4
    [-1, 3, "C2f", [512]],  # 12
    [-1, 1, "Upsample", [None, 2, "nearest"]],
    [[-1, 4], 1, "Concat", [1]],  # cat backbone P3
    [-1, 3, "C2f", [256]],  # 15 (P3/8-small)
    [-1, 1, "Conv", [256, 3, 2]],
    [[-1, 12], 1, "Concat", [1]],  # cat head P4
    [-1, 3, "C2f", [512]],  # 18 (P4/16-medium)
    [-1, 1, "Conv", [512, 3, 2]],
    [[-1, 9], 1, "Concat", [1]],  # cat head P5
    [-1, 3, "C2f", [1024]],  # 21 (P5/32-large)
    [[15, 18, 21], 1, "Detect", ["nc"]],  # Detect(P3, P4, P5); -seg: Segment [nc, 32, 256]
]
# cfg/models/v8/yolov8-cls.yaml: the backbone without SPPF, then Classify
BACKBONE_V8_CLS = BACKBONE_V8[:9]

# ---- cfg/models/11/yolo11.yaml
BACKBONE_11 = [
    [-1, 1, "Conv", [64, 3, 2]],  # 0-P1/2
    [-1, 1, "Conv", [128, 3, 2]],  # 1-P2/4
    [-1, 2, "C3k2", [256, False, 0.25]],
    [-1, 1, "Conv", [256, 3, 2]],  # 3-P3/8
    [-1, 2, "C3k2", [512, False, 0.25]],
    [-1, 1, "Conv", [512, 3, 2]],  # 5-P4/16
    [-1, 2, "C3k2", [512, True]],
    [-1, 1, "Conv", [1024, 3, 2]],  # 7-P5/32
    [-1, 2, "C3k2", [1024, True]],
    [-1, 1, "SPPF", [1024, 5]],  # 9
    [-1, 2, "C2PSA", [1024]],  # 10
]
HEAD_11 = [
    [-1, 1, "Upsample", [None, 2, "nearest"]],
    [[-1, 6], 1, "Concat", [1]],  # cat backbone P4
    [-1, 2, "C3k2", [512, False]],  # 13
    [-1, 1, "Upsample", [None, 2, "nearest"]],
    [[-1, 4], 1, "Concat", [1]],  # cat backbone P3
    [-1, 2, "C3k2", [256, False]],  # 16 (P3/8-small)
    [-1, 1, "Conv", [256, 3, 2]],
    [[-1, 13], 1, "Concat", [1]],  # cat head P4
    [-1, 2, "C3k2", [512, False]],  # 19 (P4/16-medium)
    [-1, 1, "Conv", [512, 3, 2]],
    [[-1, 10], 1, "Concat", [1]],  # cat head P5
    [-1, 2, "C3k2", [1024, True]],  # 22 (P5/32-large)
    [[16, 19, 22], 1, "Detect", ["nc"]],  # Detect(P3, P4, P5); -seg: Segment [nc, 32, 256]
]
# cfg/models/11/yolo11-cls.yaml (and 26/yolo26-cls.yaml, the same table): no SPPF, C2PSA at 9, then Classify
BACKBONE_11_CLS = BACKBONE_11[:9] + [[-1, 2, "C2PSA", [1024]]]

# ---- cfg/models/26/yolo26.yaml (end2end: True, reg_max: 1)
BACKBONE_26 = BACKBONE_11[:9] + [
    [-1, 1, "SPPF", [1024, 5, 3, True]],  # 9
    [-1, 2, "C2PSA", [1024]],  # 10
]
HEAD_26 = [
    [-1, 1, "Upsample", [None, 2, "nearest"]],
    [[-1, 6], 1, "Concat", [1]],  # cat backbone P4
    [-1, 2, "C3k2", [512, True]],  # 13
    [-1, 1, "Upsample", [None, 2, "nearest"]],
    [[-1, 4], 1, "Concat", [1]],  # cat backbone P3
    [-1, 2, "C3k2", [256, True]],  # 16 (P3/8-small)
    [-1, 1, "Conv", [256, 3, 2]],
    [[-1, 13], 1, "Concat", [1]],  # cat head P4
    [-1, 2, "C3k2", [512, True]],  # 19 (P4/16-medium)
    [-1, 1, "Conv", [512, 3, 2]],
    [[-1, 10], 1, "Concat", [1]],  # cat head P5
    [-1, 1, "C3k2", [1024, True, 0.5, True]],  # 22 (P5/32-large)
    [[16, 19, 22], 1, "Detect", ["nc"]],  # Detect(P3, P4, P5); -seg: Segment26 [nc, 32, 256]
]

# generation -> (backbone, head, classification backbone, reg_max, end2end)
GENERATIONS = {
    "v8": (BACKBONE_V8, HEAD_V8, BACKBONE_V8_CLS, 16, False),
    "11": (BACKBONE_11, HEAD_11, BACKBONE_11_CLS, 16, False),
    "26": (BACKBONE_26, HEAD_26, BACKBONE_11_CLS, 1, True),
}
PREFIXES = {"v8": "yolov8", "11": "yolo11", "26": "yolo26"}
KINDS = {"": "detect", "-seg": "segment", "-cls": "classify", "-pose": "pose", "-obb": "obb"}
SUFFIXES = {kind: suffix for suffix, kind in KINDS.items()}
KPT_SHAPE = (17, 3)  # COCO keypoints (x, y, visibility): yolov8/11/26-pose.yaml's kpt_shape
CLASSIFY_PREPROCESS = {"resize": "shorter side to imgsz, bilinear", "resize_ratio": 1.0, "center_crop": True,
                       "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0], "scale": 1 / 255, "rgb": True,
                       "done_by": "host (tools/infer.py, netdefs/tasks); not in the network"}


def make_divisible(x, divisor=8):
    return math.ceil(x / divisor) * divisor


def layers_of(gen, kind):
    """The table rows of a variant, the head row last."""
    backbone, head, cls_backbone = GENERATIONS[gen][:3]
    if kind == "classify":
        return cls_backbone + [[-1, 1, "Classify", ["nc"]]]
    return backbone + head


def head_index(gen, kind):
    return len(layers_of(gen, kind)) - 1


# ---- which model a state_dict is, from names and element counts (tensorrtx .wts files store tensors flat)
def describe_ultralytics(shapes):
    names = set(shapes)
    c0 = count(shapes, "model.0.conv.weight")
    if c0 is None or c0 % 27:
        raise ModelMismatch("these weights are no ultralytics YOLOv8 / YOLO11 / YOLO26 model (no 3x3 model.0.conv)")
    c0 //= 27
    found = None
    for gen in ("v8", "11"):  # YOLO26's layer indices are YOLO11's: told apart below
        for kind in ("detect", "classify"):
            d = head_index(gen, kind)
            key = f"model.{d}.linear.bias" if kind == "classify" else f"model.{d}.cv3.0.2.bias"
            if key not in names and kind != "classify":
                key = f"model.{d}.one2one_cv3.0.2.bias"  # a YOLO26 checkpoint fused to its end-to-end head
            if key in names:
                found = (gen, kind if kind == "classify" else _head_kind(shapes, d), count(shapes, key))
                break
        if found:
            break
    if found is None:
        raise ModelMismatch("these weights are no ultralytics YOLOv8 / YOLO11 / YOLO26 model (no Detect, Segment or "
                            "Classify head at the layer index of these architectures)")
    gen, kind, nc = found
    if gen == "11" and kind != "classify" and "model.22.m.0.1.attn.qkv.conv.weight" in names:
        gen = "26"  # YOLO26's last C3k2 holds attention; its layer indices are YOLO11's
    blocks = len({k.split(".")[3] for k in names if k.startswith("model.2.m.")})
    scales = SCALES["v8-cls" if (gen, kind) == ("v8", "classify") else gen]
    scale = next((s for s, (depth, width, mc) in scales.items()
                  if make_divisible(min(64, mc) * width) == c0 and max(round(depth * GENERATIONS[gen][0][2][1]), 1)
                  == blocks), None)
    if scale is None:
        raise ModelMismatch(f"ultralytics {PREFIXES[gen]} weights with {c0} stem channels and {blocks} blocks in "
                            f"model.2 match no n/s/m/l/x scale")
    return f"{PREFIXES[gen]}{scale}{SUFFIXES[kind]}", nc


def _head_kind(shapes, d):
    """Detect, Segment, Pose or OBB from the head's extra branch: Segment has prototypes; Pose26 a separate 1x1
    keypoint conv (cv4_kpts); Pose's cv4 ends in nkpt·ndim channels, OBB's in one (the angle)."""
    names = set(shapes)
    if f"model.{d}.proto.cv1.conv.weight" in names:
        return "segment"
    for branch in ("", "one2one_"):
        if f"model.{d}.{branch}cv4_kpts.0.bias" in names:
            return "pose"
        extra = count(shapes, f"model.{d}.{branch}cv4.0.2.bias")
        if extra is not None:
            return "obb" if extra == 1 else "pose"
    return "detect"


def kpt_shape_of(weights, d):
    """(keypoints, dims) from the width of the keypoint conv; demo weights have no shapes: COCO's (17, 3). A width
    divisible by 3 is read as x, y, visibility (as every published pose model), else x, y."""
    if getattr(weights, "demo", False):
        return KPT_SHAPE
    for name in (f"model.{d}.cv4.0.2.bias", f"model.{d}.cv4_kpts.0.bias", f"model.{d}.one2one_cv4.0.2.bias",
                 f"model.{d}.one2one_cv4_kpts.0.bias"):
        if weights.has(name):
            nk = int(np.prod(weights.shape(name)))
            return (nk // 3, 3) if nk % 3 == 0 else (nk // 2, 2)
    raise ModelMismatch(f"these weights have no keypoint convolution (model.{d}.cv4 / cv4_kpts)")


class Ultralytics(Family):
    name = "ultralytics"
    reference = "ultralytics 8.4.x DetectionModel / SegmentationModel / ClassificationModel / PoseModel / OBBModel"
    task = "detect"
    models = tuple(f"{PREFIXES[g]}{s}{suffix}" for g in PREFIXES for suffix in KINDS for s in "nsmlx")
    imgsz = 640
    stride = 32
    demo_classes = 80
    # head None: "nms", or YOLO26's "end2end"; iou 0.7, conf 0.25, max_det 300 are ultralytics' predict defaults
    # candidates: OBB only, the length of rotated NMS's candidate list (None: po.rotated_nms's 1024)
    options = {"head": None, "score_threshold": 0.25, "iou_threshold": 0.7, "max_det": 300, "candidates": None}
    heads = ("raw", "decode", "nms", "end2end")  # the `head` option's values (tools/build.py's --head choices)
    compare_options = {"head": "raw"}  # forward hooks see the head's convolutions; NMS has no module to compare with
    dynamic_imgsz = True

    def parse(self, name):
        """'yolo11s-seg' -> ('11', 's', 'segment')."""
        for gen, prefix in PREFIXES.items():
            if name.startswith(prefix):
                rest = name[len(prefix):]
                return gen, rest[0], KINDS[rest[1:]]
        raise ModelMismatch(f"unknown ultralytics model {name!r}")

    def task_of(self, variant):
        # -seg stays "detect": its outputs are detections (plus prototypes), not a per-pixel class map
        return {"classify": "classify", "pose": "pose", "obb": "obb"}.get(variant[2], "detect")

    def demo_classes_of(self, variant):
        # the class counts of ultralytics' own checkpoints: ImageNet classifiers, one-class (person) pose models,
        # DOTA v1's 15 classes for OBB
        return {"classify": 1000, "pose": 1, "obb": 15}.get(variant[2], self.demo_classes)

    def image_size(self, imgsz, variant=None):
        if imgsz is None and variant is not None and variant[2] == "classify":
            imgsz = 224  # ultralytics trains and predicts its classifiers at 224
        return super().image_size(imgsz, variant)

    def describe(self, shapes):
        return describe_ultralytics(shapes)

    def check_weights(self, model, shapes):
        # yolo26-cls.yaml is yolo11-cls.yaml row for row: their weights cannot be told apart, and either name builds
        found, num_classes = self.describe(shapes)
        if found.replace("yolo26", "yolo11") == model.name.replace("yolo26", "yolo11") and found.endswith("-cls"):
            return num_classes
        return super().check_weights(model, shapes)

    def check_options(self, options):
        if options["head"] is not None:
            check_choice("head", options["head"], self.heads)
        if options["candidates"] is not None:
            check_count("candidates", options["candidates"], 1, po.MAX_CANDIDATES)
        check_unit_interval("score_threshold", options["score_threshold"])
        check_unit_interval("iou_threshold", options["iou_threshold"])
        check_count("max_det", options["max_det"], 1, MAX_DET)

    def quant_defaults(self, variant):
        """INT8 fallbacks: the last convolution of each head branch (box distances, class logits, mask coefficients:
        their outputs are the detections themselves), the prototypes' output conv and the classifier stay out of
        INT8; DFL and the decoding have no convolution and run in the remainder precision."""
        gen, _, kind = variant
        d = head_index(gen, kind)
        if kind == "classify":
            return [(f"model.{d}.linear", "fp16")]
        extra = po.quant_defaults(d) if kind in ("pose", "obb") else []  # keypoint offsets and angles, whole branch
        return [(f"model.{d}.{branch}cv{i}.*.2", "fp16") for branch in ("", "one2one_") for i in (2, 3, 4)] + \
               [(f"model.{d}.proto.cv3", "fp16")] + extra

    def preprocess(self, variant, imgsz):
        if variant[2] == "classify":
            return dict(CLASSIFY_PREPROCESS)
        return {"letterbox": True, "stride": 32, "scale": 1 / 255, "rgb": True}

    def define(self, net, variant, x, num_classes, head, score_threshold, iou_threshold, max_det, candidates):
        gen, scale, kind = variant
        reg_max, end2end = GENERATIONS[gen][3:]
        net.bn_eps = CLASSIFY_BN_EPS if kind == "classify" else BN_EPS
        if kind == "classify":
            if head not in (None, "raw"):  # "raw" (compare_options): a classifier's raw output is its logits
                raise UserError(f"{PREFIXES[gen]}{scale}-cls is a classifier: its only output is the logits "
                                f"(head {head!r} is a detection head)")
            feats = backbone(net, x, gen, scale, kind)
            net.output(Classify(net, feats[-1], f"model.{len(feats)}", num_classes), "logits")
            return {"outputs": ["logits"]}
        if candidates is not None and kind != "obb":
            raise UserError("candidates (the rotated NMS candidate list) is an option of -obb models only")
        head = head or ("end2end" if end2end else "nms")
        if head == "end2end" and not end2end:
            raise UserError(f"{PREFIXES[gen]} has no end-to-end head (YOLO26 has): use head nms")
        d = head_index(gen, kind)
        rows = layers_of(gen, kind)
        feats = backbone(net, x, gen, scale, kind)
        levels = [feats[i] for i in rows[-1][0]]
        nm = NM if kind == "segment" else 0
        legacy = gen == "v8"  # parse_model: the DWConv class branch came with C3k2 (YOLO11 on)
        branch = "one2one_" if head == "end2end" else ""
        if branch == "" and end2end and not net.weights.has(f"model.{d}.cv2.0.0.conv.weight") \
                and net.weights.has(f"model.{d}.one2one_cv2.0.0.conv.weight"):
            raise ModelMismatch(f"these {PREFIXES[gen]} weights hold only the end-to-end head (fused): use head "
                                f"end2end")
        maps = detect_maps(net, levels, f"model.{d}", num_classes, reg_max, legacy, nm, branch)
        info = {"strides": list(STRIDES), "reg_max": reg_max, "head": head}
        if kind in ("pose", "obb"):
            info.update(_pose_obb_head(net, gen, kind, d, levels, maps, num_classes, reg_max, head, branch,
                                       score_threshold, iou_threshold, max_det, candidates))
            _mark_unused(net, d, gen, kind, branch, end2end)
            return info
        if head == "raw":
            for i, parts in enumerate(maps):
                net.output(concat(net, [p for p in parts if p is not None], f"model.{d}.raw{i}"), f"raw{i}")
            info["outputs"] = [f"raw{i}" for i in range(len(maps))]
        else:
            pred = _decode(net, maps, f"model.{d}", reg_max, num_classes, xywh=head != "end2end")
            if head == "decode":
                net.output(pred, "pred")
                info["outputs"] = ["pred"]
            else:
                if head == "nms":
                    _nms_head(net, pred, f"model.{d}.nms", num_classes, score_threshold, iou_threshold, max_det, nm)
                else:
                    _end2end_head(net, pred, f"model.{d}.end2end", num_classes, score_threshold, max_det, nm)
                info["outputs"] = ["num_dets", "boxes", "scores", "classes"] + (["mask_coefficients"] if nm else [])
                info.update(score_threshold=score_threshold, max_det=max_det,
                            **({"iou_threshold": iou_threshold} if head == "nms" else {}))
        if nm:
            _, width, mc = SCALES[gen][scale]
            npr = make_divisible(min(256, mc) * width)
            proto = (Proto26(net, levels, f"model.{d}.proto", npr, NM) if gen == "26"
                     else Proto(net, levels[0], f"model.{d}.proto", npr, NM))
            net.output(proto, "proto")
            info["outputs"].append("proto")
        _mark_unused(net, d, gen, kind, branch, end2end)
        return info


def _mark_unused(net, d, gen, kind, branch, end2end):
    """The weights of branches that inference does not run (the other YOLO26 head, Proto26's training-only
    semantic branch): read by nothing, but part of the model, so a strict load does not call them unknown."""
    if not hasattr(net.weights, "names"):
        return
    unused = [f"model.{d}.dfl."]  # the fixed DFL projection: a constant in the network, whatever the head
    if end2end:
        unused.append(f"model.{d}.{'one2one_' if branch == '' else ''}cv")
    if gen == "26" and kind == "segment":
        unused.append(f"model.{d}.proto.semseg.")
    if kind == "pose" and not getattr(net.weights, "demo", False):
        po.mark_training_only(net, d)  # Pose26's keypoint sigma branch and flow model serve its loss only
    names = [n for n in net.weights.names() if any(n.startswith(u) for u in unused)]
    if names:
        net.weights.mark_used(*names)


def backbone(net, x, gen, scale, kind):
    """Every table row but the head, as parse_model builds them: the outputs of each row."""
    depth, width, max_channels = SCALES["v8-cls" if (gen, kind) == ("v8", "classify") else gen][scale]
    outputs = []
    for i, (source, number, module, args) in enumerate(layers_of(gen, kind)[:-1]):
        inputs = [outputs[s] if s >= 0 else (outputs[-1] if outputs else x)
                  for s in (source if isinstance(source, list) else [source])]
        n = max(round(number * depth), 1) if number > 1 else number
        prefix = f"model.{i}"
        if module == "Upsample":
            y = interpolate(net, inputs[0], prefix, scale_factor=args[1], mode="nearest")
        elif module == "Concat":
            y = concat(net, inputs, prefix, axis=args[0])
        else:
            c2 = make_divisible(min(args[0], max_channels) * width)
            if module == "Conv":
                y = Conv(net, inputs[0], prefix, c2, *args[1:])
            elif module == "C2f":
                y = C2f(net, inputs[0], prefix, c2, n, *args[1:])
            elif module == "C3k2":
                extra = list(args[1:])
                if scale in "mlx":  # parse_model turns C3k on for the m, l, x scales whatever the yaml says
                    extra[0:1] = [True]
                y = C3k2(net, inputs[0], prefix, c2, n, *extra)
            elif module == "C2PSA":
                y = C2PSA(net, inputs[0], prefix, c2, n)
            elif module == "SPPF":
                # legacy rows [c2, k] keep cv1's SiLU; YOLO26's [c2, k, n, shortcut] row has a linear cv1
                k, rest = args[1], args[2:]
                y = SPPF(net, inputs[0], prefix, c2, k, *rest, cv1_act=None if rest else "silu")
            else:
                raise ValueError(f"{prefix}: no block for module {module}")
        outputs.append(y)
    return outputs


def _decode(net, maps, prefix, reg_max, nc, xywh=True):
    """Detect._inference: DFL over the box bins, dist2bbox around the cell-centre anchors × stride, sigmoid class
    scores, the mask coefficients as they are: (B, 4 + nc [+ 32], anchors)."""
    boxes = flat_levels(net, [m[0] for m in maps], f"{prefix}.boxes")
    scores = flat_levels(net, [m[1] for m in maps], f"{prefix}.scores")
    dist = DFL(net, boxes, f"{prefix}.dfl", reg_max) if reg_max > 1 else boxes
    anchors, strides = make_anchors(net, [m[1] for m in maps], STRIDES, prefix)
    parts = [decode_boxes(net, dist, anchors, strides, f"{prefix}.dbox", xywh), sigmoid(net, scores,
                                                                                         f"{prefix}.scores.sigmoid")]
    if maps[0][2] is not None:
        parts.append(flat_levels(net, [m[2] for m in maps], f"{prefix}.mask_coefficient"))
    return concat(net, parts, f"{prefix}.pred", axis=1)


def _pose_obb_head(net, gen, kind, d, levels, maps, nc, reg_max, head, branch, score_threshold, iou_threshold,
                   max_det, candidates):
    """Pose / OBB outputs on Detect's branches `maps` (layers/ultralytics_pose_obb.py's recipe): the cv4 branch
    (keypoints, or the angle) on the head's `levels`; the sidecar metadata they add."""
    yolo26 = gen == "26"
    prefix = f"model.{d}"
    c_first = shape_of(levels[0])[1]
    if kind == "obb":
        extra = po.obb_angle(net, levels, f"{prefix}.{branch}cv4", po.obb_hidden(c_first), yolo26)
        info = {}
    else:
        kpt_shape = kpt_shape_of(net.weights, d)
        extra = po.pose_keypoints(net, levels, f"{prefix}.{branch}cv4", po.pose_hidden(c_first, kpt_shape, yolo26),
                                  kpt_shape, yolo26, kpts_prefix=f"{prefix}.{branch}cv4_kpts")
        info = {"kpt_shape": list(kpt_shape)}
    if head == "raw":
        # the per-level box / class maps as for Detect, and the extra branch flat over anchors, as ultralytics'
        # prediction dict holds it ("angle" already in radians, "kpts" undecoded)
        for i, parts in enumerate(maps):
            net.output(concat(net, [p for p in parts if p is not None], f"{prefix}.raw{i}"), f"raw{i}")
        name = "angle" if kind == "obb" else "kpts"
        net.output(extra, name)
        return dict(info, outputs=[f"raw{i}" for i in range(len(maps))] + [name])
    boxes = flat_levels(net, [m[0] for m in maps], f"{prefix}.boxes")
    scores = flat_levels(net, [m[1] for m in maps], f"{prefix}.scores")
    dist = DFL(net, boxes, f"{prefix}.dfl", reg_max) if reg_max > 1 else boxes
    anchors, strides = make_anchors(net, [m[1] for m in maps], STRIDES, prefix)
    cls = sigmoid(net, scores, f"{prefix}.scores.sigmoid")
    if kind == "obb":  # OBBModel's rows: xywh (rotated around the anchor), class scores, angle
        box = po.dist2rbox(net, dist, extra, anchors, strides, f"{prefix}.rbox")
        pred = concat(net, [box, cls, extra], f"{prefix}.pred", axis=1)
    else:  # PoseModel's rows: xywh (x1y1x2y2 for the end-to-end head), class scores, decoded keypoints
        kpts = po.kpts_decode(net, extra, anchors, strides, kpt_shape, f"{prefix}.kpts", yolo26)
        box = decode_boxes(net, dist, anchors, strides, f"{prefix}.dbox", xywh=head != "end2end")
        pred = concat(net, [box, cls, kpts], f"{prefix}.pred", axis=1)
    if head == "decode":
        net.output(pred, "pred")
        return dict(info, outputs=["pred"])
    outputs = ["num_dets", "boxes", "scores", "classes"] + (["keypoints"] if kind == "pose" else [])
    info.update(outputs=outputs, score_threshold=score_threshold, max_det=max_det)
    if head == "end2end":
        _end2end_head(net, pred, f"{prefix}.end2end", nc, score_threshold, max_det, 0,
                      kpt_shape=info.get("kpt_shape"), obb=kind == "obb")
        return info
    info["iou_threshold"] = iou_threshold
    if kind == "obb":
        po.obb_nms_head(net, pred, nc, f"{prefix}.nms", iou_threshold, score_threshold, max_det,
                        1024 if candidates is None else candidates)
        info["candidates"] = 1024 if candidates is None else candidates
    else:
        _nms_head(net, pred, f"{prefix}.nms", nc, score_threshold, iou_threshold, max_det, 0,
                  kpt_shape=info["kpt_shape"])
    return info


def _nms_head(net, pred, prefix, nc, score_threshold, iou_threshold, max_det, nm, kpt_shape=None):
    """non_max_suppression(pred, conf_thres, iou_thres, max_det=max_det, nc=nc) (best class per box, per-class NMS,
    no objectness), packed into fixed-size per-image outputs: num_dets (B, 1), boxes (B, max_det, 4) x1y1x2y2,
    scores, classes (-1 in empty slots) [, mask_coefficients (B, max_det, 32)]."""
    f32 = np.float32
    if pred.dtype != net.trt.DataType.FLOAT:
        pred = cast(net, pred, f"{prefix}.float", "float32")
    pred = shuffle(net, pred, f"{prefix}.anchors_first", first=(0, 2, 1))  # (B, A, 4 + nc + nm)
    cls = slice_axis(net, pred, f"{prefix}.cls", 2, 4, nc)
    # multi_label=False: each box keeps its best class only (B, A, 1)
    best, best_class = topk(net, cls, f"{prefix}.best", 1, axis=2)
    # xywh2xyxy as one matrix product: [x, y, w, h] @ M = [x - w/2, y - h/2, x + w/2, y + h/2]
    to_xyxy = np.array([[1, 0, 1, 0], [0, 1, 0, 1], [-0.5, 0, 0.5, 0], [0, -0.5, 0, 0.5]], dtype=f32)
    boxes = matmul(net, slice_axis(net, pred, f"{prefix}.xywh", 2, 0, 4),
                   constant(net, to_xyxy.reshape(1, 4, 4), f"{prefix}.xywh2xyxy", f32), f"{prefix}.xyxy")
    # ultralytics makes NMS per class by shifting each box by class · max_wh (7680) and running one class-agnostic
    # NMS: the same here (one score column), so that IoUs are computed on the same float32 values and borderline
    # suppressions agree.
    offset = elementwise(net, cast(net, best_class, f"{prefix}.class.float", "float32"),
                         constant(net, np.full((1, 1, 1), MAX_WH), f"{prefix}.max_wh", f32), f"{prefix}.offset", "prod")
    shifted = elementwise(net, boxes, offset, f"{prefix}.shifted", "sum")
    n_anchors = shape_of(pred)[1]
    # ultralytics sends at most max_nms = 30000 candidates to NMS; TensorRT's limit per image is 5000
    selected, total = nms(net, shifted, best, f"{prefix}.select", max_det, iou_threshold, score_threshold,
                          min(5000, n_anchors) if n_anchors > 0 else 5000)
    coeffs = slice_axis(net, pred, f"{prefix}.coeffs", 2, 4 + nc, nm) if nm else None
    if kpt_shape:  # keypoints ride along as the mask coefficients do: one gather at the kept anchors
        coeffs = slice_axis(net, pred, f"{prefix}.kpts", 2, 4 + nc, kpt_shape[0] * kpt_shape[1])
    _pack(net, pred, selected, total, boxes, best, best_class, coeffs, prefix, max_det, kpt_shape)


def _pack(net, pred, selected, total, boxes, scores, classes, coeffs, prefix, max_det, kpt_shape=None):
    """INMSLayer's (K, 3) rows (image, 0, box) of a one-column NMS, sorted by image then score, into per-image slots:
    image b's rows are the contiguous run from start[b] (the rows of earlier images), per_image[b] long. `scores`
    and `classes` are (B, A, 1)."""
    f32, i32 = np.float32, np.int32
    rows = concat(net, [selected, constant(net, np.zeros((1, 3)), f"{prefix}.pad_row", i32)], f"{prefix}.rows", 0)
    row_image = reshape(net, gather(net, selected, 0, f"{prefix}.batch_ids", axis=1), f"{prefix}.batch_ids.row",
                        (1, -1))
    n_images = slice_axis(net, shape(net, pred, f"{prefix}.pred_shape"), f"{prefix}.n_images", 0, 0, 1)
    image = reshape(net, arange(net, n_images, f"{prefix}.images"), f"{prefix}.images.col", (-1, 1))

    def rows_where(op, name):  # per image: how many rows have an image index `op` (equal / less) than it
        hits = cast(net, elementwise(net, row_image, image, f"{name}.cmp", op), f"{name}.int", "int32")
        return reduce(net, hits, name, "sum", (1,))

    per_image, start = rows_where("equal", f"{prefix}.per_image"), rows_where("less", f"{prefix}.start")  # (B, 1)
    slots = constant(net, np.arange(max_det).reshape(1, max_det), f"{prefix}.slots", i32)
    valid = elementwise(net, slots, per_image, f"{prefix}.valid", "less")  # (B, max_det)
    index = elementwise(net, start, slots, f"{prefix}.row_index", "sum")
    index = elementwise(net, index, reshape(net, total, f"{prefix}.total", (1, 1)), f"{prefix}.row_index.clamp",
                        "min")  # empty slots point at the zero pad row
    picked = gather(net, rows, index, f"{prefix}.picked", axis=0)  # (B, max_det, 3)

    def column(cols, name):
        return gather(net, picked, np.array(cols, dtype=i32), name, axis=2)

    valid3 = reshape(net, valid, f"{prefix}.valid3", (0, 0, 1))
    zeros2 = constant(net, np.zeros((1, 1)), f"{prefix}.zeros", f32)
    zeros3 = constant(net, np.zeros((1, 1, 1)), f"{prefix}.zeros3", f32)
    det_boxes = gather_nd(net, boxes, column([0, 2], f"{prefix}.batch_box"), f"{prefix}.det_boxes")
    det_scores = gather_nd(net, scores, column([0, 2, 1], f"{prefix}.batch_box_class"), f"{prefix}.det_scores")
    net.output(select(net, valid3, det_boxes, zeros3, f"{prefix}.out_boxes"), "boxes")
    net.output(select(net, valid, det_scores, zeros2, f"{prefix}.out_scores"), "scores")
    det_classes = gather_nd(net, classes, column([0, 2, 1], f"{prefix}.batch_box_0"), f"{prefix}.det_classes")
    net.output(select(net, valid, det_classes, constant(net, np.full((1, 1), -1), f"{prefix}.minus_one", i32),
                      f"{prefix}.out_classes"), "classes")
    net.output(elementwise(net, per_image, constant(net, np.full((1, 1), max_det), f"{prefix}.max_det", i32),
                           f"{prefix}.num", "min"), "num_dets")
    if coeffs is not None:
        det = gather_nd(net, coeffs, column([0, 2], f"{prefix}.batch_box2"), f"{prefix}.det_coeffs")
        _extra_output(net, select(net, valid3, det, zeros3, f"{prefix}.mask_coefficients"), prefix, kpt_shape)


def _extra_output(net, kept, prefix, kpt_shape):
    """The per-detection extra columns (B, max_det, C) as "mask_coefficients", or as "keypoints" (B, max_det, K, D)."""
    if kpt_shape:
        net.output(reshape(net, kept, f"{prefix}.keypoints", (0, 0) + tuple(kpt_shape)), "keypoints")
    else:
        net.output(kept, "mask_coefficients")


def _end2end_head(net, pred, prefix, nc, score_threshold, max_det, nm, kpt_shape=None, obb=False):
    """YOLO26's NMS-free selection (Detect.postprocess / get_topk_index, class-aware): the k = min(max_det, anchors)
    (max_det on a dynamic image size) anchors of highest best-class score, then the k highest (anchor, class) scores among them, and
    non_max_suppression's end-to-end filter (score > conf_thres). Same packed outputs as the nms head."""
    f32, i32 = np.float32, np.int32
    if pred.dtype != net.trt.DataType.FLOAT:
        pred = cast(net, pred, f"{prefix}.float", "float32")
    pred = shuffle(net, pred, f"{prefix}.anchors_first", first=(0, 2, 1))  # (B, A, 4 + nc + nm)
    n_anchors = shape_of(pred)[1]
    if n_anchors > 0:
        k = min(max_det, n_anchors)
    else:
        # Dynamic image size: max_det all-zero rows appended make k = max_det valid at every size, so the outputs
        # keep one shape (a k of min(max_det, anchors) would make it depend on the input size, which the builder
        # cannot bound when the profile's MIN has fewer anchors than max_det). Zero rows rank after every real
        # anchor (TopK keeps the lower index on ties); of the selection only the first min(max_det, anchors)
        # count, as ultralytics' k.
        a = slice_axis(net, shape(net, pred, f"{prefix}.shape"), f"{prefix}.n_anchors", 0, 1, 1)
        real_k = reshape(net, cast(net, a, f"{prefix}.n_anchors.int", "int32"), f"{prefix}.n_anchors.row", (1, 1))
        zero_rows = elementwise(net, slice_axis(net, pred, f"{prefix}.row0", 1, 0, 1),
                                constant(net, np.zeros((1, max_det, 1)), f"{prefix}.zero_rows", f32),
                                f"{prefix}.padding", "prod")
        pred = concat(net, [pred, zero_rows], f"{prefix}.padded", axis=1)
        k = max_det
    boxes = slice_axis(net, pred, f"{prefix}.xyxy", 2, 0, 4)
    if obb:  # OBB26's end-to-end rows keep xywh and carry the angle: boxes come out xywhr
        boxes = concat(net, [boxes, slice_axis(net, pred, f"{prefix}.angle", 2, 4 + nc, 1)], f"{prefix}.xywhr", 2)
    cls = slice_axis(net, pred, f"{prefix}.cls", 2, 4, nc)
    best = reshape(net, reduce(net, cls, f"{prefix}.best", "max", (2,)), f"{prefix}.best.flat", (0, -1))
    _, anchor_k = topk(net, best, f"{prefix}.topk_anchors", k, axis=1)  # (B, k)

    def rows(x, width, name):  # x (B, A, width) gathered at anchor_k -> (B, k, width)
        index = reshape(net, anchor_k, f"{name}.index", (0, -1, 1))
        index = elementwise(net, index, constant(net, np.zeros((1, 1, width)), f"{name}.expand", i32),
                            f"{name}.index.expand", "sum")
        return gather_elements(net, x, index, name, axis=1)

    cand = reshape(net, rows(cls, nc, f"{prefix}.cand_scores"), f"{prefix}.cand_scores.flat", (0, -1))  # (B, k·nc)
    values, flat = topk(net, cand, f"{prefix}.topk", k, axis=1)  # (B, k), sorted by decreasing score
    ncc = constant(net, np.full((1, 1), nc), f"{prefix}.nc", i32)
    slot = elementwise(net, flat, ncc, f"{prefix}.slot", "floor_div")
    classes = elementwise(net, flat, elementwise(net, slot, ncc, f"{prefix}.slot_nc", "prod"), f"{prefix}.class",
                          "sub")
    anchor = gather_elements(net, anchor_k, slot, f"{prefix}.anchor", axis=1)  # (B, k)

    def at(x, width, name):
        index = elementwise(net, reshape(net, anchor, f"{name}.index", (0, -1, 1)),
                            constant(net, np.zeros((1, 1, width)), f"{name}.expand", i32), f"{name}.index.expand",
                            "sum")
        return gather_elements(net, x, index, name, axis=1)

    valid = elementwise(net, values, constant(net, np.full((1, 1), score_threshold), f"{prefix}.conf", f32),
                        f"{prefix}.valid", "greater")  # sorted: the valid ones come first
    if n_anchors <= 0:
        first = elementwise(net, constant(net, np.arange(max_det).reshape(1, max_det), f"{prefix}.ranks", i32),
                            real_k, f"{prefix}.within_k", "less")
        valid = elementwise(net, valid, first, f"{prefix}.valid_k", "and")
    valid3 = reshape(net, valid, f"{prefix}.valid3", (0, 0, 1))
    zeros2 = constant(net, np.zeros((1, 1)), f"{prefix}.zeros", f32)
    zeros3 = constant(net, np.zeros((1, 1, 1)), f"{prefix}.zeros3", f32)
    net.output(select(net, valid3, at(boxes, 5 if obb else 4, f"{prefix}.det_boxes"), zeros3, f"{prefix}.out_boxes"),
               "boxes")
    net.output(select(net, valid, values, zeros2, f"{prefix}.out_scores"), "scores")
    net.output(select(net, valid, classes, constant(net, np.full((1, 1), -1), f"{prefix}.minus_one", i32),
                      f"{prefix}.out_classes"), "classes")
    net.output(reduce(net, cast(net, valid, f"{prefix}.valid.int", "int32"), f"{prefix}.num", "sum", (1,)),
               "num_dets")
    width = kpt_shape[0] * kpt_shape[1] if kpt_shape else nm
    if width:
        coeffs = slice_axis(net, pred, f"{prefix}.coeffs", 2, 4 + nc, width)
        _extra_output(net, select(net, valid3, at(coeffs, width, f"{prefix}.det_coeffs"), zeros3,
                                  f"{prefix}.mask_coefficients"), prefix, kpt_shape)


FAMILY = Ultralytics()

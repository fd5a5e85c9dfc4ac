"""RT-DETR (ultralytics 8.4.x RTDETRDetectionModel): rtdetr-l, rtdetr-x (HGNetv2 backbone), rtdetr-resnet50,
rtdetr-resnet101 (ResNetLayer backbone); the hybrid encoder (AIFI on P5, CCFM with RepC3) and RTDETRDecoder.

The tables below are ultralytics/cfg/models/rt-detr/*.yaml read top to bottom (backbone, head), with parse_model's
argument handling applied in `define` (HGBlock and RepC3 take the repeat count as an argument; widths are 1.0 and
never reach max_channels). Blocks: netdefs/layers/rtdetr.py.

Head outputs (`head=`):
- "raw": `dec_bboxes` (batch, queries, 4) cxcywh in [0, 1] and `dec_scores` (batch, queries, classes) logits of the
  last decoder layer, as the model returns them in its second output (`x[0][-1]`, `x[1][-1]`).
- "postprocess" (default): RT-DETR needs no NMS. As the eval model's head (`RTDETRDecoder.postprocess`) and
  ultralytics' RTDETRPredictor do it: top-k over every (query, class) sigmoid score, score > score_threshold, the
  first max_det; into `num_dets` (batch, 1), `boxes` (batch, max_det, 4) x1y1x2y2 in input pixels, `scores`,
  `classes` (-1 in empty slots), best first: the YOLO heads' outputs.
The input is the RGB image resized (stretched, no letterbox) to the input size, / 255.
"""
import numpy as np

from ..errors import ModelMismatch
from ..family import Family, check_choice, check_count, check_unit_interval, count
from ..layers.ops import (activation, cast, concat, constant, elementwise, gather_batched, interpolate, matmul,
                          reduce, select, shape_of, shuffle, topk)
from ..layers.rtdetr import AIFI, DWConv, HGBlock, HGStem, RepC3, ResNetLayer, RTDETRDecoder
from ..layers.yolo import Conv

# ---- ultralytics/cfg/models/rt-detr/rtdetr-l.yaml: [from, repeats, module, args]
BACKBONE_L = [
    [-1, 1, "HGStem", [32, 48]],  # 0-P2/4
    [-1, 6, "HGBlock", [48, 128, 3]],  # stage 1
    [-1, 1, "DWConv", [128, 3, 2, 1, False]],  # 2-P3/8
    [-1, 6, "HGBlock", [96, 512, 3]],  # stage 2
    [-1, 1, "DWConv", [512, 3, 2, 1, False]],  # 4-P4/16
    [-1, 6, "HGBlock", [192, 1024, 5, True, False]],  # cm, c2, k, light, shortcut
    [-1, 6, "HGBlock", [192, 1024, 5, True, True]],
    [-1, 6, "HGBlock", [192, 1024, 5, True, True]],  # stage 3
    [-1, 1, "DWConv", [1024, 3, 2, 1, False]],  # 8-P5/32
    [-1, 6, "HGBlock", [384, 2048, 5, True, False]],  # stage 4
]
HEAD_L = [
    [-1, 1, "Conv", [256, 1, 1, None, 1, 1, False]],  # 10 input_proj.2
    [-1, 1, "AIFI", [1024, 8]],
    [-1, 1, "Conv", [256, 1, 1]],  # 12, Y5, lateral_convs.0
    [-1, 1, "Upsample", [None, 2, "nearest"]],
    [7, 1, "Conv", [256, 1, 1, None, 1, 1, False]],  # 14 input_proj.1
    [[-2, -1], 1, "Concat", [1]],
    [-1, 3, "RepC3", [256]],  # 16, fpn_blocks.0
    [-1, 1, "Conv", [256, 1, 1]],  # 17, Y4, lateral_convs.1
    [-1, 1, "Upsample", [None, 2, "nearest"]],
    [3, 1, "Conv", [256, 1, 1, None, 1, 1, False]],  # 19 input_proj.0
    [[-2, -1], 1, "Concat", [1]],  # cat backbone P4
    [-1, 3, "RepC3", [256]],  # X3 (21), fpn_blocks.1
    [-1, 1, "Conv", [256, 3, 2]],  # 22, downsample_convs.0
    [[-1, 17], 1, "Concat", [1]],  # cat Y4
    [-1, 3, "RepC3", [256]],  # F4 (24), pan_blocks.0
    [-1, 1, "Conv", [256, 3, 2]],  # 25, downsample_convs.1
    [[-1, 12], 1, "Concat", [1]],  # cat Y5
    [-1, 3, "RepC3", [256]],  # F5 (27), pan_blocks.1
    [[21, 24, 27], 1, "RTDETRDecoder", []],  # RTDETRDecoder(P3, P4, P5)
]

# ---- rtdetr-x.yaml
BACKBONE_X = [
    [-1, 1, "HGStem", [32, 64]],  # 0-P2/4
    [-1, 6, "HGBlock", [64, 128, 3]],  # stage 1
    [-1, 1, "DWConv", [128, 3, 2, 1, False]],  # 2-P3/8
    [-1, 6, "HGBlock", [128, 512, 3]],
    [-1, 6, "HGBlock", [128, 512, 3, False, True]],  # 4-stage 2
    [-1, 1, "DWConv", [512, 3, 2, 1, False]],  # 5-P4/16
    [-1, 6, "HGBlock", [256, 1024, 5, True, False]],  # cm, c2, k, light, shortcut
    [-1, 6, "HGBlock", [256, 1024, 5, True, True]],
    [-1, 6, "HGBlock", [256, 1024, 5, True, True]],
    [-1, 6, "HGBlock", [256, 1024, 5, True, True]],
    [-1, 6, "HGBlock", [256, 1024, 5, True, True]],  # 10-stage 3
    [-1, 1, "DWConv", [1024, 3, 2, 1, False]],  # 11-P5/32
    [-1, 6, "HGBlock", [512, 2048, 5, True, False]],
    [-1, 6, "HGBlock", [512, 2048, 5, True, True]],  # 13-stage 4
]
HEAD_X = [
    [-1, 1, "Conv", [384, 1, 1, None, 1, 1, False]],  # 14 input_proj.2
    [-1, 1, "AIFI", [2048, 8]],
    [-1, 1, "Conv", [384, 1, 1]],  # 16, Y5, lateral_convs.0
    [-1, 1, "Upsample", [None, 2, "nearest"]],
    [10, 1, "Conv", [384, 1, 1, None, 1, 1, False]],  # 18 input_proj.1
    [[-2, -1], 1, "Concat", [1]],
    [-1, 3, "RepC3", [384]],  # 20, fpn_blocks.0
    [-1, 1, "Conv", [384, 1, 1]],  # 21, Y4, lateral_convs.1
    [-1, 1, "Upsample", [None, 2, "nearest"]],
    [4, 1, "Conv", [384, 1, 1, None, 1, 1, False]],  # 23 input_proj.0
    [[-2, -1], 1, "Concat", [1]],  # cat backbone P4
    [-1, 3, "RepC3", [384]],  # X3 (25), fpn_blocks.1
    [-1, 1, "Conv", [384, 3, 2]],  # 26, downsample_convs.0
    [[-1, 21], 1, "Concat", [1]],  # cat Y4
    [-1, 3, "RepC3", [384]],  # F4 (28), pan_blocks.0
    [-1, 1, "Conv", [384, 3, 2]],  # 29, downsample_convs.1
    [[-1, 16], 1, "Concat", [1]],  # cat Y5
    [-1, 3, "RepC3", [384]],  # F5 (31), pan_blocks.1
    [[25, 28, 31], 1, "RTDETRDecoder", []],  # RTDETRDecoder(P3, P4, P5)
]

# ---- rtdetr-resnet50.yaml / rtdetr-resnet101.yaml (the same but for layer 3's block count)
def _backbone_resnet(blocks3):
    return [
        [-1, 1, "ResNetLayer", [3, 64, 1, True, 1]],  # 0
        [-1, 1, "ResNetLayer", [64, 64, 1, False, 3]],  # 1
        [-1, 1, "ResNetLayer", [256, 128, 2, False, 4]],  # 2
        [-1, 1, "ResNetLayer", [512, 256, 2, False, blocks3]],  # 3
        [-1, 1, "ResNetLayer", [1024, 512, 2, False, 3]],  # 4
    ]


HEAD_RESNET = [
    [-1, 1, "Conv", [256, 1, 1, None, 1, 1, False]],  # 5
    [-1, 1, "AIFI", [1024, 8]],
    [-1, 1, "Conv", [256, 1, 1]],  # 7
    [-1, 1, "Upsample", [None, 2, "nearest"]],
    [3, 1, "Conv", [256, 1, 1, None, 1, 1, False]],  # 9
    [[-2, -1], 1, "Concat", [1]],
    [-1, 3, "RepC3", [256]],  # 11
    [-1, 1, "Conv", [256, 1, 1]],  # 12
    [-1, 1, "Upsample", [None, 2, "nearest"]],
    [2, 1, "Conv", [256, 1, 1, None, 1, 1, False]],  # 14
    [[-2, -1], 1, "Concat", [1]],  # cat backbone P4
    [-1, 3, "RepC3", [256]],  # X3 (16), fpn_blocks.1
    [-1, 1, "Conv", [256, 3, 2]],  # 17, downsample_convs.0
    [[-1, 12], 1, "Concat", [1]],  # cat Y4
    [-1, 3, "RepC3", [256]],  # F4 (19), pan_blocks.0
    [-1, 1, "Conv", [256, 3, 2]],  # 20, downsample_convs.1
    [[-1, 7], 1, "Concat", [1]],  # cat Y5
    [-1, 3, "RepC3", [256]],  # F5 (22), pan_blocks.1
    [[16, 19, 22], 1, "RTDETRDecoder", []],  # RTDETRDecoder(P3, P4, P5)
]

ARCHITECTURES = {
    "rtdetr-l": BACKBONE_L + HEAD_L,
    "rtdetr-x": BACKBONE_X + HEAD_X,
    "rtdetr-resnet50": _backbone_resnet(6) + HEAD_RESNET,
    "rtdetr-resnet101": _backbone_resnet(23) + HEAD_RESNET,
}
# RTDETRDecoder's defaults (the yamls pass only nc): what demo weights get, and what the weights cannot tell
DECODER_DEFAULTS = {"hd": 256, "nq": 300, "heads": 8, "points": 4, "layers": 6, "d_ffn": 1024}
MAX_DET = 300


def decoder_index(name):
    return len(ARCHITECTURES[name]) - 1


def aifi_index(name):
    return next(i for i, row in enumerate(ARCHITECTURES[name]) if row[2] == "AIFI")


def describe_rtdetr(shapes):
    """(model name, class count) of RT-DETR weights, from names and element counts."""
    found = [name for name in ARCHITECTURES if f"model.{decoder_index(name)}.dec_score_head.0.bias" in shapes]
    if not found:
        raise ModelMismatch("these weights are not an ultralytics RT-DETR model (no model.N.dec_score_head)")
    if "model.0.stem1.conv.weight" in shapes:
        name = "rtdetr-x" if "model.13.m.0.conv1.conv.weight" in shapes else "rtdetr-l"
    else:
        blocks = len({k.split(".")[3] for k in shapes if k.startswith("model.3.layer.")})
        name = {6: "rtdetr-resnet50", 23: "rtdetr-resnet101"}.get(blocks)
        if name is None:
            raise ModelMismatch(f"RT-DETR ResNet weights with {blocks} blocks in layer 3 match neither ResNet-50 (6) "
                                f"nor ResNet-101 (23)")
    d = decoder_index(name)
    return name, count(shapes, f"model.{d}.dec_score_head.0.bias")


def decoder_config(weights, d, levels):
    """RTDETRDecoder's sizes, read from the weights where they show (element counts, so that flat .wts work too).
    The query count (300) and the head count (8) are not in the weights (no tensor has their size alone): they are
    RTDETRDecoder's defaults, which the yamls never change."""
    cfg = dict(DECODER_DEFAULTS)
    if getattr(weights, "demo", False):
        return cfg
    p = f"model.{d}"
    n = lambda name: int(np.prod(weights.shape(name)))
    cfg["hd"] = n(f"{p}.input_proj.0.1.running_mean")
    cfg["layers"] = len({k.split(".")[3] for k in weights.names(f"{p}.dec_score_head.")})
    cfg["d_ffn"] = n(f"{p}.decoder.layers.0.linear1.bias")
    cfg["points"] = n(f"{p}.decoder.layers.0.cross_attn.attention_weights.bias") // (cfg["heads"] * levels)
    if weights.has(f"{p}.tgt_embed.weight"):
        raise ModelMismatch(f"{p}.tgt_embed: RT-DETR with learnt_init_query is not supported (the yamls do not use it)")
    return cfg


class RTDETR(Family):
    name = "rtdetr"
    reference = "ultralytics 8.4.x RTDETRDetectionModel"
    task = "detect"
    models = tuple(ARCHITECTURES)
    imgsz = 640
    stride = 32
    demo_classes = 80
    options = {"head": "postprocess", "score_threshold": 0.25, "max_det": 300}
    heads = ("raw", "postprocess")
    compare_options = {"head": "raw"}  # the hooks see the decoder's modules; top-k and thresholds have none

    def describe(self, shapes):
        return describe_rtdetr(shapes)

    def check_options(self, options):
        check_choice("head", options["head"], self.heads)
        check_unit_interval("score_threshold", options["score_threshold"])
        check_count("max_det", options["max_det"], 1, MAX_DET)

    def quant_defaults(self, variant):
        """INT8 fallbacks: the whole decoder (its linear layers produce sampling offsets, attention weights and boxes:
        a quantised offset moves a sampling point) and AIFI (attention over every P5 token) stay out of INT8; the
        convolutional backbone and neck are what INT8 is for."""
        return [(f"model.{decoder_index(variant)}.*", "fp16"), (f"model.{aifi_index(variant)}.*", "fp16")]

    def preprocess(self, variant, imgsz):
        # ultralytics' RTDETRPredictor: scale_fill, i.e. the image stretched to the input size, no letterbox
        return {"letterbox": False, "stride": self.stride, "scale": 1 / 255, "rgb": True}

    def define(self, net, variant, x, num_classes, head, score_threshold, max_det):
        rows = ARCHITECTURES[variant]
        outputs = []
        for i, (source, number, module, args) in enumerate(rows):
            inputs = [outputs[s] if s >= 0 else (outputs[s] if outputs else x)
                      for s in (source if isinstance(source, list) else [source])]
            p = f"model.{i}"
            if module == "HGStem":
                y = HGStem(net, inputs[0], p, *args)
            elif module == "HGBlock":
                cm, c2, k = args[:3]
                y = HGBlock(net, inputs[0], p, cm, c2, k, number, *args[3:])
            elif module == "DWConv":
                c2, k, s, d, act = args
                y = DWConv(net, inputs[0], p, c2, k, s, d, "silu" if act else None)
            elif module == "Conv":
                c2, k, s = (args + [1, 1])[:3]
                pad, g, d, act = (args[3:] + [None, 1, 1, True][len(args[3:]):])[:4]
                y = Conv(net, inputs[0], p, c2, k, s, pad, g, d, "silu" if act else None)
            elif module == "AIFI":
                y = AIFI(net, inputs[0], p, *args)
            elif module == "Upsample":
                y = interpolate(net, inputs[0], p, scale_factor=args[1], mode="nearest")
            elif module == "Concat":
                y = concat(net, inputs, p, axis=args[0])
            elif module == "RepC3":
                y = RepC3(net, inputs[0], p, args[0], number)
            elif module == "ResNetLayer":
                _, c2, s, is_first, n = args
                y = ResNetLayer(net, inputs[0], p, c2, s, is_first, n)
            elif module == "RTDETRDecoder":
                cfg = decoder_config(net.weights, i, len(inputs))
                y = RTDETRDecoder(net, inputs, p, num_classes, **cfg)
            else:
                raise AssertionError(module)
            outputs.append(y)
        boxes, logits = outputs[-1]
        h, w = shape_of(x)[2:]
        info = {"head": head, "strides": [8, 16, 32]}
        if head == "raw":
            net.output(boxes, "dec_bboxes")
            net.output(logits, "dec_scores")
            info["outputs"] = ["dec_bboxes", "dec_scores"]
        else:
            k = _postprocess(net, boxes, logits, f"model.{len(rows) - 1}.postprocess", num_classes, score_threshold,
                             max_det, h, w)
            info.update(outputs=["num_dets", "boxes", "scores", "classes"], score_threshold=score_threshold,
                        max_det=k)
        return info


def _postprocess(net, boxes, logits, prefix, nc, score_threshold, max_det, h, w):
    """RTDETRDecoder.postprocess + RTDETRPredictor.postprocess: top-k of the flattened (query, class) sigmoid scores
    (k = max_det: the first max_det of the model's descending top-num_queries), each with its query's box; kept
    when score > score_threshold. Returns k."""
    if logits.dtype != net.trt.DataType.FLOAT:  # thresholds and box pixels in float32
        logits = cast(net, logits, f"{prefix}.logits_float", "float32")
        boxes = cast(net, boxes, f"{prefix}.boxes_float", "float32")
    f32, i32 = np.float32, np.int32
    nq = shape_of(logits)[1]
    scores = activation(net, logits, f"{prefix}.sigmoid", "sigmoid")
    flat = shuffle(net, scores, f"{prefix}.flat", reshape=(0, nq * nc))
    k = min(max_det, nq, nq * nc)
    values, index = topk(net, flat, f"{prefix}.topk", k, axis=1)
    ncs = constant(net, np.full((1, 1), nc), f"{prefix}.nc", i32)
    query = elementwise(net, index, ncs, f"{prefix}.query", "floor_div")
    cls = elementwise(net, index, elementwise(net, query, ncs, f"{prefix}.query_nc", "prod"), f"{prefix}.class",
                      "sub")
    picked = gather_batched(net, boxes, query, f"{prefix}.boxes")  # (B, k, 4) cxcywh in [0, 1]
    # xywh2xyxy and the scale to input pixels as one product: [cx, cy, w, h] @ M
    m = np.array([[w, 0, w, 0], [0, h, 0, h], [-w / 2, 0, w / 2, 0], [0, -h / 2, 0, h / 2]], dtype=f32)
    xyxy = matmul(net, picked, constant(net, m.reshape(1, 4, 4), f"{prefix}.xywh2xyxy", f32), f"{prefix}.xyxy")
    valid = elementwise(net, values, constant(net, np.full((1, 1), score_threshold), f"{prefix}.conf", f32),
                        f"{prefix}.valid", "greater")
    valid3 = shuffle(net, valid, f"{prefix}.valid3", reshape=(0, k, 1))
    net.output(select(net, valid3, xyxy, constant(net, np.zeros((1, 1, 1)), f"{prefix}.zeros3", f32),
                      f"{prefix}.out_boxes"), "boxes")
    net.output(select(net, valid, values, constant(net, np.zeros((1, 1)), f"{prefix}.zeros", f32),
                      f"{prefix}.out_scores"), "scores")
    net.output(select(net, valid, cls, constant(net, np.full((1, 1), -1), f"{prefix}.minus_one", i32),
                      f"{prefix}.out_classes"), "classes")
    net.output(reduce(net, cast(net, valid, f"{prefix}.count", "int32"), f"{prefix}.num", "sum", (1,)), "num_dets")
    return k


FAMILY = RTDETR()

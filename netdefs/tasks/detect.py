"""Detection (YOLOv5, ultralytics): letterboxed pixels / 255 in; per-image detections (the NMS head) out, with
instance masks for -seg engines (mask coefficients and prototypes)."""
import numpy as np

from . import images as im
from .base import Task
from .names import COCO, label


def detections(outputs, i):
    """(boxes, scores, classes) of image `i` of the NMS head's outputs, best first."""
    n = int(outputs["num_dets"][i, 0])
    return outputs["boxes"][i, :n], outputs["scores"][i, :n], outputs["classes"][i, :n]


class Letterboxed(Task):
    """The YOLO input: letterboxed pixels / 255 (detect, pose and oriented boxes share it)."""

    def preprocess(self, meta, image, size):
        if not meta.get("preprocess", {}).get("letterbox", True):  # RT-DETR: stretched to the input, no padding
            h, w = image.shape[:2]
            return im.to_input([im.resize(image, size)])[0], ((size[1] / w, size[0] / h), (0, 0))
        boxed, ratio, pad = im.letterbox(image, size)
        return im.to_input([boxed])[0], (ratio, pad)

    def random_input(self, meta, shape, rng):
        return rng.random(shape, dtype=np.float32)  # YOLOv5 takes pixels / 255, in [0, 1)


class Detect(Letterboxed):
    name = "detect"
    columns = ("map50", "detections")
    outputs_are = "detections"
    standard_names = COCO

    def show(self, meta, outputs, i, path, image, state, names, draw, limit=None):
        if "num_dets" not in outputs:  # head "raw" or "decode": nothing to list per detection
            print(f"{path}: " + ", ".join(f"{k} {v.shape}" for k, v in outputs.items()))
            return None
        boxes, scores, classes = detections(outputs, i)
        ratio, pad = state
        n = len(boxes)
        shown = n if limit is None else min(n, limit)
        masks = None
        if "proto" in outputs and "mask_coefficients" in outputs:  # -seg: masks of the detections shown only
            proto = outputs["proto"][i]
            input_hw = (proto.shape[1] * im.PROTO_STRIDE, proto.shape[2] * im.PROTO_STRIDE)
            masks = im.masks_to_image(im.instance_masks(outputs["mask_coefficients"][i, :shown], proto,
                                                        boxes[:shown], input_hw), ratio, pad, image.shape)
        boxes = im.scale_boxes(boxes, ratio, pad, image.shape)
        print(f"{path}: {n} detections")
        for j, (box, score, cls) in enumerate(zip(boxes[:shown], scores[:shown], classes[:shown])):
            print(f"  {label(cls, names):>12s} {score:.3f}  [{box[0]:.1f}, {box[1]:.1f}, {box[2]:.1f}, "
                  f"{box[3]:.1f}]" + (f"  mask {int(masks[j].sum())} px" if masks is not None else ""))
        if n > shown:
            print(f"  ... and {n - shown} more")
        if not draw:
            return None
        if masks is not None:
            image = im.draw_instance_masks(image, masks, classes[:shown])
        return im.draw_detections(image, boxes, scores, classes, names)

    def agreement(self, meta, outs, truth_outs, raw, truth_raw):
        from ..analysis import metrics
        dets = [detections(o, 0) for o in outs]
        truths = [detections(o, 0) for o in truth_outs]
        return {"map50": metrics.map50(dets, truths), "detections": int(sum(len(d[0]) for d in dets)),
                "truth_detections": int(sum(len(t[0]) for t in truths))}


TASK = Detect()

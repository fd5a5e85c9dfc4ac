"""Oriented boxes (ultralytics -obb): letterboxed pixels / 255 in, as detection; per-image rotated boxes out (the
rotated NMS head's boxes (B, max_det, 5) xywhr, scores, classes); agreement is rotated-IoU mAP50 against the fp32
engine. A 15-class model without names gets DOTA v1's (what ultralytics' published OBB models are trained on)."""
import math

import numpy as np

from . import images as im
from . import pose_obb_draw as pod
from .detect import Letterboxed
from .names import label


class OBB(Letterboxed):
    name = "obb"
    columns = ("map50", "detections")
    outputs_are = "oriented boxes"
    standard_names = pod.DOTA_V1_NAMES

    def show(self, meta, outputs, i, path, image, state, names, draw, limit=None):
        if "num_dets" not in outputs:  # head "raw" or "decode": nothing to list per detection
            print(f"{path}: " + ", ".join(f"{k} {v.shape}" for k, v in outputs.items()))
            return None
        boxes, scores, classes = pod.obb_detections(outputs, i)
        ratio, pad = state
        boxes = pod.scale_rboxes(boxes, ratio, pad)
        n = len(boxes)
        shown = n if limit is None else min(n, limit)
        print(f"{path}: {n} detections")
        for box, score, cls in zip(boxes[:shown], scores[:shown], classes[:shown]):
            print(f"  {label(cls, names):>18s} {score:.3f}  centre ({box[0]:.1f}, {box[1]:.1f})  {box[2]:.1f} x "
                  f"{box[3]:.1f}  angle {math.degrees(box[4]):.1f} deg")
        if n > shown:
            print(f"  ... and {n - shown} more")
        if not draw:
            return None
        from PIL import Image
        return np.asarray(pod.draw_rotated_boxes(Image.fromarray(image), boxes, classes, scores, names))

    def agreement(self, meta, outs, truth_outs, raw, truth_raw):
        return pod.obb_agreement([pod.obb_detections(o, 0) for o in outs],
                                 [pod.obb_detections(o, 0) for o in truth_outs])


TASK = OBB()

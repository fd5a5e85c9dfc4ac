"""Pose (ultralytics -pose): letterboxed pixels / 255 in, as detection; per-image people with keypoints out (boxes,
scores, classes and "keypoints" (B, max_det, K, ndim) of the NMS head); agreement is OKS against the fp32 engine."""
import numpy as np

from . import images as im
from . import pose_obb_draw as pod
from .detect import Letterboxed
from .names import label

# keypoint names of COCO's 17-keypoint person (the kpt_shape of every published pose model), for the printout
COCO_KEYPOINTS = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
                  "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
                  "right_knee", "left_ankle", "right_ankle")
VISIBLE = 0.5  # ultralytics' plotting threshold on keypoint visibility


class Pose(Letterboxed):
    name = "pose"
    columns = ("oks", "detections")
    outputs_are = "people and keypoints"
    standard_names = ("person",)

    def show(self, meta, outputs, i, path, image, state, names, draw, limit=None):
        if "keypoints" not in outputs:  # head "raw" or "decode": nothing to list per detection
            print(f"{path}: " + ", ".join(f"{k} {v.shape}" for k, v in outputs.items()))
            return None
        boxes, scores, classes, kpts = pod.pose_detections(outputs, i)
        ratio, pad = state
        boxes = im.scale_boxes(boxes, ratio, pad, image.shape)
        kpts = pod.scale_keypoints(kpts, ratio, pad, image.shape)
        n = len(boxes)
        shown = n if limit is None else min(n, limit)
        print(f"{path}: {n} detections")
        for box, score, cls, person in zip(boxes[:shown], scores[:shown], classes[:shown], kpts[:shown]):
            print(f"  {label(cls, names):>12s} {score:.3f}  [{box[0]:.1f}, {box[1]:.1f}, {box[2]:.1f}, "
                  f"{box[3]:.1f}]")
            seen = person[:, 2] >= VISIBLE if person.shape[1] > 2 else np.ones(len(person), bool)
            kinds = COCO_KEYPOINTS if len(person) == 17 else [str(j) for j in range(len(person))]
            points = [f"{kinds[j]} ({person[j, 0]:.0f}, {person[j, 1]:.0f})" for j in np.flatnonzero(seen)]
            print(f"    {len(points)}/{len(person)} keypoints visible" + (": " + ", ".join(points) if points else ""))
        if n > shown:
            print(f"  ... and {n - shown} more")
        if not draw:
            return None
        from PIL import Image
        picture = Image.fromarray(im.draw_detections(image, boxes, scores, classes, names))
        return np.asarray(pod.draw_keypoints(picture, kpts, VISIBLE))

    def agreement(self, meta, outs, truth_outs, raw, truth_raw):
        return pod.pose_agreement([pod.pose_detections(o, 0) for o in outs],
                                   [pod.pose_detections(o, 0) for o in truth_outs])


TASK = Pose()

"""The ultralytics 8.4.x reference for tools/compare.py and tools/accuracy.py: the module built from the package's own
yaml (sized by the weights' class count), and its raw outputs under the netdef's tensor names.

Registered in netdefs/analysis/reference.py (its builder, and `raw_names` / `raw_outputs` delegated here for engines
of this family). torch and ultralytics are imported when a reference is made; the TensorRT build path never imports
this.
"""
import contextlib
import io
import re
from pathlib import Path

import numpy as np

from ..families import ultralytics as u

_DIRS = {"v8": "v8", "11": "11", "26": "26"}


def build(model, shapes):
    """The untrained ultralytics module of `model` ('yolo11s-seg'), with the class count of `shapes` (name -> shape
    of the weights, flat or not)."""
    from ultralytics.nn.tasks import ClassificationModel, DetectionModel, OBBModel, PoseModel, SegmentationModel
    import ultralytics
    gen, scale, kind = u.FAMILY.model(model).variant
    d = u.head_index(gen, kind)
    key = f"model.{d}.linear.bias" if kind == "classify" else next(
        k for k in (f"model.{d}.cv3.0.2.bias", f"model.{d}.one2one_cv3.0.2.bias") if k in shapes)
    nc = int(np.prod(shapes[key]))
    # ultralytics reads the scale from the file name: .../cfg/models/11/yolo11s-seg.yaml is yolo11-seg.yaml, scale s
    cfg = Path(ultralytics.__file__).parent / "cfg" / "models" / _DIRS[gen] / f"{model}.yaml"
    assert cfg.with_name(re.sub(r"(\d+)([nslmx])(.*)$", r"\1\3", cfg.name)).exists(), cfg
    cls = {"detect": DetectionModel, "segment": SegmentationModel, "classify": ClassificationModel,
           "pose": PoseModel, "obb": OBBModel}[kind]
    extra = {}
    if kind == "pose":  # the keypoint layout from the width of the keypoint conv, as the weights have it
        nk = next(int(np.prod(shapes[k])) for k in (f"model.{d}.cv4.0.2.bias", f"model.{d}.cv4_kpts.0.bias",
                                                    f"model.{d}.one2one_cv4.0.2.bias",
                                                    f"model.{d}.one2one_cv4_kpts.0.bias") if k in shapes)
        extra["data_kpt_shape"] = (nk // 3, 3) if nk % 3 == 0 else (nk // 2, 2)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return cls(str(cfg), nc=nc, verbose=False, **extra)


def raw_names(info):
    """The netdef tensors compared: each level's concatenated head maps (head "raw", Detect's box / class / mask
    convolutions), Pose's undecoded keypoints or OBB's angle (flat over anchors), or a classifier's logits."""
    if info["task"] == "classify":
        return [info["outputs"][0]]
    gen, _, kind = u.FAMILY.model(info["model"]).variant
    d = u.head_index(gen, kind)
    names = [f"model.{d}.raw{i}" for i in range(len(info["strides"]))]
    if kind == "obb":  # the angle after (σ − 1/4)·π; YOLO26's raw logits are the branch's output itself
        names.append(f"model.{d}.cv4.cat" if gen == "26" else f"model.{d}.cv4.angle")
    elif kind == "pose":
        names.append(f"model.{d}.cv4.cat")
    return names


def raw_outputs(module, info):
    """(N, 3, H, W) numpy -> {tensor name: array}: the module's per-level head maps cut from its raw prediction dict
    (the one-to-many branch: the netdef's raw head), or the logits of a classifier (eval returns (softmax, logits))."""
    import torch
    names = raw_names(info)

    def run(x):
        with torch.no_grad():
            out = module(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
        if info["task"] == "classify":
            return {names[0]: out[1].numpy()}
        preds = out[1].get("one2many", out[1])
        maps, offset = {}, 0
        for key in ("angle", "kpts"):  # Pose / OBB: the extra branch, whole
            if key in preds:
                maps[names[-1]] = preds[key].numpy()
        for name, feat in zip(names, preds["feats"]):
            n = feat.shape[2] * feat.shape[3]
            parts = [preds[k][..., offset:offset + n] for k in ("boxes", "scores", "mask_coefficient") if k in preds]
            maps[name] = torch.cat(parts, 1).reshape(feat.shape[0], -1, *feat.shape[2:]).numpy()
            offset += n
        return maps
    return run

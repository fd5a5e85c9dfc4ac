"""The ultralytics 8.4.x reference for tools/compare.py: the module built from the package's own yaml (sized by the
weights' class count), and its raw outputs under the netdef's tensor names.

Meant to be registered in netdefs/analysis/reference.py: `BUILDERS["ultralytics"] = build`, and `raw_names` /
`raw_outputs` there delegating here for `info["family"] == "ultralytics"`. torch and ultralytics are imported when a
reference is made; the TensorRT build path never imports this.
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
    from ultralytics.nn.tasks import ClassificationModel, DetectionModel, SegmentationModel
    import ultralytics
    gen, scale, kind = u.FAMILY.model(model).variant
    d = u.head_index(gen, kind)
    key = f"model.{d}.linear.bias" if kind == "classify" else next(
        k for k in (f"model.{d}.cv3.0.2.bias", f"model.{d}.one2one_cv3.0.2.bias") if k in shapes)
    nc = int(np.prod(shapes[key]))
    # ultralytics reads the scale from the file name: .../cfg/models/11/yolo11s-seg.yaml is yolo11-seg.yaml, scale s
    cfg = Path(ultralytics.__file__).parent / "cfg" / "models" / _DIRS[gen] / f"{model}.yaml"
    assert cfg.with_name(re.sub(r"(\d+)([nslmx])(.*)$", r"\1\3", cfg.name)).exists(), cfg
    cls = {"detect": DetectionModel, "segment": SegmentationModel, "classify": ClassificationModel}[kind]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return cls(str(cfg), nc=nc, verbose=False)


def raw_names(info):
    """The netdef tensors compared: each level's concatenated head maps (head "raw", Detect's box / class / mask
    convolutions), or a classifier's logits."""
    if info["task"] == "classify":
        return [info["outputs"][0]]
    gen, _, kind = u.FAMILY.model(info["model"]).variant
    d = u.head_index(gen, kind)
    return [f"model.{d}.raw{i}" for i in range(len(info["strides"]))]


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
        for name, feat in zip(names, preds["feats"]):
            n = feat.shape[2] * feat.shape[3]
            parts = [preds[k][..., offset:offset + n] for k in ("boxes", "scores", "mask_coefficient") if k in preds]
            maps[name] = torch.cat(parts, 1).reshape(feat.shape[0], -1, *feat.shape[2:]).numpy()
            offset += n
        return maps
    return run

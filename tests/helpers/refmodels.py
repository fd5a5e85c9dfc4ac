"""The real upstream PyTorch models, built offline with seeded random weights (see shared notes:
reference-models.md). BatchNorm statistics are randomised: fresh models have mean 0 / var 1, which hides
BN-folding bugs."""
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_CONFIG_DIR", tempfile.mkdtemp(prefix="yolo-config-"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TORCH_HOME", tempfile.mkdtemp(prefix="torch-home-"))

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False


def randomise(model, seed=0):
    """Seeded random weights, BN statistics and BN affine parameters; returns the model in eval mode."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() > 1:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) / fan_in ** 0.5)
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
    return model.eval()


def yolov5_yaml(model):
    """Path of the yolov5 package's yaml for 'yolov5s', 'yolov5n6', 'yolov5s-seg'."""
    import yolov5
    root = Path(yolov5.__file__).parent / "models"
    if model.endswith("-seg"):
        return root / "segment" / f"{model}.yaml"
    if model.endswith("6"):
        return root / "hub" / f"{model}.yaml"
    return root / f"{model}.yaml"


def yolov5_model(model="yolov5s", seed=0, nc=None):
    import contextlib
    import io
    from yolov5.models.yolo import DetectionModel, SegmentationModel
    cls = SegmentationModel if model.endswith("-seg") else DetectionModel
    torch.manual_seed(seed)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        m = cls(str(yolov5_yaml(model)), nc=nc)
    return randomise(m.float(), seed)


def state_dict_arrays(model):
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


def yolov5_v50_model(seed=0, width=0.25, depth=0.33):
    """YOLOv5 as released in v5.0 (Focus stem, SPP, C3 after SPP), from a yaml-equivalent dict."""
    import contextlib
    import io
    from yolov5.models.yolo import DetectionModel
    from netdefs.families.yolov5 import ANCHORS_P5, BACKBONE_V50, NECK_P5
    up = lambda row: [row[0], row[1], "nn.Upsample" if row[2] == "Upsample" else row[2], row[3]]
    cfg = {"nc": 80, "depth_multiple": depth, "width_multiple": width, "anchors": ANCHORS_P5,
           "backbone": [list(r) for r in BACKBONE_V50],
           "head": [up(r) for r in NECK_P5] + [[[17, 20, 23], 1, "Detect", ["nc", "anchors"]]]}
    torch.manual_seed(seed)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        m = DetectionModel(cfg)
    return randomise(m.float(), seed)

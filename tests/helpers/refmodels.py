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


# ultralytics/yolov5 v5.0 (tag v5.0, 2021-04-11) models/yolov5s.yaml as published, written here (not imported from
# netdefs.families.yolov5, whose tables it checks); depth_multiple / width_multiple are the caller's.
YOLOV5_V50_YAML = """
nc: 80
anchors:
  - [10,13, 16,30, 33,23]  # P3/8
  - [30,61, 62,45, 59,119]  # P4/16
  - [116,90, 156,198, 373,326]  # P5/32
backbone:
  [[-1, 1, Focus, [64, 3]],  # 0-P1/2
   [-1, 1, Conv, [128, 3, 2]],  # 1-P2/4
   [-1, 3, C3, [128]],
   [-1, 1, Conv, [256, 3, 2]],  # 3-P3/8
   [-1, 9, C3, [256]],
   [-1, 1, Conv, [512, 3, 2]],  # 5-P4/16
   [-1, 9, C3, [512]],
   [-1, 1, Conv, [1024, 3, 2]],  # 7-P5/32
   [-1, 1, SPP, [1024, [5, 9, 13]]],
   [-1, 3, C3, [1024, False]],  # 9
  ]
head:
  [[-1, 1, Conv, [512, 1, 1]],
   [-1, 1, nn.Upsample, [None, 2, 'nearest']],
   [[-1, 6], 1, Concat, [1]],  # cat backbone P4
   [-1, 3, C3, [512, False]],  # 13
   [-1, 1, Conv, [256, 1, 1]],
   [-1, 1, nn.Upsample, [None, 2, 'nearest']],
   [[-1, 4], 1, Concat, [1]],  # cat backbone P3
   [-1, 3, C3, [256, False]],  # 17 (P3/8-small)
   [-1, 1, Conv, [256, 3, 2]],
   [[-1, 14], 1, Concat, [1]],  # cat head P4
   [-1, 3, C3, [512, False]],  # 20 (P4/16-medium)
   [-1, 1, Conv, [512, 3, 2]],
   [[-1, 10], 1, Concat, [1]],  # cat head P5
   [-1, 3, C3, [1024, False]],  # 23 (P5/32-large)
   [[17, 20, 23], 1, Detect, [nc, anchors]],  # Detect(P3, P4, P5)
  ]
"""


def yolov5_v50_model(seed=0, width=0.25, depth=0.33):
    """YOLOv5 as released in v5.0 (Focus stem, SPP, C3 after SPP), from its published yaml."""
    import contextlib
    import io

    import yaml
    from yolov5.models.yolo import DetectionModel
    cfg = dict(yaml.safe_load(YOLOV5_V50_YAML), depth_multiple=depth, width_multiple=width)
    torch.manual_seed(seed)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        m = DetectionModel(cfg)
    return randomise(m.float(), seed)

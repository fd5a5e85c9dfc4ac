"""ultralytics 8.4.x models built from the package's own yaml files (never from netdefs' tables), with seeded random
weights and randomised BatchNorm statistics (tests/helpers/refmodels.randomise)."""
import contextlib
import io
import re
from pathlib import Path

import torch

from tests.helpers.refmodels import randomise  # sets the offline environment before ultralytics is imported

GENERATION_DIRS = {"yolov8": "v8", "yolo11": "11", "yolo26": "26"}


def yaml_path(name):
    """The package's yaml for 'yolov8n', 'yolo11s-seg', 'yolo26n-cls': ultralytics reads the scale letter from the
    file name, so .../cfg/models/11/yolo11s-seg.yaml loads yolo11-seg.yaml with scale s."""
    import ultralytics
    gen = re.match(r"(yolov8|yolo11|yolo26)", name).group(1)
    root = Path(ultralytics.__file__).parent / "cfg" / "models" / GENERATION_DIRS[gen]
    unified = re.sub(r"(\d+)([nslmx])(.*)$", r"\1\3", name)
    assert (root / f"{unified}.yaml").exists(), root / f"{unified}.yaml"
    return root / f"{name}.yaml"  # yaml_model_load maps yolo11s-seg.yaml to yolo11-seg.yaml with scale s


def ultralytics_model(name, seed=0, nc=None, cls_bias=-2.0):
    """DetectionModel / SegmentationModel / ClassificationModel of `name`, eval mode, random weights. The class
    logits' biases are moved to `cls_bias` (± noise) so that sigmoid scores spread below and above the thresholds
    instead of all sitting near 0.5; DFL's projection is restored to arange(reg_max) as in every checkpoint."""
    from ultralytics.nn.tasks import ClassificationModel, DetectionModel, SegmentationModel
    cls = SegmentationModel if name.endswith("-seg") else ClassificationModel if name.endswith("-cls") else \
        DetectionModel
    torch.manual_seed(seed)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        m = cls(str(yaml_path(name)), nc=nc, verbose=False)
    m = randomise(m.float(), seed)
    head = m.model[-1]
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for attr in ("cv3", "one2one_cv3"):
            for seq in getattr(head, attr, None) or []:
                seq[-1].bias.copy_(cls_bias + 0.5 * torch.randn(seq[-1].bias.shape, generator=g))
        dfl = getattr(head, "dfl", None)
        if isinstance(dfl, torch.nn.Module) and hasattr(dfl, "conv"):
            dfl.conv.weight.copy_(torch.arange(dfl.c1, dtype=torch.float32).view(1, -1, 1, 1))
    return m


def state_dict_arrays(model):
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}

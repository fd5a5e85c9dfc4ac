"""The upstream PyTorch model for a netdefs model name and weights, for tools/accuracy.py's "vs PyTorch" column:
yolov5's DetectionModel (from the package's yaml), torchvision's ResNet, smp's Unet. torch is imported here only.
(Small on purpose: netdefs/reference.py, written for tools/compare.py, covers the same ground and will absorb it.)
"""
import contextlib
import io
import os
import tempfile

import numpy as np


def _offline():
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_CONFIG_DIR", tempfile.mkdtemp(prefix="yolo-config-"))
    os.environ.setdefault("TORCH_HOME", tempfile.mkdtemp(prefix="torch-home-"))


def _load(model, arrays):
    import torch
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    # .wts files store every tensor flat: take the PyTorch model's shapes
    state = {k: torch.from_numpy(np.array(v).reshape(shapes.get(k, np.shape(v)))) for k, v in arrays.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"the weights do not fit the PyTorch model: missing {missing[:3]}, unexpected "
                         f"{unexpected[:3]}")
    return model.float().eval()


def builtin(name, arrays, info):
    """A function numpy input (n, 3, H, W) -> {engine tensor name: array} for the raw outputs of `info`
    (the engine sidecar's metadata), or raise ValueError for a model it does not know."""
    import torch
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    _offline()
    family = info["family"]
    nc = info.get("num_classes")
    if family == "yolov5":
        from pathlib import Path

        import yolov5
        from yolov5.models.yolo import DetectionModel
        root = Path(yolov5.__file__).parent / "models"
        if name.endswith("-seg") or name.endswith("-v5.0"):
            raise ValueError(f"no builtin PyTorch reference for {name}")
        yaml = root / "hub" / f"{name}.yaml" if name.endswith("6") else root / f"{name}.yaml"
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            model = _load(DetectionModel(str(yaml), nc=nc), arrays)
        names = raw_tensors(info)

        def run(x):
            with torch.no_grad():
                _, raw = model(torch.from_numpy(x))
            return {n: r.numpy() for n, r in zip(names, raw)}
    elif family == "resnet":
        import torchvision
        model = _load(getattr(torchvision.models, name)(weights=None, num_classes=nc), arrays)

        def run(x):
            with torch.no_grad():
                return {"logits": model(torch.from_numpy(x)).numpy()}
    elif family == "unet":
        import segmentation_models_pytorch as smp
        model = _load(smp.Unet(name[len("unet-"):], encoder_weights=None, classes=nc), arrays)

        def run(x):
            with torch.no_grad():
                return {"logits": model(torch.from_numpy(x)).numpy()}
    else:
        raise ValueError(f"no builtin PyTorch reference for {name}")
    return run


def raw_tensors(info):
    """The tensors compared between precisions: YOLOv5's detection maps (before decoding), else the outputs."""
    if info["family"] == "yolov5":
        from .yolov5 import detect_index, parse_name
        d = detect_index(parse_name(info["model"])[1])
        return [f"model.{d}.m.{i}.view" for i in range(len(info["strides"]))]
    return list(info["outputs"])

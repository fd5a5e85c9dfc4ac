"""Model name -> network-definition module."""
import importlib

FAMILIES = {
    "yolov5": "netdefs.yolov5",
    "segformer": "netdefs.segformer",
    "resnet": "netdefs.resnet",
    "mobilenet": "netdefs.mobilenet",
    "unet": "netdefs.unet",
    "fpn": "netdefs.fpn",
}


def family(model):
    name = model.lower()
    for prefix, module in FAMILIES.items():
        if name.startswith(prefix):
            mod = importlib.import_module(module)
            if name in getattr(mod, "MODELS", [name]):
                return mod
    from .engine import UserError
    known = [m for module in FAMILIES.values() for m in getattr(importlib.import_module(module), "MODELS", [])]
    raise UserError(f"unknown model {model!r}; known models: {', '.join(known)}")

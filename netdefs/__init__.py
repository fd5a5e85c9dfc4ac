"""trt-netdefs: network definitions written with the TensorRT network API, runnable on TensorRT or reftrt.

    engine = netdefs.build("yolov5s", "yolov5s.wts")        # backend="auto": TensorRT + GPU, else reftrt
    outputs = engine(images)                                 # dict of numpy arrays
    engine.save("yolov5s.engine"); engine = netdefs.load("yolov5s.engine")

Layout: family.py (the contract every family declares), families/ (one module per architecture family and the
registry), layers/ (Net, the op layer, INT8 Q/DQ, blocks by upstream codebase), runtime/ (backend, define / build,
engines, calibration, demo weights), tasks/ (detect / classify / segment: pre- and post-processing, metrics),
analysis/ (fusion prediction, layer-by-layer compare, reference models, metrics).
"""
from .errors import BuildError, ModelMismatch, UserError
from .runtime.backend import resolve_backend
from .runtime.build import build, define
from .runtime.engine import Engine, load

__all__ = ["build", "define", "load", "Engine", "BuildError", "ModelMismatch", "UserError", "resolve_backend"]

"""trt-netdefs: network definitions written with the TensorRT network API, runnable on TensorRT or reftrt.

    engine = netdefs.build("yolov5s", "yolov5s.wts")        # backend="auto": TensorRT + GPU, else reftrt
    outputs = engine(images)                                 # dict of numpy arrays
    engine.save("yolov5s.engine"); engine = netdefs.load("yolov5s.engine")
"""
from .engine import BuildError, Engine, UserError, build, load, resolve_backend

__all__ = ["build", "load", "Engine", "BuildError", "UserError", "resolve_backend"]

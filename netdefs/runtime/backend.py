"""Which TensorRT module runs: `tensorrt` with a GPU, else `reftrt` (the CPU reference of the same API)."""
import importlib
import sys

from ..errors import UserError

BACKENDS = ("auto", "tensorrt", "reference")


def _gpu_available():
    try:
        import pycuda.driver as cuda
        cuda.init()
        return cuda.Device.count() > 0
    except Exception:
        return False


def resolve_backend(backend="auto", quiet=False):
    """('tensorrt' | 'reference', trt module). auto: TensorRT when it and a GPU are present, else reftrt."""
    if backend not in BACKENDS:
        raise UserError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend in ("auto", "tensorrt"):
        try:
            import tensorrt as trt
            has_trt = True
        except ImportError:
            has_trt = False
        if has_trt and _gpu_available():
            if not quiet:
                print(f"backend: TensorRT {trt.__version__} on the GPU", file=sys.stderr)
            return "tensorrt", trt
        if backend == "tensorrt":
            raise UserError("backend 'tensorrt' needs the tensorrt package, pycuda and an NVIDIA GPU: "
                            + ("no GPU found through pycuda" if has_trt else "tensorrt is not installed"))
    import reftrt
    if not quiet:
        print(f"backend: reftrt (CPU reference of the TensorRT {reftrt.__version__} API; no TensorRT/GPU found)"
              if backend == "auto" else f"backend: reftrt (CPU reference of the TensorRT {reftrt.__version__} API)",
              file=sys.stderr)
    return "reference", reftrt


def trt_module(backend):
    return importlib.import_module("tensorrt" if backend == "tensorrt" else "reftrt")


class Logger:
    """Collects TensorRT's errors for the build error message; prints warnings and errors."""

    def __init__(self, trt, verbose=False):
        base = trt.ILogger

        class Logger(base):
            def __init__(self):
                base.__init__(self)
                self.errors = []

            def log(self, severity, msg):
                if severity in (trt.ILogger.Severity.ERROR, trt.ILogger.Severity.INTERNAL_ERROR):
                    self.errors.append(msg)
                if int(severity) <= int(trt.ILogger.Severity.WARNING) or verbose:
                    print(f"[TRT] {msg}", file=sys.stderr)

        self.logger = Logger()

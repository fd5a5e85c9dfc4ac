"""Weights for network definitions: tensorrtx `.wts`, safetensors, and PyTorch checkpoints of any form.

    import weights
    w = weights.load("yolov5s.wts")              # or .safetensors, or a checkpoint (needs torch)
    w["model.0.conv.weight"]                     # numpy array; memory-mapped for safetensors
    w.metadata, w.path, w.sha256
    weights.save(w, "yolov5s.safetensors")       # or save_wts / save_safetensors
    store = weights.WeightStore(w)               # what network definitions read, shape-checked

No torch here: engines are built on a Jetson with numpy and TensorRT alone. Only `weights.checkpoint` (reading
`.pt` files) imports torch, when called. `weights.atomic` (atomic_output, atomic_write) writes any output file
whole or not at all.
"""
import os

import numpy as np

from .checkpoint import load_checkpoint
from .errors import (CheckpointError, FormatError, MissingWeightsError, NonFiniteError, ShapeMismatchError,
                     UnsafePickleError, UnusedWeightsError, UnusedWeightsWarning, WeightsError, located)
from .file import WeightFile, sha256_file, strip_prefix
from .st import read_safetensors, save_safetensors
from .store import WeightStore
from .wts import read_wts, save_wts

__all__ = ["WeightFile", "WeightStore", "load", "save", "save_wts", "save_safetensors", "detect_format",
           "strip_prefix", "load_checkpoint", "WeightsError", "FormatError", "NonFiniteError", "CheckpointError",
           "UnsafePickleError", "ShapeMismatchError", "MissingWeightsError", "UnusedWeightsError",
           "UnusedWeightsWarning"]


# PyTorch's zip format, its legacy format (a pickled magic number), and plain pickles (protocol 2+).
_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_MAGIC = b"\x80"


def detect_format(path):
    """"wts", "safetensors" or "checkpoint", from the file's first bytes (then its extension, so that a damaged
    file gets the precise error of its own reader). Raises WeightsError for empty or unknown files."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(64)
    except OSError as e:
        raise WeightsError(located(f"cannot read: {e.strerror or e}", path)) from None
    if size == 0:
        raise FormatError(located("empty file", path))
    extension = os.path.splitext(path)[1].lower()
    # safetensors first: its header length can start with the byte 0x80 that opens a pickle. A named one with a
    # header longer than the file is truncated, and its reader says so.
    if size > 8 and head[8:9] == b"{" and (extension == ".safetensors"
                                            or int.from_bytes(head[:8], "little") <= size - 8):
        return "safetensors"
    if head.startswith(_ZIP_MAGIC) or head.startswith(_PICKLE_MAGIC):
        return "checkpoint"
    if head.lstrip()[:1].isdigit():
        return "wts"
    if extension in (".wts", ".safetensors"):
        return extension[1:]
    raise FormatError(located("not a .wts, a safetensors file or a PyTorch checkpoint", path))


def load(path, allow_nonfinite=False, progress=None):
    """Read `.wts`, safetensors or (with torch installed) a PyTorch checkpoint into a `WeightFile`.

    Checkpoints are read without running code from them, whole pickled models included (see
    `weights.checkpoint`); `load_checkpoint(path, trust_pickle=True)` unpickles normally for what that cannot take.
    Every malformed file is a one-line `WeightsError` naming it. NaN / Inf are checked when reading `.wts` and
    checkpoints; safetensors are mapped, not read, and their values are checked by the `WeightStore` as the
    network takes them.
    """
    kind = detect_format(path)
    if kind == "wts":
        return WeightFile(read_wts(path, progress, allow_nonfinite), {}, path, "wts")
    if kind == "safetensors":
        arrays, metadata = read_safetensors(path)
        return WeightFile(arrays, metadata, path, "safetensors")
    return load_checkpoint(path, allow_nonfinite=allow_nonfinite)


def save(weights, path, metadata=None, dtype=None, progress=None, allow_nonfinite=False):
    """Write `weights` as `.wts` or safetensors, chosen by the extension of `path`."""
    extension = os.path.splitext(os.fspath(path))[1].lower()
    if extension == ".wts":
        if dtype is not None and np.dtype(dtype) != np.float32:
            raise WeightsError(located(f".wts stores float32 only, not {np.dtype(dtype)}", path))
        return save_wts(weights, path, progress=progress, allow_nonfinite=allow_nonfinite)
    if extension == ".safetensors":
        return save_safetensors(weights, path, metadata=metadata, dtype=dtype, progress=progress,
                                allow_nonfinite=allow_nonfinite)
    raise WeightsError(located("unknown output format: the name must end in .wts or .safetensors", path))

"""PyTorch checkpoints in the forms users bring them, read without running their code unless told to.

Forms: a bare state_dict; {'state_dict': ...}; {'model': state_dict, 'optimizer': ..., 'epoch': ...}; YOLOv5's
{'model': Module, 'ema': Module, ...} (whole pickled models: need `trust_pickle` and the model's code); a whole
pickled Module; DataParallel's `module.` prefixes; fp16; plain pickles of numpy arrays (e.g. detectron2's `.pkl`).

Unpickling can run arbitrary code, so by default files are read with `torch.load(weights_only=True)` (tensors,
containers and numbers only), and plain pickles with an unpickler that only builds numpy arrays and dicts.
torch is imported here, when a checkpoint is read, and nowhere else in `weights`.
"""
import json
import logging
import os
import pickle
import re
import warnings
from collections.abc import Mapping

import numpy as np

from .errors import CheckpointError, UnsafePickleError, check_finite, located, short_list

# Where training scripts keep the weights, in the order we prefer them. 'ema' first because YOLOv5 loads
# `(ckpt.get('ema') or ckpt['model'])`: the EMA weights are the ones it evaluates and exports.
CONTAINER_KEYS = ("ema", "model", "state_dict", "model_state_dict")
# torch.save's legacy (pre-1.6) format starts with this pickled magic number; other pickles are plain ones.
_TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19."

_log = logging.getLogger("weights")


def load_checkpoint(path, key=None, trust_pickle=False, strip="module.", allow_nonfinite=False, log=None):
    """Read the weights of a PyTorch checkpoint into a `WeightFile` (name -> numpy array, sharing memory with the
    memory-mapped checkpoint where possible; dtypes kept, bfloat16 widened to float32).

    key: the entry to take ('ema', 'model', 'state_dict', ...) when the checkpoint holds several; by default the
    first of CONTAINER_KEYS present. trust_pickle: allow pickled Python objects (a whole model), which runs code
    from the file. strip: a prefix removed when every name has it ('' keeps names). log(message): notes on what
    was chosen or skipped (default: the 'weights' logger).
    """
    from . import WeightFile, strip_prefix

    path = os.fspath(path)
    log = log or _log.info
    torch = _import_torch(path)
    obj = _read(path, torch, trust_pickle)
    state, chosen, hints = _find_state_dict(path, obj, key, torch, log)
    arrays = _to_arrays(path, state, torch, log)
    arrays, stripped = strip_prefix(arrays, strip)
    if stripped:
        log(f"removed the prefix {strip!r} from every name (a DataParallel model)")
    if not allow_nonfinite:
        for name, array in arrays.items():
            check_finite(array, path, tensor=name)
    floats = sorted({a.dtype.name for a in arrays.values() if a.dtype.kind == "f"})
    metadata = {"source": os.path.basename(path), **hints, "dtype": ",".join(floats)}
    if chosen:
        metadata["key"] = chosen
    return WeightFile(arrays, metadata, path, "checkpoint")


def _import_torch(path):
    try:
        import torch
    except ImportError:
        raise CheckpointError(located("reading a PyTorch checkpoint needs torch (pip install torch); convert it "
                                      "with tools/gen_wts.py where torch is installed", path)) from None
    return torch


# ---------------------------------------------------------------- reading the file
def _read(path, torch, trust_pickle):
    try:
        with open(path, "rb") as f:
            head = f.read(len(_TORCH_LEGACY_MAGIC))
    except OSError as e:
        raise CheckpointError(located(f"cannot read: {e.strerror or e}", path)) from None
    if not head:
        raise CheckpointError(located("empty file", path))
    zip_format = head.startswith(b"PK\x03\x04")
    if not (zip_format or head.startswith(_TORCH_LEGACY_MAGIC)):
        if not head.startswith(b"\x80"):
            raise CheckpointError(located("not a PyTorch checkpoint (neither a zip archive nor a pickle)", path))
        return _read_plain_pickle(path, trust_pickle)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's notes on pickle protocols and future defaults
        try:
            # mmap: tensors stay in the file until used, so converting costs little more than the weights once.
            return torch.load(path, map_location="cpu", weights_only=not trust_pickle, mmap=zip_format)
        except pickle.UnpicklingError as e:
            if not trust_pickle and "GLOBAL" in str(e):
                raise _unsafe(path, str(e)) from None
            # torch's own words are several paragraphs: keep the line that says what went wrong.
            found = re.search(r"WeightsUnpickler error:\s*(.+)", str(e))
            reason = found.group(1).strip() if found else _first_line(e)
            raise CheckpointError(located(f"not a readable PyTorch checkpoint: {reason}"
                                          + ("" if trust_pickle else " (read with weights_only=True; "
                                             "--trust-pickle reads any pickle, running its code)"), path)) from None
        except (ImportError, AttributeError) as e:  # trust_pickle: the model's classes are not importable
            raise CheckpointError(located(f"the pickled model needs its code, which does not import here "
                                          f"({_first_line(e)}): run from the model's repository (for YOLOv5, a "
                                          "clone of ultralytics/yolov5 or `pip install yolov5`) or put it on "
                                          "PYTHONPATH", path)) from None
        except Exception as e:  # torch reports damaged files with RuntimeError, EOFError, KeyError ...
            raise CheckpointError(located(f"not a readable PyTorch checkpoint: {_first_line(e)}", path)) from None


def _unsafe(path, message):
    found = re.search(r"GLOBAL ([\w.]+)", message)
    what = f" ({found.group(1)})" if found else ""
    module = found.group(1).rsplit(".", 1)[0] if found else None
    code = f"module {module!r}" if module and module != "__main__" else "model's code"
    return UnsafePickleError(located(
        f"the checkpoint holds pickled Python objects{what}, not only tensors, and loading them runs code from "
        f"the file. If you trust it, re-run with --trust-pickle (trust_pickle=True); the {code} must then be "
        "importable (for YOLOv5: run from its repository, or pip install yolov5)", path))


class _NumpyUnpickler(pickle.Unpickler):
    """Builds dicts, lists, numbers, strings and numpy arrays; refuses every other global."""

    ALLOWED = {("collections", "OrderedDict"), ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
               ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar")}

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise UnsafePickleError(f"GLOBAL {module}.{name}")


def _read_plain_pickle(path, trust_pickle):
    try:
        with open(path, "rb") as f:
            # latin1: numpy arrays pickled by Python 2 (detectron2's model zoo) decode as bytes, as numpy needs.
            if trust_pickle:
                return pickle.load(f, encoding="latin1")
            return _NumpyUnpickler(f, encoding="latin1").load()
    except UnsafePickleError as e:
        raise _unsafe(path, str(e)) from None
    except (ImportError, AttributeError) as e:
        raise CheckpointError(located(f"the pickled model needs its code, which does not import here "
                                      f"({_first_line(e)})", path)) from None
    except Exception as e:
        raise CheckpointError(located(f"not a readable pickle: {_first_line(e)}", path)) from None


def _first_line(e):
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}".rstrip(": ")


# ---------------------------------------------------------------- finding the state_dict
def _find_state_dict(path, obj, key, torch, log):
    """(state_dict, the key path taken, metadata hints) of whatever the checkpoint holds."""
    chosen, hints = [], {}
    if key is not None:
        if not isinstance(obj, Mapping) or key not in obj:
            entries = short_list(map(str, obj)) if isinstance(obj, Mapping) else f"a {type(obj).__name__}"
            raise CheckpointError(located(f"no entry {key!r} to pick with --key (the checkpoint holds: {entries})",
                                          path))
        hints.update(_dict_hints(obj))
        obj, chosen = obj[key], [key]
        if obj is None:
            raise CheckpointError(located(f"entry {key!r} is None", path))
    for _ in range(4):  # containers nest: {'model': Module}, {'state_dict': {'model': ...}}
        if isinstance(obj, torch.nn.Module):
            hints.update(_module_hints(obj))
            return obj.state_dict(), ".".join(chosen), hints
        if not isinstance(obj, Mapping):
            raise CheckpointError(located(f"found a {type(obj).__name__} where a state_dict, a model or a "
                                          "checkpoint dict was expected", path))
        if _is_state_dict(obj, torch):
            return obj, ".".join(chosen), hints
        present = [k for k in CONTAINER_KEYS if obj.get(k) is not None]
        if not present:
            if any(_is_tensor(v, torch) for v in obj.values()):
                return obj, ".".join(chosen), hints  # a state_dict with extras: _to_arrays skips them
            raise CheckpointError(located(f"found no weights: the checkpoint holds {short_list(map(str, obj))}; "
                                          "pick the entry with --key", path))
        hints.update(_dict_hints(obj))
        if len(present) > 1:
            why = " (as YOLOv5 loads it: ckpt.get('ema') or ckpt['model'])" if present[0] == "ema" else ""
            log(f"using {present[0]!r}{why}; the checkpoint also has {', '.join(map(repr, present[1:]))}: "
                "pick one with --key")
        obj = obj[present[0]]
        chosen.append(present[0])
    raise CheckpointError(located("found no weights: containers nested too deeply", path))


def _is_tensor(value, torch):
    return isinstance(value, (torch.Tensor, np.ndarray))


def _is_state_dict(obj, torch):
    return len(obj) > 0 and all(_is_tensor(v, torch) for v in obj.values())


def _dict_hints(obj):
    hints = {}
    for k in ("arch", "architecture"):
        if isinstance(obj.get(k), str):
            hints["architecture"] = obj[k]
    if isinstance(obj.get("epoch"), int):
        hints["epoch"] = str(obj["epoch"])
    return hints


def _module_hints(module):
    """Architecture hints a pickled model carries: its class, and YOLO's config (`yaml`) and class names."""
    hints = {"architecture": f"{type(module).__module__}.{type(module).__qualname__}"}
    for attribute, key in (("yaml", "config"), ("names", "names")):
        value = getattr(module, attribute, None)
        if isinstance(value, (dict, list, tuple)):
            hints[key] = json.dumps(value, default=str)
    return hints


# ---------------------------------------------------------------- tensors to arrays
def _to_arrays(path, state, torch, log):
    arrays, skipped, widened = {}, [], []
    for name, value in state.items():
        name = str(name)
        if isinstance(value, np.ndarray):
            arrays[name] = value
        elif isinstance(value, torch.Tensor):
            arrays[name] = _numpy(path, name, value, torch)
            if value.dtype == torch.bfloat16:
                widened.append(name)
        else:
            skipped.append(name)
    if skipped:
        log(f"skipped {len(skipped)} entries that are not tensors: {short_list(skipped)}")
    if widened:
        log(f"{len(widened)} bfloat16 tensors widened to float32 (exact; numpy has no bfloat16)")
    if not arrays:
        raise CheckpointError(located("the checkpoint holds no tensors", path))
    return arrays


def _numpy(path, name, tensor, torch):
    tensor = tensor.detach()
    if tensor.layout != torch.strided or tensor.is_quantized or tensor.is_complex():
        raise CheckpointError(located(f"{tensor.dtype} {tensor.layout} tensors are not supported "
                                      "(dense real tensors only)", path, tensor=name))
    if tensor.device.type != "cpu":
        tensor = tensor.cpu()
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.float()
    try:
        return tensor.numpy()  # shares memory with the tensor: no copy
    except (TypeError, RuntimeError) as e:
        raise CheckpointError(located(f"cannot convert {tensor.dtype} to numpy: {_first_line(e)}", path,
                                      tensor=name)) from None

"""PyTorch checkpoints in the forms users bring them, read without running their code unless told to.

Forms: a bare state_dict; {'state_dict': ...}; {'model': state_dict, 'optimizer': ..., 'epoch': ...}; YOLOv5's
{'model': Module, 'ema': Module, ...} and ultralytics' {'model': Module, 'ema': None, 'train_args': ...} (whole
pickled models, under their training repository's module names); a whole pickled Module (torchvision, timm ...);
DataParallel's `module.` prefixes; fp16; plain pickles of numpy arrays (e.g. detectron2's `.pkl`).

Unpickling can run arbitrary code, so by default nothing from the file is imported or called: `weights.unpickle`
turns every class and function the pickle names into an inert placeholder, except torch's tensor builders, plain
containers and numeric numpy arrays. A pickled model then is a tree of placeholders whose `_modules`,
`_parameters` and `_buffers` give its state_dict, exactly as `model.state_dict()` would, without its code being
installed. `trust_pickle` unpickles normally (running the file's code) for what that cannot take.
torch is imported here, when a checkpoint is read, and nowhere else in `weights`.
"""
import json
import logging
import math
import os
import warnings
import zipfile
from collections.abc import Mapping

import numpy as np

from . import unpickle
from .file import WeightFile, strip_prefix
from .errors import CheckpointError, UnsafePickleError, WeightsError, check_finite, clip, located, short_list
from .unpickle import Placeholder

# Where training scripts keep the weights, in the order we prefer them. 'ema' first because YOLOv5 loads
# `(ckpt.get('ema') or ckpt['model'])`: the EMA weights are the ones it evaluates and exports.
CONTAINER_KEYS = ("ema", "model", "state_dict", "model_state_dict")
# What a pickled model says about itself (YOLOv5 / ultralytics), kept in the metadata: attribute -> key.
MODEL_HINTS = (("yaml", "config"), ("names", "names"), ("nc", "nc"), ("stride", "stride"), ("task", "task"),
               ("args", "args"))
HINT_LIMIT = 1 << 20  # characters of JSON per hint: a hint is a note, not a payload
# torch.save's legacy (pre-1.6) format starts with this pickled magic number; other pickles are plain ones.
_TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19."

_log = logging.getLogger("weights")


def load_checkpoint(path, key=None, trust_pickle=False, strip="module.", allow_nonfinite=False, log=None):
    """Read the weights of a PyTorch checkpoint into a `WeightFile` (name -> numpy array, sharing memory with the
    memory-mapped checkpoint where possible; dtypes kept, bfloat16 widened to float32).

    key: the entry to take ('ema', 'model', 'state_dict', ...) when the checkpoint holds several; by default the
    first of CONTAINER_KEYS present. trust_pickle: unpickle normally, running code from the file (and finding a
    YOLOv5 repository's `models.*` / `utils.*` in the pip `yolov5` package). strip: a prefix removed when every
    name has it ('' keeps names). log(message): notes on what was chosen or skipped (default: the 'weights'
    logger). Metadata: source, dtype, key, epoch, and what a pickled model says about itself (architecture,
    config = its `yaml`, names, nc, stride, task, args; JSON text except plain strings).
    Every problem with the file is a one-line `CheckpointError` naming it.
    """

    path = os.fspath(path)
    log = log or _log.info
    torch = _import_torch(path)
    try:
        obj, unloaded = _read(path, torch, trust_pickle)
        state, chosen, hints = _find_state_dict(path, obj, key, torch, log, unloaded)
        arrays = _to_arrays(path, state, torch, log)
    except WeightsError:
        raise
    except Exception as e:  # whatever a damaged or hostile file makes Python raise: one line naming the file
        raise CheckpointError(located(f"not a readable PyTorch checkpoint: {_first_line(e)}", path)) from None
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
    """(the unpickled object, qualified names of the globals that became placeholders)."""
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
    if zip_format:
        _refuse_torchscript(path)
    if trust_pickle:
        unpickler, record = unpickle.TrustedUnpickler, []
    else:
        unpickler = unpickle.torch_safe_unpickler()
        record = unpickler.record
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's notes on pickle protocols and future defaults
        try:
            # mmap: tensors stay in the file until used, so converting costs little more than the weights once.
            obj = torch.load(path, map_location="cpu", weights_only=False, mmap=zip_format,
                             pickle_module=unpickle.pickle_module(unpickler))
        except (ImportError, AttributeError) as e:
            if trust_pickle:  # the model's classes are not importable
                raise _needs_code(path, e) from None
            raise
    return (obj, record) if trust_pickle else (unpickle.resolve(obj), record)


def _refuse_torchscript(path):
    # torch.load hands TorchScript archives to torch.jit.load, which runs the archive's own methods.
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise CheckpointError(located(f"not a readable PyTorch checkpoint: damaged zip archive ({_first_line(e)})",
                                      path)) from None
    if any(name.endswith("/constants.pkl") or name == "constants.pkl" for name in names):
        raise CheckpointError(located("a TorchScript archive (torch.jit.save), not a checkpoint: load it with "
                                      "torch.jit.load where you trust it and torch.save its state_dict()", path))


def _read_plain_pickle(path, trust_pickle):
    try:
        with open(path, "rb") as f:
            # latin1: numpy arrays pickled by Python 2 (detectron2's model zoo) decode as bytes, as numpy needs.
            return unpickle.load_plain(f, trusted=trust_pickle)
    except (ImportError, AttributeError) as e:
        if trust_pickle:
            raise _needs_code(path, e) from None
        raise CheckpointError(located(f"not a readable pickle: {_first_line(e)}", path)) from None
    except Exception as e:
        raise CheckpointError(located(f"not a readable pickle: {_first_line(e)}", path)) from None


def _needs_code(path, e):
    return CheckpointError(located(f"the pickled model needs its code, which does not import here "
                                   f"({_first_line(e)}): run from the model's repository (for YOLOv5, a clone of "
                                   "ultralytics/yolov5 or `pip install yolov5`) or put it on PYTHONPATH", path))


def _unsafe(path, what, why):
    return UnsafePickleError(located(
        f"the checkpoint holds a pickled {clip(what)} object {why}, and reading it without running code from the "
        "file found no weights in it. If you trust the file, re-run with --trust-pickle (trust_pickle=True); its "
        "code must then be importable", path))


def _first_line(e):
    text = str(e).strip().splitlines()
    return clip(f"{type(e).__name__}: {text[0] if text else ''}".rstrip(": "))


# ---------------------------------------------------------------- finding the state_dict
def _find_state_dict(path, obj, key, torch, log, unloaded):
    """(state_dict, the key path taken, metadata hints) of whatever the checkpoint holds."""
    chosen, hints = [], {}
    if key is not None:
        if not isinstance(obj, Mapping) or key not in obj:
            entries = short_list(map(str, obj)) if isinstance(obj, Mapping) else f"a {_kind(obj)}"
            raise CheckpointError(located(f"no entry {clip(key)!r} to pick with --key (the checkpoint holds: "
                                          f"{entries})", path))
        hints.update(_dict_hints(obj))
        obj, chosen = obj[key], [key]
        if obj is None:
            raise CheckpointError(located(f"entry {clip(key)!r} is None", path))
    for _ in range(4):  # containers nest: {'model': Module}, {'state_dict': {'model': ...}}
        if _is_module(obj, torch):
            hints.update(_module_hints(obj, torch))
            return _module_state_dict(path, obj, torch), ".".join(chosen), hints
        if isinstance(obj, Placeholder):
            raise _unsafe(path, obj.qualified_name(), "where a state_dict, a model or a checkpoint dict was "
                                                      "expected")
        if not isinstance(obj, Mapping):
            raise CheckpointError(located(f"found a {_kind(obj)} where a state_dict, a model or a checkpoint dict "
                                          "was expected", path))
        if _is_state_dict(obj, torch):
            return obj, ".".join(chosen), hints
        present = [k for k in CONTAINER_KEYS if obj.get(k) is not None]
        if not present:
            if any(_is_tensor(v, torch) for v in obj.values()):
                return obj, ".".join(chosen), hints  # a state_dict with extras: _to_arrays skips them
            if unloaded:
                raise _unsafe(path, unloaded[0], "(and others)" if len(unloaded) > 1 else "")
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


def _kind(obj):
    return obj.qualified_name() if isinstance(obj, Placeholder) else type(obj).__name__


def _is_tensor(value, torch):
    return isinstance(value, (torch.Tensor, np.ndarray))


def _is_state_dict(obj, torch):
    return len(obj) > 0 and all(_is_tensor(v, torch) for v in obj.values())


def _is_module(obj, torch):
    if isinstance(obj, torch.nn.Module):
        return True
    if not isinstance(obj, Placeholder):
        return False
    attributes = obj.attributes
    return isinstance(attributes.get("_modules"), dict) and isinstance(attributes.get("_parameters"), dict)


def _module_state_dict(path, module, torch):
    """What `module.state_dict()` gives: per module its parameters, then its persistent buffers (None skipped),
    then its children's, depth first, with dotted names; for a placeholder, from its pickled attributes."""
    if isinstance(module, torch.nn.Module):  # trust_pickle: the real thing
        return module.state_dict()
    out = {}

    def visit(m, prefix, depth):
        if depth > unpickle.MAX_DEPTH:
            raise CheckpointError(located(f"modules nested more than {unpickle.MAX_DEPTH} deep", path))
        attributes = m.attributes
        for name, value in _as_dict(attributes.get("_parameters")).items():
            if value is not None:
                out[prefix + str(name)] = value
        transient = attributes.get("_non_persistent_buffers_set")
        transient = transient if isinstance(transient, (set, frozenset)) else ()
        for name, value in _as_dict(attributes.get("_buffers")).items():
            if value is not None and name not in transient:
                out[prefix + str(name)] = value
        for name, child in _as_dict(attributes.get("_modules")).items():
            if child is not None:
                if not _is_module(child, torch):
                    raise CheckpointError(located(f"submodule {clip(prefix + str(name))!r} is a {_kind(child)}, "
                                                  "not a module", path))
                visit(child, f"{prefix}{name}.", depth + 1)
    visit(module, "", 0)
    return out


def _as_dict(value):
    return value if isinstance(value, dict) else {}


def _dict_hints(obj):
    hints = {}
    for k in ("arch", "architecture"):
        if isinstance(obj.get(k), str):
            hints["architecture"] = clip(obj[k], 1000)
    if type(obj.get("epoch")) is int:
        hints["epoch"] = str(obj["epoch"])
    for k in ("date", "version"):
        if isinstance(obj.get(k), str):
            hints[k] = clip(obj[k], 1000)
    args = _json_hint(obj.get("train_args"))  # ultralytics' training arguments
    if args is not None:
        hints["args"] = args
    return hints


def _module_hints(module, torch):
    """What a pickled model says about itself: its class, and YOLO's config (`yaml`), names, nc, stride, task,
    training args."""
    if isinstance(module, Placeholder):
        hints, attributes = {"architecture": clip(module.qualified_name(), 1000)}, module.attributes
    else:
        hints = {"architecture": f"{type(module).__module__}.{type(module).__qualname__}"}
        attributes = vars(module)
    for attribute, key in MODEL_HINTS:
        value = _json_hint(attributes.get(attribute))
        if value is not None:
            hints[key] = value
    return hints


def _json_hint(value):
    """`value` as metadata text: a plain string as itself, anything else as JSON (tensors and arrays as lists,
    placeholders as their pickled attributes, pathlib paths as strings); None if empty, not representable or
    longer than HINT_LIMIT."""
    if value is None:
        return None
    if isinstance(value, str):
        return clip(value, HINT_LIMIT)
    try:
        text = json.dumps(_jsonable(value, 0), allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return None
    return text if len(text) <= HINT_LIMIT and text not in ("null", "{}") else None


def _jsonable(value, depth):
    if depth > 20:
        raise ValueError("nested too deeply")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, depth + 1) for v in value]
    if isinstance(value, dict):
        # JSON keys are strings: {0: 'person'} becomes {"0": "person"}, as YOLO's own yaml files write them.
        return {str(k) if isinstance(k, (int, str)) else repr(k): _jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "tolist") and hasattr(value, "dtype") and math.prod(getattr(value, "shape", ())) <= 4096:
        return value.tolist()  # a small tensor or array: YOLO's stride
    if isinstance(value, Placeholder):
        if value.pickled_module.startswith("pathlib") and all(isinstance(a, str) for a in value.pickled_args):
            return "/".join(value.pickled_args)
        if value.attributes:
            return _jsonable(value.attributes, depth + 1)
    raise TypeError("not representable")


# ---------------------------------------------------------------- tensors to arrays
def _to_arrays(path, state, torch, log):
    arrays, skipped, widened = {}, [], []
    for name, value in state.items():
        name = str(name)
        if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
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
        why = (f" ({len(skipped)} entries are pickled objects, not tensors; --trust-pickle reads them by running "
               "code from the file)" if skipped else "")
        raise CheckpointError(located(f"the checkpoint holds no tensors{why}", path))
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

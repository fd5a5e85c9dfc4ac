"""Explicit INT8 quantization, the TensorRT 11 way: Quantize / Dequantize pairs written into the network.

TensorRT 11 removed BuilderFlag.INT8 / FP16 and every IInt8*Calibrator: a network's precision is what its layers
and types say (strongly typed). INT8 is expressed with IQuantizeLayer / IDequantizeLayer pairs ("Q/DQ"), which the
builder fuses into INT8 kernels (TensorRT developer guide, "Working with Quantized Types" > "Explicit
Quantization" and "Q/DQ Layer-Placement Recommendations"):
- the input activation of a convolution or matrix multiply is quantized per tensor (one scale),
- its weights per output channel (axis 0 of the GKCRS kernel, or of a (out, in) linear weight), the Q/DQ pair
  feeding the kernel input (`set_input(1, ...)`) of the convolution,
- the second input of a residual add is quantized too, so that conv + add (+ relu) fuse into one INT8 kernel.
Everything else (SiLU, decode, NMS, softmax, the sensitive detection-head outputs) stays in the "remainder"
precision: float16 by default (what the old INT8 + FP16 flags gave), or float32.

Names follow ModelOpt / pytorch-quantization: `{prefix}.input_quantizer`, `{prefix}.weight_quantizer` and
`{block}.residual_quantizer`, with `.quantize`, `.dequantize` and `.scale` for the layers, so that every quantizer
shows up per layer in an engine inspector and in a calibration cache.

numpy only: this module builds INT8 engines on a Jetson without torch.
"""
import fnmatch
import hashlib
import json
import os

import numpy as np

from weights.atomic import atomic_output

from ..errors import UserError

INT8_MAX = 127.0
PRECISIONS = ("fp16", "fp32", "int8")


class QuantError(UserError):
    """A quantization setting, a calibration cache or a fallback pattern is wrong (a user error)."""


def parse_fallback(items):
    """["model.24.*=fp16", "*.fc=fp32"] -> [(pattern, precision)]; a user error names the bad item."""
    out = []
    for item in items or ():
        pattern, sep, precision = str(item).rpartition("=")
        if not sep or not pattern or precision not in ("fp16", "fp32", "int8"):
            raise QuantError(f"--fallback takes PATTERN=fp16|fp32|int8 (fnmatch on the layer name), got {item!r}")
        out.append((pattern, precision))
    return out


class Quantization:
    """What to quantize and with which ranges.

    amax: {quantizer name: absolute max of its input} for activations (`*.input_quantizer`,
        `*.residual_quantizer`), from calibration or a cache. Weights' ranges are computed from the weights.
    fallback: [(fnmatch pattern, "fp16" | "fp32" | "int8")] on the layer prefix (the state_dict name of the
        convolution / linear, `model.24.m.0`), the last matching pattern wins; the family's defaults (sensitive
        layers, e.g. YOLOv5's detection convolutions) come first, so a user pattern "=int8" can re-enable them.
    remainder: "fp16" or "fp32", the type of everything that is not INT8.
    collect: True while calibrating: the network is plain float32; the quantizers are only recorded (`Net
        .quantizers`), so that their input tensors can be observed.
    """

    def __init__(self, amax=None, fallback=(), remainder="fp16", collect=False, method=None, meta=None):
        if remainder not in ("fp16", "fp32"):
            raise QuantError(f"the INT8 remainder precision must be fp16 or fp32, got {remainder!r}")
        self.amax = {k: float(v) for k, v in (amax or {}).items()}
        self.fallback = list(fallback)
        self.remainder, self.collect, self.method = remainder, collect, method
        self.meta = dict(meta or {})

    def with_defaults(self, patterns):
        """A copy with the family's default fallbacks (sensitive layers) before the user's patterns."""
        q = Quantization(self.amax, list(patterns) + self.fallback, self.remainder, self.collect, self.method,
                         self.meta)
        return q

    def layer_precision(self, prefix):
        """"int8", "fp16" or "fp32" for the weighted layer `prefix` (fallback patterns, last match wins)."""
        precision = "int8"
        for pattern, p in self.fallback:
            if fnmatch.fnmatchcase(prefix, pattern):
                precision = p
        return precision

    def quantizes(self, prefix):
        return self.layer_precision(prefix) == "int8"

    def amax_of(self, quantizer):
        try:
            amax = self.amax[quantizer]
        except KeyError:
            source = self.meta.get("source", "the calibration")
            raise QuantError(f"{source} has no range for {quantizer} (recalibrate, or the cache is of another "
                             f"network)") from None
        if amax == 0:  # an all-zero activation: any positive scale quantizes it exactly (zero scales are refused)
            amax = 1.0
        if not np.isfinite(amax) or amax < 0:
            raise QuantError(f"{quantizer}: amax {amax} is not a positive number")
        return amax


def weight_amax(w, axis=0):
    """Per-output-channel absolute max of a weight array (axis 0: GKCRS kernels and (out, in) linear weights).
    A channel of zeros gets amax 1 (any scale quantizes zeros exactly; TensorRT refuses zero scales)."""
    w = np.asarray(w, np.float32)
    reduce = tuple(i for i in range(w.ndim) if i != axis)
    amax = np.abs(w).max(axis=reduce) if reduce else np.abs(w)
    return np.where(amax > 0, amax, 1.0).astype(np.float32)


def scale_of(amax):
    """Symmetric INT8 scale: amax maps to 127 (TensorRT's and ModelOpt's narrow range, -127..127 in practice)."""
    return (np.asarray(amax, np.float32) / np.float32(INT8_MAX)).astype(np.float32)


def fake_quant(x, amax, axis=None):
    """numpy fake quantization as TensorRT computes Q then DQ: round-half-to-even(x / scale) clamped to
    [-128, 127], times scale, in float32. The reference the Q/DQ tests compare against."""
    x = np.asarray(x, np.float32)
    scale = scale_of(amax)
    if axis is not None:
        shape = [1] * x.ndim
        shape[axis] = -1
        scale = scale.reshape(shape)
    q = np.clip(np.round(x / scale), -128, 127)  # np.round rounds half to even
    return (q * scale).astype(np.float32)


def qdq(net, x, name, amax, axis=None, out_dtype=None):
    """x -> Quantize (INT8) -> Dequantize (`out_dtype`, default x's type): layers `name.quantize`,
    `name.dequantize`, scale constant `name.scale` (amax / 127; per tensor a 0-d scalar, per channel a 1-D scale
    along `axis`). `output_type` is always given: TensorRT 11 requires it, 10.x accepts it.
    The scale has x's type and the Dequantize outputs that type, as ONNX QuantizeLinear / DequantizeLinear (opset
    19) type them (the scale shares the float type of the quantized input and of the dequantized output) and as
    TensorRT's ONNX parser hands them to the network API for float16 models: one scale, no mixed float types."""
    trt, network = net.trt, net.network
    if out_dtype is not None and out_dtype != x.dtype:
        raise ValueError(f"{name}: Q/DQ of a {x.dtype} tensor must dequantize to {x.dtype}, not {out_dtype}")
    np_dtype = np.float16 if x.dtype == trt.DataType.HALF else np.float32
    scale = scale_of(amax)
    if np_dtype == np.float16:  # a scale below float16's normal range would lose its precision or become 0
        scale = np.maximum(scale, np.finfo(np.float16).tiny)
    if axis is None:
        scale = net.array(np.reshape(scale, ()), np_dtype)
    else:
        scale = net.array(np.reshape(scale, (-1,)), np_dtype)
    s = net.named(network.add_constant(scale.shape, scale), f"{name}.scale").get_output(0)
    q = network.add_quantize(x, s, trt.DataType.INT8)
    dq = network.add_dequantize(net.named(q, f"{name}.quantize").get_output(0), s,
                                out_dtype if out_dtype is not None else x.dtype)
    if axis is not None:
        q.axis = axis
        dq.axis = axis
    return net.named(dq, f"{name}.dequantize").get_output(0)


# ---------------------------------------------------------------- calibration cache
CACHE_VERSION = 1


def images_sha256(paths):
    """One digest over the calibration images' names and contents (a cache says which images made it)."""
    h = hashlib.sha256()
    for p in paths:
        h.update(os.path.basename(str(p)).encode() + b"\0")
        with open(p, "rb") as f:
            h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()


def write_cache(path, model, method, batches, images_digest, amax, extra=None):
    """The calibration cache: JSON with the model, method, batches, images' sha256 and quantizer -> amax,
    written atomically."""
    data = {"format": "trt-netdefs calibration cache", "version": CACHE_VERSION, "model": model, "method": method,
            "batches": batches, "images_sha256": images_digest, "amax": {k: float(v) for k, v in sorted(amax.items())}}
    data.update(extra or {})
    with atomic_output(path) as f:
        f.write((json.dumps(data, indent=1) + "\n").encode())


def read_cache(path, model, imgsz=None):
    """(amax dict, cache dict) from a cache written by `write_cache` for `model`; a clear error names the file
    when it is not one, or is another model's."""
    path = os.fspath(path)
    try:
        with open(path) as f:
            data = json.load(f)
    except OSError as e:
        raise QuantError(f"{path}: cannot read the calibration cache: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise QuantError(f"{path}: not a calibration cache (invalid JSON: {e.msg} at line {e.lineno})") from None
    if not isinstance(data, dict) or data.get("format") != "trt-netdefs calibration cache":
        raise QuantError(f"{path}: not a trt-netdefs calibration cache")
    if data.get("version") != CACHE_VERSION:
        raise QuantError(f"{path}: calibration cache version {data.get('version')}, expected {CACHE_VERSION}")
    if data.get("model") != model.lower():
        raise QuantError(f"{path}: the calibration cache is for {data.get('model')}, not {model.lower()}: "
                         f"recalibrate (--calib) or pass that model's cache")
    if imgsz is not None and data.get("imgsz") is not None and list(data["imgsz"]) != list(imgsz):
        raise QuantError(f"{path}: the calibration cache was made at imgsz {data['imgsz']}, not {list(imgsz)}")
    amax = data.get("amax")
    if not isinstance(amax, dict) or not all(isinstance(v, (int, float)) for v in amax.values()):
        raise QuantError(f"{path}: the calibration cache has no valid 'amax' table")
    return amax, data

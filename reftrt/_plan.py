"""The reference plan: what `build_serialized_network` returns on reftrt.

A plan is self-describing and loads without pickle:

    b"REFTRTPLAN\\0"  magic (11 bytes)
    uint32 LE         format version
    uint64 LE         header length H
    uint32 LE         CRC-32 of everything after this field (header and weights)
    H bytes           header, UTF-8 JSON: versions, I/O tensors, profiles, tensors, layers with their parameters
    ...               weights, each at the next 64-byte aligned offset, as the header's weights table says

Parameters are encoded as JSON values: enums as {"enum": "DataType", "name": "FLOAT"}, Dims as {"dims": [...]},
Permutation as {"perm": [...]}, Weights as {"weights": index} into the weights table.

Loading (reftrt/_plan_load.py) trusts nothing in the file: a plan that is damaged (the checksum: a flipped bit in
the weights would otherwise run with wrong values), malformed, or whose layers do not validate for its profiles as
the builder validated them, is refused with a PlanError naming what is wrong.
"""
import json
import struct
import zlib

import torch

from . import _enums, _version
from ._errors import PlanError
from ._types import Dims, Permutation, Weights, from_torch_dtype

MAGIC = b"REFTRTPLAN\0"
FORMAT_VERSION = 2
_ALIGN = 64
_PREFIX = struct.Struct("<IQI")


def _encode(value, blobs):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, _enums.TrtEnum):
        return {"enum": type(value).__name__, "name": value.name}
    if isinstance(value, Dims):
        return {"dims": list(value)}
    if isinstance(value, Permutation):
        return {"perm": list(value)}
    if isinstance(value, Weights):
        blobs.append(value)
        return {"weights": len(blobs) - 1}
    if isinstance(value, (list, tuple)):
        return [_encode(v, blobs) for v in value]
    encode = getattr(value, "_plan_encode", None)
    if encode is not None:
        return {"object": encode(lambda v: _encode(v, blobs))}
    raise PlanError(f"cannot serialize parameter of type {type(value).__name__}")


def serialize(network, layers, profiles, dtypes, config, shapes=None):
    tensors, index = [], {}

    def tensor_id(t):
        if t is None:
            return None
        if t not in index:
            index[t] = len(tensors)
            if t._producer is None:
                dtype, shape = t._input_dtype, list(t._input_shape)
            else:
                dtype = from_torch_dtype(dtypes[t])
                shape = list(shapes[t]) if shapes and t in shapes else list(t.shape)
            tensors.append({"name": t.name, "dtype": dtype.name, "shape": shape})
        return index[t]

    for t in network._inputs:
        tensor_id(t)
    blobs = []
    layer_records = []
    for layer in layers:
        layer_records.append({
            "kind": type(layer).__name__,
            "name": layer.name,
            "metadata": layer.metadata,
            "inputs": [tensor_id(t) for t in layer._inputs],
            "outputs": [tensor_id(t) for t in layer._outputs],
            "output_types": [None if dt is None else dt.name for dt in layer._output_types],
            "params": {k: _encode(v, blobs) for k, v in layer._p.items()},
        })
    shape_tensors = network._shape_tensors()
    header = {
        "format": "reftrt-plan",
        "format_version": FORMAT_VERSION,
        "trt_version": _version.TRT_VERSION,
        "reftrt_version": _version.REFTRT_VERSION,
        "name": network.name,
        "profiling_verbosity": config.profiling_verbosity.name,
        "inputs": [tensor_id(t) for t in network._inputs],
        "outputs": [tensor_id(t) for t in network._outputs],
        "shape_io": [tensor_id(t) for t in network._inputs + network._outputs if t in shape_tensors],
        "debug": [tensor_id(t) for t in network._debug if t in index],
        "profiles": profiles,
        "tensors": tensors,
        "layers": layer_records,
        "weights": [],
    }
    offset, chunks = 0, []
    for w in blobs:
        data = w._torch().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if w.size else b""
        header["weights"].append({"dtype": w.dtype.name, "count": w.size, "offset": offset, "nbytes": len(data)})
        pad = (-len(data)) % _ALIGN
        chunks.append(data + b"\0" * pad)
        offset += len(data) + pad
    return pack(header, b"".join(chunks))


def pack(header, body):
    """The plan file for a header (a JSON-able dict) and its weights."""
    return frame(json.dumps(header, separators=(",", ":")).encode(), body)


def frame(head, body):
    """The plan file for a header (UTF-8 JSON bytes) and its weights: magic, version, lengths and checksum."""
    return MAGIC + _PREFIX.pack(FORMAT_VERSION, len(head), zlib.crc32(body, zlib.crc32(head))) + head + body


def split(data):
    """(header as JSON text, weights) of a plan whose framing and checksum are intact; PlanError otherwise."""
    data = memoryview(data).tobytes()
    if not data.startswith(MAGIC):
        what = "an empty buffer" if not data else "not a reftrt plan (bad magic)"
        raise PlanError(f"{what}; real TensorRT engines cannot run on reftrt")
    if len(data) < len(MAGIC) + _PREFIX.size:
        raise PlanError(f"truncated plan: {len(data)} bytes, shorter than the plan prefix")
    version, head_len, crc = _PREFIX.unpack_from(data, len(MAGIC))
    if version != FORMAT_VERSION:
        raise PlanError(f"plan format version {version}, this reftrt reads version {FORMAT_VERSION}")
    start = len(MAGIC) + _PREFIX.size
    if head_len > len(data) - start:
        raise PlanError(f"truncated plan: the header needs {head_len} bytes, {len(data) - start} remain")
    if zlib.crc32(memoryview(data)[start:]) != crc:
        raise PlanError("the plan is damaged (checksum mismatch)")
    try:
        text = data[start:start + head_len].decode()
    except UnicodeDecodeError as e:
        raise PlanError(f"corrupt plan header: {e.reason} at byte {e.start}") from None
    return text, data[start + head_len:]



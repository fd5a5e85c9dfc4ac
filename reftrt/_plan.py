"""The reference plan: what `build_serialized_network` returns on reftrt.

A plan is self-describing and loads without pickle:

    b"REFTRTPLAN\\0"  magic (11 bytes)
    uint32 LE         format version
    uint64 LE         header length H
    H bytes           header, UTF-8 JSON: versions, I/O tensors, profiles, tensors, layers with their parameters
    ...               weights, each at a 64-byte aligned offset given in the header

Parameters are encoded as JSON values: enums as {"enum": "DataType", "name": "FLOAT"}, Dims as {"dims": [...]},
Permutation as {"perm": [...]}, Weights as {"weights": index} into the weights table.
"""
import json
import struct

import numpy as np
import torch

from . import _enums, _version
from ._enums import DataType
from ._graph import ILayer, INetworkDefinition, ITensor
from ._types import Dims, Permutation, Weights, from_torch_dtype

MAGIC = b"REFTRTPLAN\0"
FORMAT_VERSION = 1
_ALIGN = 64


class PlanError(ValueError):
    pass


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


def _decode(value, weights):
    if isinstance(value, list):
        return [_decode(v, weights) for v in value]
    if not isinstance(value, dict):
        return value
    if "enum" in value:
        return getattr(_enum_class(value["enum"]), value["name"])
    if "dims" in value:
        return Dims(value["dims"])
    if "perm" in value:
        return Permutation(value["perm"])
    if "weights" in value:
        return weights[value["weights"]]
    if "object" in value:
        from ._plugins import plan_decode
        return plan_decode(value["object"], lambda v: _decode(v, weights))
    raise PlanError(f"unknown parameter encoding {value!r}")


def _enum_class(name):
    if name == "Severity":
        return _enums.Severity
    try:
        return _enums.ENUMS[name]
    except KeyError:
        raise PlanError(f"the plan uses enum {name}, unknown to this reftrt") from None


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
    head = json.dumps(header, separators=(",", ":")).encode()
    return MAGIC + struct.pack("<IQ", FORMAT_VERSION, len(head)) + head + b"".join(chunks)


class Plan:
    """A deserialized plan: the graph (as reftrt network objects, ready to run) and its I/O description."""

    def __init__(self, header, network, tensors, layers):
        self.header, self.network, self.tensors, self.layers = header, network, tensors, layers
        self.inputs = [tensors[i] for i in header["inputs"]]
        self.outputs = [tensors[i] for i in header["outputs"]]
        self.io = self.inputs + self.outputs
        self.by_name = {t.name: t for t in self.io}
        self.dtypes = {tensors[i]: getattr(DataType, r["dtype"]) for i, r in enumerate(header["tensors"])}
        self.shapes = {tensors[i]: Dims(r["shape"]) for i, r in enumerate(header["tensors"])}
        self.shape_io = {tensors[i] for i in header["shape_io"]}
        self.debug = [tensors[i] for i in header["debug"]]
        self.profiles = header["profiles"]


def deserialize(data):
    data = bytes(data)
    if not data.startswith(MAGIC):
        raise PlanError("not a reftrt plan (bad magic); real TensorRT engines cannot run on reftrt")
    try:
        version, head_len = struct.unpack_from("<IQ", data, len(MAGIC))
    except struct.error:
        raise PlanError("truncated plan header") from None
    if version != FORMAT_VERSION:
        raise PlanError(f"plan format version {version}, this reftrt reads version {FORMAT_VERSION}")
    start = len(MAGIC) + 12
    try:
        header = json.loads(data[start:start + head_len].decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise PlanError(f"corrupt plan header: {e}") from None
    if header.get("trt_version", "").split(".")[0] != _version.TRT_VERSION.split(".")[0]:
        raise PlanError(f"the plan was built for TensorRT {header.get('trt_version')} API, this reftrt emulates "
                        f"{_version.TRT_VERSION}")
    body = start + head_len
    weights = []
    for w in header["weights"]:
        dtype = getattr(DataType, w["dtype"])
        if w["count"] == 0:
            weights.append(Weights(dtype))
            continue
        begin = body + w["offset"]
        if begin + w["nbytes"] > len(data):
            raise PlanError("truncated plan: weights extend past the end")
        if dtype == DataType.BF16:
            raw = torch.frombuffer(bytearray(data[begin:begin + w["nbytes"]]), dtype=torch.bfloat16)
            weights.append(_TorchWeights(dtype, raw))
            continue
        from ._types import nptype
        array = np.frombuffer(data, dtype=nptype(dtype), count=w["count"], offset=begin).copy()
        weights.append(Weights(array))

    network = INetworkDefinition()
    network._name = header.get("name", "")
    tensors = []
    for record in header["tensors"]:
        t = ITensor(network, record["name"])
        t._input_shape = Dims(record["shape"])
        t._input_dtype = getattr(DataType, record["dtype"])
        tensors.append(t)
    layers = []
    for record in header["layers"]:
        cls = ILayer._registry.get(record["kind"])
        if cls is None:
            raise PlanError(f"the plan uses layer kind {record['kind']}, unknown to this reftrt")
        layer = object.__new__(cls)
        layer._network = network
        layer._name = record["name"]
        layer._metadata = record.get("metadata", "")
        layer._precision = None
        layer._inputs = [None if i is None else tensors[i] for i in record["inputs"]]
        layer._outputs = [tensors[i] for i in record["outputs"]]
        layer._output_types = [None if n is None else getattr(DataType, n) for n in record["output_types"]]
        layer._p = {k: _decode(v, weights) for k, v in record["params"].items()}
        for i, t in enumerate(layer._outputs):
            t._producer, t._index = layer, i
        layer._restore()
        layers.append(layer)
    network._layers = layers
    network._inputs = [tensors[i] for i in header["inputs"]]
    network._outputs = [tensors[i] for i in header["outputs"]]
    return Plan(header, network, tensors, layers)


class _TorchWeights(Weights):
    """bfloat16 weights (numpy has no bfloat16)."""

    def __init__(self, dtype, tensor):
        self._type, self._array, self._tensor = dtype, None, tensor

    @property
    def size(self):
        return int(self._tensor.numel())

    @property
    def nbytes(self):
        return int(self._tensor.numel() * self._tensor.element_size())

    def _torch(self):
        return self._tensor

"""Loading a reference plan (reftrt/_plan.py) without trusting it.

TensorRT answers a bad plan by logging an error and returning None from deserialize_cuda_engine. To do the same
for any file, every value of the header is checked for its type and range before use, every index and reference
against the tables it points into, the weights table against the layout the writer produces, and finally the
layers are run on meta tensors for every optimization profile, as the builder validated them, and must give the
dtypes and shapes the plan records. Anything else is a PlanError whose message names the offending field and
echoes a bounded part of its value (_errors.clip).
"""
import json
import reprlib

import numpy as np
import torch

from . import _enums, _version
from ._enums import DataType, ProfilingVerbosity
from ._errors import PlanError, clip
from ._graph import Context, ILayer, INetworkDefinition, ITensor, evaluate, layer_params
from ._plan import _ALIGN, FORMAT_VERSION, split
from ._plugins import plan_decode
from ._types import Dims, Permutation, Weights, from_torch_dtype, torch_dtype

# A dimension or shape value beyond int32 is no tensor reftrt could hold; larger counts come only from damage.
_DIM_MAX = 2**31 - 1
_COUNT_MAX = 2**48
# Parameters are flat values or short lists; deeper nesting in a plan only comes from damage.
_MAX_DEPTH = 8
_HEADER_KEYS = {"format", "format_version", "trt_version", "reftrt_version", "name", "profiling_verbosity",
                "inputs", "outputs", "shape_io", "debug", "profiles", "tensors", "layers", "weights"}
# Weights read through numpy, or through torch for the types numpy lacks.
_NUMPY_WEIGHTS = {"FLOAT": np.float32, "HALF": np.float16, "INT8": np.int8, "INT32": np.int32, "INT64": np.int64,
                  "BOOL": np.bool_, "UINT8": np.uint8}
_TORCH_WEIGHTS = {"BF16": torch.bfloat16, "FP8": torch.float8_e4m3fn}

_repr = reprlib.Repr()
_repr.maxlevel, _repr.maxstring, _repr.maxother, _repr.maxlong = 3, 120, 120, 40


def _show(value):
    """A bounded echo of a value from the file (huge ints, long strings and deep nesting included)."""
    try:
        return clip(_repr.repr(value))
    except (ValueError, RecursionError):  # ints beyond the str conversion limit
        return f"<{type(value).__name__}>"


def _fail(where, expected, value):
    raise PlanError(f"corrupt plan: {where}: expected {expected}, found {_show(value)}")


def _int(value, where, lo, hi):
    if type(value) is not int or not lo <= value <= hi:
        _fail(where, f"an integer in [{lo}, {hi}]", value)
    return value


def _str(value, where):
    if type(value) is not str:
        _fail(where, "a string", value)
    return value


def _list(value, where):
    if type(value) is not list:
        _fail(where, "a list", value)
    return value


def _dict(value, where, keys=None):
    if type(value) is not dict:
        _fail(where, "an object", value)
    if keys is not None and set(value) != keys:
        missing, extra = sorted(keys - set(value)), sorted(set(value) - keys)
        raise PlanError(f"corrupt plan: {where}: " + "; ".join(
            part for part in (f"missing {_show(missing)}" if missing else "",
                              f"unexpected {_show(extra)}" if extra else "") if part))
    return value


def _member(enum, value, where):
    if type(value) is not str or value not in enum.__members__:
        _fail(where, f"a {enum.__name__} name", value)
    return enum.__members__[value]


def _index(value, where, size):
    return _int(value, where, 0, size - 1) if size else _fail(where, "an index into an empty table", value)


def _indices(value, where, size):
    result = [_index(v, f"{where}[{i}]", size) for i, v in enumerate(_list(value, where))]
    if len(set(result)) != len(result):
        _fail(where, "distinct indices", value)
    return result


def _ints(value, where, lo, hi, max_len=None):
    values = _list(value, where)
    if max_len is not None and len(values) > max_len:
        _fail(where, f"at most {max_len} values", value)
    return [_int(v, f"{where}[{i}]", lo, hi) for i, v in enumerate(values)]


def _dims(value, where):
    return _ints(value, where, -1, _DIM_MAX, Dims.MAX_DIMS)


def _enum_class(name, where):
    if name == "Severity":
        return _enums.Severity
    if type(name) is not str or name not in _enums.ENUMS:
        _fail(where, "an enum of this TensorRT version", name)
    return _enums.ENUMS[name]


def _decode(value, weights, where, depth=0):
    """A layer parameter from its JSON encoding (see _plan._encode), every part checked."""
    if depth > _MAX_DEPTH:
        raise PlanError(f"corrupt plan: {where}: nested deeper than {_MAX_DEPTH} levels")
    if value is None or type(value) in (bool, int, float, str):
        if type(value) is int and abs(value) >= 2**63:
            _fail(where, "a 64-bit integer", value)
        return value
    if type(value) is list:
        return [_decode(v, weights, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
    _dict(value, where)
    if value.keys() == {"enum", "name"}:
        return _member(_enum_class(value["enum"], f"{where}.enum"), value["name"], f"{where}.name")
    if value.keys() == {"dims"}:  # parameters, not shapes: paddings and offsets may be negative
        return Dims(_ints(value["dims"], f"{where}.dims", -2**63, 2**63 - 1, Dims.MAX_DIMS))
    if value.keys() == {"perm"}:
        return Permutation(_ints(value["perm"], f"{where}.perm", -2**31, 2**31 - 1, Dims.MAX_DIMS))
    if value.keys() == {"weights"}:
        return weights[_index(value["weights"], f"{where}.weights", len(weights))]
    if value.keys() == {"object"}:
        record = _dict(value["object"], f"{where}.object")
        _str(record.get("kind"), f"{where}.object.kind")
        try:
            return plan_decode(record, lambda v: _decode(v, weights, f"{where}.object", depth + 1))
        except PlanError:
            raise
        except Exception as e:  # plugin code reading its own record: whatever it raises, the record is bad
            raise PlanError(f"corrupt plan: {where}: plugin record rejected ({type(e).__name__}: "
                            f"{clip(e)})") from None
    _fail(where, "a parameter encoding (enum, dims, perm, weights or object)", value)


class Plan:
    """A deserialized plan: the graph (as reftrt network objects, ready to run) and its I/O description."""

    def __init__(self, header, network, tensors, layers):
        self.header, self.network, self.tensors, self.layers = header, network, tensors, layers
        self.inputs = [tensors[i] for i in header["inputs"]]
        self.outputs = [tensors[i] for i in header["outputs"]]
        self.io = self.inputs + self.outputs
        self.by_name = {t.name: t for t in self.io}
        self.dtypes = {t: t._input_dtype for t in tensors}
        self.shapes = {t: Dims(t._input_shape) for t in tensors}
        self.shape_io = {tensors[i] for i in header["shape_io"]}
        self.debug = [tensors[i] for i in header["debug"]]
        self.profiles = header["profiles"]


def deserialize(data):
    """The Plan in `data` (bytes); PlanError if anything in it is malformed or inconsistent."""
    text, body = split(data)
    try:
        header = json.loads(text)
    except RecursionError:
        raise PlanError("corrupt plan header: nested too deeply") from None
    except ValueError as e:  # JSONDecodeError, and integers beyond the str conversion limit
        raise PlanError(f"corrupt plan header: {clip(e)}") from None
    _dict(header, "header", _HEADER_KEYS)
    if header["format"] != "reftrt-plan" or header["format_version"] != FORMAT_VERSION:
        _fail("header.format", f"reftrt-plan version {FORMAT_VERSION}", [header["format"], header["format_version"]])
    trt_version = _str(header["trt_version"], "header.trt_version")
    if trt_version.split(".")[0] != _version.TRT_VERSION.split(".")[0]:
        raise PlanError(f"the plan was built for TensorRT {_show(trt_version)} API, this reftrt emulates "
                        f"{_version.TRT_VERSION}")
    _str(header["reftrt_version"], "header.reftrt_version")
    _str(header["name"], "header.name")
    _member(ProfilingVerbosity, header["profiling_verbosity"], "header.profiling_verbosity")

    weights = _weights(header["weights"], body)
    network = INetworkDefinition()
    network._name = header["name"]
    tensors = _tensors(header, network)
    layers = _layers(header, network, tensors, weights)
    network._layers = layers
    network._inputs = [tensors[i] for i in header["inputs"]]
    network._outputs = [tensors[i] for i in header["outputs"]]
    _check_profiles(header, tensors)
    _validate(header, tensors, layers)
    return Plan(header, network, tensors, layers)


def _weights(records, body):
    """The weights table: each blob where the writer puts it (in order, 64-byte aligned), ending with the file."""
    weights, offset = [], 0
    for i, record in enumerate(_list(records, "header.weights")):
        where = f"header.weights[{i}]"
        _dict(record, where, {"dtype", "count", "offset", "nbytes"})
        dtype = _member(DataType, record["dtype"], f"{where}.dtype")
        count = _int(record["count"], f"{where}.count", 0, _COUNT_MAX)
        if dtype.name not in _NUMPY_WEIGHTS and dtype.name not in _TORCH_WEIGHTS:
            _fail(f"{where}.dtype", "a weights type reftrt stores", dtype.name)
        _int(record["nbytes"], f"{where}.nbytes", count * dtype.itemsize, count * dtype.itemsize)
        _int(record["offset"], f"{where}.offset", offset, offset)
        nbytes = record["nbytes"]
        if offset + nbytes > len(body):
            raise PlanError(f"truncated plan: {where} extends past the end of the file")
        if not count:
            weights.append(Weights(dtype))
        elif dtype.name in _NUMPY_WEIGHTS:
            array = np.frombuffer(body, dtype=_NUMPY_WEIGHTS[dtype.name], count=count, offset=offset).copy()
            weights.append(Weights(array))
        else:
            raw = torch.frombuffer(bytearray(body[offset:offset + nbytes]), dtype=_TORCH_WEIGHTS[dtype.name])
            weights.append(_TorchWeights(dtype, raw))
        offset += nbytes + (-nbytes) % _ALIGN
    if offset != len(body):
        raise PlanError(f"corrupt plan: the weights take {offset} bytes, the file holds {len(body)}")
    return weights


def _tensors(header, network):
    tensors = []
    for i, record in enumerate(_list(header["tensors"], "header.tensors")):
        where = f"header.tensors[{i}]"
        _dict(record, where, {"name", "dtype", "shape"})
        t = ITensor(network, _str(record["name"], f"{where}.name"))
        t._input_dtype = _member(DataType, record["dtype"], f"{where}.dtype")
        try:
            torch_dtype(t._input_dtype)
        except TypeError:
            _fail(f"{where}.dtype", "a type reftrt executes", t._input_dtype.name)
        t._input_shape = Dims(_dims(record["shape"], f"{where}.shape"))
        tensors.append(t)
    count = len(tensors)
    inputs = _indices(header["inputs"], "header.inputs", count)
    outputs = _indices(header["outputs"], "header.outputs", count)
    if not outputs:
        _fail("header.outputs", "at least one output", outputs)
    if set(inputs) & set(outputs):
        _fail("header.outputs", "no network input", outputs)
    _indices(header["debug"], "header.debug", count)
    shape_io = _indices(header["shape_io"], "header.shape_io", count)
    if not set(shape_io) <= set(inputs) | set(outputs):
        _fail("header.shape_io", "network inputs or outputs", shape_io)
    io_names = [tensors[i].name for i in inputs + outputs]
    if len(set(io_names)) != len(io_names):
        _fail("header.tensors", "distinct names for network inputs and outputs", io_names)
    return tensors


def _layers(header, network, tensors, weights):
    """The layers, in the plan's order, which must be topological: a layer reads network inputs and the outputs of
    earlier layers, and each tensor is computed by at most one layer."""
    available = {tensors[i] for i in header["inputs"]}
    layers = []
    for n, record in enumerate(_list(header["layers"], "header.layers")):
        where = f"header.layers[{n}]"
        _dict(record, where, {"kind", "name", "metadata", "inputs", "outputs", "output_types", "params"})
        kind = _str(record["kind"], f"{where}.kind")
        cls = ILayer._registry.get(kind)
        if cls is None or cls._layer_type is None:  # bases such as _ConvBase are no layer kind
            raise PlanError(f"the plan uses layer kind {_show(kind)}, unknown to this reftrt")
        inputs = []
        for i, index in enumerate(_list(record["inputs"], f"{where}.inputs")):
            if index is None:
                inputs.append(None)
                continue
            t = tensors[_index(index, f"{where}.inputs[{i}]", len(tensors))]
            if t not in available:
                _fail(f"{where}.inputs[{i}]", "a network input or an output of an earlier layer", index)
            inputs.append(t)
        outputs = [tensors[i] for i in _indices(record["outputs"], f"{where}.outputs", len(tensors))]
        for i, t in enumerate(outputs):
            if t in available:
                _fail(f"{where}.outputs[{i}]", "a tensor no other layer or network input provides", t.name)
        types = _list(record["output_types"], f"{where}.output_types")
        if len(types) != len(outputs):
            _fail(f"{where}.output_types", f"{len(outputs)} entries", types)
        params = _dict(record["params"], f"{where}.params")
        missing = sorted(set(layer_params(cls)) - set(params))
        if missing:
            raise PlanError(f"corrupt plan: {where}.params: missing {_show(missing)}")
        layer = object.__new__(cls)
        layer._network = network
        layer._name = _str(record["name"], f"{where}.name")
        layer._metadata = _str(record["metadata"], f"{where}.metadata")
        layer._precision = None
        layer._inputs, layer._outputs = inputs, outputs
        layer._output_types = [None if v is None else _member(DataType, v, f"{where}.output_types[{i}]")
                               for i, v in enumerate(types)]
        layer._p = {k: _decode(v, weights, f"{where}.params.{clip(k, 60)}") for k, v in params.items()}
        _convert_params(layer, cls, f"{where}.params")
        for i, t in enumerate(outputs):
            t._producer, t._index = layer, i
        try:
            layer._restore()
        except Exception as e:  # layer code reading parameters that the checks above cannot know
            raise PlanError(f"corrupt plan: {where}: {type(e).__name__}: {clip(e)}") from None
        available.update(outputs)
        layers.append(layer)
    for name in ("outputs", "debug"):
        for i in header[name]:
            if tensors[i] not in available:
                _fail(f"header.{name}", "tensors that network inputs or layers provide", i)
    return layers


def _convert_params(layer, cls, where):
    """Each parameter as assigning it through the API would convert it (a TypeError there is a bad plan here): the
    layers' code relies on those types, and meta-tensor validation does not exercise every parameter."""
    for name, param in layer_params(cls).items():
        value = layer._p[name]
        if value is None:
            if param.default is not None:  # only a parameter that may be unset may be null
                _fail(f"{where}.{name}", "a value", value)
        elif param.convert is not None:
            try:
                layer._p[name] = param.convert(value)
            except (TypeError, ValueError, OverflowError) as e:
                raise PlanError(f"corrupt plan: {where}.{name}: {clip(e)}") from None


def _check_profiles(header, tensors):
    """Every profile gives each input min <= opt <= max shapes matching its static dimensions, and each
    shape-tensor input min <= opt <= max values of its length and type."""
    inputs = [tensors[i] for i in header["inputs"]]
    shape_inputs = [t for t in inputs if tensors.index(t) in header["shape_io"]]
    profiles = _list(header["profiles"], "header.profiles")
    if not profiles:
        _fail("header.profiles", "at least one optimization profile", profiles)
    for p, profile in enumerate(profiles):
        where = f"header.profiles[{p}]"
        _dict(profile, where, {"shapes", "values"})
        _dict(profile["shapes"], f"{where}.shapes", {t.name for t in inputs})
        _dict(profile["values"], f"{where}.values", {t.name for t in shape_inputs})
        for t in inputs:
            at = f"{where}.shapes[{_show(t.name)}]"
            triple = _list(profile["shapes"][t.name], at)
            static = list(t._input_shape)
            if len(triple) != 3:
                _fail(at, "[min, opt, max]", triple)
            triple = [_ints(s, f"{at}[{k}]", 0, _DIM_MAX, len(static)) for k, s in enumerate(triple)]
            for k, dims in enumerate(triple):
                if len(dims) != len(static) or any(d >= 0 and v != d for v, d in zip(dims, static)):
                    _fail(f"{at}[{k}]", f"dimensions matching {static}", dims)
            if any(not a <= b <= c for a, b, c in zip(*triple)):
                _fail(at, "min <= opt <= max", triple)
        for t in shape_inputs:
            at = f"{where}.values[{_show(t.name)}]"
            triple = _list(profile["values"][t.name], at)
            length = 1 if len(t._input_shape) == 0 else t._input_shape[0]
            bits = 32 if t._input_dtype == DataType.INT32 else 64
            if len(triple) != 3 or len(t._input_shape) > 1 or length < 0:
                _fail(at, "[min, opt, max] of a static shape-tensor input", triple)
            triple = [_ints(v, f"{at}[{k}]", -2**(bits - 1), 2**(bits - 1) - 1) for k, v in enumerate(triple)]
            if any(len(v) != length for v in triple) or any(not a <= b <= c for a, b, c in zip(*triple)):
                _fail(at, f"min <= opt <= max, {length} values each", triple)


def _validate(header, tensors, layers):
    """Run the layers on meta tensors for each profile's min, opt and max, as the builder did: they must succeed
    and give the recorded dtypes and shapes (-1 recorded: any size)."""
    inputs = [tensors[i] for i in header["inputs"]]
    shape_inputs = {t for t in inputs if tensors.index(t) in header["shape_io"]}
    for p, profile in enumerate(header["profiles"]):
        for which in range(3):
            feeds = {}
            for t in inputs:
                dtype = torch_dtype(t._input_dtype)
                if t in shape_inputs:
                    feeds[t] = torch.tensor(profile["values"][t.name][which], dtype=dtype).reshape(
                        list(t._input_shape))
                else:
                    feeds[t] = torch.empty(profile["shapes"][t.name][which], dtype=dtype, device="meta")
            try:
                values, errors = evaluate(layers, Context(analysis=True, validate=True), feeds, {})
                if errors and which != 1 and shape_inputs:
                    continue  # the builder only warns when shape-input values at kMIN / kMAX are inconsistent
                if errors:
                    raise PlanError(clip("; ".join(errors.values())))
                for layer in layers:
                    for t in layer._outputs:
                        _check_result(t, values.get(t))
            except PlanError as e:
                raise PlanError(f"the plan's layers do not validate for optimization profile {p}: {e}") from None
            except Exception as e:  # layer code given parameters no builder produced
                raise PlanError(f"the plan's layers do not validate for optimization profile {p}: "
                                f"{type(e).__name__}: {clip(e)}") from None


def _check_result(t, value):
    if value is None:
        raise PlanError(f"{_show(t.name)} is not computed")
    recorded = list(t._input_shape)
    if value.dtype not in (torch_dtype(t._input_dtype),):
        raise PlanError(f"{_show(t.name)} is {from_torch_dtype(value.dtype).name}, the plan says "
                        f"{t._input_dtype.name}")
    if len(recorded) != value.dim() or any(r >= 0 and r != d for r, d in zip(recorded, value.shape)):
        raise PlanError(f"{_show(t.name)} has shape {list(value.shape)}, the plan says {recorded}")


class _TorchWeights(Weights):
    """Weights of the types numpy lacks (bfloat16, fp8)."""

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

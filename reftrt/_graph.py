"""ITensor, ILayer and INetworkDefinition: the network graph and its shape and type inference.

Every layer computes its outputs with one torch function, `_forward`. The same function serves three purposes:
- run time: it runs on real tensors;
- build time: it runs on "meta" tensors (shapes and dtypes, no data) for each optimization-profile shape, which
  validates the network as TensorRT's builder does;
- definition time (`ITensor.shape`, `ITensor.dtype`): it runs on meta tensors twice, with every -1 input dimension
  replaced by two different probe sizes; an output dimension that differs between the two runs depends on a
  run-time size and is reported as -1, as TensorRT does.
Tensors whose values are small and known while building (shape tensors, constants) are computed for real, so shape
arithmetic (Shape -> Gather -> Concatenation -> Shuffle) resolves like TensorRT's build-time shape analysis.
"""
import sys
import time

import torch

from . import _version
from ._enums import DataType, LayerType, NetworkDefinitionCreationFlag, Severity, TensorFormat, TensorLocation
from ._logger import log
from ._types import Dims, as_dims, from_torch_dtype, torch_dtype

# Probe sizes for -1 dimensions: distinct, and divisible by the strides and factors networks commonly use
# (a probe that is not divisible could make a valid network fail its definition-time analysis).
PROBE_SIZES = (960, 1920)
# Tensors with up to this many elements are computed for real during analysis (shape arithmetic, small constants).
_FOLD_LIMIT = 1 << 16


class LayerError(ValueError):
    """A layer is configured in a way TensorRT rejects."""


class UnknownValue(Exception):
    """A layer needs the value of a tensor that is only known at run time (raised during analysis only)."""


class Param(property):
    """A layer parameter, stored in `layer._p` so that a plan can record every layer generically.

    `default` may be a callable taking the layer (for defaults that depend on the layer, e.g. a stride of 1 per
    kernel dimension). `convert` normalises assigned values (e.g. a list to Dims), raising TypeError as pybind does.
    """

    def __init__(self, default=None, convert=None, readonly=False, doc=None):
        self.default, self.convert, self.attr = default, convert, None

        def get(layer):
            return layer._p[self.attr]

        def set_(layer, value):
            layer._p[self.attr] = self.convert(value) if self.convert else value
            layer._network._changed(layer)

        super().__init__(get, None if readonly else set_, None, doc)

    def __set_name__(self, owner, name):
        self.attr = name


def layer_params(cls):
    params = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if isinstance(value, Param):
                params[name] = value
    return params


def _public_dir(names):
    # pybind11 objects list no single-underscore members in dir() (only `_pybind11_conduit_v1_`), and the
    # Cookbook's check_api_coverage prints every dir() name not starting with "__": hide reftrt's internals.
    return sorted(n for n in names if not n.startswith("_") or n.startswith("__"))


class _StrictMeta(type):
    def __dir__(cls):
        return _public_dir(super().__dir__())


class _Strict(metaclass=_StrictMeta):
    """Refuse attributes the class does not define, as pybind11 objects do (`layer.strides = ...` is a typo that
    real TensorRT reports with AttributeError; a plain Python object would silently keep it)."""

    __slots__ = ()

    def __dir__(self):
        return _public_dir(super().__dir__())

    def __setattr__(self, name, value):
        if not name.startswith("_") and not hasattr(type(self), name):
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")
        object.__setattr__(self, name, value)


class ITensor(_Strict):
    """A tensor of the network: a network input, or an output of a layer."""

    def __init__(self, network, name, producer=None, index=0):
        self._network, self._name, self._producer, self._index = network, name, producer, index
        self._input_shape = None
        self._input_dtype = None
        self._dim_names = {}
        self._location = TensorLocation.DEVICE
        self._formats = (1 << len(TensorFormat.__members__)) - 1
        self._dynamic_range = None

    @property
    def name(self):
        return self._name

    @name.setter
    def name(self, value):
        self._name = str(value)

    @property
    def shape(self):
        if self._producer is None:
            return Dims(self._input_shape)
        return Dims(self._network._info(self).shape)

    @shape.setter
    def shape(self, value):
        if self._producer is not None:
            self._network._log_error(f"ITensor::setDimensions: cannot set the shape of non-input tensor {self._name}")
            return
        self._input_shape = as_dims(value)
        self._network._changed()

    def _get_dtype(self):
        if self._producer is None:
            return self._input_dtype
        return self._network._info(self).dtype

    def _set_dtype(self, value):
        # TensorRT 10 (weakly typed networks) lets inputs and outputs be retyped; TensorRT 11 made dtype read-only.
        if not isinstance(value, DataType):
            raise TypeError(f"dtype: expected trt.DataType, got {type(value).__name__}")
        if self._producer is None:
            self._input_dtype = value
        else:
            self._producer._output_types[self._index] = value
        self._network._changed(self._producer)

    dtype = property(_get_dtype, None if _version.IS_11 else _set_dtype)

    @property
    def is_network_input(self):
        return self._producer is None and self in self._network._inputs

    @property
    def is_network_output(self):
        return self in self._network._outputs

    @property
    def is_shape_tensor(self):
        return self in self._network._shape_tensors()

    @property
    def is_execution_tensor(self):
        return not self.is_shape_tensor or self._network._used_as_execution(self)

    @property
    def location(self):
        return self._location

    @location.setter
    def location(self, value):
        self._location = value

    @property
    def allowed_formats(self):
        return self._formats

    @allowed_formats.setter
    def allowed_formats(self, value):
        self._formats = int(value)

    @property
    def broadcast_across_batch(self):
        return False

    @broadcast_across_batch.setter
    def broadcast_across_batch(self, value):
        pass  # implicit batch is gone since TensorRT 10: accepted and ignored, as there

    def get_dimension_name(self, index):
        return self._dim_names.get(int(index))

    def set_dimension_name(self, index, name):
        self._dim_names[int(index)] = name

    # TensorRT 10 only (removed in 11 with implicit quantization).
    @property
    def dynamic_range(self):
        return self._dynamic_range

    @dynamic_range.setter
    def dynamic_range(self, value):
        # The bindings take a (min, max) pair: `tensor.dynamic_range = (min, max)`.
        if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
            raise ValueError("dynamic_range: expected a (min, max) pair")
        self.set_dynamic_range(*value)

    def set_dynamic_range(self, min, max):
        self._dynamic_range = (float(min), float(max))
        return True

    def reset_dynamic_range(self):
        self._dynamic_range = None

    def __repr__(self):
        return f"<reftrt.ITensor {self._name!r}>"


class ILayer(_Strict):
    """Base of all layers. Subclasses set `_layer_type` (LayerType member name), `_type_str` (the name TensorRT
    prints in "(Unnamed Layer* 0) [Convolution]"), declare their parameters as `Param`s, and implement `_forward`.
    """

    _layer_type = None
    _type_str = None
    _registry = {}
    # Input indices whose values (not only shapes) determine the output shape, e.g. Shuffle's reshape input.
    _value_inputs = ()
    # Input indices that TensorRT treats as shape tensors (values read on the host).
    _shape_inputs = ()
    # Run the math in float32 when inputs are float16/bfloat16; outputs are rounded back to their type.
    _upcast = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        ILayer._registry[cls.__name__] = cls

    def __init__(self, network, inputs, num_outputs=1, **params):
        self._network = network
        self._inputs = list(inputs)
        self._p = {}
        for name, param in layer_params(type(self)).items():
            if name in params:
                value = params.pop(name)
                self._p[name] = param.convert(value) if param.convert and value is not None else value
            else:
                self._p[name] = None
        for name, param in layer_params(type(self)).items():
            if self._p[name] is None and param.default is not None:
                self._p[name] = param.default(self) if callable(param.default) else param.default
        if params:
            raise TypeError(f"{type(self).__name__}: unknown parameters {sorted(params)}")
        self._name = f"(Unnamed Layer* {len(network._layers)}) [{self._type_str}]"
        self._metadata = ""
        self._output_types = [None] * num_outputs
        self._precision = None
        self._outputs = [ITensor(network, self._output_name(i), self, i) for i in range(num_outputs)]
        network._add_layer(self)

    def _output_name(self, index):
        return f"{self._name}_output" + (f" ({index})" if index else "")

    # ---- the ILayer API
    @property
    def name(self):
        return self._name

    @name.setter
    def name(self, value):
        self._name = str(value)

    @property
    def type(self):
        return getattr(LayerType, self._layer_type)

    @property
    def metadata(self):
        return self._metadata

    @metadata.setter
    def metadata(self, value):
        self._metadata = str(value)

    @property
    def num_ranks(self):
        return 1

    @num_ranks.setter
    def num_ranks(self, value):
        if int(value) != 1:
            raise ValueError("reftrt runs on one device: num_ranks must be 1")

    @property
    def num_inputs(self):
        return len(self._inputs)

    @property
    def num_outputs(self):
        return len(self._outputs)

    def get_input(self, index):
        index = int(index)
        return self._inputs[index] if 0 <= index < len(self._inputs) else None

    def set_input(self, index, tensor):
        index = int(index)
        if not isinstance(tensor, ITensor):
            raise TypeError(f"set_input: expected trt.ITensor, got {type(tensor).__name__}")
        limit = self._max_inputs()
        if not 0 <= index < limit:
            self._network._log_error(f"{self._name}: setInput: index {index} out of range [0, {limit})")
            return
        while len(self._inputs) <= index:
            self._inputs.append(None)
        self._inputs[index] = tensor
        self._network._changed(self)

    def _max_inputs(self):
        return len(self._inputs)

    def get_output(self, index):
        index = int(index)
        return self._outputs[index] if 0 <= index < len(self._outputs) else None

    def get_output_type(self, index):
        return self._outputs[int(index)].dtype

    # TensorRT 10 only: weak-typing controls. reftrt honours set_output_type (the output is cast) and records
    # precision (compute stays in fp32 or the inputs' type, a choice a TensorRT builder may also make).
    @property
    def precision(self):
        return self._precision if self._precision is not None else DataType.FLOAT

    @precision.setter
    def precision(self, value):
        self._precision = value

    @property
    def precision_is_set(self):
        return self._precision is not None

    def reset_precision(self):
        self._precision = None

    def set_output_type(self, index, dtype):
        self._output_types[int(index)] = dtype
        self._network._changed(self)

    def output_type_is_set(self, index):
        return self._output_types[int(index)] is not None

    def reset_output_type(self, index):
        self._output_types[int(index)] = None
        self._network._changed(self)

    def __repr__(self):
        return f"<reftrt.{type(self).__name__} {self._name!r}>"

    # ---- implementation interface
    def _forward(self, inputs, ctx):
        """Compute the outputs from the inputs (torch tensors, None for absent optional inputs)."""
        raise NotImplementedError

    def _fail(self, message):
        raise LayerError(f"{self._name}: {message}")

    def _restore(self):
        """Called after a plan is loaded, for layers that keep derived state outside `_p`."""


class Context:
    """What a layer's `_forward` may need besides its inputs.

    `analysis` is True when running on meta tensors (shape and type inference); `unknown_size(upper)` gives the
    size of a data-dependent dimension during analysis (its real value is only known at run time).
    `donated` (run time) holds the indices of inputs that nothing else will read and whose memory the layer owns:
    a layer may compute its output in place into such an input and return it (PyTorch's in-place ops; see
    `execute`). Layers that ignore it are unaffected.
    """

    def __init__(self, analysis=False, probe=0, validate=False):
        self.analysis, self.probe, self.validate = analysis, probe, validate
        self._unknown = 0
        self.donated = ()

    def unknown_size(self, upper):
        if self.validate or not self.analysis:
            return int(upper)
        # Distinct per probe and per call, so that the two probes disagree and the dimension reads as -1.
        self._unknown += 1
        return 7919 + 13 * self._unknown + 1009 * self.probe


def value_of(tensor, layer, what):
    """The host value of a shape-like input, or UnknownValue during analysis when it is a run-time value."""
    if tensor is None:
        return None
    if tensor.is_meta:
        raise UnknownValue(f"{layer._name}: {what} is only known at run time")
    return tensor


class TensorInfo:
    __slots__ = ("shape", "dtype", "value", "error")

    def __init__(self, shape, dtype, value=None, error=None):
        self.shape, self.dtype, self.value, self.error = shape, dtype, value, error


def to_meta(t):
    return t if t.is_meta else torch.empty(t.shape, dtype=t.dtype, device="meta")


def run_layer(layer, inputs, ctx, out_dtypes=None):
    """Run one layer with TensorRT's type discipline; returns its list of output tensors.

    During analysis, real inputs become meta unless the layer needs their values (or every input is real and small,
    which folds constants). At run time, float16/bfloat16 inputs are computed in float32 and the outputs rounded
    back to the type inferred at build time (`out_dtypes`).
    """
    if ctx.analysis:
        present = [t for t in inputs if t is not None]
        fold = all(not t.is_meta and t.numel() <= _FOLD_LIMIT for t in present)
        if not fold:
            inputs = [t if t is None or i in layer._value_inputs else to_meta(t) for i, t in enumerate(inputs)]
        outputs = layer._forward(inputs, ctx)
        outputs = [o if o.is_meta or o.numel() <= _FOLD_LIMIT else to_meta(o) for o in outputs]
    else:
        upcast = layer._upcast and any(t is not None and t.dtype in (torch.float16, torch.bfloat16) for t in inputs)
        if upcast:
            inputs = [t.float() if t is not None and t.dtype in (torch.float16, torch.bfloat16) else t for t in inputs]
        outputs = layer._forward(inputs, ctx)
        if upcast or out_dtypes is not None:
            outputs = [o.to(dt) if dt is not None and o.dtype != dt else o
                       for o, dt in zip(outputs, out_dtypes or [None] * len(outputs))]
    forced = layer._output_types
    if any(dt is not None for dt in forced):
        outputs = [o if dt is None else o.to(torch_dtype(dt)) for o, dt in zip(outputs, forced)]
    return outputs


class INetworkDefinition(_Strict):
    """A network: inputs, layers, outputs. Created by Builder.create_network()."""

    def __init__(self, builder=None, flags=0):
        self._builder = builder
        self._flags = int(flags)
        self._name = "Unnamed Network 0"
        self._inputs, self._outputs, self._layers = [], [], []
        self._debug = []
        self._version = 0
        self._analysis = None
        self._logged = set()
        self._error_recorder = None
        self._refittable = set()
        self._data_dependent = False
        self._wiring = 0
        self._shape_memo = None

    # ---- bookkeeping
    def _changed(self, layer=None):
        """Invalidate inferred shapes: everything (layer None), or what depends on `layer`'s outputs.

        Netdefs set a layer's parameters right after adding it and read shapes all along: invalidating only the
        layer's downstream keeps definition-time analysis linear in the network size.
        """
        cache = self._analysis
        self._wiring += 1
        if layer is None or cache is None:
            self._version += 1
            return
        if not any(t in cache["infos"] or any(t in values for values in cache["values"]) for t in layer._outputs):
            # Nothing was inferred from this layer's outputs yet (parameters set right after adding the layer), so
            # nothing downstream depends on them: skip the walk over the whole network.
            for errors in cache["errors"]:
                errors.pop(layer, None)
            return
        dirty, dirty_layers = set(layer._outputs), {layer}
        grown = True
        while grown:
            grown = False
            for other in self._layers:
                if other not in dirty_layers and any(t in dirty for t in other._inputs if t is not None):
                    dirty_layers.add(other)
                    dirty.update(other._outputs)
                    grown = True
        for t in dirty:
            cache["infos"].pop(t, None)
            for values in cache["values"]:
                values.pop(t, None)
        for errors in cache["errors"]:
            for other in dirty_layers:
                errors.pop(other, None)

    def _add_layer(self, layer):
        self._layers.append(layer)

    def _logger(self):
        return self._builder.logger if self._builder is not None else None

    def _log(self, severity, message):
        log(self._logger(), severity, message)

    def _log_error(self, message):
        if message not in self._logged:
            self._logged.add(message)
            self._log(Severity.ERROR, message)

    # ---- the INetworkDefinition API (layers are added by reftrt/layers/*)
    @property
    def name(self):
        return self._name

    @name.setter
    def name(self, value):
        self._name = str(value)

    @property
    def builder(self):
        return self._builder

    @property
    def flags(self):
        return self._flags

    def get_flag(self, flag):
        return bool(self._flags & (1 << int(flag)))

    @property
    def has_implicit_batch_dimension(self):
        return False

    @property
    def error_recorder(self):
        return self._error_recorder

    @error_recorder.setter
    def error_recorder(self, value):
        self._error_recorder = value

    @property
    def num_layers(self):
        return len(self._layers)

    @property
    def num_inputs(self):
        return len(self._inputs)

    @property
    def num_outputs(self):
        return len(self._outputs)

    def __len__(self):
        return len(self._layers)

    def __getitem__(self, index):
        index = int(index)
        if not -len(self._layers) <= index < len(self._layers):
            raise IndexError(index)
        return self._layers[index]

    def __iter__(self):
        return iter(list(self._layers))

    def get_layer(self, index):
        index = int(index)
        return self._layers[index] if 0 <= index < len(self._layers) else None

    def get_input(self, index):
        index = int(index)
        return self._inputs[index] if 0 <= index < len(self._inputs) else None

    def get_output(self, index):
        index = int(index)
        return self._outputs[index] if 0 <= index < len(self._outputs) else None

    def add_input(self, name, dtype, shape):
        if not isinstance(dtype, DataType):
            raise TypeError(f"add_input: dtype must be trt.DataType, got {type(dtype).__name__}")
        if any(t.name == name for t in self._inputs):
            self._log_error(f"INetworkDefinition::addInput: a network input named {name} already exists")
            return None
        tensor = ITensor(self, str(name))
        tensor._input_shape = as_dims(shape)
        tensor._input_dtype = dtype
        self._inputs.append(tensor)
        self._changed()
        return tensor

    def mark_output(self, tensor):
        self._check_tensor(tensor, "mark_output")
        if tensor not in self._outputs:
            self._outputs.append(tensor)

    def unmark_output(self, tensor):
        self._check_tensor(tensor, "unmark_output")
        if tensor in self._outputs:
            self._outputs.remove(tensor)

    def mark_output_for_shapes(self, tensor):
        self.mark_output(tensor)
        return True

    def unmark_output_for_shapes(self, tensor):
        self.unmark_output(tensor)
        return True

    def remove_tensor(self, tensor):
        self._check_tensor(tensor, "remove_tensor")
        if tensor in self._inputs:
            self._inputs.remove(tensor)
        if tensor in self._outputs:
            self._outputs.remove(tensor)
        self._changed()

    def mark_debug(self, tensor):
        self._check_tensor(tensor, "mark_debug")
        if tensor not in self._debug:
            self._debug.append(tensor)
        return True

    def unmark_debug(self, tensor):
        if tensor in self._debug:
            self._debug.remove(tensor)
        return True

    def is_debug_tensor(self, tensor):
        return tensor in self._debug

    def mark_unfused_tensors_as_debug_tensors(self):
        # reftrt fuses nothing, so every layer output is "unfused".
        for layer in self._layers:
            for t in layer._outputs:
                self.mark_debug(t)
        return True

    def unmark_unfused_tensors_as_debug_tensors(self):
        self._debug.clear()
        return True

    def set_weights_name(self, weights, name):
        return True

    def mark_weights_refittable(self, name):
        self._refittable.add(name)
        return True

    def unmark_weights_refittable(self, name):
        self._refittable.discard(name)
        return True

    def are_weights_marked_refittable(self, name):
        return name in self._refittable

    def _check_tensor(self, tensor, what):
        if not isinstance(tensor, ITensor):
            raise TypeError(f"{what}: expected trt.ITensor, got {type(tensor).__name__}")

    # ---- graph queries
    def _consumers(self):
        users = {}
        for layer in self._layers:
            for i, t in enumerate(layer._inputs):
                if t is not None:
                    users.setdefault(t, []).append((layer, i))
        return users

    def _shape_tensors(self):
        """Tensors that TensorRT computes on the host: those feeding a shape input, through shape arithmetic."""
        # Memoised on the wiring (layers, inputs, set_input): shape queries ask for it after every added layer.
        key = (self._wiring, len(self._layers), len(self._inputs))
        if self._shape_memo is None or self._shape_memo[0] != key:
            self._shape_memo = (key, self._find_shape_tensors())
        return self._shape_memo[1]

    def _find_shape_tensors(self):
        result = set()
        stack = [t for layer in self._layers for i, t in enumerate(layer._inputs)
                 if t is not None and i in layer._shape_inputs]
        while stack:
            t = stack.pop()
            if t in result:
                continue
            result.add(t)
            if t._producer is not None and not isinstance(t._producer, _ShapeSource):
                stack.extend(x for x in t._producer._inputs if x is not None)
        # Network inputs are shape tensors only if they are integer vectors whose dimensions are fixed at definition
        # time (IOptimizationProfile.set_shape_input docstring); others feed data-dependent shapes (Cookbook
        # TopK/case_dds: a (-1,) INT32 input reduced into k is an execution input).
        return {t for t in result if t._producer is not None or
                (t._input_dtype in (DataType.INT32, DataType.INT64) and len(t._input_shape) <= 1
                 and all(d >= 0 for d in t._input_shape))}

    def _used_as_execution(self, tensor):
        return any(i not in layer._shape_inputs for layer, i in self._consumers().get(tensor, []))

    def _topo_layers(self, roots=None, done=None):
        """Layers needed for `roots` (default: outputs, debug tensors and layers without outputs), in order.

        `done(layer)` (optional) marks layers whose results are already known: the walk stops there (the roots'
        producers are always included). Iterative, so that deep networks do not exhaust Python's recursion limit.
        """
        if roots is None:
            roots = list(self._outputs) + list(self._debug)
            extra = [layer for layer in self._layers if not layer._outputs]
        else:
            extra = []
        order, state = [], {}

        def visit(root):
            if state.get(root) == 2:
                return
            state[root] = 1
            stack = [(root, iter(root._inputs))]
            while stack:
                layer, pending = stack[-1]
                for t in pending:
                    producer = t._producer if t is not None else None
                    if producer is None:
                        continue
                    mark = state.get(producer)
                    if mark == 2:
                        continue
                    if mark == 1:
                        raise LayerError(f"{producer._name}: the network has a cycle")
                    if done is not None and done(producer):
                        state[producer] = 2
                        continue
                    state[producer] = 1
                    stack.append((producer, iter(producer._inputs)))
                    break
                else:
                    stack.pop()
                    state[layer] = 2
                    order.append(layer)

        for t in roots:
            if t._producer is not None:
                visit(t._producer)
        for layer in extra:
            visit(layer)
        return order

    # ---- definition-time inference
    def _info(self, tensor):
        cache = self._analysis
        dynamic = any(d < 0 for t in self._inputs for d in t._input_shape) or \
            any(t._producer is None for t in self._shape_tensors())
        # A data-dependent size (NonZero, NMS) also needs two probes to read as -1; `_data_dependent` sticks once a
        # single-probe analysis met one.
        probes = [0, 1] if dynamic or self._data_dependent else [0]
        if cache is None or cache["version"] != self._version or len(cache["values"]) != len(probes):
            cache = self._analysis = {
                "version": self._version, "infos": {}, "errors": [{} for _ in probes],
                "values": [{t: _probe_input(t, PROBE_SIZES[p]) for t in self._inputs} for p in probes]}
        info = cache["infos"].get(tensor)
        if info is not None:
            return info
        def done(layer):
            # Already evaluated (or failed) in every probe: netdefs read shapes after every add, so each query
            # only evaluates what is new (linear, not quadratic, in the network size).
            return all(layer in errors or (layer._outputs and all(t in values for t in layer._outputs))
                       for values, errors in zip(cache["values"], cache["errors"]))

        layers = self._topo_layers([tensor], done)
        for probe, (values, errors) in enumerate(zip(cache["values"], cache["errors"])):
            ctx = Context(analysis=True, probe=probe)
            evaluate(layers, ctx, values, errors)
            if ctx._unknown and len(probes) == 1:
                self._data_dependent = True
                self._analysis = None
                return self._info(tensor)
        if len(cache["values"]) == 1:
            for message in cache["errors"][0].values():
                self._log_error(message)
        for layer in layers:
            for t in layer._outputs:
                if t not in cache["infos"]:
                    cache["infos"][t] = _combine(layer, t, cache["values"], cache["errors"])
        return cache["infos"][tensor]


def _combine(layer, tensor, probe_values, probe_errors):
    """Merge the probes' results for one tensor: dimensions that differ between probes are -1."""
    seen = [values.get(tensor) for values in probe_values]
    ok = [s for s in seen if s is not None]
    if not ok:
        error = next((errors[layer] for errors in probe_errors if layer in errors), None)
        return TensorInfo(Dims(), _declared_dtype(layer, tensor), error=error)
    dims = list(ok[0].shape)
    for other in ok[1:]:
        dims = [a if a == b else -1 for a, b in zip(dims, other.shape)] if len(other.shape) == len(dims) \
            else [-1] * len(dims)
    if len(ok) < len(seen):
        dims = [-1] * len(dims)
    value = ok[0] if len(ok) == len(seen) and all(not s.is_meta for s in ok) and \
        all(s.shape == ok[0].shape and torch.equal(s, ok[0]) for s in ok[1:]) else None
    return TensorInfo(Dims(dims), from_torch_dtype(ok[0].dtype), value)


class _ShapeSource:
    """Marker base for layers whose output values depend only on input shapes (the Shape layer)."""


def _declared_dtype(layer, tensor):
    forced = layer._output_types[tensor._index]
    return forced if forced is not None else DataType.FLOAT


def _probe_input(tensor, size):
    shape = [size if d < 0 else d for d in tensor._input_shape]
    dtype = torch_dtype(tensor._input_dtype)
    return torch.empty(shape, dtype=dtype, device="meta")


def schedule(layers, keep, out_dtypes=None):
    """The run-time steps for `layers` (topological order), computed once per engine: for each layer its input and
    output tensors, its output types (`out_dtypes(layer)`), the tensors to free after it (their last use, unless in
    `keep`), and the inputs it may be given to overwrite (see `execute`)."""
    last_use = {}
    for position, layer in enumerate(layers):
        for t in layer._inputs:
            if t is not None:
                last_use[t] = position
    steps = []
    for position, layer in enumerate(layers):
        frees = tuple(t for t in dict.fromkeys(layer._inputs)
                      if t is not None and last_use[t] == position and t not in keep)
        # Candidates for donation: read for the last time, used once by this layer, computed by a layer (network
        # inputs are the caller's memory).
        donate = tuple(i for i, t in enumerate(layer._inputs)
                       if t in frees and t._producer is not None and layer._inputs.count(t) == 1)
        steps.append((layer, tuple(layer._inputs), tuple(layer._outputs),
                      out_dtypes(layer) if out_dtypes else None, frees, donate))
    return steps


def _counts(x):
    storage = x.untyped_storage()
    return sys.getrefcount(x), torch._C._storage_Use_Count(storage._cdata)


def _exclusive_counts():
    """What `_counts` gives for a tensor that only the executor holds (measured the way `execute` calls it, so that
    the check does not depend on how the interpreter counts references)."""
    values = {0: torch.empty(1)}
    inputs = [values[0]]
    return _counts(inputs[0])


_EXCLUSIVE_REFS, _EXCLUSIVE_STORAGE_REFS = _exclusive_counts()


def _exclusive(x):
    """True if `x` (held by `values` and the inputs list) is referenced by nothing else and owns its memory."""
    if sys.getrefcount(x) != _EXCLUSIVE_REFS:
        return False
    storage = x.untyped_storage()
    return storage.resizable() and torch._C._storage_Use_Count(storage._cdata) == _EXCLUSIVE_STORAGE_REFS


def execute(steps, ctx, values, on_tensor=None, timer=None):
    """Run `schedule` steps on real tensors (`values`: ITensor -> tensor, holding the network inputs); errors
    propagate as LayerError naming the layer. What `evaluate` does at run time, without its per-run bookkeeping.

    In-place execution: an input at its last use is donated to the layer (`ctx.donated`) when its memory belongs to
    the executor alone: allocated by PyTorch (resizable storage: not the caller's buffers, not Weights), shared with
    no other tensor (views, other values, a layer's cache) and referenced by nothing else.
    `timer(layer, seconds)` (optional) gets each layer's time.
    """
    for layer, ins, outs, dtypes, frees, donate in steps:
        start = time.perf_counter() if timer is not None else 0
        try:
            inputs = [None if t is None else values[t] for t in ins]
        except KeyError:
            raise LayerError(f"{layer._name}: an input tensor was not computed") from None
        ctx.donated = tuple(i for i in donate if _exclusive(inputs[i])) if donate else ()
        try:
            outputs = run_layer(layer, inputs, ctx, dtypes)
        except (UnknownValue, LayerError):
            raise
        except (RuntimeError, ValueError, TypeError, IndexError, NotImplementedError) as e:
            raise LayerError(f"{layer._name}: {e}") from e
        finally:
            ctx.donated = ()
        del inputs
        if len(outputs) != len(outs):
            raise AssertionError(f"{layer._name}: produced {len(outputs)} outputs, expected {len(outs)}")
        for t, value in zip(outs, outputs):
            values[t] = value
            if on_tensor is not None:
                on_tensor(t, value)
        outputs = value = None  # `values` holds the only references (what the donation check expects)
        for t in frees:
            values.pop(t, None)
        if timer is not None:
            timer(layer, time.perf_counter() - start)
    return values


def evaluate(layers, ctx, values, errors=None, out_dtypes=None, keep=None, on_tensor=None):
    """Run `layers` (in topological order), adding their outputs to `values` (ITensor -> torch tensor).

    Layers whose outputs are already in `values`, or that failed before (in `errors`), are skipped. During analysis a
    failing layer is recorded in `errors` (layer -> message) and its consumers are skipped; at run time errors
    propagate. `keep` (a set) frees every other tensor after its last use; `on_tensor(tensor, value)` sees each
    output as it is produced. `out_dtypes(layer)` gives the output types recorded at build time.
    """
    errors = {} if errors is None else errors
    last_use = None
    if keep is not None:
        last_use = {}
        for position, layer in enumerate(layers):
            for t in layer._inputs:
                if t is not None:
                    last_use[t] = position
    for position, layer in enumerate(layers):
        if layer in errors or (layer._outputs and all(t in values for t in layer._outputs)):
            continue
        if any(t is not None and t not in values for t in layer._inputs):
            continue
        inputs = [None if t is None else values[t] for t in layer._inputs]
        try:
            outputs = run_layer(layer, inputs, ctx, out_dtypes(layer) if out_dtypes else None)
        except UnknownValue:
            if not ctx.analysis:
                raise
            continue
        except LayerError as e:
            if not ctx.analysis:
                raise
            errors[layer] = str(e)
            continue
        except (RuntimeError, ValueError, TypeError, IndexError, NotImplementedError) as e:
            if not ctx.analysis:
                raise LayerError(f"{layer._name}: {e}") from e
            errors[layer] = f"{layer._name}: {e}"
            continue
        if len(outputs) != len(layer._outputs):
            raise AssertionError(f"{layer._name}: produced {len(outputs)} outputs, expected {len(layer._outputs)}")
        for t, value in zip(layer._outputs, outputs):
            values[t] = value
            if on_tensor is not None:
                on_tensor(t, value)
        if last_use is not None:
            for t in layer._inputs:
                if t is not None and last_use.get(t) == position and t not in keep:
                    values.pop(t, None)
    return values, errors

"""Runtime, ICudaEngine, IExecutionContext: running a reference plan on the CPU.

Tensor addresses are host addresses (`numpy_array.ctypes.data`) where TensorRT takes device addresses; everything
else follows TensorRT's run-time flow: set_input_shape (checked against the active optimization profile),
infer_shapes, set_tensor_address, execute_async_v3, and IOutputAllocator for data-dependent output shapes.
"""
import ctypes
import json

import torch

from . import _plan_load
from ._enums import (DataType, EngineCapability, ExecutionContextAllocationStrategy, HardwareCompatibilityLevel,
                     LayerInformationFormat, ProfilingVerbosity, Severity, TensorFormat, TensorIOMode,
                     TensorLocation, TrtEnum)
from ._errors import ECHO_LIMIT, PlanError, clip
from ._graph import Context, LayerError, evaluate, execute, schedule
from ._hostmemory import host_memory
from ._logger import ILogger, log
from ._plugins import get_plugin_registry
from ._types import Dims, Permutation, Weights, as_dims, to_int, torch_dtype


class Runtime:
    def __init__(self, logger):
        if not isinstance(logger, ILogger):
            raise TypeError("Runtime(): logger must be a trt.ILogger")
        self._logger = logger
        self.DLA_core = -1
        self.max_threads = 1
        self.error_recorder = None
        self.gpu_allocator = None
        self.engine_host_code_allowed = False
        self.temporary_directory = ""
        self.tempfile_control_flags = 0

    @property
    def logger(self):
        return self._logger

    @property
    def num_DLA_cores(self):
        return 0

    def deserialize_cuda_engine(self, serialized_engine):
        # Any buffer, as the bindings take one (bytes, IHostMemory, bytearray, memoryview, numpy arrays); not
        # bytes(x), which would turn an int into that many zero bytes.
        try:
            data = memoryview(serialized_engine).tobytes()
        except TypeError:
            raise TypeError(f"deserialize_cuda_engine(): incompatible function arguments: expected a buffer, got "
                            f"{type(serialized_engine).__name__}") from None
        try:
            plan = _plan_load.deserialize(data)
        except PlanError as e:
            log(self._logger, Severity.ERROR, f"IRuntime::deserializeCudaEngine: Error Code 1: Serialization "
                                              f"({clip(e, 4 * ECHO_LIMIT)})")
            return None
        except Exception as e:  # noqa: BLE001 - a loader bug must still not escape as an exception, as in TensorRT
            log(self._logger, Severity.ERROR, f"IRuntime::deserializeCudaEngine: Error Code 2: Internal Error "
                                              f"({type(e).__name__}: {clip(e)})")
            return None
        return ICudaEngine(plan, data, self._logger)

    def get_plugin_registry(self):
        return get_plugin_registry()


class ICudaEngine:
    def __init__(self, plan, data, logger):
        self._plan, self._data, self._logger = plan, data, logger
        self.error_recorder = None
        self.weight_streaming_budget_v2 = -1

    # ---- I/O description
    @property
    def num_io_tensors(self):
        return len(self._plan.io)

    def get_tensor_name(self, index):
        index = int(index)
        return self._plan.io[index].name if 0 <= index < len(self._plan.io) else None

    def __getitem__(self, index):
        return self.get_tensor_name(index)

    def _tensor(self, name):
        return self._plan.by_name.get(name)

    def get_tensor_mode(self, name):
        t = self._tensor(name)
        if t is None:
            return TensorIOMode.NONE
        return TensorIOMode.INPUT if t in self._plan.inputs else TensorIOMode.OUTPUT

    def get_tensor_dtype(self, name):
        t = self._tensor(name)
        return self._plan.dtypes[t] if t is not None else DataType.FLOAT

    def get_tensor_shape(self, name):
        t = self._tensor(name)
        return Dims(self._plan.shapes[t]) if t is not None else Dims([])

    def get_tensor_location(self, name):
        t = self._tensor(name)
        return TensorLocation.HOST if t in self._plan.shape_io else TensorLocation.DEVICE

    def is_shape_inference_io(self, name):
        return self._tensor(name) in self._plan.shape_io

    def get_tensor_profile_shape(self, name, profile_index):
        record = self._plan.profiles[int(profile_index)]
        shapes = record["shapes"].get(name)
        return [Dims(s) for s in shapes] if shapes else []

    def get_tensor_profile_values(self, name, profile_index):
        # The real binding's parameter names are swapped (name: int, profile_index: str); accept both orders.
        if isinstance(name, str):
            name, profile_index = profile_index, name
        return [list(v) for v in self._plan.profiles[int(name)]["values"].get(profile_index, [])]

    def get_tensor_format(self, name, profile_index=0):
        return TensorFormat.LINEAR

    def get_tensor_format_desc(self, name, profile_index=0):
        return f"Row major linear {self.get_tensor_dtype(name).name} format"

    def get_tensor_bytes_per_component(self, name, profile_index=0):
        return self.get_tensor_dtype(name).itemsize

    def get_tensor_components_per_element(self, name, profile_index=0):
        return 1

    def get_tensor_vectorized_dim(self, name, profile_index=0):
        return -1

    def is_debug_tensor(self, name):
        return any(t.name == name for t in self._plan.debug)

    def get_aliased_input_tensor(self, name):
        return None

    # ---- engine properties
    @property
    def name(self):
        return self._plan.header.get("name", "")

    @property
    def num_layers(self):
        return len(self._plan.layers)

    @property
    def num_optimization_profiles(self):
        return len(self._plan.profiles)

    @property
    def num_aux_streams(self):
        return 0

    @property
    def refittable(self):
        return False

    @property
    def profiling_verbosity(self):
        return getattr(ProfilingVerbosity, self._plan.header.get("profiling_verbosity", "LAYER_NAMES_ONLY"))

    @property
    def engine_capability(self):
        return EngineCapability.STANDARD

    @property
    def hardware_compatibility_level(self):
        return HardwareCompatibilityLevel.NONE

    @property
    def tactic_sources(self):
        return 0

    @property
    def device_memory_size_v2(self):
        return 0

    @property
    def streamable_weights_size(self):
        return 0

    @property
    def weight_streaming_scratch_memory_size(self):
        return 0

    def get_device_memory_size_for_profile_v2(self, profile_index):
        return 0

    def get_weight_streaming_automatic_budget(self):
        return 0

    def serialize(self):
        return host_memory(self._data)

    def create_execution_context(self, strategy=ExecutionContextAllocationStrategy.STATIC):
        return IExecutionContext(self)

    def create_engine_inspector(self):
        return EngineInspector(self)


class IOutputAllocator:
    """Base for allocators of outputs whose shape is known only after execution (NonZero, NMS)."""

    def __init__(self):
        pass


class IDebugListener:
    """Base for debug-tensor listeners: `process_debug_tensor` gets each debug tensor during execution.

    reftrt passes `addr` as an int host address (TensorRT passes a capsule of device memory).
    """

    def __init__(self):
        pass


class IProfiler:
    def __init__(self):
        pass


class Profiler(IProfiler):
    """Prints each layer's time, as trt.Profiler."""

    def report_layer_time(self, layer_name, ms):
        print(f"{layer_name}: {ms:.6f}ms")


def host_tensor(address, shape, dtype):
    """A torch view of host memory at `address` (what reftrt takes where TensorRT takes device pointers)."""
    shape = [int(d) for d in shape]
    count = 1
    for d in shape:
        count *= d
    tdtype = torch_dtype(dtype)
    if count == 0:
        return torch.empty(shape, dtype=tdtype)
    if not address:
        raise LayerError("tensor address is not set")
    nbytes = count * torch.empty((), dtype=tdtype).element_size()
    buffer = (ctypes.c_char * nbytes).from_address(int(address))
    return torch.frombuffer(buffer, dtype=tdtype, count=count).reshape(shape)


class IExecutionContext:
    def __init__(self, engine):
        self._engine = engine
        self._plan = engine._plan
        self._profile = 0
        self._shapes = {}
        self._addresses = {}
        self._allocators = {}
        self._debug_listener = None
        self._debug_state = {}
        self._shape_cache = None
        self.name = ""
        self.debug_sync = False
        self.profiler = None
        self.enqueue_emits_profile = True
        self.error_recorder = None
        self.device_memory = 0
        self.persistent_cache_limit = 0
        self.nvtx_verbosity = ProfilingVerbosity.LAYER_NAMES_ONLY
        self.temporary_allocator = None
        self._unfused_debug = False
        for t in self._plan.inputs:
            if all(d >= 0 for d in self._plan.shapes[t]):
                self._shapes[t.name] = list(self._plan.shapes[t])

    def _log_error(self, message):
        log(self._engine._logger, Severity.ERROR, message)

    @property
    def engine(self):
        return self._engine

    @property
    def active_optimization_profile(self):
        return self._profile

    def set_optimization_profile_async(self, profile_index, stream_handle):
        index = int(profile_index)
        if not 0 <= index < len(self._plan.profiles):
            self._log_error(f"setOptimizationProfileAsync: profile index {index} out of range")
            return False
        self._profile = index
        self._shape_cache = None
        return True

    # ---- shapes
    def set_input_shape(self, name, shape):
        t = self._plan.by_name.get(name)
        if t is None or t not in self._plan.inputs:
            self._log_error(f"IExecutionContext::setInputShape: Error Code 3: API Usage Error (no input tensor "
                            f"named {name})")
            return False
        dims = list(as_dims(shape))
        static = list(self._plan.shapes[t])
        if t in self._plan.shape_io and len(static) <= 1:
            pass  # the shape of a shape-tensor input is its length
        if len(dims) != len(static):
            self._log_error(f"IExecutionContext::setInputShape: Error Code 3: API Usage Error (Parameter check "
                            f"failed, condition: engineDims.nbDims == dims.nbDims. {name}: expected rank "
                            f"{len(static)}, got {len(dims)}.)")
            return False
        for i, (d, s) in enumerate(zip(dims, static)):
            if s >= 0 and d != s:
                self._log_error(f"IExecutionContext::setInputShape: Error Code 3: API Usage Error (Static dimension "
                                f"mismatch while setting input shape for {name}. Set dimensions are {Dims(dims)}. "
                                f"Expected dimensions are {Dims(static)}.)")
                return False
        shapes = self._plan.profiles[self._profile]["shapes"].get(name)
        if shapes:
            lo, hi = shapes[0], shapes[2]
            for i, (d, a, b) in enumerate(zip(dims, lo, hi)):
                if not a <= d <= b:
                    self._log_error(f"IExecutionContext::setInputShape: Error Code 3: API Usage Error (Parameter "
                                    f"check failed, condition: profileMinDims.d[i] <= dimensions.d[i] <= "
                                    f"profileMaxDims.d[i]. Supplied binding dimension {Dims(dims)} for {name} "
                                    f"exceeds min ~ max range at index {i}, maximum dimension in profile is {b}, "
                                    f"minimum dimension in profile is {a}, but supplied dimension is {d}.)")
                    return False
        self._shapes[name] = dims  # the shape cache is keyed on shapes and shape-tensor values
        return True

    @property
    def all_binding_shapes_specified(self):
        return all(t.name in self._shapes for t in self._plan.inputs)

    def _missing_inputs(self):
        missing = [t.name for t in self._plan.inputs if t.name not in self._shapes]
        missing += [t.name for t in self._plan.inputs
                    if t in self._plan.shape_io and not self._addresses.get(t.name) and t.name not in missing]
        return missing

    def _shape_values(self):
        values = {}
        for t in self._plan.inputs:
            if t in self._plan.shape_io:
                shape = self._shapes.get(t.name, list(self._plan.shapes[t]))
                values[t] = host_tensor(self._addresses[t.name], shape, self._plan.dtypes[t]).clone()
        return values

    def _check_shape_values(self, values):
        record = self._plan.profiles[self._profile]["values"]
        for t, value in values.items():
            bounds = record.get(t.name)
            if bounds:
                for i, v in enumerate(value.reshape(-1).tolist()):
                    if not bounds[0][i] <= v <= bounds[2][i]:
                        self._log_error(f"{t.name}: shape-tensor input value {v} at index {i} is outside the "
                                        f"optimization profile's range [{bounds[0][i]}, {bounds[2][i]}]")
                        return False
        return True

    def _infer(self):
        """Output shapes for the current input shapes; -1 where they depend on data (NonZero, NMS)."""
        values = self._shape_values()
        key = (tuple((k, tuple(v)) for k, v in sorted(self._shapes.items())),
               tuple((t.name, tuple(v.reshape(-1).tolist())) for t, v in values.items()))
        if self._shape_cache is not None and self._shape_cache[0] == key:
            return self._shape_cache[1]
        if not self._check_shape_values(values):
            raise LayerError("shape-tensor input outside the optimization profile")
        results = []
        for probe in (0, 1):
            feeds = dict(values)
            for t in self._plan.inputs:
                if t not in feeds:
                    feeds[t] = torch.empty(self._shapes[t.name], dtype=torch_dtype(self._plan.dtypes[t]),
                                           device="meta")
            ctx = Context(analysis=True, probe=probe)
            computed, errors = evaluate(self._plan.layers, ctx, feeds, {})
            if errors:
                raise LayerError("; ".join(errors.values()))
            results.append(computed)
            if ctx._unknown == 0:
                break
        shapes = {}
        for t in self._plan.outputs + self._plan.debug:
            seen = [r[t].shape for r in results]
            shapes[t.name] = [a if all(s[i] == a for s in seen) else -1 for i, a in enumerate(seen[0])]
        self._shape_cache = (key, shapes)
        return shapes

    def infer_shapes(self):
        missing = self._missing_inputs()
        if missing:
            return missing
        try:
            self._infer()
        except LayerError as e:
            self._log_error(f"IExecutionContext::inferShapes: {e}")
            raise RuntimeError(str(e)) from None
        return []

    def get_tensor_shape(self, name):
        t = self._plan.by_name.get(name)
        if t is None:
            return Dims([])
        if t in self._plan.inputs:
            return Dims(self._shapes.get(name, self._plan.shapes[t]))
        if self._missing_inputs():
            return Dims(self._plan.shapes[t])
        try:
            return Dims(self._infer()[name])
        except Exception as e:  # noqa: BLE001 - a query: TensorRT logs the failure and answers the engine's shape
            self._log_error(clip(e))
            return Dims(self._plan.shapes[t])

    def get_tensor_strides(self, name):
        shape = list(self.get_tensor_shape(name))
        strides, acc = [], 1
        for d in reversed(shape):
            strides.insert(0, acc)
            acc *= max(d, 1)
        return Dims(strides)

    def update_device_memory_size_for_shapes(self):
        return 0

    # ---- addresses and allocators
    def set_tensor_address(self, name, memory):
        if name not in self._plan.by_name and not any(t.name == name for t in self._plan.debug):
            self._log_error(f"IExecutionContext::setTensorAddress: Error Code 3: API Usage Error (no tensor named "
                            f"{name})")
            return False
        self._addresses[name] = int(memory)
        return True

    def get_tensor_address(self, name):
        return self._addresses.get(name, 0)

    def set_output_allocator(self, name, output_allocator):
        self._allocators[name] = output_allocator
        return True

    def get_output_allocator(self, name):
        return self._allocators.get(name)

    def get_max_output_size(self, name):
        t = self._plan.by_name.get(name)
        # TensorRT returns -1 for a name that is no output, and while input shapes or shape values are not set.
        if t is None or t not in self._plan.outputs or self._missing_inputs():
            return -1
        shape = self._infer()[name]
        if all(d >= 0 for d in shape):
            count = 1
            for d in shape:
                count *= d
            return count * self._plan.dtypes[t].itemsize
        # Data-dependent: bounded by the probe-free validation upper bound.
        ctx_shapes = self._infer_upper(name)
        count = 1
        for d in ctx_shapes:
            count *= d
        return count * self._plan.dtypes[t].itemsize

    def _infer_upper(self, name):
        feeds = dict(self._shape_values())
        for t in self._plan.inputs:
            if t not in feeds:
                feeds[t] = torch.empty(self._shapes[t.name], dtype=torch_dtype(self._plan.dtypes[t]), device="meta")
        computed, _ = evaluate(self._plan.layers, Context(analysis=True, validate=True), feeds, {})
        return list(computed[self._plan.by_name[name]].shape)

    # ---- debug tensors
    def set_debug_listener(self, listener):
        self._debug_listener = listener
        return True

    def get_debug_listener(self):
        return self._debug_listener

    def set_tensor_debug_state(self, name, flag):
        if not any(t.name == name for t in self._plan.debug):
            self._log_error(f"setTensorDebugState: {name} is not a debug tensor")
            return False
        self._debug_state[name] = bool(flag)
        return True

    def get_debug_state(self, name):
        return self._debug_state.get(name, False)

    def set_all_tensors_debug_state(self, flag):
        for t in self._plan.debug:
            self._debug_state[t.name] = bool(flag)
        return True

    @property
    def unfused_tensors_debug_state(self):
        return self._unfused_debug

    @unfused_tensors_debug_state.setter
    def unfused_tensors_debug_state(self, flag):
        self._unfused_debug = bool(flag)
        self.set_all_tensors_debug_state(flag)

    # ---- execution
    def execute_v2(self, bindings):
        for t, address in zip(self._plan.io, bindings):
            self._addresses[t.name] = int(address)
        return self.execute_async_v3(0)

    def execute_async_v3(self, stream_handle):
        stream = to_int(stream_handle, unsigned=True)  # a TypeError for a non-integer, as pybind11
        missing = self._missing_inputs()
        if missing:
            self._log_error(f"IExecutionContext::enqueueV3: Error Code 3: API Usage Error (input shapes or values "
                            f"are not set: {clip(missing)})")
            return False
        # TensorRT reports every failure of an enqueue through the logger and its return value.
        try:
            self._run(stream)
        except LayerError as e:
            self._log_error(f"IExecutionContext::enqueueV3: Error Code 1: {clip(e)}")
            return False
        except Exception as e:  # noqa: BLE001
            self._log_error(f"IExecutionContext::enqueueV3: Error Code 2: Internal Error ({type(e).__name__}: "
                            f"{clip(e)})")
            return False
        return True

    def _run(self, stream):
        plan = self._plan
        out_shapes = self._infer()
        for t in plan.outputs:
            # An empty output needs no memory (as an empty input, below).
            if not self._addresses.get(t.name) and t.name not in self._allocators and \
                    not any(d == 0 for d in out_shapes[t.name]):
                raise LayerError(f"Neither address nor allocator is set for output tensor {t.name}")
        feeds = {}
        for t in plan.inputs:
            if not self._addresses.get(t.name) and not any(d == 0 for d in self._shapes[t.name]):
                raise LayerError(f"Address is not set for input tensor {t.name}")
            feeds[t] = host_tensor(self._addresses.get(t.name, 0), self._shapes[t.name], plan.dtypes[t])
        debug = [t for t in plan.debug if self._debug_state.get(t.name)]
        keep = frozenset(plan.outputs) | frozenset(debug)

        on_tensor = None
        if debug and self._debug_listener is not None:
            wanted = set(debug)

            def on_tensor(t, value):
                if t in wanted:
                    self._report_debug(t, value, stream)

        timer = None
        if self.profiler is not None:
            def timer(layer, seconds):
                self.profiler.report_layer_time(layer.name, seconds * 1e3)

        values = execute(self._steps(keep), Context(), feeds, on_tensor, timer)
        for t in plan.outputs:
            self._write_output(t, values[t], out_shapes[t.name], stream)

    def _steps(self, keep):
        """The plan's run-time schedule for the tensors to keep, computed once per engine and set of kept tensors."""
        plan = self._plan
        cache = plan.__dict__.setdefault("_schedules", {})
        steps = cache.get(keep)
        if steps is None:
            steps = cache[keep] = schedule(plan.layers, keep,
                                           lambda layer: [torch_dtype(plan.dtypes[t]) for t in layer._outputs])
        return steps

    def _write_output(self, t, value, expected, stream):
        dims = list(value.shape)
        if any(e >= 0 and e != d for e, d in zip(expected, dims)):
            raise LayerError(f"internal error: output {t.name} has shape {dims}, expected {expected}")
        allocator = self._allocators.get(t.name)
        if allocator is not None:
            nbytes = value.numel() * value.element_size()
            current = self._addresses.get(t.name, 0)
            if hasattr(allocator, "reallocate_output_async"):
                address = allocator.reallocate_output_async(t.name, current, nbytes, 256, stream)
            else:
                address = allocator.reallocate_output(t.name, current, nbytes, 256)
            if nbytes and not address:
                raise LayerError(f"output allocator returned no memory for {t.name}")
            self._addresses[t.name] = int(address or 0)
            if nbytes:
                host_tensor(address, dims, self._plan.dtypes[t]).copy_(value)
            allocator.notify_shape(t.name, Dims(dims))
        elif value.numel():
            host_tensor(self._addresses[t.name], dims, self._plan.dtypes[t]).copy_(value)

    def _report_debug(self, t, value, stream):
        array = value.detach().contiguous()
        keepalive = array.view(torch.uint8) if array.dtype == torch.bool else array
        self._debug_listener.process_debug_tensor(keepalive.data_ptr(), TensorLocation.HOST, self._plan.dtypes[t],
                                                  Dims(list(array.shape)), t.name, stream)

    def report_to_profiler(self):
        return True

    def set_input_consumed_event(self, event):
        return True

    def get_input_consumed_event(self):
        return 0

    def set_aux_streams(self, aux_streams):
        pass


class EngineInspector:
    """Per-layer information of a reference engine, in TensorRT's JSON layout (no fusion: one entry per layer)."""

    def __init__(self, engine):
        self._engine = engine
        self.execution_context = None
        self.error_recorder = None

    def _layer_dict(self, layer):
        plan = self._engine._plan

        def io(t):
            return {"Name": t.name, "Location": "Device", "Dimensions": list(plan.shapes.get(t, [])),
                    "Format/Datatype": f"Row major linear {plan.dtypes.get(t, DataType.FLOAT).name}"}

        info = {"Name": layer.name, "LayerType": type(layer)._type_str,
                "Inputs": [io(t) for t in layer._inputs if t is not None],
                "Outputs": [io(t) for t in layer._outputs],
                "ParameterType": type(layer)._type_str, "TacticName": "reftrt", "StreamId": 0,
                "Metadata": layer.metadata}
        for key, value in layer._p.items():
            info[key] = _jsonable(value)
        return info

    def get_layer_information(self, layer_index, format):
        layers = self._engine._plan.layers
        entry = self._layer_dict(layers[int(layer_index)])
        if format == LayerInformationFormat.ONELINE:
            return entry["Name"]
        return json.dumps(entry)

    def get_engine_information(self, format):
        plan = self._engine._plan
        if format == LayerInformationFormat.ONELINE:
            return "\n".join(layer.name for layer in plan.layers)
        return json.dumps({"Layers": [self._layer_dict(layer) for layer in plan.layers],
                           "Bindings": [t.name for t in plan.io]})


def _jsonable(value):
    if isinstance(value, TrtEnum):
        return value.name
    if isinstance(value, (Dims, Permutation)):
        return list(value)
    if isinstance(value, Weights):
        return {"Type": value.dtype.name, "Count": value.size}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)

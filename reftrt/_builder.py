"""Builder, IBuilderConfig, IOptimizationProfile, ITimingCache, and the build step.

Building validates the network as TensorRT's builder does (every layer is run on meta tensors for each
optimization profile's min, opt and max shapes) and serializes it into a reference plan (reftrt/_plan.py). It
never produces a plan for an invalid network: it logs the reason and returns None, as TensorRT does.
"""
import torch

from . import _enums, _plan, _version
from ._enums import (BuilderFlag, DeviceType, EngineCapability, HardwareCompatibilityLevel,
                     MemoryPoolType, NetworkDefinitionCreationFlag, PreviewFeature, ProfilingVerbosity,
                     RuntimePlatform, Severity, TacticSource)
from ._graph import PROBE_SIZES, Context, INetworkDefinition, LayerError, _Strict, evaluate
from ._hostmemory import host_memory
from ._logger import ILogger, log
from ._plugins import get_plugin_registry
from ._runtime import Runtime
from ._types import Dims, as_dims, torch_dtype


class IProgressMonitor:
    """Base for build progress callbacks: phase_start / step_complete (return False to cancel) / phase_finish."""

    def __init__(self):
        pass


class IOptimizationProfile(_Strict):
    """Min / opt / max shapes for dynamic inputs, and min / opt / max values for shape-tensor inputs."""

    # Settings are class attributes holding their defaults, so that reftrt/__init__ removes those the emulated
    # version lacks (profile_stream is TensorRT 11 only) and _Strict then refuses them, as the bindings do.
    extra_memory_target = 1.0
    profile_stream = 0

    def __init__(self):
        self._shapes = {}
        self._values = {}

    def set_shape(self, input, min, opt, max):
        self._shapes[str(input)] = [as_dims(min), as_dims(opt), as_dims(max)]

    def get_shape(self, input):
        return [Dims(d) for d in self._shapes.get(str(input), [])]

    def set_shape_input(self, input, min, opt, max):
        self._values[str(input)] = [[int(v) for v in min], [int(v) for v in opt], [int(v) for v in max]]

    def get_shape_input(self, input):
        return [list(v) for v in self._values.get(str(input), [])]

    def __bool__(self):
        return True

    def _is_valid(self):
        for triple in list(self._shapes.values()) + list(self._values.values()):
            lo, mid, hi = (list(x) for x in triple)
            if not (len(lo) == len(mid) == len(hi)):
                return False
            if any(not (a <= b <= c) for a, b, c in zip(lo, mid, hi)) or any(a < 0 for a in lo):
                return False
        return True


class IBuilderConfig(_Strict):
    """Build options. Precision flags exist only in the TensorRT 10 API (11 is strongly typed)."""

    # Settings are class attributes holding their defaults, so that reftrt/__init__ removes those the emulated
    # version lacks (int8_calibrator and algorithm_selector are gone in 11, the tiling options are new in it) and
    # _Strict then refuses them, as the bindings do; reset() drops the instance's own values.
    profiling_verbosity = ProfilingVerbosity.LAYER_NAMES_ONLY
    builder_optimization_level = 3
    avg_timing_iterations = 1
    max_aux_streams = -1
    engine_capability = EngineCapability.STANDARD
    hardware_compatibility_level = HardwareCompatibilityLevel.NONE
    runtime_platform = RuntimePlatform.SAME_AS_BUILD
    default_device_type = DeviceType.GPU
    DLA_core = -1
    progress_monitor = None
    profile_stream = 0
    max_num_tactics = -1
    tiling_optimization_level = getattr(_enums.ENUMS.get("TilingOptimizationLevel"), "NONE", None)
    l2_limit_for_tiling = -1
    remote_auto_tuning_config = ""
    build_route = 0
    int8_calibrator = None
    algorithm_selector = None
    plugins_to_serialize = None  # a list of its own per config, set by reset()

    def __init__(self):
        self.reset()

    def reset(self):
        for name in [k for k in vars(self) if not k.startswith("_")]:
            delattr(self, name)
        self._flags = 0
        self._profiles = []
        self._pools = {}
        self._preview = {}
        self._device_types = {}
        self.plugins_to_serialize = []
        self._quantization_flags = 0
        self._calibration_profile = None
        self._timing_cache = None
        self._tactic_sources = 0

    @property
    def flags(self):
        return self._flags

    @flags.setter
    def flags(self, value):
        self._flags = int(value)

    def set_flag(self, flag):
        self._flags |= 1 << int(flag)

    def get_flag(self, flag):
        return bool(self._flags & (1 << int(flag)))

    def clear_flag(self, flag):
        self._flags &= ~(1 << int(flag))

    def set_memory_pool_limit(self, pool, pool_size):
        self._pools[int(pool)] = int(pool_size)

    def get_memory_pool_limit(self, pool):
        return self._pools.get(int(pool), 1 << 40 if int(pool) == int(MemoryPoolType.WORKSPACE) else 0)

    def set_preview_feature(self, feature, enable):
        self._preview[int(feature)] = bool(enable)

    def get_preview_feature(self, feature):
        return self._preview.get(int(feature), False)

    def add_optimization_profile(self, profile):
        if not isinstance(profile, IOptimizationProfile):
            raise TypeError("add_optimization_profile: expected trt.IOptimizationProfile")
        if not profile._is_valid():
            return -1
        self._profiles.append(profile)
        return len(self._profiles) - 1

    @property
    def num_optimization_profiles(self):
        return len(self._profiles)

    def set_device_type(self, layer, device_type):
        self._device_types[id(layer)] = device_type

    def get_device_type(self, layer):
        return self._device_types.get(id(layer), self.default_device_type)

    def is_device_type_set(self, layer):
        return id(layer) in self._device_types

    def reset_device_type(self, layer):
        self._device_types.pop(id(layer), None)

    def can_run_on_DLA(self, layer):
        return False

    def set_tactic_sources(self, tactic_sources):
        self._tactic_sources = int(tactic_sources)
        return True

    def get_tactic_sources(self):
        return self._tactic_sources

    def create_timing_cache(self, serialized_timing_cache):
        return ITimingCache(bytes(serialized_timing_cache))

    def set_timing_cache(self, cache, ignore_mismatch):
        self._timing_cache = cache
        return True

    def get_timing_cache(self):
        return self._timing_cache

    @property
    def all_build_routes(self):
        return 1

    # TensorRT 10 only (implicit quantization, removed in 11).
    @property
    def quantization_flags(self):
        return self._quantization_flags

    @quantization_flags.setter
    def quantization_flags(self, value):
        self._quantization_flags = int(value)

    def set_quantization_flag(self, flag):
        self._quantization_flags |= 1 << int(flag)

    def get_quantization_flag(self, flag):
        return bool(self._quantization_flags & (1 << int(flag)))

    def clear_quantization_flag(self, flag):
        self._quantization_flags &= ~(1 << int(flag))

    def set_calibration_profile(self, profile):
        self._calibration_profile = profile
        return True

    def get_calibration_profile(self):
        return self._calibration_profile


class ITimingCache:
    """reftrt has no tactics to time: the cache is kept as opaque bytes so that build scripts round-trip it."""

    def __init__(self, data=b""):
        self._data = data

    def serialize(self):
        return host_memory(self._data)

    def combine(self, input_cache, ignore_mismatch):
        return True

    def reset(self):
        return True


class Builder:
    """Creates networks, configs and profiles, and builds serialized plans."""

    def __init__(self, logger):
        if not isinstance(logger, ILogger):
            raise TypeError("Builder(): logger must be a trt.ILogger")
        self._logger = logger
        self.max_threads = 1
        self.error_recorder = None
        self.gpu_allocator = None

    @property
    def logger(self):
        return self._logger

    @property
    def num_DLA_cores(self):
        return 0

    @property
    def max_DLA_batch_size(self):
        return 1

    # TensorRT 10 only.
    @property
    def platform_has_fast_fp16(self):
        return True

    @property
    def platform_has_fast_int8(self):
        return True

    @property
    def platform_has_tf32(self):
        return False

    def create_network(self, flags=0):
        return INetworkDefinition(self, flags)

    def create_builder_config(self):
        return IBuilderConfig()

    def create_optimization_profile(self):
        return IOptimizationProfile()

    def get_plugin_registry(self):
        return get_plugin_registry()

    def reset(self):
        pass

    def is_network_supported(self, network, config):
        return build_plan(self, network, config) is not None

    if _version.IS_11:
        def build_serialized_network(self, network, config, kernel_text=None):
            # kernel_text (TensorRT 11 only) carries kernels for the GPU; reftrt has none to add.
            plan = build_plan(self, network, config)
            return None if plan is None else host_memory(plan)
    else:
        def build_serialized_network(self, network, config):
            plan = build_plan(self, network, config)
            return None if plan is None else host_memory(plan)

    def build_engine_with_config(self, network, config):
        plan = build_plan(self, network, config)
        return None if plan is None else Runtime(self._logger).deserialize_cuda_engine(plan)

    def build_serialized_network_to_stream(self, network, config, writer):
        plan = build_plan(self, network, config)
        if plan is None:
            return False
        writer.write(plan)
        return True


def _fail(logger, message):
    log(logger, Severity.ERROR, message)
    return None


def build_plan(builder, network, config):
    """Validate `network` for every profile and serialize it; None (with the reason logged) if it is invalid."""
    logger = builder.logger
    if not isinstance(network, INetworkDefinition):
        raise TypeError("build_serialized_network: expected trt.INetworkDefinition")
    if not network._outputs:
        return _fail(logger, "Network must have at least one output")
    names = {}
    for t in network._inputs + network._outputs:
        if t.name in names and names[t.name] is not t:
            return _fail(logger, f"Tensor name {t.name} is used by more than one network input or output")
        names[t.name] = t
    for t in network._inputs:
        if t in network._outputs:
            return _fail(logger, f"Tensor {t.name} cannot be both input and output")

    progress = config.progress_monitor
    shape_tensors = network._shape_tensors()
    dynamic = [t for t in network._inputs if any(d < 0 for d in t._input_shape) or t in shape_tensors]
    profiles = list(config._profiles)
    if dynamic and not profiles:
        return _fail(logger, "Network has dynamic or shape inputs, but no optimization profile has been defined.")
    if not profiles:
        profiles = [IOptimizationProfile()]

    try:
        layers = network._topo_layers()
    except LayerError as e:
        return _fail(logger, str(e))

    # Every profile must give every dynamic input shapes that agree with its static dimensions.
    profile_records = []
    for index, profile in enumerate(profiles):
        record = {"shapes": {}, "values": {}}
        for t in network._inputs:
            if t in shape_tensors:
                values = profile._values.get(t.name)
                if values is None:
                    return _fail(logger, f"{t.name}: optimization profile {index} is missing values for shape input")
                record["values"][t.name] = values
            shape = profile._shapes.get(t.name)
            if shape is None:
                if t in dynamic and t not in shape_tensors:
                    return _fail(logger, f"{t.name}: dynamic input is missing dimensions in profile {index}.")
                shape = [Dims(t._input_shape)] * 3
            for dims in shape:
                if len(dims) != len(t._input_shape) or any(
                        d >= 0 and p != d for p, d in zip(dims, t._input_shape)):
                    return _fail(logger, f"{t.name}: profile {index} dimensions {dims} do not match the "
                                         f"network input dimensions {t.shape}")
            record["shapes"][t.name] = [list(d) for d in shape]
        profile_records.append(record)

    # Validate: run every layer on meta tensors for each profile's min, opt and max shapes.
    shape_inputs = [t for t in network._inputs if t in shape_tensors]
    dtypes, observed = {}, {}
    if progress is not None:
        progress.phase_start("Validating network", None, len(profile_records))
    for index, record in enumerate(profile_records):
        for which in range(3):
            feeds = {}
            for t in network._inputs:
                if t in shape_tensors:
                    feeds[t] = torch.tensor(record["values"][t.name][which], dtype=torch_dtype(t._input_dtype))
                    if len(t._input_shape) == 0:
                        feeds[t] = feeds[t].reshape(())
                else:
                    feeds[t] = torch.empty(record["shapes"][t.name][which], dtype=torch_dtype(t._input_dtype),
                                           device="meta")
            values, errors = evaluate(layers, Context(analysis=True, validate=True), feeds, {})
            if errors and which != 1 and shape_inputs:
                # TensorRT only warns when shape-tensor input values at kMIN / kMAX make the network inconsistent
                # (Cookbook Shuffle and Slice case_shape_input); the engine then rejects such values at run time.
                for message in errors.values():
                    log(logger, Severity.WARNING, f"Profile k{('MIN', 'OPT', 'MAX')[which]} values are not "
                                                  f"self-consistent. {message}")
                continue
            if errors:
                for message in errors.values():
                    log(logger, Severity.ERROR, message)
                return _fail(logger, f"Network validation failed (optimization profile {index}).")
            for layer in layers:
                for t in layer._outputs:
                    if t not in values:
                        return _fail(logger, f"{layer.name}: could not compute output {t.name}")
                    dtypes[t] = values[t].dtype
                    observed.setdefault(t, []).append(tuple(values[t].shape))
        if progress is not None and progress.step_complete("Validating network", index) is False:
            progress.phase_finish("Validating network")
            return _fail(logger, "Build cancelled by the progress monitor.")
    if progress is not None:
        progress.phase_finish("Validating network")

    for t in network._outputs:
        if t._producer is not None and t not in dtypes:
            return _fail(logger, f"Output tensor {t.name} could not be computed")
    shapes = _profile_shapes(observed)
    shapes.update(_engine_shapes(network, layers, profile_records, shape_inputs))
    return _plan.serialize(network, layers, profile_records, dtypes, config, shapes)


def _profile_shapes(observed):
    """Shapes of the tensors whose definition-time shape names a size that the profiles do not all give: that
    dimension becomes -1. Definition-time shapes come from two probe sizes, and a size that depends on values (a
    top-k of min(100, anchors), anchors from the image size) can agree at both probes and not at a profile's
    minimum; the plan then records what holds over every profile, as the loader checks it."""
    shapes = {}
    for t, seen in observed.items():
        defined = list(t.shape)
        if any(len(s) != len(defined) for s in seen):
            continue
        dims = [d if d >= 0 and all(s[i] == d for s in seen) else -1 for i, d in enumerate(defined)]
        if dims != defined:
            shapes[t] = dims
    return shapes


def _engine_shapes(network, layers, profile_records, shape_inputs):
    """Output shapes as the engine reports them, where shape-tensor inputs make them differ from the definition.

    TensorRT's engine shapes come from its symbolic shape analysis over the profiles: an element of a shape-tensor
    input whose min, opt and max agree in every profile is a constant (Cookbook Shuffle / Slice case_shape_input
    report (1, -1, -1, -1)). reftrt runs the layers on each profile's min and max values as two probes, with
    `ctx.shapes_only` set so that layers compute shapes without value checks (a kMIN point may be inconsistent),
    and keeps the dimensions on which every probe agrees.
    """
    if not shape_inputs:
        return {}
    results = []
    for record in profile_records:
        for which in (0, 2):
            probe = len(results) % 2
            feeds = {}
            for t in network._inputs:
                if t in shape_inputs:
                    feeds[t] = torch.tensor(record["values"][t.name][which],
                                            dtype=torch_dtype(t._input_dtype)).reshape(list(t._input_shape))
                else:
                    dims = [d if d >= 0 else PROBE_SIZES[probe] for d in t._input_shape]
                    feeds[t] = torch.empty(dims, dtype=torch_dtype(t._input_dtype), device="meta")
            ctx = Context(analysis=True, probe=probe)
            ctx.shapes_only = True
            results.append(evaluate(layers, ctx, feeds, {})[0])
    shapes = {}
    for t in network._outputs:
        seen = [r.get(t) for r in results]
        if t._producer is None or any(s is None or s.dim() != seen[0].dim() for s in seen):
            continue
        dims = [d if all(s.shape[i] == d for s in seen) else -1 for i, d in enumerate(seen[0].shape)]
        defined = list(t.shape)
        if len(defined) == len(dims):
            dims = [d if d >= 0 else e for d, e in zip(defined, dims)]
        shapes[t] = dims
    return shapes

"""Define and build networks: the family's layers on the backend's network API, the builder config and profiles."""
import os
import sys
import time
import warnings

from weights import WeightStore, load as load_weights
from weights.atomic import atomic_write

from .. import families
from ..errors import BuildError, UserError
from ..family import MAX_BATCH
from ..tasks import names as class_names
from ..layers.net import Net
from .backend import Logger, resolve_backend
from .engine import PROJECT_VERSION, Engine

PRECISIONS = ("fp32", "fp16", "int8")

def _progress_monitor(trt):
    """Prints the builder's phases (a TensorRT build takes minutes on a Jetson)."""
    base = getattr(trt, "IProgressMonitor", None)
    if base is None:
        return None

    class Progress(base):
        def __init__(self):
            base.__init__(self)
            self._started = {}

        def phase_start(self, phase_name, parent_phase, num_steps):
            self._started[phase_name] = time.perf_counter()
            indent = "  " * (2 if parent_phase else 1)
            print(f"{indent}{phase_name} ({num_steps} steps) ...", file=sys.stderr, flush=True)

        def step_complete(self, phase_name, step):
            return True

        def phase_finish(self, phase_name):
            elapsed = time.perf_counter() - self._started.pop(phase_name, time.perf_counter())
            print(f"  {phase_name}: done in {elapsed:.1f} s", file=sys.stderr, flush=True)

    return Progress()


class Definition:
    """A network defined but not built: the builder, the network, the `Net` that named it, the model's metadata.
    `model` is the model name, `spec` the parsed `netdefs.family.Model` (family, variant, task)."""

    def __init__(self, spec, trt, backend, builder, network, net, info, log, weights_sha256, precision, batch,
                 dynamic_batch, dynamic_imgsz=None):
        self.spec, self.model, self.trt, self.backend = spec, spec.name, trt, backend
        self.builder, self.network, self.net, self.info, self.log = builder, network, net, info, log
        self.weights_sha256, self.precision, self.batch, self.dynamic_batch = weights_sha256, precision, batch, dynamic_batch
        self.dynamic_imgsz = dynamic_imgsz  # [(H, W) min, opt, max] or None

    def profile_shapes(self):
        """(min, opt, max) shapes of the input for the optimization profile, or None when the input is static."""
        if self.dynamic_batch is None and self.dynamic_imgsz is None:
            return None
        shape = list(self.network.get_input(0).shape)
        batches = [int(v) for v in self.dynamic_batch] if self.dynamic_batch is not None else [shape[0]] * 3
        sizes = self.dynamic_imgsz or [shape[2:]] * 3
        return [[b, shape[1]] + list(hw) for b, hw in zip(batches, sizes)]

    def tensors(self):
        """Every layer output by name, in network order (the names are the state_dict prefixes)."""
        out = {}
        for i in range(self.network.num_layers):
            layer = self.network.get_layer(i)
            for j in range(layer.num_outputs):
                t = layer.get_output(j)
                out[t.name] = t
        return out


def batch_dimension(batch=1, dynamic_batch=None):
    """The network's batch dimension: `batch`, or -1 for a dynamic batch (MIN, OPT, MAX) checked here."""
    if dynamic_batch is not None:
        try:
            lo, opt, hi = (int(v) for v in dynamic_batch)
        except (TypeError, ValueError):
            raise UserError(f"dynamic batch must be MIN,OPT,MAX integers, got {dynamic_batch!r}") from None
        if not 1 <= lo <= opt <= hi <= MAX_BATCH:
            raise UserError(f"dynamic batch must be MIN,OPT,MAX with 1 <= MIN <= OPT <= MAX <= {MAX_BATCH}, "
                            f"got {dynamic_batch}")
        return -1
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= MAX_BATCH:
        raise UserError(f"batch must be an integer in [1, {MAX_BATCH}], got {batch!r}")
    return batch


def names_from_metadata(metadata, num_classes, source):
    """The class names the weights carry, for the sidecar; None (with a warning) when they are unusable, so that
    `--names` or the task's standard list can still name the classes."""
    try:
        names = class_names.from_metadata(metadata, source)
        return None if names is None else class_names.check_count(names, num_classes, f"{source}: metadata 'names'")
    except UserError as e:
        warnings.warn(f"{e}; the engine gets no class names from the weights")
        return None


def define(model, weights, backend="auto", precision="fp32", batch=1, dynamic_batch=None, imgsz=None, strict=False,
           quiet=False, quant=None, dynamic_imgsz=None, **options):
    """Define `model` from `weights` (a path or a name -> array mapping) on the backend's network API, without
    building it: what `build` builds, and what tools/compare.py and tools/inspect_engine.py look at.

    dynamic_imgsz: (MIN, OPT, MAX) image sizes (each N or (H, W)) for families that build on a dynamic H, W.
    options: the family's own (`Family.options`, e.g. YOLO's head and thresholds); others are refused by name.
    quant: a netdefs.layers.quant.Quantization, required for precision "int8" (activation ranges, fallback patterns,
    remainder precision); the family's sensitive layers (`quant_defaults`) are kept out of INT8 first."""
    spec = families.get(model)
    family = spec.family
    if precision not in PRECISIONS:
        raise UserError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "int8" and quant is None:
        raise UserError(f"{spec.name}: precision int8 needs a calibration (--calib DIR) or a calibration cache")
    batch_dim = batch_dimension(batch, dynamic_batch)
    _, sizes = family.image_sizes(spec, imgsz, dynamic_imgsz)  # refused before any weights are read
    family.resolve_options(spec, options)
    backend_name, trt = resolve_backend(backend, quiet=quiet) if isinstance(backend, str) else ("reference", backend)
    metadata, source_name = None, None
    if getattr(weights, "demo", False):
        store, weights_sha, num_classes = weights, None, family.demo_classes_of(spec.variant)
    else:
        if isinstance(weights, (str, os.PathLike)):
            source = load_weights(weights)
            weights_sha = source.sha256
        else:
            source, weights_sha = weights, None
        store = WeightStore(source, strict=strict)
        num_classes = family.check_weights(spec, {k: store.shape(k) for k in store.names()})
        metadata = getattr(source, "metadata", None)
        source_name = getattr(source, "path", None) or "the weights"
    log = Logger(trt).logger
    builder = trt.Builder(log)
    flags = 0
    if precision in ("fp16", "int8") and int(trt.__version__.split(".")[0]) < 11:
        # 10.x: precision is only what the network says with the STRONGLY_TYPED flag (11.x: always).
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    if quant is not None:
        quant = quant.with_defaults(family.quant_defaults(spec.variant))
    network = builder.create_network(flags)
    net = Net(trt, network, store, precision, quant)
    info = family.network(net, spec, batch_dim, imgsz, num_classes, options, dynamic_imgsz)
    names = names_from_metadata(metadata, num_classes, source_name)
    if names is not None:
        info["names"] = names
    store.finish()
    return Definition(spec, trt, backend_name, builder, network, net, info, log, weights_sha, precision,
                      batch, dynamic_batch, sizes)


def build(model, weights, backend="auto", precision="fp32", batch=1, dynamic_batch=None, imgsz=None,
          workspace=None, timing_cache=None, progress=True, strict=False, quiet=False, debug_tensors=(),
          on_defined=None, quant=None, **options):
    """Build `model` from `weights` (a path or a name → array mapping) into an Engine.

    batch: a fixed batch size; dynamic_batch: (min, opt, max) for a dynamic batch dimension.
    precision: "fp32", "fp16" (a strongly typed float16 network; no builder flag, as in TensorRT 11) or "int8"
    (explicit Q/DQ from `quant`, a netdefs.quant.Quantization: see netdefs/calibrate.py).
    debug_tensors: names of tensors to mark as debug tensors (`Engine(inputs, debug=True)` returns them too).
    on_defined(definition): called with the defined network before it is built (build reports use it).
    The engine is built with DETAILED profiling verbosity, so that its inspector reports tactics and formats.
    """
    started = time.perf_counter()
    d = define(model, weights, backend, precision, batch, dynamic_batch, imgsz, strict, quiet, quant=quant,
               **options)
    return build_definition(d, workspace=workspace, timing_cache=timing_cache, progress=progress, quiet=quiet,
                            debug_tensors=debug_tensors, on_defined=on_defined, started=started)


def build_definition(d, workspace=None, timing_cache=None, progress=True, quiet=False, debug_tensors=(),
                     on_defined=None, started=None):
    """Build a `Definition` into an Engine (see `build`)."""
    trt, network, builder = d.trt, d.network, d.builder
    started = started or time.perf_counter()
    if debug_tensors:
        tensors = d.tensors()
        missing = [n for n in debug_tensors if n not in tensors]
        if missing:
            raise UserError(f"{d.model}: no tensor named {', '.join(missing[:5])}")
        for n in debug_tensors:
            network.mark_debug(tensors[n])
    if on_defined is not None:
        on_defined(d)
    config = builder.create_builder_config()
    config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
    shapes = d.profile_shapes()
    if shapes is not None:
        profile = builder.create_optimization_profile()
        profile.set_shape(network.get_input(0).name, *shapes)
        config.add_optimization_profile(profile)
    if workspace is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace) << 20)
    cache = None
    if timing_cache:
        data = open(timing_cache, "rb").read() if os.path.exists(timing_cache) else b""
        cache = config.create_timing_cache(data)
        config.set_timing_cache(cache, False)
    if progress and not quiet:
        print(f"building {d.model} ({network.num_layers} layers, {d.precision}) on {d.backend} ...", file=sys.stderr)
        config.progress_monitor = _progress_monitor(trt)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise BuildError(f"building {d.model} failed: " + "; ".join(d.log.errors or ["no reason logged"]))
    if cache is not None:
        atomic_write(timing_cache, bytes(cache.serialize()))
    if progress and not quiet:
        print(f"built in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    if d.net.quant is not None and not d.net.quant.collect:
        q = d.net.quant
        d.info = dict(d.info, int8={"remainder": q.remainder, "method": q.method, "quantizers": len(d.net.quantizers),
                                    "fallback": [f"{p}={v}" for p, v in q.fallback]})
    meta = dict(d.info, backend=d.backend, precision=d.precision, trt_version=trt.__version__,
                project_version=PROJECT_VERSION, weights_sha256=d.weights_sha256,
                batch=list(d.dynamic_batch) if d.dynamic_batch is not None else int(d.batch))
    return Engine(plan, meta, d.backend, trt=trt)

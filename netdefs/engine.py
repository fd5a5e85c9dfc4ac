"""Build, save, load and run engines on TensorRT (GPU) or reftrt (CPU) with the same code.

The only backend-specific part is where I/O memory lives: device memory through pycuda for TensorRT, host memory
(numpy arrays) for reftrt, which takes host addresses where TensorRT takes device ones. Everything else (builder
config, profiles, serialization, runtime, I/O binding) is the TensorRT API, and runs in CI against reftrt.
"""
import ctypes
import importlib
import json
import os
import sys
import time

import numpy as np

PROJECT_VERSION = "0.1.0"
BACKENDS = ("auto", "tensorrt", "reference")


class BuildError(RuntimeError):
    pass


class UserError(ValueError):
    """Bad input from the user: tools print it on one line and exit non-zero."""


# ---------------------------------------------------------------- backend selection
def _gpu_available():
    try:
        import pycuda.driver as cuda
        cuda.init()
        return cuda.Device.count() > 0
    except Exception:
        return False


def resolve_backend(backend="auto", quiet=False):
    """('tensorrt' | 'reference', trt module). auto: TensorRT when it and a GPU are present, else reftrt."""
    if backend not in BACKENDS:
        raise UserError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend in ("auto", "tensorrt"):
        try:
            import tensorrt as trt
            has_trt = True
        except ImportError:
            has_trt = False
        if has_trt and _gpu_available():
            if not quiet:
                print(f"backend: TensorRT {trt.__version__} on the GPU", file=sys.stderr)
            return "tensorrt", trt
        if backend == "tensorrt":
            raise UserError("backend 'tensorrt' needs the tensorrt package, pycuda and an NVIDIA GPU: "
                            + ("no GPU found through pycuda" if has_trt else "tensorrt is not installed"))
    import reftrt
    if not quiet:
        print(f"backend: reftrt (CPU reference of the TensorRT {reftrt.__version__} API; no TensorRT/GPU found)"
              if backend == "auto" else f"backend: reftrt (CPU reference of the TensorRT {reftrt.__version__} API)",
              file=sys.stderr)
    return "reference", reftrt


def trt_module(backend):
    return importlib.import_module("tensorrt" if backend == "tensorrt" else "reftrt")


# ---------------------------------------------------------------- memory
class HostMemory:
    """reftrt: I/O buffers are numpy arrays; their addresses go to set_tensor_address."""

    def __init__(self):
        self._arrays = {}

    def bind_input(self, name, array):
        array = np.ascontiguousarray(array)
        self._arrays[name] = array
        return array.ctypes.data

    def bind_output(self, name, shape, dtype):
        array = self._arrays.get(name)
        if array is None or array.shape != tuple(shape) or array.dtype != dtype:
            array = np.empty(shape, dtype=dtype)
            self._arrays[name] = array
        return array.ctypes.data

    def stream(self):
        return 0

    def read(self, address, shape, dtype):
        """A copy of the host memory at `address` (reftrt reports debug tensors in host memory)."""
        nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        raw = (ctypes.c_char * nbytes).from_address(address) if nbytes else b""
        return np.frombuffer(bytes(raw), dtype=dtype).reshape(shape)

    def fetch(self, name):
        return self._arrays[name].copy()

    def synchronize(self):
        pass


class CudaMemory:
    """TensorRT: device buffers through pycuda, copied to and from the host around execution."""

    def __init__(self):
        import pycuda.autoinit  # noqa: F401  (creates the CUDA context)
        import pycuda.driver as cuda
        self._cuda = cuda
        self._stream = cuda.Stream()
        self._device = {}
        self._host = {}

    def _buffer(self, name, nbytes):
        buf = self._device.get(name)
        if buf is None or buf[1] < nbytes:
            buf = (self._cuda.mem_alloc(max(nbytes, 1)), nbytes)
            self._device[name] = buf
        return buf[0]

    def bind_input(self, name, array):
        array = np.ascontiguousarray(array)
        self._host[name] = array
        device = self._buffer(name, array.nbytes)
        self._cuda.memcpy_htod_async(device, array, self._stream)
        return int(device)

    def bind_output(self, name, shape, dtype):
        host = self._cuda.pagelocked_empty(tuple(shape), dtype)
        self._host[name] = host
        return int(self._buffer(name, host.nbytes))

    def stream(self):
        return self._stream.handle

    def read(self, address, shape, dtype):
        """A copy of the device memory at `address` (TensorRT reports debug tensors in device memory)."""
        host = np.empty(tuple(shape), dtype=dtype)
        if host.nbytes:
            self._cuda.memcpy_dtoh_async(host, address, self._stream)
            self._stream.synchronize()
        return host

    def fetch(self, name):
        host = self._host[name]
        self._cuda.memcpy_dtoh_async(host, self._device[name][0], self._stream)
        self._stream.synchronize()
        return np.array(host)

    def synchronize(self):
        self._stream.synchronize()


# ---------------------------------------------------------------- engine
class _Logger:
    """Collects TensorRT's errors for the build error message; prints warnings and errors."""

    def __init__(self, trt, verbose=False):
        base = trt.ILogger

        class Logger(base):
            def __init__(self):
                base.__init__(self)
                self.errors = []

            def log(self, severity, msg):
                if severity in (trt.ILogger.Severity.ERROR, trt.ILogger.Severity.INTERNAL_ERROR):
                    self.errors.append(msg)
                if int(severity) <= int(trt.ILogger.Severity.WARNING) or verbose:
                    print(f"[TRT] {msg}", file=sys.stderr)

        self.logger = Logger()


def _pointer(addr):
    """TensorRT passes debug-tensor addresses as a PyCapsule, reftrt as an int."""
    if isinstance(addr, int):
        return addr
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    return get(addr, None)


def _debug_listener(trt, memory, sink):
    """An IDebugListener that copies every debug tensor into `sink[name]` (host or device memory alike)."""
    base = trt.IDebugListener

    class Listener(base):
        def __init__(self):
            base.__init__(self)

        def process_debug_tensor(self, addr, location, type, shape, name, stream):
            dtype = np.dtype(trt.nptype(type))
            dims = tuple(int(d) for d in shape)
            if location == trt.TensorLocation.HOST:
                sink[name] = HostMemory().read(_pointer(addr), dims, dtype)
            else:
                sink[name] = memory.read(_pointer(addr), dims, dtype)
            return True

    return Listener()


class Engine:
    """A built network: `engine(inputs) -> {output name: numpy array}` on either backend."""

    def __init__(self, plan, meta, backend=None, memory=None, trt=None):
        self.meta = dict(meta)
        self.backend = backend or self.meta.get("backend", "reference")
        self.trt = trt or trt_module(self.backend)
        self._log = _Logger(self.trt).logger
        self.plan = bytes(plan)
        self.engine = self.trt.Runtime(self._log).deserialize_cuda_engine(self.plan)
        if self.engine is None:
            raise BuildError("could not load the engine: " + "; ".join(self._log.errors))
        self.context = self.engine.create_execution_context()
        self.memory = memory or (CudaMemory() if self.backend == "tensorrt" else HostMemory())
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        mode = self.trt.TensorIOMode.INPUT
        self.inputs = [n for n in names if self.engine.get_tensor_mode(n) == mode]
        self.outputs = [n for n in names if self.engine.get_tensor_mode(n) != mode]

    def input_shape(self, name=None):
        return tuple(self.engine.get_tensor_shape(name or self.inputs[0]))

    def __call__(self, inputs, debug=False):
        """Run on `inputs` (an array, or a dict by input name); returns {output name: array}. debug=True: the debug
        tensors marked at build time are returned too, by name, in the same dict."""
        if not isinstance(inputs, dict):
            if len(self.inputs) != 1:
                raise UserError(f"the engine has inputs {self.inputs}: pass a dict")
            inputs = {self.inputs[0]: inputs}
        unknown = set(inputs) - set(self.inputs)
        if unknown or set(self.inputs) - set(inputs):
            raise UserError(f"inputs {sorted(inputs)} do not match the engine's inputs {self.inputs}")
        trt, ctx = self.trt, self.context
        for name, array in inputs.items():
            dtype = trt.nptype(self.engine.get_tensor_dtype(name))
            array = np.asarray(array)
            expected = self.engine.get_tensor_shape(name)
            if len(array.shape) != len(expected) or any(e >= 0 and e != a for e, a in zip(expected, array.shape)):
                raise UserError(f"input {name!r}: expected shape {tuple(expected)}, found {array.shape}")
            if not ctx.set_input_shape(name, array.shape):
                raise UserError(f"input {name!r}: shape {array.shape} is outside the engine's profile "
                                f"{[tuple(d) for d in self.engine.get_tensor_profile_shape(name, 0)]}")
            ctx.set_tensor_address(name, self.memory.bind_input(name, array.astype(dtype, copy=False)))
        for name in self.outputs:
            shape = tuple(ctx.get_tensor_shape(name))
            dtype = trt.nptype(self.engine.get_tensor_dtype(name))
            ctx.set_tensor_address(name, self.memory.bind_output(name, shape, dtype))
        seen = {}
        if debug:
            self._listener = _debug_listener(trt, self.memory, seen)  # kept alive while TensorRT holds it
            ctx.set_debug_listener(self._listener)
            ctx.set_all_tensors_debug_state(True)
        try:
            if not ctx.execute_async_v3(self.memory.stream()):
                raise BuildError("execution failed: " + "; ".join(self._log.errors[-3:]))
            self.memory.synchronize()
        finally:
            if debug:
                ctx.set_all_tensors_debug_state(False)
        out = {name: self.memory.fetch(name) for name in self.outputs}
        for name, value in seen.items():
            out.setdefault(name, value)
        return out

    def save(self, path):
        """Write the plan and its JSON sidecar (`path` + '.json'), each atomically."""
        atomic_write(path, self.plan)
        atomic_write(str(path) + ".json", (json.dumps(self.meta, indent=2) + "\n").encode())


def load(path, backend=None, memory=None):
    """Load an engine saved by `Engine.save` (its sidecar says which backend built it)."""
    path = str(path)
    try:
        with open(path, "rb") as f:
            plan = f.read()
    except OSError as e:
        raise UserError(f"{path}: cannot read the engine: {e.strerror}") from None
    try:
        with open(path + ".json") as f:
            meta = json.load(f)
    except FileNotFoundError:
        meta = {}
    except (OSError, json.JSONDecodeError) as e:
        raise UserError(f"{path}.json: cannot read the engine's sidecar: {e}") from None
    is_reference = plan.startswith(b"REFTRTPLAN")
    backend = backend or meta.get("backend") or ("reference" if is_reference else "tensorrt")
    if is_reference != (backend == "reference"):
        raise UserError(f"{path}: this is a {'reftrt' if is_reference else 'TensorRT'} plan; it cannot run on "
                        f"backend {backend}")
    return Engine(plan, meta, backend, memory)


def atomic_write(path, data):
    """Write `data` to `path` whole or not at all (weights/_atomic.py: temporary file, fsync, rename)."""
    from weights._atomic import atomic_output
    with atomic_output(path) as f:
        f.write(data)


# ---------------------------------------------------------------- build
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


def _family(model):
    from . import registry
    return registry.family(model)


class Definition:
    """A network defined but not built: the builder, the network, the `Net` that named it, the model's metadata."""

    def __init__(self, model, trt, backend, builder, network, net, info, log, weights_sha256, precision, batch,
                 dynamic_batch):
        self.model, self.trt, self.backend = model, trt, backend
        self.builder, self.network, self.net, self.info, self.log = builder, network, net, info, log
        self.weights_sha256, self.precision, self.batch, self.dynamic_batch = weights_sha256, precision, batch, dynamic_batch

    def tensors(self):
        """Every layer output by name, in network order (the names are the state_dict prefixes)."""
        out = {}
        for i in range(self.network.num_layers):
            layer = self.network.get_layer(i)
            for j in range(layer.num_outputs):
                t = layer.get_output(j)
                out[t.name] = t
        return out


def define(model, weights, backend="auto", precision="fp32", batch=1, dynamic_batch=None, imgsz=None, strict=False,
           quiet=False, quant=None, **options):
    """Define `model` from `weights` (a path or a name -> array mapping) on the backend's network API, without
    building it: what `build` builds, and what tools/compare.py and tools/inspect.py look at.

    quant: a netdefs.quant.Quantization, required for precision "int8" (activation ranges, fallback patterns,
    remainder precision); the family's sensitive layers (`quant_defaults(model)`) are kept out of INT8 first."""
    from weights import WeightStore, load as load_weights

    family = _family(model)
    backend_name, trt = resolve_backend(backend, quiet=quiet) if isinstance(backend, str) else ("reference", backend)
    kwargs = dict(options)
    if getattr(weights, "demo", False):
        store, weights_sha = weights, None
        kwargs = dict(getattr(family, "DEMO_OPTIONS", {}), **kwargs)
    else:
        if isinstance(weights, (str, os.PathLike)):
            source = load_weights(weights)
            weights_sha = source.sha256
        else:
            source, weights_sha = weights, None
        store = WeightStore(source, strict=strict)
        if hasattr(family, "check_weights"):
            family.check_weights(store, model)
    log = _Logger(trt).logger
    builder = trt.Builder(log)
    flags = 0
    major = int(trt.__version__.split(".")[0])
    if precision in ("fp16", "int8") and major < 11:
        # 10.x: precision is only what the network says with the STRONGLY_TYPED flag (11.x: always).
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    if precision == "int8" and quant is None:
        raise UserError(f"{model}: precision int8 needs a calibration (--calib DIR) or a calibration cache")
    if quant is not None and hasattr(family, "quant_defaults"):
        quant = quant.with_defaults(family.quant_defaults(model))
    network = builder.create_network(flags)
    from .common import Net
    net = Net(trt, network, store, precision, quant)
    if dynamic_batch is not None:
        lo, opt, hi = (int(v) for v in dynamic_batch)
        if not 1 <= lo <= opt <= hi:
            raise UserError(f"dynamic batch must be MIN,OPT,MAX with 1 <= MIN <= OPT <= MAX, got {dynamic_batch}")
        batch_dim = -1
    else:
        if int(batch) < 1:
            raise UserError(f"batch must be >= 1, got {batch}")
        batch_dim = int(batch)
    if imgsz is not None:
        kwargs["imgsz"] = imgsz
    info = family.define(net, model, batch=batch_dim, **kwargs)
    store.finish()
    return Definition(model, trt, backend_name, builder, network, net, info, log, weights_sha, precision,
                      batch, dynamic_batch)


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
    if d.dynamic_batch is not None:
        lo, opt, hi = (int(v) for v in d.dynamic_batch)
        profile = builder.create_optimization_profile()
        shape = list(network.get_input(0).shape)
        profile.set_shape(network.get_input(0).name, [lo] + shape[1:], [opt] + shape[1:], [hi] + shape[1:])
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

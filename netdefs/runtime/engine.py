"""Save, load and run engines on TensorRT (GPU) or reftrt (CPU) with the same code.

The only backend-specific part is where I/O memory lives: device memory through pycuda for TensorRT, host memory
(numpy arrays) for reftrt, which takes host addresses where TensorRT takes device ones. Everything else (builder
config, profiles, serialization, runtime, I/O binding) is the TensorRT API, and runs in CI against reftrt.
"""
import ctypes
import hashlib
import json
import os

import numpy as np

from weights.atomic import atomic_write

from .. import tasks
from ..errors import BuildError, UserError
from .backend import Logger, trt_module

PROJECT_VERSION = "0.1.0"


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
        self._log = Logger(self.trt).logger
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
        """Write the JSON sidecar (`path` + '.json', recording the plan's sha256) and then the plan, each atomically.
        The sidecar goes first: a write interrupted between the two leaves a pair that `load` refuses (the recorded
        sha256 does not match), never a new plan described by an old sidecar."""
        self.meta["plan_sha256"] = hashlib.sha256(self.plan).hexdigest()
        atomic_write(str(path) + ".json", (json.dumps(self.meta, indent=2) + "\n").encode())
        atomic_write(path, self.plan)


# ---------------------------------------------------------------- the plan and its sidecar
REFTRT_MAGIC = b"REFTRTPLAN"
TENSORRT_MAGIC = b"ftrt"  # a serialized TensorRT engine starts with this tag
MAX_SIDECAR_BYTES = 16 << 20  # a sidecar is a few KB (ImageNet's 1000 names: ~20 KB)


def plan_kind(plan, path):
    """"reference" or "tensorrt" from the plan's first bytes; UserError for anything else."""
    if plan.startswith(REFTRT_MAGIC):
        return "reference"
    if plan.startswith(TENSORRT_MAGIC):
        return "tensorrt"
    what = "the file is empty" if not plan else f"it starts with {plan[:8]!r}"
    raise UserError(f"{path} is not a TensorRT plan (nor a reftrt plan): {what}")


def _is_str(v):
    return isinstance(v, str) and 0 < len(v) <= 1000


def _is_int(v, lo=1):
    return isinstance(v, int) and not isinstance(v, bool) and v >= lo


# key: (required, check, what it must be). What the tools read from a sidecar is checked here, once, so that a
# hand-edited or foreign JSON file is one error naming the file rather than a KeyError deep inside a tool.
SIDECAR_FIELDS = {
    "plan_sha256": (True, lambda v: isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v),
                    "the plan's sha256 (64 hex digits)"),
    "model": (True, _is_str, "a model name"),
    "task": (True, _is_str, "a task name"),
    "backend": (True, lambda v: v in ("reference", "tensorrt"), "reference or tensorrt"),
    "imgsz": (True, lambda v: isinstance(v, list) and len(v) == 2 and all(_is_int(i) for i in v),
              "[H, W], positive integers"),
    "outputs": (True, lambda v: isinstance(v, list) and len(v) > 0 and all(_is_str(o) for o in v),
                "a list of output names"),
    "num_classes": (False, _is_int, "a positive integer"),
    "names": (False, lambda v: isinstance(v, list) and all(isinstance(n, str) for n in v), "a list of strings"),
    "preprocess": (False, lambda v: isinstance(v, dict), "an object"),
    "batch": (False, lambda v: _is_int(v) or isinstance(v, list) and len(v) == 3 and all(_is_int(i) for i in v),
              "an integer or [MIN, OPT, MAX]"),
}


def read_sidecar(path, plan):
    """The metadata of the plan at `path` from its sidecar `path`.json, checked to belong to this very plan."""
    sidecar = f"{path}.json"
    unit = f"an engine and its sidecar are one unit: rebuild {path}, or copy both files"
    try:
        if os.path.getsize(sidecar) > MAX_SIDECAR_BYTES:
            raise UserError(f"{sidecar}: too large for the sidecar of {path} ({os.path.getsize(sidecar)} bytes)")
        with open(sidecar, "rb") as f:
            meta = json.loads(f.read().decode("utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: its sidecar {sidecar} is missing ({unit})") from None
    except OSError as e:
        raise UserError(f"{sidecar}: cannot read the sidecar of {path}: {e.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        reason = f"{e.msg} at line {e.lineno}" if isinstance(e, json.JSONDecodeError) else type(e).__name__
        raise UserError(f"{sidecar}: not a valid sidecar of {path} (invalid JSON: {reason})") from None
    if not isinstance(meta, dict):
        raise UserError(f"{sidecar}: not a valid sidecar of {path} (a JSON {type(meta).__name__}, not an object)")
    for key, (required, check, what) in SIDECAR_FIELDS.items():
        if key not in meta:
            if required:
                raise UserError(f"{sidecar}: not a valid sidecar of {path} (no {key!r}; written by an older "
                                f"version? {unit})")
        elif not check(meta[key]):
            shown = repr(meta[key])
            shown = shown if len(shown) <= 80 else shown[:80] + "..."
            raise UserError(f"{sidecar}: not a valid sidecar of {path} ({key!r} must be {what}, found {shown})")
    actual = hashlib.sha256(plan).hexdigest()
    if meta["plan_sha256"] != actual:
        raise UserError(f"{sidecar} does not describe {path}: it records plan sha256 {meta['plan_sha256'][:12]}..., "
                        f"the plan's is {actual[:12]}... ({unit})")
    if meta["task"] not in tasks.TASKS:
        raise UserError(f"{sidecar}: {path} is an engine of the task {meta['task']!r}, which this version cannot "
                        f"run (known: {', '.join(tasks.TASKS)})")
    return meta


def load(path, backend=None, memory=None):
    """Load an engine saved by `Engine.save`: the plan and its sidecar, checked to be one pair (see `read_sidecar`).
    backend: None (the one that built it) or the one the plan needs; a reftrt plan runs only on reftrt."""
    path = str(path)
    try:
        with open(path, "rb") as f:
            plan = f.read()
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory, not an engine") from None
    except OSError as e:
        raise UserError(f"{path}: cannot read the engine: {e.strerror}") from None
    kind = plan_kind(plan, path)
    meta = read_sidecar(path, plan)
    backend = backend or kind
    if kind != backend:
        raise UserError(f"{path}: this is a {'reftrt' if kind == 'reference' else 'TensorRT'} plan; it cannot run on "
                        f"backend {backend}")
    return Engine(plan, meta, backend, memory)

"""Build and run one network the way the Cookbook's TRTWrapperV1 / TRTWrapperDDS / TRTWrapperShapeInput do, and
check the result against a recorded case (tests/cookbook/logs.py).

Only the public TensorRT Python API is used, so the same code drives real TensorRT. The one difference is memory:
reftrt takes host addresses where TensorRT takes device addresses, and `_HostMemory` is the only place that
knows. For real TensorRT, give it a twin that allocates device memory and copies in `put` / `get`; shape-tensor
inputs stay in host memory either way (TensorLocation.HOST).

    def build(b):
        tensor = b.network.add_input("tensor", b.trt.float32, (3, 3))
        layer = b.network.add_activation(tensor, b.trt.ActivationType.RELU)
        return [layer.get_output(0)]

    result = run(build, {"tensor": np.arange(9, dtype=np.float32).reshape(3, 3) - 4})
    assert_case(result, load_log("Activation").case("case_simple"))
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from tests.cookbook.logs import IOLine, PrintedArray


@dataclass
class Build:
    """What `build_fn` gets: the objects TRTWrapperV1 creates before a case adds its layers."""
    trt: object
    builder: object
    network: object
    config: object
    profile: object
    logger: object
    add_profile: bool = True  # False: do not add `profile` to the config (the Cookbook's `extra_profile_list=[False]`)


@dataclass
class Result:
    built: bool
    messages: list  # (severity name, text) the logger received, at WARNING or above
    network: object = None
    engine: object = None
    context: object = None
    trt: object = None
    io: list = field(default_factory=list)  # IOLine per engine I/O tensor, as the Cookbook prints them
    inputs: dict = field(default_factory=dict)  # name -> the array fed, in the engine's dtype
    outputs: dict = field(default_factory=dict)  # name -> array read back (bfloat16 decoded to float32)
    ran: bool = False
    error: str = ""
    memory: object = field(default=None, repr=False)  # keeps the buffers whose addresses the context holds

    def infer(self, inputs=None):
        """Run again on the same engine and execution context (a Cookbook case calling setup/infer twice)."""
        return _infer(self.trt, self.engine, self.context, inputs or {}, self)

    def __getitem__(self, name):
        return self.outputs[name] if name in self.outputs else self.inputs[name]

    def explain(self):
        return "\n".join(f"[{severity}] {text}" for severity, text in self.messages) or "(no logger messages)"


def run(build_fn, inputs=None, *, trt_module=None, network_flags=0, min_severity="WARNING"):
    """Build the network `build_fn(b)` defines, then set it up and execute it once with `inputs`.

    `build_fn` adds layers to `b.network` (it may set builder flags on `b.config` and shapes on `b.profile`) and
    returns the tensors to mark as outputs, or None when it marked them itself. Returns a Result; when the build
    fails, `built` is False and `messages` says why.
    """
    trt = trt_module or _reftrt()
    logger = _logger_class(trt)(trt, min_severity)
    builder = trt.Builder(logger)
    b = Build(trt, builder, builder.create_network(network_flags), builder.create_builder_config(),
              builder.create_optimization_profile(), logger)
    for tensor in build_fn(b) or []:
        b.network.mark_output(tensor)
    if b.add_profile:
        b.config.add_optimization_profile(b.profile)
    plan = builder.build_serialized_network(b.network, b.config)
    result = Result(built=plan is not None, messages=logger.messages, network=b.network, trt=trt)
    if plan is None:
        return result
    result.engine = trt.Runtime(logger).deserialize_cuda_engine(plan)
    result.context = result.engine.create_execution_context()
    return _infer(trt, result.engine, result.context, inputs or {}, result)


def _infer(trt, engine, context, inputs, base):
    result = Result(built=True, messages=base.messages, network=base.network, engine=engine, context=context, trt=trt)
    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    unknown = set(inputs) - {n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT}
    if unknown:
        raise KeyError(f"not engine inputs: {sorted(unknown)}; engine I/O tensors are {names}")
    memory = result.memory = _HostMemory()
    try:
        for name in names:
            if name not in inputs:
                continue
            array = _encode(np.asarray(inputs[name]), engine.get_tensor_dtype(name), trt)
            result.inputs[name] = _decode(array, engine.get_tensor_dtype(name), trt)
            if engine.get_tensor_location(name) == trt.TensorLocation.HOST:  # a shape tensor: values on the host
                memory.keep(array)
                context.set_tensor_address(name, array.ctypes.data)
                if -1 in tuple(engine.get_tensor_shape(name)):
                    context.set_input_shape(name, array.shape)
            else:
                context.set_input_shape(name, array.shape)
                context.set_tensor_address(name, memory.put(array))
        missing = context.infer_shapes()
        if missing:
            raise RuntimeError(f"input shapes or values not set: {missing}")
        for name in names:
            result.io.append(IOLine("Input" if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT else "Output",
                                    str(engine.get_tensor_dtype(name)), tuple(engine.get_tensor_shape(name)),
                                    tuple(context.get_tensor_shape(name)), name))
        fetch, allocators = {}, {}
        for line in result.io:
            if line.mode == "Input":
                continue
            storage = _storage_dtype(engine.get_tensor_dtype(line.name), trt)
            if -1 in line.runtime_shape:  # data-dependent shape: TensorRT asks the allocator once it knows
                allocators[line.name] = _allocator_class(trt)(memory)
                context.set_output_allocator(line.name, allocators[line.name])
                context.set_tensor_address(line.name, 0)
            else:
                address, fetch[line.name] = memory.output(line.runtime_shape, storage)
                context.set_tensor_address(line.name, address)
        result.ran = bool(context.execute_async_v3(0))
    except RuntimeError as e:  # reftrt raises where TensorRT logs and returns failure; report both alike
        result.error = str(e)
        return result
    if not result.ran:
        return result
    for line in result.io:
        if line.mode == "Output":
            dtype = engine.get_tensor_dtype(line.name)
            storage = _storage_dtype(dtype, trt)
            raw = allocators[line.name].read(storage) if line.name in allocators else fetch[line.name]()
            result.outputs[line.name] = _decode(raw, dtype, trt)
    return result


class _HostMemory:
    """reftrt's "device" memory: numpy buffers addressed by their host pointers, kept alive for the run."""

    def __init__(self):
        self._alive = []

    def keep(self, array):
        self._alive.append(array)

    def put(self, array):
        array = np.ascontiguousarray(array)
        self._alive.append(array)
        return array.ctypes.data if array.size else 0

    def output(self, shape, dtype):
        array = np.zeros(shape, dtype=dtype)
        self._alive.append(array)
        return (array.ctypes.data if array.size else 0), array.copy

    def allocate(self, nbytes):
        array = np.zeros(max(int(nbytes), 1), dtype=np.uint8)
        self._alive.append(array)
        return array.ctypes.data, array

    def get(self, buffer, count, dtype):
        return buffer[:count * np.dtype(dtype).itemsize].view(dtype).copy()


@functools.lru_cache(maxsize=None)
def _allocator_class(trt):
    class OutputAllocator(trt.IOutputAllocator):
        """Grows a buffer when asked and records the shape TensorRT reports (the Cookbook's
        CookbookOutputAllocator)."""

        def __init__(self, memory):
            trt.IOutputAllocator.__init__(self)
            self.memory, self.address, self.nbytes, self.buffer, self.shape = memory, 0, 0, None, None

        def reallocate_output(self, tensor_name, memory, size, alignment):
            return self.reallocate_output_async(tensor_name, memory, size, alignment, 0)

        def reallocate_output_async(self, tensor_name, memory, size, alignment, stream):
            if size > self.nbytes or self.buffer is None:
                self.address, self.buffer = self.memory.allocate(size)
                self.nbytes = size
            return self.address

        def notify_shape(self, tensor_name, shape):
            self.shape = tuple(shape)

        def read(self, dtype):
            if self.shape is None:
                raise RuntimeError("the output allocator was never told the output's shape")
            count = int(np.prod(self.shape, dtype=np.int64))
            if self.buffer is None:
                return np.zeros(self.shape, dtype=dtype)
            return self.memory.get(self.buffer, count, dtype).reshape(self.shape)

    return OutputAllocator


@functools.lru_cache(maxsize=None)
def _logger_class(trt):
    class CapturingLogger(trt.ILogger):
        def __init__(self, trt, min_severity):
            trt.ILogger.__init__(self)
            self.min_severity = int(getattr(trt.ILogger.Severity, min_severity))
            self.messages = []

        def log(self, severity, msg):
            if int(severity) <= self.min_severity:
                self.messages.append((str(severity).rsplit(".", 1)[-1], msg))

    return CapturingLogger


def _reftrt():
    import reftrt
    return reftrt


# ---- dtypes numpy lacks: bfloat16 travels as uint16 bit patterns

def _storage_dtype(dtype, trt):
    if dtype == trt.DataType.BF16:
        return np.uint16
    try:
        return np.dtype(trt.nptype(dtype))
    except TypeError:
        raise NotImplementedError(f"the harness cannot hold {dtype} I/O tensors") from None


def _encode(array, dtype, trt):
    if dtype != trt.DataType.BF16:
        return np.ascontiguousarray(array, dtype=_storage_dtype(dtype, trt))
    bits = np.ascontiguousarray(array, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16  # round to nearest even
    return rounded.astype(np.uint16)


def _decode(array, dtype, trt):
    if dtype != trt.DataType.BF16:
        return array
    return (array.astype(np.uint32) << 16).view(np.float32)


# ---- checking against a log

def log_inputs(case, block=0):
    """The input arrays a case printed, shaped as its I/O lines say: the data for cases whose inputs came from an
    unseeded RNG (NMS, TopK, GridSample, Gather ELEMENT). Floats printed positionally carry up to 5e-9 of rounding,
    so values below 1/16 may come back one float32 ulp away from what the Cookbook fed."""
    blk = case.blocks[block]
    data = {}
    for line in blk.inputs:
        printed = blk.arrays[line.name]
        if printed.summarised:
            raise ValueError(f"{line.name} was summarised in the log; its values are not all known")
        values = printed.values
        if all(d >= 0 for d in line.runtime_shape) and values.size == np.prod(line.runtime_shape, dtype=np.int64):
            values = values.reshape(line.runtime_shape)
        data[line.name] = values
    return data


def assert_case(result, case, block=0, *, rtol=1e-5, atol=None, check_inputs=True, skip=()):
    """Assert that `result` reproduces block `block` of the logged `case`: every I/O line (mode, dtype, build and
    runtime shape, name, order) and every printed array (outputs, and inputs as a check that the test fed the
    same data). Arrays named in `skip` are not compared (random outputs). See `compare_array` for tolerances."""
    where = f"{case.name} block {block}"
    if not result.built:
        raise AssertionError(f"{where}: the build failed; logger said:\n{result.explain()}")
    expected = case.blocks[block]
    got_lines, want_lines = [str(x) for x in result.io], [str(x) for x in expected.io]
    if got_lines != want_lines:
        raise AssertionError(f"{where}: I/O lines differ\n  got:\n    " + "\n    ".join(got_lines) +
                             "\n  log:\n    " + "\n    ".join(want_lines))
    if not expected.arrays:
        return
    if not result.ran:
        raise AssertionError(f"{where}: execution failed: {result.error}\n{result.explain()}")
    for name, printed in expected.arrays.items():
        if name in skip or (expected.line(name).mode == "Input" and not check_inputs):
            continue
        compare_array(result[name], printed, rtol=rtol, atol=atol, where=f"{where}: {name}")


def compare_array(got, printed: PrintedArray, *, rtol=1e-5, atol=None, where=""):
    """Assert `got` matches a printed array: exactly for bool and integer types; for floats within
    atol + printed.quantum + rtol * |expected|, atol defaulting to 1e-6 * max |expected| (numpy printed 8 digits),
    NaN matching NaN and infinities matching exactly. A summarised array is compared on its visible corner."""
    got = np.asarray(got)
    if printed.summarised:
        if printed.corner_index is None:
            raise AssertionError(f"{where}: summarised in the log without a known full shape; compare it by hand")
        if got.ndim != len(printed.corner_index):
            raise AssertionError(f"{where}: got shape {got.shape}, log rank {len(printed.corner_index)}")
        got, want = got[np.ix_(*printed.corner_index)], printed.corner
    else:
        want = printed.values
        if got.shape != want.shape:
            # A 0-d tensor is printed 1-d when it was fed as input (np.ascontiguousarray).
            if got.size == want.size == 1:
                got = got.reshape(want.shape)
            else:
                raise AssertionError(f"{where}: got shape {got.shape}, log has {want.shape}")
    if want.dtype.kind in "biu":
        bad = got.astype(np.float64) != want.astype(np.float64)
        tol = 0.0
    else:
        want64, got64 = want.astype(np.float64), got.astype(np.float64)
        finite = np.isfinite(want64)
        scale = float(np.abs(want64[finite]).max()) if finite.any() else 0.0
        tol_abs = (1e-6 * scale if atol is None else atol) + printed.quantum
        tol = tol_abs + rtol * np.abs(np.where(finite, want64, 0.0))
        with np.errstate(invalid="ignore"):
            close = np.abs(got64 - want64) <= tol
        same_special = (np.isnan(got64) & np.isnan(want64)) | ((got64 == want64) & ~finite)
        bad = ~np.where(finite, close, same_special)
    if bad.any():
        raise AssertionError(_diff_message(where, got, want, bad, rtol, tol))


def _diff_message(where, got, want, bad, rtol, tol, limit=8):
    count = int(bad.sum())
    lines = [f"{where}: {count} of {bad.size} values differ (dtype {want.dtype}, rtol {rtol})"]
    if want.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
        diff = np.where(bad & ~np.isfinite(diff), np.inf, np.where(bad, diff, 0.0))
        lines[0] += f", max |got - log| = {diff.max():.6g}"
    for index in np.argwhere(bad)[:limit]:
        index = tuple(int(i) for i in index)
        allowed = f"   (allowed {np.broadcast_to(tol, bad.shape)[index]:.3g})" if want.dtype.kind == "f" else ""
        lines.append(f"  at {index}: got {got[index]}, log {want[index]}{allowed}")
    if count > limit:
        lines.append(f"  ... {count - limit} more")
    return "\n".join(lines)

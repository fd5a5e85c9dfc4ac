"""Minimal local harness for the shape-family Cookbook tests (Shuffle, Slice, Shape, Concatenation, Squeeze,
Unsqueeze, Gather, Fill, OneHot), used until the shared tests/cookbook/harness.py exists.

`read_case(log, case)` parses one case of tests/data/cookbook_logs/<log>.log into its runs (each `tw.setup();
tw.infer()` prints the I/O lines, then every I/O tensor). `Wrapper` mirrors the Cookbook's TRTWrapperV1 flow on
reftrt (Builder -> serialized plan -> Runtime -> execution context); `Wrapper.check(run, data)` executes once and
asserts the I/O lines and every printed array.
"""
import os
import re

import numpy as np

import reftrt as trt

LOG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "cookbook_logs")
_IO = re.compile(r"^(Input |Output)->(DataType\.\w+), (\(.*?\)), (\(.*?\)), (.*)$")
_LOGGER = re.compile(r"^\[\d\d/\d\d/\d{4}-\d\d:\d\d:\d\d\] \[TRT\]")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|inf|nan)|True|False")


class IOLine:
    def __init__(self, match):
        self.mode, self.dtype = match.group(1).strip(), match.group(2)
        self.build_shape = _shape(match.group(3))
        self.run_shape = _shape(match.group(4))
        self.name = match.group(5)

    def __repr__(self):
        return f"{'Input ' if self.mode == 'Input' else 'Output'}->{self.dtype}, {self.build_shape}, " \
               f"{self.run_shape}, {self.name}"


def _shape(text):
    inner = text.strip()[1:-1].strip().rstrip(",")
    return tuple(int(v) for v in inner.split(",")) if inner else ()


class Run:
    def __init__(self):
        self.io, self.texts = [], {}

    def array(self, name):
        line = next(io for io in self.io if io.name == name)
        tokens = _NUMBER.findall(self.texts[name])
        if line.dtype == "DataType.BOOL":
            values = np.array([t == "True" for t in tokens], dtype=bool)
        else:
            values = np.array([float(t) for t in tokens], dtype=np.float64)
        shape = line.run_shape
        if any(d < 0 for d in shape):
            return values
        return values.reshape(shape)


def read_case(log, case):
    text = open(os.path.join(LOG_DIR, f"{log}.log")).read()
    start = text.index(f"Start [{case},")
    end = text.index(f"End   [{case}]", start)
    lines = text[start:end].splitlines()[1:]
    runs, current, names = [], None, set()
    for line in lines:
        if _LOGGER.match(line):
            continue  # TensorRT's stderr messages are interleaved with the printed arrays
        m = _IO.match(line)
        if m:
            if current is None or current.texts:
                current = Run()
                runs.append(current)
            current.io.append(IOLine(m))
            names = {io.name for io in current.io}
            name = None
            continue
        if current is None:
            continue
        if line in names:
            name = line
            current.texts[name] = ""
        elif name is not None:
            current.texts[name] += line + "\n"
            block = current.texts[name]
            if "[" not in block or block.count("[") == block.count("]"):
                name = None  # the array is complete; what follows is other output
    return runs


class Wrapper:
    """The Cookbook's TRTWrapperV1 / TRTWrapperShapeInput on reftrt."""

    def __init__(self):
        self.logger = trt.Logger(trt.Logger.ERROR)
        self.builder = trt.Builder(self.logger)
        self.network = self.builder.create_network()
        self.profile = self.builder.create_optimization_profile()
        self.config = self.builder.create_builder_config()
        self.engine = self.context = None

    def build(self, outputs):
        for t in outputs:
            self.network.mark_output(t)
        self.config.add_optimization_profile(self.profile)
        plan = self.builder.build_serialized_network(self.network, self.config)
        assert plan is not None, "build failed"
        self.engine = trt.Runtime(self.logger).deserialize_cuda_engine(plan)
        self.context = self.engine.create_execution_context()

    def infer(self, data=None):
        """Run once; returns (I/O lines as printed by the Cookbook, {name: array})."""
        data = data or {}
        e, c = self.engine, self.context
        names = [e.get_tensor_name(i) for i in range(e.num_io_tensors)]
        buffers = {}
        for n in names:
            if e.get_tensor_mode(n) != trt.TensorIOMode.INPUT:
                continue
            if e.get_tensor_location(n) == trt.TensorLocation.DEVICE:
                c.set_input_shape(n, np.asarray(data[n]).shape)
            else:  # a shape-tensor input: its values are read from host memory (TRTWrapperShapeInput)
                buffers[n] = np.array(data[n], dtype=trt.nptype(e.get_tensor_dtype(n)), order="C")
                c.set_tensor_address(n, buffers[n].ctypes.data)
        lines = []
        for n in names:
            mode = "Input " if e.get_tensor_mode(n) == trt.TensorIOMode.INPUT else "Output"
            lines.append(f"{mode}->{e.get_tensor_dtype(n)}, {e.get_tensor_shape(n)}, {c.get_tensor_shape(n)}, {n}")
        allocators = {}
        for n in names:
            dtype = trt.nptype(e.get_tensor_dtype(n))
            if n in buffers:
                continue
            if e.get_tensor_mode(n) == trt.TensorIOMode.INPUT:
                buffers[n] = np.array(data[n], dtype=dtype, order="C")
            elif any(d < 0 for d in c.get_tensor_shape(n)):
                allocators[n] = _Allocator(dtype)
                c.set_output_allocator(n, allocators[n])
                continue
            else:
                buffers[n] = np.zeros(tuple(c.get_tensor_shape(n)), dtype=dtype)
            c.set_tensor_address(n, buffers[n].ctypes.data)
        assert c.execute_async_v3(0), "execution failed"
        for n, allocator in allocators.items():
            buffers[n] = allocator.array()
        return lines, buffers

    def check(self, run, data=None, compare=True):
        lines, buffers = self.infer(data)
        assert lines == [repr(io) for io in run.io]
        if compare:
            for io in run.io:
                expected, got = run.array(io.name), buffers[io.name]
                if io.dtype in ("DataType.FLOAT", "DataType.HALF"):
                    np.testing.assert_allclose(got.reshape(expected.shape), expected, rtol=1e-5, atol=1e-6,
                                               err_msg=io.name)
                else:
                    np.testing.assert_array_equal(got.reshape(expected.shape), expected, err_msg=io.name)
        return buffers


class _Allocator(trt.IOutputAllocator):
    """Host buffers for data-dependent output shapes (the Cookbook's TRTWrapperDDS)."""

    def __init__(self, dtype):
        super().__init__()
        self.dtype, self.buffer, self.shape = dtype, None, None

    def reallocate_output(self, name, memory, size, alignment):
        self.buffer = np.zeros(max(int(size), 1), dtype=np.uint8)
        return self.buffer.ctypes.data

    def notify_shape(self, name, shape):
        self.shape = tuple(shape)

    def array(self):
        count = int(np.prod(self.shape))
        return self.buffer[:count * np.dtype(self.dtype).itemsize].view(self.dtype).reshape(self.shape)


def cookbook_data(shape, dtype=np.float32):
    """The Cookbook's usual input: element [a, b, c, d] = 1000a + 100b + 10c + d (trailing dims of `shape`)."""
    weights = [1, 10, 100, 1000][:len(shape)][::-1]
    out = np.zeros(shape, dtype=np.float64)
    for axis, (n, w) in enumerate(zip(shape, weights)):
        view = [1] * len(shape)
        view[axis] = n
        out = out + np.arange(n).reshape(view) * w
    return out.astype(dtype)

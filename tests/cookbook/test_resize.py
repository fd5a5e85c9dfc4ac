"""Cookbook Resize: every case of cookbook/02-API/Layer/Resize/main.py against Resize.log (TensorRT 10.16).

The small log reader and runner at the top (`read_runs`, `Engine`) also serve test_gridsample.py, test_nms.py and
test_nonzero.py until the shared tests/cookbook/harness.py exists. Like the Cookbook's TRTWrapperDDS, the runner gives
every output whose run-time shape has a -1 an IOutputAllocator and reads its shape from notify_shape.
"""
import os
import re

import numpy as np

import reftrt as trt

LOG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "cookbook_logs")
_IO = re.compile(r"^(?:Input |Output)->DataType\.\w+, \(.*?\), \(.*?\), (.*)$")
_SHAPES = re.compile(r"^(?:Input |Output)->DataType\.(\w+), (\(.*?\)), (\(.*?\)), .*$")
_TRT = re.compile(r"^\[\d\d/\d\d/\d{4}-\d\d:\d\d:\d\d\] \[TRT\]")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+)|True|False")


class Run:
    """One `tw.setup(); tw.infer()` of a case: its printed I/O lines and arrays."""

    def __init__(self):
        self.io, self.text = [], {}

    def shape(self, name):
        line = next(line for line in self.io if _IO.match(line).group(1) == name)
        dtype, build, run = _SHAPES.match(line).groups()
        dims = [int(v) for v in run.strip("()").split(",") if v.strip()]
        return dtype, dims

    def array(self, name):
        dtype, dims = self.shape(name)
        tokens = _NUMBER.findall(self.text[name])
        if dtype == "BOOL":
            values = np.array([t == "True" for t in tokens])
        else:
            values = np.array([float(t) for t in tokens])
        return values.reshape([d if d >= 0 else -1 for d in dims])


def read_runs(log, case):
    text = open(os.path.join(LOG_DIR, f"{log}.log")).read()
    start = text.index(f"Start [{case},")
    lines = text[start:text.index(f"End   [{case}]", start)].splitlines()[1:]
    runs, run, name = [], None, None
    for line in lines:
        if _TRT.match(line):
            continue
        m = _IO.match(line)
        if m:
            if run is None or run.text:
                run = Run()
                runs.append(run)
            run.io.append(line)
            name = None
        elif run is not None and any(_IO.match(io).group(1) == line for io in run.io):
            name = line
            run.text[name] = ""
        elif name is not None:
            run.text[name] += line + "\n"
            if run.text[name].count("[") == run.text[name].count("]"):
                name = None
    return runs


class OutputAllocator(trt.IOutputAllocator):
    """Host memory for an output whose shape is known only after execution (the Cookbook's CookbookOutputAllocator)."""

    def __init__(self):
        super().__init__()
        self.shape, self.buffer = None, np.zeros(0, dtype=np.uint8)

    def reallocate_output(self, tensor_name, old_address, size, alignment):
        if size > self.buffer.nbytes:
            self.buffer = np.zeros(size, dtype=np.uint8)
        return self.buffer.ctypes.data

    def notify_shape(self, tensor_name, shape):
        self.shape = tuple(shape)


class Engine:
    """Build `network` (the Cookbook's TRTWrapperV1 / TRTWrapperShapeInput / TRTWrapperDDS) and run it."""

    def __init__(self):
        self.logger = trt.Logger(trt.Logger.ERROR)
        self.builder = trt.Builder(self.logger)
        self.network = self.builder.create_network()
        self.profile = self.builder.create_optimization_profile()
        self.config = self.builder.create_builder_config()

    def build(self, outputs):
        for t in outputs:
            self.network.mark_output(t)
        self.config.add_optimization_profile(self.profile)
        plan = self.builder.build_serialized_network(self.network, self.config)
        assert plan is not None, "build failed"
        self.engine = trt.Runtime(self.logger).deserialize_cuda_engine(plan)
        self.context = self.engine.create_execution_context()
        return self

    def infer(self, data):
        """(the I/O lines the Cookbook prints, {name: array}) for one execution."""
        e, c = self.engine, self.context
        names = [e.get_tensor_name(i) for i in range(e.num_io_tensors)]
        buffers, allocators = {}, {}
        for n in names:
            if e.get_tensor_mode(n) == trt.TensorIOMode.INPUT:
                buffers[n] = np.array(data[n], dtype=trt.nptype(e.get_tensor_dtype(n)), order="C")
                if e.is_shape_inference_io(n):
                    c.set_tensor_address(n, buffers[n].ctypes.data)
                else:
                    c.set_input_shape(n, buffers[n].shape)
        lines = [f"{'Input ' if e.get_tensor_mode(n) == trt.TensorIOMode.INPUT else 'Output'}->"
                 f"{e.get_tensor_dtype(n)}, {e.get_tensor_shape(n)}, {c.get_tensor_shape(n)}, {n}" for n in names]
        for n in names:
            if e.get_tensor_mode(n) == trt.TensorIOMode.INPUT:
                c.set_tensor_address(n, buffers[n].ctypes.data)
            elif -1 in tuple(c.get_tensor_shape(n)):
                allocators[n] = OutputAllocator()
                c.set_output_allocator(n, allocators[n])
                c.set_tensor_address(n, 0)
            else:
                buffers[n] = np.zeros(tuple(c.get_tensor_shape(n)), dtype=trt.nptype(e.get_tensor_dtype(n)))
                c.set_tensor_address(n, buffers[n].ctypes.data)
        assert c.execute_async_v3(0), "execution failed"
        for n, a in allocators.items():
            dtype = trt.nptype(e.get_tensor_dtype(n))
            count = int(np.prod(a.shape))
            buffers[n] = a.buffer[:count * np.dtype(dtype).itemsize].view(dtype).reshape(a.shape).copy()
        return lines, buffers

    def check(self, run, data, skip=()):
        """Run once; assert the I/O lines and every printed array (except `skip`); return the buffers."""
        lines, buffers = self.infer(data)
        assert lines == run.io
        for name in run.text:
            if name in skip:
                continue
            expected, got = run.array(name), buffers[name]
            assert got.shape == expected.shape, (name, got.shape, expected.shape)
            if np.issubdtype(got.dtype, np.floating):
                np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5, err_msg=name)
            else:
                np.testing.assert_array_equal(got, expected, err_msg=name)
        return buffers


# ---- the Resize cases ------------------------------------------------------------------------------------------------

LOG = "Resize"
SHAPE_IN, SHAPE_OUT = (1, 3, 4, 5), (2, 3, 6, 10)
DATA = {"tensor": np.arange(60, dtype=np.float32).reshape(SHAPE_IN)}


def _net():
    tw = Engine()
    return tw, tw.network.add_input("tensor", trt.DataType.FLOAT, SHAPE_IN)


def test_case_simple():
    tw, tensor = _net()
    layer = tw.network.add_resize(tensor)
    layer.shape = SHAPE_OUT
    # check_api_coverage reads every attribute: scales reads [] (with TensorRT's warning) while the shape is set
    assert layer.scales == [] and layer.shape == SHAPE_OUT
    assert layer.resize_mode == trt.InterpolationMode.NEAREST
    assert layer.coordinate_transformation == trt.ResizeCoordinateTransformation.ASYMMETRIC
    assert layer.selector_for_single_pixel == trt.ResizeSelector.FORMULA
    assert layer.nearest_rounding == trt.ResizeRoundMode.FLOOR
    assert layer.cubic_coeff == -0.75 and layer.exclude_outside is False
    tw.build([layer.get_output(0)]).check(read_runs(LOG, "case_simple")[0], DATA)


def test_case_set_input():
    tw, tensor = _net()
    constant = tw.network.add_constant([4], np.array(SHAPE_OUT, dtype=np.int32))
    layer = tw.network.add_resize(tensor)
    layer.set_input(1, constant.get_output(0))
    assert layer.shape is None and layer.num_inputs == 2
    assert tuple(layer.get_output(0).shape) == SHAPE_OUT  # a build-time constant: known at definition time
    tw.build([layer.get_output(0)]).check(read_runs(LOG, "case_set_input")[0], DATA)


def test_case_cubic_mode():
    tw, tensor = _net()
    layer = tw.network.add_resize(tensor)
    layer.resize_mode = trt.InterpolationMode.CUBIC
    layer.cubic_coeff = 0.5
    assert layer.cubic_coeff == 0.5
    tw.build([layer.get_output(0)]).check(read_runs(LOG, "case_cubic_mode")[0], DATA)


def test_case_linear():
    tw, tensor = _net()
    layer = tw.network.add_resize(tensor)
    layer.shape = [SHAPE_IN[0], SHAPE_OUT[1], 1, 1]
    layer.resize_mode = trt.InterpolationMode.LINEAR
    layer.selector_for_single_pixel = trt.ResizeSelector.UPPER
    layer.nearest_rounding = trt.ResizeRoundMode.CEIL
    layer.coordinate_transformation = trt.ResizeCoordinateTransformation.ALIGN_CORNERS
    tw.build([layer.get_output(0)]).check(read_runs(LOG, "case_linear")[0], DATA)


def test_case_nearest_round_modes():
    tw, tensor = _net()
    outputs = []
    for mode in (trt.ResizeRoundMode.FLOOR, trt.ResizeRoundMode.CEIL, trt.ResizeRoundMode.HALF_DOWN,
                 trt.ResizeRoundMode.HALF_UP):
        layer = tw.network.add_resize(tensor)
        layer.shape = SHAPE_OUT
        layer.resize_mode = trt.InterpolationMode.NEAREST
        layer.nearest_rounding = mode
        layer.selector_for_single_pixel = trt.ResizeSelector.FORMULA
        outputs.append(layer.get_output(0))
    tw.build(outputs).check(read_runs(LOG, "case_nearest_round_modes")[0], DATA)


def test_case_shape_input():
    data = dict(DATA, tensor1=np.array(SHAPE_OUT, dtype=np.int32))
    tw, tensor = _net()
    tensor1 = tw.network.add_input("tensor1", trt.DataType.INT32, (4,))
    tw.profile.set_shape_input(tensor1.name, [1, 1, 1, 1], SHAPE_OUT, SHAPE_OUT)
    layer = tw.network.add_resize(tensor)
    layer.set_input(1, tensor1)
    assert tuple(layer.get_output(0).shape) == (-1, -1, -1, -1)
    tw.build([layer.get_output(0)]).check(read_runs(LOG, "case_shape_input")[0], data)


def test_case_exclude_outside():
    tw, tensor = _net()
    layer = tw.network.add_resize(tensor)
    layer.shape = SHAPE_OUT
    layer.exclude_outside = 1  # pybind11 converts the int, as the Cookbook relies on
    assert layer.exclude_outside is True
    tw.build([layer.get_output(0)]).check(read_runs(LOG, "case_exclude_outside")[0], DATA)


def test_enum_members_as_logged():
    text = open(os.path.join(LOG_DIR, f"{LOG}.log")).read()
    for enum in (trt.InterpolationMode, trt.ResizeSelector, trt.ResizeRoundMode, trt.ResizeCoordinateTransformation):
        block = text.split(f"Members of tensorrt.tensorrt.{enum.__name__}:\n")[1]
        logged = {}
        for line in block.splitlines():
            m = re.match(r"^\s*(\d+) -> (\w+)$", line)
            if not m:
                break
            logged[m.group(2)] = int(m.group(1))
        assert {name: int(member) for name, member in enum.__members__.items()} == logged

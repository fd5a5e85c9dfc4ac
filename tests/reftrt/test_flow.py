"""The TensorRT build / run flow on reftrt, end to end: profiles, shape checks, plans, errors, debug tensors,
profilers, loggers, the 10.3 API mode, and the speed of definition-time shape analysis."""
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import reftrt as trt

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class CaptureLogger(trt.ILogger):
    """The ILogger subclass path: every message reaches `log`."""

    def __init__(self):
        trt.ILogger.__init__(self)
        self.messages = []

    def log(self, severity, msg):
        self.messages.append((severity, msg))

    def errors(self):
        return [m for s, m in self.messages if s in (trt.ILogger.ERROR, trt.ILogger.INTERNAL_ERROR)]


def _session(logger=None):
    logger = logger or CaptureLogger()
    builder = trt.Builder(logger)
    return logger, builder, builder.create_network(), builder.create_builder_config()


def _profile(builder, config, shapes):
    profile = builder.create_optimization_profile()
    for name, (lo, opt, hi) in shapes.items():
        profile.set_shape(name, lo, opt, hi)
    return config.add_optimization_profile(profile)


def _relu_plus(network, x, c=1.0):
    """y = relu(x) + c (c broadcast over x's rank)."""
    rank = len(x.shape)
    const = network.add_constant([1] * rank, np.full([1] * rank, c, np.float32)).get_output(0)
    relu = network.add_activation(x, trt.ActivationType.RELU)
    add = network.add_elementwise(relu.get_output(0), const, trt.ElementWiseOperation.SUM)
    return relu, add


def _dynamic_plan(logger=None, profiles=(((1, 3), (2, 3), (4, 3)),)):
    logger, builder, network, config = _session(logger)
    x = network.add_input("x", trt.float32, (-1, 3))
    _, add = _relu_plus(network, x)
    y = add.get_output(0)
    y.name = "y"
    network.mark_output(y)
    for lo, opt, hi in profiles:
        _profile(builder, config, {"x": (lo, opt, hi)})
    plan = builder.build_serialized_network(network, config)
    assert plan is not None, logger.errors()
    return plan, logger


def _engine(plan, logger=None):
    logger = logger or CaptureLogger()
    engine = trt.Runtime(logger).deserialize_cuda_engine(plan)
    assert engine is not None, logger.errors()
    return engine, logger


def _execute(context, feeds, out_names):
    for name, array in feeds.items():
        context.set_tensor_address(name, array.ctypes.data)
    outputs = {}
    for name in out_names:
        engine = context.engine
        outputs[name] = np.zeros(list(context.get_tensor_shape(name)), trt.nptype(engine.get_tensor_dtype(name)))
        context.set_tensor_address(name, outputs[name].ctypes.data)
    ok = context.execute_async_v3(0)
    return ok, outputs


# ---- dynamic shapes and profiles ----------------------------------------------------------------------------------

def test_dynamic_shapes_definition_time_and_runtime():
    logger, builder, network, config = _session()
    x = network.add_input("x", trt.float32, (-1, 3, -1))
    assert x.shape == (-1, 3, -1)
    relu, add = _relu_plus(network, x)
    assert relu.get_output(0).shape == (-1, 3, -1) and add.get_output(0).shape == (-1, 3, -1)
    assert add.get_output(0).dtype == trt.float32
    network.mark_output(add.get_output(0))
    _profile(builder, config, {"x": ((1, 3, 2), (2, 3, 4), (4, 3, 8))})
    plan = builder.build_serialized_network(network, config)
    engine, _ = _engine(plan)
    name = add.get_output(0).name
    assert engine.get_tensor_shape("x") == (-1, 3, -1) and engine.get_tensor_shape(name) == (-1, 3, -1)
    assert engine.get_tensor_profile_shape("x", 0) == [(1, 3, 2), (2, 3, 4), (4, 3, 8)]
    context = engine.create_execution_context()
    rng = np.random.default_rng(0)
    for shape in [(1, 3, 2), (3, 3, 5), (4, 3, 8)]:
        assert context.set_input_shape("x", shape)
        assert context.get_tensor_shape(name) == shape
        x_host = rng.standard_normal(shape).astype(np.float32)
        ok, out = _execute(context, {"x": x_host}, [name])
        assert ok
        np.testing.assert_allclose(out[name], np.maximum(x_host, 0) + 1, rtol=1e-6)


def test_set_input_shape_outside_profile_is_refused():
    plan, _ = _dynamic_plan()
    engine, logger = _engine(plan)
    context = engine.create_execution_context()
    assert not context.set_input_shape("x", (5, 3))  # above max
    assert not context.set_input_shape("x", (0, 3))  # below min
    errors = logger.errors()
    assert len(errors) == 2 and all("x" in e and "profile" in e for e in errors)
    assert context.set_input_shape("x", (4, 3))


def test_static_dimension_mismatch_and_rank():
    plan, _ = _dynamic_plan()
    engine, logger = _engine(plan)
    context = engine.create_execution_context()
    assert not context.set_input_shape("x", (2, 4))
    assert "Static dimension mismatch" in logger.errors()[-1]
    assert not context.set_input_shape("x", (2, 3, 1))
    assert "rank" in logger.errors()[-1]
    assert not context.set_input_shape("nope", (2, 3))


def test_multiple_profiles_and_switching():
    plan, _ = _dynamic_plan(profiles=[((1, 3), (2, 3), (4, 3)), ((8, 3), (16, 3), (32, 3))])
    engine, logger = _engine(plan)
    assert engine.num_optimization_profiles == 2
    assert engine.get_tensor_profile_shape("x", 1) == [(8, 3), (16, 3), (32, 3)]
    context = engine.create_execution_context()
    assert context.active_optimization_profile == 0
    assert not context.set_input_shape("x", (16, 3))
    assert context.set_optimization_profile_async(1, 0)
    assert context.active_optimization_profile == 1
    assert context.set_input_shape("x", (16, 3))
    assert not context.set_input_shape("x", (2, 3))
    x_host = np.linspace(-2, 2, 48, dtype=np.float32).reshape(16, 3)
    ok, out = _execute(context, {"x": x_host}, ["y"])
    assert ok
    np.testing.assert_allclose(out["y"], np.maximum(x_host, 0) + 1)
    assert not context.set_optimization_profile_async(2, 0)


def test_infer_shapes_returns_the_unset_inputs():
    logger, builder, network, config = _session()
    a = network.add_input("a", trt.float32, (-1, 2))
    b = network.add_input("b", trt.float32, (3, -1))
    network.mark_output(network.add_activation(a, trt.ActivationType.RELU).get_output(0))
    network.mark_output(network.add_activation(b, trt.ActivationType.RELU).get_output(0))
    _profile(builder, config, {"a": ((1, 2), (2, 2), (4, 2)), "b": ((3, 1), (3, 2), (3, 4))})
    engine, _ = _engine(builder.build_serialized_network(network, config))
    context = engine.create_execution_context()
    assert sorted(context.infer_shapes()) == ["a", "b"]
    assert not context.all_binding_shapes_specified
    context.set_input_shape("b", (3, 4))
    assert context.infer_shapes() == ["a"]
    context.set_input_shape("a", (2, 2))
    assert context.infer_shapes() == [] and context.all_binding_shapes_specified


# ---- build failures ------------------------------------------------------------------------------------------------

def test_dynamic_network_without_profile_fails():
    logger, builder, network, config = _session()
    x = network.add_input("x", trt.float32, (-1, 3))
    network.mark_output(network.add_activation(x, trt.ActivationType.RELU).get_output(0))
    assert builder.build_serialized_network(network, config) is None
    assert any("profile" in m for m in logger.errors())


def test_invalid_network_fails_naming_the_layer():
    logger, builder, network, config = _session()
    a = network.add_input("a", trt.float32, (2, 3))
    b = network.add_input("b", trt.float32, (2, 3, 1))
    layer = network.add_elementwise(a, b, trt.ElementWiseOperation.SUM)
    layer.name = "bad_sum"
    network.mark_output(layer.get_output(0))
    assert builder.build_serialized_network(network, config) is None
    assert any("bad_sum" in m and "rank" in m for m in logger.errors())


def test_network_without_outputs_fails():
    logger, builder, network, config = _session()
    network.add_activation(network.add_input("x", trt.float32, (2,)), trt.ActivationType.RELU)
    assert builder.build_serialized_network(network, config) is None
    assert any("output" in m for m in logger.errors())


# ---- plans ---------------------------------------------------------------------------------------------------------

def test_plan_file_round_trip_is_deterministic(tmp_path):
    plan, _ = _dynamic_plan()
    again, _ = _dynamic_plan()
    assert bytes(plan) == bytes(again)
    path = tmp_path / "net.plan"
    path.write_bytes(plan)
    engine, _ = _engine(path.read_bytes())
    assert bytes(engine.serialize()) == bytes(plan)
    assert [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)] == ["x", "y"]
    assert engine.get_tensor_mode("x") == trt.TensorIOMode.INPUT and engine.get_tensor_mode("y") == \
        trt.TensorIOMode.OUTPUT
    context = engine.create_execution_context()
    context.set_input_shape("x", (2, 3))
    x_host = np.array([[-1, 0, 1], [2, -3, 4]], np.float32)
    ok, out = _execute(context, {"x": x_host}, ["y"])
    assert ok and out["y"].tolist() == [[1, 1, 2], [3, 1, 5]]


@pytest.mark.parametrize("damage", ["truncated", "garbage", "bad_magic", "empty", "corrupt_header"])
def test_corrupt_plan_is_refused(damage):
    plan = bytes(_dynamic_plan()[0])
    data = {"truncated": plan[: len(plan) // 2], "garbage": os.urandom(256), "bad_magic": b"X" + plan[1:],
            "empty": b"", "corrupt_header": plan[:30] + b"\xff\xfe" + plan[32:]}[damage]
    logger = CaptureLogger()
    assert trt.Runtime(logger).deserialize_cuda_engine(data) is None
    assert len(logger.errors()) == 1


def test_execute_v2():
    logger, builder, network, config = _session()
    a = network.add_input("a", trt.float32, (2, 2))
    b = network.add_input("b", trt.float32, (2, 2))
    s = network.add_elementwise(a, b, trt.ElementWiseOperation.SUM).get_output(0)
    p = network.add_elementwise(a, b, trt.ElementWiseOperation.PROD).get_output(0)
    s.name, p.name = "s", "p"
    network.mark_output(s)
    network.mark_output(p)
    engine, _ = _engine(builder.build_serialized_network(network, config))
    context = engine.create_execution_context()
    a_host = np.array([[1, 2], [3, 4]], np.float32)
    b_host = np.array([[5, 6], [7, 8]], np.float32)
    s_host, p_host = np.zeros((2, 2), np.float32), np.zeros((2, 2), np.float32)
    assert context.execute_v2([a_host.ctypes.data, b_host.ctypes.data, s_host.ctypes.data, p_host.ctypes.data])
    np.testing.assert_array_equal(s_host, a_host + b_host)
    np.testing.assert_array_equal(p_host, a_host * b_host)


# ---- debug tensors, profiler ---------------------------------------------------------------------------------------

class DebugListener(trt.IDebugListener):
    def __init__(self):
        trt.IDebugListener.__init__(self)
        self.seen = {}

    def process_debug_tensor(self, addr, location, type, shape, name, stream):
        assert location == trt.TensorLocation.HOST and isinstance(addr, int)
        count = int(np.prod(list(shape)))
        dtype = np.dtype(trt.nptype(type))
        raw = (np.ctypeslib.as_array((np.ctypeslib.ctypes.c_char * (count * dtype.itemsize)).from_address(addr))
               if count else np.zeros(0, np.uint8))
        self.seen[name] = np.frombuffer(bytes(raw), dtype).reshape(list(shape))
        return True


def _debug_network(mark):
    logger, builder, network, config = _session()
    x = network.add_input("x", trt.float32, (2, 3))
    relu, add = _relu_plus(network, x, c=0.5)
    relu.get_output(0).name = "relu_out"
    add.get_output(0).name = "y"
    network.mark_output(add.get_output(0))
    mark(network, relu.get_output(0))
    return builder.build_serialized_network(network, config)


def test_debug_tensors_reach_the_listener():
    plan = _debug_network(lambda network, t: network.mark_debug(t))
    engine, _ = _engine(plan)
    assert engine.is_debug_tensor("relu_out") and not engine.is_debug_tensor("y")
    context = engine.create_execution_context()
    listener = DebugListener()
    assert context.set_debug_listener(listener)
    assert context.set_tensor_debug_state("relu_out", True)
    x_host = np.array([[-1, 2, -3], [4, -5, 6]], np.float32)
    ok, out = _execute(context, {"x": x_host}, ["y"])
    assert ok and list(listener.seen) == ["relu_out"]
    np.testing.assert_array_equal(listener.seen["relu_out"], np.maximum(x_host, 0))
    np.testing.assert_array_equal(out["y"], np.maximum(x_host, 0) + 0.5)
    listener.seen.clear()
    context.set_tensor_debug_state("relu_out", False)
    assert _execute(context, {"x": x_host}, ["y"])[0] and listener.seen == {}


@pytest.mark.skipif(not trt.__version__.startswith("11"), reason="TensorRT 11 API")
def test_unfused_tensors_as_debug_tensors():
    plan = _debug_network(lambda network, t: network.mark_unfused_tensors_as_debug_tensors())
    engine, _ = _engine(plan)
    context = engine.create_execution_context()
    listener = DebugListener()
    context.set_debug_listener(listener)
    context.unfused_tensors_debug_state = True
    assert context.unfused_tensors_debug_state
    x_host = np.array([[-1, 2, -3], [4, -5, 6]], np.float32)
    ok, _ = _execute(context, {"x": x_host}, ["y"])
    assert ok
    # Every layer output, by name (the constant's too): reftrt fuses nothing.
    relu = np.maximum(x_host, 0)
    assert set(listener.seen) == {"relu_out", "y", "(Unnamed Layer* 0) [Constant]_output"}
    np.testing.assert_array_equal(listener.seen["relu_out"], relu)
    np.testing.assert_array_equal(listener.seen["y"], relu + 0.5)
    np.testing.assert_array_equal(listener.seen["(Unnamed Layer* 0) [Constant]_output"], [[0.5]])


class LayerTimes(trt.IProfiler):
    def __init__(self):
        trt.IProfiler.__init__(self)
        self.times = []

    def report_layer_time(self, layer_name, ms):
        self.times.append((layer_name, ms))


def test_profiler_gets_every_layer_time():
    plan, _ = _dynamic_plan()
    engine, _ = _engine(plan)
    context = engine.create_execution_context()
    context.profiler = LayerTimes()
    context.set_input_shape("x", (2, 3))
    ok, out = _execute(context, {"x": np.ones((2, 3), np.float32)}, ["y"])
    assert ok and (out["y"] == 2).all()
    names = [name for name, _ in context.profiler.times]
    assert names == [engine.create_engine_inspector().get_layer_information(i, trt.LayerInformationFormat.ONELINE)
                     for i in range(engine.num_layers)]
    assert all(isinstance(ms, float) and ms >= 0 for _, ms in context.profiler.times)


def test_logger_subclass_and_stock_logger(capfd):
    logger = CaptureLogger()
    assert trt.Runtime(logger).deserialize_cuda_engine(b"nonsense") is None
    assert logger.messages and logger.messages[0][0] == trt.ILogger.Severity.ERROR
    stock = trt.Logger(trt.Logger.ERROR)
    assert trt.Runtime(stock).deserialize_cuda_engine(b"nonsense") is None
    captured = capfd.readouterr()
    assert "[TRT] [E]" in captured.out + captured.err
    with pytest.raises(TypeError):
        trt.Builder(object())


# ---- API versions --------------------------------------------------------------------------------------------------

def _version_facts(trt):
    logger = trt.Logger(trt.Logger.ERROR)
    builder = trt.Builder(logger)
    network = builder.create_network()
    config = builder.create_builder_config()
    facts = {"version": trt.__version__, "fp16_flag": hasattr(trt.BuilderFlag, "FP16"),
             "add_squeeze": hasattr(network, "add_squeeze"), "add_plugin": hasattr(network, "add_plugin"),
             "mark_unfused": hasattr(network, "mark_unfused_tensors_as_debug_tensors")}
    if facts["fp16_flag"]:
        config.set_flag(trt.BuilderFlag.FP16)
        facts["fp16_set"] = config.get_flag(trt.BuilderFlag.FP16)
    x = network.add_input("x", trt.float32, (2,))
    try:
        x.dtype = trt.float16
        facts["dtype_settable"] = x.dtype == trt.float16
    except AttributeError:
        facts["dtype_settable"] = False
    try:
        import reftrt.plugin  # noqa: F401
        facts["plugin_module"] = True
    except ImportError:
        facts["plugin_module"] = False
    return facts


_EXPECTED_FACTS = {
    "10.3.0": {"version": "10.3.0", "fp16_flag": True, "fp16_set": True, "add_squeeze": False, "add_plugin": False,
               "mark_unfused": False, "dtype_settable": True, "plugin_module": False},
    "11.4.0.106": {"version": "11.4.0.106", "fp16_flag": False, "add_squeeze": True, "add_plugin": True,
                   "mark_unfused": True, "dtype_settable": False, "plugin_module": True},
}


def test_api_version_of_this_process():
    assert _version_facts(trt) == _EXPECTED_FACTS[trt.__version__]


def test_api_version_10_3_mode():
    if trt.__version__.startswith("10.3"):
        pytest.skip("this process already emulates 10.3 (test_api_version_of_this_process)")
    code = "import sys; sys.path.insert(0, %r); from test_flow import _version_facts; import reftrt; " \
           "print(_version_facts(reftrt))" % os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, REFTRT_TRT_VERSION="10.3", PYTHONPATH=ROOT)
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert eval(result.stdout.strip().splitlines()[-1]) == _EXPECTED_FACTS["10.3.0"]


# ---- definition-time analysis speed --------------------------------------------------------------------------------

def test_reading_shapes_after_every_add_stays_linear():
    """Netdefs read `tensor.shape` after each layer: 500 layers must stay fast, and deep chains must not recurse."""

    def define(n):
        _, builder, network, _ = _session()
        x = network.add_input("x", trt.float32, (-1, 8, 4, 4))
        const = network.add_constant((1, 8, 1, 1), np.ones((1, 8, 1, 1), np.float32)).get_output(0)
        t = x
        start = time.perf_counter()
        for i in range(n):
            if i % 2:
                layer = network.add_activation(t, trt.ActivationType.RELU)
                layer.alpha = 0.5  # a parameter set right after adding, as netdefs do
            else:
                layer = network.add_elementwise(t, const, trt.ElementWiseOperation.SUM)
                layer.name = f"sum{i}"
            t = layer.get_output(0)
            assert t.shape == (-1, 8, 4, 4)
        return time.perf_counter() - start

    define(50)  # warm up torch's meta kernels
    small, large = define(250), define(1000)
    assert large < 4.0, f"1000 layers took {large:.2f}s"
    # Linear: 4x the layers should take about 4x the time, far from the 16x of a quadratic walk.
    assert large < 8 * small + 0.5, f"250 layers: {small:.2f}s, 1000 layers: {large:.2f}s"


# ---- in-place execution (Context.donated) --------------------------------------------------------------------------

def test_in_place_execution_never_touches_shared_or_foreign_memory(monkeypatch):
    """The executor donates an input to a layer only when nothing else can see its memory: not the caller's input
    buffers, not Weights (constants, also through a Shuffle view), not a tensor with another consumer."""
    donated = []
    original = trt.IActivationLayer._forward

    def spy(self, inputs, ctx):
        donated.append((self.name, tuple(ctx.donated)))
        return original(self, inputs, ctx)

    monkeypatch.setattr(trt.IActivationLayer, "_forward", spy)
    logger, builder, network, config = _session()
    x = network.add_input("x", trt.float32, (2, 3))
    weights = np.array([[-1, 2, -3], [4, -5, 6]], np.float32)
    const = network.add_constant((2, 3), weights).get_output(0)
    view = network.add_shuffle(const)
    view.reshape_dims = (2, 3)
    outputs = {}

    def act(name, t, kind=trt.ActivationType.RELU):
        layer = network.add_activation(t, kind)
        layer.name = name
        return layer.get_output(0)

    a = act("relu_x", x)                                      # network input: the caller's memory
    s = network.add_elementwise(a, a, trt.ElementWiseOperation.SUM).get_output(0)  # a read twice by one layer
    b = act("relu_s", s)                                      # s: last use, computed here -> donated
    c = act("sig_b", b, trt.ActivationType.SIGMOID)           # b has two consumers (sig_b, sum2)
    d = network.add_elementwise(b, c, trt.ElementWiseOperation.SUM).get_output(0)
    w = act("relu_w", view.get_output(0))                      # a view of Weights
    outputs.update(d=d, w=w)
    for name, t in outputs.items():
        t.name = name
        network.mark_output(t)
    engine, _ = _engine(builder.build_serialized_network(network, config))
    context = engine.create_execution_context()
    x_host = np.array([[1, -2, 3], [-4, 5, -6]], np.float32)
    x_copy = x_host.copy()
    for _ in range(2):
        donated.clear()
        ok, out = _execute(context, {"x": x_host}, ["d", "w"])
        assert ok
        b_ref = np.maximum(2 * np.maximum(x_copy, 0), 0)
        np.testing.assert_allclose(out["d"], b_ref + 1 / (1 + np.exp(-b_ref)), rtol=1e-6)
        np.testing.assert_array_equal(out["w"], np.maximum(weights, 0))
        np.testing.assert_array_equal(x_host, x_copy)
        seen = dict(donated)
        assert seen["relu_x"] == () and seen["relu_w"] == ()
        assert seen["relu_s"] == (0,)       # the one safe case
        assert seen["sig_b"] == ()          # b is still needed by the final sum

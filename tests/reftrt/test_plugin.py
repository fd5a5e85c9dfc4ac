"""reftrt.plugin (the tensorrt.plugin API) and IPluginV3Layer through the full Builder -> plan -> Runtime flow.

The plugins here are written as for real TensorRT (only `torch.as_tensor(t)` without `device=`, which works on
both). The first one ports the elementwise-add plugin of TensorRT's samples/python/quickly_deployable_plugins.
"""
import json
from typing import List, Tuple

import numpy as np
import numpy.typing as npt
import pytest
import torch

import reftrt as trt
from reftrt import _plan
from tests.helpers.trt_logger import Recorder as CaptureLogger

# tensorrt.plugin exists from TensorRT 10.6: under REFTRT_TRT_VERSION=10.3 there is nothing to test here.
trtp = pytest.importorskip("reftrt.plugin", reason="the emulated TensorRT 10.3 API has no tensorrt.plugin")




# ---- plugin definitions -----------------------------------------------------------------------------------------

@trtp.register("tp::elemwise_add")
def _add_desc(inp0: trtp.TensorDesc, block_size: int) -> trtp.TensorDesc:
    return inp0.like()


@trtp.autotune("tp::elemwise_add")
def _add_autotune(inp0: trtp.TensorDesc, outputs: Tuple[trtp.TensorDesc]) -> List[trtp.AutoTuneCombination]:
    return [trtp.AutoTuneCombination("FP32|FP16, FP32|FP16")]


@trtp.impl("tp::elemwise_add")
def _add_impl(inp0: trtp.Tensor, block_size: int, outputs: Tuple[trtp.Tensor], stream: int) -> None:
    assert inp0.numel() == outputs[0].numel() and inp0.dtype == outputs[0].dtype
    x = torch.as_tensor(inp0)
    y = torch.as_tensor(outputs[0])
    # Block-wise, as the sample's Triton kernel: each block of `block_size` elements adds 1.
    flat_x, flat_y = x.reshape(-1), y.reshape(-1)
    for start in range(0, inp0.numel(), block_size):
        flat_y[start:start + block_size] = flat_x[start:start + block_size] + 1


# Two outputs, float / bool / str / numpy attributes: y = x * alpha + beta (per channel offsets), and the
# per-row sums of y in float32 whatever the input type.
@trtp.register("tp::affine_rowsum")
def _affine_desc(x: trtp.TensorDesc, alpha: float, beta: float, offsets: npt.NDArray[np.float32], tag: str,
                 negate: bool) -> Tuple[trtp.TensorDesc, trtp.TensorDesc]:
    rows = trtp.from_shape_expr((x.shape_expr[0],), dtype=trt.float32)
    return x.like(), rows


@trtp.impl("tp::affine_rowsum")
def _affine_impl(x: trtp.Tensor, alpha: float, beta: float, offsets: npt.NDArray[np.float32], tag: str,
                 negate: bool, outputs: Tuple[trtp.Tensor], stream: int) -> None:
    assert tag == "affine" and isinstance(alpha, float) and offsets.dtype == np.float32
    xt = torch.as_tensor(x).float()
    y = xt * alpha + beta + torch.from_numpy(offsets).reshape(1, -1, 1)
    if negate:
        y = -y
    torch.as_tensor(outputs[0]).copy_(y)
    torch.as_tensor(outputs[1]).copy_(y.reshape(y.shape[0], -1).sum(1))


def _affine_ref(x, alpha, beta, offsets, negate):
    y = x.astype(np.float64) * alpha + beta + offsets.reshape(1, -1, 1)
    y = -y if negate else y
    return y, y.reshape(y.shape[0], -1).sum(1)


# Data-dependent output (the sample's non-zero plugin): indices of the non-zero elements of a 2-D input, with
# their count in an INT64 size tensor.
@trtp.register("tp::non_zero")
def _nz_desc(inp0: trtp.TensorDesc) -> Tuple[trtp.TensorDesc, trtp.TensorDesc]:
    upper = inp0.shape_expr[0] * inp0.shape_expr[1]
    st = trtp.size_tensor(upper // 2, upper)
    st.dtype = trt.int64
    return trtp.from_shape_expr((st.expr(), 2), dtype=trt.int32), st


@trtp.autotune("tp::non_zero")
def _nz_autotune(inp0, outputs) -> List[trtp.AutoTuneCombination]:
    return [trtp.AutoTuneCombination("FP32|FP16, INT32, INT64")]


@trtp.impl("tp::non_zero")
def _nz_impl(inp0, outputs, stream) -> None:
    assert outputs[0].is_data_dependent
    found = torch.nonzero(torch.as_tensor(inp0))
    torch.as_tensor(outputs[0].aliased(found.shape)).copy_(found)
    torch.as_tensor(outputs[1]).reshape(-1).copy_(torch.tensor([found.shape[0]]))


# In place (the sample's elemwise_add_plugin_): the output is aliased to the input.
@trtp.register("tp::add_inplace")
def _inplace_desc(inp0: trtp.TensorDesc, delta: int) -> trtp.TensorDesc:
    return inp0.aliased()


@trtp.impl("tp::add_inplace")
def _inplace_impl(inp0, delta: int, outputs, stream) -> None:
    assert outputs[0].get_aliased() is inp0
    torch.as_tensor(inp0).add_(delta)


# Shape arithmetic: out = [cdiv(n, 4), max(c, 3), min(c, 3) * 2, n*c // 2] from an input [n, c] (n dynamic), and
# whether each input dimension was a build-time constant.
SEEN_CONSTANT = []


@trtp.register("tp::shapes")
def _shapes_desc(x: trtp.TensorDesc) -> trtp.TensorDesc:
    n, c = x.shape_expr
    SEEN_CONSTANT.append((n.is_constant, c.is_constant))
    shape = (trtp.cdiv(n, 4), trtp.max(c, 3), trtp.min(c, 3) * 2, x.shape_expr.numel() // 2)
    return trtp.from_shape_expr(shape, dtype=trt.int32)


@trtp.impl("tp::shapes")
def _shapes_impl(x, outputs, stream) -> None:
    torch.as_tensor(outputs[0]).fill_(7)


# Multiple tactics: the impl receives the tactic reftrt chose (the smallest advertised one).
TACTICS_SEEN = []


@trtp.register("tp::tactics")
def _tactics_desc(x: trtp.TensorDesc) -> trtp.TensorDesc:
    return x.like()


@trtp.autotune("tp::tactics")
def _tactics_autotune(x: trtp.TensorDesc, outputs: Tuple[trtp.TensorDesc]) -> List[trtp.AutoTuneCombination]:
    c = trtp.AutoTuneCombination()
    c.pos([0, 1], "FP32|FP16")
    c.tactics([5, 3])
    return [c]


@trtp.impl("tp::tactics")
def _tactics_impl(x, outputs, stream, tactic: int) -> None:
    TACTICS_SEEN.append(tactic)
    torch.as_tensor(outputs[0]).copy_(torch.as_tensor(x) * tactic)


# AOT only (reftrt cannot run it), and AOT + JIT.
@trtp.register("tp::aot_only")
def _aot_only_desc(x: trtp.TensorDesc) -> trtp.TensorDesc:
    return x.like()


def _fake_aot(x, outputs, tactic):
    params = trtp.KernelLaunchParams()
    params.grid_x = trtp.cdiv(x.shape_expr.numel(), 256)
    return "kernel", "ptx", params, trtp.SymIntExprs.from_tuple([trtp.SymInt32(x.shape_expr.numel())])


@trtp.aot_impl("tp::aot_only")
def _aot_only_aot(x: trtp.TensorDesc, outputs: Tuple[trtp.TensorDesc], tactic: int) -> Tuple[
        str, str, trtp.KernelLaunchParams, trtp.SymIntExprs]:
    return _fake_aot(x, outputs, tactic)


@trtp.register("tp::aot_and_jit")
def _both_desc(x: trtp.TensorDesc) -> trtp.TensorDesc:
    return x.like()


@trtp.aot_impl("tp::aot_and_jit")
def _both_aot(x: trtp.TensorDesc, outputs: Tuple[trtp.TensorDesc], tactic: int) -> Tuple[
        str, str, trtp.KernelLaunchParams, trtp.SymIntExprs]:
    return _fake_aot(x, outputs, tactic)


@trtp.impl("tp::aot_and_jit")
def _both_impl(x, outputs, stream) -> None:
    torch.as_tensor(outputs[0]).copy_(torch.as_tensor(x) * 2)


@trtp.register("tp::raises")
def _raises_desc(x: trtp.TensorDesc) -> trtp.TensorDesc:
    return x.like()


@trtp.impl("tp::raises")
def _raises_impl(x, outputs, stream) -> None:
    raise KeyError("boom")


# ---- helpers ----------------------------------------------------------------------------------------------------

def build(define, profiles=None, logger=None, flags=0):
    """Define a network with `define(network)` (returns the outputs to mark) and build it; (plan, logger)."""
    logger = logger or CaptureLogger()
    builder = trt.Builder(logger)
    network = builder.create_network(flags)
    for t in define(network):
        network.mark_output(t)
    config = builder.create_builder_config()
    for shapes in profiles or []:
        profile = builder.create_optimization_profile()
        for name, (lo, opt, hi) in shapes.items():
            profile.set_shape(name, lo, opt, hi)
        config.add_optimization_profile(profile)
    return builder.build_serialized_network(network, config), logger


def run(plan, feeds, logger=None):
    """Run a plan on numpy inputs; {output name: array} (outputs of unknown size through an output allocator)."""
    logger = logger or CaptureLogger()
    engine = trt.Runtime(logger).deserialize_cuda_engine(plan)
    assert engine is not None, logger.errors()
    context = engine.create_execution_context()
    for name, array in feeds.items():
        assert context.set_input_shape(name, array.shape)
        context.set_tensor_address(name, array.ctypes.data)
    outputs, allocators = {}, {}
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        if engine.get_tensor_mode(name) != trt.TensorIOMode.OUTPUT:
            continue
        shape = list(context.get_tensor_shape(name))
        dtype = trt.nptype(engine.get_tensor_dtype(name))
        if any(d < 0 for d in shape):
            allocators[name] = Allocator(dtype)
            context.set_output_allocator(name, allocators[name])
        else:
            outputs[name] = np.zeros(shape, dtype)
            context.set_tensor_address(name, outputs[name].ctypes.data)
    ok = context.execute_async_v3(0)
    for name, allocator in allocators.items():
        outputs[name] = allocator.array()
    return ok, outputs, logger


class Allocator(trt.IOutputAllocator):
    def __init__(self, dtype):
        trt.IOutputAllocator.__init__(self)
        self.dtype, self.buffer, self.shape = np.dtype(dtype), None, None

    def reallocate_output_async(self, tensor_name, memory, size, alignment, stream):
        self.buffer = np.zeros(max(size, 1), np.uint8)
        return self.buffer.ctypes.data

    def notify_shape(self, tensor_name, shape):
        self.shape = list(shape)

    def array(self):
        count = int(np.prod(self.shape))
        return self.buffer[:count * self.dtype.itemsize].view(self.dtype).reshape(self.shape)


# ---- tests ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [trt.float32, trt.float16])
def test_elemwise_add_sample(dtype):
    rng = np.random.default_rng(1)
    seen = {}

    def define(network):
        x = network.add_input("x", dtype, (-1, 3, 5))
        layer = network.add_plugin(trtp.op.tp.elemwise_add(x, block_size=7))
        seen["layer"] = layer
        y = layer.get_output(0)
        seen["shape"], seen["dtype"] = y.shape, y.dtype
        y.name = "y"
        return [y]

    plan, logger = build(define, [{"x": ((1, 3, 5), (2, 3, 5), (4, 3, 5))}])
    assert plan is not None, logger.errors()
    layer = seen["layer"]
    assert layer.type == trt.LayerType.PLUGIN_V3 and isinstance(layer, trt.IPluginV3Layer)
    assert layer.name == "(Unnamed Layer* 0) [PluginV3]"
    assert layer.plugin.plugin_name == "elemwise_add" and layer.plugin.plugin_namespace == "tp"
    assert seen["shape"] == (-1, 3, 5) and seen["dtype"] == dtype
    x = rng.standard_normal((3, 3, 5)).astype(trt.nptype(dtype))
    ok, out, _ = run(plan, {"x": x})
    assert ok
    assert out["y"].dtype == x.dtype
    np.testing.assert_array_equal(out["y"], x + x.dtype.type(1))


def test_two_outputs_float_attributes_and_plan_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    offsets = rng.standard_normal(4).astype(np.float32)
    attrs = dict(alpha=0.75, beta=-1.5, offsets=offsets, tag="affine", negate=True)

    def define(network):
        x = network.add_input("x", trt.float16, (-1, 4, 3))
        layer = network.add_plugin(trtp.op.tp.affine_rowsum(x, **attrs))
        y, rows = layer.get_output(0), layer.get_output(1)
        assert (y.dtype, rows.dtype) == (trt.float16, trt.float32)
        assert (y.shape, rows.shape) == ((-1, 4, 3), (-1,))
        y.name, rows.name = "y", "rows"
        return [y, rows]

    profiles = [{"x": ((1, 4, 3), (2, 4, 3), (8, 4, 3))}]
    plan, logger = build(define, profiles)
    assert plan is not None, logger.errors()
    again, _ = build(define, profiles)
    assert bytes(plan) == bytes(again)  # deterministic plans
    path = tmp_path / "affine.plan"
    path.write_bytes(bytes(plan))
    x = rng.standard_normal((5, 4, 3)).astype(np.float16)
    ok, out, run_logger = run(path.read_bytes(), {"x": x})
    assert ok, run_logger.errors()
    y_ref, rows_ref = _affine_ref(x.astype(np.float32), 0.75, -1.5, offsets, True)
    assert out["y"].dtype == np.float16 and out["rows"].dtype == np.float32
    np.testing.assert_allclose(out["y"].astype(np.float64), y_ref, rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(out["rows"], rows_ref, rtol=1e-5, atol=1e-5)


def test_data_dependent_output_size_tensor():
    rng = np.random.default_rng(3)

    def define(network):
        x = network.add_input("X", trt.float32, (16, 12))
        layer = network.add_plugin(trtp.op.tp.non_zero(x))
        y, count = layer.get_output(0), layer.get_output(1)
        assert y.shape == (-1, 2) and y.dtype == trt.int32
        assert count.shape == () and count.dtype == trt.int64
        y.name, count.name = "Y", "count"
        return [y, count]

    plan, logger = build(define)
    assert plan is not None, logger.errors()
    x = rng.standard_normal((16, 12)).astype(np.float32)
    x[rng.random((16, 12)) < 0.6] = 0
    ok, out, _ = run(plan, {"X": x})
    assert ok
    expected = np.argwhere(x != 0)
    np.testing.assert_array_equal(out["Y"], expected)
    assert int(out["count"]) == len(expected)


def test_inplace_aliased_output():
    def define(network):
        x = network.add_input("x", trt.float32, (2, 3))
        first = network.add_plugin(trtp.op.tp.add_inplace(x, delta=2))
        second = network.add_plugin(trtp.op.tp.add_inplace(first.get_output(0), delta=4))
        second.get_output(0).name = "y"
        return [second.get_output(0)]

    plan, logger = build(define)
    assert plan is not None, logger.errors()
    x = np.ones((2, 3), np.float32)
    ok, out, _ = run(plan, {"x": x})
    assert ok
    np.testing.assert_array_equal(out["y"], np.full((2, 3), 7, np.float32))
    np.testing.assert_array_equal(x, np.ones((2, 3), np.float32))


def test_shape_expressions_and_constness():
    SEEN_CONSTANT.clear()
    shapes = {}

    def define(network):
        x = network.add_input("x", trt.float32, (-1, 5))
        y = network.add_plugin(trtp.op.tp.shapes(x)).get_output(0)
        shapes["definition"] = y.shape
        y.name = "y"
        return [y]

    plan, logger = build(define, [{"x": ((1, 5), (9, 5), (16, 5))}])
    assert plan is not None, logger.errors()
    assert shapes["definition"] == (-1, 5, 6, -1)
    assert set(SEEN_CONSTANT) == {(False, True)}
    ok, out, _ = run(plan, {"x": np.zeros((9, 5), np.float32)})
    assert ok and out["y"].shape == (3, 5, 6, 22) and (out["y"] == 7).all()


def test_shape_expression_api():
    a, b = trtp.ShapeExpr(7), trtp.ShapeExpr(3)
    assert (a + b).constant_value() == 10 and (a - 2).constant_value() == 5
    assert (a * b).constant_value() == 21 and (a // b).constant_value() == 2
    assert trtp.cdiv(a, b).constant_value() == 3 and trtp.cdiv(7, b).constant_value() == 3
    assert trtp.max(a, b).constant_value() == 7 and trtp.min(a, 4).constant_value() == 4
    assert bool(a == 7) and bool(b < a) and not bool(a < b)
    with pytest.raises(ValueError, match="Both arguments cannot be 'int's"):
        trtp.cdiv(1, 2)
    with pytest.raises(TypeError):
        2 * a  # no reflected operators, as in TensorRT
    exprs = trtp.ShapeExprs.from_tuple((a, 2, b))
    assert exprs.numel().constant_value() == 42 and len(exprs) == 3
    assert trtp.ShapeExpr().is_fake
    with pytest.raises(RuntimeError):
        trtp.ShapeExpr().is_constant
    st = trtp.size_tensor(a, b * 4)
    assert st.is_size_tensor and st.expr().is_size_tensor and st.upper_bound.constant_value() == 12
    with pytest.raises(ValueError, match="size tensor"):
        st.expr() + 1
    desc = trtp.from_shape_expr((a, 5), dtype=trt.float32)
    assert desc.ndim == 2 and not desc.has_shape and desc.like().dtype == trt.float32
    frozen = desc.aliased()
    assert frozen.is_aliased and frozen.get_aliased() is desc
    with pytest.raises(ValueError, match="immutable"):
        frozen.dtype = trt.float16
    combination = trtp.AutoTuneCombination("FP32*FP16, FP32|FP16, INT32|INT64", "LINEAR", [1])
    found = {tuple(t.name for t in c.types) for c in combination._get_combinations()}
    assert found == {("FLOAT", "FLOAT", "INT32"), ("FLOAT", "HALF", "INT64"), ("HALF", "FLOAT", "INT32"),
                     ("HALF", "HALF", "INT64")}
    params = trtp.KernelLaunchParams(grid_x=4)
    assert isinstance(params.grid_x, trtp.SymInt32) and params.grid_x.constant_value() == 4
    with pytest.raises(AttributeError):
        params.grid_w = 1


def test_autotune_type_mismatch_fails_build():
    def define(network):
        x = network.add_input("x", trt.int32, (4,))
        return [network.add_plugin(trtp.op.tp.elemwise_add(x, block_size=4)).get_output(0)]

    plan, logger = build(define)
    assert plan is None
    text = "\n".join(logger.errors())
    assert "(Unnamed Layer* 0) [PluginV3]" in text and "tp::elemwise_add" in text
    assert "INT32, INT32" in text and "autotune" in text


def test_multiple_tactics_smallest_is_used():
    TACTICS_SEEN.clear()

    def define(network):
        x = network.add_input("x", trt.float32, (3,))
        y = network.add_plugin(trtp.op.tp.tactics(x)).get_output(0)
        y.name = "y"
        return [y]

    plan, logger = build(define)
    assert plan is not None, logger.errors()
    x = np.array([1, 2, 3], np.float32)
    ok, out, _ = run(plan, {"x": x})
    assert ok and TACTICS_SEEN == [3]
    np.testing.assert_array_equal(out["y"], x * 3)


def test_aot_only_plugin_fails_build_and_aot_with_jit_runs_jit():
    def only(network):
        x = network.add_input("x", trt.float32, (3,))
        return [network.add_plugin(trtp.op.tp.aot_only(x)).get_output(0)]

    plan, logger = build(only)
    assert plan is None
    assert any("tp::aot_only" in m and "AOT" in m and "cannot run" in m for m in logger.errors())

    def both(network):
        x = network.add_input("x", trt.float32, (3,))
        y = network.add_plugin(trtp.op.tp.aot_and_jit(x), aot=True).get_output(0)
        y.name = "y"
        return [y]

    plan, logger = build(both)
    assert plan is not None, logger.errors()
    assert any("tp::aot_and_jit" in m and "@tensorrt.plugin.impl" in m for m in logger.warnings())
    ok, out, _ = run(plan, {"x": np.array([1, 2, 3], np.float32)})
    assert ok and out["y"].tolist() == [2, 4, 6]

    # Both implementations and no preference: TensorRT's plugin creator refuses, so does reftrt.
    network = trt.Builder(CaptureLogger()).create_network()
    x = network.add_input("x", trt.float32, (3,))
    with pytest.raises(ValueError, match="both AOT and JIT"):
        network.add_plugin(trtp.op.tp.aot_and_jit(x))
    network = trt.Builder(CaptureLogger()).create_network(
        1 << int(trt.NetworkDefinitionCreationFlag.PREFER_JIT_PYTHON_PLUGINS))
    x = network.add_input("x", trt.float32, (3,))
    assert network.add_plugin(trtp.op.tp.aot_and_jit(x)).plugin._kind == "jit"
    with pytest.raises(ValueError, match="JIT implementation requested"):
        network.add_plugin(trtp.op.tp.aot_only(x), aot=False)


def test_unregistered_plugin_at_deserialization():
    def define(network):
        x = network.add_input("x", trt.float32, (3,))
        y = network.add_plugin(trtp.op.tp.elemwise_add(x, block_size=2)).get_output(0)
        y.name = "y"
        return [y]

    plan, logger = build(define)
    assert plan is not None, logger.errors()
    # The same plan, but naming a plugin this process never registered (repacked: the checksum stays valid).
    header, body = _plan.split(plan)
    assert "tp::elemwise_add" in header
    renamed = _plan.pack(json.loads(header.replace("tp::elemwise_add", "tp::elemwise_XYZ")), body)
    runtime_logger = CaptureLogger()
    assert trt.Runtime(runtime_logger).deserialize_cuda_engine(renamed) is None
    (message,) = runtime_logger.errors()
    assert "tp::elemwise_XYZ" in message and "not registered" in message


def test_impl_exception_fails_execution():
    def define(network):
        x = network.add_input("x", trt.float32, (3,))
        y = network.add_plugin(trtp.op.tp.raises(x)).get_output(0)
        y.name = "y"
        return [y]

    plan, logger = build(define)
    assert plan is not None, logger.errors()
    ok, _, run_logger = run(plan, {"x": np.zeros(3, np.float32)})
    assert not ok
    assert any("tp::raises" in m and "KeyError" in m for m in run_logger.errors()), run_logger.errors()


def test_op_call_checks_the_registered_schema():
    network = trt.Builder(CaptureLogger()).create_network()
    x = network.add_input("x", trt.float32, (2, 4))
    offsets = np.zeros(4, np.float32)
    good = dict(alpha=1.0, beta=0.0, offsets=offsets, tag="t", negate=False)
    trtp.op.tp.affine_rowsum(x, **good)
    with pytest.raises(ValueError, match="Unexpected type"):
        trtp.op.tp.affine_rowsum(x, **{**good, "alpha": 1})  # int for a float attribute
    with pytest.raises(ValueError, match="Unexpected dtype"):
        trtp.op.tp.affine_rowsum(x, **{**good, "offsets": offsets.astype(np.float64)})
    with pytest.raises(ValueError, match="Unexpected schema"):
        trtp.op.tp.affine_rowsum(x, alpha=1.0, beta=0.0, offsets=offsets, tag="t")
    with pytest.raises(ValueError, match="Unexpected schema"):  # attributes in the registered order only
        trtp.op.tp.affine_rowsum(x, beta=0.0, alpha=1.0, offsets=offsets, tag="t", negate=False)
    with pytest.raises(ValueError, match="Unexpected attribute"):
        trtp.op.tp.affine_rowsum(x, **good, gamma=1.0)
    with pytest.raises(ValueError, match="Expected trt.ITensor"):
        trtp.op.tp.elemwise_add(np.zeros(3), block_size=1)
    with pytest.raises(AttributeError):
        trtp.op.tp.not_there
    with pytest.raises(TypeError):
        network.add_plugin_v3([x], [], object())


def test_registration_is_as_strict_as_tensorrt():
    with pytest.raises(ValueError, match="not a supported serializable type"):
        @trtp.register("tp::bad_list")
        def _bad(x: trtp.TensorDesc, sizes: list) -> trtp.TensorDesc:
            return x.like()
    with pytest.raises(ValueError, match="does not have a type annotation"):
        @trtp.register("tp::bad_annotation")
        def _bad2(x: trtp.TensorDesc, size) -> trtp.TensorDesc:
            return x.like()
    with pytest.raises(ValueError, match="reserved namespace"):
        @trtp.register("trt::x")
        def _bad3(x: trtp.TensorDesc) -> trtp.TensorDesc:
            return x.like()
    with pytest.raises(ValueError, match="already has a defintion"):
        @trtp.register("tp::elemwise_add")
        def _again(x: trtp.TensorDesc, block_size: int) -> trtp.TensorDesc:
            return x.like()
    with pytest.raises(ValueError, match="does not match the expected input arg schema"):
        @trtp.impl("tp::shapes")
        def _wrong_names(inp, outputs, stream):
            pass
    with pytest.raises(ValueError, match="is not registered"):
        @trtp.impl("tp::never")
        def _unknown(x, outputs, stream):
            pass
    assert trt.get_plugin_registry().get_creator("elemwise_add", "1", "tp") is not None


def test_tensor_wrapper():
    from reftrt.plugin._tensor import Tensor
    buffer = torch.arange(12, dtype=torch.float32)
    t = Tensor._wrap(buffer, (3, 4), trt.float32, 0, True)
    assert t.shape[1] == 4 and len(t.shape) == 2 and t.ndim == 2 and t.numel() == 12
    assert t.data_ptr == buffer.data_ptr() and t.strides == (4, 1) and t.format == trt.TensorFormat.LINEAR
    assert torch.as_tensor(t).data_ptr() == buffer.data_ptr()
    assert np.asarray(t).ctypes.data == buffer.data_ptr() and np.asarray(t).shape == (3, 4)
    view = t.aliased((2, 6))
    assert view.get_aliased() is t and torch.from_dlpack(view).shape == (2, 6)
    with pytest.raises(ValueError, match="Volume"):
        t.aliased((5, 4))
    with pytest.raises(ValueError, match="immutable"):
        t._immutable = True
        t.dtype = trt.float16


def test_tensor_wrapper_types_and_data_dependent_shapes():
    from reftrt.plugin._tensor import Tensor
    half = torch.arange(6, dtype=torch.bfloat16)
    t = Tensor._wrap(half, (2, 3), trt.bfloat16, 0, True)
    assert torch.as_tensor(t).dtype == torch.bfloat16 and torch.as_tensor(t).data_ptr() == half.data_ptr()
    with pytest.raises(ValueError, match="__array_interface__"):
        np.asarray(t)
    flags = Tensor._wrap(torch.tensor([True, False]), (2,), trt.bool, 0, True)
    assert torch.as_tensor(flags).tolist() == [True, False]
    dds = Tensor._wrap(torch.zeros(10, dtype=torch.int32), (-1, 2), trt.int32, 0, False)
    assert dds.is_data_dependent
    with pytest.raises(ValueError, match="data-dependent"):
        dds.numel()
    assert torch.as_tensor(dds.aliased((3, 2))).shape == (3, 2)

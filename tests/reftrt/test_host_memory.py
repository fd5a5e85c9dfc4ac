"""IHostMemory as TensorRT's: a buffer with `dtype` and `nbytes` and nothing else (no bytes methods, no len())."""
import sys

import numpy as np
import pytest

import reftrt as trt
from tests.helpers.trt_logger import Recorder


def _plan():
    logger = Recorder()
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    x = network.add_input("x", trt.float32, (2, 3))
    y = network.add_activation(x, trt.ActivationType.RELU).get_output(0)
    y.name = "y"
    network.mark_output(y)
    plan = builder.build_serialized_network(network, builder.create_builder_config())
    assert plan is not None, logger.errors()
    return plan


def test_a_plan_is_a_buffer_not_bytes(tmp_path):
    plan = _plan()
    assert isinstance(plan, trt.IHostMemory) and not isinstance(plan, (bytes, bytearray))
    data = bytes(plan)
    assert data.startswith(b"REFTRTPLAN")
    assert plan.nbytes == len(data) and plan.dtype == trt.DataType.UINT8
    view = memoryview(plan)
    assert view.nbytes == plan.nbytes and view.tobytes() == data
    assert np.frombuffer(plan, np.uint8).tobytes() == data
    path = tmp_path / "net.plan"
    path.write_bytes(plan)
    assert path.read_bytes() == data
    assert hasattr(plan, "__buffer__") == (sys.version_info >= (3, 12))


def test_engine_serialize_and_timing_cache_give_host_memory():
    plan = _plan()
    engine = trt.Runtime(Recorder()).deserialize_cuda_engine(plan)
    again = engine.serialize()
    assert isinstance(again, trt.IHostMemory) and bytes(again) == bytes(plan) and again is not plan
    cache = trt.Builder(Recorder()).create_builder_config().create_timing_cache(b"")
    assert isinstance(cache.serialize(), trt.IHostMemory) and cache.serialize().nbytes == 0


def test_only_dtype_and_nbytes():
    plan = _plan()
    assert {k for k in dir(plan) if not k.startswith("_")} == {"dtype", "nbytes"}
    assert {k for k in dir(trt.IHostMemory) if not k.startswith("_")} == {"dtype", "nbytes"}
    for use in (len, lambda p: p[0], lambda p: p[:4], iter, lambda p: p.startswith(b"R")):
        with pytest.raises((TypeError, AttributeError)):
            use(plan)
    with pytest.raises(AttributeError):
        plan.nbytes = 3
    with pytest.raises(TypeError):
        trt.IHostMemory()
    assert plan == plan and plan != _plan() and hash(plan) == hash(plan)  # identity, as pybind11 objects

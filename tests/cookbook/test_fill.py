"""Cookbook Fill: every case of cookbook/02-API/Layer/Fill/main.py against Fill.log (TensorRT 10.16).

RANDOM_UNIFORM / RANDOM_NORMAL values cannot be matched: reftrt draws from torch's generator, not TensorRT's. Those
cases check the I/O lines (type, build-time and run-time shapes, names), the inputs, the range / rough statistics
of the values, and that a second run draws new values, as the log shows.
case_dds needs the NonZero layer (another family) and is skipped while reftrt lacks it.
"""
import numpy as np
import pytest

import reftrt as trt
from tests.cookbook._shape_family_harness import Wrapper, read_case

LOG = "Fill"
F32, I32 = trt.DataType.FLOAT, trt.DataType.INT32


def test_case_linspace_1():
    tw = Wrapper()
    layer = tw.network.add_fill([4], trt.FillOperation.LINSPACE, trt.DataType.FLOAT)
    layer.operation = trt.FillOperation.LINSPACE
    layer.to_type = trt.DataType.FLOAT
    layer.alpha = [1000]  # the bindings ignore values that are not numbers: the output starts at 0, as logged
    layer.beta = [1]
    assert layer.is_alpha_beta_int64() is False  # printed by the case
    assert layer.alpha == 0.0 and layer.beta == 1.0
    tw.build([layer.get_output(0)])
    tw.check(read_case(LOG, "case_linspace_1")[0])


def test_case_linspace_2():
    data = {"tensor": np.array(1000, dtype=np.float32), "tensor1": np.array([100, 10, 1], dtype=np.float32)}
    tw = Wrapper()
    tensor = tw.network.add_input("tensor", F32, data["tensor"].shape)
    tensor1 = tw.network.add_input("tensor1", F32, data["tensor1"].shape)
    layer = tw.network.add_fill([3, 4, 5], trt.FillOperation.LINSPACE, trt.DataType.FLOAT)
    layer.set_input(1, tensor)
    layer.set_input(2, tensor1)
    assert layer.alpha == -1.0 and layer.beta == -1.0  # getters while inputs 1 and 2 are set
    tw.build([layer.get_output(0)])
    tw.check(read_case(LOG, "case_linspace_2")[0], data)


def _random_case(case, op, alpha, beta):
    data = {"tensor": np.array(alpha, dtype=np.float32), "tensor1": np.array(beta, dtype=np.float32)}
    tw = Wrapper()
    tensor = tw.network.add_input("tensor", F32, data["tensor"].shape)
    tensor1 = tw.network.add_input("tensor1", F32, data["tensor1"].shape)
    layer = tw.network.add_fill([3, 4, 5], op)
    layer.set_input(1, tensor)
    layer.set_input(2, tensor1)
    tw.build([layer.get_output(0)])
    runs = read_case(LOG, case)
    assert len(runs) == 2  # the case runs twice and prints different values
    outputs = []
    name = layer.get_output(0).name
    for run in runs:
        buffers = tw.check(run, data, compare=False)
        for io in run.io[:2]:
            np.testing.assert_allclose(buffers[io.name].reshape(-1), run.array(io.name).reshape(-1), rtol=1e-6)
        outputs.append(buffers[name])
    assert not np.array_equal(outputs[0], outputs[1])
    return np.concatenate([o.reshape(-1) for o in outputs]), runs, name


def test_case_random_normal():
    values, runs, name = _random_case("case_random_normal", trt.FillOperation.RANDOM_NORMAL, 0.0, 0.92)
    # 120 draws: mean within ~4 standard errors of 0, standard deviation within ~25% of beta.
    assert abs(values.mean()) < 4 * 0.92 / np.sqrt(values.size)
    assert 0.7 < values.std() < 1.2
    logged = np.concatenate([r.array(name).reshape(-1) for r in runs])
    assert abs(logged.mean()) < 4 * 0.92 / np.sqrt(logged.size) and 0.7 < logged.std() < 1.2


def test_case_random_uniform():
    values, runs, name = _random_case("case_random_uniform", trt.FillOperation.RANDOM_UNIFORM, 5.0, 10.0)
    assert values.min() >= 5.0 and values.max() <= 10.0
    assert abs(values.mean() - 7.5) < 4 * (5 / np.sqrt(12)) / np.sqrt(values.size)
    logged = np.concatenate([r.array(name).reshape(-1) for r in runs])
    assert logged.min() >= 5.0 and logged.max() <= 10.0


def test_case_shape_input():
    data = {"tensor": np.array([3, 4, 5], dtype=np.int32), "tensor1": np.float32(1000),
            "tensor2": np.array([100, 10, 1], dtype=np.float32)}
    tw = Wrapper()
    tensor = tw.network.add_input("tensor", I32, data["tensor"].shape)
    tensor1 = tw.network.add_input("tensor1", F32, data["tensor1"].shape)
    tensor2 = tw.network.add_input("tensor2", F32, data["tensor2"].shape)
    tw.profile.set_shape_input(tensor.name, [1, 1, 1], [3, 4, 5], [3, 4, 5])
    layer = tw.network.add_fill([], trt.FillOperation.LINSPACE)
    layer.set_input(0, tensor)
    layer.set_input(1, tensor1)
    layer.set_input(2, tensor2)
    assert layer.shape is None
    assert layer.get_output(0).shape == (-1, -1, -1)
    tw.build([layer.get_output(0)])
    tw.check(read_case(LOG, "case_shape_input")[0], data)


def test_case_dds():
    tw = Wrapper()
    if not hasattr(tw.network, "add_non_zero"):
        pytest.skip("needs INonZeroLayer (the NonZero family), not in reftrt yet")
    data0 = np.zeros([3, 4, 5], dtype=np.float32)
    for index, value in zip([(0, 0, 1), (0, 2, 3), (0, 3, 4), (1, 1, 0), (1, 1, 1), (1, 1, 2), (1, 1, 3), (1, 1, 4),
                             (2, 0, 1), (2, 1, 1), (2, 2, 1), (2, 3, 1)], range(1, 13)):
        data0[index] = value
    data = {"tensor": data0, "tensor1": np.float32(1000), "tensor2": np.array([10, 1], dtype=np.float32)}
    tensor = tw.network.add_input("tensor", F32, [-1, -1, -1])
    tensor1 = tw.network.add_input("tensor1", F32, data["tensor1"].shape)
    tensor2 = tw.network.add_input("tensor2", F32, data["tensor2"].shape)
    tw.profile.set_shape(tensor.name, [1, 1, 1], [3, 4, 5], [3, 4, 5])
    layer1 = tw.network.add_non_zero(tensor)
    layer2 = tw.network.add_shape(layer1.get_output(0))
    layer = tw.network.add_fill([], trt.FillOperation.LINSPACE)
    layer.set_input(0, layer2.get_output(0))
    layer.set_input(1, tensor1)
    layer.set_input(2, tensor2)
    tw.build([layer.get_output(0)])
    tw.check(read_case(LOG, "case_dds")[0], data)


def test_fill_operation_members():
    assert {k: int(v) for k, v in trt.FillOperation.__members__.items()} == \
        {"LINSPACE": 0, "RANDOM_UNIFORM": 1, "RANDOM_NORMAL": 2}

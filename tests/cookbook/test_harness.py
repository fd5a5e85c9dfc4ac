"""The Cookbook harness (tests/cookbook/harness.py): comparison rules, and one run per wrapper flavour
(TRTWrapperV1, TRTWrapperShapeInput, TRTWrapperDDS) on layers every reftrt version has."""
import numpy as np
import pytest

import reftrt
from tests.cookbook.harness import assert_case, compare_array, log_inputs, run
from tests.cookbook.logs import load_log, parse_array


def test_compare_exact_for_ints_and_bools():
    compare_array(np.array([1, -2], dtype=np.int32), parse_array("[ 1 -2]", "INT32"))
    with pytest.raises(AssertionError, match=r"1 of 2 values differ"):
        compare_array(np.array([1, -3]), parse_array("[ 1 -2]", "INT32"))
    with pytest.raises(AssertionError):
        compare_array(np.array([True, True]), parse_array("[ True False]", "BOOL"))


def test_compare_float_tolerances():
    printed = parse_array("[12345.679  0.  1.5]", "FLOAT")
    compare_array(np.array([12345.68, 1e-3, 1.5], dtype=np.float32), printed)  # atol = 1e-6 * max|log|
    with pytest.raises(AssertionError, match=r"at \(0,\)"):
        compare_array(np.array([12345.9, 0, 1.5], dtype=np.float32), printed)
    # Positional printing rounds to 8 decimals: 0.00074405 stands for anything within 5e-9.
    compare_array(np.array([0.000744054], dtype=np.float32), parse_array("[0.00074405]", "FLOAT"), atol=0)
    special = parse_array("[ nan -inf  1.]", "FLOAT")
    compare_array(np.array([np.nan, -np.inf, 1.0]), special)
    with pytest.raises(AssertionError):
        compare_array(np.array([0.0, -np.inf, 1.0]), special)


def test_compare_shapes():
    compare_array(np.array(2, dtype=np.int32), parse_array("[2]", "INT32"))  # 0-d input printed 1-d
    with pytest.raises(AssertionError, match="shape"):
        compare_array(np.zeros((2, 3)), parse_array("[[0. 0.]\n [0. 0.]\n [0. 0.]]", "FLOAT"))
    full = np.arange(3000, dtype=np.float32).reshape(3, 1000)
    printed = parse_array(str(full), "FLOAT", full.shape)
    compare_array(full, printed)
    full[0, 1] = -1
    with pytest.raises(AssertionError):
        compare_array(full, printed)


def _relu(b):
    tensor = b.network.add_input("tensor", b.trt.float32, (3, 3))
    return [b.network.add_activation(tensor, b.trt.ActivationType.RELU).get_output(0)]


def test_run_v1():
    case = load_log("Activation").case("case_simple")
    result = run(_relu, {"tensor": np.arange(9, dtype=np.float32).reshape(3, 3) - 4})
    assert_case(result, case)
    assert result.outputs["(Unnamed Layer* 0) [Activation]_output"].dtype == np.float32
    with pytest.raises(AssertionError, match="tensor"):  # inputs are checked too
        assert_case(run(_relu, {"tensor": np.zeros((3, 3), dtype=np.float32)}), case)


def test_run_shape_input():
    case = load_log("Slice").case("case_shape_input")

    def build(b):
        net, trt = b.network, b.trt
        tensor = net.add_input("tensor", trt.float32, (1, 3, 4, 5))
        bounds = {"tensor1": ([0, 0, 0, 0], [0, 1, 1, 1], [0, 2, 2, 2]),
                  "tensor2": ([1, 1, 1, 1], [1, 2, 3, 4], [1, 3, 4, 5]),
                  "tensor3": ([1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1])}
        layer = net.add_slice(tensor, [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0])
        for index, (name, (lo, opt, hi)) in enumerate(bounds.items(), 1):
            b.profile.set_shape_input(name, lo, opt, hi)
            layer.set_input(index, net.add_input(name, trt.int32, (4,)))
        return [layer.get_output(0)]

    assert_case(run(build, log_inputs(case)), case)


@pytest.mark.skipif(not hasattr(reftrt.INonZeroLayer, "indices_type"), reason="the log's INT64 indices need "
                    "INonZeroLayer.indices_type, which the emulated TensorRT version lacks")
def test_run_data_dependent_output():
    case = load_log("NonZero").case("case_simple")

    def build(b):
        tensor = b.network.add_input("tensor", b.trt.float32, (3, 4, 5))
        layer = b.network.add_non_zero(tensor)
        layer.indices_type = b.trt.int64
        return [layer.get_output(0)]

    result = run(build, log_inputs(case))
    assert_case(result, case)
    assert result.outputs["(Unnamed Layer* 0) [NonZero]_output"].shape == (3, 12)


def test_failed_build_is_reported():
    result = run(lambda b: b.network.add_input("tensor", b.trt.float32, (3, 3)) and None, {})
    assert not result.built and result.messages and result.messages[0][0] == "ERROR"
    with pytest.raises(AssertionError, match="build failed"):
        assert_case(result, load_log("Activation").case("case_simple"))

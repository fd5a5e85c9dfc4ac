"""Cookbook Elementwise: every case of cookbook/02-API/Layer/Elementwise/main.py against Elementwise.log
(TensorRT 10.16). Both cases are float SUM; tests/reftrt/test_math_family.py covers every ElementWiseOperation with
its type rules against PyTorch.
"""
import numpy as np

import reftrt as trt
from tests.cookbook._math_family import assert_case, layer_attributes, logged_attributes
from tests.cookbook.harness import run
from tests.cookbook.logs import load_log

LOG = load_log("Elementwise")


def _case(shape0, value0, shape1, value1, check=None):
    data = {"tensor": np.full(shape0, value0, dtype=np.float32), "tensor1": np.full(shape1, value1, dtype=np.float32)}

    def build(b):
        tensor = b.network.add_input("tensor", trt.float32, shape0)
        tensor1 = b.network.add_input("tensor1", trt.float32, shape1)
        layer = b.network.add_elementwise(tensor, tensor1, trt.ElementWiseOperation.SUM)
        if check:
            check(layer)
        return [layer.get_output(0)]

    return run(build, data)


def test_case_simple():
    case = LOG.case("case_simple")

    def check(layer):
        layer.op = trt.ElementWiseOperation.SUM
        assert layer.op == trt.ElementWiseOperation.SUM
        assert layer_attributes(layer) == logged_attributes(case)

    assert_case(_case([3, 4, 5], 2, [3, 4, 5], 3, check), case)


def test_case_broadcast():
    assert_case(_case([3, 1, 5], 1, [3, 4, 1], 2), LOG.case("case_broadcast"))


def test_enum_members():
    assert {k: int(v) for k, v in trt.ElementWiseOperation.__members__.items()} == LOG.enums["ElementWiseOperation"]

"""Cookbook Unary: every case of cookbook/02-API/Layer/Unary/main.py against Unary.log (TensorRT 10.16). The case is
ABS; tests/reftrt/test_math_family.py covers every UnaryOperation and its type rules against PyTorch.
"""
import numpy as np

import reftrt as trt
from tests.cookbook._math_family import assert_case, layer_attributes, logged_attributes
from tests.cookbook.harness import run
from tests.cookbook.logs import load_log

LOG = load_log("Unary")


def test_case_simple():
    data = {"tensor": np.arange(9, dtype=np.float32).reshape(3, 3) - 4}
    case = LOG.case("case_simple")

    def build(b):
        tensor = b.network.add_input("tensor", trt.float32, data["tensor"].shape)
        layer = b.network.add_unary(tensor, trt.UnaryOperation.ABS)
        layer.op = trt.UnaryOperation.ABS
        assert layer.op == trt.UnaryOperation.ABS
        assert layer_attributes(layer) == logged_attributes(case)
        return [layer.get_output(0)]

    assert_case(run(build, data), case)


def test_enum_members():
    assert {k: int(v) for k, v in trt.UnaryOperation.__members__.items()} == LOG.enums["UnaryOperation"]

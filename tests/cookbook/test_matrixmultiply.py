"""Cookbook MatrixMultiply: every case of cookbook/02-API/Layer/MatrixMultiply/main.py against MatrixMultiply.log
(TensorRT 10.16): NONE x NONE, NONE x TRANSPOSE, NONE x VECTOR and a broadcast batch. The layer prints as
"Matrix Multiply". tests/reftrt/test_math_family.py covers every MatrixOperation pair against PyTorch.
"""
import numpy as np
import pytest

import reftrt as trt
from tests.cookbook._math_family import assert_case, layer_attributes, logged_attributes
from tests.cookbook.harness import run
from tests.cookbook.logs import load_log

LOG = load_log("MatrixMultiply")
DATA = {"tensor": np.arange(60, dtype=np.float32).reshape(1, 3, 4, 5)}
NONE, TRANSPOSE, VECTOR = trt.MatrixOperation.NONE, trt.MatrixOperation.TRANSPOSE, trt.MatrixOperation.VECTOR


@pytest.mark.parametrize("name, weight_shape, op1", [
    ("case_simple", (1, 3, 5, 4), NONE),
    ("case_transpose", (1, 3, 4, 5), TRANSPOSE),
    ("case_vector", (1, 3, 5), VECTOR),
    ("case_broadcast", (1, 1, 5, 4), NONE),
])
def test_case(name, weight_shape, op1):
    case = LOG.case(name)

    def build(b):
        tensor = b.network.add_input("tensor", trt.float32, DATA["tensor"].shape)
        weight = b.network.add_constant(weight_shape, trt.Weights(np.ones(weight_shape, dtype=np.float32)))
        layer = b.network.add_matrix_multiply(tensor, NONE, weight.get_output(0), op1)
        if name == "case_simple":
            layer.op0 = NONE
            layer.op1 = NONE
            assert (layer.op0, layer.op1) == (NONE, NONE)
            assert layer_attributes(layer) == logged_attributes(case)
        return [layer.get_output(0)]

    assert_case(run(build, DATA), case)


def test_enum_members():
    assert {k: int(v) for k, v in trt.MatrixOperation.__members__.items()} == LOG.enums["MatrixOperation"]

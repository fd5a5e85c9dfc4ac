"""Cookbook Select: every case of cookbook/02-API/Layer/Select/main.py against Select.log (TensorRT 10.16)."""
import numpy as np

import reftrt as trt
from tests.cookbook._math_family import assert_case, layer_attributes, logged_attributes
from tests.cookbook.harness import run
from tests.cookbook.logs import load_log

LOG = load_log("Select")


def test_case_simple():
    shape = [1, 3, 4, 5]
    data0 = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    data = {"tensor": data0, "tensor1": -data0,
            "tensor2": (np.arange(np.prod(shape)) % 2).astype(bool).reshape(shape)}
    case = LOG.case("case_simple")

    def build(b):
        tensor0 = b.network.add_input("tensor", trt.float32, shape)
        tensor1 = b.network.add_input("tensor1", trt.float32, shape)
        tensor2 = b.network.add_input("tensor2", trt.bool, shape)
        layer = b.network.add_select(tensor2, tensor0, tensor1)
        assert layer_attributes(layer) == logged_attributes(case) == []
        return [layer.get_output(0)]

    result = run(build, data)
    assert_case(result, case)
    # The log prints -0. where the else branch (-data0) is taken at 0: the sign survives the selection.
    assert np.signbit(result["(Unnamed Layer* 0) [Select]_output"].reshape(-1)[0])

"""Cookbook Reduce: every case of cookbook/02-API/Layer/Reduce/main.py against Reduce.log (TensorRT 10.16). The case
is SUM over axis 1; tests/reftrt/test_math_family.py covers every ReduceOperation, axes and keep_dims.
"""
import numpy as np

import reftrt as trt
from tests.cookbook._math_family import IS_10, assert_case, layer_attributes, logged_attributes
from tests.cookbook.harness import run
from tests.cookbook.logs import load_log

LOG = load_log("Reduce")


def test_case_simple():
    data = {"tensor": np.ones([3, 4, 5], dtype=np.float32)}
    case = LOG.case("case_simple")

    def build(b):
        tensor = b.network.add_input("tensor", trt.float32, data["tensor"].shape)
        layer = b.network.add_reduce(tensor, trt.ReduceOperation.SUM, 1 << 1, False)
        layer.op = trt.ReduceOperation.SUM
        layer.axes = 1 << 1
        layer.keep_dims = False
        assert (layer.op, layer.axes, layer.keep_dims) == (trt.ReduceOperation.SUM, 2, False)
        assert layer_attributes(layer) == logged_attributes(case)
        return [layer.get_output(0)]

    assert_case(run(build, data), case)


def test_enum_members():
    logged = dict(LOG.enums["ReduceOperation"])
    if IS_10:
        del logged["NONE"]  # added after 10.3 (for DistCollective)
    assert {k: int(v) for k, v in trt.ReduceOperation.__members__.items()} == logged

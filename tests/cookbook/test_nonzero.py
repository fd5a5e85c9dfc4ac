"""Cookbook NonZero: every case of cookbook/02-API/Layer/NonZero/main.py against NonZero.log (TensorRT 10.16).

The output has a data-dependent shape (3, -1): the harness reads it through an IOutputAllocator, as the
Cookbook's TRTWrapperDDS does. Both cases use indices_type (and case_simple the 2-argument add_non_zero), which
exist in the 11.x API only: under REFTRT_TRT_VERSION=10.3 they are skipped, and tests/reftrt/test_resize_family.py
checks the 10.3 API (INT32 indices, no indices_type).
"""
import numpy as np
import pytest

import reftrt as trt
from tests.cookbook.harness import assert_case, run
from tests.cookbook.test_resize import layer_attributes, logged_attributes
from tests.cookbook.logs import load_log

LOG = load_log("NonZero")
pytestmark = pytest.mark.skipif(not hasattr(trt.INonZeroLayer, "indices_type"),
                                reason="indices_type is TensorRT 11 API")


def _data():
    data = np.zeros([3, 4, 5], dtype=np.float32)
    for value, index in enumerate([(0, 0, 1), (0, 2, 3), (0, 3, 4), (1, 1, 0), (1, 1, 1), (1, 1, 2), (1, 1, 3),
                                   (1, 1, 4), (2, 0, 1), (2, 1, 1), (2, 2, 1), (2, 3, 1)], start=1):
        data[index] = value
    return {"tensor": data}


def _check(case_name, two_args):
    seen = {}

    def build(b):
        tensor = b.network.add_input("tensor", trt.float32, (3, 4, 5))
        if two_args:
            layer = b.network.add_non_zero(tensor, trt.int64)
        else:
            layer = b.network.add_non_zero(tensor)
            seen["default"] = layer.indices_type
        layer.indices_type = trt.int64
        seen["attributes"] = layer_attributes(layer)
        assert tuple(layer.get_output(0).shape) == (3, -1)
        return [layer.get_output(0)]

    case = LOG.case(case_name)
    assert_case(run(build, _data()), case)
    return seen, case


def test_case_simple():
    seen, case = _check("case_simple", two_args=True)
    assert seen["attributes"] == logged_attributes(case)


def test_case_deprecated():
    seen, _ = _check("case_deprecated", two_args=False)
    assert seen["default"] == trt.int32

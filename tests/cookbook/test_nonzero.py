"""Cookbook NonZero: every case of cookbook/02-API/Layer/NonZero/main.py against NonZero.log (TensorRT 10.16).

The output has a data-dependent shape (3, -1): it is read through an IOutputAllocator, as the Cookbook's TRTWrapperDDS
does. add_non_zero's indices_type argument and the indices_type property exist in the 11.x API only.
"""
import numpy as np
import pytest

import reftrt as trt
from tests.cookbook.test_resize import Engine, read_runs

LOG = "NonZero"
HAS_INDICES_TYPE = hasattr(trt.INonZeroLayer, "indices_type")


def _data():
    data = np.zeros([3, 4, 5], dtype=np.float32)
    for value, index in enumerate([(0, 0, 1), (0, 2, 3), (0, 3, 4), (1, 1, 0), (1, 1, 1), (1, 1, 2), (1, 1, 3),
                                   (1, 1, 4), (2, 0, 1), (2, 1, 1), (2, 2, 1), (2, 3, 1)], start=1):
        data[index] = value
    return {"tensor": data}


def _run(case, two_args):
    data = _data()
    tw = Engine()
    tensor = tw.network.add_input("tensor", trt.DataType.FLOAT, data["tensor"].shape)
    if two_args:
        layer = tw.network.add_non_zero(tensor, trt.DataType.INT64)
    else:
        layer = tw.network.add_non_zero(tensor)
        assert layer.indices_type == trt.DataType.INT32
    layer.indices_type = trt.DataType.INT64
    assert layer.indices_type == trt.DataType.INT64
    assert tuple(layer.get_output(0).shape) == (3, -1)
    tw.build([layer.get_output(0)]).check(read_runs(LOG, case)[0], data)


@pytest.mark.skipif(not HAS_INDICES_TYPE, reason="indices_type is TensorRT 11 API")
def test_case_simple():
    _run("case_simple", two_args=True)


@pytest.mark.skipif(not HAS_INDICES_TYPE, reason="indices_type is TensorRT 11 API")
def test_case_deprecated():
    _run("case_deprecated", two_args=False)

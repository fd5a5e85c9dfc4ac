"""Cookbook OneHot: every case of cookbook/02-API/Layer/OneHot/main.py against OneHot.log (TensorRT 10.16)."""
import numpy as np

import reftrt as trt
from tests.cookbook._shape_family_harness import Wrapper, read_case


def test_case_simple():
    data = np.array([[0, 1, 2, 3], [5, 4, 3, 2], [5, 7, 9, 11]], dtype=np.int32)
    tw = Wrapper()
    tensor = tw.network.add_input("tensor", trt.DataType.INT32, data.shape)
    value = tw.network.add_constant([2], np.ascontiguousarray([0, 1], dtype=np.float32))
    depth = tw.network.add_constant([], np.ascontiguousarray(16, dtype=np.int32))
    layer = tw.network.add_one_hot(tensor, value.get_output(0), depth.get_output(0), 1)
    assert layer.axis == 1
    layer.axis = 1
    tw.build([layer.get_output(0)])
    tw.check(read_case("OneHot", "case_simple")[0], {"tensor": data})

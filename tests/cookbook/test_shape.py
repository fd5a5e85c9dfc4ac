"""Cookbook Shape: every case of cookbook/02-API/Layer/Shape/main.py against Shape.log (TensorRT 10.16).

case_mark_output_for_shapes is disabled in the Cookbook's main ("TODO: not finish") and has no recorded output.
"""
import numpy as np

import reftrt as trt
from tests.cookbook._shape_family_harness import Wrapper, read_case


def test_case_simple():
    data = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    tw = Wrapper()
    tensor = tw.network.add_input("tensor", trt.DataType.FLOAT, data.shape)
    layer = tw.network.add_shape(tensor)
    assert layer.type == trt.LayerType.SHAPE and layer.name == "(Unnamed Layer* 0) [Shape]"
    assert layer.get_output(0).dtype == trt.DataType.INT64 and layer.get_output(0).shape == (3,)
    tw.build([layer.get_output(0)])
    tw.check(read_case("Shape", "case_simple")[0], {"tensor": data})

"""Cookbook Concatenation: every case of cookbook/02-API/Layer/Concatenation/main.py against Concatenation.log."""
import numpy as np

import reftrt as trt
from tests.cookbook._shape_family_harness import Wrapper, read_case


def test_case_simple():
    data = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    tw = Wrapper()
    tensor = tw.network.add_input("tensor", trt.DataType.FLOAT, data.shape)
    layer = tw.network.add_concatenation([tensor, tensor])
    assert layer.axis == 0  # max(0, rank - 3)
    layer.axis = 2
    tw.build([layer.get_output(0)])
    tw.check(read_case("Concatenation", "case_simple")[0], {"tensor": data})

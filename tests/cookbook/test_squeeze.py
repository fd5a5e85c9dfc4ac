"""Cookbook Squeeze: every case of cookbook/02-API/Layer/Squeeze/main.py against Squeeze.log (TensorRT 10.16).

add_squeeze exists in the TensorRT 11 API only; under REFTRT_TRT_VERSION=10.3 these tests are skipped.
"""
import numpy as np
import pytest

import reftrt as trt
from tests.cookbook._shape_family_harness import Wrapper, read_case

pytestmark = pytest.mark.skipif(not hasattr(trt.INetworkDefinition, "add_squeeze"),
                                reason="add_squeeze is TensorRT 11 API")


def test_case_simple():
    data = np.ones([3, 1, 1, 4, 5], dtype=np.float32)
    tw = Wrapper()
    tensor = tw.network.add_input("tensor", trt.DataType.FLOAT, data.shape)
    axes = tw.network.add_constant(shape=[2], weights=np.array([1, 2], dtype=np.int32))
    layer = tw.network.add_squeeze(tensor, axes.get_output(0))
    assert layer.type == trt.LayerType.SQUEEZE
    tw.build([layer.get_output(0)])
    tw.check(read_case("Squeeze", "case_simple")[0], {"tensor": data})

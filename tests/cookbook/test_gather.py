"""Cookbook Gather: every case of cookbook/02-API/Layer/Gather/main.py against Gather.log (TensorRT 10.16).

case_element_mode draws random indices in the Cookbook; the test uses the indices the log printed.
case_gather_nonzeros needs the NonZero layer (another family) and is skipped while reftrt lacks it.
"""
import numpy as np
import pytest

import reftrt as trt
from tests.cookbook._shape_family_harness import Wrapper, cookbook_data, read_case

LOG = "Gather"
DATA = cookbook_data((2, 3, 4, 5))
F32, I32 = trt.DataType.FLOAT, trt.DataType.INT32


def _gather(indices, mode, axis=None, ned=None):
    tw = Wrapper()
    tensor = tw.network.add_input("tensor", F32, DATA.shape)
    tensor1 = tw.network.add_input("tensor1", I32, indices.shape)
    layer = tw.network.add_gather_v2(tensor, tensor1, mode)
    assert layer.mode == mode and layer.axis == 0 and layer.num_elementwise_dims == 0
    if axis is not None:
        layer.axis = axis
    if ned is not None:
        layer.num_elementwise_dims = ned
    tw.build([layer.get_output(0)])
    return tw


def test_case_default_mode():
    indices = np.array([[1, 0, 2], [0, 0, -1]], dtype=np.int32)
    tw = _gather(indices, trt.GatherMode.DEFAULT, axis=2)
    tw.check(read_case(LOG, "case_default_mode")[0], {"tensor": DATA, "tensor1": indices})


def test_case_default_mode_old_api():
    # The Cookbook's comment: add_gather(tensor, tensor1, axis) is the same layer in DEFAULT mode.
    indices = np.array([[1, 0, 2], [0, 0, -1]], dtype=np.int32)
    tw = Wrapper()
    tensor = tw.network.add_input("tensor", F32, DATA.shape)
    tensor1 = tw.network.add_input("tensor1", I32, indices.shape)
    layer = tw.network.add_gather(tensor, tensor1, 2)
    assert layer.mode == trt.GatherMode.DEFAULT and layer.axis == 2
    tw.build([layer.get_output(0)])
    tw.check(read_case(LOG, "case_default_mode")[0], {"tensor": DATA, "tensor1": indices})


def test_case_default_mode_num_elementwise_axis_1():
    indices = np.array([[1, 0, 2], [0, 0, -1]], dtype=np.int32)
    tw = _gather(indices, trt.GatherMode.DEFAULT, axis=2, ned=1)
    tw.check(read_case(LOG, "case_default_mode_num_elementwise_axis_1")[0], {"tensor": DATA, "tensor1": indices})


def test_case_element_mode():
    run = read_case(LOG, "case_element_mode")[0]
    indices = run.array("tensor1").astype(np.int32)
    tw = _gather(indices, trt.GatherMode.ELEMENT, axis=2)
    tw.check(run, {"tensor": DATA, "tensor1": indices})


def test_case_nd_mode():
    indices = np.array([[1, 0, 2], [0, 2, -1]], dtype=np.int32)
    tw = _gather(indices, trt.GatherMode.ND)
    tw.check(read_case(LOG, "case_nd_mode")[0], {"tensor": DATA, "tensor1": indices})


def test_case_nd_mode_num_elementwise_axis_1():
    indices = np.array([[1, 0, 2], [0, 2, -1]], dtype=np.int32)
    tw = _gather(indices, trt.GatherMode.ND, ned=1)
    tw.check(read_case(LOG, "case_nd_mode_num_elementwise_axis_1")[0], {"tensor": DATA, "tensor1": indices})


def test_case_gather_nonzeros():
    tw = Wrapper()
    if not hasattr(tw.network, "add_non_zero"):
        pytest.skip("needs INonZeroLayer (the NonZero family), not in reftrt yet")
    data = np.zeros([3, 4, 5], dtype=np.float32)
    for index, value in zip([(0, 0, 1), (0, 2, 3), (0, 3, 4), (1, 1, 0), (1, 1, 1), (1, 1, 2), (1, 1, 3), (1, 1, 4),
                             (2, 0, 1), (2, 1, 1), (2, 2, 1), (2, 3, 1)], range(1, 13)):
        data[index] = value
    tensor = tw.network.add_input("tensor", F32, data.shape)
    layer = tw.network.add_non_zero(tensor)
    layer = tw.network.add_shuffle(layer.get_output(0))
    layer.first_transpose = [1, 0]
    layer = tw.network.add_gather_v2(tensor, layer.get_output(0), trt.GatherMode.ND)
    tw.build([layer.get_output(0)])
    tw.check(read_case(LOG, "case_gather_nonzeros")[0], {"tensor": data})


def test_gather_mode_members():
    assert {k: int(v) for k, v in trt.GatherMode.__members__.items()} == {"DEFAULT": 0, "ELEMENT": 1, "ND": 2}

"""Cookbook Shuffle: every case of cookbook/02-API/Layer/Shuffle/main.py against Shuffle.log (TensorRT 10.16)."""
import numpy as np
import pytest

import reftrt as trt
from tests.cookbook._shape_family_harness import Wrapper, cookbook_data, read_case

LOG = "Shuffle"
DATA = cookbook_data((1, 3, 4, 5))
F32 = trt.DataType.FLOAT


def test_case_simple():
    tw = Wrapper()
    tensor = tw.network.add_input("tensor", F32, DATA.shape)
    layer = tw.network.add_shuffle(tensor)
    layer.first_transpose = (0, 2, 1, 3)
    layer.reshape_dims = (1, 4, 5, 3)
    layer.second_transpose = (0, 2, 1, 3)
    assert layer.first_transpose._values(4) == [0, 2, 1, 3] and layer.reshape_dims == (1, 4, 5, 3)
    tw.build([layer.get_output(0)])
    tw.check(read_case(LOG, "case_simple")[0], {"tensor": DATA})


def test_case_dynamic():
    tw = Wrapper()
    net = tw.network
    tensor = net.add_input("tensor", F32, DATA.shape)
    one = net.add_constant([1], np.array([1], dtype=np.int64))
    shape0 = net.add_shape(tensor)
    shape1 = net.add_concatenation([shape0.get_output(0), one.get_output(0)])
    shape1.axis = 0
    shuffle = net.add_shuffle(tensor)
    shuffle.set_input(1, shape1.get_output(0))
    shape2 = net.add_shape(shuffle.get_output(0))
    shape3 = net.add_slice(shape2.get_output(0), [0], [4], [1])
    shuffle2 = net.add_shuffle(shuffle.get_output(0))
    shuffle2.set_input(1, shape3.get_output(0))
    assert shuffle.reshape_dims is None and shuffle.num_inputs == 2
    assert shuffle.get_output(0).shape == (1, 3, 4, 5, 1)
    assert shape1.get_output(0).is_shape_tensor and not tensor.is_shape_tensor
    tw.build([shuffle2.get_output(0)])
    tw.check(read_case(LOG, "case_dynamic")[0], {"tensor": DATA})


def test_case_static_shape():
    tw = Wrapper()
    if not hasattr(tw.network, "add_resize"):
        pytest.skip("needs IResizeLayer (the Resize family), not in reftrt yet")
    tensor = tw.network.add_input("tensor", F32, DATA.shape)
    constant = tw.network.add_constant([4], np.array([1, 4, 5, 3], dtype=np.int32))
    layer = tw.network.add_resize(tensor)
    layer.set_input(1, constant.get_output(0))
    tw.build([layer.get_output(0)])
    tw.check(read_case(LOG, "case_static_shape")[0], {"tensor": DATA})


def test_case_shape_input():
    tw = Wrapper()
    dims = np.array([1, 4, 5, 3], dtype=np.int32)
    tensor0 = tw.network.add_input("tensor", F32, DATA.shape)
    tensor1 = tw.network.add_input("tensor1", trt.DataType.INT32, dims.shape)
    tw.profile.set_shape_input(tensor1.name, [1, 1, 1, 1], dims, dims)
    layer = tw.network.add_shuffle(tensor0)
    layer.set_input(1, tensor1)
    # Definition time: the values are unknown, the rank is not.
    assert layer.get_output(0).shape == (-1, -1, -1, -1)
    assert tensor1.is_shape_tensor
    tw.build([layer.get_output(0)])  # kMIN [1, 1, 1, 1] is inconsistent: a warning, as in the log
    assert tw.engine.is_shape_inference_io("tensor1")
    tw.check(read_case(LOG, "case_shape_input")[0], {"tensor": DATA, "tensor1": dims})


def test_case_zero():
    tw = Wrapper()
    tensor = tw.network.add_input("tensor", F32, DATA.shape)
    layer = tw.network.add_shuffle(tensor)
    layer.reshape_dims = (0, 0, -1)
    tw.build([layer.get_output(0)])
    tw.check(read_case(LOG, "case_zero")[0], {"tensor": DATA})


def test_case_zero_is_placeholder():
    tw = Wrapper()
    tensor = tw.network.add_input("tensor", F32, DATA.shape)
    layer = tw.network.add_shuffle(tensor)
    assert layer.zero_is_placeholder is True
    layer.zero_is_placeholder = True
    layer.reshape_dims = (0, 0, 0, 0)
    tw.build([layer.get_output(0)])
    tw.check(read_case(LOG, "case_zero_is_placeholder")[0], {"tensor": DATA})


def test_case_zero_is_placeholder_2():
    tw = Wrapper()
    tensor = tw.network.add_input("tensor", F32, DATA.shape)
    constant = tw.network.add_constant([0], trt.Weights(F32))
    shuffle = tw.network.add_shuffle(constant.get_output(0))
    shuffle.zero_is_placeholder = False
    shuffle.reshape_dims = (1, 3, 4, 0)
    layer = tw.network.add_concatenation([tensor, shuffle.get_output(0)])
    layer.axis = 3
    assert shuffle.get_output(0).shape == (1, 3, 4, 0)
    tw.build([layer.get_output(0)])
    tw.check(read_case(LOG, "case_zero_is_placeholder_2")[0], {"tensor": DATA})

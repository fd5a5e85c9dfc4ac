"""Cookbook Slice: every case of cookbook/02-API/Layer/Slice/main.py against Slice.log (TensorRT 10.16).

case_dds is disabled in the Cookbook's main ("TRT does not support such usage yet") and has no recorded output.
"""
import numpy as np

import reftrt as trt
from tests.cookbook._shape_family_harness import Wrapper, cookbook_data, read_case

LOG = "Slice"
DATA = cookbook_data((1, 3, 4, 5))
F32, I32 = trt.DataType.FLOAT, trt.DataType.INT32


def test_case_simple():
    tw = Wrapper()
    tensor = tw.network.add_input("tensor", F32, DATA.shape)
    layer = tw.network.add_slice(tensor, [0, 0, 0, 0], [1, 2, 3, 4], [1, 1, 1, 1])
    layer.start = [0, 0, 0, 0]
    layer.shape = [1, 2, 3, 4]
    layer.stride = [1, 1, 1, 1]
    assert layer.mode == trt.SampleMode.STRICT_BOUNDS
    layer.mode = trt.SampleMode.WRAP
    assert layer.start == (0, 0, 0, 0) and layer.shape == (1, 2, 3, 4) and layer.stride == (1, 1, 1, 1)
    tw.build([layer.get_output(0)])
    tw.check(read_case(LOG, "case_simple")[0], {"tensor": DATA})


def test_case_pad():
    tw = Wrapper()
    tensor = tw.network.add_input("tensor", F32, DATA.shape)
    fill = tw.network.add_constant([1], np.array([-1], dtype=np.float32))
    layer = tw.network.add_slice(tensor, [0, 0, 0, 0], [1, 2, 3, 4], [1, 2, 2, 2])
    layer.mode = trt.SampleMode.FILL
    layer.set_input(4, fill.get_output(0))
    tw.build([layer.get_output(0)])
    tw.check(read_case(LOG, "case_pad")[0], {"tensor": DATA})


def test_case_set_input():
    tw = Wrapper()
    net = tw.network
    tensor = net.add_input("tensor", F32, DATA.shape)
    start = net.add_constant([4], np.array([0, 0, 0, 0], dtype=np.int32))
    size = net.add_constant([4], np.array([1, 2, 3, 4], dtype=np.int32))
    stride = net.add_constant([4], np.array([1, 1, 1, 1], dtype=np.int32))
    layer = net.add_slice(tensor, [], [], [])
    layer.set_input(1, start.get_output(0))
    layer.set_input(2, size.get_output(0))
    layer.set_input(3, stride.get_output(0))
    assert layer.start is None and layer.shape is None and layer.stride is None
    assert layer.num_inputs == 4
    assert layer.get_output(0).shape == (1, 2, 3, 4)  # constant inputs resolve while defining
    tw.build([layer.get_output(0)])
    tw.check(read_case(LOG, "case_set_input")[0], {"tensor": DATA})


def test_case_shape_input():
    tw = Wrapper()
    net = tw.network
    values = {"tensor1": [0, 0, 0, 0], "tensor2": [1, 2, 3, 4], "tensor3": [1, 1, 1, 1]}
    tensor0 = net.add_input("tensor", F32, DATA.shape)
    inputs = [net.add_input(name, I32, (4,)) for name in values]
    tw.profile.set_shape_input("tensor1", [0, 0, 0, 0], [0, 1, 1, 1], [0, 2, 2, 2])
    tw.profile.set_shape_input("tensor2", [1, 1, 1, 1], [1, 2, 3, 4], [1, 3, 4, 5])
    tw.profile.set_shape_input("tensor3", [1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1])
    layer = net.add_slice(tensor0, [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0])
    for index, t in enumerate(inputs, 1):
        layer.set_input(index, t)
    assert layer.get_output(0).shape == (-1, -1, -1, -1)
    tw.build([layer.get_output(0)])  # kMAX start + size is out of bounds: a warning, as in the log
    data = {"tensor": DATA, **{k: np.array(v, dtype=np.int32) for k, v in values.items()}}
    tw.check(read_case(LOG, "case_shape_input")[0], data)


def test_sample_mode_members():
    # The log lists SampleMode's members.
    assert {k: int(v) for k, v in trt.SampleMode.__members__.items()} == \
        {"STRICT_BOUNDS": 0, "WRAP": 1, "CLAMP": 2, "FILL": 3, "REFLECT": 4}

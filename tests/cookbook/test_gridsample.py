"""Cookbook GridSample: cookbook/02-API/Layer/GridSample/main.py case_simple against GridSample.log (TensorRT 10.16).

The case draws its grid with np.random; the recorded grid is read back from the log and fed again.
"""
import os
import re

import numpy as np

import reftrt as trt
from tests.cookbook.test_resize import LOG_DIR, Engine, read_runs

LOG = "GridSample"


def test_case_simple():
    run = read_runs(LOG, "case_simple")[0]
    shape, shape1 = [1, 3, 4, 5], [6, 10]
    data0 = (np.arange(shape[0]).reshape(-1, 1, 1, 1) * 1000 + np.arange(shape[1]).reshape(1, -1, 1, 1) * 100
             + np.arange(shape[2]).reshape(1, 1, -1, 1) * 10 + np.arange(shape[3]).reshape(1, 1, 1, -1))
    data = {"tensor": data0.astype(np.float32), "tensor1": run.array("tensor1").astype(np.float32)}
    assert data["tensor1"].shape == (shape[0], shape1[0], shape1[1], 2)

    tw = Engine()
    tensor = tw.network.add_input("tensor", trt.DataType.FLOAT, data["tensor"].shape)
    tensor1 = tw.network.add_input("tensor1", trt.DataType.FLOAT, data["tensor1"].shape)
    layer = tw.network.add_grid_sample(tensor, tensor1)
    assert layer.align_corners is False
    assert layer.interpolation_mode == trt.InterpolationMode.LINEAR
    assert layer.sample_mode == trt.SampleMode.FILL
    layer.align_corners = False
    layer.interpolation_mode = trt.InterpolationMode.LINEAR
    layer.sample_mode = trt.SampleMode.FILL
    tw.build([layer.get_output(0)]).check(run, data)


def test_enum_members_as_logged():
    text = open(os.path.join(LOG_DIR, f"{LOG}.log")).read()
    for enum in (trt.InterpolationMode, trt.SampleMode):
        block = text.split(f"Members of tensorrt.tensorrt.{enum.__name__}:\n")[1]
        logged = dict((m.group(2), int(m.group(1))) for m in
                      (re.match(r"^\s*(\d+) -> (\w+)$", line) for line in block.splitlines()[:len(enum.__members__)]))
        assert {name: int(member) for name, member in enum.__members__.items()} == logged

"""Cookbook Cast: every case of cookbook/02-API/Layer/Cast/main.py against Cast.log (TensorRT 10.16).

Both cases use TensorRT 10's weak-typing API (BuilderFlag.FP16 / INT8, ITensor.dtype setters, dynamic ranges), so
they are reproduced exactly by the `_api10` tests, run under REFTRT_TRT_VERSION=10.3 by `test_api10_runner`.
Under the default 11.4 API, test_case_simple builds the same casts without the removed calls: the Cast to BF16 then
outputs BF16 and the Cast to HALF outputs HALF (in the log the output types were swapped by the dtype setters);
the values are the same. case_int8 (implicit INT8 quantization from dynamic ranges) exists only in the 10 API.

What the log decides: float -> UINT8 truncates, saturates below at 0 and keeps the low 8 bits above
(260 -> 4, 290 -> 34); float -> BOOL is `!= 0`; implicit INT8 uses the output's dynamic range symmetrically
(scale 300 / 127).
"""
import numpy as np
import pytest

import reftrt as trt
from tests.cookbook._math_family import (IS_10, api10, assert_adapted, assert_case, layer_attributes,
                                         logged_attributes, run_api10_tests)
from tests.cookbook.harness import run
from tests.cookbook.logs import load_log

LOG = load_log("Cast")
DATA = {"tensor": np.arange(60, dtype=np.float32).reshape(3, 4, 5) * 10 - 300}


def _build_simple(weak_typing, seen):
    def build(b):
        if weak_typing:
            b.config.set_flag(trt.BuilderFlag.FP16)
        tensor = b.network.add_input("tensor", trt.float32, DATA["tensor"].shape)
        layer = b.network.add_cast(tensor, trt.DataType.BOOL)
        layer.to_type = trt.DataType.BOOL
        layers = [layer] + [b.network.add_cast(tensor, t) for t in (trt.DataType.UINT8, trt.DataType.INT32,
                                                                      trt.DataType.INT64, trt.DataType.BF16,
                                                                      trt.DataType.HALF, trt.DataType.FLOAT)]
        if weak_typing:
            layers[4].get_output(0).dtype = trt.DataType.HALF
            layers[5].get_output(0).dtype = trt.DataType.BF16
        else:
            with pytest.raises(AttributeError):  # ITensor.dtype is read-only in TensorRT 11
                layers[4].get_output(0).dtype = trt.DataType.HALF
        seen.update(to_type=layer.to_type, attributes=layer_attributes(layer))
        return [x.get_output(0) for x in layers]
    return build


@pytest.mark.skipif(IS_10, reason="the exact case runs as test_case_simple_api10")
def test_case_simple():
    seen = {}
    case = LOG.case("case_simple")
    assert not hasattr(trt.BuilderFlag, "FP16")  # TensorRT 11: strong typing only
    result = run(_build_simple(False, seen), DATA)
    assert seen == {"to_type": trt.DataType.BOOL, "attributes": logged_attributes(case)}
    assert_adapted(result, case, dtypes={"(Unnamed Layer* 4) [Cast]_output": "DataType.BF16",
                                         "(Unnamed Layer* 5) [Cast]_output": "DataType.HALF"})


@api10
def test_case_simple_api10():
    seen = {}
    result = run(_build_simple(True, seen), DATA)
    assert_case(result, LOG.case("case_simple"))
    assert seen["to_type"] == trt.DataType.BOOL


@api10
def test_case_int8_api10():
    def build(b):
        b.config.set_flag(trt.BuilderFlag.INT8)
        tensor = b.network.add_input("tensor", trt.float32, DATA["tensor"].shape)
        layer = b.network.add_cast(tensor, trt.int8)
        layer.get_input(0).dynamic_range = [-300, 300]
        layer.get_output(0).dynamic_range = [-300, 300]
        layer.get_output(0).dtype = trt.DataType.INT8
        return [layer.get_output(0)]

    assert_case(run(build, DATA), LOG.case("case_int8"))


def test_api10_runner():
    run_api10_tests(__file__)

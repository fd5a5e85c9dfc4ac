"""Cookbook Identity: every case of cookbook/02-API/Layer/Identity/main.py against Identity.log (TensorRT 10.16).

case_datatype_conversion sets BuilderFlag.FP16 / BF16 and the output types with the ITensor.dtype setter, and
case_datatype_conversion_int8 relies on implicit INT8 quantization from a dynamic range: TensorRT 10 API. They are
reproduced exactly by the `_api10` tests (run under REFTRT_TRT_VERSION=10.3 by `test_api10_runner`); under the
default 11.4 API test_case_datatype_conversion builds the same casts without the removed calls, which gives the same
output types and values (each Cast's to_type already is the type the setter asked for).
"""
import numpy as np
import pytest

import reftrt as trt
from tests.cookbook._math_family import (IS_10, api10, assert_case, layer_attributes, logged_attributes,
                                         run_api10_tests)
from tests.cookbook.harness import run
from tests.cookbook.logs import load_log

LOG = load_log("Identity")
DATA = {"tensor": np.arange(60, dtype=np.float32).reshape(1, 3, 4, 5)}


def test_case_simple():
    case = LOG.case("case_simple")

    def build(b):
        tensor = b.network.add_input("tensor", trt.float32, DATA["tensor"].shape)
        layer = b.network.add_identity(tensor)
        assert layer.type == trt.LayerType.IDENTITY
        assert layer_attributes(layer) == logged_attributes(case) == []
        return [layer.get_output(0)]

    assert_case(run(build, DATA), case)


def _build_conversion(weak_typing):
    def build(b):
        if weak_typing:
            b.config.set_flag(trt.BuilderFlag.FP16)
            b.config.set_flag(trt.BuilderFlag.BF16)
        tensor = b.network.add_input("tensor", trt.float32, DATA["tensor"].shape)
        outputs = []
        for data_type in [trt.float16, trt.int32, trt.int64, trt.uint8, trt.bool]:
            layer = b.network.add_cast(tensor, data_type)
            if weak_typing:
                layer.get_output(0).dtype = data_type
            outputs.append(layer.get_output(0))
        return outputs
    return build


@pytest.mark.skipif(IS_10, reason="the exact case runs as test_case_datatype_conversion_api10")
def test_case_datatype_conversion():
    assert_case(run(_build_conversion(False), DATA), LOG.case("case_datatype_conversion"))


@api10
def test_case_datatype_conversion_api10():
    assert_case(run(_build_conversion(True), DATA), LOG.case("case_datatype_conversion"))


@api10
def test_case_datatype_conversion_int8_api10():
    def build(b):
        b.config.set_flag(trt.BuilderFlag.INT8)
        tensor = b.network.add_input("tensor", trt.float32, DATA["tensor"].shape)
        layer = b.network.add_cast(tensor, trt.int8)
        layer.get_output(0).set_dynamic_range(0, 127)
        layer.get_output(0).dtype = trt.int8
        return [layer.get_output(0)]

    assert_case(run(build, DATA), LOG.case("case_datatype_conversion_int8"))


def test_api10_runner():
    run_api10_tests(__file__)

"""Cookbook Normalization: every case of cookbook/02-API/Layer/Normalization/main.py against Normalization.log
(TensorRT 10.16, which has both add_normalization_v2 and compute_precision).

- TensorRT 11.4 (the default emulation) has add_normalization_v2 but no compute_precision, so case_layer_normalization
  computes in float32 there; the log's values were computed with compute_precision = HALF and are matched within
  float16 resolution (rtol 1e-3). `test_case_layer_normalization_api10` reproduces them to 1e-5 under the 10.3 API
  (add_normalization, which is the same layer for num_groups = 1, with compute_precision = HALF); there the layer
  prints as "[Normalization]" where the log's V2 layer printed "[NormalizationV2]".
- case_group_normalization and case_instance_normalization use add_normalization_v2 (TensorRT 11 API): skipped
  under REFTRT_TRT_VERSION=10.3.
"""
import numpy as np
import pytest

import reftrt as trt
from tests.cookbook._math_family import (IS_10, api10, assert_adapted, assert_case, expected_attributes,
                                         layer_attributes, run_api10_tests)
from tests.cookbook.harness import run
from tests.cookbook.logs import load_log

LOG = load_log("Normalization")
needs_11 = pytest.mark.skipif(IS_10, reason="add_normalization_v2 is TensorRT 11 API")


def _data():
    data0 = np.arange(15, dtype=np.float32).reshape(1, 1, 3, 5)
    return {"tensor": np.concatenate([data0, 100 - data0, np.ones([1, 1, 3, 5], np.float32),
                                      -np.ones([1, 1, 3, 5], np.float32)], axis=1)}  # [1, 4, 3, 5]


def _build(shape_scale_bias, v2=True, configure=None):
    def build(b):
        tensor = b.network.add_input("tensor", trt.float32, (1, 4, 3, 5))
        layer1 = b.network.add_constant(shape_scale_bias, trt.Weights(np.ones(shape_scale_bias, dtype=np.float32)))
        layer2 = b.network.add_constant(shape_scale_bias, trt.Weights(np.zeros(shape_scale_bias, dtype=np.float32)))
        add = b.network.add_normalization_v2 if v2 else b.network.add_normalization
        layer = add(tensor, layer1.get_output(0), layer2.get_output(0), 1 << 2 | 1 << 3)
        if configure:
            configure(layer)
        return [layer.get_output(0)]
    return build


@needs_11
def test_case_layer_normalization():
    case = LOG.case("case_layer_normalization")
    seen = {}

    def configure(layer):
        layer.axes = 1 << 2 | 1 << 3
        assert not hasattr(trt.INormalizationLayer, "compute_precision")  # removed in TensorRT 11
        layer.epsilon = 1e-5
        seen.update(is_v2=layer.is_v2, epsilon=layer.epsilon, groups=layer.num_groups,
                    attributes=layer_attributes(layer))

    result = run(_build((1, 1, 3, 5), configure=configure), _data())
    assert seen == {"is_v2": True, "epsilon": pytest.approx(1e-5), "groups": 1,
                    "attributes": expected_attributes(case, only_10=["compute_precision"], only_11=["is_v2"])}
    assert "layer.is_v2 = True" in case.text
    assert_case(result, case, rtol=1e-3)  # the log computed in float16 (see the module docstring)


@api10
def test_case_layer_normalization_api10():
    case = LOG.case("case_layer_normalization")

    def configure(layer):
        layer.axes = 1 << 2 | 1 << 3
        assert layer.compute_precision == trt.DataType.FLOAT  # the default
        layer.compute_precision = trt.float16
        layer.epsilon = 1e-5
        assert layer_attributes(layer) == expected_attributes(case, only_11=["is_v2"])

    result = run(_build((1, 1, 3, 5), v2=False, configure=configure), _data())
    assert_adapted(result, case, rename={"(Unnamed Layer* 2) [NormalizationV2]_output":
                                         "(Unnamed Layer* 2) [Normalization]_output"})


@api10
def test_case_instance_normalization_api10():
    result = run(_build((1, 4, 1, 1), v2=False), _data())
    assert_adapted(result, LOG.case("case_instance_normalization"),
                   rename={"(Unnamed Layer* 2) [NormalizationV2]_output": "(Unnamed Layer* 2) [Normalization]_output"})


def test_api10_runner():
    run_api10_tests(__file__)


@needs_11
def test_case_group_normalization():
    def configure(layer):
        assert layer.num_groups == 1
        layer.num_groups = 2

    assert_case(run(_build((1, 4, 1, 1), configure=configure), _data()), LOG.case("case_group_normalization"))


@needs_11
def test_case_instance_normalization():
    def configure(layer):
        assert layer.epsilon == pytest.approx(1e-5) and layer.axes == 12 and layer.num_groups == 1

    assert_case(run(_build((1, 4, 1, 1), configure=configure), _data()), LOG.case("case_instance_normalization"))

"""Cookbook Activation: every case of cookbook/02-API/Layer/Activation/main.py against Activation.log (TensorRT 10.16).

case_simple is ReLU, so it cannot tell the parametric activations apart: tests/reftrt/test_math_family.py checks
every ActivationType against PyTorch.
"""
import numpy as np

import reftrt as trt
from tests.cookbook._math_family import assert_case, layer_attributes, logged_attributes
from tests.cookbook.harness import run
from tests.cookbook.logs import load_log

LOG = load_log("Activation")


def test_case_simple():
    data = {"tensor": np.arange(9, dtype=np.float32).reshape(3, 3) - 4}
    seen = {}

    def build(b):
        tensor = b.network.add_input("tensor", trt.float32, data["tensor"].shape)
        layer = b.network.add_activation(tensor, trt.ActivationType.RELU)
        assert (layer.alpha, layer.beta) == (0.0, 0.0)  # the Cookbook's documented defaults
        layer.type = trt.ActivationType.RELU
        layer.alpha = -2
        layer.beta = 2
        seen.update(type=layer.type, alpha=layer.alpha, beta=layer.beta, attributes=layer_attributes(layer))
        return [layer.get_output(0)]

    case = LOG.case("case_simple")
    assert_case(run(build, data), case)
    assert seen == {"type": trt.ActivationType.RELU, "alpha": -2.0, "beta": 2.0,
                    "attributes": logged_attributes(case)}


def test_enum_members():
    assert {k: int(v) for k, v in trt.ActivationType.__members__.items()} == LOG.enums["ActivationType"]

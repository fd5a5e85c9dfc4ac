"""What introspection (dir()) shows of reftrt's network objects must be what it shows of the real bindings.

The Cookbook's layer scripts call `check_api_coverage(layer)`, which lists every name in `dir(layer)` and in
`dir(type(layer))` that does not start with a double underscore, and prints how many are methods and how many
attributes. pybind11 objects have no single-underscore members but `_pybind11_conduit_v1_` (which the Cookbook
skips), and an instance lists exactly what its class lists. reftrt keeps its state in `_`-prefixed attributes,
so those must stay out of dir().
"""
import json
import os

import numpy as np
import pytest

import reftrt as trt

_MANIFEST = {"10": "trt-10.3.0.json", "11": "trt-11.4.0.106.json"}[trt.__version__.split(".")[0]]
with open(os.path.join(os.path.dirname(__file__), "..", "data", "trt_api", _MANIFEST), encoding="utf-8") as _f:
    MANIFEST = json.load(_f)["classes"]


def _objects():
    network = trt.Builder(trt.Logger(trt.Logger.ERROR)).create_network()
    x = network.add_input("x", trt.float32, (2, 3, 5, 5))
    weights = np.full((4, 3, 3, 3), 0.5, dtype=np.float32)
    return {
        "ITensor": x,
        "IActivationLayer": network.add_activation(x, trt.ActivationType.SIGMOID),
        "ICastLayer": network.add_cast(x, trt.int32),
        "IConvolutionLayer": network.add_convolution_nd(x, 4, (3, 3), weights),
        "IShuffleLayer": network.add_shuffle(x),
        "IReduceLayer": network.add_reduce(x, trt.ReduceOperation.SUM, 1 << 2, True),
        "IShapeLayer": network.add_shape(x),
        "IConstantLayer": network.add_constant((1, 2), np.ones((1, 2), np.float32)),
    }


def _underscored(names):
    return sorted(n for n in names if n.startswith("_") and not n.startswith("__"))


@pytest.mark.parametrize("name", sorted(_objects()))
def test_dir_hides_private_members(name):
    obj = _objects()[name]
    assert _underscored(dir(obj)) == []
    assert _underscored(dir(type(obj))) == []
    assert dir(obj) == dir(type(obj))


@pytest.mark.parametrize("name", sorted(_objects()))
def test_public_names_equal_the_real_class(name):
    public = {n for n in dir(_objects()[name]) if not n.startswith("_")}
    assert public == set(MANIFEST[name]["members"])


def test_layer_members_classified_as_the_cookbook_does():
    # check_api_coverage drops the members every ILayer has, then splits the rest by callable().
    layer = _objects()["IActivationLayer"]
    common = {"get_input", "get_output", "get_output_type", "metadata", "name", "num_inputs", "num_outputs",
              "num_ranks", "output_type_is_set", "precision_is_set", "precision", "reset_output_type",
              "reset_precision", "set_input", "set_output_type", "type"}
    own = {n for n in dir(layer) if not n.startswith("__")} - common
    assert sorted(n for n in own if callable(getattr(layer, n))) == []
    assert sorted(n for n in own if not callable(getattr(layer, n))) == ["alpha", "beta"]


def _builder_objects():
    builder = trt.Builder(trt.Logger(trt.Logger.ERROR))
    return {"IBuilderConfig": builder.create_builder_config(),
            "IOptimizationProfile": builder.create_optimization_profile()}


@pytest.mark.parametrize("name", ["IBuilderConfig", "IOptimizationProfile"])
def test_builder_settings_are_those_of_the_emulated_version(name):
    # Settings kept per instance must not outlive the pruning of members the emulated version lacks:
    # TensorRT 11 has no int8_calibrator / algorithm_selector, 10.3 no tiling options or profile_stream.
    obj = _builder_objects()[name]
    assert {n for n in dir(obj) if not n.startswith("_")} == set(MANIFEST[name]["members"])
    assert _underscored(dir(obj)) == []


def test_builder_config_refuses_what_the_version_lacks():
    config = _builder_objects()["IBuilderConfig"]
    with pytest.raises(AttributeError):
        config.max_workspace_size = 1 << 30  # TensorRT 8 API, gone in both
    removed = ["tiling_optimization_level", "max_num_tactics"] if trt.__version__.startswith("10.") else \
        ["int8_calibrator", "algorithm_selector"]
    for name in removed:
        assert not hasattr(config, name)
        with pytest.raises(AttributeError):
            setattr(config, name, None)
    with pytest.raises(AttributeError):
        _builder_objects()["IOptimizationProfile"].not_a_setting = 0


def test_builder_config_reset_restores_defaults():
    config = _builder_objects()["IBuilderConfig"]
    config.builder_optimization_level = 5
    config.avg_timing_iterations = 4
    config.plugins_to_serialize = ["a.so"]
    config.set_flag(trt.BuilderFlag.DEBUG)
    config.reset()
    assert config.builder_optimization_level == 3
    assert config.avg_timing_iterations == 1
    assert config.plugins_to_serialize == []
    assert not config.get_flag(trt.BuilderFlag.DEBUG)
    other = _builder_objects()["IBuilderConfig"]
    config.plugins_to_serialize.append("b.so")
    assert other.plugins_to_serialize == []

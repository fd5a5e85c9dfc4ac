"""MobileNet parity with torchvision (mobilenet_v2, mobilenet_v3_small, mobilenet_v3_large), seeded random weights
with randomised BatchNorm statistics; fp32 relative error <= 1e-4 (the acceptance) and <= 10x the clean run's
error (tests/helpers/bounds.py)."""
import numpy as np
import pytest

from tests.helpers.bounds import within
from tests.helpers.ref_mobilenet import build_network, hooked, rel_err, state_dict_arrays, torchvision_classifier

import netdefs
from netdefs.errors import ModelMismatch
from netdefs.families.mobilenet import FAMILY
from netdefs.layers.torchvision import EPS


def describe_weights(items):
    return FAMILY.describe(dict(items))

IMGSZ, BATCH = 64, 2

# Relative errors of clean runs on reftrt (2026-12-04); bounds are 10x these.
CLEAN = {"mobilenet_v2": 4.7e-7, "mobilenet_v3_small": 1.5e-7, "mobilenet_v3_large": 2.3e-7,
         "mobilenet_v3_large fp16": 6.3e-4, "mobilenet_v2 features.0.2": 1.4e-7,
         "mobilenet_v2 features.1.conv.0.2": 2.0e-7, "mobilenet_v2 features.2.conv.0.2": 3.0e-7,
         "mobilenet_v2 features.3": 2.8e-7, "mobilenet_v2 features.18.2": 6.2e-7, "mobilenet_v2 classifier.1": 3.4e-7,
         "mobilenet_v3_large features.0.2": 1.4e-7, "mobilenet_v3_large features.1": 1.9e-7,
         "mobilenet_v3_large features.4.block.2": 5.1e-7, "mobilenet_v3_large features.4.block.2.fc1": 2.7e-7,
         "mobilenet_v3_large features.4.block.2.scale_activation": 1.1e-7,
         "mobilenet_v3_large features.7.block.0.2": 5.2e-7, "mobilenet_v3_large features.16.2": 3.8e-7,
         "mobilenet_v3_large classifier.0": 1.6e-7, "mobilenet_v3_large classifier.1": 1.4e-7,
         "mobilenet_v3_large classifier.3": 2.2e-7}


def _input(seed, imgsz=IMGSZ, batch=BATCH):
    return np.random.default_rng(seed).standard_normal((batch, 3, imgsz, imgsz)).astype(np.float32)


@pytest.mark.parametrize("name,num_classes", [("mobilenet_v2", 1000), ("mobilenet_v3_small", 10),
                                              ("mobilenet_v3_large", 1000)])
def test_logits_match_torchvision(name, num_classes):
    model = torchvision_classifier(name, seed=1, num_classes=num_classes)
    x = _input(2)
    ref, _ = hooked(model, x, [])
    engine = netdefs.build(name, state_dict_arrays(model), backend="reference", imgsz=IMGSZ, batch=BATCH,
                           quiet=True)
    out = engine(x)["logits"]
    assert out.shape == (BATCH, num_classes)
    within(rel_err(out, ref.numpy()), CLEAN, name)
    assert (engine.meta["task"], engine.meta["family"], engine.meta["num_classes"]) == ("classify", "mobilenet",
                                                                                        num_classes)


def test_fp16_mobilenet_v3_large_within_bound():
    """Hardswish / Hardsigmoid and SE in a strongly typed float16 network."""
    model = torchvision_classifier("mobilenet_v3_large", seed=5)
    x = _input(6)
    ref, _ = hooked(model, x, [])
    out = netdefs.build("mobilenet_v3_large", state_dict_arrays(model), backend="reference", precision="fp16",
                        imgsz=IMGSZ, batch=BATCH, quiet=True)(x)["logits"]
    assert out.dtype == np.float32
    within(rel_err(out, ref.numpy()), CLEAN, "mobilenet_v3_large fp16", acceptance=5e-3)


def test_bn_eps_is_read_from_torchvision():
    """eps 1e-5 in MobileNetV2 (nn.BatchNorm2d default), 1e-3 in MobileNetV3: as the models say."""
    for name, eps in EPS.items():
        model = torchvision_classifier(name)
        assert {m.eps for m in model.modules() if hasattr(m, "running_var")} == {eps}, name


@pytest.mark.parametrize("name,taps", [
    ("mobilenet_v2", ["features.0.2", "features.1.conv.0.2", "features.2.conv.0.2", "features.3", "features.18.2",
                      "classifier.1"]),
    ("mobilenet_v3_large", ["features.0.2", "features.1", "features.4.block.2", "features.4.block.2.fc1",
                            "features.4.block.2.scale_activation", "features.7.block.0.2", "features.16.2",
                            "classifier.0", "classifier.1", "classifier.3"]),
])
def test_intermediate_tensors_are_named_after_the_state_dict(name, taps):
    model = torchvision_classifier(name, seed=3)
    x = _input(4)
    _, seen = hooked(model, x, taps)
    out = build_network(lambda net: FAMILY.network(net, FAMILY.model(name), BATCH, IMGSZ, 1000, {}),
                        state_dict_arrays(model), taps)(x)
    for t in taps:
        within(rel_err(out[t], seen[t]), CLEAN, f"{name} {t}")


def test_weights_of_another_variant_are_refused_by_name():
    model = torchvision_classifier("mobilenet_v3_small", num_classes=5)
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    assert describe_weights(shapes.items()) == ("mobilenet_v3_small", 5)
    with pytest.raises(ModelMismatch, match=r"the weights are mobilenet_v3_small \(5 classes\).*mobilenet_v3_large"):
        netdefs.build("mobilenet_v3_large", state_dict_arrays(model), backend="reference", imgsz=IMGSZ, quiet=True)
    v2 = {k: v.shape for k, v in torchvision_classifier("mobilenet_v2").state_dict().items()}
    assert describe_weights(v2.items()) == ("mobilenet_v2", 1000)

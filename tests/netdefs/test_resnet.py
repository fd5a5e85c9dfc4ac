"""ResNet parity with torchvision (resnet18 ... resnet152) and smp's ResNet encoder, seeded random weights with
randomised BatchNorm statistics; fp32 relative error <= 1e-4 (the acceptance) and <= 10x the clean run's error
(tests/helpers/bounds.py)."""
import numpy as np
import pytest
import torch

from tests.helpers.bounds import within
from tests.helpers.ref_resnet import (build_network, hooked, one_thread, rel_err, smp_unet, state_dict_arrays,
                                      torchvision_classifier)

import netdefs
from netdefs.errors import ModelMismatch
from netdefs.families.resnet import FAMILY
from netdefs.layers.torchvision import resnet_features, resnet_out_channels


def describe_weights(items):
    return FAMILY.describe(dict(items))

IMGSZ, BATCH = 64, 2

# Relative errors of clean runs on reftrt (2026-12-04); bounds are 10x these.
CLEAN = {"resnet18": 2.1e-7, "resnet34": 4.4e-7, "resnet50": 8.0e-7, "resnet101": 8.0e-7, "resnet152": 1.2e-6,
         "resnet18 relu": 8.8e-8, "resnet18 maxpool": 8.8e-8, "resnet18 layer1.0.bn1": 2.7e-7,
         "resnet18 layer1.0": 3.4e-7, "resnet18 layer2.0.downsample.1": 4.2e-7, "resnet18 layer2.1": 6.8e-7,
         "resnet18 layer4.1": 7.1e-7, "resnet18 avgpool": 4.2e-7, "resnet18 fc": 3.6e-7,
         "smp encoder feature0": 8.9e-8, "smp encoder feature1": 3.7e-7, "smp encoder feature2": 3.4e-7,
         "smp encoder feature3": 5.9e-7, "smp encoder feature4": 5.2e-7, "resnet18 fp16": 1.1e-3}


def _input(seed, imgsz=IMGSZ, batch=BATCH):
    return np.random.default_rng(seed).standard_normal((batch, 3, imgsz, imgsz)).astype(np.float32)


# The deep ones at 32x32 (layer4 at 1x1) to keep the file's time in check; every block and stride still runs.
@pytest.mark.parametrize("name,num_classes,imgsz", [("resnet18", 10, 64), ("resnet34", 1000, 64),
                                                    ("resnet50", 1000, 32), ("resnet101", 1000, 32),
                                                    ("resnet152", 1000, 32)])
def test_logits_match_torchvision(name, num_classes, imgsz):
    model = torchvision_classifier(name, seed=1, num_classes=num_classes)
    x = _input(2, imgsz)
    ref, _ = hooked(model, x, [])
    engine = netdefs.build(name, state_dict_arrays(model), backend="reference", imgsz=imgsz, batch=BATCH,
                           quiet=True)
    out = engine(x)["logits"]
    assert out.shape == (BATCH, num_classes)
    within(rel_err(out, ref.numpy()), CLEAN, name)
    meta = engine.meta
    assert (meta["task"], meta["family"], meta["num_classes"], meta["imgsz"]) == ("classify", "resnet", num_classes,
                                                                                 [imgsz, imgsz])
    assert meta["preprocess"]["mean"] == [0.485, 0.456, 0.406] and meta["preprocess"]["std"] == [0.229, 0.224, 0.225]


def test_intermediate_tensors_are_named_after_the_state_dict():
    """Any named point equals the PyTorch forward hook of the module of that name."""
    model = torchvision_classifier("resnet18", seed=3)
    taps = ["relu", "maxpool", "layer1.0.bn1", "layer1.0", "layer2.0.downsample.1", "layer2.1", "layer4.1",
            "avgpool", "fc"]
    x = _input(4)
    _, seen = hooked(model, x, taps)
    out = build_network(lambda net: FAMILY.network(net, FAMILY.model("resnet18"), BATCH, IMGSZ, 1000, {}),
                        state_dict_arrays(model), taps)(x)
    for name in taps:
        within(rel_err(out[name], seen[name]), CLEAN, f"resnet18 {name}")


@pytest.mark.parametrize("encoder", ["resnet18"])
def test_resnet_features_match_smp_unet_encoder(encoder):
    """resnet_features(prefix="encoder.") is smp's ResNetEncoder: features[1:] of `model.encoder(x)`."""
    model = smp_unet(encoder, seed=5)
    depth = int(encoder[len("resnet"):])
    x = _input(6)
    with torch.no_grad(), one_thread():
        ref = [f.numpy() for f in model.encoder(torch.from_numpy(x))[1:]]

    def define(net):
        feats = resnet_features(net, net.input("images", (BATCH, 3, IMGSZ, IMGSZ)), "encoder.", depth)
        for i, f in enumerate(feats):
            net.output(f, f"feature{i}")

    weights = {k: v for k, v in state_dict_arrays(model).items() if k.startswith("encoder.")}
    out = build_network(define, weights)(x)
    assert [f.shape[1] for f in ref] == resnet_out_channels(depth)
    for i, r in enumerate(ref):
        assert out[f"feature{i}"].shape == r.shape
        within(rel_err(out[f"feature{i}"], r), CLEAN, f"smp encoder feature{i}")


def test_fp16_resnet18_within_bound():
    model = torchvision_classifier("resnet18", seed=7)
    x = _input(8)
    ref, _ = hooked(model, x, [])
    out = netdefs.build("resnet18", state_dict_arrays(model), backend="reference", precision="fp16", imgsz=IMGSZ,
                        batch=BATCH, quiet=True)(x)["logits"]
    assert out.dtype == np.float32
    within(rel_err(out, ref.numpy()), CLEAN, "resnet18 fp16", acceptance=5e-3)


def test_weights_of_another_variant_are_refused_by_name():
    model = torchvision_classifier("resnet18", seed=0, num_classes=7)
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    assert describe_weights(shapes.items()) == ("resnet18", 7)
    with pytest.raises(ModelMismatch, match=r"the weights are resnet18 \(7 classes\).*resnet34"):
        netdefs.build("resnet34", state_dict_arrays(model), backend="reference", imgsz=IMGSZ, quiet=True)
    with pytest.raises(ModelMismatch, match="not a torchvision ResNet"):
        describe_weights({"features.0.0.weight": (32, 3, 3, 3)}.items())


def test_demo_weights_build():
    from netdefs.runtime.demo import DemoWeights
    engine = netdefs.build("resnet18", DemoWeights(), backend="reference", imgsz=32, quiet=True)
    assert engine(_input(0, 32, 1))["logits"].shape == (1, 1000)

"""ResNet parity with torchvision (resnet18 ... resnet152) and smp's ResNet encoder, seeded random weights with
randomised BatchNorm statistics; fp32 relative error <= 1e-4 on reftrt."""
import numpy as np
import pytest
import torch

from tests.helpers.ref_resnet import (build_network, hooked, one_thread, rel_err, smp_unet, state_dict_arrays,
                                      torchvision_classifier)

import netdefs
from netdefs.errors import ModelMismatch
from netdefs.families.resnet import FAMILY
from netdefs.layers.torchvision import resnet_features, resnet_out_channels


def describe_weights(items):
    return FAMILY.describe(dict(items))

IMGSZ, BATCH = 64, 2


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
    assert rel_err(out, ref.numpy()) <= 1e-4
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
        assert rel_err(out[name], seen[name]) <= 1e-4, name


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
        assert rel_err(out[f"feature{i}"], r) <= 1e-4, i


def test_fp16_resnet18_within_bound():
    model = torchvision_classifier("resnet18", seed=7)
    x = _input(8)
    ref, _ = hooked(model, x, [])
    out = netdefs.build("resnet18", state_dict_arrays(model), backend="reference", precision="fp16", imgsz=IMGSZ,
                        batch=BATCH, quiet=True)(x)["logits"]
    assert out.dtype == np.float32
    assert rel_err(out, ref.numpy()) <= 5e-3  # measured 7.2e-4 (float16 weights and activations)


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

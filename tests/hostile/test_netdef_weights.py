"""Weights that read fine but mean nothing where a netdef folds them: the build refuses them by name instead of
returning an engine of NaNs (a negative BatchNorm variance: sqrt(var + eps) of a negative number)."""
import numpy as np
import pytest

import netdefs
from netdefs.runtime.demo import DemoWeights


def _state(model, imgsz):
    """The weights `model` reads (demo values, recorded by name and shape): a state_dict-like mapping."""
    seen = {}

    class Recording(DemoWeights):
        def get(self, name, shape, dtype=np.float32):
            value = super().get(name, shape, np.float32)
            seen[name] = value
            return value.astype(dtype)


    netdefs.define(model, Recording(), backend="reference", imgsz=imgsz, quiet=True)
    return dict(seen)


@pytest.mark.filterwarnings("ignore:the weights have no model.24.anchors")  # the recorded weights carry none
@pytest.mark.parametrize("model,bn,value", [("resnet18", "layer1.0.bn1", -1.0), ("yolov5n", "model.0.bn", -0.5),
                                            ("mobilenet_v3_small", "features.0.1", -1e-2)])
def test_negative_batchnorm_variance_is_refused_by_name(model, bn, value):
    weights = _state(model, 64)
    good = netdefs.build(model, weights, backend="reference", imgsz=64, quiet=True, **(
        {"head": "raw"} if model.startswith("yolo") else {}))
    x = np.random.default_rng(3).random(good.input_shape(), dtype=np.float32)
    assert all(np.isfinite(v).all() for v in good(x).values())
    var = weights[f"{bn}.running_var"].copy()
    var[1] = value
    weights[f"{bn}.running_var"] = var
    with pytest.raises(netdefs.UserError, match=rf"^{bn}\.running_var\[1\] = {value:g}: a BatchNorm variance must "
                                                rf"be >= 0"):
        netdefs.build(model, weights, backend="reference", imgsz=64, quiet=True)


def test_variance_just_above_minus_eps_still_builds():
    """var + eps > 0 is what the formula needs: a variance of -eps/2 (rounding in a converted checkpoint) builds
    finite, as PyTorch computes it."""
    weights = _state("resnet18", 32)
    var = weights["bn1.running_var"].copy()
    var[0] = -0.5e-5  # torchvision's eps is 1e-5
    weights["bn1.running_var"] = var
    engine = netdefs.build("resnet18", weights, backend="reference", imgsz=32, quiet=True)
    x = np.random.default_rng(4).standard_normal(engine.input_shape(), dtype=np.float32)
    assert np.isfinite(engine(x)["logits"]).all()

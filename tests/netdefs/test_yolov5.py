"""YOLOv5 parity with the `yolov5` package (7.0.14), built from its yaml with seeded random weights."""
import numpy as np
import pytest
import torch

from tests.helpers.refmodels import state_dict_arrays, yolov5_model

import netdefs
from netdefs.yolov5 import ModelMismatch, describe_weights

pytest.importorskip("yolov5")


def rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


def reference(model, x):
    with torch.no_grad():
        out = model(torch.from_numpy(x))
    return out


@pytest.mark.parametrize("name,imgsz", [("yolov5n", 128), ("yolov5s", 96), ("yolov5n6", 128), ("yolov5n-seg", 96)])
def test_raw_and_decode_match_pytorch(name, imgsz):
    model = yolov5_model(name, seed=1)
    weights = state_dict_arrays(model)
    rng = np.random.default_rng(7)
    x = rng.random((2, 3, imgsz, imgsz), dtype=np.float32)
    ref = reference(model, x)
    pred_ref, raw_ref = (ref[0], ref[2]) if name.endswith("-seg") else ref
    raw = netdefs.build(name, weights, backend="reference", head="raw", imgsz=imgsz, batch=2, quiet=True)(x)
    for i, r in enumerate(raw_ref):
        assert raw[f"raw{i}"].shape == tuple(r.shape)
        assert rel_err(raw[f"raw{i}"], r.numpy()) <= 1e-4
    dec = netdefs.build(name, weights, backend="reference", head="decode", imgsz=imgsz, batch=2, quiet=True)(x)
    assert rel_err(dec["pred"], pred_ref.numpy()) <= 1e-4
    if name.endswith("-seg"):
        assert rel_err(dec["proto"], ref[1].numpy()) <= 1e-4


def test_describe_weights_names_variant_and_classes():
    model = yolov5_model("yolov5s", nc=20)
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    assert describe_weights(shapes.items()) == ("yolov5s", 20)
    with pytest.raises(ModelMismatch, match="the weights are yolov5s .20 classes.*yolov5m"):
        netdefs.build("yolov5m", state_dict_arrays(model), backend="reference", imgsz=64, quiet=True)

"""YOLOv5 parity with the `yolov5` package (7.0.14), built from its yaml with seeded random weights."""
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers.bounds import check_pred, within
from tests.helpers.refmodels import state_dict_arrays, yolov5_model

import netdefs
from netdefs.errors import ModelMismatch
from netdefs.families.yolov5 import FAMILY


def describe_weights(items):
    return FAMILY.describe(dict(items))

pytest.importorskip("yolov5")


def rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


# Relative errors of clean runs on reftrt (2026-12-04); bounds are 10x these. Decoded predictions per column group
# (bounds.check_pred).
CLEAN = {"yolov5n raw0": 3.9e-7, "yolov5n raw1": 4.3e-7, "yolov5n raw2": 6.1e-7, "yolov5n pred boxes": 3.5e-7,
         "yolov5n pred objectness": 1.1e-7, "yolov5n pred classes": 2.0e-7, "yolov5s raw0": 2.9e-7,
         "yolov5s raw1": 5.1e-7, "yolov5s raw2": 5.0e-7, "yolov5s pred boxes": 1.6e-7,
         "yolov5s pred objectness": 1.8e-7, "yolov5s pred classes": 2.0e-7, "yolov5n6 raw0": 3.3e-7,
         "yolov5n6 raw1": 5.3e-7, "yolov5n6 raw2": 5.0e-7, "yolov5n6 raw3": 4.4e-7, "yolov5n6 pred boxes": 2.4e-7,
         "yolov5n6 pred objectness": 1.1e-7, "yolov5n6 pred classes": 2.0e-7, "yolov5n-seg raw0": 4.5e-7,
         "yolov5n-seg raw1": 3.9e-7, "yolov5n-seg raw2": 4.2e-7, "yolov5n-seg pred boxes": 2.3e-7,
         "yolov5n-seg pred objectness": 1.1e-7, "yolov5n-seg pred classes": 2.0e-7,
         "yolov5n-seg pred mask coefficients": 4.3e-7, "yolov5n-seg proto": 2.4e-7, "yolov5n fp16 raw0": 8.4e-4,
         "yolov5n fp16 raw1": 6.1e-4, "yolov5n fp16 raw2": 5.4e-4, "yolov5n-v5.0 pred boxes": 2.7e-7,
         "yolov5n-v5.0 pred objectness": 1.1e-7, "yolov5n-v5.0 pred classes": 9.9e-8, "trt 10.3 yolov5n raw0": 2.1e-7,
         "trt 10.3 yolov5n fp16 raw0": 7.1e-4}


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
        within(rel_err(raw[f"raw{i}"], r.numpy()), CLEAN, f"{name} raw{i}")
    dec = netdefs.build(name, weights, backend="reference", head="decode", imgsz=imgsz, batch=2, quiet=True)(x)
    check_pred(dec["pred"], pred_ref.numpy(), model.model[-1].nc, name.endswith("-seg"), CLEAN, name)
    if name.endswith("-seg"):
        within(rel_err(dec["proto"], ref[1].numpy()), CLEAN, f"{name} proto")


def test_describe_weights_names_variant_and_classes():
    model = yolov5_model("yolov5s", nc=20)
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    assert describe_weights(shapes.items()) == ("yolov5s", 20)
    with pytest.raises(ModelMismatch, match="the weights are yolov5s .20 classes.*yolov5m"):
        netdefs.build("yolov5m", state_dict_arrays(model), backend="reference", imgsz=64, quiet=True)


def _nms_reference(pred, conf, iou, max_det):
    from yolov5.utils.general import non_max_suppression
    return non_max_suppression(torch.from_numpy(pred), conf, iou, max_det=max_det)


@pytest.mark.parametrize("name", ["yolov5n", "yolov5n-seg"])
def test_nms_head_equals_yolov5_non_max_suppression(name):
    imgsz, conf, iou, max_det = 128, 0.3, 0.45, 50
    model = yolov5_model(name, seed=3)
    weights = state_dict_arrays(model)
    x = np.random.default_rng(11).random((3, 3, imgsz, imgsz), dtype=np.float32)
    kwargs = dict(backend="reference", imgsz=imgsz, batch=3, quiet=True)
    pred = netdefs.build(name, weights, head="decode", **kwargs)(x)["pred"]
    out = netdefs.build(name, weights, head="nms", score_threshold=conf, iou_threshold=iou, max_det=max_det,
                        **kwargs)(x)
    nc = model.model[-1].nc
    ref = _nms_reference(pred, conf, iou, max_det) if not name.endswith("-seg") else \
        __import__("yolov5.utils.general", fromlist=["x"]).non_max_suppression(torch.from_numpy(pred), conf, iou,
                                                                                max_det=max_det, nm=32)
    total = 0
    for b in range(3):
        r = ref[b].numpy()
        n = int(out["num_dets"][b, 0])
        assert n == len(r), f"image {b}: {n} detections, yolov5 has {len(r)}"
        total += n
        order = np.argsort(-out["scores"][b, :n], kind="stable")
        np.testing.assert_allclose(out["boxes"][b, :n][order], r[:, :4], rtol=1e-5, atol=1e-3)
        np.testing.assert_allclose(out["scores"][b, :n][order], r[:, 4], rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(out["classes"][b, :n][order], r[:, 5].astype(np.int32))
        assert (out["classes"][b, n:] == -1).all() and (out["scores"][b, n:] == 0).all()
        assert out["classes"][b, :n].max(initial=0) < nc
        if name.endswith("-seg"):
            np.testing.assert_allclose(out["mask_coefficients"][b, :n][order], r[:, 6:], rtol=1e-5, atol=1e-5)
    assert total > 0, "the test input produced no detections: the comparison would prove nothing"


def test_fp16_error_is_bounded():
    """fp16 (strongly typed float16 network): raw outputs within 2e-2 relative of fp32 PyTorch (the acceptance) and
    10x the clean run."""
    model = yolov5_model("yolov5n", seed=5)
    weights = state_dict_arrays(model)
    x = np.random.default_rng(2).random((1, 3, 64, 64), dtype=np.float32)
    _, raw_ref = reference(model, x)
    raw = netdefs.build("yolov5n", weights, backend="reference", head="raw", imgsz=64, precision="fp16",
                        quiet=True)(x)
    for i, r in enumerate(raw_ref):
        assert raw[f"raw{i}"].dtype == np.float32
        within(rel_err(raw[f"raw{i}"], r.numpy()), CLEAN, f"yolov5n fp16 raw{i}", acceptance=2e-2)


def test_dynamic_batch_fills_every_slot():
    model = yolov5_model("yolov5n", seed=9)
    weights = state_dict_arrays(model)
    engine = netdefs.build("yolov5n", weights, backend="reference", head="decode", imgsz=64,
                           dynamic_batch=(1, 2, 4), quiet=True)
    assert engine.input_shape() == (-1, 3, 64, 64)
    x = np.random.default_rng(4).random((3, 3, 64, 64), dtype=np.float32)
    batched = engine(x)["pred"]
    for i in range(3):
        single = engine(x[i:i + 1])["pred"]
        np.testing.assert_allclose(batched[i:i + 1], single, rtol=1e-5, atol=1e-5)
    with pytest.raises(netdefs.UserError, match="outside the engine's profile"):
        engine(np.zeros((5, 3, 64, 64), np.float32))


def test_v50_focus_spp_variant_matches_pytorch():
    from tests.helpers.refmodels import yolov5_v50_model
    model = yolov5_v50_model(seed=8)
    weights = state_dict_arrays(model)
    assert describe_weights((k, v.shape) for k, v in weights.items()) == ("yolov5n-v5.0", 80)
    x = np.random.default_rng(3).random((1, 3, 64, 64), dtype=np.float32)
    pred_ref, raw_ref = reference(model, x)
    out = netdefs.build("yolov5n-v5.0", weights, backend="reference", head="decode", imgsz=64, quiet=True)(x)
    check_pred(out["pred"], pred_ref.numpy(), 80, False, CLEAN, "yolov5n-v5.0")


def test_builds_on_the_tensorrt_10_3_api(tmp_path):
    """JetPack 6 ships TensorRT 10.3: the same netdef builds there, fp16 through the STRONGLY_TYPED network flag."""
    import os
    import subprocess
    import sys
    model = yolov5_model("yolov5n", seed=12)
    from weights import save_safetensors
    save_safetensors(state_dict_arrays(model), tmp_path / "w.safetensors")
    x = np.random.default_rng(5).random((1, 3, 64, 64), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    script = (
        "import sys, numpy as np, reftrt, netdefs\n"
        "assert reftrt.__version__.startswith('10.3')\n"
        "x = np.load(sys.argv[1] + '/x.npy')\n"
        "for p in ('fp32', 'fp16'):\n"
        "    e = netdefs.build('yolov5n', sys.argv[1] + '/w.safetensors', backend='reference', head='raw',\n"
        "                      imgsz=64, precision=p, quiet=True)\n"
        "    np.save(sys.argv[1] + f'/{p}.npy', e(x)['raw0'])\n")
    env = dict(os.environ, REFTRT_TRT_VERSION="10.3")
    r = subprocess.run([sys.executable, "-c", script, str(tmp_path)], env=env, capture_output=True, text=True,
                       cwd=str(Path(__file__).resolve().parents[2]))
    assert r.returncode == 0, r.stderr[-2000:]
    _, raw_ref = reference(model, x)
    within(rel_err(np.load(tmp_path / "fp32.npy"), raw_ref[0].numpy()), CLEAN, "trt 10.3 yolov5n raw0")
    within(rel_err(np.load(tmp_path / "fp16.npy"), raw_ref[0].numpy()), CLEAN, "trt 10.3 yolov5n fp16 raw0",
           acceptance=2e-2)

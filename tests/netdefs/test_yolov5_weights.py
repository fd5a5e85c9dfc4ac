"""YOLOv5 weights as users bring them: a train.py checkpoint through tools/gen_wts.py, and tensorrtx's .wts."""
import copy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers.bounds import check_pred, within
from tests.helpers.refmodels import yolov5_model

import netdefs

pytest.importorskip("yolov5")
ROOT = Path(__file__).resolve().parents[2]


def rel_err(a, b):
    return float(np.abs(np.asarray(a, np.float64) - b).max() / max(np.abs(b).max(), 1e-12))


# Relative errors of clean runs on reftrt (2026-12-04); bounds are 10x these.
CLEAN = {"gen_wts checkpoint raw0": 2.3e-7, "gen_wts checkpoint raw1": 2.6e-7, "gen_wts checkpoint raw2": 3.2e-7,
         "tensorrtx wts raw0": 1.9e-7, "tensorrtx wts raw1": 2.3e-7, "tensorrtx wts raw2": 2.9e-7,
         "tensorrtx wts pred boxes": 8.8e-8, "tensorrtx wts pred objectness": 1.1e-7,
         "tensorrtx wts pred classes": 9.7e-8}


def raw_reference(model, x):
    with torch.no_grad():
        return [r.numpy() for r in model(torch.from_numpy(x))[1]]


def test_train_checkpoint_through_gen_wts_builds(tmp_path):
    """{'model', 'ema', 'optimizer', ...} with fp16 modules, as YOLOv5's train.py saves it (a pickle of code)."""
    model = yolov5_model("yolov5n", seed=4)
    ema = yolov5_model("yolov5n", seed=5)
    ckpt = {"epoch": 3, "best_fitness": None, "model": copy.deepcopy(model).half(), "ema": copy.deepcopy(ema).half(),
            "updates": 10, "optimizer": None, "opt": {}, "git": None, "date": "2026-11-23"}
    pt = tmp_path / "last.pt"
    torch.save(ckpt, pt)
    wts = tmp_path / "yolov5n.wts"
    cmd = [sys.executable, str(ROOT / "tools" / "gen_wts.py"), str(pt), "-o", str(wts)]
    # Read without running the pickle's code (placeholders for its classes), and unpickled for real with
    # --trust-pickle: the same weights either way.
    done = subprocess.run(cmd + ["-q"], capture_output=True, text=True)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    trusted = tmp_path / "trusted.wts"
    done = subprocess.run(cmd[:-1] + [str(trusted), "--trust-pickle", "-q"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert wts.read_bytes() == trusted.read_bytes()
    # YOLOv5 loads (ckpt.get('ema') or ckpt['model']): the EMA weights, stored in fp16.
    reference = copy.deepcopy(ema).half().float().eval()
    x = np.random.default_rng(0).random((1, 3, 64, 64), dtype=np.float32)
    out = netdefs.build("yolov5n", str(wts), backend="reference", head="raw", imgsz=64, quiet=True)(x)
    for i, r in enumerate(raw_reference(reference, x)):
        within(rel_err(out[f"raw{i}"], r), CLEAN, f"gen_wts checkpoint raw{i}")


def tensorrtx_yolov5_wts(model, path):
    """tensorrtx yolov5's gen_wts.py: it registers anchor_grid (anchors × stride) and strides as buffers of the
    Detect layer, then writes the state_dict with tensorrtx's loop (tests/test_weights_wts.py)."""
    from tests.test_weights_wts import tensorrtx_gen_wts
    detect = model.model[-1]
    anchor_grid = detect.anchors * detect.stride[..., None, None]
    delattr(detect, "anchor_grid")
    detect.register_buffer("anchor_grid", anchor_grid)
    detect.register_buffer("strides", detect.stride)
    tensorrtx_gen_wts({k: v.numpy() for k, v in model.state_dict().items()}, path)


def test_tensorrtx_wts_builds_and_matches(tmp_path):
    model = yolov5_model("yolov5n", seed=6)
    x = np.random.default_rng(1).random((1, 3, 64, 64), dtype=np.float32)
    expected = raw_reference(model, x)
    wts = tmp_path / "yolov5n.wts"
    tensorrtx_yolov5_wts(copy.deepcopy(model), wts)
    out = netdefs.build("yolov5n", str(wts), backend="reference", head="raw", imgsz=64, quiet=True)(x)
    for i, r in enumerate(expected):
        within(rel_err(out[f"raw{i}"], r), CLEAN, f"tensorrtx wts raw{i}")
    dec = netdefs.build("yolov5n", str(wts), backend="reference", head="decode", imgsz=64, quiet=True)(x)
    with torch.no_grad():
        ref = model(torch.from_numpy(x))[0].numpy()
    check_pred(dec["pred"], ref, 80, False, CLEAN, "tensorrtx wts")

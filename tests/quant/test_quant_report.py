"""The accuracy report (tools/accuracy.py) on models where the numbers mean something:
- a resnet18 trained by tools/train_tiny.py on its generated shapes (once per test session, ~30 s on one thread):
  fp16 and int8 top-1 agreement with fp32, errors vs PyTorch, per-layer sensitivity, the Markdown / JSON output;
- YOLOv5n with seeded random weights on bus.jpg and zidane.jpg: mAP50 of the int8 and fp16 detections with the
  fp32 detections as ground truth (random weights still give boxes and scores; the agreement is what is measured).
Bounds (measured, then a margin): trained classifier held-out accuracy >= 0.875 (measured 1.0), fp16 top-1
agreement 1.0, int8 top-1 agreement >= 0.75 (measured 0.9375 entropy / 1.0 max on 16 images), int8 cosine >= 0.99;
YOLOv5n (head sharpened, see the test) mAP50 vs fp32 at imgsz 128: fp16 >= 0.85 (measured 0.946), int8 >= 0.75
(measured 0.897).
"""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import accuracy  # noqa: E402
import train_tiny  # noqa: E402


@pytest.fixture(scope="session")
def tiny_classifier(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny")
    weights, images, info = train_tiny.train(str(out), steps=60, n_eval=8, log=lambda m: None)
    return weights, images, info


def test_generated_dataset_is_deterministic():
    a, la = train_tiny.dataset(8, seed=3)
    b, lb = train_tiny.dataset(8, seed=3)
    assert (la == lb).all() and all((x == y).all() for x, y in zip(a, b))
    assert sorted(set(la.tolist())) == [0, 1, 2, 3]


def test_report_on_the_trained_classifier(tiny_classifier, tmp_path):
    weights, images, info = tiny_classifier
    assert info["heldout_accuracy"] >= 0.875
    report = accuracy.evaluate("resnet18", weights, images, ("fp32", "fp16", "int8"), calib_method="max",
                               sensitivity=True, progress=False, imgsz=64)
    p = report["precisions"]
    assert p["fp32"]["vs_pytorch"]["rel"] <= 1e-4
    assert p["fp16"]["top1_agreement"] == 1.0 and p["fp16"]["vs_fp32"]["rel"] <= 5e-3
    assert p["int8"]["top1_agreement"] >= 0.75
    assert p["int8"]["vs_fp32"]["cosine"] >= 0.99 and p["int8"]["vs_fp32"]["rel"] > 0
    assert p["int8"]["quantizers"] == 29
    sens = report["sensitivity"]
    assert len(sens) == 29 and sens[0]["rel"] >= sens[-1]["rel"] > 0
    assert {r["layer"] for r in sens} >= {"conv1", "fc", "layer1.0"}
    text = accuracy.markdown(report)
    assert "| int8 |" in text and "Candidate fallbacks: --fallback" in text and "top1 agreement" in text


def test_report_cli_writes_markdown_and_json(tiny_classifier, tmp_path):
    weights, images, _ = tiny_classifier
    out = tmp_path / "report.md"
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "accuracy.py"), "resnet18", "--weights", weights,
                        "--images", images, "--imgsz", "64", "--precisions", "fp32,int8", "--calib-method",
                        "percentile", "--reference", "none", "-o", str(out)], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert "| int8 |" in text and text.strip() and text in r.stdout
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["calibration"]["method"] == "percentile" and data["precisions"]["int8"]["top1_agreement"] >= 0.75
    bad = subprocess.run([sys.executable, str(ROOT / "tools" / "accuracy.py"), "resnet18", "--weights", weights,
                          "--images", images, "--precisions", "fp32,int4"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--precisions" in bad.stderr and "Traceback" not in bad.stderr


def test_detector_map50_against_fp32():
    pytest.importorskip("yolov5")
    from tests.helpers.refmodels import state_dict_arrays, yolov5_model
    weights = state_dict_arrays(yolov5_model("yolov5n", seed=6))
    # Random heads give every box a score near 0.3, so the ranking (and mAP) would be noise: scale the objectness
    # rows of the detection convolutions by 6 and the class rows by 3, so that scores spread over (0, 1).
    for k in range(3):
        w = weights[f"model.24.m.{k}.weight"]
        for a in range(3):
            w[a * 85 + 4] *= 6
            w[a * 85 + 5:a * 85 + 85] *= 3
    images = [str(Path(__import__("yolov5").__file__).parent / "data" / "images" / n)
              for n in ("bus.jpg", "zidane.jpg")]
    report = accuracy.evaluate("yolov5n", weights, images, ("fp32", "fp16", "int8"),
                               calib_method="max", progress=False, imgsz=128, score_threshold=0.25)
    p = report["precisions"]
    assert p["fp32"]["map50"] == pytest.approx(1.0) and p["fp32"]["truth_detections"] >= 5
    assert p["fp16"]["map50"] >= 0.85
    assert p["int8"]["map50"] >= 0.75
    assert p["fp32"]["vs_pytorch"]["rel"] <= 1e-4 and p["int8"]["vs_fp32"]["cosine"] >= 0.99
    np.testing.assert_equal(report["images"], ["bus.jpg", "zidane.jpg"])

"""YOLOv5s, ResNet-50 and unet-resnet18 build in fp16 and int8 on reftrt (small imgsz, seeded random weights with
randomised BatchNorm statistics), calibrated on bus.jpg and zidane.jpg, evaluated on those images with fresh
random noise added (not the calibration inputs themselves).

Bounds (relative error = max |a - b| / max |b| of the raw outputs; cosine over all outputs): each error within its
acceptance and 10x the clean run's (tests/helpers/bounds.py; CLEAN below):
- fp32 vs PyTorch: acceptance 1e-4.
- fp16 vs PyTorch fp32: acceptance YOLOv5 2e-2, ResNet 5e-3, Unet 1e-2.
- int8 vs fp32 reftrt: acceptance YOLOv5s raw0 rel 3e-2 (head convolutions in fp16), cosine >= 0.999; ResNet-50
  logits rel 0.15, cosine >= 0.995; unet-resnet18 logits rel 0.3, cosine >= 0.99. Random weights: these bound the
  quantization error, not accuracy (the accuracy report on a trained model does that: test_quant_report.py).
"""
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers.bounds import within

import netdefs
from netdefs.runtime.calibrate import calibrate, prepare
from netdefs.tasks.images import read_image
from netdefs.analysis.metrics import errors

pytest.importorskip("yolov5")
IMAGES = [str(Path(__import__("yolov5").__file__).parent / "data" / "images" / n) for n in ("bus.jpg", "zidane.jpg")]


def _yolov5s():
    from tests.helpers.refmodels import state_dict_arrays, yolov5_model
    m = yolov5_model("yolov5s", seed=1)
    return m, state_dict_arrays(m), lambda out: out[1][0]


def _resnet50():
    from tests.helpers.ref_resnet import state_dict_arrays, torchvision_classifier
    m = torchvision_classifier("resnet50", seed=1)
    return m, state_dict_arrays(m), lambda out: out


def _unet():
    from tests.helpers.ref_smp import unet_model
    from tests.helpers.refmodels import state_dict_arrays
    m = unet_model("resnet18", 3, seed=1)
    return m, state_dict_arrays(m), lambda out: out


# Relative errors of clean runs on reftrt (2026-12-04); bounds are 10x these (and the acceptance in CASES).
CLEAN = {"yolov5s fp32 vs PyTorch": 2.3e-7, "yolov5s fp16 vs PyTorch": 6.9e-4, "yolov5s int8 vs fp32": 5.5e-3,
         "yolov5s int8 vs PyTorch": 5.5e-3, "resnet50 fp32 vs PyTorch": 5.0e-7, "resnet50 fp16 vs PyTorch": 8.5e-4,
         "resnet50 int8 vs fp32": 4.0e-2, "resnet50 int8 vs PyTorch": 4.0e-2, "unet-resnet18 fp32 vs PyTorch": 1.3e-6,
         "unet-resnet18 fp16 vs PyTorch": 2.1e-3, "unet-resnet18 int8 vs fp32": 6.7e-2,
         "unet-resnet18 int8 vs PyTorch": 6.7e-2}

CASES = {  # model: (make, options, output, fp16 bound vs PyTorch, int8 rel bound, int8 cosine bound, method)
    "yolov5s": (_yolov5s, {"head": "raw"}, "raw0", 2e-2, 3e-2, 0.999, "mse"),
    "resnet50": (_resnet50, {}, "logits", 5e-3, 0.15, 0.995, "max"),
    "unet-resnet18": (_unet, {}, "logits", 1e-2, 0.3, 0.99, "max"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_fp16_and_int8_within_bounds(name):
    make, options, output, fp16_bound, int8_rel, int8_cos, method = CASES[name]
    model, weights, pick = make()
    imgsz = 64
    fp32 = netdefs.build(name, weights, backend="reference", imgsz=imgsz, quiet=True, **options)
    rng = np.random.default_rng(21)
    x = np.stack([prepare(fp32.meta, read_image(p)) for p in IMAGES])
    x = (x + rng.normal(0, 0.05, x.shape) * np.abs(x).max()).astype(np.float32)  # fresh inputs
    with torch.no_grad():
        ref = pick(model(torch.from_numpy(x))).numpy()
    run = lambda engine: np.concatenate([engine(xi[None])[output] for xi in x])  # noqa: E731
    y32 = run(fp32)
    within(errors(y32, ref)["rel"], CLEAN, f"{name} fp32 vs PyTorch")
    fp16 = netdefs.build(name, weights, backend="reference", imgsz=imgsz, quiet=True, precision="fp16", **options)
    y16 = run(fp16)
    within(errors(y16, ref)["rel"], CLEAN, f"{name} fp16 vs PyTorch", acceptance=fp16_bound)
    calib_options = {k: v for k, v in options.items() if k != "head"}
    quant = calibrate(name, weights, IMAGES, method=method, imgsz=imgsz, progress=False, **calib_options)
    int8 = netdefs.build(name, weights, backend="reference", imgsz=imgsz, quiet=True, precision="int8", quant=quant,
                         **options)
    assert int8.meta["precision"] == "int8" and int8.meta["int8"]["quantizers"] > 20
    y8 = run(int8)
    e = errors(y8, y32)
    assert e["cosine"] >= int8_cos, e
    within(e["rel"], CLEAN, f"{name} int8 vs fp32", acceptance=int8_rel)
    within(errors(y8, ref)["rel"], CLEAN, f"{name} int8 vs PyTorch", acceptance=int8_rel)
    print(f"{name}: fp16 vs PyTorch rel {errors(y16, ref)['rel']:.2e}; int8 ({method}) vs fp32 rel {e['rel']:.2e} "
          f"cosine {e['cosine']:.6f}")  # the README's table (pytest -s)
    assert e["max_abs"] > 0  # the quantization did something
    # (no top-1 check here: 1000 random-weight logits have near ties; test_quant_report.py checks top-1 on a
    # trained model)

"""tools/build.py's head choices and dynamic image size, tools/infer.py on a dynamic-size engine (each batch at the
smallest stride multiple of its profile that holds it) and -seg engines' instance masks, as ultralytics'
process_mask makes them."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("ultralytics")

from netdefs.tasks import images as im  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def run(tool, *args):
    return subprocess.run([sys.executable, str(ROOT / "tools" / tool), *map(str, args)], capture_output=True,
                          text=True, timeout=600)


def assets():
    import ultralytics
    return Path(ultralytics.__file__).parent / "assets"


def saved(tmp_path, name, seed):
    from tests.helpers.ref_ultralytics import state_dict_arrays, ultralytics_model
    from weights import save_safetensors
    path = tmp_path / f"{name}.safetensors"
    save_safetensors(state_dict_arrays(ultralytics_model(name, seed=seed)), path)
    return path


def detections(stdout):
    """The printed detection lines, per image path."""
    out, current = {}, None
    for line in stdout.splitlines():
        if line.endswith(" detections") and ": " in line:
            current = line.split(": ")[0]
            out[current] = []
        elif current and line.startswith("  "):
            out[current].append(line.strip())
    return out


def test_head_choices_come_from_the_families(tmp_path):
    r = run("build.py", "-h")
    # every head of the registered families, and nothing else (the YOLO heads, YOLO26's end2end, RT-DETR's postprocess)
    assert "{decode,end2end,nms,postprocess,raw}" in r.stdout and "default 640" not in r.stdout
    r = run("build.py", "yolov5n", "--head", "end2end", "--backend", "reference", "-o", tmp_path / "x.engine")
    assert r.returncode == 2 and "head must be one of raw, decode, nms, got 'end2end'" in r.stderr
    r = run("build.py", "yolo26n", "--head", "end2end", "--imgsz", 64, "--backend", "reference", "--quiet",
            "-o", tmp_path / "e.engine")
    assert r.returncode == 0, r.stderr
    assert json.loads(Path(f"{tmp_path / 'e.engine'}.json").read_text())["head"] == "end2end"


@pytest.mark.parametrize("value,message", [("64,96", "MIN,OPT,MAX"), ("64,a,96", "MIN,OPT,MAX"),
                                           ("64,96,9999", "must be an integer in"),
                                           ("128,96,160", "MIN <= OPT <= MAX")])
def test_dynamic_imgsz_errors_are_one_line(tmp_path, value, message):
    r = run("build.py", "yolo11n", "--dynamic-imgsz", value, "--backend", "reference", "-o", tmp_path / "x.engine")
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
    r = run("build.py", "yolov5n", "--dynamic-imgsz", "64,96,128", "--backend", "reference")
    assert r.returncode == 2 and "does not take a dynamic image size" in r.stderr


def test_fit_size_by_hand():
    sizes = [[64, 64], [128, 128], [256, 256]]
    assert im.fit_size((1080, 810, 3), sizes, 32) == (128, 96)   # 128 x 96 exactly
    assert im.fit_size((500, 333, 3), sizes, 32) == (128, 96)    # 128 x 85.2 -> 96
    assert im.fit_size((100, 1000, 3), sizes, 32) == (64, 128)   # 12.8 -> 32, raised to MIN 64
    assert im.fit_size((720, 1280, 3), [[64, 64], [640, 640], [480, 480]], 32) == (384, 480)  # capped at MAX


def test_infer_on_a_dynamic_engine_equals_fixed_engines_at_the_fitted_sizes(tmp_path):
    """bus.jpg (1080x810) fits 128x96 of a 64..160 profile with OPT 128, zidane.jpg (720x1280) 96x128: one
    dynamic engine prints what fixed engines of those sizes print."""
    w = saved(tmp_path, "yolo11n", 4)
    dyn = tmp_path / "d.engine"
    r = run("build.py", "yolo11n", "--weights", w, "--dynamic-imgsz", "64,128,160", "--max-det", 50,
            "--score-threshold", 0.3, "--backend", "reference", "--quiet", "-o", dyn)
    assert r.returncode == 0, r.stderr
    meta = json.loads(Path(f"{dyn}.json").read_text())
    assert meta["dynamic_imgsz"] == [[64, 64], [128, 128], [160, 160]]
    r = run("infer.py", dyn, assets(), "--show", 50)
    assert r.returncode == 0, r.stderr
    got = detections(r.stdout)
    total = 0
    for image, hw in (("bus.jpg", (128, 96)), ("zidane.jpg", (96, 128))):
        fixed = tmp_path / f"{image}.engine"
        r = run("build.py", "yolo11n", "--weights", w, "--imgsz", *hw, "--max-det", 50, "--score-threshold", 0.3,
                "--backend", "reference", "--quiet", "-o", fixed)
        assert r.returncode == 0, r.stderr
        r = run("infer.py", fixed, assets() / image, "--show", 50)
        want = detections(r.stdout)[str(assets() / image)]
        assert got[str(assets() / image)] == want
        total += len(want)
    assert total > 0


def test_instance_masks_equal_ultralytics_process_mask():
    from ultralytics.utils.ops import process_mask
    rng = np.random.default_rng(3)
    protos = rng.standard_normal((32, 24, 32)).astype(np.float32)
    coeffs = rng.standard_normal((5, 32)).astype(np.float32) * 0.5
    boxes = np.array([[3.5, 7, 60, 90], [0, 0, 128, 96], [40.2, 10.7, 41.9, 80], [100, 50, 127, 95],
                      [10, 10, 10, 10]], np.float32)
    ours = im.instance_masks(coeffs, protos, boxes, (96, 128))
    theirs = process_mask(torch.from_numpy(protos), torch.from_numpy(coeffs), torch.from_numpy(boxes), (96, 128),
                          upsample=True).numpy().astype(bool)
    assert ours.shape == (5, 96, 128) and 1000 < ours.sum()
    assert (ours != theirs).sum() == 0  # measured: no pixel differs
    assert not ours[4].any()  # an empty box has no mask


def test_masks_to_image_undoes_the_letterbox():
    masks = np.zeros((1, 64, 64), bool)
    masks[0, 16:48, 0:32] = True  # the left half of the unpadded band (rows 16..48)
    out = im.masks_to_image(masks, 0.5, (0, 16), (64, 128, 3))
    assert out.shape == (1, 64, 128) and out[0, :, :64].all() and not out[0, :, 64:].any()


def test_seg_engine_prints_and_draws_instance_masks(tmp_path):
    w = saved(tmp_path, "yolov8n-seg", 6)
    engine = tmp_path / "s.engine"
    r = run("build.py", "yolov8n-seg", "--weights", w, "--imgsz", 128, "--score-threshold", 0.3,
            "--backend", "reference", "--quiet", "-o", engine)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "drawn"
    r = run("infer.py", engine, assets() / "bus.jpg", "--out", out, "--show", 5)
    assert r.returncode == 0, r.stderr
    lines = detections(r.stdout)[str(assets() / "bus.jpg")]
    assert lines and all(" mask " in line and line.endswith(" px") for line in lines if not line.startswith("..."))
    assert (out / "bus.jpg").exists()


def test_yolov5_seg_engine_prints_instance_masks_too(tmp_path):
    engine = tmp_path / "v5.engine"
    r = run("build.py", "yolov5n-seg", "--imgsz", 96, "--backend", "reference", "--quiet", "-o", engine)
    assert r.returncode == 0, r.stderr
    r = run("infer.py", engine, assets() / "zidane.jpg", "--show", 3)
    assert r.returncode == 0, r.stderr
    lines = [x for x in detections(r.stdout)[str(assets() / "zidane.jpg")] if not x.startswith("...")]
    assert lines and all(line.endswith(" px") for line in lines)

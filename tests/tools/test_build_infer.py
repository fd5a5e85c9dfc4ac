"""tools/build.py and tools/infer.py as a user runs them."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(tool, *args, cwd=None):
    return subprocess.run([sys.executable, str(ROOT / "tools" / tool), *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=600)


def bus_jpg():
    yolov5 = pytest.importorskip("yolov5")
    return Path(yolov5.__file__).parent / "data" / "images" / "bus.jpg"


@pytest.fixture(scope="module")
def yolov5n_weights(tmp_path_factory):
    from tests.helpers.refmodels import state_dict_arrays, yolov5_model
    from weights import save_safetensors
    path = tmp_path_factory.mktemp("w") / "yolov5n.safetensors"
    save_safetensors(state_dict_arrays(yolov5_model("yolov5n", seed=2)), path)
    return path


def test_build_then_infer_draws_detections(tmp_path, yolov5n_weights):
    engine = tmp_path / "yolov5n.engine"
    r = run("build.py", "yolov5n", "--weights", yolov5n_weights, "-o", engine, "--imgsz", 128,
            "--backend", "reference", "--score-threshold", 0.2)
    assert r.returncode == 0, r.stderr
    assert "backend: reftrt" in r.stderr
    meta = json.loads(Path(str(engine) + ".json").read_text())
    assert meta["model"] == "yolov5n" and meta["num_classes"] == 80 and meta["backend"] == "reference"
    assert meta["weights_sha256"] and meta["imgsz"] == [128, 128]
    out = tmp_path / "out"
    r = run("infer.py", engine, bus_jpg(), "--out", out, "--show", 1000)
    assert r.returncode == 0, r.stderr
    assert "per image" in r.stdout
    # What infer.py prints and draws, recomputed here: the engine on the letterboxed image, the boxes mapped back
    # with yolov5's own scale_boxes (given the letterbox's ratio and padding).
    import torch
    from yolov5.utils.general import scale_boxes

    import netdefs
    from netdefs.tasks import images as im
    image = im.read_image(bus_jpg())
    boxed, ratio, pad = im.letterbox(image, (128, 128))
    dets = netdefs.load(engine)(im.to_input([boxed]))
    n = int(dets["num_dets"][0, 0])
    assert n > 0, "no detections on bus.jpg: the comparison would prove nothing"
    boxes = scale_boxes((128, 128), torch.from_numpy(dets["boxes"][0, :n].copy()), image.shape[:2],
                        ratio_pad=((ratio, ratio), pad)).numpy()
    scores, classes = dets["scores"][0, :n], dets["classes"][0, :n]
    names = meta["names"]  # an 80-class detector whose weights carry none: COCO's
    assert len(names) == 80 and names[0] == "person"
    expected = [f"{bus_jpg()}: {n} detections"] + [
        f"  {names[int(c)]:>12s} {s:.3f}  [{b[0]:.1f}, {b[1]:.1f}, {b[2]:.1f}, {b[3]:.1f}]"
        for b, s, c in zip(boxes, scores, classes)]
    printed = r.stdout.splitlines()[:n + 1]
    assert printed[0] == expected[0]
    assert sorted(printed[1:]) == sorted(expected[1:])  # equal scores may come in either order
    drawn = tmp_path / "expected.jpg"
    im.save_image(im.draw_detections(image, boxes, scores, classes, names), str(drawn))
    # the same picture (boxes of equal scores may be drawn in another order, and overlap)
    got, want = im.read_image(out / "bus.jpg"), im.read_image(drawn)
    assert got.shape == image.shape
    assert np.abs(got.astype(np.int16) - want).mean() <= 1.0
    assert np.abs(got.astype(np.int16) - image).mean() > 2.0  # the boxes are there


def test_demo_weights_are_announced(tmp_path):
    r = run("build.py", "yolov5n", "-o", tmp_path / "demo.engine", "--imgsz", 64, "--backend", "reference")
    assert r.returncode == 0, r.stderr
    assert "DEMO WEIGHTS" in r.stderr
    r = run("infer.py", tmp_path / "demo.engine", bus_jpg())
    assert r.returncode == 0 and "DEMO weights" in r.stderr


@pytest.mark.parametrize("args,message", [
    (["yolov5q"], "unknown model 'yolov5q'"),
    (["yolov5n", "--weights", "missing.wts"], "missing.wts"),
    (["yolov5n", "--dynamic-batch", "4,2"], "MIN,OPT,MAX"),
])
def test_build_user_errors_are_one_line(tmp_path, args, message):
    r = run("build.py", *args, "-o", tmp_path / "x.engine", "--backend", "reference", cwd=tmp_path)
    assert r.returncode == 2
    assert message in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x.engine").exists()


def test_build_refuses_weights_of_another_variant(tmp_path, yolov5n_weights):
    r = run("build.py", "yolov5s", "--weights", yolov5n_weights, "-o", tmp_path / "x.engine", "--imgsz", 64,
            "--backend", "reference")
    assert r.returncode == 2 and "the weights are yolov5n" in r.stderr and "Traceback" not in r.stderr


def test_infer_batches_fill_every_slot(tmp_path, yolov5n_weights):
    """A batch-2 engine over 3 images: the last batch is padded, and every image gets its own detections."""
    engine = tmp_path / "b2.engine"
    assert run("build.py", "yolov5n", "--weights", yolov5n_weights, "-o", engine, "--imgsz", 128, "--batch", 2,
               "--backend", "reference", "--score-threshold", 0.2).returncode == 0
    images = tmp_path / "images"
    images.mkdir()
    from PIL import Image
    src = Image.open(bus_jpg())
    for i, angle in enumerate((0, 90, 180)):
        src.rotate(angle, expand=True).save(images / f"im{i}.jpg")
    r = run("infer.py", engine, images)
    assert r.returncode == 0, r.stderr
    counts = [line for line in r.stdout.splitlines() if line.startswith(str(images))]
    assert len(counts) == 3

    import netdefs
    from netdefs.tasks import images as im
    e = netdefs.load(engine)
    singles = []
    for i in range(3):
        x = im.to_input([im.letterbox(im.read_image(images / f"im{i}.jpg"), (128, 128))[0]] * 2)
        singles.append(int(e(x)["num_dets"][0, 0]))
    assert [int(line.split(": ")[1].split()[0]) for line in counts] == singles

"""Bad input to the tools: one line `prog: error: ...` naming the file and what is wrong, exit status 2, no
traceback; nonsense arguments refused before anything is loaded; an engine and its sidecar checked as one unit."""
import hashlib
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from netdefs.errors import UserError

ROOT = Path(__file__).resolve().parents[2]
PRE = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "resize_ratio": 256 / 224}


def run(tool, *args, cwd=None):
    return subprocess.run([sys.executable, str(ROOT / "tools" / tool), *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def one_line_error(r, prog, *fragments):
    """The tool failed with exit status 2 and exactly one stderr line `prog: error: ...` holding `fragments`."""
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr and len(lines) == 1, r.stderr
    assert lines[0].startswith(f"{prog}: error: "), lines[0]
    for fragment in fragments:
        assert str(fragment) in lines[0], (fragment, lines[0])
    return lines[0]


def tiny_engine(path, task="classify"):
    """A 3-class "classifier" on reftrt (the mean of each input channel as its logit), saved with its sidecar: an
    engine the tools can load without any model of the zoo."""
    import reftrt as trt
    from netdefs.runtime.engine import Engine
    builder = trt.Builder(trt.Logger(trt.Logger.WARNING))
    network = builder.create_network()
    x = network.add_input("images", trt.DataType.FLOAT, (1, 3, 8, 8))
    y = network.add_reduce(x, trt.ReduceOperation.AVG, 0b1100, False).get_output(0)
    y.name = "logits"
    network.mark_output(y)
    plan = builder.build_serialized_network(network, builder.create_builder_config())
    meta = {"model": "tiny", "task": task, "imgsz": [8, 8], "outputs": ["logits"], "num_classes": 3,
            "backend": "reference", "preprocess": PRE, "batch": 1}
    Engine(plan, meta, "reference", trt=trt).save(path)
    return Path(path)


def write_image(path, seed=0, h=12, w=10):
    from PIL import Image
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
    return path


# ---------------------------------------------------------------- an engine and its sidecar are one unit
def test_save_writes_the_sidecar_first_and_records_the_plan(tmp_path, monkeypatch):
    from netdefs.runtime import engine as eng
    written = []
    real = eng.atomic_write
    monkeypatch.setattr(eng, "atomic_write", lambda path, data: (written.append(str(path)), real(path, data)))
    path = tiny_engine(tmp_path / "t.engine")
    assert written == [f"{path}.json", str(path)]
    meta = json.loads(Path(f"{path}.json").read_text())
    assert meta["plan_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    loaded = eng.load(path)
    out = loaded(np.ones((1, 3, 8, 8), np.float32) * np.arange(3, dtype=np.float32)[None, :, None, None])
    np.testing.assert_allclose(out["logits"], [[0, 1, 2]])


def edit_sidecar(path, text):
    Path(f"{path}.json").write_text(text)


@pytest.mark.parametrize("sidecar, message", [
    (None, "its sidecar {e}.json is missing"),
    ("[1, 2]", "(a JSON list, not an object)"),
    ("[" * 100000 + "]" * 100000, "invalid JSON"),
    ("{", "invalid JSON"),
    ("replace:imgsz=640", "'imgsz' must be [H, W], positive integers, found 640"),
    ("replace:outputs=[]", "'outputs' must be a list of output names"),
    ("replace:names=" + json.dumps([1, 2, 3]), "'names' must be a list of strings"),
    ("replace:task=" + json.dumps("x" * 5000), "'task' must be a task name, found 'xxxxxxxx"),
    ("replace:task=" + json.dumps("depth"), "engine of the task 'depth', which this version cannot run"),
    ("drop:plan_sha256", "no 'plan_sha256'"),
    ("replace:plan_sha256=" + json.dumps("0" * 64), "{e}.json does not describe {e}"),
])
def test_a_bad_sidecar_is_one_line_naming_both_files(tmp_path, sidecar, message):
    from netdefs.runtime.engine import load
    engine = tiny_engine(tmp_path / "t.engine")
    meta = json.loads(Path(f"{engine}.json").read_text())
    if sidecar is None:
        os.remove(f"{engine}.json")
    elif sidecar.startswith(("replace:", "drop:")):
        key, _, value = sidecar.split(":", 1)[1].partition("=")
        if sidecar.startswith("drop:"):
            del meta[key]
        else:
            meta[key] = json.loads(value)
        edit_sidecar(engine, json.dumps(meta))
    else:
        edit_sidecar(engine, sidecar)
    with pytest.raises(UserError) as e:
        load(engine)
    text = str(e.value)
    assert message.format(e=engine) in text and str(engine) in text and "\n" not in text and len(text) < 400


def test_the_sidecar_of_another_engine_is_refused(tmp_path):
    from netdefs.runtime.engine import load
    a, b = tiny_engine(tmp_path / "a.engine"), tiny_engine(tmp_path / "b.engine", task="segment")
    assert a.read_bytes() == b.read_bytes()  # same network: only the sidecars differ, and each matches its plan
    load(b)
    Path(f"{b}.json").write_bytes(Path(f"{a}.json").read_bytes())
    assert load(b).meta["task"] == "classify"  # a copy of an identical plan's sidecar describes it truly
    a.write_bytes(a.read_bytes()[:-1] + bytes([a.read_bytes()[-1] ^ 1]))  # the plan changed after its sidecar
    with pytest.raises(UserError, match="a.engine.json does not describe .*a.engine: it records plan sha256"):
        load(a)


@pytest.mark.parametrize("content", [b"", pickle.dumps({"model": 1}), bytes(range(256)) * 4])
def test_not_a_plan(tmp_path, content):
    from netdefs.runtime.engine import load
    path = tmp_path / "x.engine"
    path.write_bytes(content)
    with pytest.raises(UserError, match=r"x.engine is not a TensorRT plan \(nor a reftrt plan\)"):
        load(path)
    r = run("infer.py", path, tmp_path)
    one_line_error(r, "infer.py", "x.engine is not a TensorRT plan (nor a reftrt plan)")


# ---------------------------------------------------------------- infer.py
def test_infer_skips_a_bad_image_in_a_folder_and_refuses_one_given_alone(tmp_path):
    engine = tiny_engine(tmp_path / "t.engine")
    images = tmp_path / "images"
    images.mkdir()
    write_image(images / "a.png", 1)
    (images / "b.jpg").write_text("not an image")
    write_image(images / "c.png", 2)
    r = run("infer.py", engine, images, "--out", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    assert f"warning: skipped {images / 'b.jpg'}: not an image" in r.stderr
    assert r.stdout.count(": top-3") == 2 and "2 images; per image" in r.stdout
    assert "classify engines draw nothing" in r.stderr and not (tmp_path / "out").exists()
    one_line_error(run("infer.py", engine, images / "b.jpg"), "infer.py", f"{images / 'b.jpg'}: not an image")
    one_line_error(run("infer.py", engine, tmp_path / "nope"), "infer.py", "nope: no such file or directory")
    (images / "a.png").unlink()
    (images / "c.png").write_bytes(b"")
    r = run("infer.py", engine, images)
    assert r.returncode == 2 and r.stderr.count("warning: skipped") == 2
    assert r.stderr.strip().splitlines()[-1] == f"infer.py: error: {images}: none of its images could be read"


def test_infer_prints_names_from_the_sidecar_and_names_file(tmp_path):
    engine = tiny_engine(tmp_path / "t.engine")
    meta = json.loads(Path(f"{engine}.json").read_text())
    meta["names"] = ["red", "green", "blue"]
    Path(f"{engine}.json").write_text(json.dumps(meta))
    image = tmp_path / "im.png"
    from PIL import Image
    Image.fromarray(np.full((8, 8, 3), (10, 20, 250), np.uint8)).save(image)
    r = run("infer.py", engine, image)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1].split()[1:] == ["2", "blue"]
    names = tmp_path / "names.txt"
    names.write_text("R\nG\nB\n")
    r = run("infer.py", engine, image, "--names", names)
    assert r.returncode == 0 and r.stdout.splitlines()[1].split()[1:] == ["2", "B"]
    names.write_text("R\nG\n")
    one_line_error(run("infer.py", engine, image, "--names", names), "infer.py",
                   f"{names}: 2 class names, but the model has 3 classes")
    one_line_error(run("infer.py", engine, image, "--names", tmp_path), "infer.py", "is a directory")


@pytest.mark.parametrize("args, message", [
    (["--show", "-1"], "--show must be an integer in [0, 10000], got -1"),
    (["--show", "1000000000"], "--show must be an integer in [0, 10000]"),
    (["--out", "FILE"], "--out {FILE}: exists and is not a directory"),
])
def test_infer_refuses_nonsense_arguments(tmp_path, args, message):
    engine = tiny_engine(tmp_path / "t.engine")
    file = tmp_path / "f.txt"
    file.write_text("x")
    args = [str(file) if a == "FILE" else a for a in args]
    one_line_error(run("infer.py", engine, write_image(tmp_path / "a.png"), *args), "infer.py",
                   message.format(FILE=file))


# ---------------------------------------------------------------- build.py: refused before anything is loaded
@pytest.mark.parametrize("args, message", [
    (["--imgsz", "0"], "--imgsz must be an integer in [1, 4096], got 0"),
    (["--imgsz", "100000"], "--imgsz must be an integer in [1, 4096], got 100000"),
    (["--imgsz", "64", "64", "64"], "--imgsz takes N or H W"),
    (["--max-det", "0"], "--max-det must be an integer in [1, 10000], got 0"),
    (["--max-det", "-1"], "--max-det must be an integer in [1, 10000], got -1"),
    (["--max-det", "1000000000"], "--max-det must be an integer in [1, 10000]"),
    (["--score-threshold", "2"], "--score-threshold must be a number in [0.0, 1.0], got 2.0"),
    (["--score-threshold", "nan"], "--score-threshold must be a number in [0.0, 1.0], got nan"),
    (["--iou-threshold", "-1"], "--iou-threshold must be a number in [0.0, 1.0], got -1.0"),
    (["--iou-threshold", "inf"], "--iou-threshold must be a number in [0.0, 1.0], got inf"),
    (["--workspace", "-1"], "--workspace must be an integer in [1, 1048576], got -1"),
    (["--batch", "0"], "--batch must be an integer in [1, 4096], got 0"),
    (["--names", "DIR"], "is a directory"),
    (["-o", "DIR"], "-o {DIR}: is a directory"),
])
def test_build_refuses_nonsense_arguments(tmp_path, args, message):
    args = [str(tmp_path) if a == "DIR" else a for a in args]
    if "-o" not in args:
        args += ["-o", tmp_path / "x.engine"]
    r = run("build.py", "yolov5n", "--backend", "reference", *args)
    one_line_error(r, "build.py", message.format(DIR=tmp_path))
    assert not (tmp_path / "x.engine").exists()


def test_build_refuses_a_detection_head_on_a_classifier(tmp_path):
    r = run("build.py", "resnet18", "--head", "nms", "--imgsz", 64, "--backend", "reference",
            "-o", tmp_path / "x.engine")
    one_line_error(r, "build.py", "resnet18", "head")


def test_bad_calibration_image_in_a_folder_is_skipped(tmp_path):
    calib = tmp_path / "calib"
    calib.mkdir()
    write_image(calib / "a.png", 1, 40, 40)
    (calib / "b.png").write_bytes(b"\x89PNG broken")
    r = run("build.py", "resnet18", "--imgsz", 32, "--precision", "int8", "--calib", calib, "--calib-method", "max",
            "--backend", "reference", "-o", tmp_path / "r.engine", "--quiet")
    assert r.returncode == 0, r.stderr
    assert f"warning: skipped {calib / 'b.png'}" in r.stderr and (tmp_path / "r.engine").exists()


def test_a_bad_calibration_cache_is_one_line(tmp_path):
    from tests.helpers.ref_resnet import state_dict_arrays, torchvision_classifier
    from weights import save_safetensors
    weights = tmp_path / "r.safetensors"
    save_safetensors(state_dict_arrays(torchvision_classifier("resnet18", seed=0, num_classes=10)), weights)
    cache = tmp_path / "bad.json"
    cache.write_text("[1")
    r = run("build.py", "resnet18", "--weights", weights, "--imgsz", 32, "--precision", "int8", "--calib-cache",
            cache, "--backend", "reference", "-o", tmp_path / "x.engine", "--quiet")
    one_line_error(r, "build.py", f"{cache}: not a calibration cache")

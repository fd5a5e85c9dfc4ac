"""User errors of tools/infer.py and netdefs.load: a one-line `infer.py: error: ...` naming what is wrong, exit
status 2, no traceback (DEVELOPING.md, conventions). infer.py runs in-process through tools/_common.run, as its
__main__ does (a subprocess per case would cost seconds of imports each); the image-reading cases and one other run
as real processes."""
import importlib
import importlib.util
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import netdefs

ROOT = Path(__file__).resolve().parents[2]
NO_TENSORRT = importlib.util.find_spec("tensorrt") is None


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    """A classify engine (resnet18, demo weights, 32x32) saved with its sidecar."""
    from netdefs.runtime.demo import DemoWeights
    path = tmp_path_factory.mktemp("engine") / "r18.engine"
    netdefs.build("resnet18", DemoWeights(), backend="reference", imgsz=32, quiet=True).save(path)
    return path


@pytest.fixture(scope="module")
def infer():
    sys.path.insert(0, str(ROOT / "tools"))
    common = importlib.import_module("_common")  # moves tools/ to the end of sys.path
    return common, importlib.import_module("infer")


def run_infer(infer, capsys, *args):
    """(exit status, stderr) of `infer.py args`; an exception the tool does not turn into a message propagates
    (a traceback for the user)."""
    common, tool = infer
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        common.run(lambda: tool.main([str(a) for a in args]), "infer.py")
    return exit_.value.code, capsys.readouterr().err


def assert_one_line_error(status, err, *needles):
    errors = [line for line in err.splitlines() if line.startswith("infer.py: error: ")]
    assert status == 2, err
    assert len(errors) == 1 and err.rstrip("\n").splitlines()[-1] == errors[0], err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in errors[0], errors[0]


@pytest.fixture
def image(tmp_path):
    from PIL import Image
    path = tmp_path / "im.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(path)
    return path


def copy_engine(engine, tmp_path, plan=None, sidecar=None, rehash=False):
    """A copy of `engine` with its plan bytes and / or sidecar text replaced (None: unchanged, False: absent).
    rehash: the sidecar records the new plan's sha256, so that the plan itself is what gets judged."""
    path = tmp_path / "copy.engine"
    path.write_bytes(engine.read_bytes() if plan is None else plan)
    if sidecar is None:
        shutil.copy(str(engine) + ".json", str(path) + ".json")
    elif sidecar is not False:
        Path(str(path) + ".json").write_text(sidecar)
    if rehash:
        meta = json.loads(Path(str(path) + ".json").read_text())
        meta["plan_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
        Path(str(path) + ".json").write_text(json.dumps(meta))
    return path


def test_a_good_run_for_contrast(infer, capsys, engine, image):
    status, err = run_infer(infer, capsys, engine, image)
    assert status == 0, err


def test_missing_engine(infer, capsys, tmp_path, image):
    assert_one_line_error(*run_infer(infer, capsys, tmp_path / "none.engine", image), "none.engine",
                          "cannot read the engine")


def test_engine_is_a_directory(infer, capsys, tmp_path, image):
    assert_one_line_error(*run_infer(infer, capsys, tmp_path, image), "is a directory, not an engine")


def test_truncated_reftrt_plan(infer, capsys, engine, tmp_path, image):
    path = copy_engine(engine, tmp_path, plan=engine.read_bytes()[:40], rehash=True)
    assert_one_line_error(*run_infer(infer, capsys, path, image), "could not load the engine")


def test_reftrt_plan_on_the_tensorrt_backend(infer, capsys, engine, image):
    assert_one_line_error(*run_infer(infer, capsys, engine, image, "--backend", "tensorrt"), "reftrt plan")


def test_not_an_engine_without_sidecar(infer, capsys, engine, tmp_path, image):
    path = copy_engine(engine, tmp_path, plan=np.random.default_rng(1).bytes(3000), sidecar=False)
    assert_one_line_error(*run_infer(infer, capsys, path, image), str(path))


def test_not_an_engine_with_a_reftrt_sidecar(infer, capsys, engine, tmp_path, image):
    path = copy_engine(engine, tmp_path, plan=np.random.default_rng(1).bytes(3000))
    assert_one_line_error(*run_infer(infer, capsys, path, image), str(path))


def test_corrupt_sidecar(infer, capsys, engine, tmp_path, image):
    path = copy_engine(engine, tmp_path, sidecar="{not json")
    assert_one_line_error(*run_infer(infer, capsys, path, image), "copy.engine.json", "sidecar")


def test_unknown_task(infer, capsys, engine, tmp_path, image):
    meta = json.loads(Path(str(engine) + ".json").read_text())
    path = copy_engine(engine, tmp_path, sidecar=json.dumps(dict(meta, task="depth")))
    assert_one_line_error(*run_infer(infer, capsys, path, image), "'depth'")


def test_missing_source(infer, capsys, engine, tmp_path):
    assert_one_line_error(*run_infer(infer, capsys, engine, tmp_path / "nothing.jpg"), "nothing.jpg")


def test_directory_without_images(infer, capsys, engine, tmp_path):
    (tmp_path / "notes.txt").write_text("no images here")
    assert_one_line_error(*run_infer(infer, capsys, engine, tmp_path), "no images")


def test_missing_names_file(infer, capsys, engine, image, tmp_path):
    assert_one_line_error(*run_infer(infer, capsys, engine, image, "--names", tmp_path / "names.txt"), "names.txt")


def run_infer_process(*args):
    """(exit status, stderr) of infer.py as a process. For reading images: in this process, importing yolov5 (other
    tests do) imports ultralytics, which patches PIL's Image.open (an unreadable file then raises ImportError for
    pi_heif instead of PIL's UnidentifiedImageError)."""
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "infer.py"), *map(str, args)], capture_output=True,
                       text=True, timeout=300)
    return r.returncode, r.stderr


def test_corrupt_image(engine, tmp_path):
    path = tmp_path / "broken.jpg"
    path.write_bytes(np.random.default_rng(2).bytes(2000))
    assert_one_line_error(*run_infer_process(engine, path), "broken.jpg")


def test_truncated_image(engine, tmp_path, image):
    from PIL import Image
    full = tmp_path / "full.jpg"
    Image.open(image).convert("RGB").save(full)
    path = tmp_path / "truncated.jpg"
    path.write_bytes(full.read_bytes()[:300])
    assert_one_line_error(*run_infer_process(engine, path), "truncated.jpg")


def test_out_is_a_file(infer, capsys, engine, image, tmp_path):
    out = tmp_path / "out"
    out.write_text("")
    assert_one_line_error(*run_infer(infer, capsys, engine, image, "--out", out), "out")


def test_missing_engine_as_a_process(tmp_path):
    assert_one_line_error(*run_infer_process(tmp_path / "none.engine", tmp_path), "none.engine")


# ---- netdefs.load, the API under infer.py
def test_load_errors_name_the_file(engine, tmp_path):
    with pytest.raises(netdefs.UserError, match=r"none\.engine: cannot read the engine: No such file"):
        netdefs.load(tmp_path / "none.engine")
    with pytest.raises(netdefs.UserError, match="is a directory, not an engine"):
        netdefs.load(tmp_path)
    bad_sidecar = copy_engine(engine, tmp_path, sidecar="[1, 2")
    with pytest.raises(netdefs.UserError, match=r"copy\.engine\.json: not a valid sidecar of .*copy\.engine \(invalid JSON"):
        netdefs.load(bad_sidecar)
    with pytest.raises(netdefs.UserError, match="this is a reftrt plan; it cannot run on backend tensorrt"):
        netdefs.load(engine, backend="tensorrt")
    plan = bytearray(engine.read_bytes())
    plan[-1] ^= 1  # another plan beside the old sidecar
    other = copy_engine(engine, tmp_path, plan=bytes(plan))
    with pytest.raises(netdefs.UserError, match=r"copy\.engine\.json does not describe .*copy\.engine: it records plan "
                                                r"sha256"):
        netdefs.load(other)
    noise = copy_engine(engine, tmp_path, plan=np.random.default_rng(3).bytes(500), rehash=True)
    with pytest.raises(netdefs.UserError, match="is not a TensorRT plan"):
        netdefs.load(noise)
    truncated = copy_engine(engine, tmp_path, plan=engine.read_bytes()[:40], rehash=True)
    with pytest.raises(netdefs.BuildError, match="could not load the engine"):
        netdefs.load(truncated)


def test_load_without_sidecar_is_refused_naming_it(engine, tmp_path):
    """The sidecar holds the preprocessing, output names and class count: without it the engine is not run on
    guesses."""
    path = copy_engine(engine, tmp_path, sidecar=False)
    with pytest.raises(netdefs.UserError, match=r"copy\.engine: its sidecar .*copy\.engine\.json is missing"):
        netdefs.load(path)

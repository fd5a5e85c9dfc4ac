"""Whole pickled models read without their code: YOLOv5 checkpoints saved the way the YOLOv5 repository saves them
(classes named `models.yolo.DetectionModel`), ultralytics checkpoints, whole torchvision / timm models; converted
where that code cannot be imported, and equal to the real `state_dict()`. A pickle whose reduce would run a command
runs nothing."""
import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import weights  # noqa: E402
from weights import load_checkpoint  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BLOCK = ("models", "utils", "yolov5", "ultralytics")  # imported, each of these raises ImportError


def offline_env(tmp_path):
    return {**os.environ, "YOLO_OFFLINE": "1", "YOLO_CONFIG_DIR": str(tmp_path / "yolo-config"),
            "TORCH_HOME": str(tmp_path / "torch-home"), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}


def run_python(code, tmp_path, *args, timeout=300):
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)], capture_output=True,
                       text=True, cwd=tmp_path, env=offline_env(tmp_path), timeout=timeout)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def gen_wts_without_model_code(tmp_path, *args):
    """tools/gen_wts.py as a user runs it, in a process where the training repositories' packages cannot be
    imported (so nothing from them can run)."""
    code = f"""
        import runpy, sys
        for name in {BLOCK!r}:
            sys.modules[name] = None
        sys.argv = ["gen_wts.py", *sys.argv[1:]]
        sys.path.insert(0, {str(ROOT / "tools")!r})  # as `python tools/gen_wts.py` has it
        try:
            runpy.run_path({str(ROOT / "tools" / "gen_wts.py")!r}, run_name="__main__")
        finally:
            leaked = [m for m in sys.modules if m.split(".")[0] in {BLOCK!r} and sys.modules[m] is not None]
            assert not leaked, leaked
    """
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)], capture_output=True,
                          text=True, cwd=tmp_path, env=offline_env(tmp_path), timeout=300)


def randomize_bn(model, seed=0):
    """Fresh BN is the identity and hides mistakes: random statistics and affine parameters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(torch.randn(m.bias.shape, generator=g))
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
                m.num_batches_tracked.fill_(3)
    return model


def assert_wts_equals(path, expected):
    found = weights.load(path)
    assert list(found) == list(expected)
    for name, a in expected.items():
        assert np.array_equal(found[name], np.asarray(a, np.float32).reshape(-1)), name


# ---------------------------------------------------------------- (a) YOLOv5, as its repository saves it
SAVE_YOLOV5 = """
    import datetime, sys, numpy as np, torch
    from copy import deepcopy
    import yolov5, yolov5.models.yolo, yolov5.models.common, yolov5.models.experimental, yolov5.utils
    import os
    # Make the classes what they are inside a clone of the YOLOv5 repository: `models.yolo.DetectionModel`.
    for name, module in list(sys.modules.items()):
        if name.startswith(("yolov5.models", "yolov5.utils")) and module is not None:
            short = name[len("yolov5."):]
            sys.modules[short] = module
            for value in vars(module).values():
                if isinstance(value, type) and value.__module__ == name:
                    value.__module__ = short
    sys.path.insert(0, {tests!r})
    from test_weights_pickled_models import randomize_bn
    cfg = os.path.join(os.path.dirname(yolov5.__file__), "models", "yolov5n.yaml")
    torch.manual_seed(0)
    model = randomize_bn(yolov5.models.yolo.DetectionModel(cfg, ch=3, nc=80)).eval()
    model.names = {{i: f"class{{i}}" for i in range(80)}}
    model.nc = 80
    assert type(model).__module__ == "models.yolo"
    ckpt = {{"epoch": -1, "best_fitness": np.array([0.42]), "model": deepcopy(model).half(), "ema": None,
            "updates": None, "optimizer": None, "opt": {{"imgsz": 640, "weights": "yolov5n.pt"}}, "git": None,
            "date": datetime.datetime(2026, 12, 1).isoformat()}}
    torch.save(ckpt, "last.pt")
    np.savez("expected.npz", **{{k: v.numpy() for k, v in ckpt["model"].state_dict().items()}})
    print(list(model.stride.tolist()))
"""


def test_yolov5_repository_checkpoint_converts_without_its_code(tmp_path):
    pytest.importorskip("yolov5")
    run_python(SAVE_YOLOV5.format(tests=str(ROOT / "tests")), tmp_path)
    assert b"models.yolo\nDetectionModel" in _pickle_of(tmp_path / "last.pt")  # the repository's names
    expected = dict(np.load(tmp_path / "expected.npz"))
    assert expected["model.0.conv.weight"].dtype == np.float16
    for out in ("last.wts", "last.safetensors"):
        r = gen_wts_without_model_code(tmp_path, "last.pt", "-o", out)
        assert r.returncode == 0, r.stderr
    assert "'model'" in r.stderr and "Traceback" not in r.stderr
    assert_wts_equals(tmp_path / "last.wts", expected)  # fp16 -> float32, exactly
    st = weights.load(tmp_path / "last.safetensors")
    assert all(np.array_equal(st[k], v) and st[k].dtype == v.dtype for k, v in expected.items())
    meta = st.metadata
    assert meta["architecture"] == "models.yolo.DetectionModel" and meta["key"] == "model"
    assert json.loads(meta["names"]) == {str(i): f"class{i}" for i in range(80)}
    assert meta["nc"] == "80" and json.loads(meta["stride"]) == [8.0, 16.0, 32.0]
    assert json.loads(meta["config"])["backbone"][0][2] == "Conv"
    assert meta["epoch"] == "-1" and meta["date"] == "2026-12-01T00:00:00"


def test_trust_pickle_finds_yolov5_repository_names_in_the_pip_package(tmp_path):
    pytest.importorskip("yolov5")
    run_python(SAVE_YOLOV5.format(tests=str(ROOT / "tests")), tmp_path)
    code = f"""
        import sys
        sys.modules["models"] = sys.modules["utils"] = None  # not a clone of the repository: pip yolov5 only
        sys.path.insert(0, {str(ROOT)!r})
        from weights import load_checkpoint
        w = load_checkpoint("last.pt", trust_pickle=True)
        print(w.metadata["architecture"], len(w))
    """
    r = run_python(code, tmp_path)
    expected = dict(np.load(tmp_path / "expected.npz"))
    assert r.stdout.split() == ["yolov5.models.yolo.DetectionModel", str(len(expected))]


def _pickle_of(path):
    import zipfile
    with zipfile.ZipFile(path) as z:
        return z.read(next(n for n in z.namelist() if n.endswith("data.pkl")))


# ---------------------------------------------------------------- (b) ultralytics, as its trainer saves it
SAVE_ULTRALYTICS = """
    import sys, numpy as np, torch
    from copy import deepcopy
    from ultralytics.nn.tasks import DetectionModel
    sys.path.insert(0, {tests!r})
    from test_weights_pickled_models import randomize_bn
    torch.manual_seed(0)
    model = randomize_bn(DetectionModel("yolov8n.yaml", nc=3, verbose=False)).eval()
    model.names = {{0: "cat", 1: "dog", 2: "bird"}}
    model.args = {{"task": "detect", "imgsz": 640, "data": "pets.yaml"}}
    ckpt = {{"date": "2026-12-01T00:00:00", "version": "8.4.190", "license": "AGPL-3.0",
            "docs": "https://docs.ultralytics.com", "epoch": -1, "best_fitness": None,
            "model": deepcopy(model).half(), "ema": None, "updates": None, "optimizer": None,
            "train_args": {{"task": "detect", "epochs": 3, "imgsz": 640}}, "train_metrics": None,
            "train_results": None}}
    torch.save(ckpt, "best.pt")
    np.savez("expected.npz", **{{k: v.numpy() for k, v in ckpt["model"].state_dict().items()}})
"""


def test_ultralytics_checkpoint_converts_without_its_code(tmp_path):
    pytest.importorskip("ultralytics")
    run_python(SAVE_ULTRALYTICS.format(tests=str(ROOT / "tests")), tmp_path)
    assert b"ultralytics.nn.tasks\nDetectionModel" in _pickle_of(tmp_path / "best.pt")
    expected = dict(np.load(tmp_path / "expected.npz"))
    for out in ("best.wts", "best.safetensors"):
        r = gen_wts_without_model_code(tmp_path, "best.pt", "-o", out)
        assert r.returncode == 0, r.stderr
    assert_wts_equals(tmp_path / "best.wts", expected)
    meta = weights.load(tmp_path / "best.safetensors").metadata
    assert meta["architecture"] == "ultralytics.nn.tasks.DetectionModel"
    assert json.loads(meta["names"]) == {"0": "cat", "1": "dog", "2": "bird"}
    assert json.loads(meta["args"]) == {"task": "detect", "imgsz": 640, "data": "pets.yaml"}
    assert json.loads(meta["stride"]) == [8.0, 16.0, 32.0] and json.loads(meta["config"])["nc"] == 3
    assert meta["version"] == "8.4.190" and meta["dtype"] == "float16"


# ---------------------------------------------------------------- (c) whole torchvision / timm models
class Odd(torch.nn.Module):
    """What state_dict() leaves out: None parameters and buffers, non-persistent buffers."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 3, 1, bias=False)  # bias is a None parameter
        self.register_buffer("kept", torch.arange(3.0))
        self.register_buffer("transient", torch.ones(2), persistent=False)
        self.register_buffer("nothing", None)
        self.head = torch.nn.Sequential(torch.nn.BatchNorm2d(3), torch.nn.Identity(), torch.nn.Linear(3, 1))
        self.empty = None  # a None submodule
        self.register_module("gap", None)


def whole_models():
    torchvision = pytest.importorskip("torchvision")
    timm = pytest.importorskip("timm")
    return {"resnet18": torchvision.models.resnet18(weights=None, num_classes=10),
            "timm_mobilenetv3": timm.create_model("mobilenetv3_small_050", pretrained=False, num_classes=5),
            "odd": Odd()}


def test_whole_pickled_models_give_their_exact_state_dict(tmp_path):
    for name, model in whole_models().items():
        model = randomize_bn(model).eval()
        torch.save(model, tmp_path / f"{name}.pt")
        w = load_checkpoint(tmp_path / f"{name}.pt")
        expected = model.state_dict()
        assert list(w) == list(expected), name
        for k, v in expected.items():
            assert np.array_equal(w[k], v.numpy()) and w[k].dtype == v.numpy().dtype, (name, k)
        assert w.metadata["architecture"] == f"{type(model).__module__}.{type(model).__qualname__}"
    assert "transient" not in w and "kept" in w and "conv.bias" not in w


# ---------------------------------------------------------------- (d) a pickle that would run a command
class RunsCommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class Trap(torch.nn.Module):
    def __init__(self, marker):
        super().__init__()
        self.fc = torch.nn.Linear(2, 2)
        self.payload = RunsCommand(marker)  # in the module's __dict__, as a model attribute


@pytest.mark.parametrize("form", ["beside_the_weights", "inside_the_model", "as_the_checkpoint"])
def test_a_reduce_that_runs_a_command_runs_nothing(tmp_path, form):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pt"
    model = torch.nn.Linear(2, 2)
    if form == "beside_the_weights":
        torch.save({"model": model.state_dict(), "x": RunsCommand(marker)}, path)
    elif form == "inside_the_model":
        torch.save({"model": Trap(marker), "epoch": 1}, path)
    else:
        torch.save(RunsCommand(marker), path)
    r = gen_wts_without_model_code(tmp_path, path, "-o", tmp_path / "out.wts")
    assert not marker.exists()
    if form == "as_the_checkpoint":
        assert r.returncode == 2 and r.stderr.count("\n") == 1
        assert "the checkpoint holds a pickled posix.system object" in r.stderr and "--trust-pickle" in r.stderr
    else:
        assert r.returncode == 0, r.stderr
        assert sorted(weights.load(tmp_path / "out.wts")) == (["fc.bias", "fc.weight"] if form == "inside_the_model"
                                                              else ["bias", "weight"])
    if form == "as_the_checkpoint":  # and in this process, where the class is importable: still nothing runs
        with pytest.raises(weights.UnsafePickleError):
            load_checkpoint(path)
    else:
        assert len(load_checkpoint(path)) == 2
    assert not marker.exists()


# ---------------------------------------------------------------- plain pickles of numpy arrays
@pytest.mark.parametrize("protocol", range(2, pickle.HIGHEST_PROTOCOL + 1))  # 0 and 1 lack the 0x80 opening
def test_numpy_pickles_of_every_protocol_read_exactly(tmp_path, protocol):
    rng = np.random.default_rng(protocol)
    arrays = {"f4_fortran": np.asfortranarray(rng.standard_normal((3, 4)).astype(np.float32)),
              "f2": rng.standard_normal(5).astype(np.float16), "f8_big_endian": rng.standard_normal(3).astype(">f8"),
              "i8": np.arange(4), "u16": np.arange(3, dtype=np.uint16), "bool": np.array([True, False]),
              "empty": np.zeros((0, 3), np.int16), "scalar": np.float64(2.5)}
    path = tmp_path / "arrays.pkl"
    path.write_bytes(pickle.dumps({"model": arrays}, protocol=protocol))
    w = load_checkpoint(path, log=lambda message: None)
    assert list(w) == [k for k in arrays if k != "scalar"]  # a numpy scalar is not a tensor: skipped
    for k in w:
        assert np.array_equal(w[k], arrays[k]) and w[k].dtype == arrays[k].dtype and w[k].flags.writeable, k


def test_yolov5_repository_checkpoint_builds_with_its_class_names(tmp_path):
    """The first hour as a user has it: `last.pt` from the YOLOv5 repository, then gen_wts and build.py with no
    flag, and the engine's sidecar carries the checkpoint's class names; build.py also takes the .pt directly."""
    pytest.importorskip("yolov5")
    run_python(SAVE_YOLOV5.format(tests=str(ROOT / "tests")), tmp_path)
    assert gen_wts_without_model_code(tmp_path, "last.pt", "-o", "last.safetensors").returncode == 0
    for source in ("last.safetensors", "last.pt"):
        r = subprocess.run([sys.executable, str(ROOT / "tools" / "build.py"), "yolov5n", "--weights", source,
                            "--imgsz", "64", "--backend", "reference", "-o", "e.engine", "--quiet"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr
        meta = json.loads((tmp_path / "e.engine.json").read_text())
        assert meta["names"] == [f"class{i}" for i in range(80)], source

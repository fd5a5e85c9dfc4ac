"""tools/compare.py: layer-by-layer parity with the upstream PyTorch model, and naming the layer that differs.

Each corruption test changes one weight of the netdef's copy and checks that the tool names exactly the layer that
reads it (every layer before it within tolerance), for a detector, a classifier and a segmenter."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*args, env=None):
    return subprocess.run([sys.executable, str(ROOT / "tools" / "compare.py"), *map(str, args)], capture_output=True,
                          text=True, timeout=600, cwd=ROOT, env=None if env is None else {**os.environ, **env})


def save(arrays, path):
    from weights import save_safetensors
    save_safetensors(arrays, path)
    return path


def corrupt(arrays, name, seed):
    """A copy of `arrays` with one element of `name` changed by a relative amount large enough to show."""
    out = dict(arrays)
    w = np.array(arrays[name], dtype=np.float32, copy=True)
    rng = np.random.default_rng(seed)
    i = tuple(rng.integers(0, s) for s in w.shape)
    w[i] += 0.5 * float(np.abs(w).max())
    out[name] = w
    return out


@pytest.fixture(scope="module")
def yolov5n(tmp_path_factory):
    from tests.helpers.refmodels import state_dict_arrays, yolov5_model
    return state_dict_arrays(yolov5_model("yolov5n", seed=3))


def check_first(result, json_path, expected):
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    report = json.loads(Path(json_path).read_text())
    assert report["first_above_tolerance"] == expected
    names = [r["name"] for r in report["rows"]]
    first = names.index(expected)
    assert first > 0 and all(not r["exceeds"] for r in report["rows"][:first])
    assert f"first above tolerance: {expected} " in result.stdout


def test_yolov5_clean_weights_match_layer_by_layer(tmp_path, yolov5n):
    w = save(yolov5n, tmp_path / "y.safetensors")
    out = tmp_path / "report.json"
    r = run("yolov5n", "--weights", w, "--imgsz", 96, "--json", out, "--seed", 12345)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    report = json.loads(out.read_text())
    rows = [row for row in report["rows"] if row["rel"] is not None]
    names = {row["name"] for row in rows}
    # the shared SiLU instance and the three calls of SPPF's one MaxPool2d are told apart
    assert {"model.0.act", "model.23.cv3.act", "model.9.m.0", "model.9.m.2", "model.24.m.2"} <= names
    assert len(rows) > 150 and max(row["rel"] for row in rows) < 1e-4
    assert all(row["cosine"] > 0.9999999 for row in rows)
    assert "all within" in r.stdout


@pytest.mark.parametrize("model", ["yolov5n", "yolov8n"])
def test_yolo_names_the_corrupted_convolution(tmp_path, request, model):
    weights = request.getfixturevalue(model)
    ref = save(weights, tmp_path / "ref.safetensors")
    bad = save(corrupt(weights, "model.4.m.0.cv2.conv.weight", 1), tmp_path / "bad.safetensors")
    out = tmp_path / "report.json"
    r = run(model, "--weights", bad, "--reference", ref, "--imgsz", 64, "--json", out, "--failures")
    check_first(r, out, "model.4.m.0.cv2.conv")


def test_classifier_names_the_corrupted_batchnorm_from_a_python_reference(tmp_path):
    """--reference FILE.py:FN (the module carries its weights); the netdef's copy has one BN variance changed."""
    from tests.helpers.ref_resnet import state_dict_arrays, torchvision_classifier
    arrays = state_dict_arrays(torchvision_classifier("resnet18", seed=4, num_classes=10))
    bad = corrupt(arrays, "layer2.1.bn1.running_var", 2)
    w = save(bad, tmp_path / "bad.safetensors")
    ref = tmp_path / "my_reference.py"
    ref.write_text("from tests.helpers.ref_resnet import torchvision_classifier\n\n"
                   "def model():\n    return torchvision_classifier('resnet18', seed=4, num_classes=10)\n")
    out = tmp_path / "report.json"
    r = run("resnet18", "--weights", w, "--reference", f"{ref}:model", "--imgsz", 64, "--json", out)
    check_first(r, out, "layer2.1.bn1")
    # the same through the TensorRT 10.3 API (JetPack 6): debug tensors and the listener exist there too
    r = run("resnet18", "--weights", w, "--reference", f"{ref}:model", "--imgsz", 64, "--json", out,
            env={"REFTRT_TRT_VERSION": "10.3"})
    check_first(r, out, "layer2.1.bn1")


def test_segmenter_names_the_corrupted_decoder_convolution(tmp_path):
    from tests.helpers.ref_smp import unet_model
    from tests.helpers.refmodels import state_dict_arrays
    arrays = state_dict_arrays(unet_model("resnet18", classes=3, seed=5))
    ref = save(arrays, tmp_path / "ref.safetensors")
    bad = save(corrupt(arrays, "decoder.blocks.2.conv1.0.weight", 3), tmp_path / "bad.safetensors")
    out = tmp_path / "report.json"
    r = run("unet-resnet18", "--weights", bad, "--reference", ref, "--imgsz", 64, "--json", out)
    check_first(r, out, "decoder.blocks.2.conv1.0")


@pytest.fixture(scope="module")
def yolov8n():
    from tests.helpers.ref_ultralytics import state_dict_arrays, ultralytics_model
    return state_dict_arrays(ultralytics_model("yolov8n", seed=3))


def test_ultralytics_clean_weights_match_layer_by_layer(tmp_path, yolov8n):
    """The ultralytics family's registered reference (the yaml-built DetectionModel): every hooked module of
    yolov8n within tolerance (measured worst 6.1e-7 relative at 64x64, seed 12345)."""
    w = save(yolov8n, tmp_path / "y8.safetensors")
    out = tmp_path / "report.json"
    r = run("yolov8n", "--weights", w, "--imgsz", 64, "--json", out, "--seed", 12345)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    rows = [row for row in json.loads(out.read_text())["rows"] if row["rel"] is not None]
    assert {"model.0.act", "model.9.cv2.conv", "model.22.cv2.0.2", "model.22.cv3.2.2"} <= {row["name"] for row in rows}
    assert len(rows) > 150 and max(row["rel"] for row in rows) < 6e-6
    assert "all within" in r.stdout


def test_ultralytics_pose_compares_clean(tmp_path):
    """A -pose model through the same reference (PoseModel, its keypoint branch hooked too)."""
    from tests.helpers.ref_pose_obb import state_dict_arrays, ultralytics_model
    w = save(state_dict_arrays(ultralytics_model("yolo11n-pose.yaml", seed=3)), tmp_path / "p.safetensors")
    out = tmp_path / "report.json"
    r = run("yolo11n-pose", "--weights", w, "--imgsz", 64, "--json", out)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    names = {row["name"] for row in json.loads(out.read_text())["rows"] if row["rel"] is not None}
    assert "model.23.cv4.2.2" in names


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    r = run("yolov5n")
    assert r.returncode == 2 and "needs --weights" in r.stderr and "Traceback" not in r.stderr
    r = run("nosuchmodel", "--weights", tmp_path / "none.wts")
    assert r.returncode == 2 and "unknown model 'nosuchmodel'" in r.stderr and "Traceback" not in r.stderr
    r = run("resnet18", "--reference", "python:nosuchmodule_xyz:fn")
    assert r.returncode == 2 and "nosuchmodule_xyz" in r.stderr and "Traceback" not in r.stderr


# ---- the pieces, on hand-made cases
def test_module_paths_for_shared_and_repeated_modules():
    import torch
    from netdefs.analysis.compare import torch_outputs

    shared = torch.nn.ReLU()

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(2, 2, 1)
            self.act = shared

        def forward(self, x):
            return self.act(self.conv(x))

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = Block(), Block()
            self.pool = torch.nn.MaxPool2d(3, 1, 1)

        def forward(self, x):
            y = self.b(self.a(x))
            return self.pool(self.pool(y))

    net = Net().eval()
    x = np.random.default_rng(3).standard_normal((1, 2, 5, 5)).astype(np.float32)
    out, seen = torch_outputs(net, x)
    assert {"a", "a.conv", "a.act", "b", "b.conv", "b.act", "pool.0", "pool.1"} == set(seen)
    with torch.no_grad():
        t = torch.from_numpy(x)
        a = torch.relu(net.a.conv(t))
        b = torch.relu(net.b.conv(a))
    np.testing.assert_array_equal(seen["a.act"], a.numpy())
    np.testing.assert_array_equal(seen["b.act"], b.numpy())
    np.testing.assert_array_equal(seen["pool.1"], out.numpy())


def test_metrics_hand_computed():
    from netdefs.analysis.compare import metrics
    err, rel, cos = metrics(np.array([1.0, 2.0, 2.5]), np.array([1.0, 2.0, 4.0]))
    assert err == 1.5 and rel == 1.5 / 4.0
    assert cos == pytest.approx((1 + 4 + 10) / (np.sqrt(1 + 4 + 6.25) * np.sqrt(1 + 4 + 16)))


def test_debug_tensor_address_from_a_capsule_or_an_int():
    """TensorRT hands debug tensors to the listener as a PyCapsule (reftrt as an int): both read the same memory."""
    import ctypes
    from netdefs.runtime.engine import HostMemory, _pointer
    a = np.random.default_rng(4).standard_normal(6).astype(np.float32)
    new = ctypes.pythonapi.PyCapsule_New
    new.restype, new.argtypes = ctypes.py_object, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
    capsule = new(a.ctypes.data, None, None)
    assert _pointer(capsule) == a.ctypes.data == _pointer(a.ctypes.data)
    np.testing.assert_array_equal(HostMemory().read(_pointer(capsule), (2, 3), np.float32), a.reshape(2, 3))


@pytest.mark.parametrize("model", ["yolov5n-seg", "mobilenet_v3_small", "fpn-poolformer_s12", "segformer-b0"])
def test_rest_of_the_zoo_matches_its_upstream_model(tmp_path, model):
    """The builtin reference exists for every family; with the same weights every matched layer agrees."""
    from tests.helpers.refmodels import state_dict_arrays, yolov5_model
    if model.startswith("yolov5"):
        module = yolov5_model(model, seed=6)
    elif model.startswith("mobilenet"):
        from tests.helpers.ref_resnet import torchvision_classifier
        module = torchvision_classifier(model, seed=6, num_classes=10)
    elif model.startswith("fpn"):
        from tests.helpers.ref_smp import fpn_model
        module = fpn_model(classes=2, seed=6)
    else:
        from tests.helpers.ref_segformer import segformer_model
        module = segformer_model(model, seed=6, num_labels=5)
    w = save(state_dict_arrays(module), tmp_path / "w.safetensors")
    out = tmp_path / "report.json"
    r = run(model, "--weights", w, "--imgsz", 64, "--json", out, "--seed", 12345)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    rows = [row for row in json.loads(out.read_text())["rows"] if row["rel"] is not None]
    assert len(rows) > 100 and max(row["rel"] for row in rows) < 1e-4

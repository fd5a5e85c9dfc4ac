"""Checkpoints of every form, through the Python API and through tools/gen_wts.py as a user runs it; bad input as
one-line errors; the bit-exact round trip .pt -> .wts -> safetensors -> arrays."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import weights  # noqa: E402
from tests.test_weights_models import FORMS, NEEDS_TRUST, arrays_of, make_checkpoint, tiny_yolo  # noqa: E402
from tests.test_weights_wts import GOOD, special_values  # noqa: E402
from weights import CheckpointError, NonFiniteError, UnsafePickleError, load_checkpoint  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def gen_wts(*args, cwd=ROOT):
    """tools/gen_wts.py in a subprocess, as a user runs it."""
    return subprocess.run([sys.executable, str(ROOT / "tools" / "gen_wts.py"), *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.fixture
def gen_wts_main(monkeypatch):
    """tools/gen_wts.py's main(argv), in this process (no torch start-up per call)."""
    monkeypatch.syspath_prepend(str(ROOT / "tools"))
    spec = importlib.util.spec_from_file_location("gen_wts_under_test", ROOT / "tools" / "gen_wts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_same(expected, found, as_float32=False):
    assert list(found) == list(expected)
    for name, a in expected.items():
        a = np.asarray(a, np.float32).reshape(-1) if as_float32 else a
        b = np.asarray(found[name]).reshape(a.shape)
        assert b.dtype == a.dtype and b.tobytes() == a.tobytes(), name


def one_line_error(r, *parts):
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gen_wts: error: "), r.stderr
    assert "Traceback" not in r.stderr and all(p in lines[0] for p in parts), (parts, lines[0])


# ---------------------------------------------------------------- every form
@pytest.mark.parametrize("form", FORMS)
def test_every_form_through_the_api(tmp_path, form):
    path = tmp_path / f"{form}.pt"
    expected = make_checkpoint(form, path)
    assert_same(expected, load_checkpoint(path, trust_pickle=form in NEEDS_TRUST))


@pytest.mark.parametrize("form", FORMS)
def test_every_form_through_gen_wts(tmp_path, form, gen_wts_main, capsys):
    path = tmp_path / f"{form}.pth.tar"
    expected = make_checkpoint(form, path)
    trust = ["--trust-pickle"] if form in NEEDS_TRUST else []
    assert gen_wts_main.main([str(path), "-o", str(tmp_path / "out.safetensors"), *trust]) == 0
    assert_same(expected, weights.load(tmp_path / "out.safetensors"))  # dtypes kept
    assert gen_wts_main.main([str(path), "-o", str(tmp_path / "out.wts"), *trust]) == 0
    assert_same(expected, weights.load(tmp_path / "out.wts"), as_float32=True)
    assert f"wrote {tmp_path / 'out.wts'}" in capsys.readouterr().err


def test_whole_pickled_models_are_read_without_their_code(tmp_path):
    make_checkpoint("whole_model", tmp_path / "model.pt")
    safe, trusted = load_checkpoint(tmp_path / "model.pt"), load_checkpoint(tmp_path / "model.pt", trust_pickle=True)
    assert_same(dict(trusted), safe)
    assert safe.metadata["architecture"] == trusted.metadata["architecture"] == "tests.test_weights_models.TinyYolo"
    assert safe.metadata["names"] == trusted.metadata["names"] == '["class0", "class1"]'


def test_pickled_objects_without_weights_say_trust_pickle(tmp_path):
    import collections
    torch.save(collections.Counter(a=1), tmp_path / "counter.pt")
    with pytest.raises(UnsafePickleError) as e:
        load_checkpoint(tmp_path / "counter.pt")
    message = str(e.value)
    assert message.startswith(f"{tmp_path / 'counter.pt'}: the checkpoint holds a pickled collections.Counter "
                              "object where a state_dict, a model or a checkpoint dict was expected")
    assert "--trust-pickle" in message and "\n" not in message


def test_trusted_pickle_whose_code_does_not_import(tmp_path, monkeypatch):
    package = tmp_path / "code"
    package.mkdir()
    (package / "ghostnet.py").write_text("import torch\nclass Ghost(torch.nn.Module):\n"
                                         "    def __init__(self):\n        super().__init__()\n"
                                         "        self.fc = torch.nn.Linear(2, 2)\n")
    monkeypatch.syspath_prepend(str(package))
    import ghostnet
    torch.save(ghostnet.Ghost(), tmp_path / "ghost.pt")
    monkeypatch.delitem(sys.modules, "ghostnet")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(package)])
    with pytest.raises(CheckpointError, match=r"the pickled model needs its code, which does not import here "
                                              r"\(ModuleNotFoundError: No module named 'ghostnet'\)"):
        load_checkpoint(tmp_path / "ghost.pt", trust_pickle=True)


@pytest.mark.parametrize("trust", [False, True])
def test_yolov5_checkpoints_prefer_ema_and_key_picks(tmp_path, trust):
    path = tmp_path / "last.pt"
    ema = make_checkpoint("yolov5", path)
    notes = []
    w = load_checkpoint(path, trust_pickle=trust, log=notes.append)
    assert_same(ema, w)
    assert w.metadata["key"] == "ema" and w.metadata["architecture"] == "tests.test_weights_models.TinyYolo"
    assert w.metadata["names"] == '["class0", "class1"]' and '"nc": 2' in w.metadata["config"]
    assert notes == ["using 'ema' (as YOLOv5 loads it: ckpt.get('ema') or ckpt['model']); the checkpoint also "
                     "has 'model': pick one with --key"]
    model = load_checkpoint(path, key="model", trust_pickle=trust)
    assert_same(arrays_of(tiny_yolo(seed=1).half().state_dict()), model)
    with pytest.raises(CheckpointError, match=r"no entry 'emma' to pick with --key \(the checkpoint holds: epoch, "
                                              r"best_fitness, model, ema"):
        load_checkpoint(path, key="emma", trust_pickle=trust)


def test_strip_prefix_and_non_tensor_entries(tmp_path):
    sd = {"module.a": torch.ones(2), "module.b": torch.zeros(1), "module.note": "not a tensor"}
    torch.save(sd, tmp_path / "dp.pt")
    notes = []
    w = load_checkpoint(tmp_path / "dp.pt", log=notes.append)
    assert list(w) == ["a", "b"]
    assert notes == ["skipped 1 entries that are not tensors: module.note",
                     "removed the prefix 'module.' from every name (a DataParallel model)"]
    assert list(load_checkpoint(tmp_path / "dp.pt", strip="")) == ["module.a", "module.b"]


def test_bfloat16_is_widened_exactly(tmp_path):
    t = torch.randn(5).to(torch.bfloat16)
    torch.save({"x": t}, tmp_path / "bf.pt")
    x = load_checkpoint(tmp_path / "bf.pt")["x"]
    assert x.dtype == np.float32 and np.array_equal(x, t.float().numpy())


def test_arrays_share_memory_with_the_mapped_checkpoint(tmp_path):
    torch.save({"x": torch.randn(1000)}, tmp_path / "m.pt")
    x = load_checkpoint(tmp_path / "m.pt")["x"]
    assert not x.flags.owndata  # a view of the tensor's storage, which torch.load(mmap=True) maps from the file


@pytest.mark.parametrize("content,message", [
    (None, "value 2 of 3 is nan"),
    (b"\x80\x04garbage", "not a readable pickle"),
    (b"PK\x03\x04truncated zip", "not a readable PyTorch checkpoint"),
    (b"", "empty file"),
])
def test_bad_checkpoints_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad.pt"
    if content is None:
        torch.save({"conv.weight": torch.tensor([1.0, float("nan"), 2.0])}, path)
    else:
        path.write_bytes(content)
    with pytest.raises((CheckpointError, NonFiniteError)) as e:
        load_checkpoint(path)
    assert str(e.value).startswith(f"{path}: ") and message in str(e.value) and "\n" not in str(e.value)


def test_gen_wts_options(tmp_path, gen_wts_main, capsys):
    path = tmp_path / "fp32.pt"
    torch.save(tiny_yolo().state_dict(), path)
    assert gen_wts_main.main([str(path), "-o", str(tmp_path / "h.safetensors"), "--dtype", "float16", "-q"]) == 0
    h = weights.load(tmp_path / "h.safetensors")
    assert h["model.0.conv.weight"].dtype == np.float16 and h["model.0.bn.num_batches_tracked"].dtype == np.int64
    assert h.metadata["dtype"] == "float16" and h.metadata["source"] == "fp32.pt"
    assert h.metadata["source_sha256"] == weights.sha256_file(path)
    assert capsys.readouterr().err == ""  # --quiet
    assert gen_wts_main.main([str(path), "-o", str(tmp_path / "h.wts"), "--dtype", "float16"]) == 2
    assert ".wts stores float32 only" in capsys.readouterr().err
    assert gen_wts_main.main([str(path), "-o", str(tmp_path / "h.onnx")]) == 2
    assert "must end in .wts or .safetensors" in capsys.readouterr().err


def test_ctrl_c_while_writing_leaves_no_output(tmp_path, gen_wts_main, monkeypatch, capsys):
    path = tmp_path / "fp32.pt"
    torch.save(tiny_yolo().state_dict(), path)

    def interrupt(self, done, total):
        raise KeyboardInterrupt
    monkeypatch.setattr(gen_wts_main.Progress, "__call__", interrupt)
    for out in ("x.wts", "x.safetensors"):
        assert gen_wts_main.main([str(path), "-o", str(tmp_path / out)]) == 130
        assert "interrupted" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["fp32.pt"]


# ---------------------------------------------------------------- as a user runs it
def test_round_trip_pt_wts_safetensors_arrays_is_bit_exact(tmp_path):
    """A DataParallel checkpoint with denormals, signed zeros and extremes, through gen_wts twice."""
    sd = {f"module.{k}": v for k, v in tiny_yolo().state_dict().items()}
    sd["module.special"] = torch.from_numpy(special_values().copy())
    torch.save(sd, tmp_path / "model.pth")
    r = gen_wts(tmp_path / "model.pth", "-o", tmp_path / "model.wts")
    assert r.returncode == 0, r.stderr
    assert "removed the prefix 'module.'" in r.stderr
    r = gen_wts(tmp_path / "model.wts", "-o", tmp_path / "model.safetensors")
    assert r.returncode == 0, r.stderr
    expected = {k[len("module."):]: v.numpy() for k, v in sd.items()}
    assert_same(expected, weights.load(tmp_path / "model.safetensors"), as_float32=True)


def test_whole_model_converted_by_gen_wts_without_trust(tmp_path, gen_wts_main, capsys):
    ema = make_checkpoint("yolov5", tmp_path / "yolov5s.pt")
    assert gen_wts_main.main([str(tmp_path / "yolov5s.pt"), "-o", str(tmp_path / "yolov5s.safetensors")]) == 0
    assert "using 'ema'" in capsys.readouterr().err
    out = weights.load(tmp_path / "yolov5s.safetensors")
    assert_same(ema, out)
    assert out.metadata["key"] == "ema" and out.metadata["epoch"] == "5" and out.metadata["dtype"] == "float16"


def test_yolov5_style_checkpoint_as_a_user_converts_it(tmp_path):
    ema = make_checkpoint("yolov5", tmp_path / "yolov5s.pt")
    r = gen_wts(tmp_path / "yolov5s.pt", "-o", tmp_path / "yolov5s.wts", "--trust-pickle", "--progress")
    assert r.returncode == 0, r.stderr
    assert "using 'ema'" in r.stderr and "100%" in r.stderr
    assert_same(ema, weights.load(tmp_path / "yolov5s.wts"), as_float32=True)


BAD_WTS = {
    "truncated": (GOOD[:-20], ":4: tensor 'fc.weight': expected 3 values, found 1"),
    "wrong_count": (GOOD.replace(b"conv.bias 1", b"conv.bias 2"), ":3: tensor 'conv.bias': expected 2 values, "
                                                                  "found 1"),
    "bad_hex": (GOOD.replace(b"40400000", b"4040O000"), ":4: tensor 'fc.weight': bad hex value '4040O000'"),
    "duplicate": (GOOD.replace(b"fc.weight", b"conv.bias"), ":4: tensor 'conv.bias': defined twice, first on line 3"),
    "nan": (GOOD.replace(b"conv.bias 1  3f800000", b"conv.bias 1  7fc00000"), ":3: tensor 'conv.bias': value 1 of "
                                                                             "1 is nan"),
    "empty": (b"", ": empty file"),
}


@pytest.mark.parametrize("case", BAD_WTS)
def test_bad_wts_input_as_a_user_sees_it(tmp_path, case):
    text, message = BAD_WTS[case]
    src = tmp_path / f"{case}.wts"
    src.write_bytes(text)
    r = gen_wts(src, "-o", tmp_path / "out.safetensors")
    one_line_error(r, f"{src}{message}" if message.startswith(":") else message)
    assert not (tmp_path / "out.safetensors").exists()


def test_non_checkpoint_input_as_a_user_sees_it(tmp_path):
    src = tmp_path / "notes.pt"
    src.write_text("these are not weights\n")
    r = gen_wts(src, "-o", tmp_path / "out.wts")
    one_line_error(r, f"{src}: not a .wts, a safetensors file or a PyTorch checkpoint")
    r = gen_wts(tmp_path / "missing.pt", "-o", tmp_path / "out.wts")
    one_line_error(r, f"{tmp_path / 'missing.pt'}: cannot read: No such file or directory")
    assert os.listdir(tmp_path) == ["notes.pt"]

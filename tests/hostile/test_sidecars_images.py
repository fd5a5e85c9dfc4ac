"""Seeded, bounded fuzzing of what a user hands the runtime besides weights and plans: engine sidecars and images.
Each mutation must give a one-line UserError naming the file, or be harmless (the engine then loads and runs as
before) — never another exception. Plans are fuzzed in test_plans.py, weights in test_weights_fuzz.py."""
import copy
import json
import shutil

import numpy as np
import pytest

import netdefs
from netdefs.runtime.demo import DemoWeights
from netdefs.tasks import images as im


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    path = tmp_path_factory.mktemp("engine") / "r18.engine"
    netdefs.build("resnet18", DemoWeights(), backend="reference", imgsz=32, quiet=True).save(path)
    return path


DEEP = "__deeply nested__"  # written as 100,000 nested lists (json.dumps itself cannot nest that deep)


def _values(rng):
    """Replacement values of every JSON type, hostile ones included."""
    return [None, True, -1, 0, 2 ** 70, 1.5, float("nan"), "", "x" * 5000, [], [1, 2], {}, {"a": 1}, DEEP,
            "../../etc/passwd", "pose", [[1, 2], [3]], ["", None]]


def _mutations(meta, rng, count):
    keys = sorted(meta)
    for _ in range(count):
        m = copy.deepcopy(meta)
        kind = rng.integers(4)
        key = keys[rng.integers(len(keys))]
        if kind == 0:
            del m[key]
        elif kind == 1:
            values = _values(rng)
            m[key] = values[rng.integers(len(values))]
        elif kind == 2:
            m[f"extra{rng.integers(100)}"] = "harmless"
        else:
            m = [m] if rng.integers(2) else "a string"
        yield m


def test_fuzzed_sidecars_are_one_line_errors_or_harmless(engine, tmp_path):
    rng = np.random.default_rng(20261204)
    meta = json.loads(engine.with_name(engine.name + ".json").read_text())
    x = np.random.default_rng(1).standard_normal((1, 3, 32, 32), dtype=np.float32)
    want = netdefs.load(engine)(x)["logits"]
    path = tmp_path / "copy.engine"
    shutil.copy(engine, path)
    outcomes = {"refused": 0, "harmless": 0}
    for mutated in _mutations(meta, rng, 80):
        text = json.dumps(mutated, allow_nan=True) if not isinstance(mutated, str) else mutated
        text = text.replace(json.dumps(DEEP), "[" * 100000 + "0" + "]" * 100000)
        (tmp_path / "copy.engine.json").write_text(text)
        try:
            e = netdefs.load(path)
        except netdefs.UserError as err:
            message = str(err)
            assert "\n" not in message and len(message) < 1500 and "copy.engine" in message, message[:300]
            outcomes["refused"] += 1
            continue
        np.testing.assert_array_equal(e(x)["logits"], want)
        outcomes["harmless"] += 1
    assert outcomes["refused"] > 30 and outcomes["harmless"] > 3, outcomes  # both kinds were exercised


def _image_bytes(tmp_path):
    from PIL import Image
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 255, (40, 56, 3), dtype=np.uint8)
    out = {}
    for ext in ("png", "jpg", "bmp"):
        p = tmp_path / f"good.{ext}"
        Image.fromarray(pixels).save(p)
        out[ext] = p.read_bytes()
    return out


def test_fuzzed_images_are_one_line_errors_or_images(tmp_path):
    rng = np.random.default_rng(42)
    for ext, good in _image_bytes(tmp_path).items():
        for i in range(24):
            data = bytearray(good)
            kind = i % 4
            if kind == 0:
                data = data[:int(rng.integers(0, len(data)))]  # truncated
            elif kind == 1:
                for _ in range(int(rng.integers(1, 20))):  # flipped bytes, header included
                    j = int(rng.integers(0, min(len(data), 64 if i % 8 == 1 else len(data))))
                    data[j] ^= int(rng.integers(1, 256))
            elif kind == 2:
                data = bytearray(rng.bytes(int(rng.integers(0, 4000))))  # noise named like an image
            else:
                data = data + bytearray(rng.bytes(int(rng.integers(1, 500))))  # trailing garbage
            path = tmp_path / f"case{i}.{ext}"
            path.write_bytes(bytes(data))
            try:
                image = im.read_image(path)
            except netdefs.UserError as err:
                assert "\n" not in str(err) and str(path) in str(err), str(err)[:300]
                continue
            assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3


def test_a_decompression_bomb_is_refused(tmp_path):
    """A 20000 x 20000 PNG of a few kB: Pillow's guard, as one line."""
    from PIL import Image
    path = tmp_path / "bomb.png"
    Image.new("L", (20000, 20000)).save(path)
    with pytest.raises(netdefs.UserError, match="bomb.png: too large to read safely"):
        im.read_image(path)

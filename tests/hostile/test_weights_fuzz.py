"""Hostile weight files: every reader gives a correct result or a one-line WeightsError naming the file, never
another exception, a hang or a crash. Seeded and bounded (hypothesis with derandomize=True).

- .wts: mutated files (byte flips, inserted tokens, huge counts and names, truncation).
- safetensors: mutated files judged against the `safetensors` package itself: both refuse or both accept (and
  then read the same values), except for dtypes numpy has no type for and tensors of more than 64 dimensions.
- pickles: mutated plain pickles of numpy arrays and torch checkpoints, and hand-made hostile ones (the object
  dtype reproducer that used to crash numpy), read in a subprocess so that a crash fails the test.
"""
import io
import json
import os
import pickle
import random
import struct
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import weights
from weights import WeightsError

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = settings(derandomize=True, max_examples=150, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))
_DIR = Path(tempfile.mkdtemp(prefix="weights-fuzz-"))


def assert_one_line(error, path):
    message = str(error)
    assert isinstance(error, WeightsError), repr(error)
    assert message.startswith(f"{path}: ") or message.startswith(f"{path}:"), message[:300]
    assert "\n" not in message and len(message) < 3000, message[:300]


# ---------------------------------------------------------------- .wts
GOOD_WTS = b"3\nconv.weight 2  3f800000 40000000\nconv.bias 1  3f800000\nfc.weight 3  3f800000 40000000 40400000\n"
HOSTILE_TOKENS = [b"9" * 5000, b"1" * 101, b"100000", b"-1", b"x" * 100_000, b"\xff\xfe", b"\x00", b"1e9",
                  b"0x10", b"\n", b" ", b"\r\n", b"\xe2\x80\xa8", b"fffffffff", b"7fc00000", b"conv.bias"]


@st.composite
def mutated_wts(draw):
    data = bytearray(GOOD_WTS)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "token"]))
        at = draw(st.integers(0, len(data)))
        if kind == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 10))]
        elif kind == "truncate":
            del data[at:]
        else:
            data[at:at] = draw(st.sampled_from(HOSTILE_TOKENS))
    return bytes(data)


@SETTINGS
@given(mutated_wts())
def test_wts_reader_is_total(data):
    path = _DIR / "fuzz.wts"
    path.write_bytes(data)
    try:
        arrays = weights.read_wts(path)
    except Exception as e:  # noqa: BLE001 (the assertion says which)
        assert_one_line(e, path)
        return
    assert arrays and all(a.dtype == np.float32 and a.ndim == 1 for a in arrays.values())


def test_wts_long_names_and_numbers_give_short_errors(tmp_path):
    cases = {b"1\n" + b"n" * 50_000_000 + b" 2  3f800000\n": "expected 2 values, found 1",
             b"9" * 5000 + b"\n": "number of tensors",
             b"1\nx " + b"9" * 5000 + b" 00000000\n": "number of values",
             b"1\nx 100000" + b" 1" * 10 + b"\n": "expected 100000 values, found 10"}
    for data, expected in cases.items():
        path = tmp_path / "long.wts"
        path.write_bytes(data)
        with pytest.raises(WeightsError) as e:
            weights.load(path)
        assert_one_line(e.value, path)
        assert expected in str(e.value) and len(str(e.value)) < 400


# ---------------------------------------------------------------- safetensors, against the package
NO_NUMPY_TYPE = ("has no numpy type", "numpy arrays have at most 64")


def _valid_header():
    return {"__metadata__": {"format": "pt"},
            "w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
            "h": {"dtype": "F16", "shape": [3], "data_offsets": [16, 22]},
            "m": {"dtype": "BOOL", "shape": [2], "data_offsets": [22, 24]},
            "e": {"dtype": "I64", "shape": [0], "data_offsets": [24, 24]}}


JSON_VALUES = [None, True, False, 0, 1, -1, -0.0, 2.5, 2 ** 63, 2 ** 64, 2 ** 64 - 1, 10 ** 30, "F32", "BF16",
               "F8_E4M3", "C64", "x", "", "\ud800", [], [0], [0, 0], [0, 4], [-1], [1.0], [True], ["1"], [1] * 70,
               {}, {"F32": None}, {"k": "v"}, {"k": 1}, [[[[]]]], ["F32", [1], [0, 4]]]


@st.composite
def mutated_safetensors(draw):
    header = _valid_header()
    data = bytearray(np.arange(24, dtype=np.uint8).tobytes())
    for _ in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from(["field", "entry", "drop", "metadata", "data", "add", "extra", "reorder"]))
        names = [n for n in header if n != "__metadata__"]
        entries = [n for n in names if isinstance(header[n], dict)]
        if kind == "field" and entries:
            entry = header[draw(st.sampled_from(entries))]
            key = draw(st.sampled_from(["dtype", "shape", "data_offsets", "extra"]))
            value = draw(st.sampled_from(JSON_VALUES))
            if key != "extra" and isinstance(entry.get(key), list) and entry[key] and draw(st.booleans()):
                entry[key] = list(entry[key])
                entry[key][draw(st.integers(0, len(entry[key]) - 1))] = value  # one element
            else:
                entry[key] = value
        elif kind == "entry" and names:
            header[draw(st.sampled_from(names))] = draw(st.sampled_from(JSON_VALUES))
        elif kind == "drop" and entries:
            header[draw(st.sampled_from(entries))].pop(draw(st.sampled_from(["dtype", "shape", "data_offsets"])),
                                                       None)
        elif kind == "metadata":
            header["__metadata__"] = draw(st.sampled_from(JSON_VALUES))
        elif kind == "data":
            if draw(st.booleans()):
                del data[draw(st.integers(0, len(data))):]
            else:
                data += bytes(draw(st.integers(1, 8)))
        elif kind == "extra" and entries:  # unknown fields: ignored by the package, whatever valid JSON they hold
            header[draw(st.sampled_from(entries))][draw(st.sampled_from(["x", "offsets"]))] = draw(
                st.sampled_from(JSON_VALUES))
        elif kind == "reorder":
            header = dict(reversed(list(header.items())))
        else:
            header[draw(st.sampled_from(["z", "w", "__metadata__x"]))] = {
                "dtype": draw(st.sampled_from(["U8", "F64", "BF16", "F8_E5M2"])), "shape": [draw(st.integers(0, 3))],
                "data_offsets": [draw(st.sampled_from([0, 16, 24])), draw(st.sampled_from([24, 25, 27, 32]))]}
    text = json.dumps(header, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    raw = draw(st.sampled_from(["none", "none", "flip", "pad", "dup", "length"]))
    if raw == "flip":
        at = draw(st.integers(0, len(text) - 1))
        text = text[:at] + bytes([draw(st.integers(0, 255))]) + text[at + 1:]
    elif raw == "pad":
        text = draw(st.sampled_from([b" ", b"\n", b"\t", b"\x00", b"\x0c"])) * draw(st.integers(1, 4)) + text \
            if draw(st.booleans()) else text + draw(st.sampled_from([b" ", b"\r\n", b"\x00", b"}", b"x"]))
    elif raw == "dup" and text.startswith(b"{"):
        text = b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},' + text[1:]
    length = len(text)
    if raw == "length":
        length = draw(st.sampled_from([0, length - 1, length + 1, 100_000_001, 2 ** 64 - 1]))
    return struct.pack("<Q", length) + text + bytes(data)


def _package_reads(path):
    safetensors = pytest.importorskip("safetensors")
    try:
        with safetensors.safe_open(str(path), "np") as f:
            names = list(f.keys())
            return {n: f.get_tensor(n) for n in names if f.get_slice(n).get_dtype() != "BF16"}
    except Exception as e:  # noqa: BLE001 (the package's refusal)
        return e


@SETTINGS
@given(mutated_safetensors())
def test_safetensors_reader_is_exactly_as_strict_as_the_package(blob):
    path = _DIR / "fuzz.safetensors"
    path.write_bytes(blob)
    theirs = _package_reads(path)
    try:
        ours = weights.load(path)
        values = {n: np.array(ours[n]) for n in ours}
    except Exception as e:  # noqa: BLE001
        assert_one_line(e, path)
        if not isinstance(theirs, Exception):
            assert any(s in str(e) for s in NO_NUMPY_TYPE), f"we refuse, the package accepts: {e}"
        return
    assert not isinstance(theirs, Exception), f"we accept, the package refuses: {theirs}"
    assert set(theirs) <= set(values)
    for name, a in theirs.items():
        assert values[name].dtype == a.dtype and values[name].tobytes() == a.tobytes(), name


def test_safetensors_long_names_give_short_errors(tmp_path):
    name = "n" * 50_000_000
    header = json.dumps({name: {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}).encode()
    path = tmp_path / "long.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + bytes(4))
    with pytest.raises(WeightsError) as e:
        weights.load(path)
    assert_one_line(e.value, path)
    assert "needs 8 bytes" in str(e.value) and len(str(e.value)) < 400


# ---------------------------------------------------------------- pickles, in a subprocess
READER = textwrap.dedent("""
    import json, sys, warnings
    sys.path.insert(0, sys.argv[1])
    import weights
    warnings.simplefilter("error")  # a warning from numpy or torch is a finding too
    for path in sys.argv[2:]:
        try:
            w = weights.load(path)
            store = weights.WeightStore(w)
            shapes = {n: list(store.get(n, dtype="float32").shape) for n in w}  # the conversion that crashed
            print(json.dumps({"path": path, "ok": shapes}), flush=True)
        except weights.WeightsError as e:
            print(json.dumps({"path": path, "error": str(e)}), flush=True)
        except BaseException as e:
            print(json.dumps({"path": path, "other": f"{type(e).__name__}: {str(e)[:300]}"}), flush=True)
""")


def run_reader(paths):
    """{path: outcome} from reading each file in a fresh interpreter; a crash fails the test."""
    r = subprocess.run([sys.executable, "-c", READER, str(ROOT), *map(str, paths)], capture_output=True, text=True,
                       timeout=300, env={**os.environ, "PYTHONHASHSEED": "0"})
    assert r.returncode == 0, f"the reader died (rc {r.returncode}): {r.stderr[-2000:]}"
    outcomes = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(outcomes) == len(paths)
    for outcome in outcomes:
        assert "other" not in outcome, outcome
        if "error" in outcome:
            assert outcome["error"].startswith(f"{outcome['path']}: ") and "\n" not in outcome["error"], outcome
            assert len(outcome["error"]) < 3000
    return {o["path"]: o for o in outcomes}


class _Object:
    """Stands in the pickle for a hostile reduce, written by `_HostilePickler`."""

    def __init__(self, reduce):
        self.reduce = reduce


class _HostilePickler(pickle.Pickler):
    def reducer_override(self, obj):
        return obj.reduce if isinstance(obj, _Object) else NotImplemented


def _dtype(code, state):
    return _Object((np.dtype, (code, False, True), state))


def _array(shape, dtype, raw, fortran=False):
    return _Object((np._core.multiarray._reconstruct, (np.ndarray, (0,), b"b"), (1, shape, dtype, fortran, raw)))


PLAIN = (3, "<", None, None, None, -1, -1, 0)
HOSTILE_ARRAYS = {
    "object_dtype": _array((10,), _dtype("O8", (3, "|", None, None, None, -1, -1, 0)), b"A" * 80),
    "void_dtype": _array((2,), _dtype("V8", (3, "|", None, None, None, 8, 1, 0)), b"A" * 16),
    "structured": _array((2,), _dtype("V8", (3, "|", None, ("a",), {"a": (np.dtype("f8"), 0)}, 8, 1, 16)),
                         b"A" * 16),
    "flags_from_file": _array((2,), _dtype("f4", (3, "<", None, None, None, -1, -1, 63)), b"A" * 8),
    "elsize_lies": _array((4,), _dtype("f4", (3, "<", None, None, None, 4096, 4096, 0)), b"A" * 16),
    "short_data": _array((1000,), _dtype("f4", PLAIN), b"A" * 8),
    "long_data": _array((2,), _dtype("f4", PLAIN), b"A" * 800),
    "huge_shape": _array((2 ** 62, 2 ** 62), _dtype("f4", PLAIN), b""),
    "negative_shape": _array((-1,), _dtype("f4", PLAIN), b""),
    "many_dims": _array((1,) * 100_000, _dtype("f4", PLAIN), b"AAAA"),
    "list_data": _array((2,), _dtype("f4", PLAIN), [1.0, 2.0]),
    "string_dtype": _array((2,), _dtype("U1", (3, "<", None, None, None, 4, 4, 8)), b"A" * 8),
    "fortran_ok": _array((2, 2), _dtype("f4", PLAIN), np.arange(4, dtype="<f4").tobytes(), True),
}


def _hostile_pickles(directory):
    base = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1, 2], np.int64)}
    paths = []
    for name, obj in HOSTILE_ARRAYS.items():
        path = directory / f"{name}.pkl"
        with open(path, "wb") as f:
            _HostilePickler(f, protocol=3).dump({**base, "evil": obj})
        paths.append(path)
    path = directory / "reduce_os_system.pkl"
    marker = directory / "marker"
    with open(path, "wb") as f:
        _HostilePickler(f, protocol=2).dump({**base, "x": _Object((os.system, (f"touch {marker}",)))})
    paths.append(path)
    raw = {"build_on_a_class": b"\x80\x02cnumpy\ndtype\n}X\x01\x00\x00\x00xK\x01sb.",  # would set a class attribute
           "inst_os_system": b"\x80\x02(X" + struct.pack("<I", len(f"touch {marker}")) + f"touch {marker}".encode()
           + b"ios\nsystem\n.",  # protocol 0's INST: calls the class it names
           "setitem_on_a_builder": b"\x80\x02cnumpy\ndtype\nX\x01\x00\x00\x00xK\x01s."}
    for name, data in raw.items():
        (directory / f"{name}.pkl").write_bytes(data)
        paths.append(directory / f"{name}.pkl")
    return paths, marker


def _mutated_pickles(directory, seed=0, count=400):
    rng = random.Random(seed)
    sources = [pickle.dumps({"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([True, False]),
                             "c": np.float64(1.5), "d": [1, (2, "x")]}, protocol=p) for p in (2, 3, 4, 5)]
    tokens = [b"\x80\x05", b"c", b"\x93", b"R", b"b", b"(", b"t", b".", b"\x8e" + b"\xff" * 8, b"B\xff\xff\xff\x7f",
              b"cos\nsystem\n", b"cnumpy\ndtype\n", b"\x94", b"h\x00", b"s", b"u", b"e", b"a"]
    paths = []
    for i in range(count):
        data = bytearray(rng.choice(sources))
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(data))
            roll = rng.random()
            if roll < 0.4:
                data[at] = rng.randrange(256)
            elif roll < 0.6:
                data[at:at] = rng.choice(tokens)
            elif roll < 0.8:
                del data[at:at + rng.randint(1, 16)]
            else:
                data[at:at + 1] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        path = directory / f"mutated{i:04d}.pkl"
        path.write_bytes(b"\x80" + bytes(data[1:]))  # still sniffed as a pickle
        paths.append(path)
    return paths


def test_pickles_hostile_and_mutated_never_crash_the_reader(tmp_path):
    hostile, marker = _hostile_pickles(tmp_path)
    mutated = _mutated_pickles(tmp_path)
    outcomes = run_reader(hostile + mutated)
    by_name = {Path(p).stem: o for p, o in outcomes.items()}
    assert not marker.exists()  # os.system never ran
    # Flags, element size and alignment from the file are ignored (the dtype is ours), not obeyed: correct arrays.
    harmless = {"fortran_ok": [2, 2], "flags_from_file": [2], "elsize_lies": [4]}
    for name in HOSTILE_ARRAYS:
        if name in harmless:
            assert by_name[name]["ok"]["evil"] == harmless[name]
        else:
            assert "error" in by_name[name], by_name[name]
    assert "object_dtype" in by_name and "plain numeric dtypes only" in by_name["object_dtype"]["error"]
    # os.system became an inert placeholder, skipped as "not a tensor": the arrays are read
    assert by_name["reduce_os_system"]["ok"] == {"a": [2, 3], "b": [2]}
    assert "BUILD on a type refused" in by_name["build_on_a_class"]["error"]
    assert "SETITEM on a type refused" in by_name["setitem_on_a_builder"]["error"]
    assert "holds a pickled os.system object" in by_name["inst_os_system"]["error"]


def test_the_reported_segfault_is_a_one_line_error(tmp_path):
    """The reproducer from the issue, exactly: resnet18's state_dict with an object-dtype array for fc.bias."""
    torchvision = pytest.importorskip("torchvision")
    sd = {k: v.numpy() for k, v in torchvision.models.resnet18(num_classes=10).state_dict().items()}
    sd["fc.bias"] = HOSTILE_ARRAYS["object_dtype"]
    path = tmp_path / "evil.pkl"
    with open(path, "wb") as f:
        _HostilePickler(f, protocol=3).dump(sd)
    outcome = run_reader([path])[str(path)]
    assert outcome["error"] == (f"{path}: not a readable pickle: UnpicklingError: unsupported numpy dtype 'O8' "
                                "(plain numeric dtypes only)")


def test_torch_checkpoints_with_mutated_pickles_never_crash_the_reader(tmp_path):
    torch = pytest.importorskip("torch")
    import zipfile
    good = io.BytesIO()
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    torch.save({"model": model, "epoch": 1, "best": np.array([0.5])}, good)
    good = good.getvalue()
    with zipfile.ZipFile(io.BytesIO(good)) as z:
        names = z.namelist()
        records = {n: z.read(n) for n in names}
    pkl = next(n for n in names if n.endswith("data.pkl"))
    rng = random.Random(1)
    paths = []
    for i in range(120):
        data = bytearray(records[pkl])
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(data))
            if rng.random() < 0.6:
                data[at] = rng.randrange(256)
            else:
                del data[at:at + rng.randint(1, 8)]
        path = tmp_path / f"mutated{i:03d}.pt"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
            for n in names:
                z.writestr(n, bytes(data) if n == pkl else records[n])
        paths.append(path)
    (tmp_path / "intact.pt").write_bytes(good)
    outcomes = run_reader([tmp_path / "intact.pt", *paths])
    assert outcomes[str(tmp_path / "intact.pt")]["ok"] == {"0.weight": [4, 3, 3, 3], "0.bias": [4], "1.weight": [4],
                                                          "1.bias": [4], "1.running_mean": [4],
                                                          "1.running_var": [4], "1.num_batches_tracked": [1]}
    assert sum("ok" in o for o in outcomes.values()) > 1  # some mutations leave a readable checkpoint

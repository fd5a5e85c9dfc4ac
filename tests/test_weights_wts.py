"""tensorrtx `.wts`: bit-exact round trips, compatibility with tensorrtx's writer and C++ loader both ways, every
kind of bad file as a one-line error, and property tests of the parser."""
import os
import struct
import tempfile
from collections.abc import Mapping

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import weights
from weights import FormatError, NonFiniteError, WeightsError, read_wts, save_wts
from weights import wts as wts_module


# ---------------------------------------------------------------- tensorrtx, reimplemented as references
def tensorrtx_gen_wts(state_dict, path):
    """tensorrtx's gen_wts.py writing loop, verbatim (it takes torch tensors; `v.reshape(-1)` of a numpy array
    is the same sequence of values)."""
    with open(path, "w") as f:
        f.write("{}\n".format(len(state_dict.keys())))
        for k, v in state_dict.items():
            vr = v.reshape(-1)
            f.write("{} {} ".format(k, len(vr)))
            for vv in vr:
                f.write(" ")
                f.write(struct.pack(">f", float(vv)).hex())
            f.write("\n")


def cpp_load_weights(path):
    """The logic of tensorrtx's C++ `loadWeights`: `input >> count`, then per tensor `input >> name >> std::dec >>
    size` and `size` times `input >> std::hex >> val[x]` into uint32: whitespace-separated tokens, lines do not
    matter, a value has at most 8 hex digits (more overflows uint32 and fails the stream)."""
    tokens = open(path, "rb").read().split()
    count = int(tokens[0])
    assert count > 0, "Invalid weight map file."
    out, i = {}, 1
    for _ in range(count):
        name, size = tokens[i].decode(), int(tokens[i + 1])
        values = [int(t, 16) for t in tokens[i + 2:i + 2 + size]]
        assert len(values) == size and all(v < 1 << 32 for v in values)
        out[name] = np.array(values, np.uint32).view(np.float32)
        i += 2 + size
    return out


def bits(a):
    return np.ascontiguousarray(a, np.float32).reshape(-1).view(np.uint32)


def assert_same_bits(expected, found):
    assert list(found) == list(expected)
    for name in expected:
        np.testing.assert_array_equal(bits(found[name]), bits(expected[name]), err_msg=name)


def special_values():
    """float32 values a format must keep bit for bit: signed zeros, denormals, extremes."""
    return np.array([0x00000000, 0x80000000, 0x00000001, 0x807FFFFF, 0x00800000, 0x7F7FFFFF, 0xFF7FFFFF,
                     0x3F800000, 0x3EAAAAAB], np.uint32).view(np.float32)


def sample_state_dict():
    rng = np.random.default_rng(0)
    return {"model.0.conv.weight": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
            "model.0.bn.running_var": rng.random(4).astype(np.float32),
            "model.0.bn.num_batches_tracked": np.array(12, np.int64),
            "special": special_values(),
            "half": rng.standard_normal(5).astype(np.float16),
            "empty": np.zeros((0, 3), np.float32)}


# ---------------------------------------------------------------- round trips and compatibility
def test_round_trip_is_bit_exact_and_byte_identical_to_tensorrtx(tmp_path):
    sd = sample_state_dict()
    ours, theirs = tmp_path / "ours.wts", tmp_path / "theirs.wts"
    save_wts(sd, ours)
    tensorrtx_gen_wts(sd, theirs)
    assert ours.read_bytes() == theirs.read_bytes()  # the double space after the count included
    w = weights.load(ours)
    assert w.format == "wts" and w.path == str(ours)
    assert_same_bits(sd, w)
    assert all(a.dtype == np.float32 and a.ndim == 1 for a in w.values())  # .wts: float32, flat


def test_files_from_tensorrtx_gen_wts_load_with_yolov5_extras(tmp_path):
    """tensorrtx's yolov5 gen_wts also writes `anchor_grid` and `strides`: any extra entry loads."""
    sd = sample_state_dict()
    sd["model.24.anchor_grid"] = np.arange(18, dtype=np.float32).reshape(3, 1, 3, 1, 1, 2)
    sd["model.24.strides"] = np.array([8, 16, 32], np.float32)
    path = tmp_path / "yolov5s.wts"
    tensorrtx_gen_wts(sd, path)
    assert_same_bits(sd, weights.load(path))


def test_ours_load_in_the_cpp_loader(tmp_path):
    sd = sample_state_dict()
    save_wts(sd, tmp_path / "x.wts")
    assert_same_bits(sd, cpp_load_weights(tmp_path / "x.wts"))


def test_irregular_but_valid_files_read_as_the_cpp_loader_reads_them(tmp_path):
    """Tabs, several spaces, CRLF line ends, blank lines, values with fewer than 8 hex digits, upper case."""
    text = b"3\r\n\r\na 3\t3F800000   0 80000000\r\nb 2 1 \t 7f7fffff\r\n\n  c 0 \r\n"
    path = tmp_path / "irregular.wts"
    path.write_bytes(text)
    w = weights.load(path)
    assert_same_bits(cpp_load_weights(path), w)
    assert bits(w["a"]).tolist() == [0x3F800000, 0, 0x80000000] and bits(w["b"]).tolist() == [1, 0x7F7FFFFF]


def test_chunk_boundaries(tmp_path, monkeypatch):
    """Tensors larger than a chunk are read and written in pieces: values at the seams survive."""
    monkeypatch.setattr(wts_module, "CHUNK", 7)
    rng = np.random.default_rng(1)
    sd = {"a": rng.standard_normal(50).astype(np.float32), "b": rng.standard_normal(7).astype(np.float32),
          "c": rng.standard_normal(8).astype(np.float32)}
    save_wts(sd, tmp_path / "x.wts")
    tensorrtx_gen_wts(sd, tmp_path / "ref.wts")
    assert (tmp_path / "x.wts").read_bytes() == (tmp_path / "ref.wts").read_bytes()
    assert_same_bits(sd, read_wts(tmp_path / "x.wts"))


def test_progress_reports_reach_the_total(tmp_path):
    calls = []
    save_wts(sample_state_dict(), tmp_path / "x.wts", progress=lambda done, total: calls.append((done, total)))
    assert calls[-1][0] == calls[-1][1] > 0
    calls.clear()
    read_wts(tmp_path / "x.wts", progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (os.path.getsize(tmp_path / "x.wts"),) * 2


# ---------------------------------------------------------------- bad files: one line, naming file, line, tensor
GOOD = b"3\nconv.weight 2  3f800000 40000000\nconv.bias 1  3f800000\nfc.weight 3  3f800000 40000000 40400000\n"


@pytest.mark.parametrize("text,error,message", [
    (GOOD[:-20], FormatError, ":4: tensor 'fc.weight': expected 3 values, found 1"),  # truncated between values
    (GOOD[:-5], FormatError, ":4: tensor 'fc.weight': the file ends inside value 3 of 3"),  # inside a value
    (GOOD[:GOOD.index(b"fc.weight")], FormatError, ":4: the file ends after 2 of the 3 tensors declared on line 1"),
    (GOOD.replace(b"conv.weight 2", b"conv.weight 3"), FormatError, ":2: tensor 'conv.weight': expected 3 values, "
                                                                    "found 2"),
    (GOOD.replace(b"conv.bias 1", b"conv.bias 0"), FormatError, ":3: tensor 'conv.bias': expected 0 values, found 1"),
    (GOOD.replace(b"conv.bias 1", b"conv.bias x1"), FormatError, "tensor 'conv.bias': expected the number of values, "
                                                                 "found 'x1'"),
    (GOOD.replace(b"40000000 40400000", b"40000000 4040z000"), FormatError, ":4: tensor 'fc.weight': bad hex value "
                                                                            "'4040z000' (value 3 of 3)"),
    (GOOD.replace(b"40000000 40400000", b"40000000 404000001"), FormatError, "bad hex value '404000001'"),
    (GOOD.replace(b"fc.weight", b"conv.weight"), FormatError, ":4: tensor 'conv.weight': defined twice, first on "
                                                              "line 2"),
    (GOOD.replace(b"3\n", b"2\n", 1), FormatError, ":4: more tensors than the 2 declared on line 1"),
    (GOOD.replace(b"3\n", b"three\n", 1), FormatError, ":1: expected the number of tensors, found 'three'"),
    (GOOD.replace(b"3\n", b"0\n", 1), FormatError, ":1: the file declares 0 tensors"),
    (GOOD.replace(b"conv.bias 1  3f800000", b"conv.bias 1  7fc00000"), NonFiniteError,
     ":3: tensor 'conv.bias': value 1 of 1 is nan"),
    (GOOD.replace(b"3f800000 40000000\n", b"3f800000 ff800000\n"), NonFiniteError,
     ":2: tensor 'conv.weight': value 2 of 2 is -inf"),
    (GOOD.replace(b"conv.bias 1", b"conv.bias 99999999999999999999"), FormatError,
     "expected 99999999999999999999 values, found 1"),
    (b"", FormatError, ":1: empty file"),
    (b" \n\t\n", FormatError, ":1: no tensors: the file is blank"),
    (b"2\nconv\xff 1 3f800000\n", FormatError, ":2: tensor name 'conv\ufffd' is not UTF-8"),
])
def test_bad_files_give_one_line_errors(tmp_path, text, error, message):
    path = tmp_path / "bad.wts"
    path.write_bytes(text)
    with pytest.raises(error) as e:
        read_wts(path)
    assert str(e.value).startswith(str(path) + ":") and message in str(e.value), str(e.value)
    assert "\n" not in str(e.value)
    assert isinstance(e.value, WeightsError) and isinstance(e.value, ValueError)


def test_nonfinite_values_are_read_when_allowed(tmp_path):
    path = tmp_path / "nan.wts"
    path.write_bytes(b"1\nx 2  7fc00000 7f800000\n")
    x = read_wts(path, allow_nonfinite=True)["x"]
    assert np.isnan(x[0]) and np.isposinf(x[1])


@pytest.mark.parametrize("bad", [{"a b": np.ones(1)}, {"": np.ones(1)}, {}, {"c": np.ones(1, np.complex64)},
                                 {"n": np.array([1.0, np.nan], np.float32)}, {"big": np.array([1e300])}])
def test_unwritable_weights_are_refused_and_nothing_is_written(tmp_path, bad):
    with pytest.raises(WeightsError):
        save_wts(bad, tmp_path / "x.wts")
    assert os.listdir(tmp_path) == []


class InterruptedMapping(Mapping):
    """Weights whose reading is interrupted (Ctrl-C) once the writer has started writing."""

    def __init__(self, arrays, after):
        self.arrays, self.after, self.reads = arrays, after, 0

    def __getitem__(self, name):
        self.reads += 1
        if self.reads > self.after:
            raise KeyboardInterrupt
        return self.arrays[name]

    def __iter__(self):
        return iter(self.arrays)

    def __len__(self):
        return len(self.arrays)


@pytest.mark.parametrize("save", [weights.save_wts, weights.save_safetensors])
def test_interrupted_write_leaves_no_file_and_keeps_the_old_one(tmp_path, save):
    sd = sample_state_dict()
    out = tmp_path / ("x.wts" if save is weights.save_wts else "x.safetensors")
    out.write_bytes(b"previous contents")
    with pytest.raises(KeyboardInterrupt):
        save(InterruptedMapping(sd, after=len(sd) + 2), out)  # the first pass (sizes) succeeds, writing does not
    assert out.read_bytes() == b"previous contents"
    assert os.listdir(tmp_path) == ["x.wts" if save is weights.save_wts else "x.safetensors"]
    new = tmp_path / "new.wts"
    with pytest.raises(KeyboardInterrupt):
        save_wts(sd, new, progress=lambda done, total: (_ for _ in ()).throw(KeyboardInterrupt))
    assert not new.exists() and len(os.listdir(tmp_path)) == 1


def test_written_files_get_ordinary_permissions(tmp_path):
    save_wts({"a": np.ones(2)}, tmp_path / "a.wts")
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(tmp_path / "a.wts").st_mode & 0o777 == 0o666 & ~umask


# ---------------------------------------------------------------- properties
names = st.text("ab.019_-:/\u00e9\u4e2d", min_size=1, max_size=12)  # non-ASCII too: names are UTF-8


def random_bits(shape, seed):
    """Random float32 bit patterns (denormals and -0.0 among them, NaN / Inf excluded), some special values."""
    rng = np.random.default_rng(seed)
    u = rng.integers(0, 2 ** 32, size=shape, dtype=np.uint32)
    u[(u & 0x7F800000) == 0x7F800000] ^= 0x40000000  # an all-ones exponent (NaN / Inf) becomes finite
    specials = special_values().view(np.uint32)
    mask = rng.random(shape) < 0.3
    u[mask] = rng.choice(specials, size=int(mask.sum()))
    return u.view(np.float32)


tensors = st.builds(random_bits, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6),
                    st.integers(0, 2 ** 32 - 1))
state_dicts = st.dictionaries(names, tensors, min_size=1, max_size=5)
_DIR = tempfile.mkdtemp(prefix="wts-props-")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(state_dicts)
def test_property_write_then_read_is_bitwise_equal(sd):
    path = os.path.join(_DIR, "round.wts")
    save_wts(sd, path)
    assert_same_bits(sd, read_wts(path))
    ref = os.path.join(_DIR, "ref.wts")
    tensorrtx_gen_wts(sd, ref)
    assert open(ref, "rb").read() == open(path, "rb").read()


mutations = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("delete"), st.floats(0, 1), st.integers(1, 12)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.binary(min_size=1, max_size=6)),
    st.tuples(st.just("replace"), st.floats(0, 1), st.binary(min_size=1, max_size=1)),
    st.tuples(st.just("duplicate_line"), st.floats(0, 1)),
)


def mutate(data, mutation):
    kind, where = mutation[0], int(mutation[1] * len(data))
    if kind == "truncate":
        return data[:where]
    if kind == "delete":
        return data[:where] + data[where + mutation[2]:]
    if kind == "insert":
        return data[:where] + mutation[2] + data[where:]
    if kind == "replace":
        return data[:where] + mutation[2] + data[where + 1:]
    lines = data.split(b"\n")
    i = min(int(mutation[1] * len(lines)), len(lines) - 1)
    return b"\n".join(lines[:i + 1] + lines[i:])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(state_dicts, st.lists(mutations, min_size=1, max_size=3))
def test_property_corrupted_files_fail_cleanly_or_read_as_the_cpp_loader_does(sd, changes):
    """Any corruption gives a WeightsError, never another exception; a file we accept reads the same in the
    C++ loader (we are only ever stricter than tensorrtx)."""
    path = os.path.join(_DIR, "corrupt.wts")
    tensorrtx_gen_wts(sd, path)  # the bytes save_wts writes (tested above), without an fsync per example
    original = data = open(path, "rb").read()
    for change in changes:
        data = mutate(data, change)
    assume(data != original)
    with open(path, "wb") as f:
        f.write(data)
    try:
        found = read_wts(path)
    except WeightsError as e:
        assert "\n" not in str(e) and str(e).startswith(path)
        return
    assert_same_bits(cpp_load_weights(path), found)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_property_arbitrary_bytes_fail_cleanly(data):
    path = os.path.join(_DIR, "junk.wts")
    with open(path, "wb") as f:
        f.write(data)
    try:
        read_wts(path)
    except WeightsError:
        pass

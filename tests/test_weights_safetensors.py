"""safetensors: zero-copy reading, streamed writing, compatibility with the `safetensors` package both ways,
metadata, and bad headers as one-line errors. Also `weights.load`'s dispatch on content."""
import json
import os

import numpy as np
import pytest

import weights
from weights import FormatError, NonFiniteError, WeightsError, save_safetensors

safetensors_numpy = pytest.importorskip("safetensors.numpy")


def sample():
    rng = np.random.default_rng(0)
    return {"conv.weight": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
            "bn.num_batches_tracked": np.array(3, np.int64),
            "half": rng.standard_normal((3, 5)).astype(np.float16),  # odd byte count before wider tensors
            "double": rng.standard_normal(2),
            "mask": np.array([True, False]),
            "u8": np.arange(3, dtype=np.uint8),
            "empty": np.zeros((0, 4), np.float32),
            "bigendian": np.arange(4, dtype=">f4")}


def test_round_trip_keeps_dtypes_shapes_order_and_bits(tmp_path):
    sd = sample()
    save_safetensors(sd, tmp_path / "x.safetensors", metadata={"source": "x.pt", "epoch": 3})
    w = weights.load(tmp_path / "x.safetensors")
    assert w.format == "safetensors" and list(w) == list(sd)
    assert w.metadata == {"source": "x.pt", "epoch": "3"}
    for name, a in sd.items():
        assert w[name].shape == a.shape and w[name].dtype == a.dtype.newbyteorder("=")
        assert np.array_equal(w[name], a) and w[name].tobytes() == a.astype(a.dtype.newbyteorder("<")).tobytes()
        assert w.shape(name) == a.shape


def test_reading_is_zero_copy_and_aligned(tmp_path):
    save_safetensors(sample(), tmp_path / "x.safetensors")
    w = weights.load(tmp_path / "x.safetensors")
    for name in w:
        a = w[name]
        assert a.flags.writeable and (not a.flags.owndata or a.size == 0)  # a view of the copy-on-write map
        if a.size:
            assert a.ctypes.data % a.dtype.itemsize == 0, name
    a, b = w["conv.weight"], w["conv.weight"]
    assert np.shares_memory(a, b)
    before = (tmp_path / "x.safetensors").read_bytes()
    a[...] = 7  # copy-on-write: the process sees it, the file never does
    assert (tmp_path / "x.safetensors").read_bytes() == before


def test_arrays_go_to_torch_without_a_warning(tmp_path):
    torch = pytest.importorskip("torch")
    import warnings
    save_safetensors(sample(), tmp_path / "x.safetensors")
    store = weights.WeightStore(weights.load(tmp_path / "x.safetensors"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = torch.from_numpy(store.get("conv.weight", (4, 3, 3, 3)))
    assert t.shape == (4, 3, 3, 3)


def test_files_load_in_the_safetensors_package_and_back(tmp_path):
    sd = {k: v for k, v in sample().items()}
    save_safetensors(sd, tmp_path / "ours.safetensors", metadata={"k": "v"})
    theirs = safetensors_numpy.load_file(str(tmp_path / "ours.safetensors"))
    assert set(theirs) == set(sd) and all(np.array_equal(theirs[k], sd[k]) for k in sd)
    safetensors_numpy.save_file({k: np.ascontiguousarray(v, v.dtype.newbyteorder("<")) for k, v in sd.items()},
                                str(tmp_path / "theirs.safetensors"), metadata={"format": "np"})
    w = weights.load(tmp_path / "theirs.safetensors")
    # (the package stores a 0-d array with shape [1])
    assert w.metadata == {"format": "np"} and all(np.array_equal(w[k].ravel(), sd[k].ravel()) for k in sd)


def test_bfloat16_is_widened_exactly(tmp_path):
    values = np.array([1.0, -2.5, 3.140625, 0.0], np.float32)
    bf16 = (values.view(np.uint32) >> 16).astype("<u2")
    header = json.dumps({"x": {"dtype": "BF16", "shape": [4], "data_offsets": [0, 8]}}).encode()
    (tmp_path / "bf.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + bf16.tobytes())
    x = weights.load(tmp_path / "bf.safetensors")["x"]
    assert x.dtype == np.float32 and np.array_equal(x, values)


def test_dtype_conversion_touches_floats_only(tmp_path):
    save_safetensors(sample(), tmp_path / "h.safetensors", dtype=np.float16)
    w = weights.load(tmp_path / "h.safetensors")
    assert w["conv.weight"].dtype == np.float16 and w["double"].dtype == np.float16
    assert w["bn.num_batches_tracked"].dtype == np.int64 and w["mask"].dtype == np.bool_
    np.testing.assert_array_equal(w["conv.weight"], sample()["conv.weight"].astype(np.float16))


def test_writer_refuses_nonfinite_values_and_float16_overflow(tmp_path):
    with pytest.raises(NonFiniteError, match=r"tensor 'x': value 2 of 2 is nan"):
        save_safetensors({"x": np.array([1, np.nan], np.float32)}, tmp_path / "n.safetensors")
    with pytest.raises(NonFiniteError, match=r"tensor 'x': value 1 of 1 is inf \(as float16\)"):
        save_safetensors({"x": np.array([1e5], np.float32)}, tmp_path / "n.safetensors", dtype=np.float16)
    assert os.listdir(tmp_path) == []


def _file(tmp_path, header, data=b""):
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    path = tmp_path / "bad.safetensors"
    path.write_bytes(len(text).to_bytes(8, "little") + text + data)
    return path


@pytest.mark.parametrize("header,data,message", [
    ({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4, "tensor 'x': data ends at byte 8 "
                                                                                "but the file has 4 bytes"),
    ({"x": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8, "tensor 'x': shape (3,) of F32 "
                                                                                "needs 12 bytes"),
    ({"x": {"dtype": "F8_E4M3", "shape": [1], "data_offsets": [0, 1]}}, b"\0", "tensor 'x': dtype F8_E4M3 has no "
                                                                              "numpy type"),
    ({"x": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4, "tensor 'x': bad shape"),
    ({"x": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}, b"\0" * 4, "tensor 'x': data_offsets [4, 0] "
                                                                                "end before they begin"),
    ({"x": 5}, b"", "tensor 'x': header entry is not a JSON object"),
    (b"{not json", b"", "the safetensors header is not JSON"),
    ({"__metadata__": [1]}, b"", "__metadata__ is not a JSON object"),
])
def test_bad_headers_give_one_line_errors(tmp_path, header, data, message):
    path = _file(tmp_path, header, data)
    with pytest.raises(FormatError) as e:
        weights.load(path)
    assert str(e.value).startswith(f"{path}: ") and message in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("length", [1000, 0x80])  # 0x80 is also the first byte of a pickle
def test_truncated_header(tmp_path, length):
    path = tmp_path / "t.safetensors"
    path.write_bytes(length.to_bytes(8, "little") + b'{"x":')
    with pytest.raises(FormatError, match=f"the header claims {length} bytes but the file has 5"):
        weights.load(path)


@pytest.mark.parametrize("content,message", [
    (b"", "empty file"),
    (b"hello, world", "not a .wts, a safetensors file or a PyTorch checkpoint"),
])
def test_load_refuses_unknown_files(tmp_path, content, message):
    path = tmp_path / "model.bin"
    path.write_bytes(content)
    with pytest.raises(WeightsError, match=message):
        weights.load(path)
    with pytest.raises(WeightsError, match="no such file|No such file"):
        weights.load(tmp_path / "missing.wts")


def test_load_dispatches_on_content_not_name(tmp_path):
    weights.save_wts({"a": np.ones(2)}, tmp_path / "a.wts")
    save_safetensors({"a": np.ones(2)}, tmp_path / "a.safetensors")
    os.rename(tmp_path / "a.wts", tmp_path / "wts.bin")
    os.rename(tmp_path / "a.safetensors", tmp_path / "st.bin")
    assert weights.load(tmp_path / "wts.bin").format == "wts"
    assert weights.load(tmp_path / "st.bin").format == "safetensors"


def test_a_header_length_starting_with_the_pickle_byte_is_still_safetensors(tmp_path):
    path = _file(tmp_path, b'{"__metadata__":{"a":"b"}}'.ljust(0x80))
    assert int.from_bytes(path.read_bytes()[:1], "little") == 0x80
    assert weights.load(path).metadata == {"a": "b"}


def test_save_dispatches_on_extension(tmp_path):
    weights.save({"a": np.ones(2)}, tmp_path / "a.safetensors")
    weights.save({"a": np.ones(2)}, tmp_path / "a.wts")
    with pytest.raises(WeightsError, match=".wts stores float32 only"):
        weights.save({"a": np.ones(2)}, tmp_path / "b.wts", dtype=np.float16)
    with pytest.raises(WeightsError, match="must end in .wts or .safetensors"):
        weights.save({"a": np.ones(2)}, tmp_path / "a.onnx")


def test_sha256_is_of_the_file_bytes(tmp_path):
    import hashlib
    save_safetensors(sample(), tmp_path / "x.safetensors")
    w = weights.load(tmp_path / "x.safetensors")
    assert w.sha256 == hashlib.sha256((tmp_path / "x.safetensors").read_bytes()).hexdigest()


def test_weights_imports_without_torch():
    """Jetson users build engines with numpy and TensorRT only."""
    import subprocess
    import sys
    code = ("import sys; sys.modules['torch'] = None; import weights, weights.store, weights.wts, weights.st; "
            "import weights.checkpoint; print('ok')")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    assert r.stdout.strip() == "ok", r.stderr

"""safetensors files: read zero-copy (numpy views of a memory map), written tensor by tensor.

The format (https://github.com/huggingface/safetensors): an 8-byte little-endian header length, a JSON header
{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}, then the tensors' bytes,
little-endian, offsets relative to the end of the header. Files written here load with the `safetensors` package
and the reverse; we read and write the format ourselves because the package's numpy API copies every tensor into
memory, on reading and on writing.
"""
import json
import math
import mmap
import os
import re
from collections.abc import Mapping

import numpy as np

from .atomic import atomic_output
from .errors import FormatError, WeightsError, check_finite, clip, located

_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
           "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?"}
_CODES = {np.dtype(v): k for k, v in _DTYPES.items()}
# dtypes the format has (safetensors 0.8) that numpy cannot hold: valid files, refused here with a clear message.
_NO_NUMPY_TYPE = ("F4", "F6_E2M3", "F6_E3M2", "F8_E5M2", "F8_E4M3", "F8_E8M0", "C64")
CHUNK = 1 << 20  # elements per write when a tensor has to be converted: bounds the temporary memory

# The rules of the `safetensors` package (its Rust reader, serde_json underneath), which this reader follows
# exactly: a file one refuses, the other refuses (tests/hostile/test_weights_fuzz.py compares them).
MAX_HEADER = 100_000_000
_MAX_DEPTH = 127  # serde_json's recursion limit: 128 nested arrays / objects are refused
_U64 = 1 << 64
_SURROGATE = re.compile("[\ud800-\udfff]")  # a lone \\uD8xx escape: serde_json refuses it, Python keeps it


# ---------------------------------------------------------------- reading
def read_safetensors(path):
    """Read a safetensors file: ({name: array viewing the file}, metadata), in header order.

    The file is mapped copy-on-write: arrays are zero-copy views, writable (torch.from_numpy takes them without a
    warning) without ever changing the file. BF16 tensors (numpy has no bfloat16) are widened to float32, exactly,
    in a copy. Any malformed file is a one-line `FormatError` naming it (and the tensor); a file is accepted
    exactly when the `safetensors` package accepts it, except that dtypes numpy has no type for (float8, float4,
    complex) and tensors of more than 64 dimensions are refused.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < 8:
                raise FormatError(located(f"{size} bytes: too short for a safetensors file", path))
            length = int.from_bytes(f.read(8), "little")
            if length > MAX_HEADER:
                raise FormatError(located(f"the header claims {length} bytes, more than the {MAX_HEADER} the "
                                          "format allows: not a safetensors file", path))
            if length > size - 8:
                raise FormatError(located(f"the header claims {length} bytes but the file has {size - 8} after "
                                          "the length: truncated, or not a safetensors file", path))
            header_bytes = f.read(length)
            buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    except OSError as e:
        raise WeightsError(located(f"cannot read: {e.strerror or e}", path)) from None
    try:
        entries, metadata = _parse_header(path, header_bytes, size - 8 - length)
    except WeightsError:
        raise
    except Exception as e:  # whatever else Python raises on a hostile header (RecursionError, MemoryError ...)
        raise FormatError(located(f"bad safetensors header: {type(e).__name__}: {clip(e)}", path)) from None
    return _SafetensorsArrays(buf, 8 + length, entries), metadata


class _Pairs(list):
    """A JSON object as its (key, value) pairs, duplicates kept: serde refuses some duplicates, not others."""


def _json_int(text):
    # serde_json reads integers as u64 / i64, others (and -0) as f64, out of range if infinite.
    value = int(text) if len(text) <= 20 else None
    if value is not None and -(1 << 63) <= value < _U64 and text != "-0":
        return value
    return _json_float(text)


def _json_float(text):
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number out of range: {clip(text, 40)}")
    return value


def _json_constant(text):
    raise ValueError(f"{text} is not JSON")


def _parse_header(path, header_bytes, data_size):
    """({name: (dtype code, shape, begin, end)}, metadata) from the header, checked as the package checks it."""
    def bad(message, name=None):
        return FormatError(located(message, path, tensor=name))
    try:
        text = header_bytes.decode("utf-8")
        header = json.loads(text, object_pairs_hook=_Pairs, parse_int=_json_int, parse_float=_json_float,
                            parse_constant=_json_constant)
    except (ValueError, RecursionError) as e:  # JSONDecodeError, UnicodeDecodeError, our number checks
        raise bad(f"the safetensors header is not JSON: {clip(e)}") from None
    _check_json(header, bad)
    if not isinstance(header, _Pairs):
        raise bad("the safetensors header is not a JSON object")
    entries, metadata, seen_metadata = {}, {}, False
    for name, info in header:
        if name == "__metadata__":
            if seen_metadata:
                raise bad("the safetensors header has __metadata__ twice")
            seen_metadata = True
            if info is not None:
                if not isinstance(info, _Pairs) or not all(isinstance(v, str) for _, v in info):
                    raise bad("the safetensors __metadata__ is not a JSON object of strings")
                metadata = dict(info)
            continue
        entries[name] = _entry(name, info, bad)  # a repeated name: the last one counts, as in the package
    _check_layout(entries, data_size, bad)
    return entries, metadata


def _check_json(value, bad):
    """serde_json's limits that Python's json module lacks: nesting depth, lone surrogates in strings."""
    stack = [(value, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                raise bad("the safetensors header is not JSON: a lone surrogate in a string escape")
        elif isinstance(value, list):  # arrays, and objects (_Pairs)
            if depth > _MAX_DEPTH:
                raise bad(f"the safetensors header is not JSON: nested more than {_MAX_DEPTH} deep")
            for item in value:
                if isinstance(value, _Pairs):
                    stack.append((item[0], depth))
                    stack.append((item[1], depth + 1))
                else:
                    stack.append((item, depth + 1))


def _entry(name, info, bad):
    """(dtype code, shape, begin, end) of a header entry: its own fields checked; the layout comes later."""
    if isinstance(info, _Pairs):  # the usual {"dtype", "shape", "data_offsets"}; other fields are ignored
        fields = {}
        for key, value in info:
            if key in ("dtype", "shape", "data_offsets"):
                if key in fields:
                    raise bad(f"header entry has {key!r} twice", name)
                fields[key] = value
        for key in ("dtype", "shape", "data_offsets"):
            if key not in fields:
                raise bad(f"header entry has no {key!r}", name)
        code, shape, offsets = fields["dtype"], fields["shape"], fields["data_offsets"]
    elif isinstance(info, list) and len(info) == 3:  # serde also takes a struct as [dtype, shape, data_offsets]
        code, shape, offsets = info
    else:
        raise bad("header entry is not a JSON object with dtype, shape and data_offsets", name)
    if isinstance(code, _Pairs) and len(code) == 1 and code[0][1] is None:  # serde's {"F32": null} form
        code = code[0][0]
    if not isinstance(code, str) or code not in _DTYPES and code != "BF16" and code not in _NO_NUMPY_TYPE:
        raise bad(f"unknown dtype {clip(repr(code))}", name)
    if not (isinstance(shape, list) and all(_is_u64(d) for d in shape)):
        raise bad(f"bad shape {clip(repr(shape))} (a list of non-negative integers)", name)
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_u64(o) for o in offsets)):
        raise bad(f"bad data_offsets {clip(repr(offsets))} (two non-negative integers)", name)
    if code in _NO_NUMPY_TYPE:
        raise bad(f"dtype {code} has no numpy type (supported: {', '.join(_DTYPES)}, BF16)", name)
    if len(shape) > 64:
        raise bad(f"{len(shape)} dimensions: numpy arrays have at most 64", name)
    return code, tuple(shape), offsets[0], offsets[1]


def _is_u64(value):
    return type(value) is int and 0 <= value < _U64


def _check_layout(entries, data_size, bad):
    """Tensors tile the data exactly, in offset order: no gap, no overlap, sizes matching dtype x shape, nothing
    after the last one."""
    end_so_far, last = 0, None
    for name, (code, shape, begin, end) in sorted(entries.items(), key=lambda item: item[1][2:]):
        if begin != end_so_far or end < begin:
            what = "overlap the previous tensor" if begin < end_so_far else "leave a gap"
            raise bad(f"data_offsets [{begin}, {end}] {what if end >= begin else 'end before they begin'} "
                      f"(the data so far ends at byte {end_so_far})", name)
        count = math.prod(shape)  # the package computes in u64 and refuses overflow, even with a 0 dimension
        if any(math.prod(shape[:i + 1]) >= _U64 for i in range(len(shape))) or count * _itemsize(code) * 8 >= _U64:
            raise bad(f"shape {clip(shape)} is too large", name)
        expected = count * _itemsize(code)
        if end - begin != expected:
            raise bad(f"shape {clip(shape)} of {code} needs {expected} bytes, data_offsets give {end - begin}",
                      name)
        end_so_far, last = end, name
    if end_so_far != data_size:
        raise bad(f"data ends at byte {end_so_far} but the file has {data_size} bytes of data"
                  + (": truncated?" if end_so_far > data_size else " (bytes after the last tensor)"), last)


def _itemsize(code):
    return 2 if code == "BF16" else np.dtype(_DTYPES[code]).itemsize


class _SafetensorsArrays(Mapping):
    """name -> array, built on access as a view of the memory map (microseconds, no copy)."""

    def __init__(self, buf, start, entries):
        self._buf, self._start, self._entries = buf, start, entries

    def __getitem__(self, name):
        code, shape, begin, end = self._entries[name]
        count = math.prod(shape)
        if count == 0:
            return np.empty(shape, np.float32 if code == "BF16" else _DTYPES[code])
        if code == "BF16":
            bits = np.frombuffer(self._buf, "<u2", count, self._start + begin).astype(np.uint32) << 16
            return bits.view(np.float32).reshape(shape)
        return np.frombuffer(self._buf, _DTYPES[code], count, self._start + begin).reshape(shape)

    def __contains__(self, name):
        return name in self._entries

    def __iter__(self):
        return iter(self._entries)

    def __len__(self):
        return len(self._entries)

    def shape(self, name):
        return self._entries[name][1]


# ---------------------------------------------------------------- writing
def save_safetensors(weights, path, metadata=None, dtype=None, progress=None, allow_nonfinite=False):
    """Write `weights` (name -> array-like) to `path` as safetensors, atomically, one tensor at a time.

    dtype: None keeps each tensor's dtype; np.float32 / np.float16 converts the floating tensors (integer buffers
    such as `num_batches_tracked` keep theirs). metadata: {str: str}, kept in the header. `progress(done, total)`
    is called with counts of values.
    """
    path = os.fspath(path)
    names = list(weights)
    plan = {}
    for name in names:
        if not isinstance(name, str):
            raise WeightsError(located(f"tensor name {name!r} is not a string", path))
        array = np.asarray(weights[name])
        out = _output_dtype(array.dtype, dtype)
        if out not in _CODES:
            raise WeightsError(located(f"dtype {array.dtype} cannot be stored in safetensors", path, tensor=name))
        plan[name] = (out, array.shape)
    # Data in order of decreasing item size (stable): after the 8-aligned header every tensor then starts at a
    # multiple of its item size, so that its zero-copy view is aligned. The header keeps the given order.
    order = sorted(names, key=lambda n: -plan[n][0].itemsize)
    header, offset = {}, 0
    for name in order:
        out, shape = plan[name]
        nbytes = math.prod(shape) * out.itemsize
        header[name] = {"dtype": _CODES[out], "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    header = {name: header[name] for name in names}
    if metadata:
        header = {"__metadata__": {str(k): str(v) for k, v in metadata.items()}, **header}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-(8 + len(text)) % 8)
    total, done = sum(math.prod(plan[n][1]) for n in names), 0
    with atomic_output(path) as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for name in order:
            out = plan[name][0]
            flat = np.asarray(weights[name]).reshape(-1)
            for start in range(0, flat.size, CHUNK):
                # A view when no conversion is needed; out of range for `out` becomes inf, refused below.
                with np.errstate(over="ignore"):
                    chunk = np.ascontiguousarray(flat[start:start + CHUNK], dtype=out)
                if not allow_nonfinite:
                    check_finite(chunk, path, tensor=name, offset=start, total=flat.size,
                                 note=f" (as {out.name}): refusing to write it")
                f.write(memoryview(chunk).cast("B"))
                done += chunk.size
                if progress:
                    progress(done, total)
    if progress and total == 0:
        progress(0, 0)


def _output_dtype(source, dtype):
    source = np.dtype(source)
    if dtype is not None and source.kind == "f":
        source = np.dtype(dtype)
    return source.newbyteorder("<") if source.byteorder == ">" else source

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
from collections.abc import Mapping

import numpy as np

from .atomic import atomic_output
from .errors import FormatError, WeightsError, check_finite, located

_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
           "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?"}
_CODES = {np.dtype(v): k for k, v in _DTYPES.items()}
CHUNK = 1 << 20  # elements per write when a tensor has to be converted: bounds the temporary memory


# ---------------------------------------------------------------- reading
def read_safetensors(path):
    """Read a safetensors file: ({name: read-only array viewing the file}, metadata), in header order.

    BF16 tensors (numpy has no bfloat16) are widened to float32, exactly, in a copy.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < 8:
                raise FormatError(located(f"{size} bytes: too short for a safetensors file", path))
            length = int.from_bytes(f.read(8), "little")
            if length > size - 8:
                raise FormatError(located(f"the header claims {length} bytes but the file has {size - 8} after "
                                          "the length: truncated, or not a safetensors file", path))
            header_bytes = f.read(length)
            buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as e:
        raise WeightsError(located(f"cannot read: {e.strerror or e}", path)) from None
    try:
        header = json.loads(header_bytes)
    except ValueError as e:  # JSONDecodeError and UnicodeDecodeError
        raise FormatError(located(f"the safetensors header is not JSON: {e}", path)) from None
    if not isinstance(header, dict):
        raise FormatError(located("the safetensors header is not a JSON object", path))
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict):
        raise FormatError(located("the safetensors __metadata__ is not a JSON object", path))
    start = 8 + length
    entries = {name: _entry(path, name, info, size - start) for name, info in header.items()}
    return _SafetensorsArrays(buf, start, entries), {str(k): str(v) for k, v in metadata.items()}


def _entry(path, name, info, data_size):
    """(dtype code, shape, begin, end) of a header entry, validated against the data size."""
    def bad(message):
        return FormatError(located(message, path, tensor=name))
    if not isinstance(info, dict):
        raise bad("header entry is not a JSON object")
    code, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if code not in _DTYPES and code != "BF16":
        raise bad(f"unsupported dtype {code!r}")
    if not (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)):
        raise bad(f"bad shape {shape!r}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)
            and 0 <= offsets[0] <= offsets[1]):
        raise bad(f"bad data_offsets {offsets!r}")
    itemsize = 2 if code == "BF16" else np.dtype(_DTYPES[code]).itemsize
    expected = math.prod(shape) * itemsize
    begin, end = offsets
    if end - begin != expected:
        raise bad(f"shape {tuple(shape)} of {code} needs {expected} bytes, data_offsets give {end - begin}")
    if end > data_size:
        raise bad(f"data ends at byte {end} but the file has {data_size} bytes of data: truncated?")
    return code, tuple(shape), begin, end


class _SafetensorsArrays(Mapping):
    """name -> array, built on access as a view of the memory map (microseconds, no copy)."""

    def __init__(self, buf, start, entries):
        self._buf, self._start, self._entries = buf, start, entries

    def __getitem__(self, name):
        code, shape, begin, end = self._entries[name]
        count = math.prod(shape)
        if count == 0:
            empty = np.empty(shape, np.float32 if code == "BF16" else _DTYPES[code])
            empty.flags.writeable = False  # as read-only as the views of the file
            return empty
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

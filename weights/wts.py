"""tensorrtx `.wts` files, read and written with vectorised hex.

The format, as tensorrtx's gen_wts.py writes it and its C++ `loadWeights` reads it:

    2
    conv1.weight 3  3f800000 bf800000 00000000
    conv1.bias 1  3e800000

The first line is the number of tensors; then one line per tensor: its name, its number of values, and the values as
big-endian float32 bit patterns in hex. There are no shapes, only flat counts. The C++ loader reads
whitespace-separated tokens (`input >> name >> std::dec >> size`, then `input >> std::hex >> val[x]`), so any
whitespace goes and a value may have 1 to 8 hex digits. We read that, and also require what every writer does: one
line per tensor, so that a wrong count is reported as such rather than as a strange name further down.
`save_wts` writes byte for byte what tensorrtx's gen_wts.py writes (its double space after the count included).
"""
import binascii
import mmap
import os
import re

import numpy as np

from .atomic import atomic_output
from .errors import FormatError, NonFiniteError, WeightsError, check_finite, clip, first_nonfinite, located

# Values per chunk, reading and writing: the temporaries stay in the CPU's caches whatever a tensor's size.
CHUNK = 1 << 16
# Parsed bytes are dropped from the process's memory every so often (they stay in the page cache), so that reading
# a .wts costs the memory of its arrays, not of its text, which is 2.25 times larger.
_RELEASE_EVERY = 64 << 20

_NEXT = re.compile(rb"\s*(\S*)")  # the next token, on this line or a later one ('' at the end of the file)
_NEXT_ON_LINE = re.compile(rb"[ \t\r\f\v]*(\S*)")  # the next token on this line ('' at the end of the line)
_SPACES = re.compile(rb"[ \t\r\f\v]*")
_HEX = re.compile(rb"[0-9a-fA-F]{1,8}")
_WHITESPACE = frozenset(b" \t\n\r\f\v")
_MAX_DIGITS = 100  # far beyond any file, and far below Python's 4300-digit int limit


# ---------------------------------------------------------------- writing
def save_wts(weights, path, progress=None, allow_nonfinite=False):
    """Write `weights` (name -> array-like) to `path` as a tensorrtx `.wts`, atomically.

    Values are stored as float32 whatever their dtype (as tensorrtx does: integer buffers such as
    `num_batches_tracked` included). `progress(done, total)` is called with counts of values.
    """
    path = os.fspath(path)
    names = list(weights)
    if not names:
        raise WeightsError(located("nothing to write: tensorrtx's loader needs at least one tensor", path))
    for name in names:
        _check_name(name, path)
    # Checked before the file is created; np.asarray is free for arrays, and takes CPU torch tensors too.
    total = sum(_real_array(weights[name], name, path).size for name in names)
    done = 0
    with atomic_output(path) as f:
        f.write(b"%d\n" % len(names))
        for name in names:
            flat = _real_array(weights[name], name, path).reshape(-1)
            f.write(b"%s %d " % (name.encode("utf-8"), flat.size))
            for start in range(0, flat.size, CHUNK):
                with np.errstate(over="ignore"):  # float64 beyond float32's range becomes inf, refused below
                    chunk = flat[start:start + CHUNK].astype(">f4")
                if not allow_nonfinite:
                    check_finite(chunk, path, tensor=name, offset=start, total=flat.size,
                                 note=" (as float32): refusing to write it")
                f.write(b" ")
                # One space between values, 8 hex digits each: the bytes of tensorrtx's per-value loop, in C.
                f.write(binascii.hexlify(chunk, b" ", 4))
                done += chunk.size
                if progress:
                    progress(done, total)
            f.write(b"\n")
    if progress and total == 0:
        progress(0, 0)


def _check_name(name, path):
    if not isinstance(name, str) or not name or any(c.isspace() for c in name):
        raise WeightsError(located(f"tensor name {name!r} cannot be stored in a .wts (names are "
                                   "whitespace-separated tokens)", path))


def _real_array(value, name, path):
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise WeightsError(located(f"dtype {array.dtype} cannot be stored as float32", path, tensor=name))
    return array


# ---------------------------------------------------------------- reading
def read_wts(path, progress=None, allow_nonfinite=False):
    """Read a `.wts` into {name: float32 array (flat)}, in file order.

    Every problem raises a one-line `FormatError` naming the file, the line and the tensor (truncation, wrong
    counts, bad hex, duplicate names), or `NonFiniteError` for NaN / Inf unless `allow_nonfinite`.
    `progress(done, total)` is called with counts of bytes.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size == 0:
                raise FormatError(located("empty file (a .wts starts with the number of tensors)", path, 1))
            buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as e:
        raise WeightsError(located(f"cannot read: {e.strerror or e}", path)) from None
    try:
        return _Parser(path, buf, progress, allow_nonfinite).parse()
    except WeightsError:
        raise
    except Exception as e:  # anything else a hostile file makes Python raise: one line naming the file
        raise FormatError(located(f"cannot parse: {type(e).__name__}: {clip(e)}", path)) from None
    finally:
        try:
            buf.close()
        except BufferError:  # a view is still held by an exception's traceback: the mmap closes when it goes
            pass


class _Parser:
    def __init__(self, path, buf, progress, allow_nonfinite):
        self.path, self.buf, self.size = path, buf, len(buf)
        self.progress, self.allow_nonfinite = progress, allow_nonfinite
        self.released = 0

    # ---- errors: line numbers are counted only when one is reported
    def line_of(self, pos):
        if pos <= 0:
            return 1
        return int(np.count_nonzero(np.frombuffer(self.buf, np.uint8, min(pos, self.size)) == ord("\n"))) + 1

    def error(self, pos, message, tensor=None):
        return FormatError(located(message, self.path, self.line_of(pos), tensor))

    def number(self, token, pos, what, tensor=None):
        # A count no file can hold (and past Python's 4300-digit int limit) is an error, not an attempt.
        if len(token) > _MAX_DIGITS:
            raise self.error(pos, f"{what} {_show(token)} is too large", tensor)
        return int(token)

    # ---- structure
    def parse(self):
        buf = self.buf
        m = _NEXT.match(buf, 0)
        token = m.group(1)
        if not token:
            raise self.error(0, "no tensors: the file is blank")
        if not token.isdigit():
            raise self.error(m.start(1), f"expected the number of tensors, found {_show(token)}")
        count = self.number(token, m.start(1), "number of tensors")
        if count == 0:
            raise self.error(m.start(1), "the file declares 0 tensors (tensorrtx's loader needs at least one)")
        extra = _NEXT_ON_LINE.match(buf, m.end())
        if extra.group(1):
            raise self.error(extra.start(1), f"expected the number of tensors alone on the first line, "
                                             f"found {_show(extra.group(1))} after it")
        pos = m.end()
        arrays, defined_at = {}, {}
        for i in range(count):
            m = _NEXT.match(buf, pos)
            token, name_pos = m.group(1), m.start(1)
            if not token:
                raise self.error(name_pos, f"the file ends after {i} of the {count} tensors declared on line 1: "
                                           "truncated?")
            try:
                name = token.decode("utf-8")
            except UnicodeDecodeError:
                raise self.error(name_pos, f"tensor name {_show(token)} is not UTF-8") from None
            if name in defined_at:
                raise self.error(name_pos, f"defined twice, first on line {self.line_of(defined_at[name])}", name)
            c = _NEXT_ON_LINE.match(buf, m.end())
            if not c.group(1):
                raise self.error(name_pos, "no number of values after the name", name)
            if not c.group(1).isdigit():
                raise self.error(c.start(1), f"expected the number of values, found {_show(c.group(1))}", name)
            n = self.number(c.group(1), c.start(1), "number of values", name)
            arrays[name], pos = self.values(name, name_pos, n, c.end())
            defined_at[name] = name_pos
            self.tick(pos)
        m = _NEXT.match(buf, pos)
        if m.group(1):
            raise self.error(m.start(1), f"more tensors than the {count} declared on line 1 "
                                         f"(found {_show(m.group(1))})")
        if self.progress:
            self.progress(self.size, self.size)
        return arrays

    def values(self, name, name_pos, n, pos):
        """Parse the `n` values of tensor `name` from `pos` (on its line); returns (array, position after)."""
        buf, size = self.buf, self.size
        p = _SPACES.match(buf, pos).end()
        if 2 * n - 1 > size - p:  # cannot fit: count what is there rather than allocate n values
            self.slow_values(name, name_pos, None, 0, n, p)
        out = np.empty(n, np.float32)
        done = 0
        # Fast path, the layout every writer produces: 8 hex digits per value, one space between values. Any
        # deviation (other spacing, shorter values, bad digits, a short line) falls to the slow path, which either
        # reads the irregular-but-valid line or reports exactly what is wrong.
        while done < n:
            k = min(CHUNK, n - done)
            end = p + 9 * k - 1
            last = done + k == n
            if end > size:
                break
            follower = buf[end] if end < size else None  # what follows the chunk's last value
            if not ((follower is None or follower in _WHITESPACE) if last else follower == ord(" ")):
                break
            if k > 1 and not (np.frombuffer(buf, np.uint8, 9 * k - 1, p)[8::9] == ord(" ")).all():
                break
            # Each value's 8 digits as one 8-byte word (the stride of 9 steps over the spaces), then unhexlify,
            # which refuses anything but hex digits.
            digits = np.ndarray((k,), np.uint64, buffer=buf, offset=p, strides=(9,)).copy()
            try:
                raw = binascii.unhexlify(digits)
            except binascii.Error:
                break
            out[done:done + k] = np.frombuffer(raw, ">f4")
            self.check_finite(out[done:done + k], name, name_pos, done, n)
            done += k
            p = end if last else end + 1
            self.tick(p)
        if done < n:
            return out, self.slow_values(name, name_pos, out, done, n, p)
        line_end = self.line_end(p)
        extra = buf[p:line_end].split()
        if extra:
            raise self.error(name_pos, f"expected {n} values, found {n + len(extra)}", name)
        return out, line_end

    def slow_values(self, name, name_pos, out, done, n, p):
        """Values `done`..`n` of the line from `p`, token by token; returns the position after the line."""
        line_end = self.line_end(p)
        tokens = self.buf[p:line_end].split()
        if done + len(tokens) != n:
            raise self.error(name_pos, f"expected {n} values, found {done + len(tokens)}", name)
        for j, token in enumerate(tokens):
            if not _HEX.fullmatch(token):
                raise self.error(name_pos, f"bad hex value {_show(token)} (value {done + j + 1} of {n})", name)
        # Shorter values are valid (the C++ loader reads them), but a short last value where the file stops
        # without a final newline is far more likely a file cut in the middle of a value.
        if tokens and line_end == self.size and len(tokens[-1]) < 8 and self.buf[self.size - 1] not in _WHITESPACE:
            raise self.error(name_pos, f"the file ends inside value {n} of {n} ({_show(tokens[-1])}, no final "
                                       "newline): truncated?", name)
        values = np.array([int(t, 16) for t in tokens], np.uint32).view(np.float32)
        self.check_finite(values, name, name_pos, done, n)
        out[done:] = values
        return line_end

    def check_finite(self, values, name, name_pos, offset, n):
        if not self.allow_nonfinite:
            i = first_nonfinite(values)
            if i is not None:
                raise NonFiniteError(located(f"value {offset + i + 1} of {n} is {values[i]} "
                                             f"(0x{values.view(np.uint32)[i]:08x})",
                                             self.path, self.line_of(name_pos), name))

    def line_end(self, p):
        end = self.buf.find(b"\n", p)
        return self.size if end < 0 else end

    # ---- progress, and memory: parsed text is released as we go
    def tick(self, pos):
        if pos - self.released >= _RELEASE_EVERY and hasattr(mmap, "MADV_DONTNEED"):
            stop = pos // mmap.PAGESIZE * mmap.PAGESIZE
            if stop > self.released:
                self.buf.madvise(mmap.MADV_DONTNEED, self.released, stop - self.released)
                self.released = stop
        if self.progress:
            self.progress(pos, self.size)


def _show(token, limit=24):
    """A token for an error message: quoted, printable, short."""
    text = token.decode("utf-8", "replace")
    return repr(text if len(text) <= limit else text[:limit] + "...")

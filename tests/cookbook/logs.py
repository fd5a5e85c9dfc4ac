"""Parser of the TensorRT Cookbook layer logs in tests/data/cookbook_logs (stdout + stderr of
cookbook/02-API/Layer/<Layer>/main.py run on real TensorRT 10.16).

A log is a sequence of cases, each framed by the Cookbook's `case_mark`:

    ============================== Start [case_simple,(),{}]
    ...
    ============================== End   [case_simple]

Inside a case every `TRTWrapper*.setup(); infer()` pair prints one block: the I/O lines

    Input ->DataType.FLOAT, (1, 3, 4, 5), (1, 3, 4, 5), tensor
    Output->DataType.FLOAT, (1, -1), (1, -1), (Unnamed Layer* 0) [NonZero]_output

(mode, dtype, build-time shape, runtime shape before execution, name), then for every I/O tensor in the same order
its name on a line of its own and `print(ndarray)` with numpy's default print options. A case may hold several
blocks (it builds or runs more than once) or none (the build failed). Every other line of a case is kept as text.

The `[TRT]` logger lines went to stderr while stdout was block-buffered, so where they land relative to the case
markers says nothing about which case emitted them (most sit before the first Start, some cut through a printed
array). They are taken out before parsing, kept in `Log.trt_messages`, and `Case.trt_messages` lists those that
happen to lie inside the case.

Nothing here imports torch or reftrt: a log can be read on a machine that has neither.
"""
from __future__ import annotations

import ast
import functools
import math
import os
import re
from dataclasses import dataclass, field

import numpy as np

LOG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "cookbook_logs")

_START = re.compile(r"^={30} Start \[(?P<name>[^,\]]+),(?P<args>\(.*\)),(?P<kwargs>\{.*\})\]$")
_END = re.compile(r"^={30} End   \[(?P<name>.+)\]$")
_IO = re.compile(r"^(?P<mode>Input |Output)->(?P<dtype>DataType\.\w+), (?P<build>\([^()]*\)), "
                 r"(?P<run>\([^()]*\)), (?P<name>.+)$")
_TRT = re.compile(r"^\[\d\d/\d\d/\d{4}-\d\d:\d\d:\d\d\] \[TRT\] \[(?P<severity>[A-Z])\] (?P<text>.*)$")
_ENUM_HEAD = re.compile(r"^Members of tensorrt\.tensorrt\.(?P<name>\w+):$")
_ENUM_ROW = re.compile(r"^\s*(?P<value>-?\d+) -> (?P<member>\w+)$")
# numpy's array text: brackets, the summarisation ellipsis, void (bfloat16) bytes, bools, numbers.
_TOKEN = re.compile(r"\[|\]|\.\.\.|b'(?:\\x[0-9A-Fa-f]{2}|[^'\\])*'|True|False"
                    r"|[-+]?(?:nan|inf|\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)")
_EDGE_ITEMS = 3  # numpy's default `edgeitems`: a summarised axis shows this many entries at each end

# TensorRT DataType name -> numpy dtype of the parsed values. Types numpy lacks are decoded to float32.
NUMPY_DTYPE = {
    "FLOAT": np.float32, "HALF": np.float16, "BF16": np.float32, "INT8": np.int8, "INT32": np.int32,
    "INT64": np.int64, "BOOL": np.bool_, "UINT8": np.uint8, "FP8": np.float32, "FP4": np.float32,
    "INT4": np.float32, "E8M0": np.float32,
}
_DTYPE_NOTES = {
    "BF16": "bfloat16 printed as raw little-endian bytes (numpy void 'V2'); decoded exactly to float32",
    "FP8": "no numpy dtype; values kept as float32", "FP4": "no numpy dtype; values kept as float32",
    "INT4": "no numpy dtype; values kept as float32", "E8M0": "no numpy dtype; values kept as float32",
}


@dataclass(frozen=True)
class IOLine:
    """One `Input ->...` / `Output->...` line, as `TRTWrapperV1._setup_print_io_tensors` prints it."""
    mode: str  # "Input" or "Output"
    dtype: str  # as printed, e.g. "DataType.FLOAT"
    build_shape: tuple  # engine.get_tensor_shape: -1 for dynamic dimensions
    runtime_shape: tuple  # context.get_tensor_shape before execution: -1 for data-dependent dimensions
    name: str

    @property
    def dtype_name(self):
        return self.dtype.split(".", 1)[1]

    def __str__(self):
        mode = "Input " if self.mode == "Input" else "Output"
        return f"{mode}->{self.dtype}, {_shape_str(self.build_shape)}, {_shape_str(self.runtime_shape)}, {self.name}"


@dataclass
class PrintedArray:
    """One tensor as `print(ndarray)` showed it.

    `values` is the whole array in the numpy dtype of `NUMPY_DTYPE[dtype]`, or None when numpy summarised it
    (more than 1000 elements: `...` hides the middle of each long axis). Then `corner` holds the visible values and
    `corner_index` (one index list per axis, for `np.ix_`) says where they sit in the full array, when the I/O line
    gives the full shape.

    `shape` is the printed nesting, which need not be the I/O line's runtime shape: an input fed as a 0-d array is
    printed 1-d (`np.ascontiguousarray` makes 0-d arrays 1-d), a data-dependent output has its real extent where the
    I/O line has -1, and an empty array prints as `[]` whatever its shape.

    `quantum` is the absolute error printing may add to a float: numpy prints at most 8 digits after the decimal
    point, so positional output (`0.00074405`) is rounded to 5e-9, while scientific output (`7.4505806e-09`) has 9
    significant digits and round-trips float32 exactly.
    """
    name: str
    dtype: str  # TensorRT DataType name from the I/O line, e.g. "FLOAT"
    text: str
    shape: tuple
    values: np.ndarray | None
    corner: np.ndarray | None = None
    corner_index: list | None = None
    quantum: float = 0.0
    note: str = ""

    @property
    def summarised(self):
        return self.values is None

    @property
    def size(self):
        return None if self.summarised else int(self.values.size)


@dataclass
class Block:
    """One `setup()` + `infer()`: the I/O lines and the arrays printed after them (none if inference never ran)."""
    io: list = field(default_factory=list)
    arrays: dict = field(default_factory=dict)  # name -> PrintedArray, in print order

    @property
    def inputs(self):
        return [line for line in self.io if line.mode == "Input"]

    @property
    def outputs(self):
        return [line for line in self.io if line.mode == "Output"]

    def line(self, name):
        return next(line for line in self.io if line.name == name)

    def __getitem__(self, name):
        return self.arrays[name].values


@dataclass
class TrtMessage:
    severity: str  # "E", "W", "I", "V"
    text: str
    lineno: int


@dataclass
class Case:
    name: str
    args: object  # the positional arguments as printed by case_mark, evaluated when they are literals
    kwargs: object
    lineno: int
    blocks: list = field(default_factory=list)
    text: list = field(default_factory=list)  # the case's stdout lines that are neither I/O lines nor arrays
    trt_messages: list = field(default_factory=list)  # logger lines lying inside the case (see module doc)
    ended: bool = False

    @property
    def built(self):
        """Whether the case printed any I/O line, i.e. an engine was built and set up."""
        return bool(self.blocks)

    def block(self, index=0):
        return self.blocks[index]


@dataclass
class Log:
    name: str
    path: str
    cases: list = field(default_factory=list)
    preamble: list = field(default_factory=list)  # stdout lines before the first case
    epilogue: list = field(default_factory=list)  # stdout lines outside cases after the first one
    trt_messages: list = field(default_factory=list)
    enums: dict = field(default_factory=dict)  # "PoolingType" -> {"MAX": 0, ...} from print_enumerated_members

    def case(self, name, args=None):
        """The first case called `name` (and printed with positional arguments `args`, when given)."""
        for case in self.cases:
            if case.name == name and (args is None or case.args == args):
                return case
        raise KeyError(f"{self.name}.log has no case {name}{'' if args is None else args}; "
                       f"it has {[c.name for c in self.cases]}")

    @property
    def case_names(self):
        return [case.name for case in self.cases]


def log_names():
    return sorted(f[:-4] for f in os.listdir(LOG_DIR) if f.endswith(".log"))


@functools.lru_cache(maxsize=None)
def load_log(name):
    """Parsed tests/data/cookbook_logs/<name>.log (cached: treat the result as read-only)."""
    path = os.path.join(LOG_DIR, f"{name}.log")
    with open(path, encoding="utf-8") as f:
        return parse_log(f.read(), name=name, path=path)


def parse_log(text, name="", path=""):
    log = Log(name=name, path=path)
    lines = []  # (lineno, line) of stdout only
    for lineno, line in enumerate(text.splitlines(), 1):
        m = _TRT.match(line)
        if m:
            log.trt_messages.append(TrtMessage(m["severity"], m["text"], lineno))
        else:
            lines.append((lineno, line))
    _read_enums(log, [line for _, line in lines])

    case = None
    i = 0
    while i < len(lines):
        lineno, line = lines[i]
        start, end = _START.match(line), _END.match(line)
        if start:
            case = Case(start["name"], _literal(start["args"]), _literal(start["kwargs"]), lineno)
            log.cases.append(case)
            i += 1
        elif end and case is not None and end["name"] == case.name:
            case.ended = True
            case = None
            i += 1
        elif case is None:
            (log.epilogue if log.cases else log.preamble).append(line)
            i += 1
        else:
            i = _read_case_line(case, lines, i)
    for case in log.cases:
        last = _case_last_line(log, case)
        case.trt_messages = [m for m in log.trt_messages if case.lineno < m.lineno < last]
    return log


def _read_case_line(case, lines, i):
    """Consume the line at `i` (and the array after it, if it names an unprinted tensor); returns the next index."""
    lineno, line = lines[i]
    m = _IO.match(line)
    if m:
        io = IOLine(m["mode"].strip(), m["dtype"], _parse_shape(m["build"]), _parse_shape(m["run"]), m["name"])
        block = case.blocks[-1] if case.blocks else None
        # A new block starts at the first I/O line after arrays, or when a name repeats (a rebuild that never ran).
        if block is None or block.arrays or any(x.name == io.name for x in block.io):
            block = Block()
            case.blocks.append(block)
        block.io.append(io)
        return i + 1
    block = case.blocks[-1] if case.blocks else None
    if block is not None and line not in block.arrays and any(x.name == line for x in block.io):
        end = _array_end(lines, i + 1)
        if end is not None:
            text = "\n".join(l for _, l in lines[i + 1:end])
            io = block.line(line)
            try:
                block.arrays[line] = parse_array(text, io.dtype_name, io.runtime_shape, name=line)
            except ValueError as e:
                raise ValueError(f"line {lines[i + 1][0]}: array {line!r}: {e}") from None
            return end
    case.text.append(line)
    return i + 1


def _array_end(lines, i):
    """Index after the printed array starting at `i`: up to the matching `]`, or one line for a bare scalar."""
    if i >= len(lines):
        return None
    first = lines[i][1]
    if not first.startswith("["):
        return i + 1 if _TOKEN.fullmatch(first.strip()) else None
    depth = 0
    for j in range(i, len(lines)):
        # Bytes literals are hex-escaped by numpy, so brackets can be counted on the raw text.
        depth += lines[j][1].count("[") - lines[j][1].count("]")
        if depth <= 0:
            return j + 1
    return None


def _case_last_line(log, case):
    later = [c.lineno for c in log.cases if c.lineno > case.lineno]
    return later[0] if later else math.inf


def _read_enums(log, lines):
    current = None
    for line in lines:
        head = _ENUM_HEAD.match(line)
        row = _ENUM_ROW.match(line)
        if head:
            current = log.enums.setdefault(head["name"], {})
        elif row and current is not None:
            current[row["member"]] = int(row["value"])
        else:
            current = None


def _literal(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _parse_shape(text):
    inner = text.strip()[1:-1].strip().rstrip(",")
    return tuple(int(v) for v in inner.split(",")) if inner else ()


def _shape_str(shape):
    return str(tuple(shape))


# ---- numpy array text

def parse_array(text, dtype="FLOAT", full_shape=None, name=""):
    """Parse `print(ndarray)` output. `dtype` is a TensorRT DataType name; `full_shape` (the runtime shape from the
    I/O line, -1 allowed) places the corner of a summarised array."""
    tokens = _TOKEN.findall(text)
    leftover = _TOKEN.sub("", text).strip()
    if leftover:
        raise ValueError(f"unexpected text {leftover[:40]!r}")
    if not tokens:
        raise ValueError("no values")
    if tokens[0] != "[":
        if len(tokens) != 1:
            raise ValueError(f"expected one scalar, found {tokens}")
        nested, summarised_axes = _scalar(tokens[0]), set()
    else:
        nested, end, summarised_axes = _nested(tokens, 0, 0)
        if end != len(tokens):
            raise ValueError("text after the closing bracket")
    flat, shape = _flatten(nested)
    values = _to_numpy(flat, dtype).reshape(shape)
    if shape == (0,) and full_shape and all(d >= 0 for d in full_shape) and math.prod(full_shape) == 0:
        values, shape = values.reshape(full_shape), tuple(full_shape)
    quantum = 0.0
    if values.dtype.kind == "f" and not any("e" in t or "E" in t for t in tokens):
        quantum = 5e-9
    note = _DTYPE_NOTES.get(dtype, "")
    if not summarised_axes:
        return PrintedArray(name, dtype, text, shape, values, quantum=quantum, note=note)
    return PrintedArray(name, dtype, text, shape, None, corner=values,
                        corner_index=_corner_index(shape, summarised_axes, full_shape), quantum=quantum, note=note)


_ELLIPSIS = object()


def _nested(tokens, i, depth):
    """Parse the list opening at tokens[i]; returns (items, index after it, axes that show `...`)."""
    assert tokens[i] == "["
    items, axes, i = [], set(), i + 1
    while i < len(tokens) and tokens[i] != "]":
        if tokens[i] == "[":
            item, i, sub = _nested(tokens, i, depth + 1)
            items.append(item)
            axes |= sub
        elif tokens[i] == "...":
            items.append(_ELLIPSIS)
            axes.add(depth)
            i += 1
        else:
            items.append(_scalar(tokens[i]))
            i += 1
    if i >= len(tokens):
        raise ValueError("unbalanced brackets")
    return items, i + 1, axes


def _flatten(nested):
    """Nested lists (ellipses dropped) -> (flat values, shape); raises on ragged nesting."""
    if not isinstance(nested, list):
        return [nested], ()
    items = [x for x in nested if x is not _ELLIPSIS]
    if not items:
        return [], (0,)
    parts = [_flatten(x) for x in items]
    shapes = {shape for _, shape in parts}
    if len(shapes) != 1:
        raise ValueError(f"ragged nesting {sorted(shapes)}")
    return [v for flat, _ in parts for v in flat], (len(items),) + shapes.pop()


def _corner_index(shape, summarised_axes, full_shape):
    if not full_shape or len(full_shape) != len(shape) or any(d < 0 for d in full_shape):
        return None
    index = []
    for axis, (seen, full) in enumerate(zip(shape, full_shape)):
        if axis in summarised_axes:
            index.append(list(range(_EDGE_ITEMS)) + list(range(full - _EDGE_ITEMS, full)))
        else:
            index.append(list(range(full)))
    return index if all(len(ix) == n for ix, n in zip(index, shape)) else None


def _scalar(token):
    if token in ("True", "False"):
        return token == "True"
    if token.startswith("b'"):
        raw = ast.literal_eval(token)
        if len(raw) != 2:
            raise ValueError(f"only 2-byte (bfloat16) void values are understood, found {token}")
        bits = np.array([int.from_bytes(raw, "little") << 16], dtype=np.uint32)
        return float(bits.view(np.float32)[0])
    if re.fullmatch(r"[-+]?\d+", token):
        return int(token)
    return float(token)


def _to_numpy(flat, dtype):
    target = np.dtype(NUMPY_DTYPE.get(dtype, np.float32))
    if flat and all(isinstance(v, bool) for v in flat):
        return np.array(flat, dtype=np.bool_ if target.kind == "b" else target)
    if target.kind in "iu" and any(isinstance(v, float) for v in flat):
        if all(math.isfinite(v) and v == int(v) for v in flat):
            flat = [int(v) for v in flat]
        else:
            return np.array(flat, dtype=np.float64)  # printed data is not of the I/O line's type: keep it
    return np.array(flat, dtype=target) if flat else np.zeros(0, dtype=target)

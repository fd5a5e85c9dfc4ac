"""Argument forms of the value types (Dims, Weights, Permutation, Logger, enums, nptype, volume),
run on the real TensorRT bindings and on reftrt side by side.

Each case is a function of a module, `trt` (the real bindings over stub libraries, or reftrt).
Its outcome is {"value": <described result>} or {"raises": <exception type name>, "message": ...};
"described" turns results into comparable JSON (type names, items, repr with addresses removed).
test_value_types.py runs this file once per version in a child interpreter:

    REFTRT_TRT_VERSION=10.3 python tests/conformance/trt_valuecases.py --real 10.3.0 --out out.json

and asserts, per case: reftrt accepts iff TensorRT accepts; when both refuse, the same exception
type; when both accept, equal outcomes.  Flags loosen single cases, each with its reason:
  may_refuse  TensorRT accepts by an accident of pybind11's conversions; reftrt may raise
              TypeError or ValueError instead (if it accepts, the value must still match).
  may_accept  TensorRT refuses, but reftrt may accept (Python enums iterate, pybind11's do not).
  optional    the reftrt class the case needs; skipped while reftrt lacks it.
  output      also compare what the case prints on stdout and stderr, timestamps masked.
TensorRT 10.x bindings were built against NumPy 1: under NumPy 2 their Weights.numpy() returns
zero-stride views, so when the real bindings show that, array values are masked out.
"""
import argparse
import contextlib
import ctypes
import gc
import json
import os
import pickle
import re
import sys
import tempfile
import traceback
from typing import Callable, NamedTuple

import numpy as np

import trt_support as ts


class Case(NamedTuple):
    id: str
    fn: Callable
    may_refuse: str = ""
    may_accept: str = ""
    optional: str = ""
    output: bool = False


CASES = []


def case(id, fn, **flags):
    assert id not in {c.id for c in CASES}, id
    CASES.append(Case(id, fn, **flags))


# ---- describing outcomes -----------------------------------------------------------------

def describe(x):
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    if isinstance(x, np.ndarray):
        return {"ndarray": x.dtype.name, "shape": list(x.shape), "values": x.tolist()}
    if isinstance(x, np.generic):
        return {"numpy scalar": type(x).__name__, "value": x.item()}
    if isinstance(x, type):
        if x.__module__ in ("builtins", "numpy"):
            return {"class": f"{x.__module__}.{x.__qualname__}"}
        return {"class": x.__qualname__}
    if type(x) in (tuple, list):  # exactly: a tuple subclass (a Dims?) is described by behaviour
        return {type(x).__name__: [describe(i) for i in x]}
    if type(x) is dict:
        return {"dict": {str(k): describe(v) for k, v in x.items()}}
    if ts.is_enum_type(type(x)) and hasattr(x, "name"):
        return {"enum": type(x).__name__, "name": x.name, "int": int(x)}
    out = {"object": type(x).__name__, "repr": ts.without_addresses(repr(x)), "str": ts.without_addresses(str(x))}
    try:
        out["len"] = len(x)
        out["items"] = [describe(i) for i in x]
    except TypeError:  # not a sequence (Weights)
        pass
    return out


def attempt(fn):
    try:
        result = fn()
    except Exception as e:
        return {"raises": type(e).__name__, "message": str(e).strip().splitlines()[0] if str(e).strip() else ""}
    try:
        return {"value": describe(result)}
    except Exception as e:  # a broken __repr__ or int() is reftrt's failure, not a refusal
        return {"value": f"<cannot describe the result: {ts.short_exception(e)}>"}


@contextlib.contextmanager
def captured_output(into):
    """Capture file descriptors 1 and 2: TensorRT's C++ logger writes there, not to sys.stdout."""
    libc = ctypes.CDLL(None)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sys.stdout.flush(), sys.stderr.flush(), libc.fflush(None)
        saved = os.dup(1), os.dup(2)
        os.dup2(out.fileno(), 1), os.dup2(err.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush(), sys.stderr.flush(), libc.fflush(None)
            os.dup2(saved[0], 1), os.dup2(saved[1], 2)
            os.close(saved[0]), os.close(saved[1])
            for key, f in (("stdout", out), ("stderr", err)):
                f.seek(0)
                into[key] = re.sub(r"\[\d\d/\d\d/\d{4}-\d\d:\d\d:\d\d\]", "[TIME]", f.read().decode(errors="replace"))


def evaluate(trt):
    results = {}
    for c in CASES:
        output = {}
        with captured_output(output):
            outcome = attempt(lambda: c.fn(trt))
        if c.output:
            outcome["output"] = output
        results[c.id] = outcome
    return results


def numpy_interop_broken(trt):
    return trt.Weights(np.array([1, 2], np.float32)).numpy().tolist() != [1.0, 2.0]


# ---- Dims ----------------------------------------------------------------------------------

def d234(t):
    return t.Dims([2, 3, 4])


def assigned(obj, key, value):
    obj[key] = value
    return obj


PYBIND_ANY_ITERABLE = "pybind11 3 (TensorRT 11) converts any iterable to a sequence, even an unordered set"
case("Dims()", lambda t: t.Dims())
case("Dims([])", lambda t: t.Dims([]))
case("Dims([1, 2])", lambda t: t.Dims([1, 2]))
case("Dims((1, 2))", lambda t: t.Dims((1, 2)))
case("Dims(Dims([3, 4]))", lambda t: t.Dims(t.Dims([3, 4])))
case("Dims(shape=[1, 2])", lambda t: t.Dims(shape=[1, 2]))
case("Dims(np.array([1, 2]))", lambda t: t.Dims(np.array([1, 2])))
case("Dims(np.array([1, 2], np.int8))", lambda t: t.Dims(np.array([1, 2], np.int8)))
case("Dims([np.int64(3), np.int32(4)])", lambda t: t.Dims([np.int64(3), np.int32(4)]))
case("Dims([np.uint64(3)])", lambda t: t.Dims([np.uint64(3)]))
case("Dims([np.array(3)])", lambda t: t.Dims([np.array(3)]))
case("Dims(range(3))", lambda t: t.Dims(range(3)))
case("Dims(generator)", lambda t: t.Dims(i for i in (1, 2)))
case("Dims({1, 2})", lambda t: t.Dims({1, 2}), may_refuse=PYBIND_ANY_ITERABLE)
case("Dims([True])", lambda t: t.Dims([True]))
case("Dims([-1])", lambda t: t.Dims([-1]))
case("Dims([2**40])", lambda t: t.Dims([2 ** 40]))
case("Dims([2**63])", lambda t: t.Dims([2 ** 63]))
case("Dims([1] * 8)", lambda t: t.Dims([1] * 8))
case("Dims([1] * 9)", lambda t: t.Dims([1] * 9))
case("Dims('12')", lambda t: t.Dims("12"))
case("Dims(b'12')", lambda t: t.Dims(b"\x01\x02"))
case("Dims([1.5])", lambda t: t.Dims([1.5]))
case("Dims([2.0])", lambda t: t.Dims([2.0]))
case("Dims(np.array([1.0, 2.0]))", lambda t: t.Dims(np.array([1.0, 2.0])))
case("Dims([np.float32(2)])", lambda t: t.Dims([np.float32(2)]),
     may_refuse="pybind11 converts a NumPy float scalar through __int__ (a Python float it refuses)")
case("Dims(Permutation([1, 0]))", lambda t: t.Dims(t.Permutation([1, 0])),
     may_refuse="a Permutation is a sequence of 8 ints, so this gives 8 dims")
case("Dims(None)", lambda t: t.Dims(None))
case("Dims(3)", lambda t: t.Dims(3))
case("Dims(1, 2)", lambda t: t.Dims(1, 2))
case("Dims({1: 2})", lambda t: t.Dims({1: 2}))
case("isinstance(Dims([1]), tuple)", lambda t: isinstance(t.Dims([1]), tuple))
case("Dims.MAX_DIMS", lambda t: t.Dims.MAX_DIMS)
case("Dims([1]).MAX_DIMS", lambda t: t.Dims([1]).MAX_DIMS)
case("len(d)", lambda t: len(d234(t)))
case("d[0]", lambda t: d234(t)[0])
case("d[-1]", lambda t: d234(t)[-1])
case("d[-3]", lambda t: d234(t)[-3])
case("d[3]", lambda t: d234(t)[3])
case("d[-4]", lambda t: d234(t)[-4])
case("d[1:]", lambda t: d234(t)[1:])
case("d[:2]", lambda t: d234(t)[:2])
case("d[np.int64(1)]", lambda t: d234(t)[np.int64(1)])
case("d[True]", lambda t: d234(t)[True])
case("d['a']", lambda t: d234(t)["a"])
case("d[1.0]", lambda t: d234(t)[1.0])
case("type(d[0])", lambda t: type(d234(t)[0]))
case("type(d[1:])", lambda t: type(d234(t)[1:]))
case("d == (2, 3, 4)", lambda t: d234(t) == (2, 3, 4))
case("d == [2, 3, 4]", lambda t: d234(t) == [2, 3, 4])
case("d == (2, 3)", lambda t: d234(t) == (2, 3))
case("d != (2, 3, 4)", lambda t: d234(t) != (2, 3, 4))
case("(2, 3, 4) == d", lambda t: (2, 3, 4) == d234(t))
case("d == [np.int64(2), 3, 4]", lambda t: d234(t) == [np.int64(2), 3, 4])
case("Dims() == []", lambda t: t.Dims() == [])
case("d == Dims([2, 3, 4])", lambda t: d234(t) == t.Dims([2, 3, 4]))
case("d == None", lambda t: d234(t) == None)  # noqa: E711 - the comparison is the point
case("d == 5", lambda t: d234(t) == 5)
case("d == np.array([2, 3, 4])", lambda t: d234(t) == np.array([2, 3, 4]))
case("hash(d)", lambda t: hash(d234(t)))
case("repr(d)", lambda t: repr(d234(t)))
case("str(d)", lambda t: str(d234(t)))
case("repr(Dims())", lambda t: repr(t.Dims()))
case("repr(Dims([5]))", lambda t: repr(t.Dims([5])))
case("list(d)", lambda t: list(d234(t)))
case("list(reversed(d))", lambda t: list(reversed(d234(t))))
case("3 in d", lambda t: 3 in d234(t))
case("d + (1,)", lambda t: d234(t) + (1,))
case("d < (3,)", lambda t: d234(t) < (3,))
case("bool(Dims())", lambda t: bool(t.Dims()))
case("bool(d)", lambda t: bool(d234(t)))
case("np.array(d)", lambda t: np.array(d234(t)))
case("d[0] = 9", lambda t: assigned(d234(t), 0, 9))
case("d[-1] = 7", lambda t: assigned(d234(t), -1, 7))
case("d[3] = 1", lambda t: assigned(d234(t), 3, 1))
case("d[0] = 1.5", lambda t: assigned(d234(t), 0, 1.5))
case("d[0:2] = Dims([7, 8])", lambda t: assigned(d234(t), slice(0, 2), t.Dims([7, 8])))
case("d[0:2] = (7, 8)", lambda t: assigned(d234(t), slice(0, 2), (7, 8)))

for _name, _n in (("Dims2", 2), ("Dims3", 3), ("Dims4", 4), ("DimsHW", 2)):
    def _cls(t, name=_name):
        return getattr(t, name)
    _ints = tuple(range(1, _n + 1))
    _kw = dict(zip(("h", "w") if _name == "DimsHW" else [f"dim{i}" for i in range(_n)], _ints))
    for _id, _fn in {
        "()": lambda t, c=_cls: c(t)(),
        f"{_ints}": lambda t, c=_cls, a=_ints: c(t)(*a),
        f"({list(_ints)})": lambda t, c=_cls, a=_ints: c(t)(list(a)),
        f"({_ints})": lambda t, c=_cls, a=_ints: c(t)(tuple(a)),
        f"(**{_kw})": lambda t, c=_cls, k=_kw: c(t)(**k),
        f"(shape={list(_ints)})": lambda t, c=_cls, a=_ints: c(t)(shape=list(a)),
        f"(Dims({list(_ints)}))": lambda t, c=_cls, a=_ints: c(t)(t.Dims(list(a))),
        f"({[1] * (_n + 1)})": lambda t, c=_cls, n=_n: c(t)([1] * (n + 1)),
        "([1])": lambda t, c=_cls: c(t)([1]),
        f"{tuple(range(_n + 1))}": lambda t, c=_cls, n=_n: c(t)(*range(n + 1)),
        f"(1.5{', 2' * (_n - 1)})": lambda t, c=_cls, n=_n: c(t)(1.5, *[2] * (n - 1)),
        f"{_ints} == {_ints}": lambda t, c=_cls, a=_ints: c(t)(*a) == a,
        "() is a Dims": lambda t, c=_cls: isinstance(c(t)(), t.Dims),
    }.items():
        case(_name + _id, _fn, optional=_name)
case("DimsHW(5, 6).h, .w", lambda t: (t.DimsHW(5, 6).h, t.DimsHW(5, 6).w), optional="DimsHW")


def _set_hw(t):
    d = t.DimsHW(5, 6)
    d.h, d.w = 7, 8
    return d


case("DimsHW .h = 7; .w = 8", _set_hw, optional="DimsHW")


# ---- Weights -------------------------------------------------------------------------------

def facts(w, numpy=True):
    out = {"dtype": w.dtype, "size": w.size, "nbytes": w.nbytes, "len": len(w)}
    if numpy:
        out["numpy"] = w.numpy()
    return out


def _array(dtype):
    if dtype == "object":
        return np.array([1, 2], dtype=object)
    return np.arange(6).reshape(2, 3).astype(dtype)


for _dt in ("float32", "float16", "int8", "int32", "int64", "bool", "uint8",
            "float64", "int16", "uint16", "uint32", "uint64", "complex64", "object", ">f4"):
    case(f"Weights(np.{_dt} array)", lambda t, dt=_dt: facts(t.Weights(_array(dt))))
_F32 = np.arange(12, dtype=np.float32).reshape(3, 4)
case("Weights(a[:, ::2])", lambda t: facts(t.Weights(_F32[:, ::2])))
case("Weights(a.T)", lambda t: facts(t.Weights(_F32.T)))
case("Weights(np.asfortranarray(a))", lambda t: facts(t.Weights(np.asfortranarray(_F32))))
case("Weights(0-d array)", lambda t: facts(t.Weights(np.array(3.0, np.float32))))
case("Weights(empty array)", lambda t: facts(t.Weights(np.zeros(0, np.float32))))
case("Weights(read-only array)", lambda t: facts(t.Weights(np.frombuffer(bytes(8), np.float32))))
case("Weights()", lambda t: facts(t.Weights()))
case("Weights(DataType.FLOAT)", lambda t: facts(t.Weights(t.DataType.FLOAT)))
case("Weights(DataType.HALF)", lambda t: facts(t.Weights(t.DataType.HALF)))
case("Weights(DataType.INT8)", lambda t: facts(t.Weights(t.DataType.INT8)))
case("Weights(DataType.BF16)", lambda t: facts(t.Weights(t.DataType.BF16), numpy=False))
case("Weights(DataType.BF16).numpy()", lambda t: t.Weights(t.DataType.BF16).numpy(),
     may_refuse="NumPy has no bfloat16; TensorRT hands back the Weights itself")
case("Weights(type=DataType.HALF)", lambda t: facts(t.Weights(type=t.DataType.HALF)))
case("Weights(a=array)", lambda t: facts(t.Weights(a=np.ones(3, np.float32))))
case("Weights(type=FLOAT, ptr=0, count=0)", lambda t: facts(t.Weights(type=t.DataType.FLOAT, ptr=0, count=0)))
_PTR_SOURCE = np.arange(3, dtype=np.float32)  # alive for the whole run: the Weights only points at it
case("Weights(FLOAT, a.ctypes.data, 3)",
     lambda t: facts(t.Weights(t.DataType.FLOAT, _PTR_SOURCE.ctypes.data, 3)))
case("Weights([1.0, 2.0])", lambda t: facts(t.Weights([1.0, 2.0])))
case("Weights(1.0)", lambda t: facts(t.Weights(1.0)))
case("Weights(0)", lambda t: facts(t.Weights(0)))
case("Weights(None)", lambda t: facts(t.Weights(None)))
case("Weights(np.float32(1))", lambda t: facts(t.Weights(np.float32(1))))


def _torch_weights(t):
    import torch
    return facts(t.Weights(torch.ones(3)))


case("Weights(torch.ones(3))", _torch_weights)


def _w():
    return np.arange(4, dtype=np.float32)


for _attr, _value in (("dtype", "HALF"), ("size", 3), ("nbytes", 3)):
    def _set(t, attr=_attr, value=_value):
        w = t.Weights(_w())
        setattr(w, attr, getattr(t.DataType, value) if isinstance(value, str) else value)
        return facts(w)
    case(f"w.{_attr} = {_value}", _set)
case("w[0]", lambda t: t.Weights(_w())[0])
case("list(w)", lambda t: list(t.Weights(_w())))


def _shares(t):
    a = _w()
    w = t.Weights(a)
    a[0] = 42
    return w.numpy()[0], np.shares_memory(w.numpy(), a)


def _keeps_alive(t):
    w = t.Weights(_w() + 7)
    gc.collect()
    np.full(64, -1.0)  # reuse freed memory, if it was freed
    return w.numpy()[0]


case("Weights(a) views a", _shares)
case("Weights(temporary) keeps it alive", _keeps_alive)


# ---- Permutation ---------------------------------------------------------------------------

def p201(t):
    return t.Permutation([2, 0, 1])


case("Permutation()", lambda t: t.Permutation())
case("Permutation([1, 0, 2])", lambda t: t.Permutation([1, 0, 2]))
case("Permutation((1, 0))", lambda t: t.Permutation((1, 0)))
case("Permutation(np.array([1, 0]))", lambda t: t.Permutation(np.array([1, 0])))
case("Permutation(Dims([1, 0]))", lambda t: t.Permutation(t.Dims([1, 0])))
case("Permutation(range(8))", lambda t: t.Permutation(range(8)))
case("Permutation(range(9))", lambda t: t.Permutation(list(range(9))))
case("Permutation([0, 0])", lambda t: t.Permutation([0, 0]))
case("Permutation([-1])", lambda t: t.Permutation([-1]))
case("Permutation([1.0])", lambda t: t.Permutation([1.0]))
case("Permutation(None)", lambda t: t.Permutation(None))
case("Permutation(arg0=[1, 0])", lambda t: t.Permutation(arg0=[1, 0]))
case("Permutation(generator)", lambda t: t.Permutation(i for i in (1, 0)))
case("p[0]", lambda t: p201(t)[0])
case("p[-1]", lambda t: p201(t)[-1])
case("p[7]", lambda t: p201(t)[7])
case("p[8]", lambda t: p201(t)[8])
case("p[-9]", lambda t: p201(t)[-9])
case("p[1:]", lambda t: p201(t)[1:])
case("p[np.int64(0)]", lambda t: p201(t)[np.int64(0)])
case("len(p)", lambda t: len(p201(t)))
case("repr(p)", lambda t: repr(p201(t)))
case("str(p)", lambda t: str(p201(t)))
case("tuple(p)", lambda t: tuple(p201(t)))
case("p == (2, 0, 1)", lambda t: p201(t) == (2, 0, 1))
case("p == (2, 0, 1, 0, 0, 0, 0, 0)", lambda t: p201(t) == (2, 0, 1, 0, 0, 0, 0, 0))
case("p == Permutation([2, 0, 1])", lambda t: p201(t) == t.Permutation([2, 0, 1]))
case("hash(p) is an int", lambda t: isinstance(hash(p201(t)), int))
case("p[0] = 5", lambda t: assigned(p201(t), 0, 5))
case("p[8] = 1", lambda t: assigned(p201(t), 8, 1))


# ---- Logger --------------------------------------------------------------------------------

def _set_severity(t, value):
    logger = t.Logger()
    logger.min_severity = value
    return logger.min_severity


def _ilogger_subclass(t):
    class Recorder(t.ILogger):
        def __init__(self):
            t.ILogger.__init__(self)
            self.seen = []

        def log(self, severity, msg):
            self.seen.append((severity, msg))

    r = Recorder()
    r.log(t.Logger.INFO, "hi")
    return isinstance(r, t.ILogger), r.seen


def _ilogger_subclass_without_init(t):
    class Quiet(t.ILogger):
        def log(self, severity, msg):
            pass

    return type(Quiet()).__name__


def _logger_subclass(t):
    class Mine(t.Logger):
        pass

    return Mine(t.Logger.INFO).min_severity


def _log_all(t, logger):
    for severity in ("INTERNAL_ERROR", "ERROR", "WARNING", "INFO", "VERBOSE"):
        logger.log(getattr(t.Logger, severity), f"message at {severity}")


case("Logger().min_severity", lambda t: t.Logger().min_severity)
case("Logger(Logger.INFO).min_severity", lambda t: t.Logger(t.Logger.INFO).min_severity)
case("Logger(min_severity=VERBOSE)", lambda t: t.Logger(min_severity=t.Logger.VERBOSE).min_severity)
case("Logger(1)", lambda t: t.Logger(1))
case("Logger(None)", lambda t: t.Logger(None))
case("Logger('INFO')", lambda t: t.Logger("INFO"))
case("Logger(DataType.HALF)", lambda t: t.Logger(t.DataType.HALF))
case("logger.min_severity = ERROR", lambda t: _set_severity(t, t.Logger.ERROR))
case("logger.min_severity = 0", lambda t: _set_severity(t, 0))
case("Logger.Severity is ILogger.Severity", lambda t: t.Logger.Severity is t.ILogger.Severity)
case("Logger.ERROR is Logger.Severity.ERROR", lambda t: t.Logger.ERROR is t.Logger.Severity.ERROR)
case("ILogger.WARNING", lambda t: t.ILogger.WARNING)
case("isinstance(Logger(), ILogger)", lambda t: isinstance(t.Logger(), t.ILogger))
case("ILogger()", lambda t: t.ILogger())
case("ILogger subclass overriding log", _ilogger_subclass)
case("ILogger subclass without __init__", _ilogger_subclass_without_init)
case("Logger subclass", _logger_subclass)
case("Logger(INFO).log(every severity)", lambda t: _log_all(t, t.Logger(t.Logger.INFO)), output=True)
case("Logger().log(every severity)", lambda t: _log_all(t, t.Logger()), output=True)
case("Logger(VERBOSE).log(every severity)", lambda t: _log_all(t, t.Logger(t.Logger.VERBOSE)), output=True)
case("logger.log(severity=, msg=)", lambda t: t.Logger().log(severity=t.Logger.ERROR, msg="keywords"), output=True)
case("logger.log(1, 'x')", lambda t: t.Logger().log(1, "x"), output=True)
case("logger.log(ERROR, 5)", lambda t: t.Logger().log(t.Logger.ERROR, 5), output=True)
case("logger.log(ERROR)", lambda t: t.Logger().log(t.Logger.ERROR), output=True)


# ---- enums, nptype, volume -----------------------------------------------------------------

ENUM_CLASS = "pybind11 enum classes are not iterable or subscriptable; enum.Enum ones are: do not rely on it"
case("str(DataType.FLOAT)", lambda t: str(t.DataType.FLOAT))
case("repr(DataType.FLOAT)", lambda t: repr(t.DataType.FLOAT))
case("f'{DataType.HALF}'", lambda t: f"{t.DataType.HALF}")
case("str(Logger.WARNING)", lambda t: str(t.Logger.WARNING))
case("repr(Logger.WARNING)", lambda t: repr(t.Logger.WARNING))
case("int(DataType.HALF)", lambda t: int(t.DataType.HALF))
case("DataType.HALF.name", lambda t: t.DataType.HALF.name)
case("DataType.HALF.value", lambda t: t.DataType.HALF.value)
case("[10, 11, 12][DataType.HALF]", lambda t: [10, 11, 12][t.DataType.HALF])
case("DataType.HALF == 1", lambda t: t.DataType.HALF == 1)
case("1 == DataType.HALF", lambda t: 1 == t.DataType.HALF)
case("DataType.HALF == DataType.HALF", lambda t: t.DataType.HALF == t.DataType.HALF)
case("DataType.HALF != DataType.FLOAT", lambda t: t.DataType.HALF != t.DataType.FLOAT)
case("DataType.HALF == Severity.ERROR", lambda t: t.DataType.HALF == t.ILogger.Severity.ERROR)
case("DataType.FLOAT < DataType.HALF", lambda t: t.DataType.FLOAT < t.DataType.HALF)
case("isinstance(DataType.HALF, int)", lambda t: isinstance(t.DataType.HALF, int))
case("hash(DataType.HALF) is an int", lambda t: isinstance(hash(t.DataType.HALF), int))
case("{DataType.HALF: 1}[DataType(1)]", lambda t: {t.DataType.HALF: 1}[t.DataType(1)])
case("DataType(1)", lambda t: t.DataType(1))
case("DataType(np.int64(1))", lambda t: t.DataType(np.int64(1)))
case("DataType(True)", lambda t: t.DataType(True))
case("DataType(99)", lambda t: t.DataType(99), may_refuse="pybind11 makes a nameless member <DataType.???: 99>")
case("DataType('HALF')", lambda t: t.DataType("HALF"))
case("DataType['HALF']", lambda t: t.DataType["HALF"], may_accept=ENUM_CLASS)
case("list(DataType)", lambda t: list(t.DataType), may_accept=ENUM_CLASS)
case("len(DataType)", lambda t: len(t.DataType), may_accept=ENUM_CLASS)
case("pickle round trip of DataType.HALF", lambda t: pickle.loads(pickle.dumps(t.DataType.HALF)) == t.DataType.HALF)
case("DataType.X.itemsize", lambda t: {n: m.itemsize for n, m in t.DataType.__members__.items()})
ALIASES = ("float32", "float16", "bfloat16", "int8", "int32", "int64", "bool", "uint8", "fp8", "int4", "fp4", "e8m0")
case("module aliases float32, ...", lambda t: {n: getattr(t, n) for n in ALIASES if hasattr(t, n)})
def _nptypes(t):
    out = {}
    for name, member in t.DataType.__members__.items():
        try:
            out[name] = t.nptype(member)
        except Exception as e:
            out[name] = f"raises {type(e).__name__}"
    return out


case("nptype(DataType.X)", _nptypes)
case("nptype(0)", lambda t: t.nptype(0))
case("nptype(np.float32)", lambda t: t.nptype(np.float32))
case("volume((2, 3))", lambda t: t.volume((2, 3)))
case("volume(Dims([2, 3, 4]))", lambda t: t.volume(t.Dims([2, 3, 4])))
case("volume([])", lambda t: t.volume([]))
case("volume([-1, 2])", lambda t: t.volume([-1, 2]))
case("volume(5)", lambda t: t.volume(5))
case("volume(np.array([2, 3]))", lambda t: t.volume(np.array([2, 3])))
case("volume([2.5, 2])", lambda t: t.volume([2.5, 2]))


# ---- comparing -----------------------------------------------------------------------------

def masked(outcome):
    """The outcome with array values replaced, for real bindings whose numpy() is broken."""
    if isinstance(outcome, dict):
        return {k: ("<masked>" if k == "values" and "ndarray" in outcome else masked(v)) for k, v in outcome.items()}
    if isinstance(outcome, list):
        return [masked(v) for v in outcome]
    return outcome


def _show(outcome):
    if "raises" in outcome:
        return f"raises {outcome['raises']}: {outcome['message']}"
    return f"returns {json.dumps(outcome['value'], sort_keys=True)}"


def compare(c, real, ref):
    """Why reftrt's outcome of case `c` differs from TensorRT's; None when it conforms."""
    if "raises" in real and "raises" in ref:
        if real["raises"] != ref["raises"]:
            return f"TensorRT {_show(real)}\nreftrt   {_show(ref)}"
    elif "raises" in real:
        if not c.may_accept:
            return f"TensorRT refuses: {_show(real)}\nreftrt accepts: {_show(ref)}"
    elif "raises" in ref:
        if not (c.may_refuse and ref["raises"] in ("TypeError", "ValueError")):
            return f"TensorRT accepts: {_show(real)}\nreftrt   {_show(ref)}"
    elif real["value"] != ref["value"]:
        return f"TensorRT {_show(real)}\nreftrt   {_show(ref)}"
    if c.output and real.get("output") != ref.get("output"):
        return f"TensorRT prints {json.dumps(real.get('output'))}\nreftrt prints   {json.dumps(ref.get('output'))}"
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--real", required=True, help="TensorRT version of the real bindings (prepared already)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--module", default="reftrt", help="module under test (default reftrt)")
    args = parser.parse_args(argv)
    real = ts.trt_manifest_tool().stubbed_tensorrt(args.real)
    result = {"real": evaluate(real), "numpy_broken": numpy_interop_broken(real)}
    try:
        ref = __import__(args.module)
    except BaseException as e:
        result["ref_import_error"] = f"import {args.module} failed: {ts.short_exception(e)}\n{traceback.format_exc()}"
    else:
        result["ref"] = evaluate(ref)
        result["absent"] = sorted({c.optional for c in CASES if c.optional and not hasattr(ref, c.optional)})
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())

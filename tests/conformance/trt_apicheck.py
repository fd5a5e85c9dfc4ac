"""API conformance of reftrt against a manifest of the real TensorRT Python API.

test_api_conformance.py runs this once per emulated version, in a child interpreter:

    REFTRT_TRT_VERSION=10.3 python tests/conformance/trt_apicheck.py \\
        --manifest tests/data/trt_api/trt-10.3.0.json [--real 10.3.0] --out report.json

The manifest (tools/trt_manifest.py) lists the real module's classes with their members, the
pybind11 signatures of their methods, their properties (settable or not), the top-level enums
with their values, and the module functions.  With --real, the real bindings over stub libraries
supply what the manifest lacks: values of nested enums, module constants such as `float32`, the
canonical name of enum aliases, and signatures of the functions written in Python (volume, ...).

THE RULE: everything reftrt exposes publicly exists in the manifest of the version it emulates
and looks the same from Python.

* Public means: attributes of the `reftrt` module not starting with "_", modules excepted
  (reftrt.plugin is checked elsewhere); for a class, the names in dir(cls) not starting with "_",
  plus the dunders the manifest records: __init__, __getitem__, __len__.  Instance attributes
  are invisible here: expose public state through properties (or __slots__), keep the rest
  "_private".  A class the real module cannot construct (no __init__ in the manifest, e.g.
  ITensor) may have any __init__: construct it only inside reftrt.
* Classes: same name (cls.__name__ too); reftrt's public base classes are manifest bases and
  the manifest bases that reftrt has are reftrt bases.  A member is looked up in the class,
  then its bases: the manifest records a method or property only on the class defining it.
* Properties: if reftrt uses a property (or another data descriptor), it has a setter iff the
  manifest says settable.  A plain class attribute is accepted too: that is how Python spells
  a static constant (Dims.MAX_DIMS) or a per-instance default.
* Methods: the manifest gives one pybind11 signature per overload,
  `name(self: T, a: X, b: Y = <DataType.FLOAT: 0>) -> R`.  Parameters named argN are unnamed
  in C++: any name matches, and callers cannot pass them by keyword.  Defaults compare as
  repr(), enum members as pybind11 prints them (<DataType.FLOAT: 0>).  A reftrt method is
  1. a plain signature.  It *implements* an overload when each call the overload accepts binds
     to it the same way: the overload's i-th parameter is reftrt's i-th positional parameter,
     of the same name (unless argN) and not positional-only (unless argN); reftrt's other
     parameters have defaults; where the overload has a default, reftrt has an equal one.
     It must implement at least one overload, take no parameter outside the overloads it
     implements, and give a default only to a parameter some implemented overload may omit.
     With one overload that is equality of names, order and defaults.  For add_topk(input, op,
     k, axes) and add_topk(input, op, k, axes, indices_type), one method
     add_topk(self, input, op, k, axes, indices_type=None) implements both.
  2. a dispatcher, f(self, *args, **kwargs), for overloads one signature cannot express
     (Weights(type=FLOAT), Weights(type, ptr, count), Weights(a)).  It declares what it
     accepts in f.__trt_overloads__: a sequence of functions, written like the method (self
     first unless static), each of whose signatures implements exactly one manifest overload
     with no leeway (same parameters, same defaults), each a different one.  The dispatcher
     may bind its arguments to these signatures to choose.  *args/**kwargs without
     __trt_overloads__ fail.
  Overloads reftrt does not implement are reported, not failed.
* Enums, top-level or nested in a class (Logger.Severity): E.__name__ is the TensorRT name and
  E.__members__ maps exactly the manifest's names to members whose int() is the manifest value;
  for each, .name is the name (aliases: the canonical name), str(m) == "E.NAME" and
  repr(m) == "<E.NAME: value>", as pybind11 prints them.
* Functions: module callables are in the manifest's "functions"; signatures are checked like
  methods where the manifest has one, else against the real Python function.
* Constants: other module values (float32, ...) exist in the real module with equal values
  (needs --real).  Class values (Logger.ERROR) are compared with the real ones likewise.
* reftrt.__version__ is the manifest's version.

What the manifest has and reftrt lacks goes to the "missing" report, never a failure; but an
enum reftrt has must have every member.
"""
import __future__
import argparse
import inspect
import json
import re
import sys
import traceback
from dataclasses import dataclass

import trt_support as ts

EMPTY = inspect.Parameter.empty
POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
RECORDED_DUNDERS = ("__init__", "__getitem__", "__len__")
CATEGORIES = ("version", "names", "classes", "members", "properties", "signatures", "enums",
              "functions", "constants")
# Loop variables that leak out of tensorrt/__init__.py; nobody should mirror them.
REAL_LEAKS = {"attr", "value"}


# ---- pybind11 signatures ------------------------------------------------------------------

@dataclass(frozen=True)
class Param:
    name: str
    default: str = None  # canonical text; None when required

    @property
    def unnamed(self):
        return re.fullmatch(r"arg\d+", self.name) is not None

    @property
    def variadic(self):
        return self.name.startswith("*")


@dataclass(frozen=True)
class Overload:
    text: str
    params: tuple  # of Param, without self


def _scan(text, start, stop_at):
    """Index of the first character in `stop_at` at bracket depth 0 from `start`, or len(text)."""
    depth, quote = 0, None
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif depth == 0 and ch in stop_at:
            return i
        elif ch in "([{<":
            depth += 1
        elif ch in ")]}>" and text[i - 1:i + 1] != "->":
            depth -= 1
    return len(text)


def parse_signature(text, name):
    """Overload from one pybind11 signature line, e.g. '2. f(self: T, a: int = 0) -> None'."""
    m = re.match(r"(?:\d+\.\s+)?" + re.escape(name) + r"\(", text.strip())
    if not m:
        raise ValueError(f"not a signature of {name}: {text!r}")
    text = text.strip()
    end = _scan(text, m.end(), ")")
    params, i = [], m.end()
    while i < end:
        j = _scan(text, i, ",)")
        part = text[i:j].strip()
        i = j + 1
        if not part:
            continue
        eq = _scan(part, 0, "=")
        head, default = part[:eq], part[eq + 1:].strip() if eq < len(part) else None
        params.append(Param(head.split(":")[0].strip(), default))
    if params and params[0].name == "self":
        params = params[1:]
    return Overload(text, tuple(params))


def overloads_of(signatures, name):
    """The overloads in a manifest "signatures" list; [] when it gives none that can be checked."""
    numbered = [s for s in signatures if re.match(r"\d+\.\s", s)]
    try:
        overloads = [parse_signature(s, name) for s in (numbered or signatures[:1])]
    except ValueError:
        return []
    # A lone "f(*args, **kwargs)" says nothing; pybind11 only writes it above numbered overloads.
    return [] if any(p.variadic for ov in overloads for p in ov.params) else overloads


def signature_lines(name, doc):
    # Same rule as tools/trt_manifest.py: "name(...)" lines and "N. name(...)" lines.
    overload = re.compile(r"^\d+\. " + re.escape(name) + r"\(")
    return [l.strip() for l in doc.splitlines() if l.strip().startswith(name + "(") or overload.match(l.strip())]


# ---- values as pybind11 prints them ------------------------------------------------------

def is_enum_member(value):
    return ts.is_enum_type(type(value)) and hasattr(value, "name")


def canon(value):
    """How pybind11 writes a default value: repr(), enum members as <Type.NAME: value>."""
    if is_enum_member(value):
        try:
            return ts.pybind_enum_text(type(value).__name__, value.name, int(value))[1]
        except Exception:  # an enum without __int__ fails in the enum checks; here it just differs
            return repr(value)
    return repr(value)


def overload_from_python(func):
    """Overload of a real module function written in Python (volume, nptype, ...)."""
    params = inspect.signature(func).parameters.values()
    return Overload(f"{func.__name__}{inspect.signature(func)}",
                    tuple(Param(p.name, None if p.default is EMPTY else canon(p.default)) for p in params))


# ---- matching a Python signature to overloads ----------------------------------------------

def _fmt(params):
    return "(" + ", ".join(str(p) for p in params) + ")"


def _problems(params, ov, exact):
    """Why `params` (reftrt's, without self) does not implement overload `ov`; [] if it does."""
    out = []
    positional = [p for p in params if p.kind in POSITIONAL]
    for i, want in enumerate(ov.params):
        if i >= len(positional):
            out.append(f"no positional parameter {i + 1} for '{want.name}'")
            break
        got = positional[i]
        if not want.unnamed and got.name != want.name:
            out.append(f"parameter {i + 1} is '{got.name}', TensorRT's is '{want.name}'")
        elif not want.unnamed and got.kind is inspect.Parameter.POSITIONAL_ONLY:
            out.append(f"'{got.name}' is positional-only, TensorRT also takes it by keyword")
        if want.default is not None:
            if got.default is EMPTY:
                out.append(f"'{got.name}' has no default, TensorRT's is {want.default}")
            elif canon(got.default) != want.default:
                out.append(f"default of '{got.name}' is {canon(got.default)}, TensorRT's is {want.default}")
        elif exact and got.default is not EMPTY:
            out.append(f"'{got.name}' has a default {canon(got.default)}, TensorRT requires it")
    extra = positional[len(ov.params):] + [p for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]
    for p in extra:
        if exact:
            out.append(f"parameter '{p.name}' is not TensorRT's")
        elif p.default is EMPTY:
            out.append(f"required parameter '{p.name}' is not TensorRT's")
    return out


def check_signature(label, params, overloads):
    """(failures, unimplemented overload texts) for a plain reftrt signature."""
    problems = {ov: _problems(params, ov, exact=False) for ov in overloads}
    implemented = [ov for ov in overloads if not problems[ov]]
    if not implemented:
        closest = min(overloads, key=lambda ov: len(problems[ov]))
        return [f"{label}{_fmt(params)} implements no TensorRT overload; closest "
                f"{closest.text}: {'; '.join(problems[closest])}"], []
    failures = []
    names = {q.name for ov in implemented for q in ov.params}
    free = {i for ov in implemented for i, q in enumerate(ov.params) if q.unnamed}
    for i, p in enumerate(params):
        if p.name not in names and not (i in free and p.kind in POSITIONAL):
            failures.append(f"{label}{_fmt(params)}: parameter '{p.name}' is in no overload it implements")
        elif p.default is not EMPTY and all(any(q.name == p.name and q.default is None for q in ov.params)
                                            for ov in implemented):
            failures.append(f"{label}{_fmt(params)}: '{p.name}' has a default {canon(p.default)}, "
                            f"TensorRT requires it")
    return failures, [ov.text for ov in overloads if ov not in implemented]


def _without_self(params):
    # getattr(cls, name) of a plain function or slot wrapper still takes self; f(*args) keeps all.
    return params[1:] if params and params[0].kind in POSITIONAL else params


def check_dispatcher(label, entries, overloads, drop_self):
    """(failures, unimplemented overload texts) for a *args method with __trt_overloads__."""
    failures, matched = [], set()
    for entry in entries:
        try:
            params = list(inspect.signature(entry).parameters.values())
            params = _without_self(params) if drop_self else params
        except (TypeError, ValueError) as e:
            failures.append(f"{label}.__trt_overloads__ entry {entry!r}: no signature ({e})")
            continue
        hits = [i for i, ov in enumerate(overloads) if not _problems(params, ov, exact=True)]
        free = [i for i in hits if i not in matched]
        if free:
            matched.add(free[0])
        elif hits:
            failures.append(f"{label}.__trt_overloads__ lists {_fmt(params)} twice")
        else:
            closest = min(overloads, key=lambda ov: len(_problems(params, ov, exact=True)))
            failures.append(f"{label}.__trt_overloads__ entry {_fmt(params)} is no TensorRT overload; closest "
                            f"{closest.text}: {'; '.join(_problems(params, closest, exact=True))}")
    return failures, [ov.text for i, ov in enumerate(overloads) if i not in matched]


# ---- the check ---------------------------------------------------------------------------

class Checker:
    def __init__(self, mod, manifest, real=None):
        self.mod, self.manifest, self.real = mod, manifest, real
        self.failures = {c: [] for c in CATEGORIES}
        self.missing, self.notes = [], []

    def fail(self, category, message):
        self.failures[category].append(message)

    def run(self):
        m = self.manifest
        found = getattr(self.mod, "__version__", None)
        if found != m["version"]:
            self.fail("version", f"reftrt.__version__ is {found!r}, the manifest's is {m['version']!r}")
        # `from __future__ import annotations` leaves a public name behind; it is no API.
        public = {n: o for n, o in vars(self.mod).items() if not n.startswith("_") and not inspect.ismodule(o)
                  and not isinstance(o, __future__._Feature)}
        for name, obj in sorted(public.items()):
            if ts.is_enum_type(obj):
                if name in m["enums"]:
                    self.check_enum(name, obj, name, m["enums"][name], getattr(self.real, name, None))
                else:
                    self.fail("names", f"enum {name} is not a TensorRT enum" + self._kind_hint(name))
            elif isinstance(obj, type):
                if name in m["classes"]:
                    self.check_class(name, obj)
                else:
                    self.fail("names", f"class {name} is not a TensorRT class" + self._kind_hint(name))
            elif callable(obj):
                self.check_function(name, obj)
            else:
                self.check_constant(name, obj)
        self.report_missing(public)
        return {"version": m["version"], "failures": self.failures, "missing": self.missing, "notes": self.notes}

    def _kind_hint(self, name):
        m = self.manifest
        for kind in ("classes", "enums", "functions"):
            if name in m[kind]:
                return f" (TensorRT's {name} is in {kind})"
        return ""

    # -- classes

    def lookup(self, cname, member):
        """("property"|"method", entry) where the manifest defines cname.member, else None."""
        classes = self.manifest["classes"]
        for owner in [cname] + classes[cname]["bases"]:
            entry = classes.get(owner)
            if entry and member in entry["properties"]:
                return "property", entry["properties"][member]
            if entry and member in entry["methods"]:
                return "method", entry["methods"][member]
        return None

    def check_class(self, name, cls):
        mc, classes = self.manifest["classes"][name], self.manifest["classes"]
        if cls.__name__ != name:
            self.fail("classes", f"{name} is a class named {cls.__name__!r}")
        for base in cls.__mro__[1:]:
            if getattr(self.mod, base.__name__, None) is base and base.__name__ not in mc["bases"]:
                self.fail("classes", f"{name} derives from {base.__name__}; TensorRT's does not")
        for base in mc["bases"]:
            ref_base = getattr(self.mod, base, None)
            if base in classes and isinstance(ref_base, type) and not issubclass(cls, ref_base):
                self.fail("classes", f"{name} does not derive from {base}; TensorRT's does")
        # Inherited members count as the class's own (a base such as bytes would add its methods to the API); only
        # object's are everyone's.
        def own(k):
            return any(k in vars(c) for c in cls.__mro__ if c is not object)
        public = sorted(k for k in dir(cls) if not k.startswith("_") and own(k))
        for k in public:
            if k not in mc["members"]:
                self.fail("members", f"{name}.{k} is not in TensorRT's {name}")
        absent = [k for k in mc["members"] if k not in public]
        if absent:
            self.missing.append(f"members of {name}: {', '.join(absent)}")
        dunders = [k for k in RECORDED_DUNDERS if own(k)]
        for k in [k for k in public if k in mc["members"]] + dunders:
            self.check_member(name, cls, k)
        if "__init__" not in dunders and own("__new__"):
            self.check_member(name, cls, "__init__", attr="__new__")  # the constructor is __new__

    def check_member(self, cname, cls, k, attr=None):
        """Check reftrt's cls.`attr` (default `k`) against the manifest's member `k`."""
        attr = attr or k
        label = f"{cname}.{attr}"
        static = inspect.getattr_static(cls, attr)
        found = self.lookup(cname, k)
        if k == "__init__" and (found is None or not found[1]["signatures"]):
            return  # TensorRT defines no constructor for it; reftrt's own is internal
        if found is None:
            if k.startswith("__"):
                self.fail("members", f"{label} is defined; TensorRT's {cname} has no {k}")
            elif callable(static) or isinstance(static, (property, staticmethod, classmethod)):
                self.fail("members", f"{label} is a method or property; in TensorRT it is a value")
            else:
                self.check_class_value(cname, k, getattr(cls, k))
            return
        kind, entry = found
        is_method = (isinstance(static, (staticmethod, classmethod))
                     or (callable(static) and not isinstance(static, type)))
        is_descriptor = isinstance(static, property) or hasattr(type(static), "__set__")
        if kind == "property":
            if is_method and not is_descriptor:
                self.fail("members", f"{label} is a method; TensorRT's is a property")
            elif is_descriptor:
                settable = static.fset is not None if isinstance(static, property) else True
                if settable != entry["settable"]:
                    self.fail("properties", f"{label} is {'settable' if settable else 'read-only'}; "
                                            f"TensorRT's is {'settable' if entry['settable'] else 'read-only'}")
        elif not entry["signatures"] and "Members:" in entry["doc"]:  # a nested enum
            if not ts.is_enum_type(static):
                self.fail("members", f"{label} is not an enum; TensorRT's is")
                return
            real_enum = getattr(getattr(self.real, cname, None), k, None)
            names = re.findall(r"^  (\w+) :", entry["doc"].split("Members:", 1)[-1], flags=re.M)
            self.check_enum(label, static, k, {n: None for n in names}, real_enum)
        elif is_descriptor or not is_method:
            self.fail("members", f"{label} is not a method; TensorRT's is")
        else:
            self.check_method(label, cls, attr, static, overloads_of(entry["signatures"], k))

    def check_method(self, label, cls, attr, static, overloads):
        if not overloads:
            self.notes.append(f"{label}: the manifest gives no signature to check")
            return
        # __new__ is a staticmethod that takes cls first
        drop_self = attr == "__new__" or not isinstance(static, (staticmethod, classmethod))
        func = static.__func__ if isinstance(static, (staticmethod, classmethod)) else static
        entries = getattr(func, "__trt_overloads__", None)
        if entries is not None:
            failures, unimplemented = check_dispatcher(label, entries, overloads, drop_self)
        else:
            try:
                params = list(inspect.signature(getattr(cls, attr)).parameters.values())
            except (TypeError, ValueError) as e:
                self.fail("signatures", f"{label}: no inspectable signature ({e})")
                return
            if drop_self:
                params = _without_self(params)
            if any(p.kind in VARIADIC for p in params):
                self.fail("signatures", f"{label}{_fmt(params)} takes *args/**kwargs without __trt_overloads__")
                return
            failures, unimplemented = check_signature(label, params, overloads)
        for f in failures:
            self.fail("signatures", f)
        for text in unimplemented:
            self.missing.append(f"overload of {label}: {text}")

    def check_class_value(self, cname, k, value):
        real_cls = getattr(self.real, cname, None)
        if real_cls is None:
            self.notes.append(f"{cname}.{k}: value unchecked (no real bindings)")
        elif not hasattr(real_cls, k):
            self.fail("members", f"{cname}.{k} is not in TensorRT's {cname}")
        elif canon(value) != canon(getattr(real_cls, k)):
            self.fail("members", f"{cname}.{k} is {canon(value)}; TensorRT's is "
                                 f"{canon(getattr(real_cls, k))}")

    # -- enums

    def check_enum(self, label, enum, type_name, expected, real_enum):
        """expected: {name: value, or None where only the name is known}."""
        compare_name = True
        if real_enum is not None:
            expected = {n: int(v) for n, v in real_enum.__members__.items()}
            # An alias's name is its value's first name; read from repr(), because
            # TensorRT 10.3's ErrorCode.name is a method.
            names = {n: [re.match(r"<\w+\.(\w+):", repr(v)).group(1)] for n, v in real_enum.__members__.items()}
            compare_name = all(isinstance(v.name, str) for v in real_enum.__members__.values())
            if not compare_name:
                self.notes.append(f"{label}: TensorRT's members have no .name string; not compared")
        else:
            by_value = {}
            for n, v in expected.items():
                by_value.setdefault(v, []).append(n)
            # Without the real module an alias may carry any name of its value.
            names = {n: by_value[v] if v is not None else [n] for n, v in expected.items()}
        if enum.__name__ != type_name:
            self.fail("enums", f"{label} is an enum named {enum.__name__!r}; TensorRT's is {type_name!r}")
        members = dict(enum.__members__)
        for n in expected:
            if n not in members:
                value = "" if expected[n] is None else f" = {expected[n]}"
                self.fail("enums", f"{label} lacks member {n}{value}")
        for n, member in members.items():
            if n not in expected:
                self.fail("enums", f"{label}.{n} is not a member of TensorRT's {type_name}")
                continue
            try:
                value = int(member)
            except Exception as e:
                self.fail("enums", f"int({label}.{n}) fails: {ts.short_exception(e)}")
                return  # the same for every member
            if expected[n] is not None and value != expected[n]:
                self.fail("enums", f"{label}.{n} is {value}; TensorRT's is {expected[n]}")
            name = getattr(member, "name", None)
            if compare_name and name not in names[n]:
                self.fail("enums", f"{label}.{n}.name is {name!r}; TensorRT's is {names[n][0]!r}")
                continue
            want_str, want_repr = ts.pybind_enum_text(type_name, name if name in names[n] else names[n][0], value)
            if str(member) != want_str:
                self.fail("enums", f"str({label}.{n}) is {str(member)!r}; TensorRT prints {want_str!r}")
            if repr(member) != want_repr:
                self.fail("enums", f"repr({label}.{n}) is {repr(member)!r}; TensorRT prints {want_repr!r}")

    # -- module functions and constants

    def check_function(self, name, func):
        if name not in self.manifest["functions"]:
            self.fail("names", f"function {name} is not a TensorRT function" + self._kind_hint(name))
            return
        overloads = overloads_of(signature_lines(name, self.manifest["functions"][name]), name)
        real_func = getattr(self.real, name, None)
        if not overloads and inspect.isfunction(real_func):
            overloads = [overload_from_python(real_func)]
        if not overloads:
            self.notes.append(f"{name}(): no signature to check" + ("" if self.real else " (no real bindings)"))
            return
        try:
            params = list(inspect.signature(func).parameters.values())
        except (TypeError, ValueError) as e:
            self.fail("functions", f"{name}: no inspectable signature ({e})")
            return
        if any(p.kind in VARIADIC for p in params) and getattr(func, "__trt_overloads__", None) is None:
            self.fail("functions", f"{name}{_fmt(params)} takes *args/**kwargs without __trt_overloads__")
            return
        if getattr(func, "__trt_overloads__", None) is not None:
            failures, unimplemented = check_dispatcher(name, func.__trt_overloads__, overloads, drop_self=False)
        else:
            failures, unimplemented = check_signature(name, params, overloads)
        self.failures["functions"] += failures
        self.missing += [f"overload of {name}: {t}" for t in unimplemented]

    def check_constant(self, name, value):
        if self.real is None:
            self.notes.append(f"constant {name}: unchecked (no real bindings)")
        elif name not in vars(self.real) or name in REAL_LEAKS:
            self.fail("constants", f"{name} = {canon(value)} is not in TensorRT")
        elif canon(value) != canon(getattr(self.real, name)):
            self.fail("constants", f"{name} is {canon(value)}; TensorRT's is "
                                   f"{canon(getattr(self.real, name))}")

    def report_missing(self, public):
        m = self.manifest
        for kind in ("classes", "enums", "functions"):
            absent = sorted(n for n in m[kind] if n not in public)
            if absent:
                self.missing.insert(0, f"{kind}: {', '.join(absent)}")
        if self.real is not None:
            absent = sorted(n for n, v in vars(self.real).items()
                            if not n.startswith("_") and n not in public and n not in REAL_LEAKS
                            and not callable(v) and not inspect.ismodule(v))
            if absent:
                self.missing.insert(0, f"constants: {', '.join(absent)}")


def check(mod, manifest, real=None):
    return Checker(mod, manifest, real).run()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--real", help="TensorRT version of the real bindings to consult (prepared already)")
    parser.add_argument("--module", default="reftrt", help="module under test (default reftrt)")
    args = parser.parse_args(argv)
    with open(args.manifest) as f:
        manifest = json.load(f)
    real = ts.trt_manifest_tool().stubbed_tensorrt(args.real) if args.real else None
    try:
        mod = __import__(args.module)
    except BaseException as e:
        result = {"import_error": f"import {args.module} failed: {ts.short_exception(e)}",
                  "traceback": traceback.format_exc()}
    else:
        result = check(mod, manifest, real)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())

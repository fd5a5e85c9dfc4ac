"""Helpers shared by the conformance tests and the scripts they run in child interpreters.

reftrt picks its emulated TensorRT version when it is imported, so every check of a version runs
in a child interpreter started with REFTRT_TRT_VERSION set; the child writes its findings as JSON.
"""
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MANIFEST_DIR = ROOT / "tests" / "data" / "trt_api"


def versions():
    """{"11.4": "11.4.0.106", "10.3": "10.3.0"}: REFTRT_TRT_VERSION value -> TensorRT release."""
    out = {}
    for path in sorted(MANIFEST_DIR.glob("trt-*.json")):
        full = path.name[len("trt-"):-len(".json")]
        out[".".join(full.split(".")[:2])] = full
    return out


def load_manifest(short):
    return json.loads((MANIFEST_DIR / f"trt-{versions()[short]}.json").read_text())


def trt_manifest_tool():
    """tools/trt_manifest.py as a module; tools/ is no package, and putting it on sys.path
    would let tools/build.py shadow PyPA's `build`."""
    name = "_trt_netdefs_tool_trt_manifest"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / "trt_manifest.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def run_child(script, short, *args, timeout=600):
    """Run tests/conformance/`script` with reftrt emulating `short`; return the JSON it writes."""
    env = dict(os.environ, REFTRT_TRT_VERSION=short,
               PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        res = subprocess.run([sys.executable, str(Path(__file__).with_name(script)), *args, "--out", str(out)],
                             env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        if res.returncode or not out.exists():
            tail = "\n".join((res.stderr or res.stdout).strip().splitlines()[-15:])
            raise RuntimeError(f"{script} for REFTRT_TRT_VERSION={short} exited with {res.returncode}:\n{tail}")
        return json.loads(out.read_text())


def short_exception(exc):
    """`Type: first line of the message`, for reports."""
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


def is_enum_type(obj):
    # The manifests' rule for an enum, which fits pybind11 enums and enum.Enum alike.
    return isinstance(obj, type) and hasattr(obj, "__members__")


def pybind_enum_text(type_name, member_name, value):
    """str() and repr() of a pybind11 enum member, e.g. DataType.FLOAT and <DataType.FLOAT: 0>."""
    return f"{type_name}.{member_name}", f"<{type_name}.{member_name}: {value}>"


def without_addresses(text):
    """A default repr without its module path and address: <Weights object>."""
    return re.sub(r"<(?:[\w.]+\.)?(\w+) object at 0x[0-9a-fA-F]+>", r"<\1 object>", text)

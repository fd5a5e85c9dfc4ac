"""Helpers for the math-family Cookbook tests (Activation, ElementWise, Unary, Reduce, SoftMax, TopK, MatrixMultiply,
Einsum, Cumulative, Normalization, Select, Identity, Cast, Constant), on top of the shared harness.

- `IS_10`, `api10`, `run_api10_tests(file)`: some Cookbook cases use the TensorRT 10 weak-typing API (BuilderFlag.FP16,
  ITensor.dtype setters, dynamic ranges, compute_precision), which the default emulated API (11.4) lacks. Those
  tests carry `@api10` and a name ending in `_api10`; under 11.4 they are skipped and `run_api10_tests(__file__)`
  runs them in a child interpreter with REFTRT_TRT_VERSION=10.3.
- `logged_attributes(case)`: the layer attributes the Cookbook's check_api_coverage printed.
- `assert_adapted(result, case, rename, dtypes)`: assert_case for cases whose layer names or output types differ by
  API version, with the log's names mapped and types overridden.
"""
import ast
import os
import subprocess
import sys

import pytest

import reftrt as trt
from tests.cookbook.harness import assert_case, compare_array
from tests.cookbook.logs import IOLine

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IS_10 = trt.__version__.startswith("10.")
api10 = pytest.mark.skipif(not IS_10, reason="TensorRT 10 API; run under REFTRT_TRT_VERSION=10.3 by the _api10 "
                                             "runner test")


# The test files with `_api10` tests. One child interpreter runs them all, once per session, for whichever file asks
# first: starting an interpreter (torch) costs more than the tests.
API10_FILES = ("tests/cookbook/test_cast.py", "tests/cookbook/test_identity.py", "tests/cookbook/test_normalization.py")
_api10_report = {}


def run_api10_tests(path):
    """Assert the `_api10` tests of test file `path` pass under the emulated TensorRT 10.3 API (child interpreter)."""
    if IS_10:
        pytest.skip("this interpreter already emulates TensorRT 10.3: the _api10 tests ran directly")
    rel = os.path.relpath(os.path.abspath(path), ROOT).replace(os.sep, "/")
    assert rel in API10_FILES, f"add {rel} to API10_FILES"
    if not _api10_report:
        env = dict(os.environ, REFTRT_TRT_VERSION="10.3")
        cmd = [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "-k", "api10 and not runner",
               *API10_FILES]
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        _api10_report["stdout"], _api10_report["stderr"] = proc.stdout, proc.stderr
    out = _api10_report["stdout"]
    lines = [line for line in out.splitlines() if f"{rel}::" in line and line.split(" ", 1)[0] in
             ("PASSED", "FAILED", "ERROR", "SKIPPED")]
    assert lines and all(line.startswith("PASSED") for line in lines), \
        f"the _api10 tests of {rel} under REFTRT_TRT_VERSION=10.3:\n{out[-6000:]}\n{_api10_report['stderr'][-2000:]}"


def logged_attributes(case):
    """The "Non-callable attributions" list check_api_coverage printed for the case's layer."""
    for line in case.text:
        if "Non-callable attributions:" in line:
            return ast.literal_eval(line.split(":", 1)[1].strip())
    raise KeyError(f"{case.name} printed no check_api_coverage report")


def layer_attributes(layer):
    """What check_api_coverage would list for `layer`: its class's public non-callable members beyond ILayer's."""
    base = set(dir(trt.ILayer))
    names = [n for n in dir(type(layer)) if not n.startswith("_") and n not in base]
    return sorted(n for n in names if not callable(getattr(layer, n)))


def expected_attributes(case, only_10=(), only_11=()):
    """The logged attribute list (TensorRT 10.16 has both APIs' members) for the emulated version."""
    drop = set(only_11) if IS_10 else set(only_10)
    return [n for n in logged_attributes(case) if n not in drop]


def assert_adapted(result, case, block=0, rename=None, dtypes=None, rtol=1e-5, atol=None):
    """assert_case with log tensor names mapped by `rename` (log name -> ours) and output types overridden by
    `dtypes` (our name -> "DataType.X"), for cases whose names or types differ under the emulated API."""
    rename, dtypes = rename or {}, dtypes or {}
    expected = case.blocks[block]
    want = []
    for line in expected.io:
        name = rename.get(line.name, line.name)
        want.append(str(IOLine(line.mode, dtypes.get(name, line.dtype), line.build_shape, line.runtime_shape, name)))
    got = [str(x) for x in result.io]
    assert result.built, result.explain()
    assert got == want, "I/O lines differ\n  got:\n    " + "\n    ".join(got) + "\n  want:\n    " + "\n    ".join(want)
    assert result.ran, result.error
    for name, printed in expected.arrays.items():
        compare_array(result[rename.get(name, name)], printed, rtol=rtol, atol=atol, where=f"{case.name}: {name}")


__all__ = ["IS_10", "api10", "run_api10_tests", "logged_attributes", "layer_attributes", "expected_attributes",
           "assert_adapted", "assert_case"]

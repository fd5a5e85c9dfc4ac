"""reftrt's public API against the manifests of real TensorRT, for every emulated version.

The rule is in trt_apicheck.py's docstring.  One child interpreter per version checks
everything; each test here asserts one category of its findings, so a failure lists all the
differences of that kind.  test_unimplemented reports what TensorRT has and reftrt lacks (see it
with `pytest -rA`, or set REFTRT_CONFORMANCE_REPORT=DIR to get DIR/reftrt-missing-<version>.txt),
and fails when something is missing that tests/data/reftrt_missing/ does not list: what reftrt
implemented must stay implemented. When reftrt implements more, regenerate those files with
REFTRT_CONFORMANCE_REPORT=tests/data/reftrt_missing.
"""
import os
from pathlib import Path

import pytest

import trt_support as ts
from trt_apicheck import CATEGORIES

VERSIONS = ts.versions()


@pytest.fixture
def report(real_bindings, child_results):
    def get(short):
        full, _ = real_bindings(short)  # without the bindings, the checks needing them are skipped
        args = ["--manifest", str(ts.MANIFEST_DIR / f"trt-{VERSIONS[short]}.json")]
        result = child_results("trt_apicheck.py", short, *args, *(["--real", full] if full else []))
        if "import_error" in result:
            pytest.fail(f"{result['import_error']}\n{result['traceback']}", pytrace=False)
        return result

    return get


@pytest.mark.parametrize("category", CATEGORIES)
@pytest.mark.parametrize("short", VERSIONS)
def test_api(report, short, category):
    failures = report(short)["failures"][category]
    if failures:
        pytest.fail(f"reftrt emulating TensorRT {VERSIONS[short]}, {len(failures)} difference(s) in {category}:\n  "
                    + "\n  ".join(failures), pytrace=False)


@pytest.mark.parametrize("short", VERSIONS)
def test_unimplemented(report, real_bindings, short):
    result = report(short)
    _, unavailable = real_bindings(short)
    lines = [f"TensorRT {VERSIONS[short]}: what reftrt does not implement yet (informational)"]
    lines += [f"  {line}" for line in result["missing"]] or ["  nothing"]
    notes = result["notes"] + ([unavailable] if unavailable else [])
    if notes:
        lines += ["not checked:"] + [f"  {note}" for note in notes]
    text = "\n".join(lines) + "\n"
    print(text)
    out_dir = os.environ.get("REFTRT_CONFORMANCE_REPORT")
    if out_dir:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        ts.trt_manifest_tool().write_atomic(Path(out_dir) / f"reftrt-missing-{VERSIONS[short]}.txt", text)
    known = _missing_items((BASELINE / f"reftrt-missing-{VERSIONS[short]}.txt").read_text().splitlines()[1:])
    regressed = sorted(_missing_items(lines[1:]) - known)
    assert not regressed, (f"reftrt emulating TensorRT {VERSIONS[short]} no longer implements: "
                           + "; ".join(f"{kind}: {name}" for kind, name in regressed))


BASELINE = Path(__file__).resolve().parents[1] / "data" / "reftrt_missing"


def _missing_items(lines):
    """{(kind, name)} of a report's "  kind: a, b, c" lines (an overload line is one item), up to "not checked:"."""
    items = set()
    for line in lines:
        if not line.startswith("  "):
            break
        if line.strip() == "nothing":
            continue
        kind, _, names = line.strip().partition(": ")
        if kind.startswith("overload of "):
            items.add((kind, names))
        else:
            items.update((kind, n) for n in names.split(", "))
    return items

"""tools/trt_manifest.py: the real bindings over stub libraries, and manifest regeneration."""
import subprocess
import sys

import pytest

import trt_support as ts

VERSIONS = ts.versions()
TOOL = ts.ROOT / "tools" / "trt_manifest.py"


@pytest.fixture
def real(real_bindings):
    def get(short):
        full, unavailable = real_bindings(short)
        if unavailable:
            pytest.skip(unavailable)
        return ts.trt_manifest_tool().stubbed_tensorrt(full)

    return get


@pytest.mark.parametrize("short", VERSIONS)
def test_stubbed_tensorrt_imports_in_process_without_shadowing(real, short):
    had_tensorrt = "tensorrt" in sys.modules
    trt = real(short)
    assert trt.__version__ == VERSIONS[short]
    assert trt.__name__ != "tensorrt" and ("tensorrt" in sys.modules) == had_tensorrt
    assert ts.trt_manifest_tool().stubbed_tensorrt(VERSIONS[short]) is trt
    assert trt.Dims([1, 2]) == (1, 2) and str(trt.DataType.FLOAT) == "DataType.FLOAT"


@pytest.mark.parametrize("short", VERSIONS)
def test_manifest_regenerates_the_checked_in_file(real_bindings, short):
    full, unavailable = real_bindings(short)
    if unavailable:
        pytest.skip(unavailable)
    assert ts.trt_manifest_tool().manifest_text(full) == (ts.MANIFEST_DIR / f"trt-{full}.json").read_text()


def test_cli_reports_a_bad_output_directory_in_one_line(tmp_path):
    res = subprocess.run([sys.executable, str(TOOL), "manifest", "10.3.0", "-o", str(tmp_path / "no" / "x.json")],
                         capture_output=True, text=True)
    assert res.returncode == 1
    assert res.stderr.startswith("trt_manifest.py: error:") and len(res.stderr.strip().splitlines()) == 1


def test_cli_stub_prints_an_importable_directory(real_bindings, tmp_path):
    full, unavailable = real_bindings("11.4")
    if unavailable:
        pytest.skip(unavailable)
    res = subprocess.run([sys.executable, str(TOOL), "stub", full], capture_output=True, text=True, check=True)
    site = res.stdout.strip()
    # A plain `import tensorrt`, in a fresh interpreter, finds the stubs through the RPATH.
    out = subprocess.run([sys.executable, "-c", "import tensorrt; print(tensorrt.__version__)"],
                         env={"PYTHONPATH": site, "PATH": "/usr/bin:/bin"}, cwd=tmp_path,
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == full

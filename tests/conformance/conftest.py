import pytest

import trt_support as ts


@pytest.fixture(scope="session")
def real_bindings():
    """short version -> (TensorRT version, None) once its stubbed bindings are prepared, or
    (None, reason) when the wheel cannot be downloaded.  Preparing here, once, keeps the child
    interpreters from racing to download."""
    tool, cache = ts.trt_manifest_tool(), {}

    def get(short):
        if short not in cache:
            full = ts.versions()[short]
            try:
                tool.prepare(full)
                cache[short] = (full, None)
            except tool.DownloadError as e:
                cache[short] = (None, f"real TensorRT {full} bindings unavailable: {e}")
        return cache[short]

    return get


@pytest.fixture(scope="session")
def child_results():
    """(script, short, args...) -> the JSON a child interpreter wrote, run once per session."""
    cache = {}

    def get(script, short, *args):
        key = (script, short, args)
        if key not in cache:
            try:
                cache[key] = ts.run_child(script, short, *args)
            except RuntimeError as e:
                cache[key] = e
        if isinstance(cache[key], RuntimeError):
            pytest.fail(str(cache[key]), pytrace=False)
        return cache[key]

    return get

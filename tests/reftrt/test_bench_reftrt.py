"""benchmarks/bench_reftrt.py runs (tiny configuration): the network builds, matches PyTorch, and the table prints."""
import importlib.util
import io
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _load():
    pytest.importorskip("torchvision")
    spec = importlib.util.spec_from_file_location("bench_reftrt", os.path.join(ROOT, "benchmarks", "bench_reftrt.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("bn", ["scale", "fold"])
def test_bench_reftrt_tiny(bn):
    bench = _load()
    out = io.StringIO()
    rows = bench.run("resnet18", batches=(1, 2), size=64, reps=1, warmup=0, bn_mode=bn, out=out)
    assert [r["batch"] for r in rows] == [1, 2]
    assert all(r["max_rel_err"] <= bench.TOLERANCE and r["torch_ms"] > 0 and r["reftrt_ms"] > 0 for r in rows)
    text = out.getvalue()
    assert "PyTorch eager ms" in text and "ratio" in text and len(text.splitlines()) == 6


def test_bench_reftrt_cli_arguments():
    bench = _load()
    with pytest.raises(SystemExit):
        bench.main(["--model", "vgg16"])

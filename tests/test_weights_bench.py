"""benchmarks/bench_weights.py runs end to end (at a small size: the numbers mean nothing here)."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_benchmark_runs_at_a_small_size(tmp_path):
    pytest.importorskip("torch")
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_weights.py"), "--params", "200000",
                        "--baseline-sample", "20000", "--repeat", "1", "--dir", str(tmp_path),
                        "--json", str(tmp_path / "r.json")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    for row in ("`.wts` write", "`.wts` read", "safetensors load + touch every page", "peak memory, `.pt` → `.wts`",
                "timed on 0.02M values, scaled"):
        assert row in r.stdout, row
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]  # temporary files removed

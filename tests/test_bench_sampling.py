"""bench/bench_sampling.py runs and prints both tables (T = 25, one repeat: the plumbing, not the numbers)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_bench_sampling_prints_its_tables(repo):
    pytest.importorskip("diffusers")
    done = subprocess.run([sys.executable, str(repo / "bench" / "bench_sampling.py"), "--T", "25", "--repeats", "1",
                           "--cpu-only"], cwd=repo, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "denormals flushed" in out
    assert "wall clock" in out and "process CPU time" in out
    assert out.count("2-D MLP (h128, d3)") == 2 and out.count("no-op (ε = 0), digits") == 2

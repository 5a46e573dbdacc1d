"""bench/gpu.sh in its CPU form (what CI can run): it prints its one table, says that the CUDA tests and every
CUDA row are skipped, exits 0, and exits non-zero when the "device" copy disagrees with the CPU."""

from __future__ import annotations

import os
import subprocess

import pytest

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}   # the CPU form


def _gpu_sh(repo, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(repo / "bench" / "gpu.sh"), *args], cwd=repo, env=ENV, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow
def test_gpu_sh_cpu_form_prints_the_table_and_skips_cuda(repo):
    done = _gpu_sh(repo)
    out = done.stdout
    assert done.returncode == 0, out[-4000:] + done.stderr[-4000:]
    assert "CUDA-parametrised tests: skipped (no CUDA device)" in out
    for section in ("agreement", "DDPM training", "Algorithm 2", "GAN training"):
        rows = [line for line in out.splitlines() if line.startswith(section)]
        ok_rows = [line for line in rows if " ok " in line]
        skipped = [line for line in rows if " skipped " in line]
        assert ok_rows and skipped, section
    for cuda_row in ("bf16 + torch.compile", "one step as a CUDA graph", "batch 16, bf16, channels_last"):
        assert all("skipped" in line for line in out.splitlines() if cuda_row in line), cuda_row
    assert "0 disagreements, 0 errors" in out and "CUDA rows skipped" in out


def test_gpu_sh_exits_non_zero_when_device_and_cpu_disagree(repo):
    done = _gpu_sh(repo, "--only", "agreement", "--fault", "mismatch")
    assert done.returncode != 0, done.stdout[-4000:]
    assert "FAILED: device and CPU disagree beyond tolerance" in done.stdout
    assert "FAIL" in done.stdout.split("FAILED")[0]          # the rows themselves say which check failed

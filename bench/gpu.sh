#!/usr/bin/env bash
# Everything a lent GPU must show, in one prepared run (≤ 5 minutes on one CUDA GPU):
#   1. the test suite's CUDA-parametrised tests (pytest -k cuda: every test using the `device` fixture, on CUDA);
#   2. bench/gpu_bench.py: one table — CUDA vs CPU agreement, DDPM training steps/s (fp32 / bf16, eager /
#      torch.compile), Algorithm 2 for T = 1000 (eager vs CUDA graphs vs the denoiser alone), full-size pix2pix
#      and CycleGAN iterations/s at 256×256 (batch 1 / 16, fp32 / bf16, NCHW / channels_last), peak GPU memory.
# Without CUDA it runs the CPU form (tiny shapes; CUDA tests and CUDA rows say "skipped"), which CI runs
# (tests/test_bench_gpu.py). Exit status: non-zero when a CUDA test fails, when CUDA and CPU disagree beyond
# tolerance, or when a bench row raised an error.
#
#   bash bench/gpu.sh                    # everything
#   bash bench/gpu.sh --no-compile       # arguments go to bench/gpu_bench.py
#   GPU_TESTS=0 bash bench/gpu.sh        # the table only
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
export COURSEKIT_PROGRESS=0
start=$(date +%s)

if "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    cuda=1
else
    cuda=0
fi

tests_rc=0
if [ "$cuda" = 1 ] && [ "${GPU_TESTS:-1}" != 0 ]; then
    echo "== CUDA-parametrised tests (pytest -k cuda) =="
    timeout "${GPU_TEST_TIMEOUT:-150}" "$PY" -m pytest -q -p no:cacheprovider -k cuda -o addopts= tests
    tests_rc=$?
    if [ "$tests_rc" = 5 ]; then
        echo "no CUDA-parametrised tests were collected"; tests_rc=1
    fi
elif [ "$cuda" = 0 ]; then
    echo "== CUDA-parametrised tests: skipped (no CUDA device) =="
else
    echo "== CUDA-parametrised tests: skipped (GPU_TESTS=0) =="
fi

echo "== bench/gpu_bench.py =="
"$PY" bench/gpu_bench.py "$@"
bench_rc=$?

echo "== bash bench/gpu.sh: CUDA tests rc=$tests_rc, bench rc=$bench_rc, $(( $(date +%s) - start )) s in all =="
if [ "$tests_rc" != 0 ] || [ "$bench_rc" != 0 ]; then
    exit 1
fi

#!/usr/bin/env bash
# Set up what is missing, then run every check: ruff and the whole pytest suite (unit tests, oracle
# tests, notebooks of both editions, the nbgrader pipelines, the browser tests), on COURSEKIT_TEST_WORKERS
# processes (default 2, one per core of the course's reference machine; 1 runs everything in one process).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check coursekit tests bench scripts
workers=${COURSEKIT_TEST_WORKERS:-2}
if [ "$workers" -gt 1 ]; then
    exec .venv/bin/python -m pytest -q -n "$workers" --dist loadgroup "$@"
fi
exec .venv/bin/python -m pytest -q "$@"

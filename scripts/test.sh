#!/usr/bin/env bash
# Set up what is missing, then run every check: ruff and the whole pytest suite (unit tests, oracle
# tests, notebooks of both editions, the nbgrader pipeline, the browser test).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check coursekit tests bench scripts
exec .venv/bin/python -m pytest -q "$@"

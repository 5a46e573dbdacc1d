#!/usr/bin/env bash
# Set up what is missing (the local JupyterHub's packages included), then run every check: ruff and the whole
# pytest suite (unit tests, oracle tests, notebooks of both editions, the nbgrader pipelines, the browser tests, a
# term on a local JupyterHub as root), on COURSEKIT_TEST_WORKERS processes (default 2, one per core of the
# course's reference machine; 1 runs everything in one process). The course
# site's test and the checks of the notebooks' executed copies (tests/test_claims.py, tests/test_zh_edition.py) run
# last, on the notebooks the first run executed (nothing is trained twice).
# The 25 slowest tests are listed at the end (where CI time goes). Extra arguments go to pytest (e.g. -k schedule).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --hub                 # with the local JupyterHub: tests/test_hub.py runs a term on it (as root)
# The Colab-like environment of the English notebooks' tests (tests/colab_env.py) is built meanwhile: pip mostly
# waits on the package registry, so a worker that built it when its first notebook came up sat idle meanwhile.
# The tests wait on its file lock, and build it themselves if this build failed.
colab_build=""
# whatever ends this script (a failed check included) waits for the build: no pip left running behind it
trap '[ -z "$colab_build" ] || wait "$colab_build" 2>/dev/null || true' EXIT
if [ "$#" -eq 0 ]; then                     # the whole suite (with arguments, a test that needs it builds it)
    .venv/bin/python tests/colab_env.py >/dev/null 2>"${TMPDIR:-/tmp}/coursekit-colab-env.log" &
    colab_build=$!
fi
.venv/bin/ruff check coursekit tests bench scripts site
workers=${COURSEKIT_TEST_WORKERS:-2}
parallel=()
[ "$workers" -gt 1 ] && parallel=(-n "$workers" --dist loadscope)
.venv/bin/python -m pytest -q "${parallel[@]}" -m "not site and not after_notebooks" --durations=25 "$@"
status=0
.venv/bin/python -m pytest -q -m "site or after_notebooks" "$@" || status=$?
[ "$status" -eq 5 ] && status=0          # no site test selected by the arguments
exit "$status"

#!/usr/bin/env bash
# Build the course site (both editions, figures from executed notebooks, math, API reference) into _build/site/,
# offline. Installs the site tools into .venv when missing (scripts/setup.sh first). Extra arguments go to
# scripts/site.py (e.g. --no-execute, --jobs N). A fresh clone has no executed copies (_build/executed/): every
# notebook of both editions is executed first, 2 at a time on 2 cores (about 15 CPU-minutes, some 8 minutes);
# the test suite leaves those copies behind, and a build that finds them current retrains nothing (about 35 CPU-s).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
if ! .venv/bin/python -c "import sphinx, myst_nb, sphinx_book_theme, importlib.util as u; assert u.find_spec('sphinx-mathjax-offline')" 2>/dev/null; then
    .venv/bin/python -m pip install -q -e ".[site]"
fi
exec .venv/bin/python scripts/site.py "$@"

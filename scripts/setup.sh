#!/usr/bin/env bash
# Set up everything the course needs, idempotently: a virtual environment in .venv with the pinned torch,
# coursekit (editable) and its dev tools, plus (as root, on Debian) Chromium and CJK fonts for the browser
# test and Chinese plot labels, and bubblewrap, the sandbox every graded submission runs in.
# Re-running it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
VPY=.venv/bin/python
# torch and torchvision: the pinned pair that installs from local wheels on this machine kind (x86_64)
if ! "$VPY" -c "import torch, torchvision" 2>/dev/null; then
    case "$(uname -m)" in
        aarch64) "$VPY" -m pip install -q "torch==2.9.1" "torchvision==0.24.1" ;;
        *)       "$VPY" -m pip install -q "torch==2.14.1" "torchvision==0.29.1" ;;
    esac
fi
# Checked from outside the checkout (here `import coursekit` would find the source folder even when it is not
# installed) and by its console script.
if [ ! -x .venv/bin/coursekit ] || ! (cd / && "$OLDPWD/$VPY" -c "import coursekit, nbgrader, nbval, diffusers, playwright, xdist, sphinx, myst_nb" \
        2>/dev/null); then
    "$VPY" -m pip install -q -e ".[dev]"
fi
# The local JupyterHub (scripts/hub.sh, tests/test_hub.py) only when asked: bash scripts/setup.sh --hub
if [ "${1:-}" = "--hub" ] && ! "$VPY" -c "import jupyterhub, configurable_http_proxy" 2>/dev/null; then
    "$VPY" -m pip install -q -e ".[dev,hub]"
fi
# System packages for the browser test, Chinese labels and the grading sandbox (skipped when not root or not
# Debian/Ubuntu).
need=""
command -v bwrap >/dev/null || need="$need bubblewrap"
[ -x /usr/bin/chromium ] || need="$need chromium"
compgen -G "/usr/share/fonts/opentype/noto/NotoSansCJK*" >/dev/null || need="$need fonts-noto-cjk"
if [ -n "$need" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing$need"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
    rm -rf "${MPLCONFIGDIR:-$HOME/.cache/matplotlib}"     # matplotlib rebuilds its font cache with the new fonts
elif [ -n "$need" ]; then
    echo "setup: missing$need (install them as root for the browser test, Chinese plot labels and sandboxed grading)" >&2
fi
# Autograding runs student code only inside bubblewrap; say now if it cannot work here (no user namespaces, ...).
if ! "$VPY" -c "import sys; from coursekit.grading import sandbox; why = sandbox.check(); why and print('setup: ' + why + '; nbgrader autograde will refuse to run student code here', file=sys.stderr)"; then
    echo "setup: could not check the grading sandbox" >&2
fi
# matplotlib's font list built once here: sandboxed kernels read it instead of rebuilding it (a slow rebuild
# warns on stderr, and stderr in a graded cell scores it zero)
"$VPY" -c "import matplotlib.font_manager" >/dev/null 2>&1 || true
echo "setup: ready ($("$VPY" -c 'import torch; print("torch", torch.__version__)'))"

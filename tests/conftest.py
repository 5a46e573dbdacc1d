"""Test isolation: Jupyter, IPython and matplotlib configuration live in a temp dir per session,
so the suite never reads or writes the user's configuration, and plots never need a display."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# One torch/OpenMP thread for the suite and every kernel or subprocess it starts: the course's models are small,
# and on a busy 2-core runner two threads were measured 20-100x slower than one (they spin waiting on each other).
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

_ROOT = Path(tempfile.mkdtemp(prefix="coursekit-tests-"))
for var, sub in [("JUPYTER_CONFIG_DIR", "jupyter-config"), ("JUPYTER_DATA_DIR", "jupyter-data"),
                 ("JUPYTER_RUNTIME_DIR", "jupyter-runtime"), ("IPYTHONDIR", "ipython"),
                 ("MPLCONFIGDIR", "matplotlib")]:
    os.environ[var] = str(_ROOT / sub)
    (_ROOT / sub).mkdir(parents=True, exist_ok=True)
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ["COURSEKIT_PROGRESS"] = "0"

REPO = Path(__file__).resolve().parent.parent
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    """Parametrises a test over every device present (CPU always, CUDA when available)."""
    return torch.device(request.param)


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def artifacts_dir() -> Path:
    """Where tests leave files a person may want to look at (screenshots, sample grids)."""
    path = REPO / "artifacts"
    path.mkdir(exist_ok=True)
    return path


def pytest_collection_modifyitems(config, items):
    """With pytest-xdist (``-n 2 --dist loadgroup``, as scripts/test.sh runs the suite): the tests of one module
    stay on one worker, so a module-scoped fixture (a graded nbgrader course, a trained model) is built once; the
    notebook executions are the exception, each its own group, so both cores run notebooks."""
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        module = item.module.__name__ if item.module else item.nodeid.split("::")[0]
        alone = item.get_closest_marker("notebooks") and item.originalname in ("test_notebook_runs",
                                                                              "test_notebook_runs_like_colab")
        item.add_marker(pytest.mark.xdist_group(item.nodeid if alone else module))

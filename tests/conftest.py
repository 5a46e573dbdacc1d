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


# Modules that read one shared fixture run on one worker, so it is built once: the DDPM class is graded once for
# the pipeline, the sandbox attacks and the fairness class (tests/fixtures/submissions/ddpm_class.py).
SHARED_SCOPES = {name: "ddpm-class" for name in ("test_nbgrader_pipeline.py", "test_sandbox_attacks.py",
                                                 "test_fairness_ddpm.py")}


@pytest.hookimpl(optionalhook=True)              # a hook of pytest-xdist: `-p no:xdist` must still work
def pytest_xdist_make_scheduler(config, log):
    """With pytest-xdist (``-n 2 --dist loadscope``, as scripts/test.sh runs the suite): a module's tests run on one
    worker, one after another, so a module-scoped fixture (a graded nbgrader course, a trained model) is built once;
    each notebook execution is a unit of its own, so both cores run notebooks.

    A scheduler rather than ``xdist_group`` marks: with pytest 9.2, xdist 3.8's loadgroup renames ``item._nodeid``,
    which pytest no longer reads, so every group was split across both workers and each module fixture was built
    twice (measured in CI: every fairness class graded twice, about 17 worker-minutes)."""
    from xdist.scheduler import LoadScopeScheduling

    class ByModule(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            name = nodeid.split("::")[-1]
            if name.startswith(("test_notebook_runs[", "test_notebook_runs_like_colab[")):
                return nodeid                                    # each notebook execution alone
            module = nodeid.split("::", 1)[0]
            return SHARED_SCOPES.get(module.rsplit("/", 1)[-1], module)   # otherwise the module (or its group)

    return ByModule(config, log)

"""Grading cannot fail silently (issue 24), on both grading paths.

The issue's scenario, reproduced: the course folder copied to a grading directory, ``coursekit/`` included, while
coursekit stays installed editable from the original clone. nbgrader runs with the copy on ``sys.path`` (it reads
nbgrader_config.py there), the kernel's interpreter imports the clone's coursekit: the sandbox used to show the
copy's, so every kernel failed its set-up cell and every part of every submission scored 0. Now

- the sandbox shows the coursekit the kernel's interpreter imports (asked of that interpreter), so the copy grades
  correctly — and a submission shipping its own ``coursekit/`` cannot shadow it;
- before grading, the instructor's solution is graded in the same sandbox: a set-up where it loses marks (here: a
  configuration that hides coursekit from the kernel) stops ``nbgrader autograde``, ``coursekit grade autograde``
  and nbgrader's API (what Formgrader's autograde button calls) with one line naming the cause, nothing graded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import course
import pytest

from coursekit.grading import preflight, sandbox

REPO = Path(__file__).resolve().parent.parent
ASSIGNMENT = "ddpm"
NO_SANDBOX = sandbox.check()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(NO_SANDBOX), reason=f"no sandbox here: {NO_SANDBOX}")]
HIDE_COURSEKIT = "\n# a grading set-up that breaks every kernel (as the copied folder used to)\n" \
                 "c.SandboxKernelManager.packages = []\n"


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    for key in (preflight.ENV, preflight.DONE_ENV, sandbox.UNSAFE_ENV):
        env.pop(key, None)
    return {**env, **extra}


def _copy_course(root: Path) -> Path:
    """What an instructor copies to grade in: the course folder with coursekit/ inside it."""
    root.mkdir(parents=True)
    shutil.copy2(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    shutil.copytree(REPO / "solutions" / ASSIGNMENT, root / "solutions" / ASSIGNMENT)
    shutil.copytree(REPO / "coursekit", root / "coursekit", ignore=shutil.ignore_patterns("__pycache__"))
    proc = course.nbgrader(root, "generate_assignment", ASSIGNMENT, "--force", env=_env())
    assert proc.returncode == 0, proc.stderr[-2000:]
    return root


@pytest.fixture(scope="module")
def copied(tmp_path_factory):
    root = _copy_course(tmp_path_factory.mktemp("copy") / "grading")
    full = course.answered(course.release(root, ASSIGNMENT), course.solution(root, ASSIGNMENT))
    course.submit(root, "reference", ASSIGNMENT, full)
    shadow = course.submit(root, "shadow", ASSIGNMENT, full)
    (shadow / "coursekit").mkdir()                        # a submission that ships its own coursekit
    (shadow / "coursekit" / "__init__.py").write_text("raise ImportError('a shadow copy of coursekit')\n")
    proc = course.autograde(root, ASSIGNMENT, env=_env())
    return root, proc


def test_the_copy_is_the_issues_scenario(copied):
    """In the copy, the grader's own import finds the copy's coursekit; the kernel's interpreter, asked from an
    empty folder, finds the installed one (the editable clone) — which is what the sandbox now shows."""
    root, _ = copied
    ask = "import importlib.util; print(list(importlib.util.find_spec('coursekit').submodule_search_locations)[0])"
    in_copy = subprocess.run([sys.executable, "-c", ask], cwd=root, capture_output=True, text=True).stdout.strip()
    assert Path(in_copy).resolve() == (root / "coursekit").resolve()
    kernel = sandbox.kernel_imports(sys.executable, os.environ.get("PYTHONPATH", ""), ("coursekit",),
                                    os.environ.get("PATH", ""))["packages"]["coursekit"]
    assert [Path(p).resolve() for p in kernel] != [(root / "coursekit").resolve()]
    shown = sandbox.python_paths(("coursekit",), sys.executable)
    assert any(Path(p).resolve() == Path(kernel[0]).resolve() for p in shown)
    assert not any(Path(p).resolve() == (root / "coursekit").resolve() for p in shown)


def test_nbgrader_autograde_in_the_copy_grades_correctly(copied):
    root, proc = copied
    scores = course.scores(root, ASSIGNMENT)
    assert scores["reference"]["total"] == 12, proc.stderr[-3000:]
    assert scores["shadow"]["total"] == 12, "the submitted coursekit/ shadowed the real one"
    cache = json.loads((root / ".coursekit" / "preflight" / f"{ASSIGNMENT}.json").read_text())
    assert cache["score"] == cache["max_score"] == 12


def test_coursekit_grade_autograde_in_the_copy_grades_correctly(copied):
    root, _ = copied
    proc = subprocess.run([sys.executable, "-m", "coursekit", "grade", "autograde", ASSIGNMENT, "--root", str(root),
                           "--student", "reference", "--workers", "1"], capture_output=True, text=True, env=_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert course.scores(root, ASSIGNMENT)["reference"]["total"] == 12


def test_the_preflight_is_cached_by_what_it_depends_on(copied, capsys, monkeypatch):
    root, _ = copied
    cache = root / ".coursekit" / "preflight" / f"{ASSIGNMENT}.json"
    before = cache.stat().st_mtime_ns
    proc = subprocess.run([sys.executable, "-m", "coursekit.grading.preflight", str(root), ASSIGNMENT],
                          capture_output=True, text=True, env=_env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == json.loads(cache.read_text())["digest"] and cache.stat().st_mtime_ns == before
    python = sys.executable
    key = preflight.digest(root, ASSIGNMENT, "solutions", python)
    config = root / "nbgrader_config.py"
    text = config.read_text()
    try:
        config.write_text(text + "\nc.SandboxKernelManager.memory_mb = 2048\n")
        assert preflight.digest(root, ASSIGNMENT, "solutions", python) != key
    finally:
        config.write_text(text)
    monkeypatch.setenv("COURSEKIT_TIMEOUT_SCALE", "0.5")
    assert preflight.digest(root, ASSIGNMENT, "solutions", python) != key
    monkeypatch.setenv(preflight.ENV, "0")
    assert preflight.skipped() and "preflight skipped" in capsys.readouterr().err


@pytest.fixture(scope="module")
def broken(copied, tmp_path_factory):
    """A copy whose configuration hides coursekit from every kernel: the solution cannot pass its set-up."""
    root, _ = copied
    bad = tmp_path_factory.mktemp("broken") / "grading"
    shutil.copytree(root, bad, ignore=shutil.ignore_patterns("autograded", ".coursekit", "feedback", "gradebook.db"))
    with open(bad / "nbgrader_config.py", "a", encoding="utf-8") as f:
        f.write(HIDE_COURSEKIT)
    proc = course.nbgrader(bad, "generate_assignment", ASSIGNMENT, "--force", env=_env())
    assert proc.returncode == 0, proc.stderr[-2000:]
    return bad


def _nothing_graded(root: Path) -> None:
    assert not (root / "autograded").exists()
    from nbgrader.api import Gradebook
    with Gradebook(course.grading._db_url(root)) as gb:
        assert gb.assignment_submissions(ASSIGNMENT) == []


def test_nbgrader_autograde_refuses_with_one_line(broken):
    proc = course.autograde(broken, ASSIGNMENT, env=_env())
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if "refusing" in line]
    assert len(lines) == 1, proc.stderr[-3000:]
    line = lines[0]
    assert line.startswith("nbgrader autograde: refusing to grade ddpm: the instructor's solution "
                           "(solutions/ddpm/ddpm.ipynb) scores 0 of 12 autograded points in the grading sandbox")
    assert "cell setup" in line and "ImportError" in line and "cannot import coursekit" in line
    _nothing_graded(broken)


def test_coursekit_grade_autograde_refuses_with_one_line(broken):
    proc = subprocess.run([sys.executable, "-m", "coursekit", "grade", "autograde", ASSIGNMENT, "--root",
                           str(broken)], capture_output=True, text=True, env=_env())
    assert proc.returncode == 1
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("coursekit grade: error: PreflightFailed: refusing to grade ddpm: "
                                               "the instructor's solution"), proc.stderr[-2000:]
    assert "cannot import coursekit" in err[0]
    _nothing_graded(broken)


NBGRADER_API = """
import json, sys
from nbgrader.apps.api import NbGraderAPI
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.server_extensions.formgrader.formgrader import FormgradeExtension
config = FormgradeExtension().load_config()      # as Formgrader loads nbgrader_config.py
coursedir = CourseDirectory(config=config, root=sys.argv[1])
api = NbGraderAPI(coursedir, Authenticator(coursedir=coursedir), config=config)
print(json.dumps(api.autograde(sys.argv[2], sys.argv[3])))
"""


def test_formgraders_autograde_route_refuses(broken):
    """Formgrader's autograde button calls NbGraderAPI.autograde: not the command line, so the configuration's
    command-line check never runs; the Preflight step of nbgrader's own pipeline refuses instead."""
    proc = subprocess.run([sys.executable, "-c", NBGRADER_API, str(broken), ASSIGNMENT, "reference"], cwd=broken,
                          capture_output=True, text=True, env=_env())
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["success"] is False
    assert "refusing to grade ddpm: the instructor's solution" in result.get("log", "") + result.get("error", "")
    assert not (broken / "autograded" / "reference" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").exists()
    # nbgrader keeps the zero entry it made before the refusal; the class report says why
    from coursekit.grading import report
    row = next(r for r in report.collect_class(broken, ASSIGNMENT).rows if r.student == "reference")
    assert row.status == "failed" and "PreflightFailed: refusing to grade ddpm" in row.failure

"""A throw-away copy of the course for the nbgrader tests of every assignment (pipeline, hostile and fairness
suites): generate the release, write submissions, autograde with the real ``nbgrader``, read scores from the
gradebook (never from exit codes).

    root = course.make_course(tmp_path, "pixelcnn")              # solutions/ copied, release generated
    release = course.release(root, "pixelcnn")                    # the student notebook (nbformat)
    nb = course.answer(release, {"mask": "def causal_mask(k, kind):\\n    ..."})   # fill answer cells by grade_id
    course.submit(root, "alice", "pixelcnn", nb)
    course.autograde(root, "pixelcnn")                           # `nbgrader autograde` (sequential)
    course.scores(root, "pixelcnn")["alice"]                     # {grade_id: score, ..., "total": score}
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from coursekit import grading

REPO = Path(__file__).resolve().parent.parent
TIMESTAMP = "2026-01-15 12:00:00.000000 UTC"


def nbgrader(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``nbgrader ARGS`` in ``root`` with this interpreter's bin folder on PATH (nbgrader calls ``alembic``)."""
    env = dict(os.environ if env is None else env)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, capture_output=True, text=True,
                          env=env)


def make_course(root: Path, assignment: str) -> Path:
    """A course folder with the real nbgrader_config.py, the assignment's source, and its generated release."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    shutil.copytree(REPO / "solutions" / assignment, root / "solutions" / assignment)
    proc = nbgrader(root, "generate_assignment", assignment, "--force")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root


def release(root: Path, assignment: str):
    return nbformat.read(Path(root) / "assignments" / assignment / f"{assignment}.ipynb", as_version=4)


def solution(root: Path, assignment: str):
    return nbformat.read(Path(root) / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)


def cell(nb, grade_id: str):
    """The cell with nbgrader grade_id ``grade_id`` (KeyError if there is none)."""
    for c in nb.cells:
        if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return c
    raise KeyError(grade_id)


def answer(nb, answers: dict[str, str]):
    """A copy of ``nb`` with the answer cells named in ``answers`` (grade_id → source) filled in."""
    nb = copy.deepcopy(nb)
    for grade_id, source in answers.items():
        target = cell(nb, grade_id)
        assert target.metadata["nbgrader"].get("solution"), f"{grade_id} is not an answer cell"
        target.source = source
    return nb


def answered(release_nb, solution_nb):
    """The release with every answer cell copied from the solution notebook (the reference student)."""
    nb = copy.deepcopy(release_nb)
    for c in nb.cells:
        meta = c.metadata.get("nbgrader", {})
        if meta.get("solution"):
            c.source = cell(solution_nb, meta["grade_id"]).source
    return nb


def submit(root: Path, student: str, assignment: str, nb) -> Path:
    dest = Path(root) / "submitted" / student / assignment
    dest.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dest / f"{assignment}.ipynb")
    (dest / "timestamp.txt").write_text(TIMESTAMP)
    return dest


def autograde(root: Path, assignment: str, *args: str,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``nbgrader autograde ASSIGNMENT`` for every submitted student (one after another, as the README says)."""
    return nbgrader(root, "autograde", assignment, "--force", *args, env=env)


def scores(root: Path, assignment: str) -> dict[str, dict[str, float]]:
    """{student: {grade_id: score, "total": score}} from the gradebook."""
    return grading.scores(root, assignment)

"""Hostile submissions against both grading paths: each kernel runs in the bubblewrap sandbox
(coursekit/grading/sandbox.py), so none of them can read, change or destroy the course.

The attacks (tests/fixtures/submissions/attacks.py) are graded with the rest of the DDPM class in one course copy
(tests/fixtures/submissions/ddpm_class.py), a correct student after every attack; one ``nbgrader autograde`` and one
``coursekit.grading.autograde_parallel`` (2 workers) regrade of the attacks. Asserted for each path: exact scores
(an attack scores what its answers deserve: 0 when blank), a hash of every course file outside the grader's own
output unchanged, the gradebook's hidden tests unchanged, no connection reached a listener on the host, no file
appeared in the package or the environment, no sandbox process left behind.

The attacks are real: ``test_the_attack_finds_the_solutions_without_the_sandbox`` runs the disk search of the
first attack as plain Python from a student's folder and it finds the instructor's solutions.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from coursekit.grading import sandbox

REPO = Path(__file__).resolve().parent.parent
ASSIGNMENT = "ddpm"
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(bool(sandbox.check()), reason=f"no sandbox here: {sandbox.check()}")]


sys.path.insert(0, str(Path(__file__).resolve().parent))
import course  # noqa: E402

CLASS = course.load_module(REPO / "tests/fixtures/submissions/ddpm_class.py", "ddpm_class")
ATTACKS = CLASS.attacks()
FINDER = ATTACKS.FINDER


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    """The DDPM class graded once (shared with the pipeline and fairness modules): what the attacks' part of it
    recorded, for each path."""
    shared = CLASS.graded(tmp_path_factory)
    students = set(shared["attacks"])
    assert students, "the sandbox works here, so the attacks must be in the class"
    only = lambda scores: {s: row for s, row in scores.items() if s in students}  # noqa: E731
    return dict(root=shared["root"], expected=shared["attacks"], proc=shared["proc"],
                sequential=only(shared["sequential"]), parallel=only(shared["parallel"]),
                before=shared["hashes_before"], after_sequential=shared["hashes_after_sequential"],
                after_parallel=shared["hashes_after_parallel"], leftovers=shared["leftovers_sequential"],
                leftovers_parallel=shared["leftovers_parallel"], connections=shared["connections_sequential"],
                seen=shared["seen"], total_connections=shared["connections_total"], planted=shared["planted"])


def _totals(scores):
    return {student: row["total"] for student, row in scores.items()}


def test_sequential_scores_are_exact(attacked):
    proc = attacked["proc"]
    assert _totals(attacked["sequential"]) == attacked["expected"], proc.stdout[-3000:] + proc.stderr[-3000:]


def test_parallel_scores_are_exact(attacked):
    assert set(attacked["parallel"]) == set(attacked["expected"])          # every attack went through both paths
    assert _totals(attacked["parallel"]) == attacked["expected"]
    assert attacked["parallel"] == attacked["sequential"]


def test_no_course_file_changed(attacked):
    before = attacked["before"]
    assert any(k.startswith("solutions/") for k in before) and any(k.startswith("submitted/") for k in before)
    assert attacked["after_sequential"] == before
    assert attacked["after_parallel"] == before


def test_nothing_planted_and_nothing_left_running(attacked):
    assert attacked["planted"] == [] and not ATTACKS.planted()
    assert attacked["leftovers"] == [] and attacked["leftovers_parallel"] == []
    assert ATTACKS.sandbox_processes(attacked["root"]) == []


def test_no_connection_left_the_sandbox(attacked):
    assert attacked["total_connections"] == 0


def test_what_the_attacks_saw(attacked):
    """The executed notebooks (of the sequential run) say why: nothing found, writes refused, limits held."""
    seen = attacked["seen"]
    assert "solutions found: []" in seen["read_solutions"]
    assert "overwrote" not in seen["overwrite"] and "could not overwrite" not in seen["overwrite"]
    assert "rewrote" not in seen["gradebook"]
    assert "connected to" not in seen["network"] and "no connection to 127.0.0.1" in seen["network"]
    # a kernel that ran out of memory may die (then nbgrader keeps no notebook): otherwise it says so
    assert seen["memory"] is None or ("memory limit held" in seen["memory"] and "ALLOCATED" not in seen["memory"])
    assert "WROTE" not in seen["write_outside"] and "could not write" in seen["write_outside"]


def test_the_attack_finds_the_solutions_without_the_sandbox(attacked):
    """Without the sandbox the first attack's search, run from a student's folder, finds the instructor's
    solutions (so the sandbox is what stops it)."""
    root = attacked["root"]
    code = FINDER + 'print(_find(lambda p: p.endswith("/solutions/ddpm/ddpm.ipynb")))'
    proc = subprocess.run([sys.executable, "-c", code], cwd=root / "submitted" / "read_solutions" / ASSIGNMENT,
                          capture_output=True, text=True, timeout=60)
    assert str(root / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb") in proc.stdout, proc.stderr

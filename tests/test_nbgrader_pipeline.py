"""The real nbgrader pipeline on the DDPM assignment: generate → submitted/<student>/ddpm → autograde →
gradebook, with hostile and broken submissions graded in one batch, then re-graded in parallel.

Scores are read from the gradebook (nbgrader.api.Gradebook), never from exit codes.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from coursekit import grading

REPO = Path(__file__).resolve().parent.parent
ASSIGNMENT = "ddpm"
pytestmark = pytest.mark.slow


def _load_cases():
    spec = importlib.util.spec_from_file_location("submission_cases", REPO / "tests/fixtures/submissions/make.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CASES = _load_cases()


def nbgrader(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, capture_output=True, text=True,
                          env=env)


def make_course(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    shutil.copytree(REPO / "solutions", root / "solutions")
    proc = nbgrader(root, "generate_assignment", ASSIGNMENT, "--force")
    assert proc.returncode == 0, proc.stderr
    return root


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One course, every case submitted, autograded once by `nbgrader autograde` (sequential)."""
    os.environ["COURSEKIT_TIMEOUT_SCALE"] = "0.5"        # the runaway cases stop sooner; still bounded
    root = make_course(tmp_path_factory.mktemp("course"))
    expected = CASES.write_cases(root)
    proc = nbgrader(root, "autograde", ASSIGNMENT)
    return root, expected, grading.scores(root, ASSIGNMENT), proc


def test_every_case_scores_exactly(graded):
    root, expected, scores, proc = graded
    assert set(scores) == set(expected), "every student of the batch is in the gradebook"
    totals = {student: row["total"] for student, row in scores.items()}
    assert totals == expected, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_which_parts_score(graded):
    _, _, scores, _ = graded
    parts = CASES.PARTS
    manual = {k: 0.0 for k in CASES.MANUAL}                         # part 7 waits for formgrader
    assert scores["reference"] == {**parts, **manual, "total": 12.0}
    assert all(v == 0 for v in scores["blank"].values())
    assert scores["wrong_visible"]["test_p_sample"] == 0            # passes the visible test, not the hidden one
    assert scores["edited_test"]["test_schedule"] == 0              # the test cell came back from the source
    assert scores["monkeypatch"]["test_schedule"] == 0              # patched allclose/assert_close do not help
    assert scores["monkeypatch_grader"]["test_schedule"] == 0       # nor a patched coursekit.grading
    assert scores["import_error"]["test_schedule"] == 0 and scores["import_error"]["test_q_sample"] == 2
    assert scores["infinite_loop"]["test_train_sample"] == 0        # the per-cell guard stopped it
    zero = lambda student: {k for k in parts if scores[student][k] == 0}  # noqa: E731  (autograded parts only)
    assert zero("top_level_loop") == {"test_p_sample", "test_train_sample"}
    assert zero("calls_reference") == {"test_schedule", "test_q_sample"}     # judged by what ran
    assert zero("fake_samples") == {"test_train_sample"}                     # it never called its model
    assert set(scores["deleted_cell"]) == set(parts) | set(manual) | {"total"}   # the deleted cell was graded


def test_the_crash_is_reported_and_others_still_graded(graded):
    _, _, scores, proc = graded
    assert "kernel_crash" in proc.stderr + proc.stdout            # nbgrader names the failed submission
    assert scores["kernel_crash"]["total"] == 0
    assert scores["reference"]["total"] == 12                       # the batch went on


def test_autograded_notebooks_are_clean(graded):
    root, _, _, _ = graded
    huge = root / "autograded" / "huge_output" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert huge.stat().st_size < 500_000, "LimitOutput cut the 20 MB output"
    nb = nbformat.read(root / "autograded" / "stderr_noise" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            assert not [o for o in cell.get("outputs", []) if o.get("name") == "stderr"], cell.source[:80]
    deleted = nbformat.read(root / "autograded" / "deleted_cell" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
                            as_version=4)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in deleted.cells]
    assert ids.count("test_loss") == 1


def test_the_stderr_defence_is_needed_and_regrading_is_stable(graded):
    """Without IgnorePattern the progress bar on stderr zeroes a correct training cell (nbgrader's trap is real);
    re-grading with the course config gives the first scores back."""
    root, _, sequential, _ = graded
    proc = nbgrader(root, "autograde", ASSIGNMENT, "--student", "stderr_noise", "--force",
                    "--IgnorePattern.enabled=False")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert grading.scores(root, ASSIGNMENT)["stderr_noise"]["test_train_sample"] == 0
    proc = nbgrader(root, "autograde", ASSIGNMENT, "--student", "stderr_noise", "--force")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert grading.scores(root, ASSIGNMENT) == sequential


def test_feedback_hides_the_hidden_tests(graded):
    root, _, _, _ = graded
    paths = grading.feedback(root, ASSIGNMENT, ["reference", "wrong_visible"])
    assert len(paths) == 2
    source = nbformat.read(root / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    hidden = [line for cell in source.cells for line in grading.block_lines(cell.source)]
    assert hidden
    for path in paths:
        html = path.read_text(encoding="utf-8")
        assert "visible tests passed" in html or "visible test" in html
        leaked = [h for h in hidden if h in html or h.replace('"', "&quot;") in html]
        assert not leaked, leaked[:3]
    wrong = (root / "feedback" / "wrong_visible" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text(encoding="utf-8")
    assert "AssertionError" in wrong                                 # the student still sees which part failed


PARALLEL_STUDENTS = ["reference", "wrong_visible", "kernel_crash", "stderr_noise"]


def test_parallel_regrade_matches_sequential(graded):
    """Regrade a few students in parallel (2 workers), the crash among them: their scores equal the sequential
    run's, and every other student's gradebook entries are untouched (nothing lost)."""
    root, expected, sequential, _ = graded
    before = sorted(p.name for p in (root / "autograded").iterdir())
    parallel = grading.autograde_parallel(root, ASSIGNMENT, students=PARALLEL_STUDENTS, workers=2)
    assert parallel == sequential
    assert set(parallel) == set(expected)
    assert sorted(p.name for p in (root / "autograded").iterdir()) == before
    assert not (root / ".parallel_executed").exists()
    with Gradebook(grading._db_url(root)) as gb:
        for student in expected:
            sub = gb.find_submission(ASSIGNMENT, student)
            assert len([g for nb in sub.notebooks for g in nb.grades]) == len(CASES.PARTS) + len(CASES.MANUAL), student


def test_export_has_every_student(graded):
    root, expected, sequential, _ = graded
    proc = nbgrader(root, "export", "--to", "grades.csv")
    assert proc.returncode == 0, proc.stderr
    rows = {r["student_id"]: r for r in csv.DictReader((root / "grades.csv").open(encoding="utf-8"))}
    assert {s: float(rows[s]["score"]) for s in expected} == expected


def test_nbgrader_feedback_would_leak(graded):
    """Why coursekit.grading.feedback exists: nbgrader's own feedback shows the hidden tests."""
    root, _, _, _ = graded
    proc = nbgrader(root, "generate_feedback", ASSIGNMENT, "--student", "blank", "--force")
    assert proc.returncode == 0, proc.stderr
    html = (root / "feedback" / "blank" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text(encoding="utf-8")
    assert "BEGIN HIDDEN TESTS" in html

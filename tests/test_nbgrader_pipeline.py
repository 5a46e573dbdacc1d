"""The real nbgrader pipeline on the DDPM assignment: generate → submitted/<student>/ddpm → autograde →
gradebook, with hostile and broken submissions graded in one batch, then re-graded in parallel.

The class is graded once for three modules (tests/fixtures/submissions/ddpm_class.py: these cases, the sandbox
attacks and the fairness class in one course copy and one ``nbgrader autograde``); this module's later commands
(a regrade, feedback, export) run in a copy of that course. Scores are read from the gradebook
(nbgrader.api.Gradebook), never from exit codes.
"""

from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

from coursekit import grading

REPO = Path(__file__).resolve().parent.parent
ASSIGNMENT = "ddpm"
pytestmark = pytest.mark.slow

sys.path.insert(0, str(Path(__file__).resolve().parent))
import course  # noqa: E402

CLASS = course.load_module(REPO / "tests/fixtures/submissions/ddpm_class.py", "ddpm_class")
CASES = CLASS.cases()


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """The graded DDPM class (shared with the attack and fairness modules)."""
    return CLASS.graded(tmp_path_factory)


@pytest.fixture(scope="module")
def graded(shared, tmp_path_factory):
    """(copy of the graded course for this module's own commands, expected totals, scores, autograde process)."""
    root = tmp_path_factory.mktemp("pipeline") / "course"
    shutil.copytree(shared["root"], root, symlinks=True)
    return root, shared["pipeline"], shared["sequential"], shared["proc"]


def test_every_case_scores_exactly(graded):
    root, expected, scores, proc = graded
    assert set(expected) <= set(scores), "every student of the batch is in the gradebook"
    totals = {student: scores[student]["total"] for student in expected}
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
    env = dict(course.os.environ, COURSEKIT_TIMEOUT_SCALE=CLASS.TIMEOUT_SCALE)
    proc = course.nbgrader(root, "autograde", ASSIGNMENT, "--student", "stderr_noise", "--force",
                           "--IgnorePattern.enabled=False", env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert grading.scores(root, ASSIGNMENT)["stderr_noise"]["test_train_sample"] == 0
    proc = course.nbgrader(root, "autograde", ASSIGNMENT, "--student", "stderr_noise", "--force", env=env)
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


def test_parallel_regrade_matches_sequential(shared):
    """A few students (the crash among them) and the attacks, regraded in parallel (2 workers) right after the
    sequential run: scores equal the sequential run's, and every other student's gradebook entries are untouched
    (nothing lost)."""
    assert set(CLASS.PIPELINE_PARALLEL) <= set(shared["parallel_students"])
    assert shared["parallel"] == shared["sequential"]
    assert shared["autograded_after_parallel"] == shared["autograded_before_parallel"]
    assert not shared["parallel_marker_left"]
    per_cell = len(CASES.PARTS) + len(CASES.MANUAL)
    assert set(shared["grades_per_student"]) == set(shared["sequential"])
    assert set(shared["grades_per_student"].values()) == {per_cell}


def test_export_has_every_student(graded):
    root, expected, _, _ = graded
    proc = course.nbgrader(root, "export", "--to", "grades.csv")
    assert proc.returncode == 0, proc.stderr
    rows = {r["student_id"]: r for r in csv.DictReader((root / "grades.csv").open(encoding="utf-8"))}
    assert {s: float(rows[s]["score"]) for s in expected} == expected


def test_the_grader_sees_the_rubric(graded):
    """Part 7 is a task worth 2 points that waits for the instructor; the notebook Formgrader opens shows its
    bilingual rubric with partial credit, the release does not."""
    root, _, _, _ = graded
    course.assert_rubric_for_the_grader(root, ASSIGNMENT, "posterior_answer", "reference", 2.0)


def test_nbgrader_feedback_would_leak(graded):
    """Why the course configures its own feedback: nbgrader's default feedback converter shows the hidden tests."""
    root, _, _, _ = graded
    defaults = '["nbgrader.preprocessors.GetGrades", "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor"]'
    proc = course.nbgrader(root, "generate_feedback", ASSIGNMENT, "--student", "blank", "--force",
                           f"--GenerateFeedback.preprocessors={defaults}")
    assert proc.returncode == 0, proc.stderr
    html = (root / "feedback" / "blank" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text(encoding="utf-8")
    assert "BEGIN HIDDEN TESTS" in html

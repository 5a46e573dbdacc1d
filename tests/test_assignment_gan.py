"""The GAN assignment as released: equals what nbgrader generates from solutions/, leaks nothing, is bilingual
and locked, its visible tests name the common mistakes, the solution passes every test and the blank release
fails every test. (Graded submissions, correct and wrong: tests/test_fairness_gan.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import course
import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
NAME = "gan"
SOURCE = REPO / "solutions" / NAME / f"{NAME}.ipynb"
RELEASE = REPO / "assignments" / NAME / f"{NAME}.ipynb"
PARTS = {"test_d_loss": 2, "test_g_loss": 2, "test_step": 2, "test_experiment_ring": 2}


generated = course.generated_course(NAME)


def test_release_equals_generation(generated):
    course.assert_release_is_generated(generated, "gan")


def test_release_leaks_nothing():
    source, _ = course.assert_release_hides_the_solution(NAME, ("5101", "5107", "_ref_step", "_Check"), 4,
                                                         min_secrets=40)
    written = course.cell(source, "written").source
    # the model answer stays with the instructor
    assert "D/(1 − D)" in written and written[20:80] not in RELEASE.read_text(encoding="utf-8")


def test_release_is_bilingual_and_locked():
    release = nbformat.read(RELEASE, as_version=4)
    markdown = [c.source for c in release.cells if c.cell_type == "markdown" and
                not c.metadata.get("nbgrader", {}).get("solution")]
    assert len(markdown) == 6
    for text in markdown:                                    # each instruction: a Chinese and an English paragraph
        paragraphs = [p for p in text.split("\n\n") if p.strip()]
        assert any(len(re.findall(r"[\u4e00-\u9fff]", p)) > 20 for p in paragraphs), text[:80]
        assert any(not re.search(r"[\u4e00-\u9fff]", p) and len(p) > 80 for p in paragraphs), text[:80]
    setup = release.cells[1]
    assert setup.metadata["nbgrader"]["grade_id"] == "setup" and setup.metadata["nbgrader"]["locked"]
    assert "COURSEKIT_PROGRESS" in setup.source and "filterwarnings" in setup.source
    tests = {c.metadata["nbgrader"]["grade_id"]: c for c in release.cells
             if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"}
    assert {k: c.metadata["nbgrader"]["points"] for k, c in tests.items()} == PARTS
    assert all(c.metadata["nbgrader"]["locked"] for c in tests.values())
    assert course.cell(release, "given_experiment").metadata["nbgrader"]["locked"]
    written = course.cell(release, "written")
    assert written.cell_type == "markdown" and written.metadata["nbgrader"]["points"] == 2   # manually graded
    assert written.metadata["nbgrader"]["solution"] and written.metadata["nbgrader"]["grade"]
    # the training test cell gets the long timeout (nbgrader_config: test_experiment_* / test_train_*)
    assert [k for k in tests if k.startswith(("test_experiment", "test_train"))] == ["test_experiment_ring"]


def test_visible_tests_name_the_common_mistakes():
    release = nbformat.read(RELEASE, as_version=4)
    text = "\n".join(c.source for c in release.cells if c.cell_type == "code")
    for hint in ("labels swapped", "fake term log(1 − D(G(z))) is missing", "sign: D minimises −V",
                 "sums instead of means", "one mean over both batches", "numerically unstable",
                 "saturating and non-saturating swapped", "detach G(z) in D's half",
                 "D's parameters changed during G's half", "expected one D step, then one G step"):
        assert hint in text, hint
    assert "COURSEKIT_GRADING" in course.cell(release, "test_experiment_ring").source   # the grader skips seed 0


@pytest.mark.slow
def test_solution_validates_and_blank_fails(generated):
    done = course.nbgrader(generated, "validate", f"solutions/{NAME}/{NAME}.ipynb")
    assert "Success! Your notebook passes all the tests." in done.stdout, done.stdout[-3000:] + done.stderr[-2000:]
    course.assert_blank_release_fails_every_test(generated, NAME)

"""The PixelCNN assignment as released: equals what nbgrader generates from solutions/, leaks nothing, is
bilingual and locked, the solution passes every test and the blank release fails every test."""

from __future__ import annotations

import re
from pathlib import Path

import course
import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
NAME = "pixelcnn"
SOURCE = REPO / "solutions" / NAME / f"{NAME}.ipynb"
RELEASE = REPO / "assignments" / NAME / f"{NAME}.ipynb"
PARTS = {"test_mask": 2, "test_masked_conv": 2, "test_bpd": 2, "test_sampling": 2, "test_experiment": 2}


generated = course.generated_course(NAME)


def test_release_equals_generation(generated):
    course.assert_release_is_generated(generated, "pixelcnn")


def test_release_leaks_nothing():
    source, _ = course.assert_release_hides_the_solution(NAME, ("4201", "4206", "Wilson", "_Spy"), 5, min_secrets=40)
    written = course.cell(source, "written").source
    # the model answer stays with the instructor
    assert "blind spot" in written and written[:40] not in RELEASE.read_text(encoding="utf-8")


def test_release_is_bilingual_and_locked():
    release = nbformat.read(RELEASE, as_version=4)
    markdown = [c.source for c in release.cells if c.cell_type == "markdown" and
                not c.metadata.get("nbgrader", {}).get("solution")]
    for text in markdown[1:]:                                # each part: a Chinese and an English paragraph
        paragraphs = [p for p in text.split("\n\n") if p.strip()]
        assert any(re.search(r"[\u4e00-\u9fff]{8}", p) and not re.search(r"[A-Za-z]{4} [a-z]+ [a-z]+ [a-z]+", p)
                   for p in paragraphs), text[:80]
        assert any(not re.search(r"[\u4e00-\u9fff]", p) and len(p) > 80 for p in paragraphs), text[:80]
    setup = release.cells[1]
    assert setup.metadata["nbgrader"]["grade_id"] == "setup" and setup.metadata["nbgrader"]["locked"]
    assert "COURSEKIT_PROGRESS" in setup.source and "filterwarnings" in setup.source
    tests = {c.metadata["nbgrader"]["grade_id"]: c for c in release.cells if c.metadata.get("nbgrader", {}).get("grade")
             and c.cell_type == "code"}
    assert {k: c.metadata["nbgrader"]["points"] for k, c in tests.items()} == PARTS
    assert all(c.metadata["nbgrader"]["locked"] for c in tests.values())
    written = course.cell(release, "written")
    assert written.cell_type == "markdown" and written.metadata["nbgrader"]["points"] == 2   # manually graded
    assert written.metadata["nbgrader"]["solution"] and written.metadata["nbgrader"]["grade"]
    # the training test cell gets the long timeout (nbgrader_config: test_experiment_* / test_train_*)
    assert [k for k in tests if k.startswith(("test_experiment", "test_train"))] == ["test_experiment"]


def test_visible_tests_name_the_common_mistakes():
    release = nbformat.read(RELEASE, as_version=4)
    text = "\n".join(c.source for c in release.cells if c.cell_type == "code")
    for hint in ("nats, not bits", "number of dimensions", "centre of a type-A mask", "apply it in forward",
                 "one model call per pixel", "raster order"):
        assert hint in text, hint


@pytest.mark.slow
def test_solution_validates_and_blank_fails(generated):
    done = course.nbgrader(generated, "validate", f"solutions/{NAME}/{NAME}.ipynb")
    assert "Success! Your notebook passes all the tests." in done.stdout, done.stdout[-3000:] + done.stderr[-2000:]
    done = course.nbgrader(generated, "validate", "--invert", f"assignments/{NAME}/{NAME}.ipynb")
    assert "Success! The notebook does not pass any tests." in done.stdout, done.stdout[-3000:] + done.stderr[-2000:]

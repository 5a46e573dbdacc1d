"""The `conditional` assignment as released: equals what nbgrader generates from solutions/, leaks nothing,
is bilingual and locked, and fails every test when blank. (Scores of the reference, the blank release and the
fairness class: tests/test_fairness_conditional.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import course
import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
NAME = "conditional"
SOURCE = REPO / "solutions" / NAME / f"{NAME}.ipynb"
RELEASE = REPO / "assignments" / NAME / f"{NAME}.ipynb"


generated = course.generated_course(NAME)


def test_release_equals_generation(generated):
    course.assert_release_is_generated(generated, "conditional")


def test_release_leaks_nothing():
    course.assert_release_hides_the_solution(NAME, ("6101", "6201", "6501", "6601", "median"), 6)


def test_release_is_bilingual_and_locked():
    release = nbformat.read(RELEASE, as_version=4)
    markdown = "\n".join(c.source for c in release.cells if c.cell_type == "markdown")
    for term in ("无分类器引导", "classifier-free guidance", "感受野", "receptive field", "循环一致性",
                 "cycle-consistency", "评分标准", "Pass criterion", "算法 2", "Algorithm 2", "实验", "Experiment",
                 "W_CHOICE", "新的种子", "fresh seed"):
        assert term in markdown, term
    for cell in release.cells:                      # instructions: a Chinese paragraph, then an English one
        if cell.cell_type != "markdown" or cell.metadata.get("nbgrader", {}).get("solution"):
            continue
        paragraphs = [p for p in cell.source.split("\n\n") if p.strip() and not p.startswith(("#", "|"))]
        chinese = [bool(re.search(r"[\u4e00-\u9fff]", p)) for p in paragraphs]
        assert chinese.count(True) == chinese.count(False) > 0, cell.source[:80]
        assert all(a and not b for a, b in zip(chinese[::2], chinese[1::2])), cell.source[:80]
    setup = release.cells[1]
    assert setup.metadata["nbgrader"]["grade_id"] == "setup" and setup.metadata["nbgrader"]["locked"]
    assert "COURSEKIT_PROGRESS" in setup.source and "filterwarnings" in setup.source
    tests = [c for c in release.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert [c.metadata["nbgrader"]["points"] for c in tests] == [2] * 7
    assert all(c.metadata["nbgrader"]["locked"] for c in tests if c.cell_type == "code")
    ids = [c.metadata["nbgrader"]["grade_id"] for c in tests if c.cell_type == "code"]
    assert all(i.startswith("test_") for i in ids)
    slow = [i for i in ids if i.startswith(("test_train", "test_experiment"))]
    assert slow == ["test_experiment_guidance"], \
        f"one experiment part (nbgrader_config.py's long timeout), every other test within the default 30 s: {slow}"


@pytest.mark.slow
def test_validate_invert_passes_on_release(generated):
    course.assert_blank_release_fails_every_test(generated, NAME)

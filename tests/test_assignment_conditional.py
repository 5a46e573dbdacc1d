"""The `conditional` assignment as released: equals what nbgrader generates from solutions/, leaks nothing,
is bilingual and locked, and fails every test when blank. (Scores of the reference, the blank release and the
fairness class: tests/test_fairness_conditional.py.)"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import course
import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
NAME = "conditional"
SOURCE = REPO / "solutions" / NAME / f"{NAME}.ipynb"
RELEASE = REPO / "assignments" / NAME / f"{NAME}.ipynb"


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gen")
    shutil.copy2(REPO / "nbgrader_config.py", root)
    shutil.copytree(REPO / "solutions" / NAME, root / "solutions" / NAME)
    proc = course.nbgrader(root, "generate_assignment", NAME, "--force")
    assert proc.returncode == 0, proc.stderr
    return root


def test_release_equals_generation(generated):
    course.assert_release_is_generated(generated, "conditional")


def test_release_leaks_nothing():
    source = nbformat.read(SOURCE, as_version=4)
    text = RELEASE.read_text(encoding="utf-8")
    secret = course.release_secrets(source)
    assert len(secret) > 30
    leaked = course.leaked(secret, text)
    assert not leaked, leaked[:5]
    for marker in ("BEGIN SOLUTION", "HIDDEN TESTS", "6101", "6201", "6501", "no_reference", "median"):
        assert marker not in text, marker
    release = nbformat.read(RELEASE, as_version=4)
    assert all(not c.get("outputs") for c in release.cells if c.cell_type == "code")
    answers = [c for c in release.cells if c.metadata.get("nbgrader", {}).get("solution")]
    code, written = [c for c in answers if c.cell_type == "code"], [c for c in answers if c.cell_type == "markdown"]
    assert len(code) == 5 and all("raise NotImplementedError()" in c.source for c in code)
    assert len(written) == 1 and written[0].source.strip() == "YOUR ANSWER HERE"


def test_release_is_bilingual_and_locked():
    release = nbformat.read(RELEASE, as_version=4)
    markdown = "\n".join(c.source for c in release.cells if c.cell_type == "markdown")
    for term in ("无分类器引导", "classifier-free guidance", "感受野", "receptive field", "循环一致性",
                 "cycle-consistency", "评分标准", "Pass criterion", "算法 2", "Algorithm 2"):
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
    assert [c.metadata["nbgrader"]["points"] for c in tests] == [2] * 6
    assert all(c.metadata["nbgrader"]["locked"] for c in tests if c.cell_type == "code")
    ids = [c.metadata["nbgrader"]["grade_id"] for c in tests if c.cell_type == "code"]
    assert all(i.startswith("test_") and not i.startswith(("test_train", "test_experiment")) for i in ids), \
        "every test cell of this assignment must run within the default 30 s"


@pytest.mark.slow
def test_validate_invert_passes_on_release(generated):
    proc = course.nbgrader(generated, "validate", "--invert", f"assignments/{NAME}/{NAME}.ipynb")
    assert "Success! The notebook does not pass any tests." in proc.stdout, proc.stdout + proc.stderr

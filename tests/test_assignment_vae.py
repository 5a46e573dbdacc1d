"""The VAE assignment as released: equal to what nbgrader generates from solutions/vae, leaking no solution or
hidden test, bilingual, locked, every test failing on the blank release (the pipeline and the fairness class are in
tests/test_fairness_vae.py)."""

from __future__ import annotations

import re
from pathlib import Path

import course
import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "solutions" / "vae" / "vae.ipynb"
RELEASE = REPO / "assignments" / "vae" / "vae.ipynb"
TESTS = ["test_reparameterize", "test_kl", "test_elbo", "test_train_step", "test_experiment_vae"]


generated = course.generated_course("vae")


def test_release_equals_generation(generated):
    course.assert_release_is_generated(generated, "vae")


def test_release_leaks_nothing():
    course.assert_release_hides_the_solution("vae", ("5101", "5301", "5501", "_ref_elbo"), 5, min_secrets=40)


def test_release_is_bilingual_and_locked():
    release = nbformat.read(RELEASE, as_version=4)
    markdown = "\n".join(c.source for c in release.cells if c.cell_type == "markdown")
    assert len(re.findall(r"[\u4e00-\u9fff]", markdown)) > 300 and "reparameterisation" in markdown
    setup = release.cells[1]
    assert setup.metadata["nbgrader"]["grade_id"] == "setup" and setup.metadata["nbgrader"]["locked"]
    assert "COURSEKIT_PROGRESS" in setup.source and "filterwarnings" in setup.source
    tests = [c for c in release.cells if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"]
    assert [c.metadata["nbgrader"]["grade_id"] for c in tests] == TESTS
    assert all(c.metadata["nbgrader"]["points"] == 2 and c.metadata["nbgrader"]["locked"] for c in tests)
    for cell in tests[:4]:                               # each visible test names the likely mistake in both languages
        assert re.search(r"[\u4e00-\u9fff].* / ", cell.source), cell.metadata["nbgrader"]["grade_id"]
    written = course.cell(release, "written")
    assert written.cell_type == "markdown" and written.metadata["nbgrader"]["points"] == 2


@pytest.mark.slow
def test_validate_invert_passes_on_release(generated):
    course.assert_blank_release_fails_every_test(generated, "vae")

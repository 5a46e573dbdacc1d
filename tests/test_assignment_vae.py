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


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    return course.make_course(tmp_path_factory.mktemp("gen_vae"), "vae")


def test_release_equals_generation(generated):
    course.assert_release_is_generated(generated, "vae")


def test_release_leaks_nothing():
    source = nbformat.read(SOURCE, as_version=4)
    text = RELEASE.read_text(encoding="utf-8")
    secret = course.release_secrets(source)
    assert len(secret) > 40
    leaked = course.leaked(secret, text)
    assert not leaked, leaked[:5]
    for marker in ("BEGIN SOLUTION", "HIDDEN TESTS", "5101", "5301", "5501", "no_reference", "_ref_elbo"):
        assert marker not in text
    release = nbformat.read(RELEASE, as_version=4)
    assert all(not c.get("outputs") for c in release.cells if c.cell_type == "code")
    answers = [c for c in release.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert len(answers) == 6
    assert all("raise NotImplementedError()" in c.source for c in answers if c.cell_type == "code")
    written = [c for c in answers if c.cell_type == "markdown"]
    assert len(written) == 1 and "YOUR ANSWER HERE" in written[0].source
    assert "E_q[log q(z) − log p(z)]" not in written[0].source and "free bits" not in written[0].source


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
    proc = course.nbgrader(generated, "validate", "--invert", "assignments/vae/vae.ipynb")
    assert "Success! The notebook does not pass any tests." in proc.stdout, proc.stdout + proc.stderr

"""The VAE assignment as released: leaking no solution, hidden test or rubric, bilingual, locked, stating its grading
rules, with test cells that keep their names to themselves and visible tests that name the mistake (the earlier part
at fault included). That the release equals what nbgrader generates and fails every test when blank is checked in
tests/test_fairness_vae.py, in the course copy its fairness class is graded in (one copy per assignment)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import course
import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "solutions" / "vae" / "vae.ipynb"
RELEASE = REPO / "assignments" / "vae" / "vae.ipynb"
TESTS = ["test_reparameterize", "test_kl", "test_elbo", "test_train_step", "test_experiment_vae"]


def test_release_leaks_nothing():
    source, _ = course.assert_release_hides_the_solution(
        "vae", ("5101", "5301", "5501", "_ref_elbo", "Rubric", "MARK SCHEME"), 5, min_secrets=40,
        written_task="written")
    scheme = course.cell(source, "written").source
    scheme = scheme[scheme.index("### BEGIN MARK SCHEME"):]         # the rubric and the model answer, instructors only
    assert "0.5" in scheme and "评分标准" in scheme and "Rubric" in scheme and "free bits" in scheme
    assert scheme[200:260] not in RELEASE.read_text(encoding="utf-8")


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
    assert written.metadata["nbgrader"]["task"] and written.metadata["nbgrader"]["locked"]


def test_release_states_the_grading_rules():
    """The top says, in both languages: the stderr rule, nbgrader_config.py's cell time limits, how the experiment
    is graded (one fresh seed, correct parts 1–4, the bar) with the measured pass rate of correct set-ups, and that
    the written part has a rubric with partial credit."""
    course.assert_top_states_the_grading_rules(
        "vae", ("新的种子", "−21 nats", "正确的第 1–4 部分", "通过", "部分分", "_tests"),
        ("fresh seed", "−21 nats", "correct parts 1–4", "passed", "partial credit", "_tests"))


def test_test_cells_bind_one_private_name():
    """Every test cell (visible and hidden tests) binds, at the top level, only the function _tests and calls it:
    no test variable can overwrite a student's name (issue: a student's helper `_kl` became a tensor)."""
    source = nbformat.read(SOURCE, as_version=4)
    for cell in source.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") not in TESTS:
            continue
        for node in ast.parse(cell.source).body:
            ok = (isinstance(node, ast.FunctionDef) and node.name == "_tests") or (
                isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
                and getattr(node.value.func, "id", None) == "_tests")
            assert ok, (cell.metadata["nbgrader"]["grade_id"], ast.dump(node)[:200])


@pytest.mark.slow
def test_visible_tests_leave_names_alone_and_name_the_mistake():
    """The release's visible tests, run as a student runs them: correct answers pass (helpers named like the old
    tests' variables survive), and the issue's mistakes get their own hint rather than a generic one."""
    helpers = {"kl": "def _kl(mu, logvar):\n    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0)\n\n\n"
                     "def gaussian_kl(mu, logvar):\n    return _kl(mu, logvar).sum(dim=1)\n",
               "elbo": "def _z(mu, logvar):\n    return reparameterize(mu, logvar)\n\n\n"
                       "def elbo(encoder, decoder, x):\n    mu, logvar = encoder(x)\n    _x = decoder(_z(mu, logvar))\n"
                       "    rec = -F.binary_cross_entropy_with_logits(_x, x, reduction='none').sum(1)\n"
                       "    return rec - _kl(mu, logvar).sum(1)\n"}
    assert set(course.visible_verdicts("vae", answers=helpers).values()) == {"ok"}
    cases = [  # (edit of the solution, test cell, text its message must contain)
        (("kl", ".sum(dim=1)", ".mean(dim=1)"), "test_kl", "averaged over the latent dimensions"),
        (("reparameterize", "torch.randn_like(mu)", "torch.randn(mu.shape[1])"), "test_reparameterize",
         "one ε shared by the whole batch"),
        (("train_step", "elbo(encoder, decoder, x).mean()", "elbo(encoder, decoder, x).mean() / 64"),
         "test_train_step", "divided by the 64 pixels"),
        (("elbo", "decoder(z)", "decoder(mu)"), "test_elbo", "not a sample"),
        (("elbo", "z = reparameterize(mu, logvar)", "z = mu + torch.exp(logvar) * torch.randn_like(mu)"),
         "test_elbo", "not exp(log σ²)"),
    ]
    for edit, test, hint in cases:
        verdicts = course.visible_verdicts("vae", [edit])
        assert hint in verdicts[test], (edit, verdicts[test])
        assert all(v == "ok" for k, v in verdicts.items() if k != test), (edit, verdicts)


@pytest.mark.slow
def test_visible_experiment_points_at_the_earlier_part():
    """When part 5 misses the target because part 4 is wrong, its visible test says to fix part 4 (it used to
    advise more steps and a larger learning rate)."""
    verdicts = course.visible_verdicts("vae", [("train_step", "    optimizer.zero_grad()\n", "")],
                                       env={"COURSEKIT_GRADING": "0"})
    assert "forgot optimizer.zero_grad()" in verdicts["test_train_step"]
    assert "fix part 4 first" in verdicts["test_experiment_vae"], verdicts["test_experiment_vae"]
    assert verdicts["test_kl"] == verdicts["test_elbo"] == "ok"

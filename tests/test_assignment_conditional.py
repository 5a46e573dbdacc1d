"""The `conditional` assignment as released: leaks no solution, hidden test or rubric, is bilingual and locked,
states its grading rules, keeps its test cells' names to themselves, and its visible tests name the mistake (the
earlier part at fault included). That the release equals what nbgrader generates and fails every test when blank is
checked in tests/test_fairness_conditional.py, in the course copy its fairness class is graded in (one copy per
assignment)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import course
import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
NAME = "conditional"
SOURCE = REPO / "solutions" / NAME / f"{NAME}.ipynb"
RELEASE = REPO / "assignments" / NAME / f"{NAME}.ipynb"


TESTS = ["test_guidance", "test_experiment_guidance", "test_pix2pix", "test_receptive", "test_outsize", "test_cyclegan"]


def test_release_leaks_nothing():
    source, _ = course.assert_release_hides_the_solution(
        NAME, ("6101", "6201", "6501", "6601", "median", "Rubric", "MARK SCHEME"), 6, written_task="blur_answer")
    scheme = course.cell(source, "blur_answer").source
    scheme = scheme[scheme.index("### BEGIN MARK SCHEME"):]         # the rubric and the model answer, instructors only
    assert "0.25" in scheme and "评分标准" in scheme and "Rubric" in scheme and "PatchGAN" in scheme
    assert scheme[200:260] not in RELEASE.read_text(encoding="utf-8")


def test_release_is_bilingual_and_locked():
    release = nbformat.read(RELEASE, as_version=4)
    markdown = "\n".join(c.source for c in release.cells if c.cell_type == "markdown")
    for term in ("无分类器引导", "classifier-free guidance", "感受野", "receptive field", "循环一致性",
                 "cycle-consistency", "评分标准", "Pass criterion", "算法 2", "Algorithm 2", "实验", "Experiment",
                 "W_CHOICE", "新的种子", "fresh seed"):
        assert term in markdown, term
    for cell in release.cells:                      # instructions: a Chinese paragraph, then an English one
        if cell.cell_type != "markdown" or cell.source.strip() == "YOUR ANSWER HERE":
            continue
        paragraphs = [p for p in cell.source.split("\n\n") if p.strip() and not p.startswith(("#", "|"))]
        chinese = [bool(re.search(r"[\u4e00-\u9fff]", p)) for p in paragraphs]
        assert chinese.count(True) == chinese.count(False) > 0, cell.source[:80]
        assert all(a and not b for a, b in zip(chinese[::2], chinese[1::2])), cell.source[:80]
    setup = release.cells[1]
    assert setup.metadata["nbgrader"]["grade_id"] == "setup" and setup.metadata["nbgrader"]["locked"]
    assert "COURSEKIT_PROGRESS" in setup.source and "filterwarnings" in setup.source
    tests = [c for c in release.cells if c.metadata.get("nbgrader", {}).get("grade")
             or c.metadata.get("nbgrader", {}).get("task")]
    assert [c.metadata["nbgrader"]["points"] for c in tests] == [2] * 7
    assert all(c.metadata["nbgrader"]["locked"] for c in tests if c.cell_type == "code")
    ids = [c.metadata["nbgrader"]["grade_id"] for c in tests if c.cell_type == "code"]
    assert all(i.startswith("test_") for i in ids)
    slow = [i for i in ids if i.startswith(("test_train", "test_experiment"))]
    assert slow == ["test_experiment_guidance"], \
        f"one experiment part (nbgrader_config.py's long timeout), every other test within the default 30 s: {slow}"


def test_release_states_the_grading_rules():
    """The top says, in both languages: the stderr rule, nbgrader_config.py's cell time limits, how the experiment
    is graded (one fresh seed, the bar) with the measured pass rate of correct loops, and that the written part has
    a rubric with partial credit."""
    course.assert_top_states_the_grading_rules(
        NAME, ("新的种子", "90 %", "30 %", "部分分", "_tests"),
        ("fresh seed", "90 %", "30 %", "partial credit", "_tests"))
    part2 = nbformat.read(RELEASE, as_version=4).cells[5].source
    for words in (("逐个数字", "平均置信度", "bench/bench_grading_bars_conditional.py"),
                  ("digit by digit", "mean confidence", "differently written correct loops")):
        for word in words:
            assert word in part2, word


def test_test_cells_bind_one_private_name():
    """Every test cell (visible and hidden tests) binds, at the top level, only the function _tests and calls it."""
    source = nbformat.read(SOURCE, as_version=4)
    for cell in source.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") not in TESTS:
            continue
        for node in ast.parse(cell.source).body:
            ok = (isinstance(node, ast.FunctionDef) and node.name == "_tests") or (
                isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
                and getattr(node.value.func, "id", None) == "_tests")
            assert ok, (cell.metadata["nbgrader"]["grade_id"], ast.dump(node)[:200])


def test_cyclegan_arguments_leave_functional_alone():
    """The stub's generators are G_XY and F_YX, so `F.l1_loss` inside it is torch.nn.functional (a parameter
    named F used to shadow it)."""
    stub = course.cell(nbformat.read(RELEASE, as_version=4), "cyclegan").source
    assert "def cyclegan_generator_objective(G_XY, F_YX, D_X, D_Y," in stub
    tree = ast.parse(stub.replace("raise NotImplementedError()", "pass"))
    names = [a.arg for a in tree.body[0].args.args]
    assert "F" not in names, names


@pytest.mark.slow
def test_visible_tests_name_the_mistake():
    """The release's visible tests, run as a student runs them: the issue's mistakes get their own hint."""
    cases = [  # (edit of the solution, test cell, text its message must contain)
        (("guidance", "eps = eps_null + w * (eps_cond - eps_null)", "eps = (1 + w) * eps_cond - w * eps_null"),
         "test_guidance", "(1 + w) ε_y − w ε_∅"),
        (("receptive", "for kernel, stride, _ in reversed(layers):", "for kernel, stride, _ in layers:"),
         "test_receptive", "walked forward"),
        (("cyclegan", "cycle = F.l1_loss(F_YX(fake_y), x) + F.l1_loss(G_XY(fake_x), y)",
          "cycle = F.l1_loss(F_YX(fake_y), x)"), "test_cyclegan", "only one direction of the cycle"),
        (("cyclegan", "adversarial = ((D_Y(fake_y) - 1) ** 2).mean() + ((D_X(fake_x) - 1) ** 2).mean()",
          "adversarial = ((D_Y(fake_y.detach()) - 1) ** 2).mean() + ((D_X(fake_x.detach()) - 1) ** 2).mean()"),
         "test_cyclegan", "detached"),
        (("pix2pix", "adversarial = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))",
          "adversarial = F.binary_cross_entropy_with_logits(logits.mean(), torch.tensor(1.0))"), "test_pix2pix",
         "averaged before the log"),
    ]
    for edit, test, hint in cases:
        verdicts = course.visible_verdicts(NAME, [edit])
        assert hint in verdicts[test], (edit, verdicts[test])
        assert all(v == "ok" for k, v in verdicts.items() if k != test), (edit, verdicts)


@pytest.mark.slow
def test_visible_experiment_points_at_part_1():
    """A guided_step that is wrong, or that raises, surfaces in part 2's visible run as "fix part 1 first", not
    as a low accuracy or a bare IndexError."""
    for edit in (("guidance", "eps = eps_null + w * (eps_cond - eps_null)",
                  "eps = eps_cond + w * (eps_null - eps_cond)"),
                 ("guidance", "beta = float(betas[t - 1])", "beta = float(betas[t])")):
        verdicts = course.visible_verdicts(NAME, [edit], env={"COURSEKIT_GRADING": "0"})
        assert "fix part 1 first" in verdicts["test_experiment_guidance"], (edit, verdicts["test_experiment_guidance"])

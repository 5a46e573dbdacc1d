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
    markers = ("5101", "5107", "5207", "5307", "correct_step", "Check")
    source, _ = course.assert_release_hides_the_solution(NAME, markers, 4, min_secrets=40, written_task="written")
    # the rubric and the model answer stay with the instructor (the mark scheme, which the release drops)
    course.assert_mark_scheme_stays_with_the_instructor(source, RELEASE, ("D/(1 − D)", "0.25"))


def test_release_is_bilingual_and_locked():
    release = nbformat.read(RELEASE, as_version=4)
    markdown = course.release_instructions(release)
    assert len(markdown) == 6
    for text in markdown:                                    # each instruction: a Chinese and an English paragraph
        paragraphs = [p for p in text.split("\n\n") if p.strip()]
        assert any(len(re.findall(r"[\u4e00-\u9fff]", p)) > 20 for p in paragraphs), text[:80]
        assert any(not re.search(r"[\u4e00-\u9fff]", p) and len(p) > 80 for p in paragraphs), text[:80]
    assert course.cell(release, "given_experiment").metadata["nbgrader"]["locked"]
    course.assert_release_is_locked(release, PARTS, ["test_experiment_ring"])


def test_visible_tests_name_the_common_mistakes():
    release = nbformat.read(RELEASE, as_version=4)
    text = "\n".join(c.source for c in release.cells if c.cell_type == "code")
    for hint in ("labels swapped", "fake term log(1 − D(G(z))) is missing", "sign: D minimises −V",
                 "sums instead of means", "one mean over both batches", "numerically unstable",
                 "saturating and non-saturating swapped", "detach G(z) in D's half",
                 "D's parameters changed during G's half", "expected one D step, then one G step",
                 "ε inside the log", "binary cross-entropy on probabilities", "call opt_g.zero_grad()",
                 "pass kind on to g_loss", "part 4 trains with your"):
        assert hint in text, hint
    assert "COURSEKIT_GRADING" in course.cell(release, "test_experiment_ring").source   # the grader skips seed 0


@pytest.mark.slow
def test_solution_validates_and_blank_fails(generated):
    done = course.nbgrader(generated, "validate", f"solutions/{NAME}/{NAME}.ipynb")
    assert "Success! Your notebook passes all the tests." in done.stdout, done.stdout[-3000:] + done.stderr[-2000:]
    course.assert_blank_release_fails_every_test(generated, NAME)


def test_top_states_the_grading_rules():
    """Both languages state, at the top: the stderr rule, the cell time limits nbgrader_config.py sets, how the
    experiment is graded (three fresh seeds, the bar, the measured pass rates) and the one name tests use."""
    course.assert_top_states_the_grading_rules(NAME, ("三个新的种子", "≥ 7", "≥ 50 %", "_tests", "40 个种子"),
                                               ("three fresh seeds", "≥ 7 modes", "≥ 50 %", "_tests", "40 seeds"))


def test_visible_tests_name_each_mistake_and_leave_the_students_names_alone():
    """Each known mistake reaches the student as a hint that names it (both languages), in its own part; and no
    test cell binds a name but _tests (course.visible_verdicts checks every cell)."""
    solution = course.solution(REPO, NAME)
    src = {g: course.cell(solution, g).source for g in ("d_loss", "g_loss", "train_step")}
    d_eps = ("d_loss", "return -(F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean())",
             "return -(torch.log(torch.sigmoid(real_logits) + 1e-8).mean()"
             " + torch.log(1 - torch.sigmoid(fake_logits) + 1e-8).mean())")
    d_bce = ("d_loss", "return -(F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean())",
             "return (F.binary_cross_entropy(torch.sigmoid(real_logits), torch.ones_like(real_logits))"
             " + F.binary_cross_entropy(torch.sigmoid(fake_logits), torch.zeros_like(fake_logits)))")
    g_bce = ("g_loss", "return F.logsigmoid(-fake_logits).mean()           # log(1 − D(G(z))) = log σ(−ℓ)",
             "return -F.binary_cross_entropy(torch.sigmoid(fake_logits), torch.zeros_like(fake_logits))")
    cases = {   # edits → (the part that fails, words its message must hold)
        "d ε in the log": ([d_eps], "test_d_loss", ("ε inside the log", "log 里加了 ε")),
        "d BCE on probabilities": ([d_bce], "test_d_loss", ("binary cross-entropy on probabilities", "二元交叉熵")),
        "g BCE on probabilities": ([g_bce], "test_g_loss", ("binary cross-entropy on probabilities", "二元交叉熵")),
        "no opt_g.zero_grad()": ([("train_step", "    opt_g.zero_grad()\n", "")], "test_step",
                                 ("opt_g.zero_grad()", "梯度会累加")),
        "no opt_d.zero_grad()": ([("train_step", "    opt_d.zero_grad()\n", "")], "test_step",
                                 ("opt_d.zero_grad()", "之前留下的梯度")),
        "kind not passed on": ([("train_step", "g_loss(D(fake), kind)", "g_loss(D(fake))")], "test_step",
                               ("pass kind on to g_loss", "kind 传给 g_loss")),
    }
    assert all(old in src[g] for edits, *_ in cases.values() for g, old, _ in edits)
    for case, (edits, part, words) in cases.items():
        verdicts = course.visible_verdicts(NAME, edits)
        failed = {p: v for p, v in verdicts.items() if v != "ok"}
        assert set(failed) == {part}, (case, failed)
        assert all(w in failed[part] for w in words), (case, failed[part])
    assert set(course.visible_verdicts(NAME).values()) == {"ok"}


@pytest.mark.slow
def test_a_part_3_bug_is_named_in_part_4():
    """A train_step that lets gradients accumulate fails part 4's visible run too: its message names part 3 as the
    part to fix (grading puts a correct step in its place, so only part 3 loses its points)."""
    verdicts = course.visible_verdicts(NAME, [("train_step", "    opt_g.zero_grad()\n", "")],
                                       env={"COURSEKIT_GRADING": "0"})
    assert verdicts["test_step"] != "ok"
    message = verdicts["test_experiment_ring"]
    assert "train_step (part 3 / 第 3 部分)" in message and "fix that first" in message, message

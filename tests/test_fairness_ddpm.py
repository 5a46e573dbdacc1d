"""The DDPM assignment is fair: correct submissions written independently of the reference, in other styles,
get every autograded point, and subtly wrong ones (one known bug each) lose exactly the parts their bug
belongs to. Graded by the real pipeline with the rest of the DDPM class: one course copy, one ``nbgrader
autograde`` call (tests/fixtures/submissions/ddpm_class.py; the submissions: ddpm_fairness.py there).

This is the test that catches a grader that zeroes a correct answer for how it imports coursekit, or that
gives full marks to a sampler that skips t = 1 or to training that draws t from 0..T−1.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ASSIGNMENT = "ddpm"
pytestmark = pytest.mark.slow


sys.path.insert(0, str(Path(__file__).resolve().parent))
import course  # noqa: E402

CLASS = course.load_module(REPO / "tests/fixtures/submissions/ddpm_class.py", "ddpm_class")
FAIR = CLASS.fairness()
PARTS = FAIR.PARTS


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    shared = CLASS.graded(tmp_path_factory)
    return shared["fairness"], shared["sequential"], shared["proc"], shared["root"]


def test_every_student_is_graded(graded):
    expected, scores, proc, _ = graded
    assert set(expected) <= set(scores), proc.stdout[-3000:] + proc.stderr[-3000:]
    print(f"\nfairness class: {len(expected)} students")
    for student in sorted(expected):
        print(f"{student:24s} " + " ".join(f"{p[5:]}={scores[student][p]:.0f}" for p in PARTS)
              + f"  total={scores[student]['total']:.0f}")


@pytest.mark.parametrize("student", sorted(FAIR.STYLES))
def test_correct_styles_get_every_point(graded, student):
    _, scores, _, root = graded
    lost = {p: scores[student][p] for p in PARTS if scores[student][p] != 2}
    assert not lost, f"{student} lost points: {lost}: {CLASS.errors(root, student, lost)}"


@pytest.mark.parametrize("student", sorted(FAIR.WRONG))
def test_each_bug_costs_exactly_its_parts(graded, student):
    expected, scores, _, root = graded
    zero, loose = expected[student]
    got = {p: scores[student][p] for p in PARTS if p not in loose}
    want = {p: (0 if p in zero else 2) for p in PARTS if p not in loose}
    assert got == want, (student, CLASS.errors(root, student, [p for p in got if got[p] != want[p]]))


@pytest.mark.parametrize("student, part, words", [
    ("loss_passes_t_minus_1", "test_train_sample", ("t − 1", "part 3", "第 3 部分")),
    ("sampler_without_noise", "test_train_sample", ("never adds noise", "z ~ N(0, I)", "从不加噪声")),
    ("sigma_missing", "test_train_sample", ("ignores z", "part 4", "第 4 部分")),
    ("guidance_8x8_only", "test_guidance", ("fails on (5, 7)", "任意 (B, 1, H, W)")),
    ("loss_summed_per_example", "test_loss", ("summed over each example", "每个样本内求和")),
])
def test_what_the_student_is_told(graded, student, part, words):
    """The message a failing part shows names the likely mistake in both languages, and the earlier part to look at
    when that is where the fault lies; no hidden input appears in it."""
    _, _, _, root = graded
    message = CLASS.errors(root, student, [part])[part]
    assert message != "no error shown", student
    assert all(w in message for w in words), message
    assert not re.search(r"\b41\d\d\b", message), message          # the hidden tests' seeds stay hidden

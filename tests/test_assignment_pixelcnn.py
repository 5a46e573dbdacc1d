"""The PixelCNN assignment as released: equals what nbgrader generates from solutions/, leaks nothing, is
bilingual and locked, the solution passes every test and the blank release fails every test."""

from __future__ import annotations

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
    markers = ("4201", "4206", "Wilson", "Spy", "CorrectMaskedConv2d", "correct_bits_per_dim")
    source, _ = course.assert_release_hides_the_solution(NAME, markers, 5, min_secrets=40, written_task="written")
    # the rubric and the model answer stay with the instructor (the mark scheme, which the release drops)
    course.assert_mark_scheme_stays_with_the_instructor(source, RELEASE, ("blind spot", "0.25"))


def test_release_is_bilingual_and_locked():
    release = nbformat.read(RELEASE, as_version=4)
    markdown = course.release_instructions(release)
    assert len(markdown) == 7
    course.assert_each_part_bilingual(markdown[1:])
    course.assert_release_is_locked(release, PARTS, ["test_experiment"])


def test_visible_tests_name_the_common_mistakes():
    release = nbformat.read(RELEASE, as_version=4)
    text = "\n".join(c.source for c in release.cells if c.cell_type == "code")
    for hint in ("nats, not bits", "number of dimensions", "centre of a type-A mask", "apply it in forward",
                 "one model call per pixel", "raster order", "only the pixel just left of the centre",
                 "only the row just above the centre", "another pixel's logits", "torch.multinomial",
                 "not an autoregressive model"):
        assert hint in text, hint


def test_top_states_the_grading_rules():
    """Both languages state, at the top: the stderr rule, the cell time limits nbgrader_config.py sets, that part 5
    is graded with correct earlier parts, how (a fresh seed, the bar, the measured pass rate), and the one name tests
    use."""
    course.assert_top_states_the_grading_rules(
        NAME, ("换成正确的实现", "新的种子", "≤ 2.2", "因果", "_tests", "个种子"),
        ("correct versions in place of", "fresh seed", "≤ 2.2", "causal", "_tests", "seeds"))


def test_visible_tests_name_each_mistake_and_leave_the_students_names_alone():
    """Each known mistake reaches the student as a hint that names it (both languages), in its own part, or in
    part 5 naming the earlier part; no test cell binds a name but _tests (course.visible_verdicts checks that)."""
    cases = {   # edits → (the parts that fail, words the first failing part's message must hold)
        "only the left neighbour": ([("mask", "mask[c, :c] = 1.0", "mask[c, c - 1] = 1.0")], {"test_mask"},
                                    ("only the pixel just left of the centre", "紧挨中心左边")),
        "one row above only": ([("mask", "mask[:c, :] = 1.0", "mask[c - 1, :] = 1.0")], {"test_mask"},
                               ("only the row just above the centre", "中心上面的一行")),
        "argmax": ([("sampling", "k = torch.multinomial(probs, 1, generator=generator)[:, 0]",
                     "k = probs.argmax(dim=1)")], {"test_sampling"}, ("torch.multinomial", "argmax")),
        "another pixel's logits": ([("sampling", "model(x)[:, :, r, c]", "model(x)[:, :, c, r]")], {"test_sampling"},
                                   ("another pixel's logits", "别的像素的 logits")),
        "sees its own pixel": ([("experiment", 'MaskedConv2d(1, hidden, 7, "A")', 'MaskedConv2d(1, hidden, 7, "B")')],
                               {"test_experiment"}, ("not an autoregressive model", "part 1", "第 1 部分")),
        "centre kept in A": ([("mask", '    if mask_type == "B":\n        mask[c, c] = 1.0', '    mask[c, c] = 1.0')],
                             {"test_mask", "test_experiment"}, ("centre of a type-A mask", "中心必须为 0")),
    }
    for case, (edits, parts, words) in cases.items():     # as in Colab: the visible part-5 run included
        verdicts = course.visible_verdicts(NAME, edits, env={"COURSEKIT_GRADING": "0"})
        failed = {p: v for p, v in verdicts.items() if v != "ok"}
        assert set(failed) == parts, (case, failed)
        first = failed[min(parts, key=list(PARTS).index)]
        assert all(w in first for w in words), (case, first)
    assert set(course.visible_verdicts(NAME, env={"COURSEKIT_GRADING": "0"}).values()) == {"ok"}
    assert set(course.visible_verdicts(NAME).values()) == {"ok"}          # as when grading: stand-ins for parts 1–3


@pytest.mark.slow
def test_solution_validates_and_blank_fails(generated):
    done = course.nbgrader(generated, "validate", f"solutions/{NAME}/{NAME}.ipynb")
    assert "Success! Your notebook passes all the tests." in done.stdout, done.stdout[-3000:] + done.stderr[-2000:]
    done = course.nbgrader(generated, "validate", "--invert", f"assignments/{NAME}/{NAME}.ipynb")
    assert "Success! The notebook does not pass any tests." in done.stdout, done.stdout[-3000:] + done.stderr[-2000:]

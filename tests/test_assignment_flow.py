"""The flow assignment (DDIM and flow matching) as released: equals what nbgrader generates from solutions/, leaks
nothing, is bilingual and locked, the visible tests name the likely mistakes, the solution passes every test and the
blank release fails every test."""

from __future__ import annotations

from pathlib import Path

import course
import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
NAME = "flow"
SOURCE = REPO / "solutions" / NAME / f"{NAME}.ipynb"
RELEASE = REPO / "assignments" / NAME / f"{NAME}.ipynb"
PARTS = {"test_ddim": 2, "test_loss": 2, "test_euler": 2, "test_experiment": 2}


generated = course.generated_course(NAME)


def test_release_equals_generation(generated):
    course.assert_release_is_generated(generated, NAME)


def test_release_leaks_nothing():
    markers = ("4301", "4302", "4303", "4307", "correct_ddim_step", "correct_euler", "ref_flow", "ref_ddim")
    source, _ = course.assert_release_hides_the_solution(NAME, markers, 4, min_secrets=40, written_task="written")
    # the rubric and the model answer stay with the instructor (the mark scheme, which the release drops)
    course.assert_mark_scheme_stays_with_the_instructor(source, RELEASE, ("Euler", "0.5"))


def test_release_is_bilingual_and_locked():
    release = nbformat.read(RELEASE, as_version=4)
    markdown = course.release_instructions(release)
    assert len(markdown) == 6
    course.assert_each_part_bilingual(markdown[1:])
    course.assert_release_is_locked(release, PARTS, ["test_experiment"])


def test_visible_tests_name_the_common_mistakes():
    release = nbformat.read(RELEASE, as_version=4)
    text = "\n".join(c.source for c in release.cells if c.cell_type == "code")
    for hint in ("off-by-one t", "ᾱ_{t−1} used for the target", "ᾱ_0 = 1", "the sign of the velocity",
                 "the path runs the wrong way", "not a step", "the loop runs the wrong way", "not the step index",
                 "the step goes the wrong way", "percentages (0–100)", "t 差了一", "用成了 ᾱ_{t−1}", "速度的符号写反了",
                 "循环方向反了", "不是步编号"):
        assert hint in text, hint


def test_top_states_the_grading_rules():
    """Both languages state, at the top: the stderr rule, the cell time limits nbgrader_config.py sets, that part 4
    is graded with correct earlier parts, how (a fresh seed, the bar, the measured pass rate), and the one name tests
    use."""
    course.assert_top_states_the_grading_rules(
        NAME, ("换成正确的实现", "新的种子", "8 个百分点", "30/30", "_tests", "个种子"),
        ("correct versions in place of", "fresh seed", "8 percentage points", "30 of 30", "_tests", "seeds"))


def test_visible_tests_name_each_mistake_and_leave_the_students_names_alone():
    """Each known mistake reaches the student as a hint that names it (both languages), in its own part; a part-1
    bug in the experiment's visible run (as in Colab) sends the student to part 1; no test cell binds a name but
    _tests (course.visible_verdicts checks that). One bug in each of parts 1–3 per run (the parts are independent)."""
    runs = [   # {answer grade_id: (old, new, the failing part's words)}
        {"ddim": ("    a_t = alpha_bars[t - 1]\n    a_prev = alpha_bars[t_prev - 1]",
                  "    a_t = alpha_bars[t]\n    a_prev = alpha_bars[t_prev]", ("off-by-one t", "t 差了一")),
         "loss": ("(noise - x0)) ** 2", "(x0 - noise)) ** 2", ("the sign of the velocity", "速度的符号写反了")),
         "euler": ("for i in range(steps, 0, -1):", "for i in range(1, steps + 1):",
                   ("the loop runs the wrong way", "循环方向反了"))},
        {"ddim": ("a_prev = alpha_bars[t_prev - 1] if t_prev > 0", "a_prev = alpha_bars[t - 2] if t > 1",
                  ("ᾱ_{t−1} used for the target", "用成了 ᾱ_{t−1}")),
         "loss": ("t = torch.rand(batch)", "t = torch.randint(1, 1000, (batch,)).float()",
                  ("not a step", "不是 randint(1, T)")),
         "euler": ("torch.full((x.shape[0],), t)", "torch.full((x.shape[0],), float(i))",
                   ("not the step index", "不是步编号"))},
        {"ddim": (" if t_prev > 0 else torch.ones((), dtype=alpha_bars.dtype)", "", ("ᾱ_0 = 1", "alpha_bars[-1]")),
         "loss": ("(noise - x0)) ** 2).mean()", "(noise - x0)) ** 2).sum()", ("summed instead of averaged", "求和")),
         "euler": ("x = x + (t_next - t) * v", "x = x + (t - t_next) * v",
                   ("the step goes the wrong way", "步的方向反了"))},
    ]
    parts = {"ddim": "test_ddim", "loss": "test_loss", "euler": "test_euler"}
    for edits in runs:
        verdicts = course.visible_verdicts(NAME, [(gid, old, new) for gid, (old, new, _) in edits.items()])
        for gid, (_, _, words) in edits.items():
            message = verdicts[parts[gid]]
            assert message != "ok" and all(w in message for w in words), (gid, message)
        assert verdicts["test_experiment"] == "ok", verdicts          # graded with coursekit's parts 1 and 3
    # as in Colab: the visible experiment runs the student's own part 1 and says where to look
    verdicts = course.visible_verdicts(NAME, [("ddim", "a_prev = alpha_bars[t_prev - 1] if t_prev > 0",
                                               "a_prev = alpha_bars[t - 2] if t > 1")],
                                       env={"COURSEKIT_GRADING": "0"})
    assert {p for p, v in verdicts.items() if v != "ok"} == {"test_ddim", "test_experiment"}, verdicts
    assert all(w in verdicts["test_experiment"] for w in ("part 1", "第 1 部分")), verdicts["test_experiment"]
    assert set(course.visible_verdicts(NAME, env={"COURSEKIT_GRADING": "0"}).values()) == {"ok"}


@pytest.mark.slow
def test_solution_validates_and_blank_fails(generated):
    done = course.nbgrader(generated, "validate", f"solutions/{NAME}/{NAME}.ipynb")
    assert "Success! Your notebook passes all the tests." in done.stdout, done.stdout[-3000:] + done.stderr[-2000:]
    done = course.nbgrader(generated, "validate", "--invert", f"assignments/{NAME}/{NAME}.ipynb")
    assert "Success! The notebook does not pass any tests." in done.stdout, done.stdout[-3000:] + done.stderr[-2000:]

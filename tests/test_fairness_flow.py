"""Fairness of the flow assignment (DDIM and flow matching), graded by the real nbgrader pipeline (one course, one
`nbgrader autograde` call for every submission): the reference scores full marks on every autograded part, the blank
release 0, correct submissions written independently in other styles lose nothing, and each subtly wrong submission
loses exactly the part its bug breaks; so do submissions that call the reference for the part itself or replace a
test cell (nbgrader restores it).

Parts (2 points each): test_ddim, test_loss, test_euler, test_experiment; the written answer (grade_id "written",
2 points, an nbgrader task with its rubric) is graded by hand in formgrader and scores 0 until then.
"""

from __future__ import annotations

import re
import time

import course
import pytest

NAME = "flow"
PARTS = ("test_ddim", "test_loss", "test_euler", "test_experiment")
pytestmark = pytest.mark.slow

# --------------------------------------------------------------------------------------------------------------
# Correct submissions, written independently of the reference in other styles
# --------------------------------------------------------------------------------------------------------------

NUMPY = {   # numpy coefficients (ᾱ_0 = 1 prepended), torch.lerp and F.mse_loss, np.linspace grids
    "ddim": '''
import numpy as np

def ddim_step(alpha_bars, x_t, t, t_prev, eps):
    ab = np.concatenate([[1.0], alpha_bars.double().numpy()])      # ab[k] = ᾱ_k
    a, b = ab[t], ab[t_prev]
    x0 = (x_t.double().numpy() - np.sqrt(1 - a) * eps.double().numpy()) / np.sqrt(a)
    out = np.sqrt(b) * x0 + np.sqrt(1 - b) * eps.double().numpy()
    return torch.from_numpy(out).to(x_t.dtype)
''',
    "loss": '''
import torch.nn.functional as F

def flow_matching_loss(model, x0, t=None, noise=None):
    n = len(x0)
    t = torch.rand(n) if t is None else t
    noise = torch.randn(x0.shape) if noise is None else noise
    xt = torch.lerp(x0, noise, t[:, None])
    return F.mse_loss(model(xt, t), noise - x0)
''',
    "euler": '''
import numpy as np

def euler_sample(model, x1, steps):
    ts = np.linspace(1.0, 0.0, steps + 1)
    x = x1
    with torch.no_grad():
        for t, t_next in zip(ts[:-1], ts[1:]):
            v = model(x, torch.full((len(x),), float(t)))
            x = x + float(t_next - t) * v
    return x
''',
    "experiment": '''
import numpy as np

def quality_vs_steps(flow_model, eps_model, alpha_bars, steps_list=(1, 2, 5, 10, 25, 50), n=2000, seed=0):
    T = alpha_bars.shape[0]
    flow_q, ddim_q = {}, {}
    for S in steps_list:
        start = torch.randn(n, 2, generator=torch.Generator().manual_seed(seed))
        flow_q[S] = metrics.mode_coverage(euler_sample(flow_model, start, S), "ring8")["high_quality"]
        grid = np.linspace(T, 0, S + 1).round().astype(int)
        x = start
        with torch.no_grad():
            for a, b in zip(grid[:-1], grid[1:]):
                x = ddim_step(alpha_bars, x, int(a), int(b), eps_model(x, torch.full((n,), int(a))))
        ddim_q[S] = metrics.mode_coverage(x, "ring8")["high_quality"]
    return {"flow": flow_q, "ddim": ddim_q}
''',
}

FLOAT64 = {   # float64 throughout, a cat'ed ᾱ table, a counted loop
    "ddim": '''
def ddim_step(alpha_bars, x_t, t, t_prev, eps):
    table = torch.cat([torch.ones(1, dtype=torch.float64), alpha_bars.double()])
    a_t, a_s = table[t], table[t_prev]
    x0_hat = (x_t.double() - torch.sqrt(1.0 - a_t) * eps.double()) / torch.sqrt(a_t)
    return (torch.sqrt(a_s) * x0_hat + torch.sqrt(1.0 - a_s) * eps.double()).to(x_t.dtype)
''',
    "loss": '''
def flow_matching_loss(model, x0, t=None, noise=None):
    B = x0.shape[0]
    if t is None:
        t = torch.rand(B, dtype=torch.float64).float()
    if noise is None:
        noise = torch.randn(x0.shape, dtype=torch.float64).to(x0.dtype)
    s = t.double().view(B, 1)
    x_t = ((1.0 - s) * x0.double() + s * noise.double()).to(x0.dtype)
    err = model(x_t, t).double() - (noise.double() - x0.double())
    return err.pow(2).sum() / err.numel()
''',
    "euler": '''
def euler_sample(model, x1, steps):
    x = x1.double()
    dt = 1.0 / steps
    for k in range(steps):
        t = 1.0 - k * dt
        with torch.no_grad():
            v = model(x.to(x1.dtype), torch.full((x.shape[0],), t, dtype=torch.float32)).double()
        x = x - dt * v
    return x.to(x1.dtype)
''',
    "experiment": '''
def quality_vs_steps(flow_model, eps_model, alpha_bars, steps_list=(1, 2, 5, 10, 25, 50), n=2000, seed=0):
    T = len(alpha_bars)
    out = {"flow": {}, "ddim": {}}
    for S in steps_list:
        gen = torch.Generator()
        gen.manual_seed(seed)
        x1 = torch.randn((n, 2), generator=gen)
        samples = euler_sample(flow_model, x1, S)
        out["flow"][S] = float(metrics.mode_coverage(samples, "ring8")["high_quality"])
        x = x1.clone()
        k = S
        while k > 0:
            t, t_prev = k * T // S, (k - 1) * T // S
            with torch.no_grad():
                e = eps_model(x, torch.full((n,), t, dtype=torch.long))
            x = ddim_step(alpha_bars, x, t, t_prev, e)
            k -= 1
        out["ddim"][S] = float(metrics.mode_coverage(x, "ring8")["high_quality"])
    return out
''',
}

OTHER_IMPORTS = {   # allowed coursekit helpers: flow.time_grid, diffusion.ddim_timesteps, `import … as`
    "ddim": '''
def ddim_step(alpha_bars, x_t, t, t_prev, eps):
    def abar(k):
        return alpha_bars[k - 1] if k >= 1 else alpha_bars.new_tensor(1.0)
    pred_x0 = (x_t - torch.sqrt(1 - abar(t)) * eps) / torch.sqrt(abar(t))
    direction = torch.sqrt(1 - abar(t_prev)) * eps
    return torch.sqrt(abar(t_prev)) * pred_x0 + direction
''',
    "loss": '''
def flow_matching_loss(model, x0, t=None, noise=None):
    t = torch.rand(x0.size(0), device=x0.device) if t is None else t
    noise = torch.randn_like(x0) if noise is None else noise
    w = t.unsqueeze(-1)
    target = noise - x0
    prediction = model(x0 + w * target, t)                 # (1 − t) x0 + t ε = x0 + t (ε − x0)
    return torch.nn.functional.mse_loss(prediction, target, reduction="mean")
''',
    "euler": '''
import coursekit.flow as cf

@torch.no_grad()
def euler_sample(model, x1, steps):
    x = x1
    for t in cf.time_grid(steps):                          # 1, (S − 1)/S, …, 1/S
        x = x - model(x, x.new_full((x.shape[0],), t)) / steps
    return x
''',
    "experiment": '''
from coursekit.diffusion import ddim_timesteps
import coursekit.metrics as M

def quality_vs_steps(flow_model, eps_model, alpha_bars, steps_list=(1, 2, 5, 10, 25, 50), n=2000, seed=0):
    result = {"flow": {}, "ddim": {}}
    for S in steps_list:
        noise = torch.randn(n, 2, generator=torch.Generator().manual_seed(seed))
        result["flow"][S] = M.mode_coverage(euler_sample(flow_model, noise, S), "ring8")["high_quality"]
        taus = ddim_timesteps(len(alpha_bars), S)
        x = noise
        for t, t_prev in zip(taus, taus[1:] + [0]):
            with torch.no_grad():
                x = ddim_step(alpha_bars, x, t, t_prev, eps_model(x, torch.tensor([t] * n)))
        result["ddim"][S] = M.mode_coverage(x, "ring8")["high_quality"]
    return result
''',
}

OWN_LOOP = {   # the slide's √(1/ᾱ) form, torch.distributions, in-place updates, all DDIM runs before the flow runs
    "ddim": '''
def ddim_step(alpha_bars, x_t, t, t_prev, eps):
    a_t = float(alpha_bars[t - 1])
    a_s = 1.0 if t_prev == 0 else float(alpha_bars[t_prev - 1])
    # x_s = √(ᾱ_s/ᾱ_t) x_t + (√(1 − ᾱ_s) − √(ᾱ_s (1 − ᾱ_t)/ᾱ_t)) ε
    return math.sqrt(a_s / a_t) * x_t + (math.sqrt(1 - a_s) - math.sqrt(a_s * (1 - a_t) / a_t)) * eps
''',
    "loss": '''
def flow_matching_loss(model, x0, t=None, noise=None):
    if t is None:
        t = torch.distributions.Uniform(0.0, 1.0).sample((x0.shape[0],))
    if noise is None:
        noise = torch.empty_like(x0).normal_()
    x_t = x0 * (1 - t)[:, None] + noise * t[:, None]
    residual = model(x_t, t) - noise + x0
    return (residual * residual).mean()
''',
    "euler": '''
def euler_sample(model, x1, steps):
    x = x1.clone()
    i = steps
    while i > 0:
        with torch.no_grad():
            v = model(x, torch.ones(x.shape[0]) * (i / steps))
        x.add_(v, alpha=-1.0 / steps)
        i -= 1
    return x
''',
    "experiment": '''
def quality_vs_steps(flow_model, eps_model, alpha_bars, steps_list=(1, 2, 5, 10, 25, 50), n=2000, seed=0):
    T = len(alpha_bars)
    x_start = torch.randn(n, 2, generator=torch.Generator().manual_seed(seed))
    ddim = {}
    for S in steps_list:
        x = x_start.clone()
        for i in reversed(range(1, S + 1)):
            with torch.no_grad():
                eps = eps_model(x, torch.full((n,), i * (T // S)))
            x = ddim_step(alpha_bars, x, i * (T // S), (i - 1) * (T // S), eps)
        ddim[S] = metrics.mode_coverage(x, "ring8")["high_quality"]
    flow_q = {S: metrics.mode_coverage(euler_sample(flow_model, x_start, S), "ring8")["high_quality"]
              for S in steps_list}
    return {"ddim": ddim, "flow": flow_q}
''',
}

CORRECT = {"numpy_style": NUMPY, "float64_style": FLOAT64, "other_imports": OTHER_IMPORTS, "own_loop": OWN_LOOP}

# --------------------------------------------------------------------------------------------------------------
# Subtly wrong submissions: the reference with one known bug, and the part(s) it must cost
# --------------------------------------------------------------------------------------------------------------

WRONG = {
    # name: (grade_id of the answer cell, old text, new text, the parts that must score 0)
    "ddim_off_by_one_t": ("ddim", "    a_t = alpha_bars[t - 1]\n    a_prev = alpha_bars[t_prev - 1]",
                          "    a_t = alpha_bars[t]\n    a_prev = alpha_bars[t_prev]", {"test_ddim"}),
    # the DDPM habit: ᾱ_{t−1} for the target step, right only when DDIM does not skip
    "ddim_abar_t_minus_1": ("ddim", "a_prev = alpha_bars[t_prev - 1] if t_prev > 0",
                            "a_prev = alpha_bars[t - 2] if t > 1", {"test_ddim"}),
    # alpha_bars[-1] is ᾱ_T: the last step to x_0 goes wrong
    "ddim_no_abar_0": ("ddim", " if t_prev > 0 else torch.ones((), dtype=alpha_bars.dtype)", "", {"test_ddim"}),
    "velocity_sign": ("loss", "(noise - x0)) ** 2", "(x0 - noise)) ** 2", {"test_loss"}),
    "t_is_a_step_index": ("loss", "t = torch.rand(batch)", "t = torch.randint(1, 1000, (batch,)).float()",
                          {"test_loss"}),
    "loss_summed": ("loss", "(noise - x0)) ** 2).mean()", "(noise - x0)) ** 2).sum(1).mean()", {"test_loss"}),
    "euler_time_forwards": ("euler", "for i in range(steps, 0, -1):", "for i in range(1, steps + 1):",
                            {"test_euler"}),
    "euler_step_index": ("euler", "torch.full((x.shape[0],), t)", "torch.full((x.shape[0],), float(i))",
                         {"test_euler"}),
    # DDIM's own spacing (starts below T) and one network call too many (at t = 0)
    "ddim_leading_spacing": ("experiment", "taus = [i * T // S for i in range(S, 0, -1)] + [0]",
                             "taus = [(i - 1) * T // S + 1 for i in range(S, 0, -1)] + [0]", {"test_experiment"}),
    "fraction_not_percent": ("experiment", '"ring8")["high_quality"]\n        taus',
                             '"ring8")["high_quality"] / 100\n        taus', {"test_experiment"}),
}

# Submissions that try the grader: the reference called for the part itself (judged by what runs, whatever the
# import), and a test cell replaced by a print (nbgrader restores it from the source)
CALLS_FLOW_SAMPLE = ("euler", "    x = x1.clone()\n    for i in range(steps, 0, -1):",
                     "    from coursekit.flow import flow_sample as fs\n"
                     "    return fs(model, tuple(x1.shape), steps=steps, x1=x1)\n"
                     "    x = x1.clone()\n    for i in range(steps, 0, -1):")
CALLS_DDIM_SAMPLE = ("experiment", "        x = x1.clone()\n        with torch.no_grad():",
                     "        import coursekit.diffusion as D\n"
                     "        x = D.ddim_sample(eps_model, D.digits_schedule('cpu'), (n, 2), steps=S, x_T=x1)\n"
                     "        taus = []\n        with torch.no_grad():")
HOSTILE = {"calls_flow_sample": ([CALLS_FLOW_SAMPLE], None, {"test_euler"}),
           "calls_ddim_sample": ([CALLS_DDIM_SAMPLE], None, {"test_experiment"}),
           "edited_test": ([WRONG["velocity_sign"][:3]], "test_loss", {"test_loss"})}


def _fill(release, solution, answers: dict[str, str]):
    nb = course.answered(release, solution)
    return course.answer(nb, {gid: src.strip("\n") for gid, src in answers.items()})


def _edited(release, solution, edits, emptied: str | None = None):
    nb = course.answered(release, solution)
    for grade_id, old, new in edits:
        cell = course.cell(nb, grade_id)
        assert cell.source.count(old) == 1, (grade_id, old)
        cell.source = cell.source.replace(old, new)
    if emptied is not None:
        course.cell(nb, emptied).source = 'print("all tests passed")'
    return nb


ROOT: list = []


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One course; the reference, the blank release, every correct and every wrong submission; one autograde."""
    root = course.make_course(tmp_path_factory.mktemp("fair"), NAME)
    ROOT[:] = [root]
    release, solution = course.release(root, NAME), course.solution(root, NAME)
    course.submit(root, "reference", NAME, course.answered(release, solution))
    course.submit(root, "blank", NAME, release)
    for student, answers in CORRECT.items():
        course.submit(root, student, NAME, _fill(release, solution, answers))
    for student, (grade_id, old, new, _) in WRONG.items():
        course.submit(root, student, NAME, _edited(release, solution, [(grade_id, old, new)]))
    for student, (edits, emptied, _) in HOSTILE.items():
        course.submit(root, student, NAME, _edited(release, solution, edits, emptied))
    start = time.perf_counter()
    proc = course.autograde(root, NAME)
    seconds = time.perf_counter() - start
    scores = course.scores(root, NAME)
    print(f"\nautograde: {len(scores)} submissions in {seconds:.0f} s ({seconds / max(len(scores), 1):.1f} s each)")
    return scores, proc


def test_every_submission_was_graded(graded):
    scores, proc = graded
    assert set(scores) == {"reference", "blank", *CORRECT, *WRONG, *HOSTILE}, course.grading_output(proc)


def test_reference_full_marks_and_blank_zero(graded):
    scores, proc = graded
    course.assert_loses_exactly(scores["reference"], PARTS, proc=proc)
    assert scores["reference"]["written"] == 0.0              # graded by hand in formgrader
    assert scores["reference"]["total"] == 8.0
    assert all(v == 0 for v in scores["blank"].values()), scores["blank"]


def test_the_grader_sees_the_rubric(graded):
    """The written part is a task worth 2 points that waits for the instructor; the notebook Formgrader opens shows
    its bilingual rubric with partial credit, the release does not."""
    course.assert_rubric_for_the_grader(ROOT[0], NAME, "written", "reference", 2.0)


def test_failure_messages_are_bilingual_hints(graded):
    """What a failing hidden test tells the student: a hint in both languages, no hidden input (seed, values)."""
    for student, part in (("ddim_abar_t_minus_1", "test_ddim"), ("t_is_a_step_index", "test_loss"),
                          ("euler_step_index", "test_euler"), ("fraction_not_percent", "test_experiment")):
        message = course.cell_errors(ROOT[0], student, NAME)[part]
        assert re.search(r"[\u4e00-\u9fff]", message) and re.search(r"[a-z]{4} [a-z]{4}", message), (student, message)
        assert not re.search(r"430\d", message), (student, message)


@pytest.mark.parametrize("student", sorted(CORRECT))
def test_correct_submission_loses_nothing(graded, student):
    scores, proc = graded
    course.assert_loses_exactly(scores[student], PARTS, proc=proc)


@pytest.mark.parametrize("student", sorted(WRONG))
def test_wrong_submission_loses_exactly_its_part(graded, student):
    scores, proc = graded
    course.assert_loses_exactly(scores[student], PARTS, WRONG[student][3], proc)


@pytest.mark.parametrize("student", sorted(HOSTILE))
def test_hostile_submission_loses_exactly_its_part(graded, student):
    scores, proc = graded
    course.assert_loses_exactly(scores[student], PARTS, HOSTILE[student][2], proc)

"""The GAN assignment through the real nbgrader pipeline, and its fairness class: the reference scores every
autograded point, the blank release none; correct submissions written independently of the reference in other
styles get every point, and subtly wrong ones (one known bug each) lose exactly the part their bug belongs to.
One course copy, one ``nbgrader autograde`` call for the whole class.

This is the test that catches a grader that zeroes a correct answer for how it writes a loss or orders its
step, or that gives full marks to a step whose D update lets gradients into G.
"""

from __future__ import annotations

import os
import time

import course
import pytest

pytestmark = pytest.mark.slow
ASSIGNMENT = "gan"
PARTS = ("test_d_loss", "test_g_loss", "test_step", "test_experiment_ring")

# --- correct submissions, each in its own style ----------------------------------------------------------------

BCE = {   # torch's binary cross-entropy with logits and label tensors; D's fake made under no_grad, a fresh z for G
    "d_loss": '''
def d_loss(real_logits, fake_logits):
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))    # label 1
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))   # label 0
    return real + fake
''',
    "g_loss": '''
def g_loss(fake_logits, kind="non_saturating"):
    if kind == "non_saturating":
        return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    return -F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
''',
    "train_step": '''
def train_step(G, D, opt_g, opt_d, real, kind="non_saturating"):
    n = len(real)
    with torch.no_grad():
        fake = G(torch.randn(n, G.latent_dim))
    opt_d.zero_grad()
    loss_d = d_loss(D(real), D(fake))
    loss_d.backward()
    opt_d.step()
    opt_g.zero_grad()
    loss_g = g_loss(D(G(torch.randn(n, G.latent_dim))), kind)
    loss_g.backward()
    opt_g.step()
    return loss_d.item(), loss_g.item()
''',
    "experiment": '''
def run_experiment(seed, steps=1500):
    data = sample_2d("ring8", 8000, seed=seed, std=RING_STD)
    G, D, opt_g, opt_d = make_networks(seed)
    base = [opt.param_groups[0]["lr"] for opt in (opt_g, opt_d)]
    for i in range(steps):
        scale = 1.0 if i < steps // 2 else 2.0 * (steps - i) / steps          # linear to 0 over the second half
        for opt, lr in zip((opt_g, opt_d), base):
            for group in opt.param_groups:
                group["lr"] = lr * scale
        train_step(G, D, opt_g, opt_d, data[torch.randint(0, data.shape[0], (BATCH,))])
    return G
''',
}

SOFTPLUS = {   # hand-written stable softplus, one z for both halves, D frozen during G's half
    "d_loss": '''
def _softplus(x):                       # log(1 + e^x), stable for large |x|
    return torch.clamp(x, min=0) + torch.log1p(torch.exp(-x.abs()))

def d_loss(real_logits, fake_logits):
    # −log σ(ℓ) = softplus(−ℓ) and −log(1 − σ(ℓ)) = softplus(ℓ)
    return _softplus(-real_logits).mean() + _softplus(fake_logits).mean()
''',
    "g_loss": '''
def g_loss(fake_logits, kind="non_saturating"):
    if kind == "saturating":
        return -_softplus(fake_logits).mean()
    elif kind == "non_saturating":
        return _softplus(-fake_logits).mean()
    raise ValueError(kind)
''',
    "train_step": '''
def train_step(G, D, opt_g, opt_d, real, kind="non_saturating"):
    z = torch.randn(real.size(0), G.latent_dim)
    generated = G(z)
    # D's half
    for p in D.parameters():
        p.grad = None
    ld = d_loss(D(real), D(generated.detach()))
    ld.backward()
    opt_d.step()
    # G's half, with D frozen
    D.requires_grad_(False)
    for p in G.parameters():
        p.grad = None
    lg = g_loss(D(generated), kind)
    lg.backward()
    opt_g.step()
    D.requires_grad_(True)
    return float(ld), float(lg)
''',
    "experiment": '''
import math

def run_experiment(seed, steps=1500):
    data = sample_2d("ring8", 8000, seed=seed, std=RING_STD)
    G, D, opt_g, opt_d = make_networks(seed)
    half = steps // 2
    factor = lambda k: 1.0 if k < half else max(0.0, (steps - k) / (steps - half))
    scheds = [torch.optim.lr_scheduler.LambdaLR(o, factor) for o in (opt_g, opt_d)]
    order = torch.randperm(len(data))
    pos = 0
    for k in range(steps):
        if pos + BATCH > len(data):             # epochs of shuffled batches
            order, pos = torch.randperm(len(data)), 0
        batch = data[order[pos:pos + BATCH]]
        pos += BATCH
        train_step(G, D, opt_g, opt_d, batch)
        for s in scheds:
            s.step()
    return G
''',
}

PROBS = {   # probabilities in float64 (stable: log σ(−ℓ) for log(1 − σ(ℓ))), module-style imports
    "d_loss": '''
import torch.nn.functional as nnf

def d_loss(real_logits, fake_logits):
    p_real = torch.sigmoid(real_logits.double())             # D(x)
    one_minus_p_fake = torch.sigmoid(-fake_logits.double())  # 1 − D(G(z)), without cancellation
    value = torch.log(p_real).mean() + torch.log(one_minus_p_fake).mean()
    return (-value).float()
''',
    "g_loss": '''
def g_loss(fake_logits, kind="non_saturating"):
    table = {"saturating": lambda l: torch.log(torch.sigmoid(-l.double())).mean(),
             "non_saturating": lambda l: -torch.log(torch.sigmoid(l.double())).mean()}
    return table[kind](fake_logits).float()
''',
    "train_step": '''
import coursekit.gan as cg          # module-style import of the package (only the nets are used)

def train_step(G, D, opt_g, opt_d, real, kind="non_saturating"):
    noise = torch.normal(0.0, 1.0, size=(real.shape[0], G.latent_dim))
    fake = G(noise)
    both = D(torch.cat([real, fake.detach()]))
    loss_d = d_loss(both[: len(real)], both[len(real):])
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    opt_g.zero_grad(set_to_none=True)
    loss_g = g_loss(D(fake), kind=kind)
    loss_g.backward()
    opt_g.step()
    assert isinstance(D, cg.MLPDiscriminator)
    return float(loss_d.detach().cpu()), float(loss_g.detach().cpu())
''',
    "experiment": None,       # the reference loop
}

ALIASES = {   # `from torch.nn.functional import logsigmoid as ls`, coursekit.train.batches for the loop
    "d_loss": '''
from torch.nn.functional import logsigmoid as ls

def d_loss(real_logits, fake_logits):
    v = torch.mean(ls(real_logits)) + torch.mean(ls(-fake_logits))
    return -v
''',
    "g_loss": '''
def g_loss(fake_logits, kind="non_saturating"):
    assert kind in ("saturating", "non_saturating")
    return torch.mean(ls(-fake_logits)) if kind == "saturating" else -torch.mean(ls(fake_logits))
''',
    "train_step": None,       # the reference step
    "experiment": '''
import coursekit.train as T

def run_experiment(seed, steps=1500):
    data = sample_2d("ring8", 8000, seed=seed, std=RING_STD)
    G, D, opt_g, opt_d = make_networks(seed)
    stream = T.batches(data, batch_size=BATCH, generator=torch.Generator().manual_seed(seed))
    sched = [torch.optim.lr_scheduler.LinearLR(o, start_factor=1.0, end_factor=0.0, total_iters=steps - steps // 2)
             for o in (opt_g, opt_d)]
    for step in range(steps):
        (real,) = next(stream)
        train_step(G, D, opt_g, opt_d, real)
        if step >= steps // 2:
            for s in sched:
                s.step()
    return G
''',
}

# --- subtly wrong submissions: one known bug each -----------------------------------------------------------------

WRONG = {
    # student: ([(answer cell, old, new), ...], parts that must score 0)
    "fake_not_detached": ([("train_step", "D(fake.detach())", "D(fake)")], {"test_step"}),
    "g_step_updates_d": ([("train_step", "    opt_g.step()\n", "    opt_g.step()\n    opt_d.step()\n")], {"test_step"}),
    "step_ignores_kind": ([("train_step", "loss_g = g_loss(D(fake), kind)", "loss_g = g_loss(D(fake))")],
                          {"test_step"}),
    "losses_swapped": ([("g_loss", 'if kind == "saturating":', 'if kind == "@NS@":'),
                        ("g_loss", 'if kind == "non_saturating":', 'if kind == "saturating":'),
                        ("g_loss", "@NS@", "non_saturating")], {"test_g_loss"}),
    "d_sign_error": ([("d_loss", "return -(F.logsigmoid", "return (F.logsigmoid")], {"test_d_loss"}),
    "d_labels_swapped": ([("d_loss", "F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean()",
                           "F.logsigmoid(-real_logits).mean() + F.logsigmoid(fake_logits).mean()")], {"test_d_loss"}),
    "d_no_fake_term": ([("d_loss", " + F.logsigmoid(-fake_logits).mean())", ")")], {"test_d_loss"}),
    "g_sum_not_mean": ([("g_loss", "return -F.logsigmoid(fake_logits).mean()",
                         "return -F.logsigmoid(fake_logits).sum()")], {"test_g_loss"}),
    "stops_too_early": ([("experiment", "    for _ in range(steps):", "    for _ in range(min(steps, 300)):")],
                        {"test_experiment_ring"}),
    # the hidden test starts the step from gradients left over from an earlier step: accumulation shows
    "g_grads_accumulate": ([("train_step", "    opt_g.zero_grad()\n", "")], {"test_step"}),
    "d_grads_accumulate": ([("train_step", "    opt_d.zero_grad()\n", "")], {"test_step"}),
    # ε inside the log and a cross-entropy on probabilities agree with −V at moderate logits only
    "d_eps_in_log": ([("d_loss", "return -(F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean())",
                       "return -(torch.log(torch.sigmoid(real_logits) + 1e-8).mean()"
                       " + torch.log(1 - torch.sigmoid(fake_logits) + 1e-8).mean())")], {"test_d_loss"}),
    "d_bce_on_probabilities": ([("d_loss",
                                 "return -(F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean())",
                                 "return (F.binary_cross_entropy(torch.sigmoid(real_logits),"
                                 " torch.ones_like(real_logits)) + F.binary_cross_entropy(torch.sigmoid(fake_logits),"
                                 " torch.zeros_like(fake_logits)))")], {"test_d_loss"}),
    "g_eps_in_log": ([("g_loss", "return -F.logsigmoid(fake_logits).mean()",
                       "return -torch.log(torch.sigmoid(fake_logits) + 1e-7).mean()")], {"test_g_loss"}),
}


ROOT: list = []


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    start = time.perf_counter()
    root = course.make_course(tmp_path_factory.mktemp("fair"), ASSIGNMENT)
    ROOT[:] = [root]
    release, solution = course.release(root, ASSIGNMENT), course.solution(root, ASSIGNMENT)
    reference = {c.metadata["nbgrader"]["grade_id"]: c.source for c in solution.cells
                 if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"}
    expected: dict[str, set[str]] = {}
    course.submit(root, "reference", ASSIGNMENT, course.answered(release, solution))
    expected["reference"] = set()
    course.submit(root, "blank", ASSIGNMENT, release)
    expected["blank"] = set(PARTS)
    for student, answers in {"bce_no_grad": BCE, "softplus_frozen_d": SOFTPLUS, "float64_probabilities": PROBS,
                             "import_aliases": ALIASES}.items():
        filled = {k: (answers.get(k) or v) for k, v in reference.items()}
        course.submit(root, student, ASSIGNMENT, course.answer(release, filled))
        expected[student] = set()
    for student, (edits, zero) in WRONG.items():
        filled = dict(reference)
        for grade_id, old, new in edits:
            assert filled[grade_id].count(old) == 1, (student, old)
            filled[grade_id] = filled[grade_id].replace(old, new)
        course.submit(root, student, ASSIGNMENT, course.answer(release, filled))
        expected[student] = zero
    env = dict(os.environ, COURSEKIT_TIMEOUT_SCALE="1")
    proc = course.autograde(root, ASSIGNMENT, env=env)
    return expected, course.scores(root, ASSIGNMENT), proc, time.perf_counter() - start


def test_every_student_is_graded(graded):
    expected, scores, proc, seconds = graded
    assert set(scores) == set(expected), proc.stdout[-3000:] + proc.stderr[-3000:]
    print(f"\nGAN fairness class: {len(expected)} students graded in {seconds:.0f} s")
    for student in sorted(scores):
        print(f"{student:22s} " + " ".join(f"{p[5:]}={scores[student][p]:.0f}" for p in PARTS)
              + f"  total={scores[student]['total']:.0f}")


def test_reference_scores_every_autograded_point_and_blank_none(graded):
    _, scores, proc, _ = graded
    assert {p: scores["reference"][p] for p in PARTS} == {p: 2.0 for p in PARTS}, proc.stderr[-3000:]
    assert scores["reference"]["total"] == 8.0           # + 2 for the written answer, graded by hand
    assert scores["blank"]["total"] == 0.0


@pytest.mark.parametrize("student", ["bce_no_grad", "softplus_frozen_d", "float64_probabilities", "import_aliases"])
def test_correct_styles_get_every_point(graded, student):
    _, scores, _, _ = graded
    lost = {p: scores[student][p] for p in PARTS if scores[student][p] != 2}
    assert not lost, f"{student} lost points: {lost}"


@pytest.mark.parametrize("student", sorted(WRONG))
def test_each_bug_costs_exactly_its_part(graded, student):
    expected, scores, _, _ = graded
    got = {p: scores[student][p] for p in PARTS}
    want = {p: (0.0 if p in expected[student] else 2.0) for p in PARTS}
    assert got == want, student


def test_the_grader_sees_the_rubric(graded):
    """The written part is a task worth 2 points that waits for the instructor; the notebook Formgrader opens shows
    its bilingual rubric with partial credit, the release does not."""
    course.assert_rubric_for_the_grader(ROOT[0], ASSIGNMENT, "written", "reference", 2.0)


@pytest.mark.parametrize("student, part, words", [
    ("g_grads_accumulate", "test_step", ("opt_g.zero_grad()", "梯度会累加")),
    ("d_eps_in_log", "test_d_loss", ("ε inside the log", "log 里加了 ε")),
    ("d_bce_on_probabilities", "test_d_loss", ("binary cross-entropy on probabilities", "二元交叉熵")),
    ("step_ignores_kind", "test_step", ("kind", "g_loss")),
    ("stops_too_early", "test_experiment_ring", ("at least 500 steps", "至少 500 步")),
])
def test_what_the_student_is_told(graded, student, part, words):
    """A failing part's message (what feedback shows of a hidden test) names the likely mistake in both languages
    and no hidden input."""
    message = course.cell_errors(ROOT[0], student, ASSIGNMENT)[part]
    assert all(w in message for w in words), message
    assert not any(seed in message for seed in ("5101", "5103", "5107", "5207", "5307")), message

"""The DDPM assignment is fair: correct submissions written independently of the reference, in other styles,
get every autograded point, and subtly wrong ones (one known bug each) lose exactly the parts their bug
belongs to. Graded by the real pipeline: one course copy, one ``nbgrader autograde`` call for the whole class.

This is the test that catches a grader that zeroes a correct answer for how it imports coursekit, or that
gives full marks to a sampler that skips t = 1 or to training that draws t from 0..T−1.
"""

from __future__ import annotations

import os
import time

import course
import pytest

pytestmark = pytest.mark.slow
ASSIGNMENT = "ddpm"
PARTS = ("test_schedule", "test_q_sample", "test_loss", "test_p_sample", "test_train_sample", "test_guidance")

# --- correct submissions, each in its own style ----------------------------------------------------------------

NUMPY = {   # numpy inside every function, float64 arithmetic, tensors only at the borders
    "schedule": '''
import numpy as np

def linear_betas(T, beta_start=1e-4, beta_end=0.02):
    return torch.from_numpy(np.linspace(beta_start, beta_end, T)).float()

def alpha_bars(betas):
    return torch.from_numpy(np.cumprod(1.0 - betas.double().numpy())).float()
''',
    "q_sample": '''
def q_sample(alpha_bars, x0, t, noise):
    ab = alpha_bars.double().numpy()[t.numpy() - 1]
    ab = ab.reshape((-1,) + (1,) * (x0.dim() - 1))
    out = np.sqrt(ab) * x0.double().numpy() + np.sqrt(1.0 - ab) * noise.double().numpy()
    return torch.from_numpy(out).to(x0.dtype)
''',
    "loss": '''
def ddpm_loss(model, alpha_bars, x0, t, noise):
    predicted = model(q_sample(alpha_bars, x0, t, noise), t)
    return torch.mean(torch.square(predicted - noise))
''',
    "p_sample": '''
def p_sample_step(betas, alpha_bars, x_t, t, eps, z, variance="beta"):
    b = betas.double().numpy()
    ab = alpha_bars.double().numpy()
    ab_prev = np.concatenate([[1.0], ab[:-1]])
    i = t.numpy() - 1
    view = (-1,) + (1,) * (x_t.dim() - 1)
    bt, abt, abp = b[i].reshape(view), ab[i].reshape(view), ab_prev[i].reshape(view)
    x, e, noise = x_t.double().numpy(), eps.double().numpy(), z.double().numpy()
    x0_hat = (x - np.sqrt(1 - abt) * e) / np.sqrt(abt)
    mean = np.sqrt(abp) * bt / (1 - abt) * x0_hat + np.sqrt(1 - bt) * (1 - abp) / (1 - abt) * x
    var = bt if variance == "beta" else (1 - abp) / (1 - abt) * bt
    noise = np.where((t.numpy() > 1).reshape(view), noise, 0.0)
    return torch.from_numpy(mean + np.sqrt(var) * noise).to(x_t.dtype)
''',
    "train_sample": None,       # the given template with the loss written with numpy-drawn t
    "guidance": '''
NULL_LABEL = -1

def guided_eps(model, x_t, t, y, w):
    both = model(torch.cat([x_t, x_t]), torch.cat([t, t]), torch.cat([y, torch.full_like(y, NULL_LABEL)]))
    cond, null = both.chunk(2)
    return null + w * (cond - null)
''',
}

NUMPY_TRAIN_LOSS = '''        rng = np.random.default_rng(int(torch.randint(0, 2**31, (1,))))
        t = torch.from_numpy(rng.integers(1, T + 1, size=x0.shape[0]))          # 1..T inclusive
        noise = torch.from_numpy(rng.standard_normal(x0.shape)).float()
        return ddpm_loss(model, alpha_bars, x0, t, noise)
'''

FLOAT64 = {  # float64 throughout, rounding once at the end; a while loop for sampling; README-style imports
    "schedule": '''
def linear_betas(T, beta_start=1e-4, beta_end=0.02):
    i = torch.arange(T, dtype=torch.float64)
    return (beta_start + (beta_end - beta_start) * i / max(T - 1, 1)).to(torch.float32)

def alpha_bars(betas):
    return torch.exp(torch.cumsum(torch.log1p(-betas.to(torch.float64)), 0)).to(torch.float32)
''',
    "q_sample": '''
def q_sample(alpha_bars, x0, t, noise):
    a = alpha_bars.to(torch.float64).gather(0, t - 1).view(-1, *([1] * (x0.dim() - 1)))
    return (a.sqrt() * x0.double() + (1 - a).sqrt() * noise.double()).to(x0.dtype)
''',
    "loss": '''
import torch.nn.functional as F

def ddpm_loss(model, alpha_bars, x0, t, noise):
    return F.mse_loss(model(q_sample(alpha_bars, x0, t, noise), t), noise)
''',
    "p_sample": '''
def p_sample_step(betas, alpha_bars, x_t, t, eps, z, variance="beta"):
    view = (-1,) + (1,) * (x_t.dim() - 1)
    b = betas.double()[t - 1].view(view)
    a_bar = alpha_bars.double()[t - 1].view(view)
    a_bar_prev = torch.where(t > 1, alpha_bars.double()[(t - 2).clamp(min=0)], torch.ones_like(b.flatten()))
    a_bar_prev = a_bar_prev.view(view)
    mean = (x_t.double() - b / torch.sqrt(1 - a_bar) * eps.double()) / torch.sqrt(1 - b)   # line 4 directly
    sigma2 = b if variance == "beta" else b * (1 - a_bar_prev) / (1 - a_bar)
    keep = (t > 1).double().view(view)
    return (mean + keep * sigma2.sqrt() * z.double()).to(x_t.dtype)
''',
    "train_sample": '''
from coursekit import nets, train
from coursekit.data import sample_2d


def train_denoiser(data, betas, alpha_bars, steps=@STEPS@, seed=0):
    torch.manual_seed(seed)
    model = nets.MLPDenoiser(2, hidden=@HIDDEN@, depth=@DEPTH@, time_dim=32)
    T = betas.shape[0]

    def sample_t(n):                                    # a helper with the reference's name "sample" nearby
        return torch.randint(low=1, high=T + 1, size=(n,))

    def loss_fn(model, x0):
        return ddpm_loss(model, alpha_bars, x0, sample_t(x0.shape[0]), torch.randn_like(x0))

    return train.fit(model, loss_fn, data, steps=steps, batch_size=256, lr=@LR@, warmup=20, ema_decay=@EMA@,
                     seed=seed, device="cpu").model


@torch.no_grad()
def sample_model(model, betas, alpha_bars, n=1000, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g, dtype=torch.float64)
    step = betas.shape[0]
    while step >= 1:
        t = torch.full((n,), step, dtype=torch.long)
        eps = model(x.float(), t).double()
        x = p_sample_step(betas, alpha_bars, x, t, eps, torch.randn(n, 2, generator=g, dtype=torch.float64))
        step -= 1
    return x.float()
''',
    "guidance": '''
def guided_eps(model, x_t, t, y, w):
    e_y = model(x_t, t, y)
    e_0 = model(x_t, t, -torch.ones_like(y))
    return torch.lerp(e_0, e_y, w)
''',
}

OWN_NET = {  # its own network and its own training loop; module-alias imports of coursekit
    "train_sample": '''
import math
import coursekit.data as CD


class Denoiser(torch.nn.Module):
    def __init__(self, width=@HIDDEN@, depth=@DEPTH@):
        super().__init__()
        self.freqs = torch.exp(-math.log(10000) * torch.arange(16) / 16)
        self.time = torch.nn.Sequential(torch.nn.Linear(32, width), torch.nn.SiLU(), torch.nn.Linear(width, width))
        self.inp = torch.nn.Linear(2, width)
        self.blocks = torch.nn.ModuleList(torch.nn.Sequential(torch.nn.SiLU(), torch.nn.Linear(width, width),
                                                              torch.nn.SiLU(), torch.nn.Linear(width, width))
                                          for _ in range(depth))
        self.out = torch.nn.Sequential(torch.nn.SiLU(), torch.nn.Linear(width, 2))

    def forward(self, x, t):
        angle = t.float()[:, None] * self.freqs[None]
        emb = self.time(torch.cat([angle.sin(), angle.cos()], dim=1))
        h = self.inp(x)
        for block in self.blocks:
            h = h + block(h + emb)
        return self.out(h)


def train_denoiser(data, betas, alpha_bars, steps=@STEPS@, seed=0):
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = Denoiser()
    opt = torch.optim.Adam(net.parameters(), lr=@LR@)
    warm_cosine = lambda k: min(1.0, (k + 1) / 20) * 0.5 * (1 + math.cos(math.pi * k / steps))  # noqa: E731
    sched = torch.optim.lr_scheduler.LambdaLR(opt, warm_cosine)
    T = len(betas)
    for k in range(steps):                              # no EMA: the last weights, after the cosine decay
        x0 = data[torch.randint(0, len(data), (256,), generator=gen)]
        t = torch.randint(1, T + 1, (256,), generator=gen)
        loss = ddpm_loss(net, alpha_bars, x0, t, torch.randn(x0.shape, generator=gen))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return net.eval()


def sample_model(model, betas, alpha_bars, n=1000, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g)
    with torch.no_grad():
        for t in reversed(range(1, len(betas) + 1)):
            tt = torch.full((n,), t)
            x = p_sample_step(betas, alpha_bars, x, tt, model(x, tt), torch.randn(x.shape, generator=g))
    return x
''',
}

ALIASES = {  # `import coursekit.nets as N`, fit under another name, functions named like the reference's
    "train_sample": '''
import coursekit.nets as N
from coursekit.train import fit as run_training
from coursekit import data


def train_denoiser(data_points, betas, alpha_bars, steps=@STEPS@, seed=0):
    torch.manual_seed(seed)
    model = N.MLPDenoiser(2, hidden=@HIDDEN@, depth=@DEPTH@, time_dim=32)
    T = len(betas)
    sample = lambda n: torch.randint(1, T + 1, (n,))           # noqa: E731  (a local named like D.sample)
    return run_training(model, lambda m, x0: ddpm_loss(m, alpha_bars, x0, sample(len(x0)), torch.randn_like(x0)),
                        data_points, steps=steps, batch_size=256, lr=@LR@, warmup=20, ema_decay=@EMA@, seed=seed,
                        device="cpu").model


def sample_model(model, betas, alpha_bars, n=1000, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g)
    T = len(betas)
    with torch.no_grad():
        for i in range(T):
            t = torch.full((n,), T - i, dtype=torch.long)
            x = p_sample_step(betas, alpha_bars, x, t, model(x, t), torch.randn(n, 2, generator=g))
    return x
''',
}


# --- subtly wrong submissions: one known bug each -----------------------------------------------------------------

def _edit(grade_id: str, old: str, new: str):
    return grade_id, old, new


WRONG = {
    # student: (edit of the reference answers, parts that must score 0, parts not asserted)
    "t_from_zero": (_edit("train_sample", "torch.randint(1, T + 1,", "torch.randint(0, T,"),
                    {"test_train_sample"}, set()),
    "t_never_T": (_edit("train_sample", "torch.randint(1, T + 1,", "torch.randint(1, T,"),
                  {"test_train_sample"}, set()),
    "skips_last_step": (_edit("train_sample", "range(len(betas), 0, -1)", "range(len(betas), 1, -1)"),
                        {"test_train_sample"}, set()),
    "abar_prev_for_abar": (_edit("q_sample", "alpha_bars[t - 1]",
                                 "torch.cat([torch.ones(1), alpha_bars])[t - 1]"),
                           {"test_q_sample", "test_loss"}, {"test_train_sample"}),
    "sigma_missing": (_edit("p_sample", "return mean + var.sqrt() * z", "return mean"),
                      {"test_p_sample", "test_train_sample"}, set()),
    "noise_at_t1": (_edit("p_sample", "    z = torch.where((t > 1).reshape(shape), z, torch.zeros_like(z))\n", ""),
                    {"test_p_sample", "test_train_sample"}, set()),
    "model_fed_x0": (_edit("loss", "model(x_t, t)", "model(x0, t)"), {"test_loss"}, {"test_train_sample"}),
    "broadcast_2d_only": (_edit("q_sample", ".reshape(-1, *([1] * (x0.ndim - 1)))", "[:, None]"),
                          {"test_q_sample", "test_loss"}, set()),
    "guidance_convention": (_edit("guidance", "return eps_null + w * (eps_cond - eps_null)",
                                  "return (1 + w) * eps_cond - w * eps_null"), {"test_guidance"}, set()),
}


def _template_values(solution_nb) -> dict[str, str]:
    """The part-5 settings of the solution's template (@STEPS@, @HIDDEN@, ...), so the styles train alike."""
    import re
    src = course.cell(solution_nb, "train_sample").source
    get = lambda pattern: re.search(pattern, src).group(1)  # noqa: E731
    return {"@STEPS@": get(r"steps: int = (\d+)"), "@HIDDEN@": get(r"hidden=(\d+)"), "@DEPTH@": get(r"depth=(\d+)"),
            "@LR@": get(r"lr=([0-9.e-]+)"), "@EMA@": get(r"ema_decay=([0-9.]+)")}


def _fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace(key, value)
    return text


ROOT: list = []


def _errors(student: str, parts) -> dict[str, str]:
    """The error each failed part shows in the student's autograded notebook (for the assertion message)."""
    import nbformat
    path = ROOT[0] / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    if not path.exists():
        return {"notebook": "not autograded"}
    nb = nbformat.read(path, as_version=4)
    out = {}
    for part in parts:
        errors = [o for o in course.cell(nb, part).get("outputs", []) if o.get("output_type") == "error"]
        out[part] = f"{errors[0]['ename']}: {errors[0]['evalue'][:300]}" if errors else "no error shown"
    return out


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    start = time.perf_counter()
    root = course.make_course(tmp_path_factory.mktemp("fair"), ASSIGNMENT)
    ROOT[:] = [root]
    release, solution = course.release(root, ASSIGNMENT), course.solution(root, ASSIGNMENT)
    reference = {c.metadata["nbgrader"]["grade_id"]: c.source for c in solution.cells
                 if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"}
    values = _template_values(solution)
    styles = {"numpy_style": NUMPY, "float64_style": FLOAT64, "own_network": OWN_NET, "import_aliases": ALIASES}
    expected: dict[str, tuple[set[str], set[str]]] = {}
    for student, answers in styles.items():
        filled = dict(reference)
        for grade_id, source in answers.items():
            filled[grade_id] = _fill(source, values) if source else reference[grade_id]
        if student == "numpy_style":
            ref = reference["train_sample"]
            body = ref[ref.index("        ### BEGIN SOLUTION"):ref.index("        ### END SOLUTION")]
            filled["train_sample"] = ref.replace(body, NUMPY_TRAIN_LOSS)
        course.submit(root, student, ASSIGNMENT, course.answer(release, filled))
        expected[student] = (set(), set())
    for student, ((grade_id, old, new), zero, loose) in WRONG.items():
        filled = dict(reference)
        assert old in filled[grade_id], (student, old)
        filled[grade_id] = filled[grade_id].replace(old, new)
        course.submit(root, student, ASSIGNMENT, course.answer(release, filled))
        expected[student] = (zero, loose)
    env = dict(os.environ, COURSEKIT_TIMEOUT_SCALE="1")
    proc = course.autograde(root, ASSIGNMENT, env=env)
    scores = course.scores(root, ASSIGNMENT)
    return expected, scores, proc, time.perf_counter() - start


def test_every_student_is_graded(graded):
    expected, scores, proc, seconds = graded
    assert set(scores) == set(expected), proc.stdout[-3000:] + proc.stderr[-3000:]
    print(f"\nfairness class: {len(expected)} students graded in {seconds:.0f} s")
    for student in sorted(scores):
        print(f"{student:22s} " + " ".join(f"{p[5:]}={scores[student][p]:.0f}" for p in PARTS)
              + f"  total={scores[student]['total']:.0f}")


@pytest.mark.parametrize("student", ["numpy_style", "float64_style", "own_network", "import_aliases"])
def test_correct_styles_get_every_point(graded, student):
    _, scores, proc, _ = graded
    lost = {p: scores[student][p] for p in PARTS if scores[student][p] != 2}
    assert not lost, f"{student} lost points: {lost}: {_errors(student, lost)}"


@pytest.mark.parametrize("student", sorted(WRONG))
def test_each_bug_costs_exactly_its_parts(graded, student):
    expected, scores, _, _ = graded
    zero, loose = expected[student]
    got = {p: scores[student][p] for p in PARTS if p not in loose}
    want = {p: (0 if p in zero else 2) for p in PARTS if p not in loose}
    assert got == want, (student, _errors(student, [p for p in got if got[p] != want[p]]))

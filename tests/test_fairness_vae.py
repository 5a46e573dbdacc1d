"""The VAE assignment through the real nbgrader pipeline, and its fairness class: the reference scores 100 %, the blank
release 0; four correct submissions written independently of the reference (torch.distributions and coursekit.train.fit;
a σ parametrisation, numpy-style sums and an own network and loop; other import styles with coursekit's helpers
where the part allows them; …) score full marks part by part; eight subtly wrong ones (one known bug each) lose
exactly the part the bug is in. Everything is graded by ONE ``nbgrader autograde`` call (tests/course.py); scores
are read from the gradebook."""

from __future__ import annotations

import os

import course
import pytest
from nbgrader.api import Gradebook

from coursekit import grading

ASSIGNMENT = "vae"
PARTS = {"test_reparameterize": 2.0, "test_kl": 2.0, "test_elbo": 2.0, "test_train_step": 2.0,
         "test_experiment_vae": 2.0}
pytestmark = pytest.mark.slow


# --- correct submissions, written independently of the reference -------------------------------------------

DISTRIBUTIONS = {   # torch.distributions throughout; the experiment through coursekit.train.fit
    "reparameterize": '''
from torch.distributions import Bernoulli, Normal, kl_divergence


def reparameterize(mu, logvar):
    return Normal(mu, torch.exp(0.5 * logvar)).rsample()
''',
    "kl": '''
def gaussian_kl(mu, logvar):
    q = Normal(mu, (0.5 * logvar).exp())
    return kl_divergence(q, Normal(torch.zeros_like(mu), torch.ones_like(mu))).sum(-1)
''',
    "elbo": '''
def elbo(encoder, decoder, x):
    mu, logvar = encoder(x)
    z = reparameterize(mu, logvar)
    return Bernoulli(logits=decoder(z)).log_prob(x).sum(-1) - gaussian_kl(mu, logvar)
''',
    "train_step": '''
def train_step(encoder, decoder, optimizer, x):
    optimizer.zero_grad(set_to_none=True)
    loss = elbo(encoder, decoder, x).mean().neg()
    loss.backward()
    optimizer.step()
    return float(loss)
''',
    "experiment": '''
from coursekit import train as ck_train


class Both(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = Encoder(latent_dim=6, hidden=96), Decoder(latent_dim=6, hidden=96)


def train_vae(x, steps=1000, seed=0):
    torch.manual_seed(seed)
    both = Both()
    result = ck_train.fit(both, lambda m, xb: -elbo(m.enc, m.dec, xb).mean(), x, steps=steps, batch_size=64,
                          lr=4e-3, ema_decay=None, seed=seed, device="cpu", progress=False)
    return result.model.enc, result.model.dec
''',
}

SIGMA_STYLE = {   # σ instead of log σ² inside, numpy-style reductions, own network and loop, a tensor returned
    "reparameterize": '''
def reparameterize(mu, logvar):
    std = logvar.mul(0.5).exp()
    eps = torch.empty_like(std).normal_()
    return eps.mul(std).add(mu)
''',
    "kl": '''
def gaussian_kl(mu, logvar):
    sigma = torch.exp(0.5 * logvar)                       # KL in terms of σ: ½Σ(μ² + σ² − 1) − Σ log σ
    return 0.5 * torch.sum(torch.square(mu) + torch.square(sigma) - 1.0, axis=-1) - torch.sum(torch.log(sigma), axis=-1)
''',
    "elbo": '''
def elbo(encoder, decoder, x):
    mu, logvar = encoder(x)
    logits = decoder(reparameterize(mu, logvar))
    log_px = torch.sum(x * F.logsigmoid(logits) + (1.0 - x) * F.logsigmoid(-logits), axis=1)
    return log_px - gaussian_kl(mu, logvar)
''',
    "train_step": '''
def train_step(encoder, decoder, optimizer, x):
    optimizer.zero_grad()
    loss = -(elbo(encoder, decoder, x).sum() / x.shape[0])
    loss.backward()
    optimizer.step()
    return loss.detach()
''',
    "experiment": '''
class MyEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(64, 128), nn.Tanh())
        self.mu, self.logvar = nn.Linear(128, 5), nn.Linear(128, 5)

    def forward(self, x):
        h = self.body(x)
        return self.mu(h), self.logvar(h)


def train_vae(x, steps=1000, seed=0):
    torch.manual_seed(seed)
    encoder = MyEncoder()
    decoder = nn.Sequential(nn.Linear(5, 128), nn.Tanh(), nn.Linear(128, 64))
    optimizer = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=3e-3)
    done = 0
    while done < steps:                                    # epochs over a fresh permutation
        for idx in torch.randperm(len(x)).split(100):
            if done == steps:
                break
            train_step(encoder, decoder, optimizer, x[idx])
            done += 1
    return encoder, decoder
''',
}

IMPORT_STYLES = {   # other import styles, coursekit's helpers where the part allows them, manual zeroing
    "reparameterize": '''
import torch as T


def reparameterize(mu, logvar):
    return T.randn(mu.shape) * T.exp(logvar / 2) + mu
''',
    "kl": '''
def gaussian_kl(mu, logvar):
    return -0.5 * T.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1)       # Kingma & Welling's form
''',
    "elbo": '''
import coursekit.vae as ckvae
from torch.nn import functional as Fn


def elbo(encoder, decoder, x):                    # coursekit's reparameterize and KL are allowed here
    mu, logvar = encoder(x)
    z = ckvae.reparameterize(mu, logvar)
    rec = -Fn.binary_cross_entropy_with_logits(decoder(z), x, reduction="none").sum(dim=1)
    return rec - ckvae.gaussian_kl(mu, logvar)
''',
    "train_step": '''
def train_step(encoder, decoder, optimizer, x):
    for group in optimizer.param_groups:
        for p in group["params"]:
            p.grad = None
    loss = T.mean(-elbo(encoder, decoder, x))
    loss.backward()
    optimizer.step()
    return loss.item()
''',
    "experiment": '''
import coursekit.train as ctrain


def train_vae(x, steps=1000, seed=0):
    g = ctrain.seed_everything(seed)
    encoder, decoder = Encoder(latent_dim=8, hidden=96), Decoder(latent_dim=8, hidden=96)
    optimizer = T.optim.AdamW([*encoder.parameters(), *decoder.parameters()], lr=3e-3, weight_decay=0.0)
    stream = ctrain.batches(x, batch_size=64, generator=g)
    for _ in range(steps):
        (batch,) = next(stream)
        train_step(encoder, decoder, optimizer, batch)
    return encoder, decoder
''',
}

CLOSED_FORMS = {   # the KL by its one-dimensional formula in a loop, the Bernoulli log-likelihood through softplus
    "reparameterize": '''
def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    noise = torch.normal(torch.zeros_like(mu), torch.ones_like(mu))
    sigma = logvar.exp().sqrt()
    return mu + noise * sigma
''',
    "kl": '''
def gaussian_kl(mu, logvar):
    total = torch.zeros(mu.shape[0])
    for j in range(mu.shape[1]):                           # one latent dimension at a time
        m, lv = mu[:, j], logvar[:, j]
        total = total + 0.5 * (m * m + torch.exp(lv) - lv - 1)
    return total
''',
    "elbo": '''
def elbo(encoder, decoder, x):
    mu, logvar = encoder(x)
    z = reparameterize(mu, logvar)
    logits = decoder(z)                                    # log σ(l) = −softplus(−l), log(1 − σ(l)) = −softplus(l)
    log_px = -(x * F.softplus(-logits) + (1 - x) * F.softplus(logits)).sum(dim=1)
    return log_px - gaussian_kl(mu, logvar)
''',
    "train_step": '''
def train_step(encoder, decoder, optimizer, x):
    optimizer.zero_grad()
    objective = elbo(encoder, decoder, x).mean()
    (-objective).backward()
    optimizer.step()
    return -objective.item()
''',
    "experiment": '''
def train_vae(x, steps=1200, seed=0):
    torch.manual_seed(seed)
    encoder, decoder = Encoder(latent_dim=4, hidden=64), Decoder(latent_dim=4, hidden=64)
    optimizer = torch.optim.Adam(list(encoder.parameters()) + list(decoder.parameters()), lr=3e-3)
    for step in range(steps):
        batch = x[torch.randint(len(x), (64,))]
        train_step(encoder, decoder, optimizer, batch)
    return encoder, decoder
''',
}

CORRECT = {"distributions": DISTRIBUTIONS, "sigma_style": SIGMA_STYLE, "import_styles": IMPORT_STYLES,
           "closed_forms": CLOSED_FORMS}


# --- wrong submissions: one known bug each, in one part ----------------------------------------------------

REFERENCE_REPARAM = "return mu + torch.exp(0.5 * logvar) * eps     # z = μ + σ ⊙ ε"
REFERENCE_KL = "return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0).sum(dim=1)"
WRONG = {   # student: (grade_id of the answer cell, text in the reference, replacement, the part it must cost)
    "sigma_as_logvar": ("reparameterize", REFERENCE_REPARAM, "return mu + logvar * eps", "test_reparameterize"),
    "no_noise": ("reparameterize", REFERENCE_REPARAM, "return mu + 0.0 * logvar", "test_reparameterize"),
    "detached_sample": ("reparameterize", REFERENCE_REPARAM, "return (mu + torch.exp(0.5 * logvar) * eps).detach()",
                        "test_reparameterize"),
    "kl_sign": ("kl", REFERENCE_KL, "return -0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0).sum(dim=1)", "test_kl"),
    "kl_no_half": ("kl", REFERENCE_KL, "return (mu.pow(2) + logvar.exp() - logvar - 1.0).sum(dim=1)", "test_kl"),
    "kl_batch_sum": ("kl", REFERENCE_KL, "return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0).sum()", "test_kl"),
    "elbo_sign": ("elbo", "return log_px_z - gaussian_kl(mu, logvar)", "return gaussian_kl(mu, logvar) - log_px_z",
                  "test_elbo"),
    "no_zero_grad": ("train_step", "    optimizer.zero_grad()\n", "", "test_train_step"),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One course copy; every submission graded by a single `nbgrader autograde` call."""
    root = course.make_course(tmp_path_factory.mktemp("vae_course"), ASSIGNMENT)
    release = course.release(root, ASSIGNMENT)
    reference = course.answered(release, course.solution(root, ASSIGNMENT))
    course.submit(root, "reference", ASSIGNMENT, reference)
    course.submit(root, "blank", ASSIGNMENT, release)
    for student, answers in CORRECT.items():
        course.submit(root, student, ASSIGNMENT, course.answer(reference, {k: v.strip() + "\n"
                                                                           for k, v in answers.items()}))
    for student, (grade_id, old, new, _) in WRONG.items():
        source = course.cell(reference, grade_id).source
        assert old in source, (student, old)
        course.submit(root, student, ASSIGNMENT, course.answer(reference, {grade_id: source.replace(old, new)}))
    env = dict(os.environ, COURSEKIT_TIMEOUT_SCALE="1")
    proc = course.autograde(root, ASSIGNMENT, env=env)
    return root, course.scores(root, ASSIGNMENT), proc


def _auto(row: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in row.items() if k in PARTS}


def test_reference_full_marks_and_blank_zero(graded):
    _, scores, proc = graded
    assert _auto(scores["reference"]) == PARTS, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert all(v == 0 for v in scores["blank"].values()), scores["blank"]


@pytest.mark.parametrize("student", sorted(CORRECT))
def test_independent_correct_submissions_score_full_marks(graded, student):
    _, scores, proc = graded
    assert _auto(scores[student]) == PARTS, (scores[student], proc.stderr[-2000:])


@pytest.mark.parametrize("student", sorted(WRONG))
def test_each_bug_costs_exactly_its_part(graded, student):
    _, scores, _ = graded
    part = WRONG[student][3]
    assert _auto(scores[student]) == {**PARTS, part: 0.0}, scores[student]


def test_the_written_answer_waits_for_the_instructor(graded):
    """The written part is an nbgrader 'manually graded answer': autograde leaves it to formgrader."""
    root, scores, _ = graded
    with Gradebook(grading._db_url(root)) as gb:
        grade = gb.find_grade("written", ASSIGNMENT, ASSIGNMENT, "reference")
        assert grade.max_score == 2 and grade.needs_manual_grade and grade.auto_score is None
        blank = gb.find_grade("written", ASSIGNMENT, ASSIGNMENT, "blank")
        assert blank.score == 0 and not blank.needs_manual_grade           # an untouched answer needs no reading
    assert scores["reference"]["total"] == sum(PARTS.values())

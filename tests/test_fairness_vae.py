"""The VAE assignment through the real nbgrader pipeline, and its fairness class: the reference scores 100 %, the blank
release 0; five correct submissions written independently of the reference (torch.distributions and coursekit.train.fit;
a σ parametrisation, numpy-style sums and an own network and loop; other import styles with coursekit's helpers
where the part allows them; helpers named like test variables, _kl and _z, used across parts; …) score full marks
part by part; seventeen subtly wrong ones (one known bug each) lose
exactly the part the bug is in, and the failing test names the mistake. Everything is graded in ONE course copy by
ONE ``nbgrader autograde`` call (tests/course.py), which also checks the committed release against its generation
and ``nbgrader validate --invert``; scores are read from the gradebook."""

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

UNDERSCORE_HELPERS = {   # helpers named like the globals old test cells left behind (_z, _kl, _x, _e, _loss, _G):
    # a part that calls an earlier part's helper must find it intact (tests keep their names to themselves)
    "reparameterize": '''
def _z(mu, sigma, noise):
    return mu + sigma * noise


def reparameterize(mu, logvar):
    return _z(mu, torch.exp(0.5 * logvar), torch.randn_like(mu))
''',
    "kl": '''
def _kl(mu, logvar):                     # per latent dimension
    return 0.5 * (mu * mu + torch.exp(logvar) - logvar - 1.0)


def gaussian_kl(mu, logvar):
    return _kl(mu, logvar).sum(dim=1)
''',
    "elbo": '''
def _x(logits, x):                       # log p(x | z) per image
    return (x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)).sum(dim=1)


def _e(encoder, decoder, x):
    mu, logvar = encoder(x)
    return _x(decoder(_z(mu, torch.exp(0.5 * logvar), torch.randn_like(mu))), x) - _kl(mu, logvar).sum(1)


def elbo(encoder, decoder, x):
    return _e(encoder, decoder, x)
''',
    "train_step": '''
def _loss(encoder, decoder, x):
    return -elbo(encoder, decoder, x).mean()


def train_step(encoder, decoder, optimizer, x):
    optimizer.zero_grad()
    _l = _loss(encoder, decoder, x)
    _l.backward()
    optimizer.step()
    return float(_l)
''',
    "experiment": '''
_G = None                                # a global of the student's, named like an old test cell's


def train_vae(x, steps=900, seed=0):
    _g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    _enc, _dec = Encoder(latent_dim=5, hidden=80), Decoder(latent_dim=5, hidden=80)
    _opt = torch.optim.Adam([*_enc.parameters(), *_dec.parameters()], lr=3e-3)
    for _ in range(steps):
        train_step(_enc, _dec, _opt, x[torch.randint(len(x), (64,), generator=_g)])
    return _enc, _dec
''',
}

CORRECT = {"distributions": DISTRIBUTIONS, "sigma_style": SIGMA_STYLE, "import_styles": IMPORT_STYLES,
           "closed_forms": CLOSED_FORMS, "underscore_helpers": UNDERSCORE_HELPERS}


# --- wrong submissions: one known bug each, in one part ----------------------------------------------------

REFERENCE_REPARAM = "return mu + torch.exp(0.5 * logvar) * eps     # z = μ + σ ⊙ ε"
REFERENCE_KL = "return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0).sum(dim=1)"
REFERENCE_REC = 'log_px_z = -F.binary_cross_entropy_with_logits(decoder(z), x, reduction="none").sum(dim=1)'
WRONG = {   # student: (grade_id of the answer cell, text in the reference, replacement, the part it must cost,
    #            text the failing test's message must contain, or None where the student's own error is the message)
    "sigma_as_logvar": ("reparameterize", REFERENCE_REPARAM, "return mu + logvar * eps", "test_reparameterize",
                        "log σ² was used as σ"),
    "sigma_is_variance": ("reparameterize", REFERENCE_REPARAM, "return mu + torch.exp(logvar) * eps",
                          "test_reparameterize", "exp(log σ²) is the variance"),
    "no_noise": ("reparameterize", REFERENCE_REPARAM, "return mu + 0.0 * logvar", "test_reparameterize",
                 "the noise ε is missing"),
    "shared_eps": ("reparameterize", "eps = torch.randn_like(mu)", "eps = torch.randn(mu.shape[1])",
                   "test_reparameterize", "one ε shared by the whole batch"),
    "detached_sample": ("reparameterize", REFERENCE_REPARAM, "return (mu + torch.exp(0.5 * logvar) * eps).detach()",
                        "test_reparameterize", "no .detach()"),
    "kl_sign": ("kl", REFERENCE_KL, "return -0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0).sum(dim=1)", "test_kl",
                "the sign of the KL is wrong"),
    "kl_no_half": ("kl", REFERENCE_KL, "return (mu.pow(2) + logvar.exp() - logvar - 1.0).sum(dim=1)", "test_kl",
                   "missing the ½"),
    "kl_mean_over_dims": ("kl", REFERENCE_KL, "return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0).mean(dim=1)",
                          "test_kl", "averaged over the latent dimensions"),
    "kl_batch_sum": ("kl", REFERENCE_KL, "return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0).sum()", "test_kl",
                     "one KL per example"),
    "elbo_sign": ("elbo", "return log_px_z - gaussian_kl(mu, logvar)", "return gaussian_kl(mu, logvar) - log_px_z",
                  "test_elbo", "wrong sign"),
    "decodes_mu": ("elbo", REFERENCE_REC, REFERENCE_REC.replace("decoder(z)", "decoder(mu)"), "test_elbo",
                   "not a sample"),
    "elbo_sigma_is_variance": ("elbo", "z = reparameterize(mu, logvar)",
                               "z = mu + torch.exp(logvar) * torch.randn_like(mu)", "test_elbo", "not exp(log σ²)"),
    "elbo_mean_over_pixels": ("elbo", REFERENCE_REC, REFERENCE_REC.replace(".sum(dim=1)", ".mean(dim=1)"),
                              "test_elbo", "not the mean"),
    # an elbo that raises: part 3 is lost, part 5 is not (it is graded with correct parts 1–4)
    "elbo_raises": ("elbo", REFERENCE_REC, REFERENCE_REC.replace(".sum(dim=1)", ".sum(dim=2)"), "test_elbo", None),
    "no_zero_grad": ("train_step", "    optimizer.zero_grad()\n", "", "test_train_step",
                     "forgot optimizer.zero_grad()"),
    "loss_per_pixel": ("train_step", "loss = -elbo(encoder, decoder, x).mean()",
                       "loss = -elbo(encoder, decoder, x).mean() / 64", "test_train_step", "divided by the 64 pixels"),
    "too_few_steps": ("experiment", "for _ in range(steps):", "for _ in range(min(steps, 100)):",
                      "test_experiment_vae", "train_vae itself falls short"),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """ONE course copy (its release generated by nbgrader) and ONE `nbgrader autograde` call for every case."""
    root = course.make_course(tmp_path_factory.mktemp("vae_course"), ASSIGNMENT)
    release = course.release(root, ASSIGNMENT)
    reference = course.answered(release, course.solution(root, ASSIGNMENT))
    course.submit(root, "reference", ASSIGNMENT, reference)
    course.submit(root, "blank", ASSIGNMENT, release)
    for student, answers in CORRECT.items():
        course.submit(root, student, ASSIGNMENT, course.answer(reference, {k: v.strip() + "\n"
                                                                           for k, v in answers.items()}))
    for student, (grade_id, old, new, _, _) in WRONG.items():
        source = course.cell(reference, grade_id).source
        assert old in source, (student, old)
        course.submit(root, student, ASSIGNMENT, course.answer(reference, {grade_id: source.replace(old, new)}))
    env = dict(os.environ, COURSEKIT_TIMEOUT_SCALE="1")
    proc = course.autograde(root, ASSIGNMENT, env=env)
    return root, course.scores(root, ASSIGNMENT), proc


def _auto(row: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in row.items() if k in PARTS}


def test_release_equals_generation(graded):
    """The committed release is what `nbgrader generate_assignment` wrote in this course copy."""
    course.assert_release_is_generated(graded[0], ASSIGNMENT)


def test_validate_invert_passes_on_release(graded):
    course.assert_blank_release_fails_every_test(graded[0], ASSIGNMENT)


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


@pytest.mark.parametrize("student", sorted(s for s, w in WRONG.items() if w[4]))
def test_each_bug_is_named_by_its_test(graded, student):
    """The failing test cell's error (what the student reads, in the notebook or the feedback) names the mistake."""
    root, _, _ = graded
    part, hint = WRONG[student][3:]
    errors = course.cell_errors(root, student, ASSIGNMENT)
    assert part in errors and hint in errors[part], (part, hint, errors.get(part, "")[-600:])


def test_the_written_answer_waits_for_the_instructor_with_its_rubric(graded):
    """The written part is an nbgrader task: autograde leaves it to the instructor, whose Formgrader view of each
    submission shows the bilingual rubric with partial credit; the release does not contain it."""
    root, scores, _ = graded
    course.assert_rubric_for_the_grader(root, ASSIGNMENT, "written", "reference", 2)
    with Gradebook(grading._db_url(root)) as gb:
        assert gb.find_grade("written", ASSIGNMENT, ASSIGNMENT, "blank").needs_manual_grade   # a task is always read
    assert scores["reference"]["total"] == sum(PARTS.values())

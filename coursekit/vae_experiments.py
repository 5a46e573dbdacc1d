"""Experiments of the VAE lecture (slides: 变分自编码器) that sit above the algorithm in :mod:`coursekit.vae`.

- :func:`gradient_samples`   one-sample estimates of ∇_{μ, log σ²} E_{q(z)}[f(z)], by the reparameterisation
  trick or by the score-function (REINFORCE) estimator, so their variances can be compared on one objective
- :func:`elbo_terms`         the two terms of the ELBO on a data set: reconstruction E_q[log p(x | z)] and KL
- :func:`beta_sweep`         small β-VAEs (the KL term weighted by β) trained at a handful of β values
- :func:`quadrature`         for a 2-D latent: log p(x, z) of many images on one fixed, prior-wide grid of z, hence
  log p(x) by quadrature, the ELBO of any Gaussian q without sampling noise and the posterior p(z | x)
- :func:`quadrature_bounds`  log p(x), the encoder's exact ELBO and their gap (= KL(q(z | x) ‖ p(z | x)))
- :func:`best_gaussian`, :func:`inference_gaps`  the best Gaussian q* per image: the gap log p(x) − ELBO split into
  the approximation gap (log p(x) − ELBO(q*)) and the amortisation gap (ELBO(q*) − ELBO(q_φ))

No plotting here (``coursekit.viz.vae`` draws these numbers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from . import train
from ._checks import check_choice, check_tensor
from .autoregressive import to_levels
from .vae import LOG_2PI, VAE, categorical_log_prob, gaussian_kl, gaussian_log_prob, reparameterize

ESTIMATORS = ("reparam", "score")


# ---------------------------------------------------------------------------------------------------------
# Gradient estimators: reparameterisation vs score function
# ---------------------------------------------------------------------------------------------------------

def gradient_samples(f, mu: Tensor, logvar: Tensor, n: int, estimator: str = "reparam", baseline: float = 0.0,
                     generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """``n`` independent one-sample estimates of ∇_μ and ∇_{log σ²} of E_{z ~ N(μ, diag σ²)}[f(z)].

    f maps z (n, d) to (n,) values and must be differentiable for ``"reparam"``; mu and logvar have shape (d,)
    or (1, d). Returns two (n, d) tensors whose rows are the estimates (their mean is the gradient, their
    variance the estimator's variance):

    - ``"reparam"``:  z = μ + σ ⊙ ε, estimate ∇_{μ, log σ²} f(μ + σ ⊙ ε)           (the trick)
    - ``"score"``:    z ~ q, estimate (f(z) − b) ∇_{μ, log σ²} log q(z; μ, σ²)      (REINFORCE, baseline b)
    """
    check_choice("estimator", estimator, ESTIMATORS)
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    check_tensor("mu", mu)
    check_tensor("logvar", logvar)
    if mu.shape != logvar.shape or mu.reshape(-1).shape[0] != mu.shape[-1] or mu.ndim > 2:
        raise ValueError(f"mu and logvar must both have shape (d,) or (1, d), got {tuple(mu.shape)} and "
                         f"{tuple(logvar.shape)}")
    if not isinstance(baseline, (int, float)) or not math.isfinite(baseline):
        raise ValueError(f"baseline must be a finite number, got {baseline!r}")
    d = mu.shape[-1]
    m = mu.detach().reshape(1, d).expand(n, d).clone().requires_grad_(True)      # one copy of μ per estimate
    lv = logvar.detach().reshape(1, d).expand(n, d).clone().requires_grad_(True)
    eps = torch.randn(n, d, generator=generator, device=mu.device, dtype=mu.dtype)  # ε ~ N(0, I)
    if estimator == "reparam":
        z = reparameterize(m, lv, noise=eps)                                      # z = μ + σ ⊙ ε, differentiable
        surrogate = f(z)
    else:
        z = (m + torch.exp(0.5 * lv) * eps).detach()                              # z ~ q: no path to (μ, σ)
        with torch.no_grad():
            values = f(z)
        surrogate = (values - baseline) * gaussian_log_prob(z, m, lv)             # (f(z) − b) log q(z)
    if surrogate.shape != (n,):
        raise ValueError(f"f must map z of shape ({n}, {d}) to shape ({n},), got {tuple(surrogate.shape)}")
    grad_mu, grad_lv = torch.autograd.grad(surrogate.sum(), (m, lv))               # rows are independent
    return grad_mu, grad_lv


# ---------------------------------------------------------------------------------------------------------
# The two terms of the ELBO, and β-VAEs
# ---------------------------------------------------------------------------------------------------------

@torch.no_grad()
def elbo_terms(model: VAE, x: Tensor, samples: int = 1, generator: torch.Generator | None = None,
               batch_size: int = 512) -> dict[str, float]:
    """Averages over the examples of x, in nats: ``recon`` = E_q[log p_θ(x | z)] (``samples`` draws of z each),
    ``kl`` = KL(q_φ(z | x) ‖ p(z)) (closed form) and ``elbo`` = recon − kl (the β = 1 bound)."""
    if not isinstance(model, VAE):
        raise ValueError(f"model must be a coursekit.vae.VAE, got {type(model).__name__}")
    if not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples must be a positive int, got {samples!r}")
    was = model.training
    model.eval()
    recon = kl = 0.0
    try:
        for i in range(0, x.shape[0], batch_size):
            xb = x[i:i + batch_size]
            mu, logvar = model.encode(xb)
            kl += float(gaussian_kl(mu, logvar).sum())
            for _ in range(samples):
                z = reparameterize(mu, logvar, generator=generator)
                recon += float(categorical_log_prob(model.decode(z), xb, model.levels).sum()) / samples
    finally:
        model.train(was)
    n = x.shape[0]
    return {"recon": recon / n, "kl": kl / n, "elbo": (recon - kl) / n}


@dataclass
class BetaRun:
    """One β-VAE of :func:`beta_sweep`: its model and its test-split terms (nats per image)."""
    beta: float
    model: VAE
    recon: float
    kl: float
    elbo: float
    seconds: float


def beta_sweep(x_train: Tensor, x_test: Tensor, betas: tuple[float, ...] = (0.1, 0.5, 1.0, 4.0, 16.0), *,
               steps: int = 400, latent_dim: int = 2, hidden: int = 64, lr: float = 3e-3, batch_size: int = 128,
               seed: int = 0, device: str | torch.device | None = None) -> list[BetaRun]:
    """Train one small VAE per β on the loss −(log p(x | z) − β KL(q(z | x) ‖ p(z))) (β = 1: the ELBO) and
    measure its two terms on ``x_test``. A large β buys a small KL with worse reconstructions; past some β
    the KL reaches 0: q(z | x) = p(z) for every x, z carries nothing (posterior collapse)."""
    if not betas or not all(isinstance(b, (int, float)) and b >= 0 for b in betas):
        raise ValueError(f"betas must be a non-empty sequence of numbers >= 0, got {betas!r}")
    runs = []
    for beta in betas:
        train.seed_everything(seed)
        model = VAE(latent_dim=latent_dim, hidden=hidden)
        result = train.fit(model, lambda m, x, b=float(beta): m.loss(x, beta=b), x_train, steps=steps,
                           batch_size=batch_size, lr=lr, ema_decay=None, seed=seed, device=device, progress=False)
        model = result.model.cpu().eval()
        terms = elbo_terms(model, x_test.cpu(), generator=torch.Generator().manual_seed(seed))
        runs.append(BetaRun(float(beta), model, terms["recon"], terms["kl"], terms["elbo"], result.seconds))
    return runs


# ---------------------------------------------------------------------------------------------------------
# Exact numbers for a 2-D latent: log p(x) by quadrature on one fixed grid
# ---------------------------------------------------------------------------------------------------------

def _entropy(logvar: Tensor) -> Tensor:
    """H(N(μ, diag σ²)) = ½ Σ_j (1 + log 2π + log σ_j²), per row: the Gaussian's entropy in closed form."""
    return 0.5 * (1.0 + LOG_2PI + logvar).sum(dim=-1)


@dataclass
class Quadrature:
    """log p_θ(x, z) = log p_θ(x | z) + log p(z) of some images on one fixed grid of z, and what follows from it.

    The grid is the same for every image: n × n points over [−span, span]², wide enough for the prior
    (p(z) puts 1.1 · 10⁻⁶ of its mass outside [−5, 5]²), so it covers every posterior p_θ(z | x) ∝ p_θ(x | z) p(z)
    that the prior does not exclude; :meth:`edge_mass` says how much posterior mass sits on the grid's border.
    A sum over the grid times the cell area dz is the integral (midpoint rule; exact to many digits for smooth
    densities several cells wide)."""
    z: Tensor                  # (n², 2) the grid points (or (batch, k, 2): each image's own points, see support)
    log_area: float            # log dz of one cell
    log_joint: Tensor          # (batch, n²): log p_θ(x | z) + log p(z) of each image at each grid point
    mu: Tensor                 # (batch, 2) the encoder's q_φ(z | x) = N(μ, diag σ²) of each image
    logvar: Tensor
    span: float

    def log_px(self) -> Tensor:
        """log p_θ(x) = log ∫ p_θ(x | z) p(z) dz ≈ log Σ_grid p_θ(x, z) dz, per image (nats)."""
        return torch.logsumexp(self.log_joint, dim=1) + self.log_area

    def posterior(self) -> Tensor:
        """p_θ(z | x) dz on the grid, per image (rows sum to 1)."""
        return torch.softmax(self.log_joint, dim=1)

    def edge_mass(self) -> Tensor:
        """The posterior's mass on the outermost 5 % of the grid, per image (≈ 0 when the grid holds it)."""
        border = (self.z.abs() > 0.95 * self.span).any(dim=1)
        return self.posterior()[:, border].sum(dim=1)

    def q_mass(self, mu: Tensor | None = None, logvar: Tensor | None = None) -> Tensor:
        """The grid's share of the mass of q = N(μ, diag σ²) (default: the encoder's), per image (≈ 1)."""
        mu, logvar = (self.mu, self.logvar) if mu is None else (mu, logvar)
        log_q = gaussian_log_prob(self.z[None], mu[:, None], logvar[:, None])          # (batch, n²)
        return torch.exp(torch.logsumexp(log_q, dim=1) + self.log_area)

    def elbo(self, mu: Tensor | None = None, logvar: Tensor | None = None, rows: slice | Tensor | None = None
             ) -> Tensor:
        """ELBO(q) = E_q[log p_θ(x, z)] + H(q) for q = N(μ, diag σ²) (default: the encoder's), per image, without
        sampling noise: the expectation as a sum over the grid with q's weights (normalised on the grid), the
        entropy in closed form. Differentiable in μ and log σ² (so q can be optimised per image)."""
        log_joint = self.log_joint if rows is None else self.log_joint[rows]
        if mu is None:
            mu, logvar = (self.mu, self.logvar) if rows is None else (self.mu[rows], self.logvar[rows])
        z = self.z if self.z.ndim == 3 else self.z[None]                                   # (batch or 1, points, 2)
        weights = torch.softmax(gaussian_log_prob(z, mu[:, None], logvar[:, None]), dim=1)
        return (weights * log_joint).sum(dim=1) + _entropy(logvar)

    def support(self, rows: slice | Tensor | None = None, nats: float = 30.0) -> Quadrature:
        """The same images (``rows``), each on its own grid points: those where its posterior density is within
        ``nats`` of its peak (e^−30 ≈ 10⁻¹³), padded with its next-densest points to one count for all. A trained
        VAE's posterior is a bump a few cells wide, so this grid is far smaller and loops that evaluate a
        Gaussian q many times (:func:`best_gaussian`) are fast; a broad posterior keeps the whole grid. Its
        ``z`` has shape (batch, k, 2); not for :meth:`edge_mass`."""
        pick = slice(None) if rows is None else rows
        log_joint = self.log_joint[pick]
        inside = log_joint > log_joint.max(dim=1, keepdim=True).values - nats
        top = log_joint.topk(int(inside.sum(dim=1).max()), dim=1).indices                # (batch, k)
        return Quadrature(self.z[top], self.log_area, log_joint.gather(1, top), self.mu[pick], self.logvar[pick],
                          self.span)


@torch.no_grad()
def quadrature(model: VAE, x: Tensor, span: float = 5.0, n: int = 251, chunk: int = 4096) -> Quadrature:
    """log p_θ(x, z) of every image of x (batch, 1, H, W) on one n × n grid of z over [−span, span]² (a VAE with
    latent_dim = 2). The decoder runs once per grid point, whatever the batch: log p_θ(x | z) of all images at
    once is a product of the decoder's log-probabilities with the images' one-hot levels."""
    if not isinstance(model, VAE) or model.latent_dim != 2 or model.num_classes is not None:
        raise ValueError("model must be an unconditional coursekit.vae.VAE with latent_dim = 2")
    check_tensor("x", x, ndim=4)
    if not isinstance(n, int) or isinstance(n, bool) or n < 3:
        raise ValueError(f"n must be an int >= 3, got {n!r}")
    if not isinstance(span, (int, float)) or not span > 0:
        raise ValueError(f"span must be a positive number, got {span!r}")
    was = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        x = x.to(device)
        mu, logvar = model.encode(x)
        axis = torch.linspace(-span, span, n, device=device)
        za, zb = torch.meshgrid(axis, axis, indexing="ij")
        z = torch.stack([za.reshape(-1), zb.reshape(-1)], dim=1)                           # (n², 2)
        one_hot = F.one_hot(to_levels(x, model.levels), model.levels)                       # (batch, 1, H, W, L)
        one_hot = one_hot.movedim(-1, 1).reshape(x.shape[0], -1).to(torch.float32)          # (batch, L·H·W)
        log_px_z = torch.cat([F.log_softmax(model.decode(zc), dim=1).reshape(zc.shape[0], -1) @ one_hot.T
                              for zc in z.split(chunk)])                                    # (n², batch)
        log_joint = log_px_z.T + gaussian_log_prob(z)[None]                                 # + log p(z)
    finally:
        model.train(was)
    log_area = 2 * math.log(2 * span / (n - 1))
    return Quadrature(z.cpu(), log_area, log_joint.cpu(), mu.cpu(), logvar.cpu(), float(span))


@torch.no_grad()
def quadrature_bounds(model: VAE, x: Tensor, span: float = 5.0, n: int = 251) -> dict[str, Tensor]:
    """Per image of x, for a VAE with latent_dim = 2, on one fixed grid over [−span, span]² (:func:`quadrature`):

    - ``log_px``     log p_θ(x) = log ∫ p_θ(x | z) p(z) dz         (the likelihood the VAE cannot compute)
    - ``elbo``       E_q[log p_θ(x, z)] + H(q) for the encoder's q   (the ELBO without sampling noise)
    - ``gap``        log_px − elbo, which is KL(q_φ(z | x) ‖ p_θ(z | x)) by the identity
                     ELBO = log p_θ(x) − KL(q ‖ p_θ(z | x)) (an identity, not a second measurement)
    - ``mass_q``     the grid's share of q's mass (≈ 1: the grid resolves q)
    - ``edge_mass``  the posterior's mass on the grid's border (≈ 0: the grid holds the posterior)
    """
    quad = quadrature(model, x, span=span, n=n)
    log_px, elbo_grid = quad.log_px(), quad.elbo()
    return {"log_px": log_px, "elbo": elbo_grid, "gap": log_px - elbo_grid, "mass_q": quad.q_mass(),
            "edge_mass": quad.edge_mass()}


def best_gaussian(quad: Quadrature, rows: slice | Tensor | None = None, steps: int = 100, lr: float = 0.05
                  ) -> tuple[Tensor, Tensor, Tensor]:
    """For each image (of ``rows``), the diagonal Gaussian q* = N(μ*, diag σ*²) with the largest ELBO, found by
    Adam on the exact grid ELBO starting from the encoder's q: (μ*, log σ*², ELBO(q*)). This is what an encoder
    could at best give that image; the encoder has one network for all images (amortised inference) and gives
    less: ELBO(q*) − ELBO(q_φ) is the amortisation gap, log p_θ(x) − ELBO(q*) the approximation gap (Cremer et
    al. 2018, "Inference suboptimality in variational autoencoders"). 100 steps reach the optimum to 0.01 nats
    on the course's 2-D VAE (300 steps change no printed digit)."""
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    near = quad.support(rows)                                     # only where each posterior lives: fast
    mu, logvar = near.mu.clone().requires_grad_(True), near.logvar.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([mu, logvar], lr=lr)
    for _ in range(steps):
        loss = -near.elbo(mu, logvar).sum()                       # the images are independent: one sum
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    mu, logvar = mu.detach(), logvar.detach()
    with torch.no_grad():
        return mu, logvar, quad.elbo(mu, logvar, rows)            # ELBO(q*) on the whole grid


def inference_gaps(quad: Quadrature, rows: slice | Tensor | None = None, steps: int = 100, lr: float = 0.05
                   ) -> dict[str, Tensor]:
    """log p_θ(x) − ELBO(q_φ) split in two, per image (nats):
    ``approximation`` = log p_θ(x) − ELBO(q*) (no diagonal Gaussian fits the posterior better) and
    ``amortisation`` = ELBO(q*) − ELBO(q_φ) (the encoder's q is not the best Gaussian for this x);
    also ``log_px``, ``elbo`` (the encoder's q), ``elbo_best`` and q*'s ``mu``/``logvar``."""
    log_px = quad.log_px() if rows is None else quad.log_px()[rows]
    with torch.no_grad():
        elbo_enc = quad.elbo(rows=rows)
    mu, logvar, elbo_best = best_gaussian(quad, rows, steps=steps, lr=lr)
    return {"log_px": log_px, "elbo": elbo_enc, "elbo_best": elbo_best, "approximation": log_px - elbo_best,
            "amortisation": elbo_best - elbo_enc, "mu": mu, "logvar": logvar}

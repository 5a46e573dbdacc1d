"""Experiments of the VAE lecture (slides: 变分自编码器) that sit above the algorithm in :mod:`coursekit.vae`.

- :func:`gradient_samples`   one-sample estimates of ∇_{μ, log σ²} E_{q(z)}[f(z)], by the reparameterisation
  trick or by the score-function (REINFORCE) estimator, so their variances can be compared on one objective
- :func:`elbo_terms`         the two terms of the ELBO on a data set: reconstruction E_q[log p(x | z)] and KL
- :func:`beta_sweep`         small β-VAEs (the KL term weighted by β) trained at a handful of β values
- :func:`quadrature_bounds`  for a 2-D latent: log p(x) by quadrature on a grid, the exact ELBO and the gap
  KL(q(z | x) ‖ p(z | x)) = log p(x) − ELBO

No plotting here (``coursekit.viz.vae`` draws these numbers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from . import train
from ._checks import check_choice, check_tensor
from .vae import VAE, categorical_log_prob, gaussian_kl, gaussian_log_prob, reparameterize

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
# Exact numbers for a 2-D latent: log p(x) by quadrature
# ---------------------------------------------------------------------------------------------------------

@torch.no_grad()
def quadrature_bounds(model: VAE, x: Tensor, n: int = 161, width: float = 8.0) -> dict[str, Tensor]:
    """For a VAE with latent_dim = 2, per image of x (batch, 1, H, W), on an n × n grid of z centred on the
    encoder's mean μ_φ(x) with half-width ``width`` · max(σ_φ(x), 0.5 / width):

    - ``log_px``  log p_θ(x) = log ∫ p_θ(x | z) p(z) dz                    (the likelihood the VAE cannot compute)
    - ``elbo``    ∫ q(z | x) [log p_θ(x, z) − log q(z | x)] dz                   (the ELBO without sampling noise)
    - ``gap``     KL(q(z | x) ‖ p_θ(z | x)) with p_θ(z | x) = p_θ(x, z) / p_θ(x) on the grid (= log_px − elbo)
    - ``mass_q``  the grid's share of q's mass (≈ 1 when the grid covers q)
    """
    if not isinstance(model, VAE) or model.latent_dim != 2 or model.num_classes is not None:
        raise ValueError("model must be an unconditional coursekit.vae.VAE with latent_dim = 2")
    check_tensor("x", x, ndim=4)
    if not isinstance(n, int) or n < 3:
        raise ValueError(f"n must be an int >= 3, got {n!r}")
    if not width > 0:
        raise ValueError(f"width must be positive, got {width!r}")
    was = model.training
    model.eval()
    out: dict[str, list[Tensor]] = {"log_px": [], "elbo": [], "gap": [], "mass_q": []}
    try:
        device = next(model.parameters()).device
        x = x.to(device)
        mu, logvar = model.encode(x)
        for i in range(x.shape[0]):
            half = width * max(float(torch.exp(0.5 * logvar[i]).max()), 0.5 / width)
            axis = torch.linspace(-half, half, n, device=device)
            za, zb = torch.meshgrid(axis + mu[i, 0], axis + mu[i, 1], indexing="ij")
            z = torch.stack([za.reshape(-1), zb.reshape(-1)], dim=1)                   # (n², 2)
            log_area = 2 * math.log(float(axis[1] - axis[0]))                            # log dz of one cell
            log_joint = torch.cat([
                categorical_log_prob(model.decode(zc), x[i:i + 1].expand(zc.shape[0], *x.shape[1:]), model.levels)
                for zc in z.split(4096)]) + gaussian_log_prob(z)                       # log p(x | z) + log p(z)
            log_px = torch.logsumexp(log_joint, 0) + log_area                           # ∫ p(x, z) dz
            log_q = gaussian_log_prob(z, mu[i:i + 1], logvar[i:i + 1])
            q = torch.exp(log_q + log_area)                                              # q's mass per cell
            mass = q.sum()
            q = q / mass
            elbo_exact = (q * (log_joint - log_q)).sum()                                 # E_q[log p(x,z) − log q]
            out["log_px"].append(log_px)
            out["elbo"].append(elbo_exact)
            out["gap"].append((q * (log_q - (log_joint - log_px))).sum())                # KL(q ‖ p(z | x))
            out["mass_q"].append(mass)
    finally:
        model.train(was)
    return {k: torch.stack(v).cpu() for k, v in out.items()}

"""DDPM's variational bound on −log p_θ(x_0), in bits per dimension (slides: 扩散模型 vs. VAE).

A diffusion model is a VAE with T latent layers x_1 … x_T and a fixed encoder q, so it has an ELBO too
(Ho et al. 2020, eq. 5):

    −log p_θ(x_0) ≤ L = L_T + Σ_{t=2}^{T} L_{t−1} + L_0
    L_T     = KL(q(x_T | x_0) ‖ N(0, I))                                 (prior term, no parameters)
    L_{t−1} = KL(q(x_{t−1} | x_t, x_0) ‖ p_θ(x_{t−1} | x_t))             (one denoising step)
    L_0     = −log p_θ(x_0 | x_1)                                         (discretised Gaussian decoder)

q(x_{t−1} | x_t, x_0) = N(μ̃_t, β̃_t I) and p_θ(x_{t−1} | x_t) = N(μ_θ(x_t, t), σ_t² I) with
μ_θ = 1/√α_t (x_t − β_t/√(1 − ᾱ_t) ε_θ(x_t, t)) (Algorithm 2's mean), so each L_{t−1} is a closed-form KL
between Gaussians. The decoder integrates N(μ_θ(x_1, 1), σ_1²) over the bin of width 2/(L − 1) around each
of the L grey levels (the outer bins reach ±∞), so L is a bound on a DISCRETE likelihood and its bits/dim are
comparable with PixelCNN's exact value and the categorical VAE's bound. Each example gets one draw of x_t
per t (a Monte Carlo estimate of the expectation over q in every term except L_T, which is exact).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .._checks import check_choice, check_tensor
from .forward import q_sample
from .schedule import Schedule
from .training import TARGETS

DIGIT_LEVELS = 17


def _normal_kl(mu_q: Tensor, var_q: Tensor | float, mu_p: Tensor, var_p: Tensor | float) -> Tensor:
    """KL(N(μ_q, σ_q²) ‖ N(μ_p, σ_p²)) elementwise: ½ (log σ_p²/σ_q² + (σ_q² + (μ_q − μ_p)²)/σ_p² − 1)."""
    var_q = torch.as_tensor(var_q, dtype=mu_q.dtype, device=mu_q.device)
    var_p = torch.as_tensor(var_p, dtype=mu_q.dtype, device=mu_q.device)
    return 0.5 * (torch.log(var_p) - torch.log(var_q) + (var_q + (mu_q - mu_p) ** 2) / var_p - 1.0)


def _log_mass_between(lo: Tensor, hi: Tensor) -> Tensor:
    """log(Φ(hi) − Φ(lo)) for lo < hi, stable in both tails (the far tail is mirrored to the left one)."""
    mirror = lo > 0
    a, b = torch.where(mirror, -hi, lo), torch.where(mirror, -lo, hi)
    log_b, log_a = torch.special.log_ndtr(b), torch.special.log_ndtr(a)
    return log_b + torch.log(-torch.expm1((log_a - log_b).clamp(max=-1e-30)))


def discretized_gaussian_log_likelihood(x: Tensor, mean: Tensor, std: Tensor | float,
                                        levels: int = DIGIT_LEVELS) -> Tensor:
    """log P(x) per element, x on the grid {−1, −1 + δ, …, 1} with δ = 2/(levels − 1), under N(mean, std²)
    integrated over [x − δ/2, x + δ/2] (−∞ for the lowest level's bin, +∞ for the highest level's)."""
    check_tensor("x", x)
    if not isinstance(levels, int) or levels < 2:
        raise ValueError(f"levels must be an int >= 2, got {levels!r}")
    x, mean = x.double(), mean.double()
    std = torch.as_tensor(std, dtype=torch.float64, device=x.device)
    half = 1.0 / (levels - 1)                                   # δ/2
    hi = (x - mean + half) / std
    lo = (x - mean - half) / std
    log_cdf_hi = torch.special.log_ndtr(hi)                    # lowest bin: Φ(hi)
    log_sf_lo = torch.special.log_ndtr(-lo)                    # highest bin: 1 − Φ(lo)
    middle = _log_mass_between(lo, hi)
    return torch.where(x < -1.0 + half, log_cdf_hi, torch.where(x > 1.0 - half, log_sf_lo, middle))


@dataclass
class VariationalBound:
    """The terms of L per example, in nats, and the total in bits/dim."""

    prior: Tensor            # L_T, shape (N,)
    steps: Tensor            # L_{t−1} for t = 1..T (entry t−1; entry 0 holds L_0, the decoder), shape (N, T)
    dims: int                # D, the number of dimensions of one x_0

    @property
    def decoder(self) -> Tensor:
        """L_0 = −log p_θ(x_0 | x_1), shape (N,)."""
        return self.steps[:, 0]

    @property
    def total(self) -> Tensor:
        """L = L_T + Σ_{t≥2} L_{t−1} + L_0 per example (nats)."""
        return self.prior + self.steps.sum(dim=1)

    @property
    def bits_per_dim(self) -> Tensor:
        """L / (D ln 2) per example: an upper bound on −log₂ p_θ(x_0) / D."""
        return self.total / (self.dims * math.log(2.0))


@torch.no_grad()
def variational_bound(model: nn.Module, s: Schedule, x0: Tensor, *, y: Tensor | None = None,
                      levels: int = DIGIT_LEVELS, variance: str = "beta", batch_size: int = 512,
                      generator: torch.Generator | None = None, prediction: str = "eps") -> VariationalBound:
    """DDPM's bound L (Ho et al. 2020, eq. 5) for an ε-prediction model, term by term, per example.

    x0: images (N, …) on the ``levels``-level grid in [−1, 1] (the digits: 17 levels). ``variance`` is the
    reverse-process σ_t² used for sampling: "beta" (β_t) or "beta_tilde" (β̃_t). At t = 1 the decoder uses
    σ_1² = β_1 either way (β̃_1 = 0 would make it a point mass). Costs T model calls per example.
    ``prediction="x0"``: the model predicts x̂_0, and μ_θ = μ̃_t(x̂_0, x_t) (the same mean as Algorithm 2 uses).
    """
    check_tensor("x0", x0, min_ndim=2)
    check_choice("variance", variance, ("beta", "beta_tilde"))
    check_choice("prediction", prediction, TARGETS)
    if x0.device != s.device:
        raise ValueError(f"x0 is on {x0.device} but the schedule is on {s.device}; use s.to({x0.device!s})")
    if y is not None and (not isinstance(y, Tensor) or y.shape != (x0.shape[0],) or y.is_floating_point()):
        raise ValueError(f"y must be an integer tensor of shape ({x0.shape[0]},), got {getattr(y, 'shape', y)}")
    was_training = model.training
    model.eval()
    priors, steps = [], []
    try:
        for start in range(0, x0.shape[0], batch_size):
            xb = x0[start:start + batch_size]
            yb = None if y is None else y[start:start + batch_size]
            priors.append(_prior_term(s, xb))
            steps.append(_step_terms(model, s, xb, yb, levels, variance, generator, prediction))
    finally:
        model.train(was_training)
    return VariationalBound(prior=torch.cat(priors), steps=torch.cat(steps), dims=x0[0].numel())


def _prior_term(s: Schedule, x0: Tensor) -> Tensor:
    """L_T = KL(N(√ᾱ_T x_0, (1 − ᾱ_T) I) ‖ N(0, I)), summed over dimensions (float64)."""
    a_T = float(s.alpha_bars[-1])
    return _normal_kl(x0.double() * math.sqrt(a_T), 1.0 - a_T, torch.zeros((), dtype=torch.float64,
                                                                             device=x0.device), 1.0).flatten(1).sum(1)


def _step_terms(model: nn.Module, s: Schedule, x0: Tensor, y: Tensor | None, levels: int, variance: str,
                generator: torch.Generator | None, prediction: str = "eps") -> Tensor:
    batch = x0.shape[0]
    sigma_sq = (s.betas if variance == "beta" else s.posterior_variance).double().tolist()
    betas, alphas = s.betas.double().tolist(), s.alphas.double().tolist()
    sqrt_1m_ab = s.sqrt_one_minus_alpha_bars.double().tolist()
    coef_x0, coef_xt = s.posterior_mean_coef_x0.double().tolist(), s.posterior_mean_coef_xt.double().tolist()
    post_var = s.posterior_variance.double().tolist()
    out = torch.empty(batch, s.T, dtype=torch.float64, device=x0.device)
    t_in = torch.empty(batch, dtype=torch.long, device=x0.device)
    x0d = x0.double()
    for t in range(1, s.T + 1):
        i = t - 1
        noise = torch.randn(x0.shape, device=x0.device, dtype=x0.dtype, generator=generator)
        x_t = q_sample(s, x0, t, noise)                                          # x_t ~ q(x_t | x_0)
        t_in.fill_(t)
        out_t = model(x_t, t_in) if y is None else model(x_t, t_in, y)          # ε_θ(x_t, t) or x̂_0
        x_td = x_t.double()
        if prediction == "x0":
            mu_theta = coef_x0[i] * out_t.double() + coef_xt[i] * x_td           # μ̃_t(x̂_0, x_t)
        else:
            mu_theta = (x_td - betas[i] / sqrt_1m_ab[i] * out_t.double()) / math.sqrt(alphas[i])   # μ_θ(x_t, t)
        if t == 1:                                                               # L_0 = −log p_θ(x_0 | x_1)
            log_p = discretized_gaussian_log_likelihood(x0d, mu_theta, math.sqrt(betas[0]), levels)
            out[:, 0] = -log_p.flatten(1).sum(1)
        else:                                                                    # L_{t−1}
            mu_tilde = coef_x0[i] * x0d + coef_xt[i] * x_td                      # μ̃_t(x_t, x_0)
            out[:, i] = _normal_kl(mu_tilde, post_var[i], mu_theta, sigma_sq[i]).flatten(1).sum(1)
    return out

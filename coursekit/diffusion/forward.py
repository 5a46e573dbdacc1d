"""The forward (noising) process q, both ways the slides write it (前向扩散过程).

Markov step:   x_t = √(1 − β_t) x_{t−1} + √β_t ε_t          (马尔可夫链建模)
Closed form:   x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε                 (实际: q(x_t | x_0))
Posterior:     q(x_{t−1} | x_t, x_0) = N(μ̃_t, β̃_t I)
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._checks import as_timesteps, check_like, check_tensor
from .schedule import Schedule


def _gather(values: Tensor, t: Tensor, ndim: int) -> Tensor:
    """values[t − 1] reshaped to (batch, 1, …, 1); t already validated."""
    return values[t - 1].reshape(-1, *([1] * (ndim - 1)))


def _checked(s: Schedule, x: Tensor, x_name: str, t: int | Tensor, noise: Tensor | None,
             noise_name: str = "noise") -> Tensor:
    check_tensor(x_name, x, min_ndim=1)
    if noise is None:
        raise ValueError(f"{noise_name} must be a tensor shaped like {x_name} (e.g. torch.randn_like({x_name})), "
                         f"got None")
    if x.device != s.device:
        raise ValueError(f"{x_name} is on {x.device} but the schedule is on {s.device}; use s.to({x.device!s})")
    if noise is not None:
        check_like(noise_name, noise, x_name, x)
    return as_timesteps(t, s.T, x.shape[0], x.device)


def forward_step(s: Schedule, x_prev: Tensor, t: int | Tensor, noise: Tensor) -> Tensor:
    """One Markov step of the forward chain: x_t = √(1 − β_t) x_{t−1} + √β_t ε_t (Algorithm 1.2, line 7)."""
    t = _checked(s, x_prev, "x_prev", t, noise)
    beta_t = _gather(s.betas, t, x_prev.ndim).to(x_prev.dtype)
    return torch.sqrt(1.0 - beta_t) * x_prev + torch.sqrt(beta_t) * noise


def q_sample(s: Schedule, x0: Tensor, t: int | Tensor, noise: Tensor) -> Tensor:
    """Jump straight to step t: x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε, a sample of q(x_t | x_0)."""
    t = _checked(s, x0, "x0", t, noise)
    sqrt_alpha_bar = _gather(s.sqrt_alpha_bars, t, x0.ndim).to(x0.dtype)
    sqrt_one_minus_alpha_bar = _gather(s.sqrt_one_minus_alpha_bars, t, x0.ndim).to(x0.dtype)
    return sqrt_alpha_bar * x0 + sqrt_one_minus_alpha_bar * noise


def predict_x0(s: Schedule, x_t: Tensor, t: int | Tensor, eps: Tensor) -> Tensor:
    """Invert the closed form for x_0 given a noise estimate: x̂_0 = (x_t − √(1 − ᾱ_t) ε) / √ᾱ_t."""
    t = _checked(s, x_t, "x_t", t, eps, "eps")
    sqrt_alpha_bar = _gather(s.sqrt_alpha_bars, t, x_t.ndim).to(x_t.dtype)
    sqrt_one_minus_alpha_bar = _gather(s.sqrt_one_minus_alpha_bars, t, x_t.ndim).to(x_t.dtype)
    return (x_t - sqrt_one_minus_alpha_bar * eps) / sqrt_alpha_bar


def q_posterior(s: Schedule, x0: Tensor, x_t: Tensor, t: int | Tensor) -> tuple[Tensor, Tensor]:
    """Mean μ̃_t and variance β̃_t of q(x_{t−1} | x_t, x_0).

    μ̃_t = √ᾱ_{t−1} β_t / (1 − ᾱ_t) · x_0 + √α_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · x_t,
    β̃_t = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · β_t.
    """
    t = _checked(s, x_t, "x_t", t, x0, "x0")
    coef_x0 = _gather(s.posterior_mean_coef_x0, t, x_t.ndim).to(x_t.dtype)
    coef_xt = _gather(s.posterior_mean_coef_xt, t, x_t.ndim).to(x_t.dtype)
    variance = _gather(s.posterior_variance, t, x_t.ndim).to(x_t.dtype)
    return coef_x0 * x0 + coef_xt * x_t, variance


def forward_chain(s: Schedule, x0: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Run the whole Markov chain from x_0 (Algorithm 1.2, lines 3–7): returns (T + 1, *x0.shape),
    entry [t] is x_t. Meant for illustration and small batches; training uses the closed form."""
    check_tensor("x0", x0, min_ndim=1)
    xs = [x0]
    for t in range(1, s.T + 1):
        eps = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        xs.append(forward_step(s, xs[-1], t, eps))
    return torch.stack(xs)

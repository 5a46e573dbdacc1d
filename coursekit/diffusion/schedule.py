"""Noise schedules β_1 … β_T and every quantity derived from them (slides: 前向扩散过程, 噪声调度).

Slide notation: t = 1..T, α_t = 1 − β_t, ᾱ_t = ∏_{i=1}^t α_i. Tensors are 0-indexed, so entry [t − 1]
holds step t. Everything is computed in float64 and stored in the requested dtype, so a float32 schedule
is the float64 one rounded once (not a product of rounded factors).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
from torch import Tensor

from .._checks import as_timesteps, check_choice, check_float_dtype

SCHEDULES = ("linear", "cosine", "quadratic", "sigmoid")


def _betas(name: str, T: int, beta_start: float, beta_end: float, s: float, max_beta: float) -> Tensor:
    f64 = torch.float64
    if name == "linear":          # DDPM: β from 1e-4 to 0.02 in equal steps
        return torch.linspace(beta_start, beta_end, T, dtype=f64)
    if name == "quadratic":       # √β in equal steps (Stable Diffusion's "scaled_linear")
        return torch.linspace(beta_start**0.5, beta_end**0.5, T, dtype=f64) ** 2
    if name == "sigmoid":         # β follows a sigmoid from β_start to β_end
        return torch.sigmoid(torch.linspace(-6, 6, T, dtype=f64)) * (beta_end - beta_start) + beta_start
    # cosine (Nichol & Dhariwal 2021): ᾱ(t) = f(t)/f(0), f(t) = cos²(((t/T + s)/(1 + s))·π/2),
    # β_t = 1 − ᾱ(t)/ᾱ(t − 1), clipped at max_beta so the last steps do not destroy the signal at once
    steps = torch.arange(T + 1, dtype=f64) / T
    f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
    return (1 - f[1:] / f[:-1]).clamp(max=max_beta)


@dataclass(frozen=True)
class Schedule:
    """A β-schedule and its derived coefficients; every tensor has length T, entry [t − 1] is step t."""

    name: str
    T: int
    betas: Tensor                     # β_t
    alphas: Tensor                    # α_t = 1 − β_t
    alpha_bars: Tensor                # ᾱ_t = ∏_{i≤t} α_i
    alpha_bars_prev: Tensor           # ᾱ_{t−1}, with ᾱ_0 = 1
    sqrt_alpha_bars: Tensor           # √ᾱ_t            (signal scale in q(x_t | x_0))
    sqrt_one_minus_alpha_bars: Tensor  # √(1 − ᾱ_t)      (noise scale in q(x_t | x_0))
    posterior_variance: Tensor        # β̃_t = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · β_t
    posterior_mean_coef_x0: Tensor    # √ᾱ_{t−1} β_t / (1 − ᾱ_t)       multiplies x_0 in μ̃_t
    posterior_mean_coef_xt: Tensor    # √α_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t)  multiplies x_t in μ̃_t
    snr: Tensor                       # SNR(t) = ᾱ_t / (1 − ᾱ_t)

    @property
    def log_snr(self) -> Tensor:
        return torch.log(self.snr)

    @property
    def device(self) -> torch.device:
        return self.betas.device

    @property
    def dtype(self) -> torch.dtype:
        return self.betas.dtype

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> Schedule:
        """A copy on another device and/or dtype (re-derived from float64 betas when the dtype changes)."""
        if dtype is not None and dtype != self.dtype:
            return schedule_from_betas(self.betas.double().cpu(), name=self.name, dtype=dtype).to(device)
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for key, value in values.items():
            if isinstance(value, Tensor):
                values[key] = value.to(device)
        return Schedule(**values)

    def at(self, values: Tensor, t: int | Tensor, ndim: int) -> Tensor:
        """values[t − 1] shaped (batch, 1, …, 1) to broadcast against a tensor with ``ndim`` dimensions."""
        batch = t.shape[0] if isinstance(t, Tensor) and t.ndim == 1 else 1
        t = as_timesteps(t, self.T, batch, values.device)
        return values[t - 1].reshape(-1, *([1] * (ndim - 1)))


def schedule_from_betas(betas: Tensor, name: str = "custom", dtype: torch.dtype = torch.float32) -> Schedule:
    """Derive every coefficient from β_1..β_T (given as a 1-D tensor; computed in float64)."""
    check_float_dtype("dtype", dtype)
    betas = torch.as_tensor(betas, dtype=torch.float64).cpu()
    if betas.ndim != 1 or len(betas) < 1:
        raise ValueError(f"betas must be a non-empty 1-D tensor, got shape {tuple(betas.shape)}")
    if not bool(((betas > 0) & (betas < 1)).all()):
        raise ValueError("betas must lie strictly between 0 and 1")
    alphas = 1.0 - betas                                             # α_t = 1 − β_t
    alpha_bars = torch.cumprod(alphas, dim=0)                        # ᾱ_t = ∏ α_i
    alpha_bars_prev = torch.cat([torch.ones(1, dtype=torch.float64), alpha_bars[:-1]])
    one_minus = 1.0 - alpha_bars
    values = dict(
        betas=betas,
        alphas=alphas,
        alpha_bars=alpha_bars,
        alpha_bars_prev=alpha_bars_prev,
        sqrt_alpha_bars=alpha_bars.sqrt(),
        sqrt_one_minus_alpha_bars=one_minus.sqrt(),
        posterior_variance=(1.0 - alpha_bars_prev) / one_minus * betas,       # β̃_t
        posterior_mean_coef_x0=alpha_bars_prev.sqrt() * betas / one_minus,
        posterior_mean_coef_xt=alphas.sqrt() * (1.0 - alpha_bars_prev) / one_minus,
        snr=alpha_bars / one_minus,
    )
    return Schedule(name=name, T=len(betas), **{k: v.to(dtype) for k, v in values.items()})


def make_schedule(name: str = "linear", T: int = 1000, *, beta_start: float = 1e-4, beta_end: float = 0.02,
                  s: float = 0.008, max_beta: float = 0.999, dtype: torch.dtype = torch.float32,
                  device: str | torch.device | None = None) -> Schedule:
    """Build a named schedule: "linear" (DDPM, β 1e-4 → 0.02), "cosine" (s = 0.008, β ≤ 0.999),
    "quadratic" or "sigmoid" (both between ``beta_start`` and ``beta_end``).

    The DDPM defaults are for T = 1000; for a shorter chain scale the β range up (e.g. ``beta_end``
    = 0.02 · 1000 / T) so that ᾱ_T still ends near 0.
    """
    check_choice("name", name, SCHEDULES)
    check_float_dtype("dtype", dtype)
    if not isinstance(T, int) or isinstance(T, bool) or T < 1:
        raise ValueError(f"T must be a positive int, got {T!r}")
    if not 0 < beta_start <= beta_end < 1:
        raise ValueError(f"beta_start and beta_end must satisfy 0 < beta_start <= beta_end < 1, "
                         f"got {beta_start}, {beta_end}")
    if not 0 < max_beta < 1:
        raise ValueError(f"max_beta must be in (0, 1), got {max_beta}")
    betas = _betas(name, T, beta_start, beta_end, s, max_beta)
    return schedule_from_betas(betas, name=name, dtype=dtype).to(device)

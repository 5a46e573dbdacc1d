"""The minimax game on densities we can write down (1-D grids): D*, V(D*, G) and the Jensen–Shannon divergence.

For a fixed G the inner maximisation of the slides' objective is pointwise:

    V(D, G) = ∫ p_data(x) log D(x) + p_g(x) log(1 − D(x)) dx,
    a log y + b log(1 − y) is largest at y = a / (a + b)   ⇒   D*(x) = p_data(x) / (p_data(x) + p_g(x)).

Substituting D* back, with m = (p_data + p_g) / 2:

    V(D*, G) = E_pdata log(p_data / 2m) + E_pg log(p_g / 2m) = −log 4 + KL(p_data ‖ m) + KL(p_g ‖ m)
             = −log 4 + 2 JSD(p_data ‖ p_g),

so the best generator (p_g = p_data, JSD = 0) reaches V = −log 4 with D* ≡ ½: the Nash equilibrium.
Densities here are values on an evenly spaced grid with spacing ``dx``; integrals are Riemann sums.
:func:`fit_discriminator` trains a network D against a *fixed* G, to compare the learned D with D*.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._checks import check_tensor
from .losses import discriminator_loss


def _density(name: str, p: object) -> Tensor:
    check_tensor(name, p)
    if bool((p < 0).any()):
        raise ValueError(f"{name} must be a density (non-negative values)")
    return p.double()


def _dx(dx: float) -> float:
    if not isinstance(dx, (int, float)) or not dx > 0:
        raise ValueError(f"dx must be a positive number (the grid spacing), got {dx!r}")
    return float(dx)


def gaussian_density(x: Tensor, mean: float, std: float) -> Tensor:
    """N(x; mean, std²) evaluated at every entry of x."""
    check_tensor("x", x)
    if not std > 0:
        raise ValueError(f"std must be > 0, got {std}")
    return torch.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


def value_of(d: Tensor, p_data: Tensor, p_g: Tensor, dx: float) -> float:
    """V(D, G) = ∫ p_data log D + p_g log(1 − D) dx for a discriminator given by its values d = D(x) on the grid
    (0 · log 0 counts as 0, as in the integral; D and 1 − D are floored at the smallest float64, so a density that
    underflowed beside a subnormal one adds ≈ 0 instead of −∞)."""
    p, q, step = _density("p_data", p_data), _density("p_g", p_g), _dx(dx)
    check_tensor("d", d)
    if d.shape != p.shape or q.shape != p.shape:
        raise ValueError(f"d, p_data and p_g must have the same shape, got {tuple(d.shape)}, {tuple(p.shape)}, "
                         f"{tuple(q.shape)}")
    if bool((d < 0).any()) or bool((d > 1).any()):
        raise ValueError("d must hold probabilities D(x) in [0, 1]")
    tiny = torch.finfo(torch.float64).tiny            # D* = 0 or 1 where one density underflowed: log stays finite
    d = d.double()
    return float((torch.xlogy(p, d.clamp_min(tiny)) + torch.xlogy(q, (1 - d).clamp_min(tiny))).sum() * step)


def value_of_logits(logits: Tensor, p_data: Tensor, p_g: Tensor, dx: float) -> float:
    """V(D, G) for a discriminator given by its logits ℓ(x) on the grid, D = σ(ℓ), computed stably:
    ∫ p_data log σ(ℓ) + p_g log σ(−ℓ) dx (a trained D is often so sure far from the data that σ(ℓ) rounds to 1)."""
    p, q, step = _density("p_data", p_data), _density("p_g", p_g), _dx(dx)
    check_tensor("logits", logits)
    if logits.shape != p.shape or q.shape != p.shape:
        raise ValueError(f"logits, p_data and p_g must have the same shape, got {tuple(logits.shape)}, "
                         f"{tuple(p.shape)}, {tuple(q.shape)}")
    ell = logits.double()
    return float((p * F.logsigmoid(ell) + q * F.logsigmoid(-ell)).sum() * step)


def kl_divergence(p: Tensor, q: Tensor, dx: float) -> float:
    """KL(p ‖ q) = ∫ p log(p / q) dx (infinite where p > 0 = q)."""
    p, q, step = _density("p", p), _density("q", q), _dx(dx)
    if bool(((p > 0) & (q == 0)).any()):
        return math.inf
    return float((torch.xlogy(p, p) - torch.xlogy(p, q)).sum() * step)


def jensen_shannon(p: Tensor, q: Tensor, dx: float) -> float:
    """JSD(p ‖ q) = ½ KL(p ‖ m) + ½ KL(q ‖ m), m = (p + q) / 2; between 0 (p = q) and log 2 (disjoint supports)."""
    p, q = _density("p", p), _density("q", q)
    m = (p + q) / 2
    return 0.5 * kl_divergence(p, m, dx) + 0.5 * kl_divergence(q, m, dx)


def fit_discriminator(D: nn.Module, sample_data: Callable[[int], Tensor], sample_g: Callable[[int], Tensor],
                      steps: int = 500, batch_size: int = 256, lr: float = 1e-2, seed: int = 0) -> list[float]:
    """Train D alone against a *fixed* generator: gradient ascent on V (minimising −V with Adam).

    ``sample_data(n)`` and ``sample_g(n)`` draw n points (n, dim) of p_data and p_g. Returns D's losses.
    For a flexible D the result approaches D* = p_data / (p_data + p_g) where the data are.
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    torch.manual_seed(seed)
    opt = torch.optim.Adam(D.parameters(), lr=lr)
    losses = []
    D.train()
    for _ in range(steps):
        loss = discriminator_loss(D(sample_data(batch_size)), D(sample_g(batch_size)))    # −V(D, G)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    D.eval()
    return losses


# ---------------------------------------------------------------------------------------------------------
# What each generator loss minimises when D is optimal (Goodfellow 2016, §3.2; Arjovsky & Bottou 2017, Thm 2.5)
# ---------------------------------------------------------------------------------------------------------

def nonsaturating_divergence(p_data: Tensor, p_g: Tensor, dx: float) -> float:
    """KL(p_g ‖ p_data) − 2 JSD(p_data ‖ p_g): the divergence whose gradient the non-saturating loss follows.

    With D = D* for the current G, the non-saturating step's gradient ∇_θg E_{p_g}[−log D*(x)] (D* held fixed,
    as in G's step) equals ∇_θg of this quantity. From p_g / p_data = (1 − D*) / D*:

        KL(p_g ‖ p_data) = E_pg log(1 − D*) − E_pg log D*,    2 JSD = log 4 + E_pdata log D* + E_pg log(1 − D*)
        ⇒ KL(p_g ‖ p_data) − 2 JSD = E_pg[−log D*] − E_pdata[log D*] − log 4,

    and the terms through D*'s own dependence on θ_g add ∫ ∇p_g = 0. The reverse KL is mode seeking: it costs
    nothing where p_g leaves a mode of p_data empty, and a lot where p_g puts mass that p_data lacks.
    """
    return kl_divergence(p_g, p_data, dx) - 2 * jensen_shannon(p_data, p_g, dx)


def wasserstein_1d(p: Tensor, q: Tensor, dx: float) -> float:
    """W₁(p, q) = ∫ |F_p(x) − F_q(x)| dx for densities on a 1-D grid (F: the cumulative distribution).

    Unlike the JSD it keeps growing as the two move apart: W₁(N(0, 1), N(μ, 1)) = |μ|, so its slope is never
    zero, the property WGAN (Arjovsky, Chintala & Bottou 2017) trains G on."""
    p, q, step = _density("p", p), _density("q", q), _dx(dx)
    if p.shape != q.shape or p.ndim != 1:
        raise ValueError(f"p and q must be 1-D densities on the same grid, got {tuple(p.shape)}, {tuple(q.shape)}")
    return float((torch.cumsum(p, 0) - torch.cumsum(q, 0)).abs().sum() * step * step)

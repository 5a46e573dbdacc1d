"""Training objectives (slides: 训练过程).

Algorithm 1.2 (将生成建模转化为监督预测问题): regress x_{t−1} from (x_t, t),
    θ* = argmin_θ Σ_i Σ_t L(f_θ(x_t^{(i)}, t), x_{t−1}^{(i)}).
DDPM Algorithm 1 (L_simple): predict the noise,
    L_simple = E_{x_0, ε, t ~ U(1, T)} ‖ε − ε_θ(√ᾱ_t x_0 + √(1 − ᾱ_t) ε, t)‖².
Min-SNR-γ weighting (Hang et al. 2023, "Efficient Diffusion Training via Min-SNR Weighting Strategy"):
    L = E[ w_t ‖ε − ε_θ(x_t, t)‖² ],  w_t = min(SNR_t, γ) / SNR_t,  SNR_t = ᾱ_t / (1 − ᾱ_t),
which lowers the weight of the small-t (high-SNR, nearly clean) steps, where predicting ε is hard and matters little.
Predicting x_0 instead of ε (``prediction="x0"``): the network outputs x̂_0 and the loss is ‖x_0 − x̂_0‖², which
is ‖ε − ε̂‖² / SNR_t for the ε̂ it implies (x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε gives x_0 − x̂_0 = −(ε − ε̂) / √SNR_t);
min-SNR-γ then weights it by w_t = min(SNR_t, γ), so the ε-error is weighted by min(SNR_t, γ) / SNR_t, the same
weighting as above, with another output for the network to learn.
The variational bound's own weights (``weighting="vlb"``, DDPM eq. 12, σ_t² = β_t):
    L_{t−1} = λ_t ‖ε − ε_θ(x_t, t)‖² + C_t,   λ_t = β_t² / (2 σ_t² α_t (1 − ᾱ_t)) = β_t / (2 α_t (1 − ᾱ_t)),
so with t ~ U{1..T} the loss times T·dim(x) is the bound L up to terms without θ (L_T and the C_t; the t = 1
term stands in for L_0 as DDPM does). L_simple drops λ_t, which is largest at small t (DDPM Table 2: better
samples, a worse bound).

A denoiser is any module called as ``model(x_t, t)`` (or ``model(x_t, t, y)`` when conditional) with t a
long tensor of shape (batch,) in 1..T. Labels equal to ``NULL_LABEL`` mean "no condition" (classifier-free
guidance trains one network for both).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._checks import as_timesteps, check_choice, check_tensor
from .forward import forward_step, q_sample
from .schedule import Schedule

NULL_LABEL = -1
WEIGHTINGS = ("simple", "min_snr", "vlb")
T_SAMPLINGS = ("uniform", "importance")
TARGETS = ("eps", "x0")


def _random_t(s: Schedule, batch: int, device: torch.device, generator: torch.Generator | None) -> Tensor:
    return torch.randint(1, s.T + 1, (batch,), device=device, generator=generator)   # t ~ U({1, …, T})


def _call(model: nn.Module, x_t: Tensor, t: Tensor, y: Tensor | None) -> Tensor:
    return model(x_t, t) if y is None else model(x_t, t, y)


def drop_labels(y: Tensor, p_uncond: float, generator: torch.Generator | None = None) -> Tensor:
    """Replace each label by NULL_LABEL with probability p_uncond (classifier-free guidance training)."""
    if not 0.0 <= p_uncond <= 1.0:
        raise ValueError(f"p_uncond must be in [0, 1], got {p_uncond}")
    if p_uncond == 0.0:
        return y
    drop = torch.rand(y.shape, device=y.device, generator=generator) < p_uncond
    return torch.where(drop, torch.full_like(y, NULL_LABEL), y)


def _check_labels(y: Tensor | None, batch: int) -> None:
    if y is not None and (not isinstance(y, Tensor) or y.shape != (batch,) or y.is_floating_point()):
        raise ValueError(f"y must be an integer tensor of shape ({batch},) (one label per example), "
                         f"got {getattr(y, 'shape', type(y).__name__)}")


def ddpm_loss(model: nn.Module, s: Schedule, x0: Tensor, *, t: int | Tensor | None = None,
              noise: Tensor | None = None, y: Tensor | None = None, p_uncond: float = 0.0,
              generator: torch.Generator | None = None, weighting: str = "simple", gamma: float = 5.0,
              prediction: str = "eps", t_sampling: str = "uniform") -> Tensor:
    """L_simple (DDPM Algorithm 1, lines 2–5): mean over the batch of ‖ε − ε_θ(x_t, t)‖² / dim(x).

    t and ε are drawn (t ~ U{1..T}, ε ~ N(0, I)) unless given. The squared norm is averaged over the
    dimensions of x, the usual scaling that keeps the loss near 1 at initialisation whatever the image size.
    ``y`` (with ``p_uncond`` dropout) trains a conditional denoiser ε_θ(x_t, t, y).

    ``weighting="min_snr"`` weights each example by w_t = min(SNR_t, γ) / SNR_t with SNR_t = ᾱ_t / (1 − ᾱ_t)
    and γ = ``gamma`` (min-SNR-γ, Hang et al. 2023, for the ε target): w_t = 1 where SNR_t ≤ γ (noisy steps),
    γ / SNR_t < 1 on the nearly clean ones. ``"simple"`` (the default) is L_simple, w_t = 1.

    ``weighting="vlb"`` weights each example by DDPM's λ_t = β_t / (2 α_t (1 − ᾱ_t)) (the weight of the ε-error
    in L_{t−1} with σ_t² = β_t): the variational bound itself, up to the factor T·dim(x) and terms without θ.

    ``prediction="x0"``: the network predicts x̂_0 and the loss is ‖x_0 − x̂_0‖² / dim(x), weighted by
    w_t = min(SNR_t, γ) under ``"min_snr"`` (Hang et al.'s weight for the x_0 target; the same weighting of the
    implied ε-error as the ε form) and by λ_t · SNR_t under ``"vlb"`` (‖ε − ε̂‖² = SNR_t ‖x_0 − x̂_0‖²).
    Sample such a model with ``diffusion.sample(..., prediction="x0")``.

    ``t_sampling="importance"`` draws t with probability p_t ∝ w_t instead of uniformly and weights every draw by
    the same mean_t w_t: the same expectation, E_{t~U}[w_t m_t] = mean(w) · E_{t~p}[m_t], with less noise when the
    w_t differ a lot (the bound's λ_t do: Nichol & Dhariwal 2021 needed it to train on the bound at all).
    """
    check_choice("t_sampling", t_sampling, T_SAMPLINGS)
    if t_sampling == "importance" and t is not None:
        raise ValueError("t_sampling='importance' draws t itself: give t or t_sampling='importance', not both")
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {', '.join(map(repr, WEIGHTINGS))}, got {weighting!r}")
    check_choice("prediction", prediction, TARGETS)
    if weighting == "min_snr" and not (isinstance(gamma, (int, float)) and math.isfinite(gamma) and gamma > 0):
        raise ValueError(f"gamma must be a finite number > 0, got {gamma!r}")
    check_tensor("x0", x0, min_ndim=2)
    batch = x0.shape[0]
    _check_labels(y, batch)
    if t_sampling == "importance":
        weights = loss_weights(s, weighting, gamma, prediction).to(x0.device).double()
        t = torch.multinomial(weights / weights.sum(), batch, replacement=True, generator=generator) + 1  # p_t ∝ w_t
    elif t is None:
        t = _random_t(s, batch, x0.device, generator)
    else:
        t = as_timesteps(t, s.T, batch, x0.device)
    if noise is None:
        noise = torch.randn(x0.shape, device=x0.device, dtype=x0.dtype, generator=generator)  # ε ~ N(0, I)
    x_t = q_sample(s, x0, t, noise)                                  # √ᾱ_t x_0 + √(1 − ᾱ_t) ε
    if y is not None:
        y = drop_labels(y, p_uncond, generator)
    pred = _call(model, x_t, t, y)                                   # ε_θ(x_t, t), or x̂_0 for prediction="x0"
    if pred.shape != noise.shape:
        raise ValueError(f"model output must have the shape of x0 {tuple(x0.shape)}, got {tuple(pred.shape)}")
    target = noise if prediction == "eps" else x0
    if weighting == "simple":
        return F.mse_loss(pred.float(), target.float())             # ‖ε − ε_θ‖² (or ‖x_0 − x̂_0‖²), averaged
    per_example = (pred.float() - target.float()).pow(2).flatten(1).mean(1)      # ‖ε − ε_θ‖² / dim(x)
    if t_sampling == "importance":
        return float(weights.mean()) * per_example.mean()           # every draw weighs mean(w): same expectation
    w = loss_weights(s, weighting, gamma, prediction).to(x0.device)[t - 1].float()
    return (w * per_example).mean()


def loss_weights(s: Schedule, weighting: str = "simple", gamma: float = 5.0, prediction: str = "eps") -> Tensor:
    """The weight w_t that ``ddpm_loss`` gives the squared error at each t = 1..T (entry t − 1):

    - ``"simple"``: 1 (L_simple);
    - ``"min_snr"``: min(SNR_t, γ) / SNR_t for the ε target, min(SNR_t, γ) for the x_0 target;
    - ``"vlb"``: λ_t (ε target) or λ_t · SNR_t (x_0 target), the bound's own weights (``vlb_weights``).
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {', '.join(map(repr, WEIGHTINGS))}, got {weighting!r}")
    snr = s.snr.double()                                             # SNR_t = ᾱ_t / (1 − ᾱ_t)
    if weighting == "simple":
        w = torch.ones_like(snr)
    elif weighting == "vlb":
        w = vlb_weights(s).double()                                  # λ_t, the bound's weight of ‖ε − ε_θ‖²
        if prediction == "x0":
            w = w * snr                                              # ‖ε − ε̂‖² = SNR_t ‖x_0 − x̂_0‖²
    elif prediction == "x0":
        w = snr.clamp(max=gamma)                                     # w_t = min(SNR_t, γ)
    else:
        w = gamma / snr.clamp(min=gamma)         # w_t = min(SNR_t, γ) / SNR_t = γ / max(SNR_t, γ) (no 0/0 at SNR 0)
    return w.to(s.dtype)


def vlb_weights(s: Schedule) -> Tensor:
    """λ_t = β_t² / (2 σ_t² α_t (1 − ᾱ_t)) with σ_t² = β_t, i.e. β_t / (2 α_t (1 − ᾱ_t)), for t = 1..T (entry
    t − 1): the weight of ‖ε − ε_θ(x_t, t)‖² in the bound's term L_{t−1} (DDPM eq. 12), which L_simple sets to 1."""
    betas, alphas = s.betas.double(), s.alphas.double()
    return (betas / (2.0 * alphas * (1.0 - s.alpha_bars.double()))).to(s.dtype)


def sequence_loss(model: nn.Module, s: Schedule, x0: Tensor, *, t: int | Tensor | None = None,
                  y: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
    """Algorithm 1.2's objective: L(f_θ(x_t, t), x_{t−1}) with L the mean squared error.

    Rather than storing whole chains (lines 4–7), each example gets a random t: x_{t−1} is drawn from
    q(x_{t−1} | x_0) in closed form and x_t from one Markov step of it — the same pair distribution as a
    simulated sequence, without the T-step loop.
    """
    check_tensor("x0", x0, min_ndim=2)
    batch = x0.shape[0]
    _check_labels(y, batch)
    t = _random_t(s, batch, x0.device, generator) if t is None else as_timesteps(t, s.T, batch, x0.device)
    eps_prev = torch.randn(x0.shape, device=x0.device, dtype=x0.dtype, generator=generator)
    eps_t = torch.randn(x0.shape, device=x0.device, dtype=x0.dtype, generator=generator)
    t_prev = (t - 1).clamp(min=1)
    x_prev = torch.where(_first(t, x0.ndim), x0, q_sample(s, x0, t_prev, eps_prev))   # x_0 when t = 1
    x_t = forward_step(s, x_prev, t, eps_t)                          # x_t = √(1 − β_t) x_{t−1} + √β_t ε_t
    return F.mse_loss(_call(model, x_t, t, y).float(), x_prev.float())


def _first(t: Tensor, ndim: int) -> Tensor:
    return (t == 1).reshape(-1, *([1] * (ndim - 1)))

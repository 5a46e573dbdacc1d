"""DDIM (Song, Meng & Ermon 2021, "Denoising Diffusion Implicit Models"): the ε-model of DDPM, trained with
L_simple and unchanged, sampled on a subsequence of its steps, deterministically or with Algorithm 2's noise,
and run backwards (inversion). Notebook 07 derives every line.

Slide notation: t = 1..T, ᾱ_t = ∏_{i≤t} α_i and ᾱ_0 = 1. A subsequence T = τ_S > … > τ_1 ≥ 1 (and τ_0 = 0) of
the chain's steps; one step goes from t = τ_i down to t' = τ_{i−1}:

    x̂_0 = (x_t − √(1 − ᾱ_t) ε_θ(x_t, t)) / √ᾱ_t                              predicted x_0
    σ_t(η)² = η² · (1 − ᾱ_t')/(1 − ᾱ_t) · (1 − ᾱ_t/ᾱ_t')                     DDIM eq. (16)
    x_t' = √ᾱ_t' x̂_0 + √(1 − ᾱ_t' − σ_t²) ε_θ(x_t, t) + σ_t z,  z ~ N(0, I)    DDIM eq. (12)

η = 0 is DDIM (no noise: x_T decides x_0); η = 1 makes each step the posterior q(x_t' | x_t, x̂_0) of the shorter
chain, i.e. Algorithm 2 with σ_t² = β̃_t (on every step, S = T, exactly ``diffusion.sample(variance="beta_tilde")``).

    from coursekit import diffusion as D
    model, s = D.pretrained("digits-eps")
    x0 = D.ddim_sample(model, s, (16, 1, 8, 8), steps=25)          # 25 network calls instead of 250
    xT = D.ddim_invert(model, s, x0, steps=25)                      # x_0 → x_T, deterministic

The functions take plain tensors and Python ints, and the sampling loop is written out (as diffusers' schedulers
are), so a notebook or an assignment can run the same step by hand and compare.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .._checks import check_choice, check_int, check_like, check_real, check_shape, check_tensor
from .schedule import Schedule
from .training import NULL_LABEL

DDIM_PREDICTIONS = ("eps", "x0")

__all__ = ["DDIM_PREDICTIONS", "ddim_timesteps", "ddim_sigma", "ddim_step", "ddim_sample", "ddim_invert",
           "ddim_inversion_step"]


def ddim_timesteps(T: int, steps: int) -> list[int]:
    """The subsequence τ_S > … > τ_1 of 1..T that ``steps`` = S network calls visit: τ_i = round(i·T/S), evenly
    spaced from τ_S = T (pure noise) down to τ_1 = round(T/S); S = T gives every step T, …, 1.

    This is the "trailing" spacing of Lin et al. 2024 (diffusers' ``timestep_spacing="trailing"``): it starts at
    t = T, where x_T ~ N(0, I) is what the forward process reaches (DDIM's own code started at T − T/S + 1)."""
    check_int("T", T)
    check_int("steps", steps)
    if steps > T:
        raise ValueError(f"steps must be at most T = {T} (one network call per step of a subsequence of 1..T), "
                         f"got {steps}")
    return [round(i * T / steps) for i in range(steps, 0, -1)]


def _check_pair(s: Schedule, t: int, t_prev: int) -> None:
    check_int("t", t)
    if not 1 <= t <= s.T:
        raise ValueError(f"t must be in 1..T = 1..{s.T} (slide notation), got {t}")
    if isinstance(t_prev, bool) or not isinstance(t_prev, int) or not 0 <= t_prev < t:
        raise ValueError(f"t_prev must be an int in 0..t − 1 = 0..{t - 1} (the next, smaller step; 0 is x_0), "
                         f"got {t_prev!r}")


def _alpha_bar(s: Schedule, t: int) -> float:
    """ᾱ_t as a float64 Python number, with ᾱ_0 = 1."""
    return 1.0 if t == 0 else float(s.alpha_bars[t - 1].double())


def _check_eta(eta: float) -> float:
    eta = check_real("eta", eta)
    if not 0.0 <= eta <= 1.0:
        raise ValueError(f"eta must be in [0, 1] (0: DDIM, deterministic; 1: Algorithm 2's noise), got {eta:g}")
    return eta


def ddim_sigma(s: Schedule, t: int, t_prev: int, eta: float) -> float:
    """σ_t(η) = η √((1 − ᾱ_t')/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_t') for the step t → t' = ``t_prev`` (DDIM eq. 16).

    η = 1 gives √β̃ of the shorter chain: its β is 1 − ᾱ_t/ᾱ_t', and with t' = t − 1 exactly √β̃_t."""
    _check_pair(s, t, t_prev)
    eta = _check_eta(eta)
    a_t, a_prev = _alpha_bar(s, t), _alpha_bar(s, t_prev)
    return eta * math.sqrt((1.0 - a_prev) / (1.0 - a_t) * (1.0 - a_t / a_prev))


def ddim_step(s: Schedule, x_t: Tensor, t: int, t_prev: int, eps: Tensor, eta: float = 0.0,
              noise: Tensor | None = None, *, clip_denoised: bool = False) -> Tensor:
    """One DDIM step from x_t down to x_t' (t' = ``t_prev`` < t, 0 for the last step), DDIM eq. (12):

        x̂_0 = (x_t − √(1 − ᾱ_t) ε) / √ᾱ_t
        x_t' = √ᾱ_t' x̂_0 + √(1 − ᾱ_t' − σ_t²) ε + σ_t z

    ``eps`` is ε_θ(x_t, t); ``noise`` is z ~ N(0, I), needed when σ_t > 0 (η > 0 and t' > 0) and ignored
    otherwise. ``clip_denoised`` clips x̂_0 to [−1, 1] (images) and steps with the ε that the clipped x̂_0 implies,
    ε = (x_t − √ᾱ_t x̂_0) / √(1 − ᾱ_t) (diffusers' ``use_clipped_model_output=True``, as GLIDE does)."""
    check_tensor("x_t", x_t, min_ndim=1)
    check_like("eps", eps, "x_t", x_t)
    sigma = ddim_sigma(s, t, t_prev, eta)
    a_t, a_prev = _alpha_bar(s, t), _alpha_bar(s, t_prev)
    x0_hat = (x_t - math.sqrt(1.0 - a_t) * eps) / math.sqrt(a_t)
    if clip_denoised:       # clip x̂_0 to the data's range and re-derive the ε that goes with it (else x can blow up)
        x0_hat = x0_hat.clamp(-1.0, 1.0)
        eps = (x_t - math.sqrt(a_t) * x0_hat) / math.sqrt(1.0 - a_t)
    # 1 − ᾱ_t' − σ² ≥ 0 for η ≤ 1; max() keeps a rounding error from making it negative at t' = 0
    x_prev = math.sqrt(a_prev) * x0_hat + math.sqrt(max(1.0 - a_prev - sigma**2, 0.0)) * eps
    if sigma > 0.0:
        if noise is None:
            raise ValueError(f"noise must be a tensor shaped like x_t when σ_t > 0 (eta = {eta:g}, t_prev = "
                             f"{t_prev}): z ~ N(0, I)")
        check_like("noise", noise, "x_t", x_t)
        x_prev = x_prev + sigma * noise
    return x_prev


def ddim_inversion_step(s: Schedule, x_prev: Tensor, t_prev: int, t: int, eps: Tensor) -> Tensor:
    """DDIM's deterministic update run upwards, from x_t' to x_t (t' = ``t_prev`` < t):

        x̂_0 = (x_t' − √(1 − ᾱ_t') ε) / √ᾱ_t',   x_t = √ᾱ_t x̂_0 + √(1 − ᾱ_t) ε

    with ``eps`` = ε_θ(x_t', t), the network at the current point and the *target* step (x_t is not known yet:
    this stands in for ε_θ(x_t, t), so inversion is exact only as the steps get small)."""
    check_tensor("x_prev", x_prev, min_ndim=1)
    check_like("eps", eps, "x_prev", x_prev)
    _check_pair(s, t, t_prev)
    a_t, a_prev = _alpha_bar(s, t), _alpha_bar(s, t_prev)
    x0_hat = (x_prev - math.sqrt(1.0 - a_prev) * eps) / math.sqrt(a_prev)
    return math.sqrt(a_t) * x0_hat + math.sqrt(1.0 - a_t) * eps


def _model_device(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def _check_timesteps(s: Schedule, timesteps: Sequence[int] | None, steps: int) -> list[int]:
    if timesteps is None:
        return ddim_timesteps(s.T, steps)
    ts = list(timesteps)
    if (not ts or any(isinstance(t, bool) or not isinstance(t, int) for t in ts)
            or any(not 1 <= t <= s.T for t in ts) or any(a <= b for a, b in zip(ts, ts[1:]))):
        raise ValueError(f"timesteps must be a strictly decreasing sequence of ints in 1..T = 1..{s.T}, "
                         f"got {ts[:8]}{' …' if len(ts) > 8 else ''}")
    return ts


class _EpsModel:
    """ε_θ(x_t, t) as the sampler needs it: the batch's t as a long tensor, classifier-free guidance
    ε̃ = ε_∅ + w (ε_y − ε_∅) in one batched call, and an x̂_0-model turned into its ε."""

    def __init__(self, model: nn.Module, s: Schedule, batch: int, device: torch.device, y: Tensor | None,
                 guidance_scale: float, prediction: str):
        self.model, self.s, self.batch, self.prediction = model, s, batch, prediction
        self.guided = y is not None and guidance_scale != 1.0
        self.w = guidance_scale
        if y is not None:
            if not isinstance(y, Tensor) or y.shape != (batch,) or y.is_floating_point():
                raise ValueError(f"y must be an integer tensor of shape ({batch},), got {getattr(y, 'shape', y)}")
            y = y.to(device)
            if self.guided:
                y = torch.cat([y, torch.full_like(y, NULL_LABEL)])
        self.y = y
        self.t_in = torch.empty(2 * batch if self.guided else batch, dtype=torch.long, device=device)

    def __call__(self, x: Tensor, t: int) -> Tensor:
        self.t_in.fill_(t)
        if self.guided:
            both = self.model(torch.cat([x, x]), self.t_in, self.y)
            out = torch.lerp(both[self.batch:], both[:self.batch], self.w)     # ε_∅ + w (ε_y − ε_∅)
        else:
            out = self.model(x, self.t_in) if self.y is None else self.model(x, self.t_in, self.y)
        if self.prediction == "x0":                 # ε = (x_t − √ᾱ_t x̂_0) / √(1 − ᾱ_t)
            a_t = _alpha_bar(self.s, t)
            out = (x - math.sqrt(a_t) * out) / math.sqrt(1.0 - a_t)
        return out


def _check_guidance(y: Tensor | None, guidance_scale: float) -> float:
    guidance_scale = check_real("guidance_scale", guidance_scale)
    if y is None and guidance_scale != 1.0:
        raise ValueError(f"guidance_scale = {guidance_scale:g} needs class labels y (guidance mixes ε_θ(x_t, t, y) "
                         f"and ε_θ(x_t, t, ∅)); an unconditional model samples with guidance_scale = 1")
    return guidance_scale


@torch.no_grad()
def ddim_sample(model: nn.Module, s: Schedule, shape: Sequence[int], steps: int = 50, eta: float = 0.0,
                generator: torch.Generator | None = None, *, timesteps: Sequence[int] | None = None,
                x_T: Tensor | None = None, y: Tensor | None = None, guidance_scale: float = 1.0,
                prediction: str = "eps", clip_denoised: bool = False, device: str | torch.device | None = None,
                trajectory: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Sample with DDIM on ``steps`` network calls: x_T ~ N(0, I) (or ``x_T``), then :func:`ddim_step` from each
    τ_i to τ_{i−1} of :func:`ddim_timesteps` (or the given descending ``timesteps``), the last one to x_0.

    - ``eta`` η ∈ [0, 1]: 0 is deterministic DDIM; 1 is Algorithm 2's stochasticity (σ² = β̃ of the shorter
      chain); with steps = T and η = 1 this is ``diffusion.sample(variance="beta_tilde")`` draw for draw (the
      random numbers come in its order: x_T, then one z per step that adds noise).
    - ``y`` and ``guidance_scale`` w: classifier-free guidance as in ``diffusion.sample``.
    - ``prediction="x0"`` samples a model that predicts x̂_0 (e.g. ``pretrained("digits-x0")``).
    - ``trajectory=True`` also returns every state: a tensor (S + 1, *shape), x_{τ_S} = x_T first, x_0 last.
    The number of network calls is S (2S batched into S calls with guidance)."""
    check_choice("prediction", prediction, DDIM_PREDICTIONS)
    shape = check_shape("shape", shape)
    eta = _check_eta(eta)
    guidance_scale = _check_guidance(y, guidance_scale)
    ts = _check_timesteps(s, timesteps, check_int("steps", steps))
    device = torch.device(device) if device is not None else _model_device(model)
    if x_T is not None:
        check_tensor("x_T", x_T)
        if tuple(x_T.shape) != shape:
            raise ValueError(f"x_T must have the shape {shape}, got {tuple(x_T.shape)}")
    eps_model = _EpsModel(model, s, shape[0], device, y, guidance_scale, prediction)
    was_training = model.training
    model.eval()
    try:
        x = x_T.to(device) if x_T is not None else torch.randn(shape, generator=generator, device=device)
        states = [x] if trajectory else None
        for t, t_prev in zip(ts, [*ts[1:], 0]):              # τ_S → τ_{S−1} → … → τ_1 → 0
            eps = eps_model(x, t)                             # ε_θ(x_t, t)
            noisy = eta > 0 and t_prev > 0                    # σ_t > 0: draw z (none on the last step)
            z = torch.randn(shape, generator=generator, device=device) if noisy else None
            x = ddim_step(s, x, t, t_prev, eps, eta, z, clip_denoised=clip_denoised)
            if trajectory:
                states.append(x)
    finally:
        model.train(was_training)
    return (x, torch.stack(states)) if trajectory else x


@torch.no_grad()
def ddim_invert(model: nn.Module, s: Schedule, x0: Tensor, steps: int = 50, *,
                timesteps: Sequence[int] | None = None, y: Tensor | None = None, guidance_scale: float = 1.0,
                trajectory: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Deterministic DDIM inversion x_0 → x_T: :func:`ddim_inversion_step` up the same subsequence that
    :func:`ddim_sample` comes down (0 → τ_1 → … → τ_S), one network call per step, ε_θ taken at the current
    point and the next step. ``ddim_sample(..., x_T=ddim_invert(model, s, x0))`` gives x_0 back, up to the error
    of that stand-in (small for many steps). ``trajectory=True`` also returns every state (S + 1, *x0.shape),
    x_0 first. ``model`` predicts ε (an ε-model: its ε at x_t' is what the step needs)."""
    check_tensor("x0", x0, min_ndim=1)
    guidance_scale = _check_guidance(y, guidance_scale)
    ts = _check_timesteps(s, timesteps, check_int("steps", steps))[::-1]          # ascending τ_1 < … < τ_S
    device = _model_device(model)
    eps_model = _EpsModel(model, s, x0.shape[0], device, y, guidance_scale, "eps")
    was_training = model.training
    model.eval()
    try:
        x = x0.to(device)
        states = [x] if trajectory else None
        for t_prev, t in zip([0, *ts[:-1]], ts):
            x = ddim_inversion_step(s, x, t_prev, t, eps_model(x, t))
            if trajectory:
                states.append(x)
    finally:
        model.train(was_training)
    return (x, torch.stack(states)) if trajectory else x

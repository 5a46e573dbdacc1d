"""DDPM Algorithm 2 (slides: 去噪扩散概率模型, 采样过程) and classifier-free guidance.

    1: x_T ~ N(0, I)
    2: for t = T, …, 1 do
    3:     z ~ N(0, I) if t > 1, else z = 0
    4:     x_{t−1} = 1/√α_t · (x_t − (1 − α_t)/√(1 − ᾱ_t) · ε_θ(x_t, t)) + σ_t z
    5: end for
    6: return x_0

σ_t² is β_t ("beta", DDPM's fixed-large choice) or β̃_t ("beta_tilde", fixed-small).

A network trained to predict x_0 instead of ε (``ddpm_loss(prediction="x0")``) samples with the same loop:
its x̂_0 gives the ε of line 4 as ε = (x_t − √ᾱ_t x̂_0) / √(1 − ᾱ_t), which is the same as stepping to the
posterior mean μ̃_t(x̂_0, x_t) = √ᾱ_{t−1} β_t/(1 − ᾱ_t) x̂_0 + √α_t (1 − ᾱ_{t−1})/(1 − ᾱ_t) x_t.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .._checks import as_timesteps, check_choice, check_like, check_real, check_shape, check_tensor
from .schedule import Schedule
from .training import NULL_LABEL

VARIANCES = ("beta", "beta_tilde")
PREDICTIONS = ("eps", "x0", "x_prev")


def _sigma_squared(s: Schedule, variance: str) -> Tensor:
    check_choice("variance", variance, VARIANCES)
    return s.betas if variance == "beta" else s.posterior_variance


def p_sample_step(s: Schedule, x_t: Tensor, t: int | Tensor, eps: Tensor, noise: Tensor | None,
                  variance: str = "beta") -> Tensor:
    """Algorithm 2, line 4: x_{t−1} = 1/√α_t (x_t − (1 − α_t)/√(1 − ᾱ_t) ε) + σ_t z.

    ``noise`` is z ~ N(0, I); it is not used where t = 1 (z = 0 there, line 3) and may be None when every
    t is 1. t is an int or a long tensor of shape (batch,) with values in 1..T.
    """
    check_tensor("x_t", x_t, min_ndim=1)
    check_like("eps", eps, "x_t", x_t)
    t = as_timesteps(t, s.T, x_t.shape[0], x_t.device)
    sigma_sq = _sigma_squared(s, variance)
    if noise is None:
        if bool((t > 1).any()):
            raise ValueError("noise must be a tensor shaped like x_t where any t > 1 (z ~ N(0, I), line 3)")
        noise = torch.zeros_like(x_t)
    else:
        check_like("noise", noise, "x_t", x_t)
    shape = (-1, *([1] * (x_t.ndim - 1)))
    s = s.to(x_t.device)
    alpha_t = s.alphas[t - 1].reshape(shape).to(x_t.dtype)
    sqrt_one_minus_alpha_bar = s.sqrt_one_minus_alpha_bars[t - 1].reshape(shape).to(x_t.dtype)
    sigma_t = sigma_sq[t - 1].to(s.device).sqrt().reshape(shape).to(x_t.dtype)
    z = torch.where((t > 1).reshape(shape), noise, torch.zeros_like(noise))       # z = 0 at t = 1
    mean = (x_t - (1.0 - alpha_t) / sqrt_one_minus_alpha_bar * eps) / torch.sqrt(alpha_t)
    return mean + sigma_t * z


@dataclass
class Trajectory:
    """What Algorithm 2 did, recorded every k steps so a widget can replay it without recomputing.

    ``steps[i]`` is the t of record i (descending, always including T and 1); ``x_t[i]`` the input of that
    step, ``x0_pred[i]`` the predicted x̂_0 = (x_t − √(1 − ᾱ_t) ε_θ) / √ᾱ_t, ``eps_pred[i]`` ε_θ(x_t, t) and
    ``added_noise[i]`` the σ_t z the step added. ``x0`` is the returned sample.
    """

    steps: list[int]
    x_t: Tensor
    x0_pred: Tensor
    eps_pred: Tensor
    added_noise: Tensor
    x0: Tensor


def _model_device(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


@torch.no_grad()
def sample(model: nn.Module, s: Schedule, shape: Sequence[int], variance: str = "beta",
           generator: torch.Generator | None = None, trajectory_every: int | None = None, *,
           y: Tensor | None = None, guidance_scale: float = 1.0, prediction: str = "eps",
           clip_denoised: bool = False, device: str | torch.device | None = None,
           progress: bool = False) -> Tensor | tuple[Tensor, Trajectory]:
    """Run Algorithm 2 from x_T ~ N(0, I) to x_0 with the denoiser ``model``.

    - ``y`` (labels, shape (batch,)) conditions the model; ``guidance_scale`` w mixes the conditional and
      unconditional predictions as ε̃ = ε_θ(x_t, t, ∅) + w (ε_θ(x_t, t, y) − ε_θ(x_t, t, ∅)) (w = 1: no guidance).
    - ``prediction="x0"`` samples a model that predicts x̂_0 (``ddpm_loss(prediction="x0")``): each step goes to
      the posterior mean μ̃_t(x̂_0, x_t) + σ_t z, which is line 4 with ε = (x_t − √ᾱ_t x̂_0) / √(1 − ᾱ_t).
    - ``prediction="x_prev"`` samples a model trained with Algorithm 1.2: x_{t−1} = f_θ(x_t, t) + σ_t z.
    - ``clip_denoised`` clips x̂_0 to [−1, 1] and steps with the posterior mean μ̃_t(x̂_0, x_t) (identical
      to line 4 when nothing is clipped; the DDPM code does this for images).
    - ``trajectory_every=k`` also returns a :class:`Trajectory` recorded every k steps.
    """
    check_choice("prediction", prediction, PREDICTIONS)
    sigma_sq = _sigma_squared(s, variance)
    shape = check_shape("shape", shape)
    guidance_scale = check_real("guidance_scale", guidance_scale)
    if y is None and guidance_scale != 1.0:
        raise ValueError(f"guidance_scale = {guidance_scale:g} needs class labels y (guidance mixes ε_θ(x_t, t, y) "
                         f"and ε_θ(x_t, t, ∅)); an unconditional model samples with guidance_scale = 1")
    if trajectory_every is not None and (not isinstance(trajectory_every, int) or trajectory_every < 1):
        raise ValueError(f"trajectory_every must be a positive int or None, got {trajectory_every!r}")
    device = torch.device(device) if device is not None else _model_device(model)
    batch = shape[0]
    guided = y is not None and guidance_scale != 1.0
    if y is not None:
        if not isinstance(y, Tensor) or y.shape != (batch,) or y.is_floating_point():
            raise ValueError(f"y must be an integer tensor of shape ({batch},), got {getattr(y, 'shape', y)}")
        y = y.to(device)
        if guided:
            y = torch.cat([y, torch.full_like(y, NULL_LABEL)])

    # Per-step coefficients as Python floats: the loop below does no indexing or device transfers.
    alphas = s.alphas.double().tolist()
    sqrt_one_minus_alpha_bars = s.sqrt_one_minus_alpha_bars.double().tolist()
    sqrt_alpha_bars = s.sqrt_alpha_bars.double().tolist()
    coef_x0 = s.posterior_mean_coef_x0.double().tolist()
    coef_xt = s.posterior_mean_coef_xt.double().tolist()
    sigmas = sigma_sq.double().sqrt().tolist()

    was_training = model.training
    model.eval()
    x = torch.randn(shape, generator=generator, device=device)                  # line 1: x_T ~ N(0, I)
    t_in = torch.empty(2 * batch if guided else batch, dtype=torch.long, device=device)
    records: dict[str, list[Tensor]] = {"x_t": [], "x0_pred": [], "eps_pred": [], "added_noise": []}
    steps: list[int] = []
    iterator = range(s.T, 0, -1)
    if progress:
        from tqdm.auto import tqdm
        iterator = tqdm(iterator, desc="Algorithm 2", leave=False)
    try:
        for t in iterator:                                                      # line 2: t = T, …, 1
            i = t - 1
            t_in.fill_(t)
            if guided:
                both = model(torch.cat([x, x]), t_in, y)
                cond, uncond = both[:batch], both[batch:]
                out = torch.lerp(uncond, cond, guidance_scale)                  # ε̃ = ε_∅ + w (ε_y − ε_∅)
            else:
                out = model(x, t_in) if y is None else model(x, t_in, y)
            record = trajectory_every is not None and (t == s.T or t == 1 or t % trajectory_every == 0)
            if prediction == "x_prev":
                x_next = out                                                    # μ = f_θ(x_t, t)
                eps = x0_hat = None
            elif prediction == "x0":                                            # the network's x̂_0 directly
                x0_hat = out.clamp(-1.0, 1.0) if clip_denoised else out
                x_next = coef_x0[i] * x0_hat + coef_xt[i] * x                   # μ̃_t(x̂_0, x_t)
                eps = (x - sqrt_alpha_bars[i] * x0_hat) / sqrt_one_minus_alpha_bars[i] if record else None
            elif clip_denoised:
                x0_hat = ((x - sqrt_one_minus_alpha_bars[i] * out) / sqrt_alpha_bars[i]).clamp_(-1.0, 1.0)
                x_next = coef_x0[i] * x0_hat + coef_xt[i] * x                   # μ̃_t(x̂_0, x_t)
                eps = out
            else:                                                               # line 4, the mean part:
                # 1/√α_t (x_t − (1 − α_t)/√(1 − ᾱ_t) ε), as two fused ops (bookkeeping is the cost for small nets)
                x_next = torch.add(x, out, alpha=-(1.0 - alphas[i]) / sqrt_one_minus_alpha_bars[i])
                x_next.mul_(1.0 / alphas[i] ** 0.5)
                eps, x0_hat = out, None
            added = None
            if t > 1:                                                           # line 3: z = 0 at t = 1
                z = torch.randn(shape, generator=generator, device=device)
                if record:
                    added = z * sigmas[i]
                if prediction == "x_prev":                                      # never write into the model's
                    x_next = torch.add(x_next, z, alpha=sigmas[i])              # own output: + σ_t z
                else:
                    x_next.add_(z, alpha=sigmas[i])                             # + σ_t z, in place (fresh x_next)
            if record:
                if x0_hat is None and eps is not None:
                    x0_hat = (x - sqrt_one_minus_alpha_bars[i] * eps) / sqrt_alpha_bars[i]
                steps.append(t)
                records["x_t"].append(x.clone())
                records["x0_pred"].append(x0_hat.clone() if x0_hat is not None else x_next.clone())
                records["eps_pred"].append(eps.clone() if eps is not None else torch.zeros_like(x))
                records["added_noise"].append(added.clone() if added is not None else torch.zeros_like(x))
            x = x_next
    finally:
        model.train(was_training)
    if trajectory_every is None:
        return x                                                                # line 6: return x_0
    trajectory = Trajectory(steps=steps, x0=x.clone(), **{k: torch.stack(v) for k, v in records.items()})
    return x, trajectory

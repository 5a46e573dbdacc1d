"""Alternating optimisation (交替优化): k discriminator steps (gradient ascent on V), then one generator step.

    for each iteration:
        repeat k times:  θ_d ← θ_d + η ∇_θd [E log D(x) + E log(1 − D(G(z)))]       (D step)
        θ_g ← θ_g − η ∇_θg L_G(D(G(z)))                                             (G step)

:func:`alternate` is the loop itself (any two step functions: GAN, pix2pix and CycleGAN all use it);
:func:`train_gan` trains a (conditional) GAN on vectors or images. Progress bars follow
``coursekit.train.progress_enabled``; ``callback(step, history, G, D)`` lets a notebook draw live plots.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from .._checks import check_choice, check_tensor
from ..train import batches, get_device, progress_enabled, seed_everything
from .losses import DISCRIMINATOR_KINDS, GENERATOR_KINDS, discriminator_loss, generator_loss


@dataclass
class GANHistory:
    """Per generator step: D's loss (mean over its k steps), G's loss, and any extra named values."""
    d_losses: list[float] = field(default_factory=list)
    g_losses: list[float] = field(default_factory=list)
    extras: dict[str, list[float]] = field(default_factory=dict)
    steps: int = 0
    seconds: float = 0.0

    def log(self, **values: float) -> None:
        for key, value in values.items():
            self.extras.setdefault(key, []).append(float(value))


def _budget(steps: int | None, seconds: float | None) -> None:
    if steps is None and seconds is None:
        raise ValueError("give steps, seconds or both")
    if steps is not None and (not isinstance(steps, int) or steps < 1):
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if seconds is not None and seconds <= 0:
        raise ValueError(f"seconds must be > 0, got {seconds!r}")


def alternate(d_step: Callable[[float], float], g_step: Callable[[float], float], *, steps: int | None = 1000,
              seconds: float | None = None, k: int = 1, progress: bool | None = None,
              callback: Callable[[int, GANHistory], None] | None = None, callback_every: int = 100,
              desc: str = "GAN", history: GANHistory | None = None) -> GANHistory:
    """Run ``steps`` generator steps (or until ``seconds`` pass), each after ``k`` discriminator steps.

    Both step functions get the fraction of the budget done (in [0, 1), for annealing learning rates or
    noise) and return their loss. ``callback(step, history)`` runs every ``callback_every`` G steps.
    Pass ``history`` to have the step functions log extra values into the object this returns.
    """
    _budget(steps, seconds)
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an int >= 1 (discriminator steps per generator step), got {k!r}")
    history = GANHistory() if history is None else history
    bar = None
    if progress_enabled(progress):
        from tqdm.auto import tqdm
        bar = tqdm(total=steps, desc=desc, leave=False)
    start = time.perf_counter()
    while True:
        elapsed = time.perf_counter() - start
        done = max(history.steps / steps if steps else 0.0, elapsed / seconds if seconds else 0.0)
        if done >= 1.0:
            break
        d_loss = sum(d_step(done) for _ in range(k)) / k          # k steps of gradient ascent on V
        g_loss = g_step(done)                                      # one generator step
        history.d_losses.append(float(d_loss))
        history.g_losses.append(float(g_loss))
        history.steps += 1
        if bar is not None:
            bar.update(1)
            if history.steps % 20 == 0:
                bar.set_postfix(D=f"{d_loss:.3f}", G=f"{g_loss:.3f}")
        if callback is not None and history.steps % callback_every == 0:
            callback(history.steps, history)
    if bar is not None:
        bar.close()
    history.seconds = time.perf_counter() - start
    return history


def linear_decay(done: float, start: float = 0.5) -> float:
    """The reference's learning-rate policy: constant for the first ``start`` of training, then linear to 0."""
    return 1.0 if done < start else max(0.0, (1.0 - done) / (1.0 - start))


def make_optimizer(module: nn.Module, lr: float, betas: tuple[float, float] = (0.5, 0.999)) -> torch.optim.Adam:
    """Adam with β₁ = 0.5, the DCGAN / pix2pix / CycleGAN setting (β₁ = 0.9 oscillates more)."""
    if lr <= 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    return torch.optim.Adam(module.parameters(), lr=lr, betas=betas)


def set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    for group in opt.param_groups:
        group["lr"] = lr


@dataclass
class GANResult:
    G: nn.Module
    D: nn.Module
    history: GANHistory
    latent_dim: int


def latent_dim_of(G: nn.Module) -> int:
    dim = getattr(G, "latent_dim", None)
    if not isinstance(dim, int):
        raise ValueError("G must have an int attribute latent_dim (the size of z)")
    return dim


@torch.no_grad()
def generate(G: nn.Module, n: int, labels: Tensor | None = None, seed: int = 0,
             device: str | torch.device | None = None) -> Tensor:
    """n samples G(z[, y]) with z ∼ N(0, I) drawn from ``seed`` (G in eval mode; returned on the CPU)."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    device = next(G.parameters()).device if device is None else torch.device(device)
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, latent_dim_of(G), generator=g).to(device)
    was_training = G.training
    G.eval()
    out = G(z) if labels is None else G(z, labels.to(device))
    G.train(was_training)
    return out.float().cpu()


def train_gan(G: nn.Module, D: nn.Module, data: Tensor, *, labels: Tensor | None = None, steps: int | None = 2000,
              seconds: float | None = None, k: int = 1, batch_size: int = 128, lr_g: float = 2e-4,
              lr_d: float = 2e-4, betas: tuple[float, float] = (0.5, 0.999), kind: str = "non_saturating",
              d_kind: str | None = None, instance_noise: float = 0.0, lr_decay: bool = False, seed: int = 0,
              device: str | torch.device | None = None, amp: bool = False, progress: bool | None = None,
              callback: Callable[[int, GANHistory, nn.Module, nn.Module], None] | None = None,
              callback_every: int = 100) -> GANResult:
    """Train G and D on ``data`` (N, …) by alternating optimisation; ``labels`` (N,) makes it a cGAN.

    ``kind`` is the generator loss ("non_saturating", "saturating", "least_squares"); D minimises −V (or the
    least-squares loss when kind is "least_squares"). ``instance_noise`` σ adds N(0, σ²) to everything D sees,
    annealed linearly to 0 (it blurs both distributions so they overlap early on). ``lr_decay`` uses the
    reference's constant-then-linear schedule. ``amp``: bfloat16 autocast on CUDA.
    """
    check_choice("kind", kind, GENERATOR_KINDS)
    d_kind = ("least_squares" if kind == "least_squares" else "minimax") if d_kind is None else d_kind
    check_choice("d_kind", d_kind, DISCRIMINATOR_KINDS)
    check_tensor("data", data, min_ndim=2)
    if labels is not None and (labels.shape != (data.shape[0],) or labels.is_floating_point()):
        raise ValueError(f"labels must be an integer tensor of shape ({data.shape[0]},)")
    if instance_noise < 0:
        raise ValueError(f"instance_noise must be >= 0, got {instance_noise}")
    pack = getattr(D, "pack", 1)
    if batch_size < pack or batch_size % pack:
        raise ValueError(f"batch_size must be a multiple of D.pack = {pack}, got {batch_size}")
    device = get_device(device)
    generator = seed_everything(seed)
    latent_dim = latent_dim_of(G)
    G.to(device).train()
    D.to(device).train()
    opt_g, opt_d = make_optimizer(G, lr_g, betas), make_optimizer(D, lr_d, betas)
    tensors = (data,) if labels is None else (data, labels)
    stream = batches(*(t.to(device) for t in tensors), batch_size=batch_size, generator=generator)
    use_amp = amp and device.type == "cuda"
    autocast = lambda: torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp)  # noqa: E731
    current_y: list[Tensor | None] = [None]

    def noisy(x: Tensor, done: float) -> Tensor:
        sigma = instance_noise * (1.0 - done)
        return x if sigma == 0 else x + sigma * torch.randn_like(x)

    def fake_batch(n: int, y: Tensor | None) -> Tensor:
        z = torch.randn(n, latent_dim, device=device)                # z ∼ p(z) = N(0, I)
        return G(z) if y is None else G(z, y)                        # G(z[, y]): the condition enters G

    def call_d(x: Tensor, y: Tensor | None) -> Tensor:
        return D(x) if y is None else D(x, y)                        # D(x[, y]): and D

    def schedule(done: float) -> None:
        if lr_decay:
            set_lr(opt_g, lr_g * linear_decay(done))
            set_lr(opt_d, lr_d * linear_decay(done))

    def d_step(done: float) -> float:
        schedule(done)
        real = next(stream)
        x, y = real[0], (real[1] if labels is not None else None)
        current_y[0] = y
        with autocast():
            with torch.no_grad():
                fake = fake_batch(x.shape[0], y)
            loss = discriminator_loss(call_d(noisy(x, done), y), call_d(noisy(fake, done), y), d_kind)
        opt_d.zero_grad(set_to_none=True)
        loss.backward()
        opt_d.step()
        return float(loss.detach())

    def g_step(done: float) -> float:
        y = current_y[0]
        with autocast():
            fake = fake_batch(batch_size if y is None else y.shape[0], y)
            loss = generator_loss(call_d(noisy(fake, done), y), kind)
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()
        return float(loss.detach())

    cb = None if callback is None else (lambda step, history: callback(step, history, G, D))
    history = alternate(d_step, g_step, steps=steps, seconds=seconds, k=k, progress=progress, callback=cb,
                        callback_every=callback_every, desc="GAN")
    G.eval()
    D.eval()
    return GANResult(G=G, D=D, history=history, latent_dim=latent_dim)


@torch.no_grad()
def decision_surface(D: nn.Module, lim: float = 3.0, n: int = 100, device: str | torch.device | None = None
                     ) -> tuple[Tensor, Tensor, Tensor]:
    """D(x) = σ(logit) on an n×n grid over [−lim, lim]² for a 2-D discriminator: (xs, ys, probs (n, n)).

    For a packed D (PacGAN) each grid point is repeated ``pack`` times, i.e. D judges a pack of copies.
    """
    if lim <= 0 or n < 2:
        raise ValueError("lim must be > 0 and n >= 2")
    device = next(D.parameters()).device if device is None else torch.device(device)
    axis = torch.linspace(-lim, lim, n)
    ys, xs = torch.meshgrid(axis, axis, indexing="ij")
    points = torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1).to(device)
    pack = getattr(D, "pack", 1)
    was_training = D.training
    D.eval()
    if getattr(D, "minibatch_std", False) or pack > 1:
        points = points.repeat_interleave(pack, dim=0)
    logits = D(points)
    D.train(was_training)
    return xs, ys, torch.sigmoid(logits.float()).reshape(n, n).cpu()


def gradient_norm(module: nn.Module) -> float:
    """‖∇θ‖₂ over every parameter that has a gradient (0 when none has)."""
    total = sum(float(p.grad.pow(2).sum()) for p in module.parameters() if p.grad is not None)
    return math.sqrt(total)

"""Denoisers trained once and shipped with the package: four on the 8×8 digits (notebook 04b; unit 07 samples the
same ε-model with other samplers, unchanged) and Algorithm 1.2's on the 2-D ring (notebook 04a).

    from coursekit import diffusion as D
    model, s = D.pretrained("digits-eps")          # ε_θ(x_t, t) trained with L_simple, and its schedule
    x_0 = D.sample(model, s, (16, 1, 8, 8))        # Algorithm 2

- ``digits-eps``:  ε_θ(x_t, t), a residual MLP, trained with L_simple (DDPM Algorithm 1);
- ``digits-vlb``:  the same network trained on the variational bound itself: weights λ_t, with t drawn ∝ λ_t
  (importance sampling: the same objective with less noise; with uniform t it trained worse) (DDPM Table 2);
- ``digits-x0``:   the same network predicting x̂_0, loss ‖x_0 − x̂_0‖² · min(SNR_t, 10);
- ``digits-cond``: ε_θ(x_t, t, y) for classifier-free guidance: labels dropped with p = 0.1, min-SNR-5 weights;
- ``ring8-x_prev``: f_θ(x_t, t) → x_{t−1} on the ring of 8 Gaussians, trained with Algorithm 1.2's regression
  (``sequence_loss``) and notebook 04a's settings (batch 256, EMA 0.995, clipping at 1), sampled with
  ``sample(..., prediction="x_prev")``.

All share one schedule (:func:`digits_schedule`: DDPM's linear β scaled to T = 250, as 04a's ``s_toy``). The digits
models use notebook 04b's optimiser settings (AdamW, lr 5e-3 with a 50-step warm-up and cosine decay, batch 128, no
clipping, EMA 0.999); each spec fixes its number of optimiser steps, so :func:`train_pretrained` with the same seed
trains the same model again (what ``scripts/make_ddpm_digits.py`` does, on one CPU thread, seed 0). The files hold
float16 weights of the EMA model (``coursekit/assets/ddpm_<name>.pt``, a few hundred KB at most) and the training
record (settings and the loss curve); each is SHA-256 checked on every load, so every machine samples the same model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .._checks import check_choice
from ..checkpoints import float_state, half_state, load_record, save_record
from .schedule import Schedule, make_schedule
from .training import ddpm_loss, sequence_loss

ASSETS = Path(__file__).resolve().parent.parent / "assets"
KIND = "coursekit-ddpm-digits"
T_DIGITS = 250
FIT = dict(batch_size=128, lr=5e-3, warmup=50, grad_clip=None, ema_decay=0.999)   # train.fit's settings (digits)
FIT_TOY = dict(batch_size=256, lr=5e-3, warmup=50, grad_clip=1.0, ema_decay=0.995)  # notebook 04a's FIT
DATA = ("digits", "ring8")
LOSS_EVERY = 50                       # the stored loss curve: the mean of every 50 steps


@dataclass(frozen=True)
class PretrainedSpec:
    """One shipped model: its data, network width, loss (``ddpm_loss`` keyword arguments), what it predicts
    ("eps", "x0", or "x_prev" for Algorithm 1.2's ``sequence_loss``), its ``train.fit`` settings, the number of
    optimiser steps it was trained for and the SHA-256 of its file."""

    name: str
    description: str
    hidden: int
    steps: int
    sha256: str
    num_classes: int | None = None
    loss: dict = field(default_factory=dict)
    prediction: str = "eps"
    data: str = "digits"
    fit: dict = field(default_factory=lambda: dict(FIT))

    @property
    def file(self) -> Path:
        return ASSETS / f"ddpm_{self.name.replace('-', '_')}.pt"


PRETRAINED: dict[str, PretrainedSpec] = {d.name: d for d in (
    PretrainedSpec("digits-eps", "ε_θ(x_t, t) trained with L_simple (DDPM Algorithm 1)", hidden=128, steps=8000,
                   sha256="4202fc36106985fa727dede3a7cec4dda2ca9cadc05733a438ae48484908adf8"),
    PretrainedSpec("digits-vlb", "ε_θ(x_t, t) trained with the variational bound's weights λ_t (DDPM Table 2), "
                   "t drawn ∝ λ_t", hidden=128, steps=8000, loss=dict(weighting="vlb", t_sampling="importance"),
                   sha256="2183c2f0b07ca657d8149a35a51fab5615768620dc801bf05326e42276ca67b0"),
    PretrainedSpec("digits-x0", "x̂_0(x_t, t): the same network predicting x_0, weighted by min(SNR_t, 10)",
                   hidden=128, steps=8000, loss=dict(weighting="min_snr", gamma=10.0), prediction="x0",
                   sha256="0cb3f99883bc5ab35abcae173e53917f72892231f100ae92c4c34a8952655b48"),
    PretrainedSpec("digits-cond", "ε_θ(x_t, t, y) for classifier-free guidance: labels dropped with p = 0.1, "
                   "min-SNR-5 weights", hidden=128, steps=8000, num_classes=10,
                   loss=dict(p_uncond=0.1, weighting="min_snr", gamma=5.0),
                   sha256="75d40b4dc6db61a0e6843c72a78d81d1026822ba079f94e31686cc4a7d6d9e3f"),
    PretrainedSpec("ring8-x_prev", "f_θ(x_t, t) → x_{t−1} on ring8, Algorithm 1.2's regression (notebook 04a)",
                   hidden=128, steps=3000, prediction="x_prev", data="ring8", fit=dict(FIT_TOY),
                   sha256="e793eb1cf17217fef0caa8092fada8dd9b2436263754f19ff094893a6f626837"),
)}


def digits_schedule(device: str | torch.device | None = None) -> Schedule:
    """The schedule of every shipped model: DDPM's linear β (1e-4 → 0.02 at T = 1000) scaled by 1000/T to
    a chain of T = 250 steps (β_1 = 4e-4 … β_T = 0.08, ᾱ_T ≈ 3e-5)."""
    return make_schedule("linear", T=T_DIGITS, beta_start=1e-4 * 1000 / T_DIGITS, beta_end=0.02 * 1000 / T_DIGITS,
                         device=device)


def _spec(name: str) -> PretrainedSpec:
    check_choice("name", name, tuple(PRETRAINED))
    return PRETRAINED[name]


def new_denoiser(name: str) -> nn.Module:
    """A fresh (untrained) network of the shipped model ``name``."""
    from ..nets import MLPDenoiser

    spec = _spec(name)
    if spec.data == "ring8":
        return MLPDenoiser(dim=2, hidden=spec.hidden, depth=3, num_classes=spec.num_classes)
    return MLPDenoiser(image_shape=(1, 8, 8), hidden=spec.hidden, depth=3, num_classes=spec.num_classes)


def loss_function(name: str, s: Schedule):
    """``loss_fn(model, x0[, y])`` for ``train.fit``: ``ddpm_loss`` with the model's own options (Algorithm 1.2's
    ``sequence_loss`` for an "x_prev" model)."""
    spec = _spec(name)
    if spec.prediction == "x_prev":
        return lambda m, x0: sequence_loss(m, s, x0)
    options = dict(spec.loss, prediction=spec.prediction)
    if spec.num_classes:
        return lambda m, x0, y: ddpm_loss(m, s, x0, y=y, **options)
    return lambda m, x0: ddpm_loss(m, s, x0, **options)


def train_pretrained(name: str, seed: int = 0, steps: int | None = None, device: str | torch.device | None = None,
                     progress: bool | None = None, callback=None, callback_every: int = 100):
    """Train the model ``name`` from scratch as the shipped one was (``steps`` defaults to its own number):
    returns (``train.TrainResult``, its schedule). The seed fixes the initial weights and every batch."""
    # training sits above the algorithms in the package: imported on use
    from .. import train
    from ..data import load_digits, sample_2d

    spec = _spec(name)
    dev = train.get_device(device)
    if spec.data == "ring8":
        data = (sample_2d("ring8", 8192, seed=seed),)            # notebook 04a's ring (seed 0: the shipped one)
    else:
        x, y = load_digits("train")
        data = (x, y) if spec.num_classes else (x,)
    s = digits_schedule(dev)
    train.seed_everything(seed)                        # the initial weights too, not only the batches
    model = new_denoiser(name)
    result = train.fit(model, loss_function(name, s), data, steps=steps or spec.steps, seed=seed, device=dev,
                       progress=progress, callback=callback, callback_every=callback_every, **spec.fit)
    return result, s


def save_pretrained(result, name: str, path: str | Path, seed: int) -> Path:
    """Write a ``train.TrainResult`` of the model ``name`` (its EMA weights in float16, the settings and the loss
    curve) to ``path`` atomically."""
    spec = _spec(name)
    model = result.model
    losses = torch.tensor(result.losses, dtype=torch.float64)
    curve = [float(c.mean()) for c in losses.split(LOSS_EVERY)]
    info = dict(name=name, seed=int(seed), steps=int(result.steps), loss=dict(spec.loss), prediction=spec.prediction,
                fit=dict(spec.fit), T=T_DIGITS, loss_curve=curve, loss_every=LOSS_EVERY)
    return save_record(path, {"kind": KIND, "config": dict(model.config), "state_dict": half_state(model),
                              "info": info})


def load_pretrained(path: str | Path, sha256: str | None = None, device: str | torch.device | None = None
                    ) -> tuple[nn.Module, dict]:
    """(model in eval mode, training record) from a file written by :func:`save_pretrained`; with ``sha256``, a
    file whose SHA-256 differs raises a ValueError naming it (so does a file that is not such a model)."""
    from ..nets import build

    payload = load_record(path, KIND, "a digits diffusion model", sha256,
                          missing=f"the shipped digits models live in {ASSETS}; scripts/make_ddpm_digits.py makes them")
    model = build(payload["config"])
    model.load_state_dict(float_state(payload["state_dict"]))
    if device is not None:
        model = model.to(device)
    return model.eval(), dict(payload.get("info", {}))


def pretrained(name: str = "digits-eps", device: str | torch.device | None = None) -> tuple[nn.Module, Schedule]:
    """The shipped model ``name`` (see :data:`PRETRAINED`) and its schedule, on ``device`` (default: CUDA when
    available, else the CPU). The file's SHA-256 is checked first."""
    from ..train import get_device

    spec = _spec(name)
    dev = get_device(device)
    model, _ = load_pretrained(spec.file, sha256=spec.sha256, device=dev)
    return model, digits_schedule(dev)


def pretrained_info(name: str = "digits-eps") -> dict:
    """The training record of the shipped model ``name``: seed, steps, loss options, optimiser settings and the
    loss curve (the mean of every ``loss_every`` steps)."""
    spec = _spec(name)
    return load_pretrained(spec.file, sha256=spec.sha256)[1]

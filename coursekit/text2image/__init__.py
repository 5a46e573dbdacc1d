"""Text to image at toy scale: type "一个粗的七" or "a thin 3 slanted to the right", get handwritten digits.

The slides' text-to-image systems (Imagen, Stable Diffusion) in three pieces, each in its own file:

- ``captions.py``: (image, caption) pairs in Chinese and English, written from each digit's label and from
  ink, slant and size measured on its pixels;
- ``encoder.py``: a small transformer text encoder, trained from scratch together with
- ``model.py``: the denoiser ε_θ(x_t, t, c), conditioned on the prompt vector c by FiLM.

``evaluate.py`` measures what the model understood (the digit on held-out phrasings, the style words).

Training is DDPM's Algorithm 1 with the caption in place of the class label, and the caption replaced by
the empty prompt ∅ with probability p_uncond (classifier-free guidance); generation is Algorithm 2 with

    ε̃ = ε_θ(x_t, t, ∅) + w (ε_θ(x_t, t, c) − ε_θ(x_t, t, ∅)).

    from coursekit import text2image as T
    model = T.train(seed=0)                     # 5,000 seeded steps, as the shipped model
    images = T.generate(model, ["一个粗的七", "a thin 3 slanted to the right"], n_per_prompt=8,
                        guidance_scale=3.0, seed=0)       # (16, 1, 8, 8) in [-1, 1], prompt-major
    T.save(model, "t2i.pt"); model = T.load("t2i.pt")
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import time
from pathlib import Path

import torch
from torch import Tensor, nn

from .. import diffusion as D
from .. import train as training
from ..data import load_digits
from ..recipes import scaled_linear
from ..train import get_device, seed_everything
from . import captions
from .captions import HELD_OUT, LANGS, TEMPLATES, caption, measure, tokenize
from .model import KIND, PromptTable, TextToImage

__all__ = ["train", "generate", "save", "load", "TextToImage", "captions", "measure", "tokenize", "caption",
           "TEMPLATES", "HELD_OUT", "LANGS", "DEFAULTS", "ASSET", "pretrained"]

# Defaults (see docs/text2image.md for the measurements behind them).
DEFAULTS = dict(hidden=128, depth=3, time_dim=64, text_dim=32, text_layers=1, heads=2, max_tokens=24,
                p_uncond=0.1, captions_per_image=32, batch_size=128, noise_per_caption=2, lr=5e-3,
                ema_decay=0.999, warmup=50, T=250)
ASSET = Path(__file__).resolve().parent.parent / "assets" / "t2i_digits.pt"
ASSET_SHA256 = "7a87334f83f199337780ca3d40c8f26e18986a53543a715bac07336b2a9d118c"  # 5,000 steps


def _cpu_seconds() -> float:
    return time.process_time()          # user + system CPU of this process, every platform (no Unix-only resource)


def train(seconds: float | None = None, steps: int | None = 5000, seed: int = 0,
          device: str | torch.device | None = None, progress: bool | None = None, **options) -> TextToImage:
    """Train the text encoder and the denoiser together (DDPM Algorithm 1, caption in place of the label).

    Stops after ``steps`` optimiser steps (default 5,000, the shipped model's: the same model on every machine with
    one thread) or ``seconds`` of wall time (default none: a wall-clock budget depends on the machine), whichever
    comes first. ``options``
    override :data:`DEFAULTS`. The model's ``train_info`` records steps, wall and process CPU seconds.
    """
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"options must be among {', '.join(sorted(DEFAULTS))}, got {', '.join(sorted(unknown))}")
    if steps is None and seconds is None:
        raise ValueError("give seconds, steps or both")
    cfg = {**DEFAULTS, **options}
    dev = get_device(device)
    x, y = load_digits("train")
    bins = captions.fit_bins(x, y)
    texts = captions.training_captions(y, captions.attribute_bins(x, y, bins), cfg["captions_per_image"], seed)
    flat = [t for row in texts for t in row]
    schedule = scaled_linear(cfg["T"])
    seed_everything(seed)                                                # fixes the initial weights too
    model = TextToImage(captions.build_vocab(flat), bins, schedule, tuple(x.shape[1:]),
                        **{k: cfg[k] for k in ("text_dim", "text_layers", "heads", "max_tokens", "hidden", "depth",
                                               "time_dim", "p_uncond")})
    bank = PromptTable(model.to(dev), model.encoder.ids(flat, warn=False))   # caption k of image i: row i·K + k
    s = D.make_schedule(**schedule, device=dev)
    images = x.repeat_interleave(cfg["captions_per_image"], dim=0)
    rows = torch.arange(len(flat))
    r = cfg["noise_per_caption"]          # r draws of (t, ε) per caption: the encoder runs on batch_size / r rows

    def loss(net: nn.Module, x0: Tensor, k: Tensor) -> Tensor:
        k = D.drop_labels(k, cfg["p_uncond"])                                  # caption → ∅ with p_uncond
        return D.ddpm_loss(net, s, x0.repeat(r, 1, 1, 1), y=k.repeat(r))       # L_simple, Algorithm 1

    cpu0 = _cpu_seconds()
    result = training.fit(bank, loss, (images, rows), steps=steps, seconds=seconds,
                          batch_size=cfg["batch_size"] // r, lr=cfg["lr"], warmup=cfg["warmup"], grad_clip=None,
                          ema_decay=cfg["ema_decay"], seed=seed, device=dev, progress=progress)
    trained = result.model.model.eval()                                  # the EMA weights
    last = result.losses[-100:]
    trained.train_info = dict(steps=result.steps, seconds=round(result.seconds, 2),
                              cpu_seconds=round(_cpu_seconds() - cpu0, 2), threads=torch.get_num_threads(),
                              device=str(dev), seed=seed, final_loss=sum(last) / max(1, len(last)))
    return trained


class _Conditions(nn.Module):
    """Fixed prompt vectors as labels for Algorithm 2: label k → c_k, label −1 → ∅ (computed once)."""

    def __init__(self, model: TextToImage, c: Tensor, null: Tensor):
        super().__init__()
        self.model, self.table = model, torch.cat([c, null])

    def forward(self, x: Tensor, t: Tensor, y: Tensor) -> Tensor:
        return self.model(x, t, self.table[torch.where(y < 0, len(self.table) - 1, y)])


def _check_prompts(prompts: object) -> list[str]:
    if isinstance(prompts, str):
        raise ValueError(f"prompts must be a list of str (wrap one prompt in a list), got the str {prompts!r}")
    if not isinstance(prompts, (list, tuple)) or len(prompts) == 0:
        raise ValueError(f"prompts must be a non-empty list of str, got {prompts!r}")
    for i, p in enumerate(prompts):
        if not isinstance(p, str):
            raise ValueError(f"prompts[{i}] must be a str, got {type(p).__name__} {p!r}")
    return list(prompts)


def _check_model(model: object) -> TextToImage:
    if not isinstance(model, TextToImage):
        raise ValueError(f"model must be a text2image model (from text2image.train or load), got "
                         f"{type(model).__name__}")
    return model


@torch.no_grad()
def generate(model: TextToImage, prompts: list[str], n_per_prompt: int = 8, guidance_scale: float = 3.0,
             seed: int = 0, device: str | torch.device | None = None) -> Tensor:
    """Algorithm 2 with classifier-free guidance ε̃ = ε_θ(x_t, t, ∅) + w (ε_θ(x_t, t, c) − ε_θ(x_t, t, ∅)).

    Returns images (len(prompts) · n_per_prompt, 1, H, W) in [-1, 1], prompt-major (the first n_per_prompt
    answer prompts[0]). w = ``guidance_scale`` (1: no guidance; 0: the unconditional model); "" is ∅.
    """
    model = _check_model(model)
    prompts = _check_prompts(prompts)
    if isinstance(n_per_prompt, bool) or not isinstance(n_per_prompt, int) or n_per_prompt < 1:
        raise ValueError(f"n_per_prompt must be a positive int, got {n_per_prompt!r}")
    if isinstance(guidance_scale, bool) or not isinstance(guidance_scale, (int, float)) \
            or not math.isfinite(guidance_scale):
        raise ValueError(f"guidance_scale must be a finite number, got {guidance_scale!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int, got {seed!r}")
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    model = model.to(dev).eval()
    table = _Conditions(model, model.encode(prompts), model.encode([""]))
    s = D.make_schedule(**model.config["schedule"], device=dev)
    labels = torch.arange(len(prompts), device=dev).repeat_interleave(n_per_prompt)   # prompt-major
    g = torch.Generator(device=dev).manual_seed(seed)
    x = D.sample(table, s, (len(labels), *model.image_shape), variance="beta", generator=g, y=labels,
                 guidance_scale=float(guidance_scale))
    return x.clamp(-1.0, 1.0)


def save(model: TextToImage, path: str | Path, half: bool = False) -> Path:
    """Write the model (config, weights, train_info) to ``path`` atomically; ``half`` stores float16."""
    model = _check_model(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if half and v.is_floating_point() else v).cpu() for k, v in model.state_dict().items()}
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        torch.save({"kind": KIND, "version": 1, "config": model.config, "state_dict": state,
                    "train_info": getattr(model, "train_info", {})}, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load(path: str | Path, device: str | torch.device | None = None, sha256: str | None = None) -> TextToImage:
    """A model written by :func:`save`. Another file (a DDPM or GAN checkpoint, anything else) raises a
    ValueError naming ``path``; with ``sha256``, so does a file whose SHA-256 differs."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path {str(path)!r} is not a file")
    data = path.read_bytes()
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError(f"path {str(path)!r} has SHA-256 {hashlib.sha256(data).hexdigest()}, expected {sha256}: "
                         "the file was changed or damaged; restore it from git or reinstall coursekit")
    try:
        payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as err:          # noqa: BLE001 — torch raises many types for a damaged file
        raise ValueError(f"path {str(path)!r} is not a text2image checkpoint (unreadable)") from err
    kind = payload.get("kind") if isinstance(payload, dict) else None
    if kind != KIND:
        other = payload.get("config", {}).get("kind") if isinstance(payload, dict) and \
            isinstance(payload.get("config"), dict) else None
        raise ValueError(f"path {str(path)!r} is not a text2image checkpoint (it holds "
                         f"{repr(other) + ' model' if other else type(payload).__name__}; make one with "
                         "text2image.save or coursekit t2i train)")
    config = dict(payload["config"])
    config.pop("kind")
    model = TextToImage(**config)
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in payload["state_dict"].items()})
    model.train_info = payload.get("train_info", {})
    return model.to(get_device(device)).eval()


def pretrained(device: str | torch.device | None = None) -> TextToImage:
    """The model shipped with the package (``assets/t2i_digits.pt``, float16 weights, made by
    ``bench/bench_t2i.py --asset``), SHA-256 checked."""
    return load(ASSET, device, sha256=ASSET_SHA256)


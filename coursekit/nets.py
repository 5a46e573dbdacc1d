"""Denoisers for the diffusion lectures: a time embedding, an MLP for 2-D data and a small U-Net for digits.

Both are called as ``model(x_t, t)`` or ``model(x_t, t, y)``: t is a long tensor (batch,) with values in
1..T and y a label tensor (batch,) where -1 (``diffusion.NULL_LABEL``) means "no label" (the null token of
classifier-free guidance). Each module keeps its constructor arguments in ``.config`` so a checkpoint can
rebuild it (see :func:`build`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class SinusoidalTimeEmbedding(nn.Module):
    """Transformer-style embedding of the step t: [sin(t ω_k), cos(t ω_k)], ω_k = 10000^(−k/(d/2))."""

    def __init__(self, dim: int, max_period: float = 10000.0):
        super().__init__()
        if dim % 2:
            raise ValueError(f"dim must be even, got {dim}")
        freqs = torch.exp(-math.log(max_period) * torch.arange(dim // 2, dtype=torch.float32) / (dim // 2))
        self.register_buffer("freqs", freqs, persistent=False)

    def forward(self, t: Tensor) -> Tensor:
        angles = t.float()[:, None] * self.freqs[None, :]
        return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


class LabelEmbedding(nn.Module):
    """Class labels 0..num_classes−1 plus a learned null token for label −1 (no condition)."""

    def __init__(self, num_classes: int, dim: int):
        super().__init__()
        self.num_classes = num_classes
        self.table = nn.Embedding(num_classes + 1, dim)

    def forward(self, y: Tensor) -> Tensor:
        if y.is_floating_point():
            raise ValueError(f"y must be integer labels, got dtype {y.dtype}")
        if bool((y >= self.num_classes).any()) or bool((y < -1).any()):
            raise ValueError(f"y must be in 0..{self.num_classes - 1} or -1 (no label)")
        return self.table(torch.where(y < 0, torch.full_like(y, self.num_classes), y))


def _embed_condition(time_mlp: nn.Module, label_emb: LabelEmbedding | None, t: Tensor, y: Tensor | None,
                     batch: int) -> Tensor:
    if t.shape != (batch,):
        raise ValueError(f"t must have shape ({batch},), got {tuple(t.shape)}")
    emb = time_mlp(t)
    if label_emb is not None:
        if y is None:
            y = torch.full((batch,), -1, dtype=torch.long, device=t.device)
        elif y.shape != (batch,):
            raise ValueError(f"y must have shape ({batch},), got {tuple(y.shape)}")
        emb = emb + label_emb(y)
    elif y is not None:
        raise ValueError("y was given but the model was built without num_classes")
    return emb


class MLPDenoiser(nn.Module):
    """ε_θ(x_t, t[, y]) for vectors (2-D toy data): an MLP with residual blocks and a time embedding.

    With ``image_shape=(C, H, W)`` it takes images (batch, C, H, W), flattens them to C·H·W inputs and
    reshapes its output back: on 8×8 digits a wide MLP is several times cheaper per step than a conv net,
    so it takes many more optimiser steps in the same wall time (``dim`` is then C·H·W).
    """

    def __init__(self, dim: int = 2, hidden: int = 128, depth: int = 3, time_dim: int = 64,
                 num_classes: int | None = None, image_shape: tuple[int, ...] | None = None):
        super().__init__()
        if image_shape is not None:
            image_shape = tuple(int(d) for d in image_shape)
            if len(image_shape) != 3 or min(image_shape) < 1:
                raise ValueError(f"image_shape must be (C, H, W) with positive sizes, got {image_shape}")
            dim = math.prod(image_shape)
        self.image_shape = image_shape
        self.config = dict(kind="mlp", dim=dim, hidden=hidden, depth=depth, time_dim=time_dim,
                           num_classes=num_classes)
        if image_shape is not None:
            self.config["image_shape"] = image_shape
        self.time_mlp = nn.Sequential(SinusoidalTimeEmbedding(time_dim), nn.Linear(time_dim, hidden), nn.SiLU(),
                                      nn.Linear(hidden, hidden))
        self.label_emb = LabelEmbedding(num_classes, hidden) if num_classes else None
        self.inp = nn.Linear(dim, hidden)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
            for _ in range(depth))
        self.out = nn.Sequential(nn.SiLU(), nn.Linear(hidden, dim))

    def forward(self, x: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        if self.image_shape is not None:
            if x.ndim != 4 or tuple(x.shape[1:]) != self.image_shape:
                raise ValueError(f"x must have shape (batch, {', '.join(map(str, self.image_shape))}), "
                                 f"got {tuple(x.shape)}")
            return self._forward(x.flatten(1), t, y).view_as(x)
        if x.ndim != 2 or x.shape[1] != self.config["dim"]:
            raise ValueError(f"x must have shape (batch, {self.config['dim']}), got {tuple(x.shape)}")
        return self._forward(x, t, y)

    def _forward(self, x: Tensor, t: Tensor, y: Tensor | None) -> Tensor:
        emb = _embed_condition(self.time_mlp, self.label_emb, t, y, x.shape[0])
        h = self.inp(x)
        for block in self.blocks:
            h = h + block(h + emb)          # the condition enters every block
        return self.out(h)


def _groups(channels: int) -> int:
    return math.gcd(channels, 8)


class ResBlock(nn.Module):
    """GroupNorm → SiLU → conv, twice, with the time/label embedding added in between (DDPM's block)."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(c_in), c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2 = nn.GroupNorm(_groups(c_out), c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(emb)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return h + self.skip(x)


class UNet(nn.Module):
    """A small U-Net ε_θ(x_t, t[, y]) for digit images: one ResBlock per level, ``len(channel_mults) − 1``
    down-samplings (so image sizes must be divisible by 2^(levels − 1)), GroupNorm, time and optional class
    embedding. The default (base 32, mults (1, 2)) has about 0.3 M parameters and trains in seconds per
    hundred steps on 8×8 digits on a laptop CPU."""

    def __init__(self, in_channels: int = 1, base_channels: int = 32, channel_mults: tuple[int, ...] = (1, 2),
                 num_classes: int | None = None, time_dim: int = 64):
        super().__init__()
        self.config = dict(kind="unet", in_channels=in_channels, base_channels=base_channels,
                           channel_mults=tuple(channel_mults), num_classes=num_classes, time_dim=time_dim)
        emb_dim = 4 * base_channels
        self.time_mlp = nn.Sequential(SinusoidalTimeEmbedding(time_dim), nn.Linear(time_dim, emb_dim), nn.SiLU(),
                                      nn.Linear(emb_dim, emb_dim))
        self.label_emb = LabelEmbedding(num_classes, emb_dim) if num_classes else None
        chans = [base_channels * m for m in channel_mults]
        self.inp = nn.Conv2d(in_channels, chans[0], 3, padding=1)
        self.down = nn.ModuleList(ResBlock(c_prev, c, emb_dim) for c_prev, c in zip([chans[0]] + chans[:-1], chans))
        self.downsample = nn.ModuleList(nn.Conv2d(c, c, 3, stride=2, padding=1) for c in chans[:-1])
        self.mid = ResBlock(chans[-1], chans[-1], emb_dim)
        self.up = nn.ModuleList(ResBlock(2 * c, c_out, emb_dim)
                                for c, c_out in zip(reversed(chans), list(reversed(chans))[1:] + [chans[0]]))
        self.upsample = nn.ModuleList(nn.Upsample(scale_factor=2, mode="nearest") for _ in chans[:-1])
        self.out = nn.Sequential(nn.GroupNorm(_groups(chans[0]), chans[0]), nn.SiLU(),
                                 nn.Conv2d(chans[0], in_channels, 3, padding=1))
        self.levels = len(chans)

    def forward(self, x: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.config["in_channels"]:
            raise ValueError(f"x must have shape (batch, {self.config['in_channels']}, H, W), got {tuple(x.shape)}")
        factor = 2 ** (self.levels - 1)
        if x.shape[-1] % factor or x.shape[-2] % factor:
            raise ValueError(f"image height and width must be divisible by {factor}, got {tuple(x.shape[-2:])}")
        emb = _embed_condition(self.time_mlp, self.label_emb, t, y, x.shape[0])
        h = self.inp(x)
        skips = []
        for level, block in enumerate(self.down):
            h = block(h, emb)
            skips.append(h)
            if level < self.levels - 1:
                h = self.downsample[level](h)
        h = self.mid(h, emb)
        for level, block in enumerate(self.up):
            if level > 0:
                h = self.upsample[level - 1](h)
            h = block(torch.cat([h, skips.pop()], dim=1), emb)
        return self.out(h)


def build(config: dict) -> nn.Module:
    """Rebuild a network from its ``.config`` (what checkpoints store)."""
    config = dict(config)
    kind = config.pop("kind", None)
    if kind == "mlp":
        return MLPDenoiser(**config)
    if kind == "unet":
        return UNet(**config)
    raise ValueError(f"config['kind'] must be 'mlp' or 'unet', got {kind!r}")

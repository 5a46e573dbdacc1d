"""Generators and discriminators for the teaching runs: MLPs for 2-D data, small DCGAN-style nets for digits.

Every network is optionally class-conditional (条件生成对抗网络, cGAN): the label y goes to *both* networks,
G(z, y) and D(x, y) (a one-hot y concatenated to the input, Mirza & Osindero 2014), as the slide's cGAN
objective min_G max_D E[log D(x, y) + log(1 − D(G(z, y), y))] needs.
Discriminators return logits (shape (batch,)); the losses in :mod:`coursekit.gan.losses` apply the sigmoid.

Two remedies for mode collapse (模式丢失) live in the 2-D discriminator, so the notes can switch them on:
``minibatch_std`` (D sees the spread of the batch, Karras et al. 2018) and ``pack`` (PacGAN, Lin et al. 2018:
D judges m samples jointly, so a generator that repeats itself is easy to spot).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _check_labels(y: Tensor | None, batch: int, num_classes: int | None, device: torch.device) -> Tensor | None:
    if num_classes is None:
        if y is not None:
            raise ValueError("y was given but the network was built without num_classes")
        return None
    if y is None:
        raise ValueError(f"y is required: the network is conditional on {num_classes} classes")
    if not isinstance(y, Tensor) or y.is_floating_point() or y.shape != (batch,):
        raise ValueError(f"y must be an integer tensor of shape ({batch},), got {getattr(y, 'shape', type(y))}")
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(f"y must hold labels in 0..{num_classes - 1}")
    return y.to(device)


def init_weights(module: nn.Module, gain: float = 0.02) -> nn.Module:
    """The DCGAN / pix2pix initialisation: conv and linear weights ~ N(0, 0.02), norm scales ~ N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)
    return module


# ---------------------------------------------------------------------------------------------------------
# 2-D data
# ---------------------------------------------------------------------------------------------------------

class MLPGenerator(nn.Module):
    """G(z[, y]): z ∼ N(0, I) of ``latent_dim`` → a point of ``out_dim`` (2-D toy data)."""

    def __init__(self, latent_dim: int = 16, out_dim: int = 2, hidden: int = 128, depth: int = 3,
                 num_classes: int | None = None):
        super().__init__()
        if latent_dim < 1 or out_dim < 1 or hidden < 1 or depth < 1:
            raise ValueError("latent_dim, out_dim, hidden and depth must be positive")
        self.config = dict(kind="mlp_generator", latent_dim=latent_dim, out_dim=out_dim, hidden=hidden,
                           depth=depth, num_classes=num_classes)
        self.latent_dim, self.num_classes = latent_dim, num_classes
        layers: list[nn.Module] = []
        width = latent_dim + (num_classes or 0)                  # z and the one-hot y, concatenated
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        self.net = nn.Sequential(*layers, nn.Linear(width, out_dim))

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (batch, {self.latent_dim}), got {tuple(z.shape)}")
        y = _check_labels(y, z.shape[0], self.num_classes, z.device)
        if y is not None:
            z = torch.cat([z, F.one_hot(y, self.num_classes).to(z.dtype)], dim=1)    # the condition enters G
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """D(x[, y]) → logit for vectors, with the mode-collapse remedies ``pack`` and ``minibatch_std``.

    ``pack = m`` (PacGAN): the batch is cut into groups of m samples, each group gets one logit, so the
    output has shape (batch / m,); the loss code treats it like any other logit vector.
    """

    def __init__(self, in_dim: int = 2, hidden: int = 128, depth: int = 3, num_classes: int | None = None,
                 pack: int = 1, minibatch_std: bool = False):
        super().__init__()
        if in_dim < 1 or hidden < 1 or depth < 1 or pack < 1:
            raise ValueError("in_dim, hidden, depth and pack must be positive")
        self.config = dict(kind="mlp_discriminator", in_dim=in_dim, hidden=hidden, depth=depth,
                           num_classes=num_classes, pack=pack, minibatch_std=minibatch_std)
        self.in_dim, self.num_classes, self.pack, self.minibatch_std = in_dim, num_classes, pack, minibatch_std
        self.sample_dim = in_dim + (num_classes or 0)            # x and the one-hot y, concatenated
        width = self.sample_dim * pack + (1 if minibatch_std else 0)
        layers: list[nn.Module] = []
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
            width = hidden
        self.net = nn.Sequential(*layers, nn.Linear(width, 1))

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        if x.ndim != 2 or x.shape[1] != self.in_dim:
            raise ValueError(f"x must have shape (batch, {self.in_dim}), got {tuple(x.shape)}")
        if x.shape[0] % self.pack:
            raise ValueError(f"x's batch ({x.shape[0]}) must be divisible by pack = {self.pack}")
        y = _check_labels(y, x.shape[0], self.num_classes, x.device)
        if y is not None:
            x = torch.cat([x, F.one_hot(y, self.num_classes).to(x.dtype)], dim=1)    # the condition enters D
        h = x.reshape(x.shape[0] // self.pack, self.sample_dim * self.pack)   # PacGAN: m samples → one input
        if self.minibatch_std:
            # one extra feature: the average (over coordinates) std of the batch; a collapsed G has ≈ 0
            spread = h.std(dim=0, unbiased=False).mean().expand(h.shape[0], 1)
            h = torch.cat([h, spread], dim=1)
        return self.net(h).squeeze(1)


# ---------------------------------------------------------------------------------------------------------
# Images (digits): DCGAN-style, transposed convolutions up, strided convolutions down
# ---------------------------------------------------------------------------------------------------------

def _levels(image_size: int) -> int:
    if image_size < 4 or image_size & (image_size - 1):
        raise ValueError(f"image_size must be a power of two >= 4, got {image_size}")
    return int(math.log2(image_size)) - 1          # 2×2 → image_size in this many doublings


class DCGANGenerator(nn.Module):
    """G(z[, y]) → images (batch, channels, size, size) in [-1, 1].

    z (and the one-hot y) → linear → (C, 2, 2) → [ConvTranspose 4×4 stride 2, BatchNorm, ReLU] × L → 3×3
    conv → tanh, with channels halving at each doubling (Radford et al. 2016).
    """

    def __init__(self, latent_dim: int = 32, image_size: int = 8, channels: int = 1, ngf: int = 32,
                 num_classes: int | None = None):
        super().__init__()
        levels = _levels(image_size)
        self.config = dict(kind="dcgan_generator", latent_dim=latent_dim, image_size=image_size,
                           channels=channels, ngf=ngf, num_classes=num_classes)
        self.latent_dim, self.num_classes = latent_dim, num_classes
        width = ngf * 2 ** levels
        self.width = width
        self.project = nn.Sequential(nn.Linear(latent_dim + (num_classes or 0), width * 4, bias=False),
                                     nn.BatchNorm1d(width * 4), nn.ReLU())
        ups: list[nn.Module] = []
        for _ in range(levels):
            ups += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width // 2), nn.ReLU()]
            width //= 2
        self.body = nn.Sequential(*ups, nn.Conv2d(width, channels, 3, padding=1), nn.Tanh())
        init_weights(self)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (batch, {self.latent_dim}), got {tuple(z.shape)}")
        y = _check_labels(y, z.shape[0], self.num_classes, z.device)
        if y is not None:
            z = torch.cat([z, F.one_hot(y, self.num_classes).to(z.dtype)], dim=1)   # G(z, y)
        return self.body(self.project(z).reshape(-1, self.width, 2, 2))


class DCGANDiscriminator(nn.Module):
    """D(x[, y]) → logit: a 3×3 conv and LeakyReLU 0.2, then [conv 4×4 stride 2, (BatchNorm,) LeakyReLU 0.2] down to
    2×2, then a linear layer.

    ``batch_norm=True`` is the DCGAN paper's discriminator (Radford et al. 2016: BatchNorm in D as in G, except on
    D's input layer); the default leaves it out, as the course's conditional models do (the cGAN's projection
    term below is the conditioning they rely on). Conditional: the one-hot label enters as extra constant input
    planes (the cGAN paper's concatenation) and again at the end as a projection ⟨embed(y), φ(x)⟩ (Miyato &
    Koyama 2018), which makes D check that the image shows *that* digit, not just any digit.
    """

    def __init__(self, image_size: int = 8, channels: int = 1, ndf: int = 32, num_classes: int | None = None,
                 batch_norm: bool = False):
        super().__init__()
        levels = _levels(image_size)
        self.config = dict(kind="dcgan_discriminator", image_size=image_size, channels=channels, ndf=ndf,
                           num_classes=num_classes, batch_norm=batch_norm)
        self.num_classes, self.image_size, self.channels = num_classes, image_size, channels
        layers: list[nn.Module] = [nn.Conv2d(channels + (num_classes or 0), ndf, 3, padding=1), nn.LeakyReLU(0.2)]
        width = ndf
        for _ in range(levels):
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=not batch_norm)]
            layers += [nn.BatchNorm2d(width * 2)] if batch_norm else []
            layers += [nn.LeakyReLU(0.2)]
            width *= 2
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.features = width * 4
        self.head = nn.Linear(self.features, 1)
        self.label_emb = nn.Embedding(num_classes, self.features) if num_classes else None
        init_weights(self)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        expected = (self.channels, self.image_size, self.image_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"x must have shape (batch, {', '.join(map(str, expected))}), got {tuple(x.shape)}")
        y = _check_labels(y, x.shape[0], self.num_classes, x.device)
        if y is not None:
            planes = F.one_hot(y, self.num_classes).to(x.dtype)[:, :, None, None].expand(-1, -1, *x.shape[2:])
            x = torch.cat([x, planes], dim=1)                                   # D(x, y)
        h = self.body(x)
        logit = self.head(h).squeeze(1)
        if y is not None:
            logit = logit + (self.label_emb(y) * h).sum(dim=1)                  # projection term
        return logit


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters (what the reference implementation prints as "Total number")."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)

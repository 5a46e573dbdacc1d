"""A plain MLP DDPM on the flattened 8×8 digits, the baseline coursekit must beat (bench only).

Written the way a first DDPM is usually written, independently of coursekit: linear β 1e-4 → 0.02 with
T = 1000, ε-prediction with L_simple, a 3-layer MLP fed [x_t, one-hot y, t/T], Adam at 1e-3, batch 128, no
EMA and no guidance; Algorithm 2 with σ_t² = β_t. ``train(seconds)`` then ``sample(model, labels)``.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn

T = 1000
BETAS = torch.linspace(1e-4, 0.02, T)
ALPHAS = 1.0 - BETAS
ALPHA_BARS = torch.cumprod(ALPHAS, dim=0)


class MLP(nn.Module):
    def __init__(self, dim: int = 64, classes: int = 10, hidden: int = 256, conditional: bool = True):
        super().__init__()
        self.classes = classes if conditional else 0
        self.net = nn.Sequential(nn.Linear(dim + self.classes + 1, hidden), nn.SiLU(), nn.Linear(hidden, hidden),
                                 nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        parts = [x, (t.float() / T)[:, None]]
        if self.classes:
            parts.append(F.one_hot(y, self.classes).float())
        return self.net(torch.cat(parts, dim=1))


def train(images: torch.Tensor, labels: torch.Tensor | None, seconds: float | None, seed: int = 0,
          steps: int | None = None) -> tuple[MLP, int]:
    """Algorithm 1 for ``seconds`` of wall time or ``steps`` optimiser steps; returns (model, steps taken)."""
    torch.manual_seed(seed)
    x0_all = images.flatten(1)
    model = MLP(conditional=labels is not None)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    n, start = 0, time.perf_counter()
    while (seconds is None or time.perf_counter() - start < seconds) and (steps is None or n < steps):
        idx = torch.randint(len(x0_all), (128,))
        x0 = x0_all[idx]
        t = torch.randint(0, T, (128,))                            # 0-based index of steps 1..T
        eps = torch.randn_like(x0)
        ab = ALPHA_BARS[t][:, None]
        x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
        loss = F.mse_loss(model(x_t, t, None if labels is None else labels[idx]), eps)
        opt.zero_grad()
        loss.backward()
        opt.step()
        n += 1
    return model.eval(), n


@torch.no_grad()
def sample(model: MLP, n: int, labels: torch.Tensor | None = None, seed: int = 1) -> torch.Tensor:
    """Algorithm 2 (σ_t² = β_t) for n images (n, 1, 8, 8)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 64, generator=g)
    for i in reversed(range(T)):
        t = torch.full((n,), i, dtype=torch.long)
        eps = model(x, t, labels)
        x = (x - BETAS[i] / (1 - ALPHA_BARS[i]).sqrt() * eps) / ALPHAS[i].sqrt()
        if i > 0:
            x = x + BETAS[i].sqrt() * torch.randn(n, 64, generator=g)
    return x.clamp(-1, 1).view(n, 1, 8, 8)

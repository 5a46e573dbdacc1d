"""The text-conditioned denoiser ε_θ(x_t, t, c): the course's residual MLP with FiLM conditioning.

c is the text encoder's vector for the prompt. With the time embedding it sets a per-block scale and shift
of the hidden units (FiLM, "feature-wise linear modulation"):

    e        = MLP(sinusoid(t)) + W c
    γ_b, β_b = A_b e
    h        ← h + Block_b(h ⊙ (1 + γ_b) + β_b)        (b = 1..depth)

Stable Diffusion lets the U-Net's pixels attend to the text tokens (cross-attention); on 8×8 digits whose
pixels are one flat vector a pooled c with FiLM does the same job for a fraction of the cost.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..nets import SinusoidalTimeEmbedding
from .encoder import START, TextEncoder

KIND = "coursekit.text2image"


class FiLMDenoiser(nn.Module):
    """ε_θ(x_t, t, c) for flattened 8×8 images: residual MLP blocks modulated by (t, c)."""

    def __init__(self, dim: int = 64, hidden: int = 192, depth: int = 3, time_dim: int = 64, cond_dim: int = 64):
        super().__init__()
        self.time_mlp = nn.Sequential(SinusoidalTimeEmbedding(time_dim), nn.Linear(time_dim, hidden), nn.SiLU(),
                                      nn.Linear(hidden, hidden))
        self.cond = nn.Linear(cond_dim, hidden)
        self.inp = nn.Linear(dim, hidden)
        self.films = nn.ModuleList(nn.Sequential(nn.SiLU(), nn.Linear(hidden, 2 * hidden)) for _ in range(depth))
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
            for _ in range(depth))
        self.out = nn.Sequential(nn.SiLU(), nn.Linear(hidden, dim))

    def forward(self, x: Tensor, t: Tensor, c: Tensor) -> Tensor:
        e = self.time_mlp(t) + self.cond(c)                                     # e = MLP(sinusoid(t)) + W c
        h = self.inp(x)
        for film, block in zip(self.films, self.blocks):
            gamma, beta = film(e).chunk(2, dim=1)                               # γ_b, β_b = A_b e
            h = h + block(h * (1 + gamma) + beta)
        return self.out(h)


class TextToImage(nn.Module):
    """Text encoder + FiLM denoiser + what generation needs (schedule, caption bins), all in ``.config``."""

    def __init__(self, vocab: list[str], bins: dict, schedule: dict, image_shape: tuple[int, int, int] = (1, 8, 8),
                 text_dim: int = 64, text_layers: int = 1, heads: int = 4, max_tokens: int = 24,
                 hidden: int = 192, depth: int = 3, time_dim: int = 64, p_uncond: float = 0.1):
        super().__init__()
        self.config = dict(kind=KIND, vocab=list(vocab), bins=bins, schedule=dict(schedule),
                           image_shape=list(image_shape), text_dim=text_dim, text_layers=text_layers, heads=heads,
                           max_tokens=max_tokens, hidden=hidden, depth=depth, time_dim=time_dim, p_uncond=p_uncond)
        self.image_shape = tuple(image_shape)
        self.encoder = TextEncoder(vocab, text_dim, text_layers, heads, max_tokens)
        dim = image_shape[0] * image_shape[1] * image_shape[2]
        self.denoiser = FiLMDenoiser(dim, hidden, depth, time_dim, text_dim)

    def encode(self, prompts: list[str]) -> Tensor:
        """c for each prompt (len(prompts), text_dim); "" gives the unconditional ∅."""
        return self.encoder(self.encoder.ids(prompts))

    def forward(self, x: Tensor, t: Tensor, c: Tensor) -> Tensor:
        """ε_θ(x_t, t, c) for images (batch, *image_shape)."""
        return self.denoiser(x.flatten(1), t, c).view_as(x)


class PromptTable(nn.Module):
    """The model seen as a *label*-conditional denoiser, so DDPM's own loss and sampler drive it unchanged:
    label k picks row k of ``ids`` (a caption's token ids) and −1 (``NULL_LABEL``, what ``drop_labels`` uses
    for classifier-free guidance) the empty prompt ∅. Each distinct caption of a batch is encoded once,
    trimmed to the batch's longest caption (the encoder is most of a training step's cost)."""

    def __init__(self, model: TextToImage, ids: Tensor):
        super().__init__()
        self.model = model
        empty = torch.zeros_like(ids[:1])
        empty[:, 0] = START
        self.ids = torch.cat([ids, empty])           # last row: ∅ (a plain tensor: the EMA never copies it)

    def forward(self, x: Tensor, t: Tensor, y: Tensor) -> Tensor:
        rows = torch.where(y < 0, len(self.ids) - 1, y)
        unique, inverse = torch.unique(rows, return_inverse=True)
        ids = self.ids[unique]
        ids = ids[:, :int((ids != 0).sum(1).max())]                                   # drop all-padding columns
        return self.model(x, t, self.model.encoder(ids)[inverse])

"""A text encoder trained from scratch with the denoiser: token embeddings and a small transformer.

Imagen conditions its diffusion model on a frozen T5, Stable Diffusion on CLIP's text transformer. Here the
vocabulary is about 70 tokens and the captions are short, so a single transformer layer learnt jointly with
the denoiser is enough:

    e_k = E[token_k] + P[k]                  (token + position embedding, k = 0 is a start token)
    h   = TransformerLayer(e)                (self-attention: 一 next to 个 means "a", not the digit 1)
    c   = mean_k h_k  over non-padding k     (one vector per prompt; it conditions the denoiser)

The prompt "" is the start token alone: its c is the ∅ of classifier-free guidance.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn

from .captions import tokenize

PAD, START = 0, 1


class TextEncoder(nn.Module):
    """Prompts → one vector each. ``vocab`` lists the known tokens; unknown ones are ignored."""

    def __init__(self, vocab: list[str], dim: int = 64, layers: int = 1, heads: int = 4, max_tokens: int = 24):
        super().__init__()
        self.vocab, self.max_tokens, self.dim = list(vocab), max_tokens, dim
        self.index = {tok: i + 2 for i, tok in enumerate(self.vocab)}           # 0: padding, 1: start
        self.tok = nn.Embedding(len(self.vocab) + 2, dim, padding_idx=PAD)
        self.pos = nn.Embedding(max_tokens + 1, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, 2 * dim, dropout=0.0, batch_first=True, norm_first=True)
        self.layers = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)

    def ids(self, prompts: list[str], warn: bool = True) -> Tensor:
        """Token ids (len(prompts), 1 + max_tokens): start token, known tokens, padding. Prompts with more
        than ``max_tokens`` known tokens are truncated with a warning."""
        rows = []
        for i, text in enumerate(prompts):
            if not isinstance(text, str):
                raise ValueError(f"prompts[{i}] must be a str, got {type(text).__name__}")
            ids = [self.index[tok] for tok in tokenize(text) if tok in self.index]    # unknown: ignored
            if len(ids) > self.max_tokens:
                if warn:
                    warnings.warn(f"prompts[{i}] has {len(ids)} known tokens; only the first {self.max_tokens} "
                                  "are used", stacklevel=3)
                ids = ids[:self.max_tokens]
            rows.append([START] + ids + [PAD] * (self.max_tokens - len(ids)))
        return torch.tensor(rows, dtype=torch.long, device=self.tok.weight.device)

    def forward(self, ids: Tensor) -> Tensor:
        """c (batch, dim) for token ids (batch, L ≤ 1 + max_tokens) that start with the start token."""
        if ids.ndim != 2 or ids.shape[1] > self.max_tokens + 1 or ids.is_floating_point():
            raise ValueError(f"ids must be integer token ids (batch, ≤ {self.max_tokens + 1}), got {tuple(ids.shape)}")
        pad = ids == PAD
        positions = torch.arange(ids.shape[1], device=ids.device)
        h = self.tok(ids) + self.pos(positions)[None]                           # e_k = E[token_k] + P[k]
        h = self.norm(self.layers(h, src_key_padding_mask=pad))                 # self-attention over the prompt
        keep = (~pad).unsqueeze(-1).to(h.dtype)
        return (h * keep).sum(1) / keep.sum(1)                                  # c = mean over real tokens

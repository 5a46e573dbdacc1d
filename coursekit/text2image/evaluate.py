"""What the model understood, measured: the digit on unseen phrasings, and ink/slant/size on style words.

- **digit**: prompts from ``captions.HELD_OUT`` (phrasings never used in training, random style words),
  read by the course's metric classifier; the share read as the asked digit, per language;
- **style**: for each digit, samples for "a thick d" vs "a thin d" (and 粗/细, left/right, big/small): the
  mean measured attribute of each; a word works for a digit when its side is above the other side.
"""

from __future__ import annotations

import random

import torch
from torch import Tensor

from ..metrics import class_accuracy
from .captions import DIGIT_WORDS, LANGS, caption, measure

# attribute → (prompt for the high third, prompt for the low third), {d} is the digit word
CONTRASTS = {
    "en": {"ink": ("a thick {d}", "a thin {d}"), "slant": ("a {d} slanted to the right", "a {d} slanted to the left"),
           "size": ("a big {d}", "a small {d}")},
    "zh": {"ink": ("一个粗的{d}", "一个细的{d}"), "slant": ("一个{d}，向右倾斜", "一个{d}，向左倾斜"),
           "size": ("一个大的{d}", "一个小的{d}")},
}


def held_out_prompts(lang: str, per_digit: int = 4, seed: int = 0) -> tuple[list[str], Tensor]:
    """``per_digit`` held-out phrasings for each digit 0..9 in ``lang`` (random words and styles), labels."""
    rng = random.Random(seed)
    prompts, labels = [], []
    for d in range(10):
        for _ in range(per_digit):
            bins = {a: rng.randrange(3) for a in ("ink", "slant", "size")}
            prompts.append(caption(d, bins, lang, rng, held_out=True))
            labels.append(d)
    return prompts, torch.tensor(labels)


def digit_accuracy(model, lang: str, per_digit: int = 4, n_per_prompt: int = 4, guidance_scale: float = 3.0,
                   seed: int = 0) -> dict:
    """Share of samples the metric classifier reads as the asked digit, on held-out phrasings in ``lang``."""
    from . import generate

    prompts, labels = held_out_prompts(lang, per_digit, seed)
    images = generate(model, prompts, n_per_prompt, guidance_scale, seed=seed)
    accuracy, confidence = class_accuracy(images, labels.repeat_interleave(n_per_prompt))
    return {"lang": lang, "samples": len(images), "accuracy": accuracy, "confidence": confidence,
            "examples": prompts[::per_digit][:3]}


def style_contrast(model, attribute: str = "ink", lang: str = "en", n_per_prompt: int = 16,
                   guidance_scale: float = 3.0, seed: int = 0) -> dict:
    """For each digit, the mean measured ``attribute`` of samples asked high vs low; ``wins`` counts the
    digits where high > low."""
    from . import generate

    high, low = CONTRASTS[lang][attribute]
    words = [DIGIT_WORDS[lang][d][-1] for d in range(10)]            # "zero"… / 零、一…
    prompts = [p.format(d=w) for w in words for p in (high, low)]
    values = measure(generate(model, prompts, n_per_prompt, guidance_scale, seed=seed))[attribute]
    per = values.view(10, 2, n_per_prompt).mean(2)                      # (digit, high/low)
    return {"attribute": attribute, "lang": lang, "high": per[:, 0].tolist(), "low": per[:, 1].tolist(),
            "wins": int((per[:, 0] > per[:, 1]).sum()), "prompts": (high, low)}


__all__ = ["CONTRASTS", "LANGS", "held_out_prompts", "digit_accuracy", "style_contrast"]

"""Captions for the digits, in Chinese and English, made from the label and from the image itself.

A text-to-image model (Imagen, Stable Diffusion in the slides) learns from (image, caption) pairs. The
bundled digits have labels but no captions, so we write them: the digit word, plus words for three
attributes measured on the pixels u ∈ [0, 1] (u = (x + 1)/2) with image moments:

    ink   = mean_ij u_ij                                  (thick / 粗 vs thin / 细)
    slant = −μ₁₁ / μ₀₂                                    (x-shear per row; > 0 leans right / 向右倾斜)
    size  = √(μ₂₀ + μ₀₂)                                  (spread of the ink: big / 大 vs small / 小)

with the central moments μ_pq = Σ_ij u_ij (j − j̄)^p (i − ī)^q / Σ_ij u_ij (column j, row i, rows downwards).

Each attribute is binned in thirds within the digit's class: "a thick 1" is thick for a 1, and "a 7
slanted to the left" leans further left than most 7s (measured over all digits, slant is mostly a matter of
shape: no 7 of the set would lean left and no 6 right). The middle third gets no word.
Many phrasings per language are generated at random; ``HELD_OUT`` phrasings are never used in training,
to measure whether the model understands new sentences made of known words.

Tokens: an English word, a single numeral, or a single Chinese character ("向左倾斜" is four tokens; the
model must learn that 一 in 一个 "a" is not the digit 一). Unknown tokens are ignored.
"""

from __future__ import annotations

import random
import re

import torch
from torch import Tensor

ATTRIBUTES = ("ink", "slant", "size")
LANGS = ("zh", "en")

DIGIT_WORDS = {
    "en": [["0", "zero"], ["1", "one"], ["2", "two"], ["3", "three"], ["4", "four"], ["5", "five"],
           ["6", "six"], ["7", "seven"], ["8", "eight"], ["9", "nine"]],
    "zh": [["0", "〇", "零"], ["1", "一"], ["2", "二"], ["3", "三"], ["4", "四"], ["5", "五"],
           ["6", "六"], ["7", "七"], ["8", "八"], ["9", "九"]],
}
# (attribute, bin) → words: bin 0 is the low third, 2 the high third; adjectives go before the digit,
# slant phrases after it (English) or before it with 的 (Chinese).
STYLE_WORDS = {
    "en": {("ink", 0): ["thin", "light", "skinny"], ("ink", 2): ["thick", "bold", "heavy"],
           ("size", 0): ["small", "little", "tiny"], ("size", 2): ["big", "large"],
           ("slant", 0): ["slanted to the left", "tilted left", "leaning left"],
           ("slant", 2): ["slanted to the right", "tilted right", "leaning right"]},
    "zh": {("ink", 0): ["细", "细细", "笔画细"], ("ink", 2): ["粗", "粗粗", "笔画粗"],
           ("size", 0): ["小", "小小"], ("size", 2): ["大", "大大"],
           ("slant", 0): ["向左倾斜", "向左斜", "左斜"], ("slant", 2): ["向右倾斜", "向右斜", "右斜"]},
}
# {a}: adjectives ("thick small" / "粗的小"), {d}: the digit word, {s}: a slant phrase (may be empty).
TEMPLATES = {
    "en": ["{a} {d} {s}", "a {a} {d} {s}", "a handwritten {a} {d} {s}", "please draw a {a} {d} {s}",
           "draw a {a} digit {d} {s}", "the digit {d} , {a} {s}", "{d}", "a {a} handwritten digit {d} {s}"],
    "zh": ["{a}{d}{s}", "一个{a}{d}{s}", "画一个{a}{d}{s}", "手写的{a}{d}{s}", "请画{a}数字{d}{s}",
           "数字{d}，{a}{s}", "{d}", "一个{a}手写数字{d}{s}"],
}
HELD_OUT = {     # never seen in training: known words in new orders and combinations
    "en": ["please draw {d} , {a} {s}", "handwritten {a} {d} digit {s} please"],
    "zh": ["请手写一个{a}{d}{s}", "数字{d}，要{a}{s}"],
}
MAX_TOKENS = 24
_TOKEN = re.compile(r"[a-z]+|[0-9]|[\u3007\u4e00-\u9fff]")


def tokenize(text: str) -> list[str]:
    """Lower-cased English words, single numerals and single Chinese characters; everything else dropped."""
    if not isinstance(text, str):
        raise ValueError(f"prompt must be a str, got {type(text).__name__}")
    return _TOKEN.findall(text.lower())


# ---------------------------------------------------------------------------------------------------------
# attributes measured on the image
# ---------------------------------------------------------------------------------------------------------

def measure(images: Tensor) -> dict[str, Tensor]:
    """ink, slant and size (see the module docstring) of images (N, 1, H, W) in [-1, 1]; each (N,)."""
    if not isinstance(images, Tensor) or images.ndim != 4 or images.shape[1] != 1:
        raise ValueError(f"images must be a tensor (N, 1, H, W), got {getattr(images, 'shape', type(images))}")
    u = ((images.detach().float().cpu()[:, 0] + 1) / 2).clamp(0, 1)           # (N, H, W) in [0, 1]
    n, h, w = u.shape
    mass = u.sum((1, 2)).clamp(min=1e-6)
    rows = torch.arange(h, dtype=torch.float32)[None, :, None]
    cols = torch.arange(w, dtype=torch.float32)[None, None, :]
    i_bar = (u * rows).sum((1, 2)) / mass
    j_bar = (u * cols).sum((1, 2)) / mass
    di, dj = rows - i_bar[:, None, None], cols - j_bar[:, None, None]
    mu02 = (u * di * di).sum((1, 2)) / mass                                    # vertical spread
    mu20 = (u * dj * dj).sum((1, 2)) / mass
    mu11 = (u * di * dj).sum((1, 2)) / mass
    return {"ink": u.mean((1, 2)),
            "slant": -mu11 / mu02.clamp(min=1e-6),                             # rows grow downwards
            "size": torch.sqrt(mu20 + mu02)}


def fit_bins(images: Tensor, labels: Tensor) -> dict[str, list[list[float]]]:
    """Tercile edges [low, high] of each attribute for each class: {attribute: 10 rows of 2 floats}."""
    values = measure(images)
    thirds = torch.tensor([1 / 3, 2 / 3])
    return {name: [torch.quantile(v[labels == c], thirds).tolist() for c in range(10)]
            for name, v in values.items()}


def attribute_bins(images: Tensor, labels: Tensor, bins: dict) -> dict[str, Tensor]:
    """0 (low third), 1 (middle) or 2 (high third) for each attribute of each image."""
    values = measure(images)
    out = {}
    for name, v in values.items():
        edges = torch.tensor(bins[name])[labels.cpu()]
        out[name] = (v > edges[:, 0]).long() + (v > edges[:, 1]).long()
    return out


# ---------------------------------------------------------------------------------------------------------
# phrasings
# ---------------------------------------------------------------------------------------------------------

def caption(label: int, bins: dict[str, int], lang: str, rng: random.Random, held_out: bool = False,
            p_style: float = 0.6) -> str:
    """One random caption of a digit: ``bins`` maps attribute → 0/1/2; each non-middle attribute is named
    with probability ``p_style``. ``held_out`` draws from the phrasings kept out of training."""
    words = STYLE_WORDS[lang]
    adjectives = [rng.choice(words[(a, bins[a])]) for a in ("ink", "size")
                  if bins[a] != 1 and rng.random() < p_style]
    slant = rng.choice(words[("slant", bins["slant"])]) if bins["slant"] != 1 and rng.random() < p_style else ""
    digit = rng.choice(DIGIT_WORDS[lang][label])
    template = rng.choice((HELD_OUT if held_out else TEMPLATES)[lang])
    if lang == "zh":
        a = "".join(w + "的" for w in adjectives)
        text = template.format(a=a, d=digit, s="，" + slant if slant else "")
    else:
        text = template.format(a=" ".join(adjectives), d=digit, s=slant)
    return " ".join(text.split())


def training_captions(labels: Tensor, bins: dict[str, Tensor], per_image: int, seed: int = 0) -> list[list[str]]:
    """``per_image`` captions per image, alternating Chinese and English, from the training phrasings."""
    rng = random.Random(seed)
    out = []
    for i, y in enumerate(labels.tolist()):
        b = {a: int(bins[a][i]) for a in ATTRIBUTES}
        out.append([caption(y, b, LANGS[k % 2], rng) for k in range(per_image)])
    return out


def build_vocab(texts: list[str]) -> list[str]:
    """Every token of ``texts``, sorted (index 0 is padding, 1 the start token: see encoder.TextEncoder)."""
    return sorted({tok for text in texts for tok in tokenize(text)})

"""Figures of unit 06d, text to image: one row of samples per prompt, the prompt as the row's title and what the
metric classifier reads in them (Chinese glyphs need :func:`coursekit.viz.setup_fonts`). ``coursekit t2i sample``
writes its PNG with :func:`save_prompt_grid`; the widget in :mod:`coursekit.widgets.text2image` uses them too."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from torch import Tensor

from .diffusion_plots import draw_images, fig_to_png, new_figure

READ_AS = {"en": "classifier reads {d}: {k}/{n}", "zh": "分类器读作 {d}：{k}/{n}"}
EMPTY = {"en": "(empty prompt: unconditional)", "zh": "（空提示：无条件）"}


def reading(counts: Tensor, lang: str = "en") -> str:
    """'classifier reads 7: 8/8' for the class counts (10,) of one prompt's samples."""
    top = int(counts.argmax())
    return READ_AS[lang].format(d=top, k=int(counts[top]), n=int(counts.sum()))


def draw_prompt_grid(fig, images: Tensor, prompts: Sequence[str], counts: Sequence[Tensor] | None = None,
                     lang: str = "en") -> None:
    """One row per prompt (images prompt-major, as text2image.generate returns them), titled with the prompt
    and, with ``counts``, the classifier's reading."""
    n = images.shape[0] // len(prompts)
    axes = fig.subplots(len(prompts), 1, squeeze=False)[:, 0]
    for i, (ax, prompt) in enumerate(zip(axes, prompts)):
        title = f"“{prompt}”" if prompt else EMPTY[lang]
        if counts is not None:
            title += "   ·   " + reading(counts[i], lang)
        draw_images(ax, images[i * n:(i + 1) * n], title, nrow=n)


def save_prompt_grid(path: str | Path, images: Tensor, prompts: Sequence[str], counts: Sequence[Tensor] | None = None,
                     lang: str = "en") -> Path:
    """Write :func:`draw_prompt_grid` as a PNG (no pyplot: safe in scripts and threads)."""
    n = images.shape[0] // len(prompts)
    fig = new_figure((max(4.0, 0.62 * n + 0.6), 1.05 * len(prompts) + 0.2), managed=False)
    draw_prompt_grid(fig, images, prompts, counts, lang)
    fig.tight_layout()
    Path(path).write_bytes(fig_to_png(fig, 110))
    return Path(path)

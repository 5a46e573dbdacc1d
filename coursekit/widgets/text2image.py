"""Widget of unit 06d, text to image: type a prompt, move the guidance scale, see the samples.

- :class:`TextToImageExplorer`  a text box and a guidance slider → a grid of samples for that prompt and what
  the metric classifier reads in them (the model is sampled again on every change: about a second on a CPU)

:func:`draw_prompt_grid` / :func:`save_prompt_grid` draw one row of samples per prompt, the prompt as the row's
title (Chinese glyphs need :func:`coursekit.viz.setup_fonts`); ``coursekit t2i sample`` writes its PNG with them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from ..viz.diffusion_plots import draw_images
from .core import _check_lang, _Figure, _png

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
    png = _png(lambda fig: (draw_prompt_grid(fig, images, prompts, counts, lang), fig.tight_layout()),
               (max(4.0, 0.62 * n + 0.6), 1.05 * len(prompts) + 0.2), dpi=110)
    Path(path).write_bytes(png)
    return Path(path)


class TextToImageExplorer(_Figure):
    """Type a prompt (Enter) or move w: ``n`` samples of ``model`` for that prompt with guidance scale w, and
    the metric classifier's reading of them. The same seed for every prompt, so only the text changes."""

    def __init__(self, model, prompt: str = "一个粗的七", guidance_scale: float = 3.0, n: int = 16,
                 lang: str = "en", seed: int = 0):
        import ipywidgets as W

        from ..text2image import _check_model

        self.model, self.lang, self.n, self.seed = _check_model(model), _check_lang(lang), n, seed
        label = {"en": ("prompt", "guidance w"), "zh": ("提示词", "引导强度 w")}[self.lang]
        self.text = W.Text(value=prompt, description=label[0], continuous_update=False,
                           layout=W.Layout(width="420px"))
        self.slider = W.FloatSlider(value=guidance_scale, min=0.0, max=8.0, step=0.5, description=label[1],
                                    continuous_update=False, style={"description_width": "90px"})
        self.image = W.Image(format="png")
        self.text.observe(lambda _: self.refresh(), names="value")
        self.slider.observe(lambda _: self.refresh(), names="value")
        self.widget = W.VBox([W.HBox([self.text, self.slider]), self.image])
        self.refresh()

    def samples(self) -> tuple[Tensor, Tensor]:
        """(images, class counts (10,)) for the current prompt and w."""
        from .. import metrics
        from ..text2image import generate

        images = generate(self.model, [self.text.value], self.n, float(self.slider.value), seed=self.seed).cpu()
        return images, torch.bincount(metrics.classify(images)[0], minlength=10)

    def _render(self) -> bytes:
        images, counts = self.samples()
        self.counts = counts

        rows = (self.n + 7) // 8
        height = 0.35 + 0.66 * rows

        def draw(fig):
            draw_images(fig.add_axes((0.02, 0.02, 0.96, 1 - 0.4 / height)), images, None, nrow=8)
            title = f"“{self.text.value}”" if self.text.value else EMPTY[self.lang]
            fig.text(0.5, 1 - 0.17 / height, f"{title}  ·  w = {float(self.slider.value):g}  ·  "
                     f"{reading(counts, self.lang)}", ha="center", va="center", fontsize=9)

        return _png(draw, (5.2, height), dpi=90)

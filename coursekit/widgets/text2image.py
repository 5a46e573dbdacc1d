"""Widget of unit 06d, text to image: type a prompt, move the guidance scale, see the samples.

- :class:`TextToImageExplorer`  a text box and a guidance slider → a grid of samples for that prompt and what
  the metric classifier reads in them (the model is sampled again on every change: about a second on a CPU)

The static figures (one row per prompt) are in :mod:`coursekit.viz.text2image`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..viz.diffusion_plots import draw_images
from ..viz.text2image import EMPTY, reading
from .core import _check_lang, _Figure, _png


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

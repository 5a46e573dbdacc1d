"""Widget of unit 06d, text to image: type a prompt, move the guidance scale, see the samples.

- :class:`TextToImageExplorer`  a text box with a Generate button and a guidance slider → a grid of samples for
  that prompt and what the metric classifier reads in them (the model is sampled again on every change: about
  a second on a CPU). Labels, tooltips and the hint line in the edition's language.

The static figures (one row per prompt) are in :mod:`coursekit.viz.text2image`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..viz.diffusion_plots import draw_images
from ..viz.text2image import EMPTY, reading
from .core import _check_lang, _Figure, _png

LABELS = {
    "zh": {"prompt": "提示词", "w": "引导系数 w", "button": "生成", "placeholder": "输入提示词，按回车或点“生成”",
           "button_tip": "用文本框里的提示词重新采样（在文本框里按回车也可以）",
           "w_tip": "w = 0：无条件模型（提示词不起作用）；w = 1：不加引导；w 越大越听提示词，样本也越单调",
           "hint": "输入提示词后按<b>回车</b>或点<b>生成</b>才会重画（只打字不会）；不认识的字词会被忽略，"
                   "空提示就是无条件模型。"
                   "w = 0 是无条件模型，w = 1 不加引导，w 越大越听提示词、样本也越单调。每次重画约需一秒。"},
    "en": {"prompt": "prompt", "w": "guidance w", "button": "Generate", "placeholder": "type a prompt, then Enter",
           "button_tip": "sample again with the prompt in the box (Enter in the box does the same)",
           "w_tip": "w = 0: the unconditional model (the prompt does nothing); w = 1: no guidance; a larger w "
                    "follows the prompt more closely and gives less varied digits",
           "hint": "Press <b>Enter</b> or click <b>Generate</b> after typing a prompt (typing alone does not "
                   "redraw); unknown words are ignored and the empty prompt is the unconditional model. w = 0 is "
                   "the unconditional model, w = 1 no guidance, a larger w follows the prompt more closely with "
                   "less varied digits. Each redraw takes about a second."},
}


class TextToImageExplorer(_Figure):
    """Type a prompt and press Enter (or click Generate), or move w: ``n`` samples of ``model`` for that prompt
    with guidance scale w, and the metric classifier's reading of them. The same seed for every prompt, so only
    the text changes; a line under the controls says that typing alone does not redraw."""

    def __init__(self, model, prompt: str = "一个粗的七", guidance_scale: float = 3.0, n: int = 16,
                 lang: str = "en", seed: int = 0):
        import ipywidgets as W

        from ..text2image import _check_model

        self.model, self.lang, self.n, self.seed = _check_model(model), _check_lang(lang), n, seed
        label = LABELS[self.lang]
        self.text = W.Text(value=prompt, description=label["prompt"], placeholder=label["placeholder"],
                           continuous_update=False, layout=W.Layout(width="420px"))
        self.button = W.Button(description=label["button"], tooltip=label["button_tip"], icon="refresh",
                               layout=W.Layout(width="90px"))
        self.slider = W.FloatSlider(value=guidance_scale, min=0.0, max=8.0, step=0.5, description=label["w"],
                                    tooltip=label["w_tip"], continuous_update=False,
                                    style={"description_width": "90px"})
        self.hint = W.HTML(f"<small>{label['hint']}</small>")
        self.image = W.Image(format="png")
        self.shown: tuple[str, float] | None = None
        self.text.observe(lambda _: self.refresh(), names="value")
        self.slider.observe(lambda _: self.refresh(), names="value")
        self.button.on_click(lambda _: self.refresh())
        self.widget = W.VBox([W.HBox([self.text, self.button, self.slider]), self.hint, self.image])
        self.refresh()

    def state(self) -> tuple[str, float]:
        return self.text.value, float(self.slider.value)

    def refresh(self) -> None:
        """Sample and draw, unless the prompt and w are what the picture already shows (a click on Generate
        right after Enter, or after the box sent its text on losing focus, costs nothing)."""
        if self.state() != self.shown:
            super().refresh()
            self.shown = self.state()

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

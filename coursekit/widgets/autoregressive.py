"""Live widgets for the autoregressive lecture (slides: 自回归生成模型, PixelRNN/PixelCNN).

- :class:`ReceptiveFieldExplorer`  choose the depth of a masked-convolution stack, its kernel, its first mask and
  a pixel: see which earlier pixels can influence it (computed by gradients) and the blind spot
- :class:`SamplingPlayer`          Play + slider over a pixel-by-pixel sampling run recorded once by
  ``PixelCNN.sample(..., callback=...)``; its slider counts steps 1..D (step i draws pixel i of the raster order)

Each object displays as the widget *and* a PNG of its current state (see :mod:`coursekit.widgets.core`).
"""

from __future__ import annotations

import ipywidgets as W
import torch
from torch import Tensor, nn

from .. import autoregressive as AR
from .._checks import check_choice
from ..viz import autoregressive as V
from .core import _check_lang, _Figure, _Player, _png

_TEXT = {
    "layers": {"zh": "层数", "en": "layers"},
    "kernel": {"zh": "卷积核", "en": "kernel"},
    "first": {"zh": "第一层掩码", "en": "first mask"},
    "row": {"zh": "行", "en": "row"},
    "col": {"zh": "列", "en": "column"},
    "caption": {"zh": "像素 ({r}, {c}) 之前共有 {earlier} 个像素：能影响它的 {seen} 个，盲点 {blind} 个{leak}",
                "en": "{earlier} pixels come before ({r}, {c}): {seen} can influence it, "
                      "{blind} in the blind spot{leak}"},
    "leak": {"zh": "；<b style='color:#d62728'>它能看到自己 xᵢ：模型作弊！</b>",
             "en": "; <b style='color:#d62728'>it sees its own xᵢ: the model cheats!</b>"},
    "tip_layers": {"zh": "掩码卷积的层数：第一层用所选的掩码，之后都是 B 型",
                   "en": "masked convolution layers: the first with the chosen mask, then type B"},
    "tip_kernel": {"zh": "每层卷积核的大小 k×k", "en": "the k×k kernel of every layer"},
    "tip_first": {"zh": "第一层的掩码：A 型看不到像素本身，B 型看得到（模型会作弊）",
                  "en": "the first layer's mask: type A hides the pixel itself, type B shows it (the model cheats)"},
    "tip_pixel": {"zh": "要看的像素的行号 / 列号（从 0 数起）",
                  "en": "the row / column of the pixel to inspect (from 0)"},
    "frame": {"zh": "步", "en": "step"},
    "play": {"zh": "播放", "en": "play"},
    "play_tooltip": {"zh": "▶ 播放 / ❚❚ 暂停 · ■ 停止并回到第 1 步 · ↻ 循环播放",
                     "en": "▶ play / ❚❚ pause · ■ stop and go back to step 1 · ↻ loop"},
}


def _t(key: str, lang: str, **fields: object) -> str:
    return _TEXT[key][lang].format(**fields)


def masked_stack(layers: int, kernel_size: int = 3, first: str = "A") -> nn.Sequential:
    """A linear stack of one-channel masked convolutions (``first`` mask, then type B) with every tap = 1 and no
    bias: the gradient of an output pixel counts the paths from each input pixel, so it is non-zero exactly on
    the receptive field (no cancellation can hide a dependency)."""
    if not isinstance(layers, int) or layers < 1:
        raise ValueError(f"layers must be a positive int, got {layers!r}")
    check_choice("first", first, AR.MASK_TYPES)
    convs = [AR.MaskedConv2d(1, 1, kernel_size, first if i == 0 else "B", bias=False) for i in range(layers)]
    with torch.no_grad():
        for conv in convs:
            conv.weight.fill_(1.0)
    return nn.Sequential(*convs)


class ReceptiveFieldExplorer(_Figure):
    """Which earlier pixels can influence the output at a pixel, for a plain PixelCNN stack (type A, then B).

    The field is measured, not drawn by hand: |∂ out(r, c) / ∂ x| > 0 through :func:`masked_stack` (see
    ``autoregressive.receptive_field``). Orange marks the blind spot: earlier pixels within the stack's reach
    (layers · ⌊k/2⌋ rows and columns) that never influence the pixel, however deep the stack.
    """

    def __init__(self, size: int = 11, layers: int = 3, kernel_size: int = 3, pixel: tuple[int, int] = (5, 5),
                 first: str = "A", lang: str = "en"):
        self.lang = _check_lang(lang)
        if not isinstance(size, int) or not 3 <= size <= 32:
            raise ValueError(f"size must be an int in 3..32, got {size!r}")
        check_choice("kernel_size", kernel_size, (3, 5, 7))
        check_choice("first", first, AR.MASK_TYPES)
        if not isinstance(layers, int) or not 1 <= layers <= 12:
            raise ValueError(f"layers must be an int in 1..12, got {layers!r}")
        r, c = pixel
        if not (0 <= r < size and 0 <= c < size):
            raise ValueError(f"pixel must lie in the {size}×{size} image, got {pixel}")
        self.size = size
        style = {"description_width": "70px"}
        self.layers = W.IntSlider(value=layers, min=1, max=12, description=_t("layers", lang),
                                  tooltip=_t("tip_layers", lang), style=style,
                                  continuous_update=False, layout=W.Layout(width="300px"))
        self.kernel = W.Dropdown(options=[3, 5, 7], value=kernel_size, description=_t("kernel", lang),
                                 tooltip=_t("tip_kernel", lang), style=style,
                                 layout=W.Layout(width="180px"))
        self.first = W.Dropdown(options=list(AR.MASK_TYPES), value=first, description=_t("first", lang),
                                tooltip=_t("tip_first", lang), style=style, layout=W.Layout(width="180px"))
        self.row = W.IntSlider(value=r, min=0, max=size - 1, description=_t("row", lang),
                               tooltip=_t("tip_pixel", lang), style=style,
                               continuous_update=False, layout=W.Layout(width="300px"))
        self.col = W.IntSlider(value=c, min=0, max=size - 1, description=_t("col", lang),
                               tooltip=_t("tip_pixel", lang), style=style,
                               continuous_update=False, layout=W.Layout(width="300px"))
        self.caption = W.HTML()
        self.image = W.Image(format="png")
        for control in (self.layers, self.kernel, self.first, self.row, self.col):
            control.observe(lambda _c: self.refresh(), names="value")
        self.widget = W.VBox([W.HBox([self.layers, self.kernel, self.first]), W.HBox([self.row, self.col]),
                              self.caption, self.image])
        self.refresh()

    def field(self) -> Tensor:
        """The (size, size) bool receptive field of the current pixel under the current stack."""
        stack = masked_stack(self.layers.value, self.kernel.value, self.first.value)
        return AR.receptive_field(stack, (1, 1, self.size, self.size), (self.row.value, self.col.value))

    def _render(self) -> bytes:
        field = self.field()
        index = (self.row.value, self.col.value)
        reach = self.layers.value * (self.kernel.value // 2)
        codes = V.classify_field(field, index, reach)
        earlier = index[0] * self.size + index[1]
        self.counts = {"seen": int(field.sum()) - int(field[index]), "blind": int((codes == V.BLIND).sum()),
                       "earlier": earlier, "leak": bool(field[index])}
        self.caption.value = _t("caption", self.lang, r=index[0], c=index[1], earlier=earlier,
                                seen=self.counts["seen"], blind=self.counts["blind"],
                                leak=_t("leak", self.lang) if self.counts["leak"] else "")
        title = V._label("field", self.lang, layers=self.layers.value, r=index[0], c=index[1])
        return _png(lambda fig: V.draw_receptive_field(fig.add_subplot(1, 1, 1), field, index, reach, title,
                                                       self.lang), (6.6, 3.6))


class SamplingPlayer(_Player):
    """Replay a pixel-by-pixel sampling run: the partial images after each step and p(x_i | x_<i).

        frames, probs = [], []
        x = model.sample(16, callback=lambda r, c, x, p: (frames.append(x.clone()), probs.append(p.clone())))
        SamplingPlayer(torch.stack(frames), torch.stack(probs), lang=LANG)

    Moving the slider only draws the stored tensors (frames are cached): the model is never called again.
    """

    def __init__(self, frames: Tensor, probs: Tensor, lang: str = "en", interval_ms: int = 150):
        self.lang = _check_lang(lang)
        V.check_frames(frames, probs)
        self.frames, self.probs = frames.detach().float().cpu(), probs.detach().float().cpu()
        d = frames.shape[0]
        self._controls(d, d, interval_ms, _t("frame", lang), _t("play", lang), first=1,
                       play_tooltip=_t("play_tooltip", lang))               # steps 1..D, as the title counts them

    def _render(self) -> bytes:
        i = self.slider.value - 1                                          # 0-based: the pixel drawn at this step
        w = self.frames.shape[-1]
        self.caption.value = f"<b>i = {i + 1}, (r, c) = {divmod(i, w)}</b>"
        return self._cached(i, lambda fig: V.draw_sampling_frame(fig, self.frames, self.probs, i, self.lang),
                            (8.0, 3.6), dpi=80)

    def _static_png(self) -> bytes:
        if not hasattr(self, "_strip"):
            from ..viz import diffusion_plots as P

            self._strip = P.fig_to_png(V.plot_sampling_strip(self.frames, self.lang, managed=False))
        return self._strip

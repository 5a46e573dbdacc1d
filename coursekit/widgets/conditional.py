"""Widgets of unit 06, conditional generative models (ipywidgets 8, JupyterLab 4, Colab).

- :class:`GuidanceExplorer`  a guidance-scale slider: the samples drawn at that w, beside the measured trade-off
  curves (class accuracy, near copies and FD / reference against w) with the current w marked
- :class:`PatchGANExplorer`  choose the number of PatchGAN layers (0 = the 1×1 PixelGAN) and an output position:
  the patch that one output logit sees is drawn on an input image (1, 16, 34, 70, 142, 286 pixels)

Both display as the widget and a PNG of their current state (:mod:`coursekit.widgets.core`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ipywidgets as W
import torch
from torch import Tensor

from .._checks import check_tensor
from ..viz import conditional as V
from ..viz.diffusion_plots import draw_images
from .core import _check_lang, _Figure, _png

SLIDER = {"description_width": "110px"}


class GuidanceExplorer(_Figure):
    """Move w: the panel shows the samples drawn with guidance scale w (the same x_T for every w) and the
    measured curves of class accuracy, near copies of training digits and FD / reference against w, w marked.

    ``samples_by_w`` {w: (N, 1, H, W)} (column k of a 10-wide grid is digit k); ``accuracy``, ``fd_ratio`` and
    (optional) ``near_copies`` {w: value} measured on those samples (or on more of them). The slider moves in
    steps of the smallest gap between measured values and snaps to the nearest measured w, so the number it
    shows is always the w of the picture. Every label and the tooltip follow ``lang``.
    """

    def __init__(self, samples_by_w: Mapping[float, Tensor], accuracy: Mapping[float, float],
                 fd_ratio: Mapping[float, float], lang: str = "en", w: float | None = None, nrow: int = 10,
                 near_copies: Mapping[float, float] | None = None):
        self.lang = _check_lang(lang)
        ws = sorted(float(k) for k in samples_by_w)
        if not ws:
            raise ValueError("samples_by_w must hold samples for at least one w")
        tables = [("accuracy", accuracy), ("fd_ratio", fd_ratio)]
        if near_copies is not None:
            tables.append(("near_copies", near_copies))
        for name, table in tables:
            missing = [v for v in ws if v not in {float(k) for k in table}]
            if missing:
                raise ValueError(f"{name} has no value for w = {missing}")
        for k, images in samples_by_w.items():
            check_tensor(f"samples_by_w[{k}]", images, ndim=4)
        self.ws = ws
        self.samples = {float(k): v.detach().float().cpu().clamp(-1, 1) for k, v in samples_by_w.items()}
        self.accuracy = {float(k): float(v) for k, v in accuracy.items()}
        self.fd_ratio = {float(k): float(v) for k, v in fd_ratio.items()}
        self.near_copies = None if near_copies is None else {float(k): float(v) for k, v in near_copies.items()}
        self.nrow = nrow
        step = min((b - a for a, b in zip(ws, ws[1:])), default=1.0)
        start = self._nearest(1.0 if w is None else w)
        self.slider = W.FloatSlider(value=start, min=ws[0], max=max(ws[-1], ws[0] + step), step=step,
                                    description=V.text("w", lang), tooltip=V.text("w_tooltip", lang),
                                    continuous_update=False, style=SLIDER, layout=W.Layout(width="560px"))
        self.hint = W.HTML(f"<small>{V.text('w_hint', lang)}</small>", layout=W.Layout(width="860px"))
        self.image = W.Image(format="png")
        self.slider.observe(self._moved, names="value")
        self.widget = W.VBox([self.slider, self.hint, self.image])
        self.refresh()

    def _nearest(self, w: float) -> float:
        return min(self.ws, key=lambda v: abs(v - w))

    def _moved(self, change) -> None:
        snapped = self._nearest(float(change["new"]))
        if snapped != float(change["new"]):
            self.slider.value = snapped          # observed again with the measured w, which draws it
            return
        self.refresh()

    @property
    def w(self) -> float:
        """The measured w nearest to the slider (the slider snaps to it)."""
        return self._nearest(float(self.slider.value))

    def _render(self) -> bytes:
        w = self.w
        near = None if self.near_copies is None else [self.near_copies[v] for v in self.ws]

        def draw(fig):
            left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.35]})
            draw_images(left, self.samples[w][:100], f"w = {w:g}", self.nrow)
            V.draw_guidance_curve(right, self.ws, [self.accuracy[v] for v in self.ws],
                                  [self.fd_ratio[v] for v in self.ws], w, self.lang, near)
            fig.tight_layout()

        return _png(draw, (10.5, 4.2))


class PatchGANExplorer(_Figure):
    """Choose the number of stride-2 layers of the PatchGAN (0 = PixelGAN) and which output logit to follow:
    the k×k input patch that logit sees is drawn on ``image`` (k = 1, 16, 34, 70, 142, 286 for 0…5 layers).
    A 256×256 image shows the paper's set-up; the field of 5 layers (286) spills past it into the padding."""

    def __init__(self, image: Tensor, lang: str = "en", n_layers: int = 3, position: float = 0.5):
        self.lang = _check_lang(lang)
        check_tensor("image", image)
        if image.shape[-1] != image.shape[-2] or image.numel() != image.shape[-1] ** 2:
            raise ValueError(f"image must be one square grey image (…, H, H), got {tuple(image.shape)}")
        if not isinstance(n_layers, int) or not 0 <= n_layers <= 5:
            raise ValueError(f"n_layers must be an int in 0..5, got {n_layers!r}")
        if not 0.0 <= position <= 1.0:
            raise ValueError(f"position must be in [0, 1], got {position!r}")
        self.picture = image.detach().float().cpu().reshape(image.shape[-1], image.shape[-1])
        self.size = self.picture.shape[-1]
        self.layers = W.IntSlider(value=n_layers, min=0, max=5, description=V.text("layers", lang),
                                  continuous_update=False, style=SLIDER, layout=W.Layout(width="420px"))
        self.position = W.FloatSlider(value=position, min=0.0, max=1.0, step=0.05,
                                      description=V.text("position", lang), continuous_update=False,
                                      style=SLIDER, layout=W.Layout(width="420px"))
        self.image = W.Image(format="png")
        for control in (self.layers, self.position):
            control.observe(lambda _: self.refresh(), names="value")
        self.widget = W.VBox([self.layers, self.position, self.image])
        self.refresh()

    def output_index(self) -> int:
        """The output row/column followed: ``position`` of the way along the grid of logits."""
        from ..gan.patchgan import patch_output_size

        n = self.layers.value
        m = self.size if n == 0 else patch_output_size(self.size, n)
        return int(round(self.position.value * (m - 1)))

    def receptive_field(self) -> int:
        first, last = V.patch_span(self.layers.value, self.output_index())
        return last - first + 1

    def _render(self) -> bytes:
        return _png(lambda fig: V.draw_patch(fig.subplots(), self.picture, self.layers.value, self.output_index(),
                                             self.lang), (5.0, 5.2))


def patchgan_demo_image(size: int = 256, digits: Sequence[int] = (0, 7, 3, 5)) -> Tensor:
    """A size×size grey picture for :class:`PatchGANExplorer`: four test digits upsampled into a 2×2 mosaic."""
    from ..data import load_digits

    x, y = load_digits("test", size=size // 2)
    tiles = [x[int((y == d).nonzero()[0])] for d in digits]
    top, bottom = torch.cat(tiles[:2], dim=-1), torch.cat(tiles[2:], dim=-1)
    return torch.cat([top, bottom], dim=-2)[0]

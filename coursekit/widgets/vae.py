"""Live widgets for the VAE lecture (slides: 变分自编码器; ipywidgets 8, JupyterLab 4, Colab).

- :class:`LatentExplorer`  two sliders set z = (z₁, z₂) of a 2-D VAE; the decoded digit E[x | z] updates, drawn
  beside the latent grid with z marked (the decoder is one cheap network pass per move)
- :class:`BetaExplorer`    a β slider over VAEs trained once at a few β (``vae_experiments.beta_sweep``):
  reconstructions, prior samples and the measured reconstruction / KL terms; nothing trains on a move

Each displays as the widget *and* a PNG of its current state, so a headless run keeps a static figure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import ipywidgets as W
import torch
from torch import Tensor

from .._checks import check_tensor
from ..vae import VAE, latent_grid
from ..viz import vae as V
from .core import _check_lang, _Figure, _png

_TEXT = {
    "z": {"zh": "隐变量 z{j}", "en": "latent z{j}"},
    "z_tip": {"zh": "隐变量 z 的第 {j} 个坐标；右图是解码器在这个 z 上的均值 E[x | z]",
              "en": "coordinate {j} of the latent z; the picture on the right is the decoder's mean E[x | z] there"},
    "beta": {"zh": "KL 权重 β", "en": "KL weight β"},
    "beta_tip": {"zh": "在 β = {lo} … {hi} 几个事先训练好的模型之间切换（每个 β 一个模型），拖动时不重新训练",
                 "en": "switches between models trained once, one per β = {lo} … {hi}; moving it never retrains"},
}


def _text(key: str, lang: str, **fields: object) -> str:
    return _TEXT[key][lang].format(**fields)


class LatentExplorer(_Figure):
    """Move z₁ and z₂ of a VAE with a 2-D latent: the decoder's mean E[x | z] is redrawn beside the latent grid
    (decoded once), with the test digits' encoder means μ_φ(x) (``x``, coloured by ``labels``) and z marked."""

    def __init__(self, model: VAE, x: Tensor | None = None, labels: Tensor | None = None, lang: str = "en",
                 span: float = 3.0, n: int = 15, z: tuple[float, float] = (0.0, 0.0)):
        self.lang = _check_lang(lang)
        if not isinstance(model, VAE) or model.latent_dim != 2 or model.num_classes is not None:
            raise ValueError("model must be an unconditional coursekit.vae.VAE with latent_dim = 2")
        if not isinstance(span, (int, float)) or not span > 0:
            raise ValueError(f"span must be a positive number, got {span!r}")
        if len(z) != 2 or not all(isinstance(v, (int, float)) and abs(v) <= span for v in z):
            raise ValueError(f"z must be two numbers in [-span, span] = [{-span}, {span}], got {z!r}")
        self.model, self.span = model, float(span)
        self.grid = latent_grid(model, n=n, span=span).cpu()                  # n² decoder means, drawn once
        self.points = None
        self.labels = None
        if x is not None:
            check_tensor("x", x, ndim=4)
            was = model.training
            model.eval()
            try:
                with torch.no_grad():
                    self.points = model.encode(x.to(next(model.parameters()).device))[0].cpu()   # μ_φ(x)
            finally:
                model.train(was)
            if labels is not None:
                check_tensor("labels", labels, ndim=1, floating=False)
                if labels.shape[0] != x.shape[0]:
                    raise ValueError(f"labels must have shape ({x.shape[0]},), got {tuple(labels.shape)}")
                self.labels = labels.cpu()
        style, layout = {"description_width": "90px"}, W.Layout(width="420px")
        self.sliders = [W.FloatSlider(value=float(v), min=-span, max=span, step=0.05, readout_format=".2f",
                                      description=_text("z", lang, j="₁₂"[j]), continuous_update=True,
                                      tooltip=_text("z_tip", lang, j=j + 1), style=style, layout=layout)
                        for j, v in enumerate(z)]
        self.image = W.Image(format="png")
        for slider in self.sliders:
            slider.observe(lambda _c: self.refresh(), names="value")
        self.widget = W.VBox([W.HBox(self.sliders), self.image])
        self.refresh()

    def decoded(self) -> Tensor:
        """E[x | z] for the sliders' z: (1, 1, H, W)."""
        device = next(self.model.parameters()).device
        z = torch.tensor([[s.value for s in self.sliders]], dtype=torch.float32, device=device)
        was = self.model.training
        self.model.eval()
        try:
            return self.model.decode_images(z).cpu()
        finally:
            self.model.train(was)

    def _render(self) -> bytes:
        z = (self.sliders[0].value, self.sliders[1].value)
        digit = self.decoded()
        return _png(lambda fig: V.draw_latent_explorer(fig, self.grid, self.span, z, digit, self.points,
                                                       self.labels, self.lang), (8.4, 4.2))


class BetaExplorer(_Figure):
    """A β slider (a log₂ scale) over β-VAEs trained once by :func:`coursekit.vae_experiments.beta_sweep` at
    β = 2^k for consecutive k: moving it swaps the model shown (reconstructions of ``x_show``, samples from
    the prior, the two terms of the objective); it never trains."""

    def __init__(self, runs: Sequence, x_show: Tensor, lang: str = "en", beta: float = 1.0, n_samples: int = 24):
        self.lang = _check_lang(lang)
        if not runs:
            raise ValueError("runs must be a non-empty list of vae_experiments.BetaRun")
        self.runs = sorted(runs, key=lambda r: r.beta)
        exps = [math.log2(r.beta) if r.beta > 0 else float("nan") for r in self.runs]
        if not all(abs(e - round(e)) < 1e-9 for e in exps) or \
                [round(e) for e in exps] != list(range(round(exps[0]), round(exps[0]) + len(exps))):
            raise ValueError(f"runs must have β = 2^k for consecutive integers k, got {[r.beta for r in self.runs]}")
        check_tensor("x_show", x_show, ndim=4)
        self.x_show = x_show.detach().float().cpu()[:8]
        self.n_samples = n_samples
        lo, hi = round(exps[0]), round(exps[-1])
        start = min(max(beta, 2.0 ** lo), 2.0 ** hi)
        self.slider = W.FloatLogSlider(value=2.0 ** round(math.log2(start)), base=2, min=lo, max=hi, step=1,
                                       description=_text("beta", lang), readout_format=".4g",
                                       tooltip=_text("beta_tip", lang, lo=f"{2.0 ** lo:g}", hi=f"{2.0 ** hi:g}"),
                                       continuous_update=False, style={"description_width": "90px"},
                                       layout=W.Layout(width="460px"))
        self.image = W.Image(format="png")
        self.slider.observe(lambda _c: self.refresh(), names="value")
        self.widget = W.VBox([self.slider, self.image])
        self.refresh()

    def index(self) -> int:
        """The run nearest to the slider's β (on the log scale)."""
        k = math.log2(self.slider.value)
        return min(range(len(self.runs)), key=lambda i: abs(math.log2(self.runs[i].beta) - k))

    def _render(self) -> bytes:
        i = self.index()
        return self._cached(i, lambda fig: V.draw_beta_panel(fig, self.runs, i, self.x_show, self.lang,
                                                             self.n_samples), (9.0, 4.4))

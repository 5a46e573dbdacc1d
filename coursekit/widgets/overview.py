"""Live widget for the overview lecture (slides: 生成式模型概论).

- :class:`DensityExplorer`  choose a 2-D data set, a model (Gaussian mixture or histogram, both fitted by maximum
  likelihood), its capacity and the training-set size: see the fitted density, samples, and the train and
  held-out log-likelihood against capacity (under- and over-fitting)

Displays as the widget *and* a PNG of its current state (see :mod:`coursekit.widgets.core`).
"""

from __future__ import annotations

import math

import ipywidgets as W
import torch

from .. import density as DN
from .._checks import check_choice
from ..data import sample_2d
from ..viz import overview as V
from .core import _check_lang, _Figure, _png

DATASETS = ("ring8", "moons", "swissroll", "checkerboard", "grid25")
MODELS = ("gmm", "histogram")
STD = {"ring8": 0.25, "grid25": 0.2}        # wider modes than the VEEGAN sets' so a picture shows them
CAPACITIES = {"gmm": (1, 2, 3, 4, 6, 8, 12, 16, 24, 32), "histogram": (2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)}
ALPHA = 0.01                                 # the pseudo-count of the smoothed histogram

_TEXT = {
    "data": {"zh": "数据", "en": "data"},
    "model": {"zh": "模型", "en": "model"},
    "gmm": {"zh": "高斯混合 (EM)", "en": "Gaussian mixture (EM)"},
    "histogram": {"zh": "直方图", "en": "histogram"},
    "capacity": {"zh": "容量", "en": "capacity"},
    "n": {"zh": "训练点数", "en": "training points"},
    "smooth": {"zh": f"加 α 平滑（α = {ALPHA}）", "en": f"add-α smoothing (α = {ALPHA})"},
    "ring8": {"zh": "圆环上的 8 个高斯 (ring8)", "en": "8 Gaussians on a ring (ring8)"},
    "moons": {"zh": "两个半月 (moons)", "en": "two moons (moons)"},
    "swissroll": {"zh": "瑞士卷 (swissroll)", "en": "Swiss roll (swissroll)"},
    "checkerboard": {"zh": "棋盘 (checkerboard)", "en": "checkerboard"},
    "grid25": {"zh": "5×5 网格上的 25 个高斯 (grid25)", "en": "25 Gaussians on a 5×5 grid (grid25)"},
    "tip_data": {"zh": "二维数据集；ring8 和 grid25 的真实密度已知",
                 "en": "a 2-D data set; ring8 and grid25 have a known true density"},
    "tip_model": {"zh": "两种模型都用最大似然拟合：高斯混合用 EM，直方图用频率",
                  "en": "both fitted by maximum likelihood: the mixture by EM, the histogram by counting"},
    "tip_capacity": {"zh": "高斯混合：分量数 K；直方图：每个坐标轴的格子数",
                     "en": "Gaussian mixture: the number of components K; histogram: cells per axis"},
    "tip_n": {"zh": "训练点数（留出集固定为 2000 个点）", "en": "training points (the held-out set is 2000 points)"},
    "tip_smooth": {"zh": "每个格子加一个伪计数 α，空格子不再是 −∞；只对直方图有效",
                   "en": "a pseudo-count α in every cell, so no cell is −∞; for the histogram only"},
    "caption": {"zh": "{model}，容量 {cap}：训练集平均对数似然 {train}，留出集 {test}（nats / 点）",
                "en": "{model}, capacity {cap}: average log-likelihood {train} on the training set, {test} held out "
                      "(nats per point)"},
}


def _t(key: str, lang: str, **fields: object) -> str:
    return _TEXT[key][lang].format(**fields)


def _fmt(value: float) -> str:
    return "−∞" if value == -math.inf else f"{value:.3f}"


class DensityExplorer(_Figure):
    """Fit p_θ by maximum likelihood on a 2-D set and look at it: density, samples, train / held-out
    log-likelihood against capacity. Every fit is cached, so moving back to a setting is instant."""

    def __init__(self, dataset: str = "ring8", model: str = "gmm", capacity: int = 8, n_train: int = 500,
                 smooth: bool = False, lang: str = "en", seed: int = 0):
        self.lang = _check_lang(lang)
        check_choice("dataset", dataset, DATASETS)
        check_choice("model", model, MODELS)
        if not isinstance(n_train, int) or not 50 <= n_train <= 4000:
            raise ValueError(f"n_train must be an int in 50..4000, got {n_train!r}")
        limits = (1, 64) if model == "histogram" else (1, 32)
        if not isinstance(capacity, int) or not limits[0] <= capacity <= limits[1]:
            raise ValueError(f"capacity must be an int in {limits[0]}..{limits[1]} for {model}, got {capacity!r}")
        self.seed = seed
        self._fits: dict = {}
        self._curves: dict = {}
        style = {"description_width": "90px"}
        self.dataset = W.Dropdown(options=[(_t(d, lang), d) for d in DATASETS], value=dataset,
                                  description=_t("data", lang), tooltip=_t("tip_data", lang), style=style,
                                  layout=W.Layout(width="340px"))
        self.model = W.Dropdown(options=[(_t(m, lang), m) for m in MODELS], value=model,
                                description=_t("model", lang), tooltip=_t("tip_model", lang), style=style,
                                layout=W.Layout(width="300px"))
        self.capacity = W.IntSlider(value=capacity, min=1, max=limits[1], description=_t("capacity", lang),
                                    tooltip=_t("tip_capacity", lang), style=style, continuous_update=False,
                                    layout=W.Layout(width="340px"))
        self.n_train = W.IntSlider(value=n_train, min=50, max=4000, step=50, description=_t("n", lang),
                                   tooltip=_t("tip_n", lang), style=style, continuous_update=False,
                                   layout=W.Layout(width="340px"))
        self.smooth = W.Checkbox(value=smooth, description=_t("smooth", lang), tooltip=_t("tip_smooth", lang),
                                 indent=False, disabled=model == "gmm")     # smoothing is the histogram's
        self.caption = W.HTML()
        self.image = W.Image(format="png")
        self.model.observe(self._model_changed, names="value")
        for control in (self.dataset, self.capacity, self.n_train, self.smooth):
            control.observe(lambda _c: self.refresh(), names="value")
        self.widget = W.VBox([W.HBox([self.dataset, self.model, self.smooth]), W.HBox([self.capacity, self.n_train]),
                              self.caption, self.image])
        self.refresh()

    def _model_changed(self, change) -> None:
        self.capacity.max = 64 if change["new"] == "histogram" else 32
        self.smooth.disabled = change["new"] == "gmm"
        self.refresh()

    def _smoothing(self) -> float:
        return ALPHA if self.smooth.value and self.model.value == "histogram" else 0.0

    def data(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(training points, held-out points) of the current set."""
        name = self.dataset.value
        std = STD.get(name)
        return (sample_2d(name, self.n_train.value, seed=self.seed, std=std),
                sample_2d(name, 2000, seed=self.seed + 1, std=std))

    def fit(self, capacity: int | None = None):
        """The model fitted by maximum likelihood at ``capacity`` (the slider's by default), cached."""
        capacity = capacity or self.capacity.value
        key = (self.dataset.value, self.n_train.value, self.model.value, self._smoothing(), capacity)
        if key not in self._fits:
            train, _ = self.data()
            if self.model.value == "gmm":
                self._fits[key] = DN.fit_gmm(train, min(capacity, len(train)), iters=60, seed=self.seed)[0]
            else:
                self._fits[key] = DN.fit_histogram(train, capacity, lim=V.LIM, alpha=self._smoothing())
        return self._fits[key]

    def curve(self) -> tuple[tuple[int, ...], list[float], list[float]]:
        """(capacities, train average log-likelihoods, held-out ones) for the current set and model."""
        key = (self.dataset.value, self.n_train.value, self.model.value, self._smoothing())
        if key not in self._curves:
            train, test = self.data()
            caps = CAPACITIES[self.model.value]
            fits = [self.fit(c) for c in caps]
            self._curves[key] = (caps, [DN.average_log_likelihood(m, train) for m in fits],
                                 [DN.average_log_likelihood(m, test) for m in fits])
        return self._curves[key]

    def _render(self) -> bytes:
        train, test = self.data()
        model = self.fit()
        self.train_ll = DN.average_log_likelihood(model, train)
        self.test_ll = DN.average_log_likelihood(model, test)
        self.caption.value = _t("caption", self.lang, model=_t(self.model.value, self.lang),
                                cap=self.capacity.value, train=_fmt(self.train_ll), test=_fmt(self.test_ll))
        samples = model.sample(1000, generator=self.seed)
        caps, train_ll, test_ll = self.curve()

        def draw(fig):
            a, b, c = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1, 1.25]})
            V.draw_density(a, model, train, self.lang)
            V.draw_samples(b, samples, test[:1000], self.lang)
            V.draw_capacity_curve(c, caps, train_ll, test_ll, self.capacity.value,
                                  "gmm" if self.model.value == "gmm" else "histogram", self.lang)

        return _png(draw, (11.0, 3.5))

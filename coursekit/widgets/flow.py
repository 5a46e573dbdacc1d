"""The widget of unit 07: Algorithm 2, DDIM and flow matching side by side on the ring of 8 Gaussians, with a slider
for the number of steps (= network calls).

    explorer = StepsExplorer(eps_model, s, flow_model, lang=LANG, steps=10)
    explorer                              # JupyterLab: the widget; headless: a PNG of its current state
    explorer.results(25)                  # what the panels show at 25 steps (computed once, then cached)

All three start from the same noise x_T (= x_1 of the flow), so a panel differs from another only by its sampler.
"""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as W
import torch
from torch import Tensor, nn

from .. import diffusion as D
from .. import flow as F
from .. import metrics
from .._checks import check_int
from ..data import sample_2d
from ..viz import flow as V
from .core import _check_lang, _Figure, _png

SAMPLERS = ("alg2", "ddim", "flow")


@dataclass
class SamplerResult:
    """One sampler at one number of steps: every state (steps + 1, n, 2), x_T first; its mode coverage report
    (``metrics.mode_coverage``) and how many network calls it made per sample."""

    states: Tensor
    report: dict
    calls: int

    @property
    def samples(self) -> Tensor:
        return self.states[-1]


class StepsExplorer(_Figure):
    """Paths from the noise to the ring for Algorithm 2 (η = 1 on the steps' subsequence), DDIM (η = 0) on the same
    ε-model, and flow matching (Euler) on a velocity model, at a number of steps the slider sets (1 … ``max_steps``);
    each panel's title and the line under the slider give its modes covered and share of high-quality samples."""

    def __init__(self, eps_model: nn.Module, schedule: D.Schedule, flow_model: nn.Module, lang: str = "en",
                 steps: int = 10, n: int = 1000, n_paths: int = 150, seed: int = 0, max_steps: int | None = None):
        self.lang = _check_lang(lang)
        self.eps_model, self.schedule, self.flow_model = eps_model, schedule, flow_model
        self.max_steps = check_int("max_steps", max_steps if max_steps is not None else schedule.T)
        if self.max_steps > schedule.T:
            raise ValueError(f"max_steps must be at most T = {schedule.T}, got {self.max_steps}")
        check_int("steps", steps)
        if steps > self.max_steps:
            raise ValueError(f"steps must be in 1..{self.max_steps}, got {steps}")
        self.n, self.n_paths, self.seed = check_int("n", n), check_int("n_paths", n_paths), int(seed)
        param = next(eps_model.parameters())
        self.device = param.device
        # one start for every sampler, and for Algorithm 2 one stream of z per number of steps
        self.x_T = torch.randn((self.n, 2), generator=torch.Generator().manual_seed(self.seed)).to(self.device)
        self.reference = sample_2d("ring8", 2000, seed=12345)
        self._results: dict[int, dict[str, SamplerResult]] = {}
        self.slider = W.IntSlider(value=steps, min=1, max=self.max_steps, step=1,
                                  description=V.flow_label("steps_slider", lang), continuous_update=False,
                                  tooltip=V.flow_label("steps_tooltip", lang), layout=W.Layout(width="520px"))
        self.readout = W.HTML()
        self.legend = W.HTML(f"<span style='font-size: 90%; color: #555'>"
                             f"{V.flow_label('legend', lang, n=self.n_paths)}</span>")
        self.image = W.Image(format="png")
        self.slider.observe(lambda _change: self.refresh(), names="value")
        self.widget = W.VBox([self.slider, self.readout, self.image, self.legend])
        self.refresh()

    @property
    def steps(self) -> int:
        return int(self.slider.value)

    def results(self, steps: int) -> dict[str, SamplerResult]:
        """{"alg2" | "ddim" | "flow": SamplerResult} at ``steps`` steps (computed once, then cached)."""
        check_int("steps", steps)
        if steps not in self._results:
            g = torch.Generator(self.device).manual_seed(self.seed + 1000 + steps)
            out = {}
            _, states = D.ddim_sample(self.eps_model, self.schedule, (self.n, 2), steps=steps, eta=1.0, generator=g,
                                      x_T=self.x_T, trajectory=True)
            out["alg2"] = SamplerResult(states.cpu(), metrics.mode_coverage(states[-1].cpu(), "ring8"), steps)
            _, states = D.ddim_sample(self.eps_model, self.schedule, (self.n, 2), steps=steps, eta=0.0,
                                      x_T=self.x_T, trajectory=True)
            out["ddim"] = SamplerResult(states.cpu(), metrics.mode_coverage(states[-1].cpu(), "ring8"), steps)
            _, states = F.flow_sample(self.flow_model, (self.n, 2), steps=steps, x1=self.x_T, trajectory=True)
            out["flow"] = SamplerResult(states.cpu(), metrics.mode_coverage(states[-1].cpu(), "ring8"), steps)
            self._results[steps] = out
        return self._results[steps]

    def readout_text(self, steps: int | None = None) -> str:
        """The line under the slider: each sampler's modes and high-quality share at ``steps`` (default: now)."""
        steps = self.steps if steps is None else steps
        res = self.results(steps)
        items = ("; " if self.lang == "en" else "；").join(
            V.flow_label("readout_item", self.lang, name=V.flow_label(k, self.lang), modes=r.report["modes"],
                         hq=r.report["high_quality"]) for k, r in res.items())
        return V.flow_label("readout", self.lang, calls=steps, items=items)

    def _render(self) -> bytes:
        steps = self.steps
        res = self.results(steps)
        self.readout.value = f"<b>{self.readout_text(steps)}</b>"
        panels = [(k, r.states, r.report, r.calls) for k, r in res.items()]
        return _png(lambda fig: V.draw_sampler_panels(fig, panels, self.lang, self.reference, self.n_paths),
                    (11.0, 4.2), dpi=80)

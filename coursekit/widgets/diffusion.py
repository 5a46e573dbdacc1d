"""Live widgets for the diffusion lectures (ipywidgets 8, JupyterLab 4, Colab).

- :class:`ScheduleExplorer`  two β-schedules side by side: β_t, ᾱ_t, log-SNR and data noised to a chosen t
- :class:`DenoisingPlayer`   Play + slider (frames 1 … n) over a Trajectory recorded once by ``diffusion.sample``
- :class:`TrainingPanel`     live loss, samples and a progress line, fed by ``train.fit``'s callback

Each object displays as the widget *and* a PNG of its current state in one output bundle: JupyterLab shows the
widget, a headless run (nbval, nbconvert, GitHub's viewer) keeps the picture, so every widget cell leaves a
static figure. Figures are drawn off-screen (no pyplot) into an ``ipywidgets.Image``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import ipywidgets as W
import torch
from torch import Tensor, nn

from .. import diffusion as D
from .._checks import check_choice, check_tensor
from ..i18n import label
from ..viz import diffusion_plots as P
from .core import _check_lang, _Figure, _Player, _png

# ---------------------------------------------------------------------------------------------------------
# β-schedule explorer
# ---------------------------------------------------------------------------------------------------------

class ScheduleExplorer(_Figure):
    """Compare two noise schedules (噪声调度): pick each one's name, T and β range; move t to see
    x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε for a few digits and a 2-D cloud under both (the same ε throughout, so
    only the schedule changes the picture)."""

    def __init__(self, images: Tensor | None = None, cloud: Tensor | None = None, lang: str = "en",
                 first: str = "linear", second: str = "cosine", T: int = 1000, t: int = 300, seed: int = 0):
        self.lang = _check_lang(lang)
        for name, value in (("first", first), ("second", second)):
            check_choice(name, value, D.SCHEDULES)
        if not isinstance(T, int) or not 2 <= T <= 2000:
            raise ValueError(f"T must be an int in 2..2000, got {T!r}")
        if images is not None:
            check_tensor("images", images, ndim=4)
        if cloud is not None:
            check_tensor("cloud", cloud, ndim=2)
            if cloud.shape[1] != 2:
                raise ValueError(f"cloud must have shape (N, 2), got {tuple(cloud.shape)}")
        g = torch.Generator().manual_seed(seed)
        self.images = images.detach().float().cpu()[:8] if images is not None else None
        self.cloud = cloud.detach().float().cpu()[:1500] if cloud is not None else None
        self.image_noise = torch.randn(self.images.shape, generator=g) if self.images is not None else None
        self.cloud_noise = torch.randn(self.cloud.shape, generator=g) if self.cloud is not None else None
        style = {"description_width": "80px"}
        layout = W.Layout(width="330px")
        self.controls = []
        names = [(label(f"schedule_{kind}", lang), kind) for kind in D.SCHEDULES]    # shown in the edition's language
        for key, name in (("schedule_a", first), ("schedule_b", second)):
            box = dict(
                name=W.Dropdown(options=names, value=name, description=label(key, lang), style=style,
                                layout=layout),
                T=W.IntSlider(value=T, min=10, max=2000, step=10, description=label("T_slider", lang),
                              continuous_update=False, style=style, layout=layout),
                # the slider's own readout ("0.0001 – 0.0200") does not fit its box: the values go in a line below
                beta=W.FloatRangeSlider(value=(1e-4, 0.02), min=1e-4, max=0.1, step=1e-4, readout=False,
                                        description=label("beta_range", lang), continuous_update=False,
                                        style=style, layout=layout),
                beta_readout=W.HTML(layout=W.Layout(width="330px", margin="0 0 0 84px")))
            self.controls.append(box)
        self.t = W.IntSlider(value=min(t, T), min=1, max=2000, step=1, description=label("t_slider", lang),
                             continuous_update=False, style=style, layout=W.Layout(width="680px"))
        self.image = W.Image(format="png")
        for box in self.controls:
            for key, control in box.items():
                if key != "beta_readout":
                    control.observe(self._changed, names="value")
        self.t.observe(self._changed, names="value")
        columns = [W.VBox(list(box.values())) for box in self.controls]
        self.widget = W.VBox([W.HBox(columns), self.t, self.image])
        self.refresh()

    def schedules(self) -> list[D.Schedule]:
        """The two schedules the controls describe now (and the β-range readouts that go with them)."""
        out = []
        for box in self.controls:
            lo, hi = box["beta"].value
            cosine = box["name"].value == "cosine"          # cosine has no β range: greyed out, and says why
            box["beta"].disabled = cosine
            box["beta"].tooltip = label("cosine_no_beta" if cosine else "beta_tooltip", self.lang)
            text = label("cosine_no_beta" if cosine else "beta_readout", self.lang, lo=lo, hi=hi)
            box["beta_readout"].value = f"<span style='font-size: 90%; color: #555'>{text}</span>"
            out.append(D.make_schedule(box["name"].value, T=box["T"].value, beta_start=lo, beta_end=max(hi, lo)))
        return out

    def schedule_label(self, s: D.Schedule, short: bool = False) -> str:
        """A schedule's name in the edition's language (the plot legend; ``short``: without the code's name in
        brackets, for the narrow titles above the noised images)."""
        name = label(f"schedule_{s.name}", self.lang) if s.name in D.SCHEDULES else s.name
        return name.split(" (")[0] if short else name

    def _changed(self, _change=None) -> None:
        self.refresh()

    def _render(self) -> bytes:
        schedules = self.schedules()
        t = self.t.value
        names = [f"{'AB'[i]}: {self.schedule_label(s)}" for i, s in enumerate(schedules)]
        short = [f"{'AB'[i]}: {self.schedule_label(s, short=True)}" for i, s in enumerate(schedules)]
        extra = (self.images is not None) + (self.cloud is not None)

        def draw(fig):
            rows = 2 if extra else 1
            grid = fig.add_gridspec(rows, 12, height_ratios=[1.0, 1.25][:rows], hspace=0.45, wspace=0.9)
            curves = [fig.add_subplot(grid[0, 4 * i:4 * i + 4]) for i in range(3)]
            P.plot_schedule_curves(schedules, names, t, self.lang, axes=curves, managed=False)
            width = 12 // (2 * extra) if extra else 0
            col = 0
            for data, noise, key in ((self.images, self.image_noise, "digit_at"),
                                     (self.cloud, self.cloud_noise, "cloud_at")):
                if data is None:
                    continue
                for i, s in enumerate(schedules):
                    ax = fig.add_subplot(grid[1, col:col + width])
                    col += width
                    x_t = P.noised(s, data, t, noise)
                    title = label(key, self.lang, name=short[i], t=min(t, s.T))
                    if key == "digit_at":
                        P.draw_images(ax, x_t, title, nrow=4)
                    else:
                        P.draw_cloud(ax, x_t, title, color=P.COLORS[i])

        return _png(draw, (11.5, 6.4 if extra else 3.2))


# ---------------------------------------------------------------------------------------------------------
# Step-by-step denoising (Algorithm 2 replayed)
# ---------------------------------------------------------------------------------------------------------

class DenoisingPlayer(_Player):
    """Replay a reverse trajectory: x_t, the predicted x̂_0 and the added noise σ_t z at each recorded step.

    ``trajectory`` comes from ``diffusion.sample(..., trajectory_every=k)``; moving the slider only draws
    the stored tensors (frames are cached), the model is never called again.
    """

    def __init__(self, trajectory: D.Trajectory, lang: str = "en", interval_ms: int = 400):
        self.lang = _check_lang(lang)
        if not isinstance(trajectory, D.Trajectory):
            raise ValueError(f"trajectory must be a diffusion.Trajectory, got {type(trajectory).__name__}")
        P._traj_kind(trajectory)                                  # raises for shapes it cannot draw
        self.trajectory = trajectory
        n = len(trajectory.steps)
        # frames count from 1 on the slider, as in the figure's title ("frame 1/51")
        self._controls(n, 1, interval_ms, label("frame", lang), label("play", lang), first=1,
                       play_tooltip=label("play_tooltip", lang))

    @property
    def index(self) -> int:
        """The record shown now: 0 … len(steps) − 1 (the slider shows it plus one)."""
        return self.slider.value - 1

    def _render(self) -> bytes:
        i = self.index
        self.caption.value = f"<b>t = {self.trajectory.steps[i]}</b>"
        # frames are drawn once and cached: afford a sharper one
        return self._cached(i, lambda fig: P.draw_trajectory_frame(fig, self.trajectory, i, self.lang),
                            (8.4, 3.2), dpi=96)

    def _static_png(self) -> bytes:
        if not hasattr(self, "_strip"):
            fig = P.plot_trajectory_strip(self.trajectory, self.lang, managed=False)
            self._strip = P.fig_to_png(fig)
        return self._strip


# ---------------------------------------------------------------------------------------------------------
# Training panel
# ---------------------------------------------------------------------------------------------------------

class TrainingPanel(_Figure):
    """Live view of ``train.fit`` on a 2-D set: a tqdm-style progress line, the loss curve and samples.

        panel = TrainingPanel(steps, sampler=lambda m: D.sample(m, s, (1000, 2)), reference=x).show()
        result = train.fit(model, loss_fn, x, steps=steps, callback=panel.update, callback_every=10)
        panel.finish(result)

    ``update`` records every loss it is given and redraws at most every ``redraw_seconds`` (drawing samples
    costs a full Algorithm 2, so it is throttled); ``finish`` draws the final state, which also becomes the
    static picture of the cell.
    """

    def __init__(self, total_steps: int | None, sampler: Callable[[nn.Module], Tensor] | None = None,
                 reference: Tensor | None = None, lang: str = "en", redraw_seconds: float = 2.0,
                 total_seconds: float | None = None):
        self.lang = _check_lang(lang)
        if total_steps is None and total_seconds is None:
            raise ValueError("total_steps or total_seconds must be given (the length of the progress bar)")
        self.total_steps, self.total_seconds = total_steps, total_seconds
        self.sampler, self.redraw_seconds = sampler, redraw_seconds
        self.reference = reference.detach().float().cpu()[:2000] if reference is not None else None
        self.steps: list[int] = []
        self.losses: list[float] = []
        self.samples: Tensor | None = None
        self.sample_step = 0
        self.start = time.perf_counter()
        self._last_draw = -float("inf")
        self.bar = W.FloatProgress(value=0.0, min=0.0, max=1.0, layout=W.Layout(width="300px"))
        self.status = W.HTML(label("untrained", lang))
        self.image = W.Image(format="png")
        self.widget = W.VBox([W.HBox([self.bar, self.status]), self.image])
        self.refresh()

    def update(self, step: int, loss: float, model: nn.Module) -> None:
        """``train.fit`` callback: record (step, loss); every ``redraw_seconds`` also sample and redraw."""
        if not self.steps:
            self.start = time.perf_counter() - 1e-9
        self.steps.append(int(step))
        self.losses.append(float(loss))
        elapsed = time.perf_counter() - self.start
        done = max(step / self.total_steps if self.total_steps else 0.0,
                   elapsed / self.total_seconds if self.total_seconds else 0.0)
        self.bar.value = min(done, 1.0)
        total = self.total_steps if self.total_steps else "?"
        self.status.value = label("progress", self.lang, step=step, total=total, loss=loss, seconds=elapsed,
                                  rate=step / max(elapsed, 1e-9))
        if time.perf_counter() - self._last_draw >= self.redraw_seconds:
            self._draw(model, step)

    def _draw(self, model: nn.Module, step: int) -> None:
        if self.sampler is not None:
            self.samples = self.sampler(model).detach().float().cpu()
            self.sample_step = step
        self.refresh()
        self._last_draw = time.perf_counter()

    def finish(self, result) -> None:
        """Draw the trained model's samples and make this the cell's static picture."""
        self.bar.value = 1.0
        self.bar.bar_style = "success"
        steps = getattr(result, "steps", self.steps[-1] if self.steps else 0)
        seconds = getattr(result, "seconds", time.perf_counter() - self.start)
        self.status.value = (f"{label('done', self.lang)} · " +
                             label("progress", self.lang, step=steps, total=steps, loss=self.losses[-1] if
                                   self.losses else float("nan"), seconds=seconds, rate=steps / max(seconds, 1e-9)))
        self._draw(result.model, steps)
        self.update_display()

    def _render(self) -> bytes:
        def draw(fig):
            ax_loss, ax_samples = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.4, 1.0]})
            P.draw_loss(ax_loss, self.steps, self.losses, self.lang)
            if self.samples is not None:
                P.draw_cloud(ax_samples, self.samples, label("samples_at", self.lang, step=self.sample_step),
                             self.reference)
            elif self.reference is not None:
                P.draw_cloud(ax_samples, self.reference, label("data", self.lang), color=P.DATA_COLOR)
            else:
                ax_samples.set_axis_off()

        return _png(draw, (8.4, 3.3))

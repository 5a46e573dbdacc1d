"""Plots for the diffusion lectures: schedules, noised images, 2-D clouds, reverse trajectories, guidance.

Every function takes ``lang`` ("zh" or "en") for its labels (see :mod:`coursekit.i18n`) and returns the
matplotlib Figure it drew. ``managed=True`` (the default) creates the figure with pyplot so a notebook shows
it at the end of the cell; the widgets pass ``managed=False`` and turn the figure into PNG bytes with
:func:`fig_to_png`, so nothing piles up in pyplot while a slider moves.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from ..i18n import label
from .core import image_grid, new_figure

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")     # schedule A, schedule B, …
DATA_COLOR = "#999999"
LIM = 4.5                                                 # the 2-D sets live in about [-4, 4]²


def fig_to_png(fig, dpi: int = 72) -> bytes:
    """PNG bytes of a figure (what the widgets show in an ``ipywidgets.Image``)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def close(fig) -> None:
    """Release a pyplot-managed figure (free-standing ones need nothing)."""
    import matplotlib.pyplot as plt

    if plt.fignum_exists(getattr(fig, "number", -1)):
        plt.close(fig)


def _np(x: Tensor) -> np.ndarray:
    return x.detach().float().cpu().numpy()


# ---------------------------------------------------------------------------------------------------------
# Schedules: β_t, ᾱ_t and log-SNR
# ---------------------------------------------------------------------------------------------------------

def plot_schedule_curves(schedules: Sequence, names: Sequence[str] | None = None, t: Sequence[int] | int | None
                         = None, lang: str = "en", axes=None, managed: bool = True):
    """β_t, ᾱ_t = ∏ α_i and log-SNR = log(ᾱ_t / (1 − ᾱ_t)) of each schedule against t = 1..T, side by side.

    ``t`` (one step for all, or one per schedule) draws a marker at the chosen step. Returns the figure.
    """
    if len(schedules) < 1:
        raise ValueError("schedules must hold at least one Schedule")
    names = list(names) if names is not None else [s.name for s in schedules]
    if len(names) != len(schedules):
        raise ValueError(f"names must have one entry per schedule ({len(schedules)}), got {len(names)}")
    ts = [t] * len(schedules) if t is None or isinstance(t, int) else list(t)
    if axes is None:
        fig = new_figure((11, 3.0), managed)
        axes = fig.subplots(1, 3)
    fig = axes[0].figure
    keys = ("beta", "alpha_bar", "log_snr")
    for i, (s, name, ti) in enumerate(zip(schedules, names, ts)):
        steps = np.arange(1, s.T + 1)
        curves = (_np(s.betas), _np(s.alpha_bars), _np(s.log_snr))
        color = COLORS[i % len(COLORS)]
        for ax, values in zip(axes, curves):
            ax.plot(steps, values, color=color, lw=1.6, label=f"{name} (T={s.T})")
            if ti is not None:
                tc = int(min(max(ti, 1), s.T))
                ax.plot([tc], [values[tc - 1]], "o", color=color, ms=5)
    for ax, key in zip(axes, keys):
        ax.set_title(label(key, lang), fontsize=10)
        ax.set_xlabel(label("step", lang), fontsize=9)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
    axes[0].set_yscale("log")
    axes[1].set_ylim(-0.03, 1.03)
    axes[0].legend(fontsize=8, loc="lower right")
    return fig


# ---------------------------------------------------------------------------------------------------------
# Images and 2-D clouds
# ---------------------------------------------------------------------------------------------------------

def draw_images(ax, images: Tensor, title: str | None = None, nrow: int | None = None) -> None:
    """A grid of (N, C, H, W) images in [-1, 1] on ``ax`` (values outside are clipped for display)."""
    ax.imshow(image_grid(images.clamp(-1, 1), nrow), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)


def draw_cloud(ax, points: Tensor, title: str | None = None, reference: Tensor | None = None,
               color: str = COLORS[0], lim: float = LIM, size: float = 3.0) -> None:
    """A scatter of (N, 2) points, optionally over the (grey) reference data."""
    if reference is not None:
        ref = _np(reference)
        ax.scatter(ref[:, 0], ref[:, 1], s=size, c=DATA_COLOR, alpha=0.35, linewidths=0)
    p = _np(points)
    ax.scatter(p[:, 0], p[:, 1], s=size, c=color, alpha=0.6, linewidths=0)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def _draw_any(ax, x: Tensor, title: str | None, reference: Tensor | None = None, color: str = COLORS[0],
              nrow: int | None = None) -> None:
    if x.ndim == 4:
        draw_images(ax, x, title, nrow)
    elif x.ndim == 2 and x.shape[1] == 2:
        draw_cloud(ax, x, title, reference, color)
    else:
        raise ValueError(f"x must be images (N, C, H, W) or 2-D points (N, 2), got shape {tuple(x.shape)}")


def plot_forward_chain(xs: Tensor, steps: Sequence[int], lang: str = "en", reference: Tensor | None = None,
                       managed: bool = True):
    """x_t at the chosen ``steps`` of a chain ``xs`` shaped (T + 1, N, …) (entry [t] is x_t, as returned by
    ``diffusion.forward_chain``): the forward diffusion process, left to right."""
    steps = [int(t) for t in steps]
    if not steps or min(steps) < 0 or max(steps) >= xs.shape[0]:
        raise ValueError(f"steps must be in 0..{xs.shape[0] - 1}, got {steps}")
    fig = new_figure((1.9 * len(steps), 2.3), managed)
    axes = np.atleast_1d(fig.subplots(1, len(steps)))
    for ax, t in zip(axes, steps):
        _draw_any(ax, xs[t], f"t = {t}", reference if t == 0 else None)
    fig.suptitle(label("forward_chain", lang), fontsize=10)
    return fig


def plot_samples(samples: Tensor, reference: Tensor | None = None, lang: str = "en", title: str | None = None,
                 nrow: int | None = None, managed: bool = True):
    """Generated digits as a grid, or generated 2-D points next to the data."""
    if samples.ndim == 4:
        fig = new_figure((4.2, 4.4), managed)
        draw_images(fig.subplots(), samples, title or label("samples", lang), nrow)
        return fig
    fig = new_figure((7.0, 3.6), managed)
    ax_data, ax_samples = fig.subplots(1, 2)
    if reference is not None:
        draw_cloud(ax_data, reference, label("data", lang), color=DATA_COLOR)
    else:
        ax_data.set_axis_off()
    draw_cloud(ax_samples, samples, title or label("samples", lang), reference)
    return fig


# ---------------------------------------------------------------------------------------------------------
# The reverse process (Algorithm 2) from a recorded Trajectory
# ---------------------------------------------------------------------------------------------------------

def _traj_kind(traj) -> str:
    if traj.x_t.ndim == 5:
        return "images"
    if traj.x_t.ndim == 3 and traj.x_t.shape[-1] == 2:
        return "points"
    raise ValueError(f"trajectory must hold images (R, N, C, H, W) or 2-D points (R, N, 2), got x_t shape "
                     f"{tuple(traj.x_t.shape)}")


def draw_trajectory_frame(fig, traj, index: int, lang: str = "en", max_images: int = 16) -> None:
    """Record ``index`` of a Trajectory on ``fig``: x_t, the predicted x̂_0 and the added noise σ_t z."""
    kind = _traj_kind(traj)
    if not 0 <= index < len(traj.steps):
        raise ValueError(f"index must be in 0..{len(traj.steps) - 1}, got {index}")
    axes = fig.subplots(1, 3)
    panels = (traj.x_t[index], traj.x0_pred[index], traj.added_noise[index])
    keys = ("x_t", "x0_pred", "added_noise")
    for ax, x, key in zip(axes, panels, keys):
        if kind == "images":
            draw_images(ax, x[:max_images], label(key, lang))
        else:
            draw_cloud(ax, x if key != "added_noise" else x * 10.0, label(key, lang) + ("  (×10)" if
                       key == "added_noise" else ""), color=COLORS[0] if key != "x0_pred" else COLORS[2])
    fig.suptitle(label("reverse_step", lang, i=index + 1, n=len(traj.steps), t=traj.steps[index]), fontsize=10)


def plot_trajectory_frame(traj, index: int, lang: str = "en", managed: bool = True):
    fig = new_figure((8.4, 3.2), managed)
    draw_trajectory_frame(fig, traj, index, lang)
    return fig


def plot_trajectory_strip(traj, lang: str = "en", columns: int = 6, max_images: int = 9, managed: bool = True):
    """A static summary of a reverse trajectory: x_t (top) and x̂_0 (bottom) at ``columns`` recorded steps
    from t = T down to t = 1. What a headless run of the denoising player leaves behind."""
    kind = _traj_kind(traj)
    idx = sorted(set(np.linspace(0, len(traj.steps) - 1, min(columns, len(traj.steps))).round().astype(int)))
    fig = new_figure((1.75 * len(idx) + 0.6, 3.9), managed)
    axes = np.array(fig.subplots(2, len(idx))).reshape(2, len(idx))
    for col, i in enumerate(idx):
        for row, x in enumerate((traj.x_t[i], traj.x0_pred[i])):
            color = COLORS[0] if row == 0 else COLORS[2]
            _draw_any(axes[row, col], x[:max_images] if kind == "images" else x, f"t = {traj.steps[i]}",
                      color=color)
    axes[0, 0].text(-0.08, 0.5, label("x_t", lang), transform=axes[0, 0].transAxes, rotation=90,
                    va="center", ha="right", fontsize=9)
    axes[1, 0].text(-0.08, 0.5, label("x0_pred", lang), transform=axes[1, 0].transAxes, rotation=90,
                    va="center", ha="right", fontsize=9)
    return fig


# ---------------------------------------------------------------------------------------------------------
# Training and guidance
# ---------------------------------------------------------------------------------------------------------

def draw_loss(ax, steps: Sequence[int], losses: Sequence[float], lang: str = "en") -> None:
    """Loss against the training step, with an exponential moving average to see the trend through noise."""
    steps = np.asarray(steps)
    losses = np.asarray(losses, dtype=float)
    ax.plot(steps, losses, color=COLORS[0], alpha=0.35, lw=0.8, label=label("loss", lang))
    if len(losses):
        smooth = np.empty_like(losses)
        acc = losses[0]
        for i, v in enumerate(losses):
            acc = 0.9 * acc + 0.1 * v
            smooth[i] = acc
        ax.plot(steps, smooth, color=COLORS[1], lw=1.6, label=label("loss_smooth", lang))
        ax.legend(fontsize=8, loc="upper right")
    ax.set_xlabel(label("train_step", lang), fontsize=9)
    ax.set_title(label("loss", lang), fontsize=10)
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=8)


def plot_loss(losses: Sequence[float], lang: str = "en", managed: bool = True):
    fig = new_figure((5.0, 3.0), managed)
    draw_loss(fig.subplots(), range(1, len(losses) + 1), losses, lang)
    return fig


def plot_guidance(samples_by_w: Mapping[float, Tensor], nrow: int = 10, lang: str = "en", managed: bool = True):
    """Class-conditional samples, one panel per guidance scale w (rows: y = 0..9 for digits; for 2-D
    points each panel is one scatter coloured by the asked label if ``samples_by_w`` maps to (x, y))."""
    ws = list(samples_by_w)
    fig = new_figure((3.3 * len(ws), 3.6), managed)
    axes = np.atleast_1d(fig.subplots(1, len(ws)))
    for ax, w in zip(axes, ws):
        value = samples_by_w[w]
        if isinstance(value, tuple):
            x, y = value
            p, c = _np(x), y.cpu().numpy()
            ax.scatter(p[:, 0], p[:, 1], s=3, c=c, cmap="tab10", vmin=0, vmax=9, linewidths=0)
            ax.set_xlim(-LIM, LIM)
            ax.set_ylim(-LIM, LIM)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(label("guidance", lang, w=w), fontsize=10)
        else:
            draw_images(ax, value, label("guidance", lang, w=w), nrow)
    return fig


@torch.no_grad()
def noised(s, x0: Tensor, t: int, noise: Tensor) -> Tensor:
    """x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε for display, t clipped to 1..T (a slider may exceed a shorter T)."""
    from ..diffusion import q_sample

    return q_sample(s, x0, int(min(max(t, 1), s.T)), noise)

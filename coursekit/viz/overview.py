"""Plots for the overview lecture (slides: 生成式模型概论): a fitted 2-D density with its training data and
samples, the train / held-out log-likelihood against model capacity, and the families of the course side by side.

The numbers come from :mod:`coursekit.density` and :mod:`coursekit.compare`; this file only draws them. Every
function takes ``lang`` ("zh" or "en") for its labels and returns the matplotlib Figure (``managed=False`` gives a
free-standing Figure for PNGs in a widget).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from .._checks import check_choice
from .core import image_grid, new_figure, pick_label

_LABELS = {
    "density": {"zh": "拟合的密度 log p_θ(x)（点：训练数据）", "en": "fitted density log p_θ(x) (dots: training data)"},
    "samples": {"zh": "从 p_θ 采样（灰：真实数据）", "en": "samples of p_θ (grey: real data)"},
    "curve": {"zh": "平均对数似然（nats）", "en": "average log-likelihood (nats)"},
    "train": {"zh": "训练集", "en": "training set"},
    "test": {"zh": "留出集", "en": "held-out set"},
    "capacity_gmm": {"zh": "高斯分量数 K", "en": "Gaussian components K"},
    "capacity_hist": {"zh": "每个坐标轴的格子数", "en": "cells per axis"},
    "minus_inf": {"zh": "留出集 = −∞", "en": "held-out = −∞"},
    "bpd": {"zh": "{v} bits/dim", "en": "{v} bits/dim"},
    "fd": {"zh": "FD 与基准之比 {v:.1f}", "en": "FD / ref. {v:.1f}"},
    "acc": {"zh": "类别正确 {v:.0f}%", "en": "class acc. {v:.0f}%"},
    "near": {"zh": "近似复制 {v:.0f}%", "en": "near copies {v:.0f}%"},
    "ms": {"zh": "{v:.2f} ms/张", "en": "{v:.2f} ms/image"},
}
LIM = 4.5


def _label(key: str, lang: str, **fields: object) -> str:
    return pick_label(_LABELS, key, lang, **fields)


_figure = new_figure


def draw_density(ax, model, train: Tensor | None = None, lang: str = "en", lim: float = LIM, grid: int = 120,
                 title: str | None = None) -> None:
    """log p_θ(x) of a fitted model (anything with ``log_prob``) on a grid over [−lim, lim]², with the training
    points on top. −∞ (a histogram's empty cells) is drawn in the lowest colour."""
    axis = torch.linspace(-lim, lim, grid)
    xx, yy = torch.meshgrid(axis, axis, indexing="xy")
    log_p = model.log_prob(torch.stack([xx.flatten(), yy.flatten()], 1)).reshape(grid, grid).double()
    finite = log_p[torch.isfinite(log_p)]
    top = float(finite.max()) if len(finite) else 0.0
    shown = log_p.clamp(min=top - 12.0).nan_to_num(top - 12.0, neginf=top - 12.0).numpy()   # 12 nats of range
    ax.imshow(shown, origin="lower", extent=(-lim, lim, -lim, lim), cmap="magma", interpolation="nearest")
    if train is not None:
        t = train.detach().cpu().numpy()
        ax.scatter(t[:, 0], t[:, 1], s=2, c="#7fd3ff", alpha=0.7, linewidths=0)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title or _label("density", lang), fontsize=9)


def draw_samples(ax, samples: Tensor, reference: Tensor | None = None, lang: str = "en", lim: float = LIM,
                 title: str | None = None) -> None:
    if reference is not None:
        r = reference.detach().cpu().numpy()
        ax.scatter(r[:, 0], r[:, 1], s=2, c="#999999", alpha=0.35, linewidths=0)
    s = samples.detach().cpu().numpy()
    ax.scatter(s[:, 0], s[:, 1], s=2, c="#d62728", alpha=0.6, linewidths=0)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title or _label("samples", lang), fontsize=9)


def draw_capacity_curve(ax, capacities: Sequence[int], train_ll: Sequence[float], test_ll: Sequence[float],
                        current: int | None = None, kind: str = "gmm", lang: str = "en") -> None:
    """Train and held-out average log-likelihood against capacity (−∞ held-out values drawn as a cross at the
    bottom): the gap that opens on the right is over-fitting, the low values on the left under-fitting."""
    check_choice("kind", kind, ("gmm", "histogram"))
    caps = np.asarray(capacities, dtype=float)
    tr, te = np.asarray(train_ll, dtype=float), np.asarray(test_ll, dtype=float)
    finite = np.isfinite(te)
    ax.plot(caps, tr, "o-", color="#2f6db5", label=_label("train", lang), markersize=3)
    ax.plot(caps[finite], te[finite], "s-", color="#d62728", label=_label("test", lang), markersize=3)
    low = min(np.nanmin(tr), np.nanmin(te[finite]) if finite.any() else np.nanmin(tr))
    if (~finite).any():
        ax.plot(caps[~finite], np.full((~finite).sum(), low - 0.3), "x", color="#d62728",
                label=_label("minus_inf", lang))
    if current is not None:
        ax.axvline(current, color="#888888", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    ax.minorticks_off()
    shown = caps[:: max(1, len(caps) // 6)]
    ax.set_xticks(shown, [f"{c:g}" for c in shown])
    ax.set_xlabel(_label("capacity_gmm" if kind == "gmm" else "capacity_hist", lang), fontsize=8)
    ax.set_ylabel(_label("curve", lang), fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, frameon=False)


def plot_fit(model, train: Tensor, reference: Tensor, samples: Tensor, lang: str = "en", managed: bool = True):
    """The fitted density over the training data, and samples of the model over the real data."""
    fig = _figure((7.0, 3.4), managed)
    a, b = fig.subplots(1, 2)
    draw_density(a, model, train, lang)
    draw_samples(b, samples, reference, lang)
    return fig


def plot_families(rows: Sequence, reference: Tensor | None = None, lang: str = "en", per_row: int = 20,
                  managed: bool = True):
    """The families side by side: a grid of each row's samples (``compare.Row.samples``) titled with its numbers
    (likelihood in bits/dim where it has one, saying whether it is p(x) or p(x|y), FD / reference with the share of
    near copies beside it, class accuracy, sampling cost)."""
    panels = [(r.model.split(" (")[0], r.samples, r) for r in rows if getattr(r, "samples", None) is not None]
    if reference is not None:
        panels.insert(0, ("data" if lang == "en" else "真实数据", reference, None))
    fig = _figure((2.3 * len(panels), 3.0), managed)
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    for ax, (name, images, row) in zip(axes, panels):
        ax.imshow(image_grid(images[:per_row].clamp(-1, 1), nrow=int(math.sqrt(per_row)) + 1), cmap="gray",
                  vmin=0, vmax=1, interpolation="nearest")
        ax.set_axis_off()
        lines = [name]
        if row is not None:
            likelihood = row.nll_bpd if row.nll_bpd is not None else row.bound_bpd
            if likelihood is not None:
                of = "p(x|y) " if row.conditional else "p(x) "          # what the likelihood conditions on
                bound = "≤ " if row.nll_kind != "exact" else ""
                lines.append(of + bound + _label("bpd", lang, v=f"{likelihood:.2f}"))
            if row.fd_ratio is not None:
                lines.append(_label("fd", lang, v=row.fd_ratio))
            if getattr(row, "near_copy_rate", None) is not None:          # FD cannot see copying: always beside it
                lines.append(_label("near", lang, v=100 * row.near_copy_rate))
            if row.accuracy is not None:
                lines.append(_label("acc", lang, v=100 * row.accuracy))
            lines.append(_label("ms", lang, v=row.sample_cpu_ms_per_image))
        ax.set_title("\n".join(lines), fontsize=8)
    return fig

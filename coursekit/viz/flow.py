"""Pictures of unit 07 (DDIM and flow matching): paths from noise to the data, and quality against the number of
network calls. Labels in both languages (``lang`` "zh" or "en"); math in Unicode, never mathtext (no CJK there)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from .core import new_figure, pick_label
from .diffusion_plots import DATA_COLOR

LIM = 3.2
SAMPLER_COLORS = {"alg2": "#d62728", "ddim": "#1f77b4", "flow": "#2ca02c", "ddim_x0": "#9467bd", "heun": "#8c564b"}

LABELS: dict[str, dict[str, str]] = {
    "alg2": {"zh": "算法 2（η = 1）", "en": "Algorithm 2 (η = 1)"},
    "ddim": {"zh": "DDIM（确定性，η = 0）", "en": "DDIM (η = 0)"},
    "flow": {"zh": "流匹配（欧拉法）", "en": "flow matching (Euler)"},
    "heun": {"zh": "流匹配（Heun 法）", "en": "flow matching (Heun)"},
    "ddim_x0": {"zh": "DDIM，预测 x̂₀ 的模型", "en": "DDIM, the x̂₀-model"},
    "calls": {"zh": "{calls} 次网络调用", "en": "{calls} network calls"},
    "ring_report": {"zh": "模式 {modes}/{n_modes} · 高质量 {hq:.0f} %",
                    "en": "modes {modes}/{n_modes} · high quality {hq:.0f} %"},
    "start": {"zh": "起点 x_T ~ N(0, I)", "en": "start x_T ~ N(0, I)"},
    "end": {"zh": "终点（生成的样本）", "en": "end (the samples)"},
    "data": {"zh": "真实数据", "en": "data"},
    "calls_axis": {"zh": "每个样本的网络调用次数（对数坐标）", "en": "network calls per sample (log scale)"},
    "fd_axis": {"zh": "FD 与基准之比（n = 500，越低越好）", "en": "FD / reference (n = 500, lower is better)"},
    "hq_axis": {"zh": "高质量样本 %（3σ 以内，越高越好）",
                "en": "high-quality samples % (within 3σ, higher is better)"},
    "digits_title": {"zh": "手写数字", "en": "digits"},
    "ring_title": {"zh": "圆环上的 8 个高斯", "en": "ring of 8 Gaussians"},
    "steps_slider": {"zh": "步数", "en": "steps"},
    "steps_tooltip": {"zh": "每种采样方法走的步数 = 网络调用次数（1–250；T = 250 是算法 2 的原始步数）",
                      "en": "steps each sampler takes = network calls (1–250; T = 250 is Algorithm 2's own)"},
    "readout": {"zh": "{calls} 次调用：{items}", "en": "{calls} calls: {items}"},
    "readout_item": {"zh": "{name} 模式 {modes}/8、高质量 {hq:.0f} %",
                     "en": "{name} modes {modes}/8, high quality {hq:.0f} %"},
    "legend": {"zh": "灰点：真实数据；细线：每个样本从噪声到终点的路径（前 {n} 条）；彩色点：样本",
               "en": "grey: the data; thin lines: each sample's path from the noise to its end (the first {n}); "
                     "coloured dots: the samples"},
    "eta_title": {"zh": "η = {eta:g}", "en": "η = {eta:g}"},
    "straight_title": {"zh": "{name}\n直线度 {s:.3f}", "en": "{name}\nstraightness {s:.3f}"},
}


def flow_label(key: str, lang: str = "en", **fields: object) -> str:
    """The unit-07 label ``key`` in ``lang`` ("zh" or "en"), with ``fields`` filled in."""
    if key not in LABELS:
        raise ValueError(f"key must be one of the labels in coursekit.viz.flow.LABELS, got {key!r}")
    return pick_label(LABELS, key, lang, **fields)


def _np(x: Tensor) -> np.ndarray:
    return torch.as_tensor(x).detach().float().cpu().numpy()


def draw_paths(ax, states: Tensor, title: str | None = None, reference: Tensor | None = None,
               color: str = SAMPLER_COLORS["ddim"], n_paths: int = 150, lim: float = LIM) -> None:
    """2-D paths from noise to samples: ``states`` (K + 1, N, 2), first row the start x_T, last row the samples.
    Draws the data (grey), the first ``n_paths`` paths as thin lines, their starts (small grey) and every end."""
    s = _np(states)
    if s.ndim != 3 or s.shape[-1] != 2:
        raise ValueError(f"states must have shape (K + 1, N, 2), got {tuple(s.shape)}")
    if reference is not None:
        ref = _np(reference)
        ax.scatter(ref[:, 0], ref[:, 1], s=2, c=DATA_COLOR, alpha=0.3, linewidths=0, zorder=1)
    k = min(n_paths, s.shape[1])
    ax.plot(s[:, :k, 0], s[:, :k, 1], color=color, alpha=0.25, linewidth=0.6, zorder=2)
    ax.scatter(s[0, :k, 0], s[0, :k, 1], s=3, c="#555555", alpha=0.5, linewidths=0, zorder=3)
    ax.scatter(s[-1, :, 0], s[-1, :, 1], s=3, c=color, alpha=0.8, linewidths=0, zorder=4)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def draw_sampler_panels(fig, panels: Sequence[tuple[str, Tensor, Mapping[str, float], int]], lang: str = "en",
                        reference: Tensor | None = None, n_paths: int = 150) -> None:
    """One axis per sampler, side by side: (key of LABELS, states, mode_coverage report, network calls)."""
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (key, states, report, calls) in zip(axes, panels):
        quality = flow_label("ring_report", lang, modes=report["modes"], n_modes=report["n_modes"],
                             hq=report["high_quality"])
        title = f"{flow_label(key, lang)}\n{flow_label('calls', lang, calls=calls)} · {quality}"
        draw_paths(ax, states, title, reference=reference, color=SAMPLER_COLORS.get(key, "#1f77b4"),
                   n_paths=n_paths)


def plot_sampler_paths(panels, lang: str = "en", reference: Tensor | None = None, n_paths: int = 150,
                       managed: bool = True):
    """:func:`draw_sampler_panels` in a new figure (returned)."""
    fig = new_figure((3.6 * len(panels), 4.0), managed=managed)
    draw_sampler_panels(fig, panels, lang, reference, n_paths)
    return fig


def draw_quality_vs_calls(ax, curves: Mapping[str, Sequence[tuple[int, float]]], ylabel: str, lang: str = "en",
                          title: str | None = None, log_y: bool = False) -> None:
    """Quality (y) against the number of network calls per sample (x, log scale), one line per sampler:
    ``curves`` maps a key of LABELS ("alg2", "ddim", "flow", …) to (calls, value) points."""
    for key, points in curves.items():
        xs, ys = zip(*sorted(points))
        ax.plot(xs, ys, "o-", color=SAMPLER_COLORS.get(key), label=flow_label(key, lang) if key in LABELS else key,
                markersize=4, linewidth=1.4)
    ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel(flow_label("calls_axis", lang), fontsize=9)
    ax.set_ylabel(ylabel, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)


def plot_quality_vs_calls(digits: Mapping[str, Sequence[tuple[int, float]]] | None = None,
                          ring: Mapping[str, Sequence[tuple[int, float]]] | None = None, lang: str = "en",
                          managed: bool = True):
    """FD / reference of the digits (left) and high-quality % on the ring (right) against network calls."""
    parts = [p for p in (("digits", digits), ("ring", ring)) if p[1]]
    fig = new_figure((5.2 * len(parts), 3.8), managed=managed)
    axes = fig.subplots(1, len(parts), squeeze=False)[0]
    for ax, (kind, curves) in zip(axes, parts):
        if kind == "digits":
            draw_quality_vs_calls(ax, curves, flow_label("fd_axis", lang), lang, flow_label("digits_title", lang),
                                  log_y=True)
        else:
            draw_quality_vs_calls(ax, curves, flow_label("hq_axis", lang), lang, flow_label("ring_title", lang))
    return fig

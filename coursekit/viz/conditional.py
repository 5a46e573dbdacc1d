"""Pictures for unit 06, conditional generative models (条件生成式模型): per-class sample grids, labelled rows of
images side by side (cVAE priors, pix2pix, CycleGAN), the guidance trade-off curve, the PatchGAN patch drawn on
an image, and bar charts of measured numbers. Labels in Chinese or English (``lang``), kept in this file.

Every ``plot_*`` returns its matplotlib Figure; ``managed=False`` makes a free-standing figure for the widgets
(:mod:`coursekit.widgets.conditional`), which turn it into PNG bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from torch import Tensor

from .._checks import check_choice
from ..i18n import LANGS
from .diffusion_plots import draw_images, new_figure

LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "w": "引导系数 w",
        "accuracy": "被识别为指定数字的比例 (%)",
        "fd_ratio": "FD 与基准之比",
        "near_copies": "近似复制 (%)",
        "percent": "比例 (%)",
        "curve_title": "无分类器引导的取舍：w 越大，样本越服从标签；FD 与基准之比先降后升",
        "curve_title_n": "无分类器引导的取舍（每个 w {n} 个样本）：w 越大越服从标签，FD 与基准之比先降后升",
        "guided": "w = {w:g}：指定数字 {acc:.0f} %，FD 与基准之比 {fd:.1f}",
        "guided_copies": "w = {w:g}：指定数字 {acc:.0f} %，FD 与基准之比 {fd:.1f}，近似复制 {near:.1f} %",
        "w_tooltip": "引导系数 w：0 为无条件模型，1 为不加引导的条件模型，大于 1 为外推；只取测得的 w 值",
        "w_hint": "拖动滑块或在右侧数字框输入 w（自动取最近的测得值）。左：该 w 下的样本，第 k 列是数字 k，"
                  "同一位置的样本来自同一个 x_T；右：测得的曲线，黑圈标出当前的 w。",
        "digit": "数字 {k}",
        "patch_title": "{n} 层 PatchGAN：一个输出看到 {k}×{k} 像素，输出网格 {m}×{m}",
        "pixel_title": "PixelGAN（另一个网络，只有 1×1 卷积）：一个输出只看 1 个像素",
        "in_paper": "论文比较的大小之一；",
        "pixel_note": "每个像素单独判断，看不到任何空间结构",
        "neighbour": "橙色虚线：相邻输出的块，错开 {s} 像素",
        "outside": "；图像外的部分是填充",
        "value": "数值",
        "layers": "PatchGAN 层数",
        "position": "输出位置",
    },
    "en": {
        "w": "guidance scale w",
        "accuracy": "classified as the asked digit (%)",
        "fd_ratio": "FD / reference",
        "near_copies": "near copies (%)",
        "percent": "share (%)",
        "curve_title": "Classifier-free guidance: larger w obeys the label more; FD / reference falls, then rises",
        "curve_title_n": "Classifier-free guidance ({n} samples per w): larger w obeys the label more; "
                         "FD / reference falls, then rises",
        "guided": "w = {w:g}: asked digit {acc:.0f} %, FD / reference {fd:.1f}",
        "guided_copies": "w = {w:g}: asked digit {acc:.0f} %, FD / reference {fd:.1f}, near copies {near:.1f} %",
        "w_tooltip": "guidance scale w: 0 is the unconditional model, 1 the conditional model without guidance, "
                     "above 1 extrapolation; only the measured values of w",
        "w_hint": "Drag the slider or type w into the box on its right (it snaps to the nearest measured w). Left: "
                  "the samples at that w, column k is digit k, one position starts from one x_T for every w; "
                  "right: the measured curves, the current w circled in black.",
        "digit": "digit {k}",
        "patch_title": "{n}-layer PatchGAN: one output sees {k}×{k} pixels, {m}×{m} outputs",
        "pixel_title": "PixelGAN (a separate net of 1×1 convs): one output sees 1 pixel",
        "in_paper": "one of the paper's sizes; ",
        "pixel_note": "each pixel judged on its own, no spatial structure",
        "neighbour": "dashed orange: the next output's patch, {s} pixels on",
        "outside": "; outside the image: padding",
        "value": "value",
        "layers": "PatchGAN layers",
        "position": "output position",
    },
}


def text(key: str, lang: str = "en", **fields) -> str:
    """A label of this unit in ``lang`` (every key exists in both languages)."""
    check_choice("lang", lang, LANGS)
    return LABELS[lang][key].format(**fields)


# ---------------------------------------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------------------------------------

def plot_rows(rows: Mapping[str, Tensor], n: int = 10, title: str | None = None, managed: bool = True,
              width: float = 9.0):
    """One labelled row of images per entry ``{name: (N, 1, H, W)}``, the first ``n`` of each, side by side."""
    if not rows:
        raise ValueError("rows must hold at least one row of images")
    names = list(rows)
    fig = new_figure((width, 1.05 * len(names) + (0.4 if title else 0.0)), managed)
    axes = np.atleast_1d(fig.subplots(len(names), 1))
    for ax, name in zip(axes, names):
        images = rows[name][:n]
        draw_images(ax, images, None, nrow=len(images))
        ax.text(-0.01, 0.5, name, transform=ax.transAxes, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(left=0.22, right=0.99, hspace=0.15)
    return fig


def plot_class_grids(grids: Mapping[str, Tensor], nrow: int = 10, lang: str = "en", managed: bool = True):
    """Panels of class-conditional samples, one per model (column k of each panel is digit k)."""
    names = list(grids)
    fig = new_figure((3.3 * len(names), 3.6), managed)
    axes = np.atleast_1d(fig.subplots(1, len(names)))
    for ax, name in zip(axes, names):
        draw_images(ax, grids[name], name, nrow)
    return fig


# ---------------------------------------------------------------------------------------------------------
# Classifier-free guidance: the trade-off curve
# ---------------------------------------------------------------------------------------------------------

def draw_guidance_curve(ax, ws: Sequence[float], accuracy: Sequence[float], fd_ratio: Sequence[float],
                        current: float | None = None, lang: str = "en",
                        near_copies: Sequence[float] | None = None) -> None:
    """Accuracy and, when given, the share of near copies of training digits (left axis, %), and FD / reference
    (right axis, log scale) against w, a marker at ``current``. The near-copy share stands beside FD because FD
    alone cannot tell a model that copies its training digits from one that generalises."""
    from matplotlib.ticker import FuncFormatter

    ws, acc, fd = np.asarray(ws, float), 100 * np.asarray(accuracy, float), np.asarray(fd_ratio, float)
    near = None if near_copies is None else 100 * np.asarray(near_copies, float)
    ax.plot(ws, acc, "o-", color="#1f77b4", label=text("accuracy", lang))
    if near is not None:
        ax.plot(ws, near, "^:", color="#2ca02c", label=text("near_copies", lang))
        ax.legend(loc="center right", fontsize=7)
    ax.set_xlabel(text("w", lang))
    ax.set_ylabel(text("percent" if near is not None else "accuracy", lang), color="#1f77b4")
    ax.set_ylim(0, 105)
    right = ax.twinx()
    right.plot(ws, fd, "s--", color="#d62728", label=text("fd_ratio", lang))
    right.set_yscale("log")
    plain = FuncFormatter(lambda v, _: f"{v:g}")          # 2, 5, 10 rather than 2×10⁰ on the log axis
    right.yaxis.set_major_formatter(plain)
    right.yaxis.set_minor_formatter(plain)
    right.set_ylabel(text("fd_ratio", lang), color="#d62728")
    if current is not None:
        i = int(np.argmin(np.abs(ws - current)))
        ax.axvline(ws[i], color="0.5", lw=0.8)
        ax.plot([ws[i]], [acc[i]], "o", ms=11, mfc="none", mec="k")
        right.plot([ws[i]], [fd[i]], "s", ms=11, mfc="none", mec="k")
        if near is None:
            title = text("guided", lang, w=ws[i], acc=acc[i], fd=fd[i])
        else:
            title = text("guided_copies", lang, w=ws[i], acc=acc[i], fd=fd[i], near=near[i])
        ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)


def plot_guidance_curve(ws: Sequence[float], accuracy: Sequence[float], fd_ratio: Sequence[float],
                        lang: str = "en", managed: bool = True, near_copies: Sequence[float] | None = None,
                        n: int | None = None):
    """The guidance trade-off measured over ``ws``: accuracy, near copies (if given) and FD / reference; ``n`` (the
    samples per w) goes into the title, since FD / reference is comparable only at one sample size."""
    fig = new_figure((6.2, 3.6), managed)
    ax = fig.subplots()
    draw_guidance_curve(ax, ws, accuracy, fd_ratio, None, lang, near_copies)
    ax.set_title(text("curve_title", lang) if n is None else text("curve_title_n", lang, n=n), fontsize=9)
    return fig


# ---------------------------------------------------------------------------------------------------------
# PatchGAN: the patch one output sees
# ---------------------------------------------------------------------------------------------------------

def patch_span(n_layers: int, index: int) -> tuple[int, int]:
    """The input rows [first, last] that output row ``index`` sees: :func:`coursekit.gan.patchgan.patch_span` for a
    PatchGAN, and the pixel itself for ``n_layers = 0``, the separate 1×1 PixelGAN."""
    from ..gan.patchgan import patch_span as span

    return (index, index) if n_layers == 0 else span(n_layers, index)


def draw_patch(ax, image: Tensor, n_layers: int, index: int, lang: str = "en") -> None:
    """The image, and the square patch that output (index, index) of the PatchGAN sees, in red."""
    from matplotlib.patches import Rectangle

    from ..gan.patchgan import patch_output_size

    img = ((image.detach().float().cpu().reshape(image.shape[-2], image.shape[-1]) + 1) / 2).clamp(0, 1)
    size = img.shape[-1]
    ax.imshow(img.numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest", extent=(-0.5, size - 0.5,
                                                                                         size - 0.5, -0.5))
    first, last = patch_span(n_layers, index)
    k = last - first + 1
    ax.add_patch(Rectangle((first - 0.5, first - 0.5), k, k, fill=True, fc=(1, 0, 0, 0.18), ec="red", lw=2))
    m = size if n_layers == 0 else patch_output_size(size, n_layers)
    neighbour = index + 1 if index + 1 < m else index - 1          # the next logit's patch: shifted by the stride
    n_first, _ = patch_span(n_layers, neighbour)
    ax.add_patch(Rectangle((n_first - 0.5, n_first - 0.5), k, k, fill=False, ec="orange", lw=1.2, ls="--"))
    pad = max(0, -first, last - size + 1)
    ax.set_xlim(-0.5 - pad, size - 0.5 + pad)
    ax.set_ylim(size - 0.5 + pad, -0.5 - pad)
    ax.set_xticks([])
    ax.set_yticks([])
    title = text("pixel_title", lang, m=m) if n_layers == 0 else text("patch_title", lang, n=n_layers, k=k, m=m)
    note = text("in_paper", lang) if n_layers in (0, 1, 3, 5) else ""       # 1×1, 16, 70, 286: Isola et al.'s four
    note += text("pixel_note", lang) if n_layers == 0 else text("neighbour", lang, s=abs(n_first - first))
    note += text("outside", lang) if pad else ""
    ax.set_title(title + "\n" + note, fontsize=9)


# ---------------------------------------------------------------------------------------------------------
# Measured numbers
# ---------------------------------------------------------------------------------------------------------

def plot_bars(table: Mapping[str, Mapping[str, float]], keys: Sequence[str], lang: str = "en",
              managed: bool = True, title: str | None = None):
    """One panel per measure (``keys``), one bar per row of ``table`` {run: {measure: value}}, value printed."""
    runs = list(table)
    fig = new_figure((3.0 * len(keys), 2.8), managed)
    axes = np.atleast_1d(fig.subplots(1, len(keys)))
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]
    for ax, key in zip(axes, keys):
        values = [float(table[r][key]) for r in runs]
        bars = ax.bar(range(len(runs)), values, color=colors[: len(runs)])
        for bar, v in zip(bars, values):
            ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), f"{v:.3g}", ha="center", va="bottom",
                    fontsize=8)
        ax.set_xticks(range(len(runs)), runs, rotation=20, fontsize=8)
        ax.set_title(key, fontsize=9)
        ax.margins(y=0.2)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig

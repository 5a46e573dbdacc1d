"""Plots for the autoregressive lecture (slides: 自回归生成模型, PixelRNN/PixelCNN): the raster order of the
chain rule, the type-A/B masks, receptive fields with the blind spot, and pixel-by-pixel sampling frames.

The numbers come from :mod:`coursekit.autoregressive` (masks, ``receptive_field``, ``PixelCNN.sample``); this
file only draws them. Every function takes ``lang`` ("zh" or "en") for its labels and returns the matplotlib
Figure (``managed=False`` gives a free-standing Figure that pyplot does not track, e.g. for PNGs in a widget).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from .._checks import check_choice, check_tensor
from ..i18n import LANGS
from .core import image_grid, new_figure, pick_label

_LABELS = {
    "order": {"zh": "光栅顺序：像素 i 以 x_1 … x_(i−1) 为条件",
              "en": "raster order: pixel i is conditioned on x_1 … x_(i−1)"},
    "mask": {"zh": "{k}×{k} 掩码（{kind} 型）", "en": "{k}×{k} mask (type {kind})"},
    "field": {"zh": "{layers} 层 · 像素 ({r}, {c})", "en": "{layers} layer(s) · pixel ({r}, {c})"},
    "seen": {"zh": "能影响它的像素", "en": "can influence it"},
    "blind": {"zh": "盲点（之前的像素，够得着却看不到）", "en": "blind spot (earlier, in reach, unseen)"},
    "far": {"zh": "之前的像素（超出感受野）", "en": "earlier, out of reach"},
    "self": {"zh": "当前像素 x_i", "en": "the pixel x_i"},
    "later": {"zh": "之后的像素", "en": "later pixels"},
    "frame": {"zh": "逐像素采样：第 {i}/{n} 步，像素 ({r}, {c})",
              "en": "pixel-by-pixel sampling: step {i}/{n}, pixel ({r}, {c})"},
    "probs": {"zh": "p(x_i | x_<i)（第 1 张图）", "en": "p(x_i | x_<i) (image 1)"},
    "level": {"zh": "灰度级", "en": "grey level"},
    "strip": {"zh": "第 {i} 步", "en": "step {i}"},
    "time": {"zh": "时间（毫秒）", "en": "time (ms)"},
}
# display codes of classify_field
LATER, FAR, BLIND, SEEN, SELF = 0, 1, 2, 3, 4
FIELD_COLORS = ("#ffffff", "#dfe6ee", "#e8743b", "#2f6db5", "#f2c318")


def _label(key: str, lang: str, **fields: object) -> str:
    return pick_label(_LABELS, key, lang, **fields)


_figure = new_figure


def plot_raster_order(size: int = 8, pixel: tuple[int, int] = (3, 4), lang: str = "en", managed: bool = True):
    """The order of the chain rule p(x) = ∏ p(x_i | x_<i) on a size × size image: each cell shows its index i;
    for ``pixel`` the conditioning set x_<i is shaded."""
    _label("order", lang)
    if not isinstance(size, int) or size < 2:
        raise ValueError(f"size must be an int >= 2, got {size!r}")
    r0, c0 = pixel
    if not (0 <= r0 < size and 0 <= c0 < size):
        raise ValueError(f"pixel must lie in the {size}×{size} image, got {pixel}")
    index = np.arange(size * size).reshape(size, size)
    i0 = r0 * size + c0
    shade = np.where(index < i0, SEEN, np.where(index == i0, SELF, LATER))
    fig = _figure((4.2, 4.2), managed)
    ax = fig.add_subplot(1, 1, 1)
    _draw_codes(ax, shade)
    for r in range(size):
        for c in range(size):
            ax.text(c, r, str(index[r, c] + 1), ha="center", va="center", fontsize=7,
                    color="white" if shade[r, c] == SEEN else "black")
    ax.set_title(_label("order", lang), fontsize=9)
    return fig


def plot_masks(masks: Mapping[str, Tensor], lang: str = "en", managed: bool = True):
    """Masks side by side (name → (k, k) 0/1 tensor): kept taps dark, masked taps white, the centre outlined."""
    _label("mask", lang, k=1, kind="A")
    fig = _figure((2.3 * len(masks), 2.5), managed)
    axes = np.atleast_1d(fig.subplots(1, len(masks)))
    for ax, (name, mask) in zip(axes, masks.items()):
        check_tensor(f"masks[{name!r}]", torch.as_tensor(mask).float(), ndim=2)
        m = torch.as_tensor(mask).float().cpu().numpy()
        k = m.shape[0]
        ax.imshow(m, cmap="Blues", vmin=0, vmax=1.3, interpolation="nearest")
        for r in range(k):
            for c in range(k):
                ax.text(c, r, f"{m[r, c]:g}", ha="center", va="center", fontsize=8)
        ax.add_patch(_square(k // 2, k // 2, "#d62728"))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(_label("mask", lang, k=k, kind=name) if name in ("A", "B") else str(name), fontsize=9)
    return fig


def _square(r: float, c: float, color: str, width: float = 2.0):
    from matplotlib.patches import Rectangle

    return Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, edgecolor=color, linewidth=width)


def _draw_codes(ax, codes: np.ndarray) -> None:
    from matplotlib.colors import ListedColormap

    ax.imshow(codes, cmap=ListedColormap(FIELD_COLORS), vmin=-0.5, vmax=len(FIELD_COLORS) - 0.5,
              interpolation="nearest")
    h, w = codes.shape
    ax.set_xticks(np.arange(-0.5, w, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, h, 1), minor=True)
    ax.grid(which="minor", color="#bbbbbb", linewidth=0.5)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)


def classify_field(field: Tensor, index: tuple[int, int], reach: int) -> np.ndarray:
    """Display codes of a receptive field (an (H, W) bool map, e.g. from ``autoregressive.receptive_field``):
    SELF for the pixel, SEEN for pixels it depends on, BLIND for earlier pixels within ``reach`` rows and
    columns that it does NOT depend on (the blind spot of a plain masked stack), FAR for the other earlier
    pixels, LATER for the pixels after it in raster order."""
    check_tensor("field", field, ndim=2, floating=False)
    h, w = field.shape
    r0, c0 = index
    if not (0 <= r0 < h and 0 <= c0 < w):
        raise ValueError(f"index must lie in the {h}×{w} field, got {index}")
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    earlier = rows * w + cols < r0 * w + c0
    near = (np.abs(rows - r0) <= reach) & (np.abs(cols - c0) <= reach)
    seen = field.cpu().numpy().astype(bool)
    codes = np.full((h, w), LATER)
    codes[earlier] = FAR
    codes[earlier & near & ~seen] = BLIND
    codes[seen] = SEEN
    codes[r0, c0] = SELF if not seen[r0, c0] else SEEN
    return codes


def draw_receptive_field(ax, field: Tensor, index: tuple[int, int], reach: int, title: str | None = None,
                         lang: str = "en", legend: bool = True) -> dict[str, int]:
    """One receptive field on ``ax`` (colours of :func:`classify_field`); returns the counts per category."""
    codes = classify_field(field, index, reach)
    _draw_codes(ax, codes)
    if title:
        ax.set_title(title, fontsize=9)
    counts = {key: int((codes == code).sum()) for key, code in
              (("seen", SEEN), ("blind", BLIND), ("far", FAR), ("later", LATER))}
    if legend:
        from matplotlib.patches import Patch

        handles = [Patch(facecolor=FIELD_COLORS[code], edgecolor="#888888",
                         label=f"{_label(key, lang)} ({counts[key]})" if key != "self" else _label(key, lang))
                   for key, code in (("self", SELF), ("seen", SEEN), ("blind", BLIND), ("far", FAR),
                                     ("later", LATER))]
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    return counts


def plot_receptive_fields(fields: Sequence[Tensor], index: tuple[int, int], reaches: Sequence[int],
                          titles: Sequence[str], lang: str = "en", managed: bool = True):
    """Several receptive fields of the same pixel side by side (e.g. after 1, 2, 4 layers)."""
    fig = _figure((2.6 * len(fields) + 2.6, 2.9), managed)
    axes = np.atleast_1d(fig.subplots(1, len(fields)))
    for i, (ax, field, reach, title) in enumerate(zip(axes, fields, reaches, titles)):
        draw_receptive_field(ax, field, index, reach, title, lang, legend=i == len(fields) - 1)
    return fig


# ---------------------------------------------------------------------------------------------------------
# Pixel-by-pixel sampling (frames recorded by PixelCNN.sample's callback)
# ---------------------------------------------------------------------------------------------------------

def check_frames(frames: Tensor, probs: Tensor) -> None:
    """``frames`` (D, n, 1, H, W): the images after each of the D = H·W steps; ``probs`` (D, n, levels)."""
    check_tensor("frames", frames, ndim=5)
    check_tensor("probs", probs, ndim=3)
    d, n, _, h, w = frames.shape
    if d != h * w or probs.shape[:2] != (d, n):
        raise ValueError(f"frames must be (H·W, n, 1, H, W) and probs (H·W, n, levels), got {tuple(frames.shape)} "
                         f"and {tuple(probs.shape)}")


def _partial(frames: Tensor, step: int, max_images: int) -> np.ndarray:
    """The images after ``step`` + 1 pixels with the pixels not yet drawn as NaN (shown in a pale colour)."""
    d, n, _, h, w = frames.shape
    x = frames[step, :max_images].clone().float()
    pending = torch.arange(d).view(h, w) > step
    x[:, :, pending] = float("nan")
    return image_grid(x)                             # NaN stays NaN through the grid: drawn as "bad" pixels


def draw_sampling_frame(fig, frames: Tensor, probs: Tensor, step: int, lang: str = "en", max_images: int = 16,
                        nrow: int = 4) -> None:
    """Step ``step`` (0-based) of a recorded sampling run: the partial images (pending pixels pale, the pixel
    just drawn outlined) and the categorical p(x_i | x_<i) it was drawn from, for the first image."""
    import matplotlib

    check_frames(frames, probs)
    d, n, _, h, w = frames.shape
    if not 0 <= step < d:
        raise ValueError(f"step must be in 0..{d - 1}, got {step}")
    r, c = divmod(step, w)
    ax_img, ax_p = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.3, 1.0]})
    cmap = matplotlib.colormaps["gray"].with_extremes(bad="#cfe0f3")     # pixels not drawn yet: pale blue
    ax_img.imshow(_partial(frames, step, max_images), cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    shown = min(n, max_images)
    for k in range(shown):                               # outline the pixel just drawn in every tile
        row, col = divmod(k, nrow if shown > nrow else shown)
        ax_img.add_patch(_square(1 + row * (h + 1) + r, 1 + col * (w + 1) + c, "#d62728", 1.2))
    ax_img.set_axis_off()
    p = probs[step, 0].detach().float().cpu().numpy()
    drawn = int(round((float(frames[step, 0, 0, r, c]) + 1) / 2 * (len(p) - 1)))
    colors = ["#2f6db5"] * len(p)
    colors[drawn] = "#d62728"
    ax_p.bar(np.arange(len(p)), p, color=colors)
    ax_p.set_xlabel(_label("level", lang), fontsize=8)
    ax_p.set_ylim(0, 1)
    ax_p.set_title(_label("probs", lang), fontsize=9)
    ax_p.tick_params(labelsize=7)
    fig.suptitle(_label("frame", lang, i=step + 1, n=d, r=r, c=c), fontsize=10)


def plot_sampling_frame(frames: Tensor, probs: Tensor, step: int, lang: str = "en", managed: bool = True):
    fig = _figure((8.0, 3.6), managed)
    draw_sampling_frame(fig, frames, probs, step, lang)
    return fig


def plot_sampling_strip(frames: Tensor, lang: str = "en", steps: Sequence[int] | None = None, max_images: int = 4,
                        managed: bool = True):
    """A static summary of a sampling run: the partial images after a few steps (what a headless run of the
    sampling player leaves behind)."""
    check_tensor("frames", frames, ndim=5)
    d = frames.shape[0]
    steps = list(steps) if steps is not None else sorted({0, d // 8, d // 4, d // 2, 3 * d // 4, d - 1})
    import matplotlib

    cmap = matplotlib.colormaps["gray"].with_extremes(bad="#cfe0f3")     # pixels not drawn yet: pale blue
    fig = _figure((1.6 * len(steps) + 0.4, 2.0), managed)
    axes = np.atleast_1d(fig.subplots(1, len(steps)))
    for ax, s in zip(axes, steps):
        ax.imshow(_partial(frames, s, max_images), cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(_label("strip", lang, i=s + 1), fontsize=9)
    return fig


def plot_timings(names: Sequence[str], train_ms: Sequence[float], sample_ms: Sequence[float], lang: str = "en",
                 managed: bool = True):
    """Two bar charts: milliseconds per training step and per sampled batch, one bar per model."""
    fig = _figure((7.5, 2.6), managed)
    axes = fig.subplots(1, 2)
    titles = {"zh": ("每个训练步", "采样一批图像"), "en": ("one training step", "sampling one batch")}
    check_choice("lang", lang, LANGS)
    for ax, values, title in zip(axes, (train_ms, sample_ms), titles[lang]):
        bars = ax.barh(list(names), list(values), color=["#2f6db5", "#e8743b", "#2ca02c"][:len(names)])
        ax.bar_label(bars, fmt="%.0f", fontsize=8)
        ax.set_xlabel(_label("time", lang), fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=8)
    fig.tight_layout()
    return fig

"""Image grids, PNG output and fonts that render Chinese labels."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

# Fonts tried in order for CJK glyphs: Debian's fonts-noto-cjk, then what Colab/macOS/Windows ship.
CJK_FONTS = ["Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
             "SimHei", "Microsoft YaHei", "PingFang SC", "Heiti SC", "Arial Unicode MS"]


# Where no system font has CJK glyphs (Colab, a bare laptop): Noto Sans SC from the pip package that
# ``pip install "coursekit[zh]"`` (the notebooks' Colab install cell) brings.
BUNDLED_CJK = ("pylopdf_fonts_zh_cn", "NotoSansSC-Regular.otf")


def bundled_cjk_font() -> Path | None:
    """The path of the pip-installed Noto Sans SC font file, or None when the ``zh`` extra is not installed."""
    import importlib.util

    package, filename = BUNDLED_CJK
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / filename
    return path if path.is_file() else None


def setup_fonts() -> str | None:
    """Put the first installed CJK font in matplotlib's sans-serif fallback list; returns its name.

    System fonts first (Debian's fonts-noto-cjk, what macOS/Windows ship); else the font of the ``zh`` extra,
    registered with matplotlib here; None when there is neither (Chinese labels would then show as boxes).
    """
    import matplotlib
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    found = next((name for name in CJK_FONTS if name in installed), None)
    bundled = bundled_cjk_font() if found is None else None
    if bundled is not None:
        font_manager.fontManager.addfont(str(bundled))
        found = font_manager.FontProperties(fname=str(bundled)).get_name()
    if found is not None:
        current = [f for f in matplotlib.rcParams["font.sans-serif"] if f != found]
        # matplotlib falls back glyph by glyph only across the families named in font.family (not across
        # the generic sans-serif list), so the CJK font must be named there too
        matplotlib.rcParams["font.family"] = ["sans-serif", found]
        matplotlib.rcParams["font.sans-serif"] = ["DejaVu Sans", found, *current]
    matplotlib.rcParams["axes.unicode_minus"] = False     # CJK fonts lack the U+2212 minus glyph
    return found


def new_figure(figsize: tuple[float, float], managed: bool = True):
    """A figure from pyplot (shown by Jupyter at the end of the cell) or a free-standing one (for PNGs and widgets,
    drawn off-screen), with the CJK font set up for Chinese labels."""
    setup_fonts()
    if managed:
        import matplotlib.pyplot as plt

        return plt.figure(figsize=figsize)
    from matplotlib.figure import Figure

    return Figure(figsize=figsize)


def pick_label(table: dict[str, dict[str, str]], key: str, lang: str, **fields: object) -> str:
    """``table[key][lang]`` with ``fields`` filled in: each unit's plot labels in both languages (lang zh or en)."""
    from .._checks import check_choice
    from ..i18n import LANGS

    check_choice("lang", lang, LANGS)
    return table[key][lang].format(**fields)


def image_grid(images: Tensor, nrow: int | None = None, pad: int = 1) -> np.ndarray:
    """Tile (N, C, H, W) images in [-1, 1] into one (rows·H, cols·W[, C]) array in [0, 1]."""
    if images.ndim != 4:
        raise ValueError(f"images must have shape (N, C, H, W), got {tuple(images.shape)}")
    x = ((images.detach().float().cpu() + 1) / 2).clamp(0, 1)
    n, c, h, w = x.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / nrow)
    grid = torch.ones(c, rows * (h + pad) + pad, nrow * (w + pad) + pad)
    for i in range(n):
        r, col = divmod(i, nrow)
        grid[:, pad + r * (h + pad): pad + r * (h + pad) + h, pad + col * (w + pad): pad + col * (w + pad) + w] = x[i]
    array = grid.permute(1, 2, 0).numpy()
    return array[..., 0] if c == 1 else array


def show_images(images: Tensor, nrow: int | None = None, title: str | None = None, ax=None):
    """Draw a grid of images on ``ax`` (a new figure when None); returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(image_grid(images, nrow), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def save_figure(fig, path: str | Path, dpi: int = 120) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


def save_image_grid(path: str | Path, images: Tensor, nrow: int | None = None, scale: int = 4,
                    title: str | None = None) -> Path:
    """Write a grid of images to a PNG, each pixel drawn as ``scale``×``scale`` (8×8 digits stay legible)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    grid = image_grid(images, nrow)
    h, w = grid.shape[:2]
    title_px = 30 if title else 0                    # a 30-pixel band above the grid for the title
    fig = plt.figure(figsize=(w * scale / 100, (h * scale + title_px) / 100), dpi=100)
    ax = fig.add_axes((0, 0, 1, h * scale / (h * scale + title_px)))
    ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=9)
    out = save_figure(fig, path, dpi=100)
    plt.close(fig)
    return out

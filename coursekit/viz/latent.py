"""Latent-space views of a VAE / cVAE (slides: 变分自编码器): what the decoder draws across a 2-D slice of z,
one latent dimension swept at a time, and where the encoder puts the test digits.

The numbers come from :func:`coursekit.vae.latent_grid` and :func:`coursekit.vae.traversal`; this file only
draws them. Every function takes ``lang`` ("zh" or "en") for its labels and returns the matplotlib Figure
(``managed=False`` gives a free-standing Figure that pyplot does not track, e.g. for PNGs in a loop).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._checks import check_tensor
from ..vae import VAE, latent_grid, traversal
from .core import image_grid, new_figure, pick_label

_LABELS = {
    "grid": {"zh": "隐空间网格：解码器均值 E[x | z]", "en": "latent grid: decoder mean E[x | z]"},
    "grid_y": {"zh": "隐空间网格（类别 {y}）", "en": "latent grid (class {y})"},
    "traversal": {"zh": "逐维遍历：第 j 行只改变 z_j", "en": "traversal: row j varies z_j only"},
    "swept": {"zh": "被改变的那一维的取值", "en": "value of the dimension swept"},
    "scatter": {"zh": "测试集编码均值 μ_φ(x)", "en": "encoder means μ_φ(x) of the test digits"},
    "z": {"zh": "隐变量 z{j}", "en": "latent z{j}"},
    "class": {"zh": "类别", "en": "class"},
}

_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def _z(j: int) -> str:
    """z₁, z₂, … for the latent dimension of index j (0-based in code, 1-based in the formulas)."""
    return "z" + str(j + 1).translate(_SUB)


def _label(key: str, lang: str, **fields: object) -> str:
    return pick_label(_LABELS, key, lang, **fields)


_figure = new_figure


def _check_model(model: object) -> None:
    if not isinstance(model, VAE):
        raise ValueError(f"model must be a coursekit.vae.VAE or CVAE, got {type(model).__name__}")


def plot_latent_grid(model: VAE, n: int = 15, span: float = 2.5, dims: tuple[int, int] = (0, 1),
                     y: int | None = None, lang: str = "en", managed: bool = True):
    """Decoder means on an n × n grid of z over [−span, span]² (latent ``dims``, the others 0), drawn as one
    image whose axes are the z values (for a cVAE, pass the class ``y``; a learned prior's grid is in units of
    p(z | y), see :func:`coursekit.vae.latent_grid`). With latent_dim = 2 this is the whole latent space."""
    _check_model(model)
    _label("grid", lang)
    images = latent_grid(model, n=n, span=span, dims=dims, y=y)
    fig = _figure((5, 5), managed)
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(image_grid(images, nrow=n), cmap="gray", vmin=0, vmax=1, interpolation="nearest",
              extent=(-span, span, -span, span))
    ax.set_xlabel(_label("z", lang, j=_z(dims[0])[1:]))
    ax.set_ylabel(_label("z", lang, j=_z(dims[1])[1:]))
    ax.set_title(_label("grid", lang) if y is None else _label("grid_y", lang, y=y))
    return fig


def plot_traversal(model: VAE, z: Tensor | None = None, n_steps: int = 9, span: float = 3.0,
                   y: int | None = None, max_dims: int = 16, lang: str = "en", managed: bool = True,
                   notes: list[str] | None = None):
    """One code z (shape (latent_dim,) or (1, latent_dim); default 0, the prior's mean) with each latent
    dimension swept over [−span, span] in turn: row j shows z_j varying, the others fixed. ``notes`` (one short
    string per row, e.g. each dimension's KL) is written beside the row labels."""
    _check_model(model)
    _label("traversal", lang)
    device = next(model.parameters()).device
    if z is None:
        z = torch.zeros(1, model.latent_dim, device=device)
    check_tensor("z", z)
    z = z.reshape(1, -1) if z.ndim == 1 else z
    if z.shape[0] != 1:
        raise ValueError(f"z must be one code of shape (latent_dim,) or (1, latent_dim), got {tuple(z.shape)}")
    if not isinstance(max_dims, int) or max_dims < 1:
        raise ValueError(f"max_dims must be a positive int, got {max_dims!r}")
    rows = min(model.latent_dim, max_dims)
    if notes is not None and (len(notes) < rows or not all(isinstance(t, str) for t in notes)):
        raise ValueError(f"notes must be {rows} strings (one per row), got {notes!r}")
    labels = None if y is None else torch.full((1,), int(y), dtype=torch.long, device=device)
    images = traversal(model, z.to(device), n_steps=n_steps, span=span, y=labels)[0]   # (d, steps, 1, H, W)
    wide = 1.6 if notes is not None else 0.8
    fig = _figure((0.55 * n_steps + wide, 0.55 * rows + 0.9), managed)
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(image_grid(images[:rows].reshape(-1, *images.shape[2:]), nrow=n_steps), cmap="gray", vmin=0,
              vmax=1, interpolation="nearest")
    h = images.shape[-2] + 1                                      # one tile plus the grid's 1-pixel padding
    w = images.shape[-1] + 1
    names = [_z(j) + ("" if notes is None else f"  {notes[j]}") for j in range(rows)]
    ax.set_yticks([1 + h * j + h / 2 - 1 for j in range(rows)], names)
    values = torch.linspace(-span, span, n_steps).tolist()
    ax.set_xticks([1 + w * k + w / 2 - 1 for k in range(n_steps)], [f"{v:+.1f}" for v in values], fontsize=7)
    ax.set_xlabel(_label("swept", lang))
    ax.set_title(_label("traversal", lang))
    fig.tight_layout()
    return fig


@torch.no_grad()
def plot_latent_scatter(model: VAE, x: Tensor, labels: Tensor, dims: tuple[int, int] = (0, 1),
                        lang: str = "en", managed: bool = True):
    """The encoder's means μ_φ(x) of images x, coloured by their class: the classic picture of how a 2-D
    VAE arranges the digits (for a cVAE, q(z | x, y) gets the true labels, so the classes overlap: the label,
    not z, carries the class)."""
    _check_model(model)
    _label("scatter", lang)
    check_tensor("labels", labels, ndim=1, floating=False)
    if labels.shape[0] != x.shape[0] or labels.is_floating_point():
        raise ValueError(f"labels must be integer class labels of shape ({x.shape[0]},), got "
                         f"{tuple(labels.shape)} {labels.dtype}")
    if len(dims) != 2 or not all(0 <= d < model.latent_dim for d in dims) or dims[0] == dims[1]:
        raise ValueError(f"dims must be two different latent dimensions in 0..{model.latent_dim - 1}, got {dims}")
    device = next(model.parameters()).device
    was = model.training
    model.eval()
    try:
        mu, _ = model.encode(x.to(device), labels.to(device) if model.num_classes else None)
    finally:
        model.train(was)
    mu, labels = mu.cpu(), labels.cpu()
    fig = _figure((5, 4.5), managed)
    ax = fig.add_subplot(1, 1, 1)
    points = ax.scatter(mu[:, dims[0]], mu[:, dims[1]], c=labels, cmap="tab10", vmin=-0.5, vmax=9.5, s=8)
    fig.colorbar(points, ax=ax, ticks=range(10), label=_label("class", lang))
    ax.set_xlabel(_label("z", lang, j=_z(dims[0])[1:]))
    ax.set_ylabel(_label("z", lang, j=_z(dims[1])[1:]))
    ax.set_title(_label("scatter", lang))
    return fig

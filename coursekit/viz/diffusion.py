"""Pictures of diffusion: the denoising strip of Algorithm 2's trajectory and 2-D scatter plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .core import image_grid, save_figure


def _pick(steps: list[int], columns: int) -> list[int]:
    """Indices of ``columns`` records spread evenly from t = T to t = 1 (both ends kept)."""
    if columns >= len(steps):
        return list(range(len(steps)))
    return sorted({int(round(i)) for i in np.linspace(0, len(steps) - 1, columns)})


def plot_denoising_strip(trajectory, columns: int = 8, rows: int = 4, show_x0_pred: bool = False,
                         title: str | None = None):
    """x_t at ``columns`` steps of a sampler (t = T on the left → the sample x_0 on the right).

    ``trajectory`` is the :class:`coursekit.diffusion.Trajectory` from ``sample(..., trajectory_every=k)``.
    Images: one row per sample; 2-D points: one scatter panel per step. ``show_x0_pred`` draws x̂_0 instead.
    ``title`` names the sampler (default "Algorithm 2: x_T → x_0"; say "DDIM, 25 calls" for unit 07's sampler).
    Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    records = trajectory.x0_pred if show_x0_pred else trajectory.x_t
    picks = _pick(trajectory.steps, columns - 1)
    panels = [(f"t={trajectory.steps[i]}", records[i]) for i in picks] + [("x_0", trajectory.x0)]
    if records.ndim == 5:                                    # (K, N, C, H, W) images
        rows = min(rows, trajectory.x0.shape[0])
        # "compressed": fixed-aspect image columns packed together, the title right above them
        fig, axes = plt.subplots(1, len(panels), figsize=(1.1 * len(panels), 1.1 * rows + 0.4), squeeze=False,
                                 layout="compressed")
        for ax, (label, x) in zip(axes[0], panels):
            ax.imshow(image_grid(x[:rows].clamp(-1, 1), nrow=1), cmap="gray", vmin=0, vmax=1,
                      interpolation="nearest")
            ax.set_title(label, fontsize=8)
            ax.set_axis_off()
    else:                                                    # (K, N, 2) points
        fig, axes = plt.subplots(1, len(panels), figsize=(2.0 * len(panels), 2.2), squeeze=False)
        for ax, (label, x) in zip(axes[0], panels):
            pts = x.detach().float().cpu()
            ax.scatter(pts[:, 0], pts[:, 1], s=1, alpha=0.5)
            ax.set_title(label, fontsize=8)
            ax.set_xlim(-5, 5)
            ax.set_ylim(-5, 5)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(title or "Algorithm 2: x_T → x_0", fontsize=9)
    return fig


def save_denoising_strip(path: str | Path, trajectory, columns: int = 8, rows: int = 4, title: str | None = None
                         ) -> Path:
    """Write :func:`plot_denoising_strip` to a PNG."""
    import matplotlib.pyplot as plt

    fig = plot_denoising_strip(trajectory, columns=columns, rows=rows, title=title)
    out = save_figure(fig, path)
    plt.close(fig)
    return out


def save_scatter(path: str | Path, samples: Tensor, reference: Tensor | None = None, title: str | None = None
                 ) -> Path:
    """Scatter plot of 2-D samples (and real points in grey behind them) to a PNG."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4))
    if reference is not None:
        ref = reference.detach().float().cpu()
        ax.scatter(ref[:, 0], ref[:, 1], s=2, c="0.75", label="data")
    pts = torch.as_tensor(samples).detach().float().cpu()
    ax.scatter(pts[:, 0], pts[:, 1], s=2, c="C0", label="samples")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7, markerscale=4)
    if title:
        ax.set_title(title, fontsize=9)
    out = save_figure(fig, path)
    plt.close(fig)
    return out

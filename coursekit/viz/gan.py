"""Pictures for the GAN unit: 2-D samples with the ring's modes, D's decision surface, loss curves,
side-by-side translations (pix2pix L1-only vs L1 + PatchGAN, CycleGAN) and cGAN class grids."""

from __future__ import annotations

from pathlib import Path

from torch import Tensor

from .core import image_grid, save_figure, setup_fonts


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    setup_fonts()
    return plt


def plot_samples_2d(samples: Tensor, data: Tensor | None = None, name: str | None = "ring8", ax=None,
                    title: str | None = None, lim: float = 3.0):
    """Generated points (orange) over real ones (grey); with ``name`` a set with modes, its 3σ circles."""
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    if data is not None:
        d = data.detach().float().cpu()
        ax.scatter(d[:, 0], d[:, 1], s=2, c="0.6", alpha=0.4, label="data")
    s = samples.detach().float().cpu()
    ax.scatter(s[:, 0], s[:, 1], s=2, c="tab:orange", alpha=0.6, label="G(z)")
    if name is not None:
        from ..data import toy_modes

        modes = toy_modes(name)
        if modes is not None:
            centres, sigma = modes
            for c in centres:
                ax.add_patch(plt.Circle((float(c[0]), float(c[1])), 3 * sigma, fill=False, lw=0.8, ec="k"))
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def plot_decision_surface(D, ax=None, lim: float = 3.0, n: int = 100, samples: Tensor | None = None,
                          data: Tensor | None = None, title: str | None = None):
    """D(x) = σ(logit) as a colour map (1 = "real"), with optional samples and data on top (live plots)."""
    from ..gan.training import decision_surface

    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    xs, ys, probs = decision_surface(D, lim=lim, n=n)
    mesh = ax.pcolormesh(xs.numpy(), ys.numpy(), probs.numpy(), cmap="RdBu_r", vmin=0, vmax=1, shading="auto")
    ax.figure.colorbar(mesh, ax=ax, fraction=0.046, label="D(x)")
    if data is not None or samples is not None:
        plot_samples_2d(samples if samples is not None else data[:0], data, name=None, ax=ax, lim=lim)
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def plot_losses(history, ax=None, title: str | None = None):
    """D's and G's losses per generator step (a GANHistory)."""
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3))
    ax.plot(history.d_losses, lw=0.7, label="D loss")
    ax.plot(history.g_losses, lw=0.7, label="G loss")
    ax.set_xlabel("generator step")
    ax.legend()
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def _fmt(metrics: dict) -> str:
    return f"{metrics['modes']}/{metrics['n_modes']} modes, {metrics['high_quality']:.1f}% high quality"


def mode_collapse_figure(result: dict):
    """Data, the plain GAN and the remedy side by side, with the VEEGAN numbers in the titles."""
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(12, 4))
    plot_samples_2d(result["data"], None, ax=axes[0], title="data / 数据 (ring8)")
    plot_samples_2d(result["plain_samples"], result["data"], ax=axes[1],
                    title=f"GAN: {_fmt(result['plain'])}\n模式丢失 (mode collapse)")
    plot_samples_2d(result["remedy_samples"], result["data"], ax=axes[2],
                    title=f"{result['remedy_name']}: {_fmt(result['remedy'])}")
    fig.tight_layout()
    return fig


def cgan_figure(result: dict):
    """A 10×10 grid: row c holds samples G(z, c) asked for digit c."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 5.4))
    ax.imshow(image_grid(result["samples"], nrow=10), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(f"cGAN G(z, y), row = y · {100 * result['accuracy']:.1f}% classified as y", fontsize=9)
    return fig


def translation_figure(rows: dict[str, Tensor], title: str | None = None, n: int = 12):
    """One row of images per entry of ``rows`` (e.g. input, L1 only, L1 + PatchGAN, target), same columns."""
    plt = _plt()
    fig, axes = plt.subplots(len(rows), 1, figsize=(n * 0.7, 0.8 * len(rows) + 0.4))
    axes = [axes] if len(rows) == 1 else list(axes)
    for ax, (label, images) in zip(axes, rows.items()):
        ax.imshow(image_grid(images[:n], nrow=n), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(label, fontsize=8, loc="left")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def pix2pix_figure(result: dict, n: int = 12):
    l1, gan = result["l1_only"], result["l1_gan"]
    def label(name: str, m: dict) -> str:
        sharp = f", sharpness {m['sharpness']:.2f}" if "sharpness" in m else ""
        return f"{name}: L1 {m['l1']:.3f}, acc {100 * m['accuracy']:.1f}%{sharp}"

    rows = {"input x": result["inputs"],
            label("L1 only", l1): result["outputs_l1"],
            label("L1 + PatchGAN", gan): result["outputs_gan"],
            "target y": result["targets"]}
    return translation_figure(rows, title=f"pix2pix ({result['task']}, held-out pairs)", n=n)


def cyclegan_figure(result: dict, n: int = 12):
    rows = {"x (domain X)": result["inputs"], "G(x)": result["translated"], "F(G(x))": result["reconstructed"],
            "true y (unseen pair)": result["targets"]}
    return translation_figure(rows, title=f"CycleGAN ({result['task']}, unpaired training)", n=n)


def save(fig, path: str | Path) -> Path:
    """Save a figure as PNG and close it."""
    plt = _plt()
    out = save_figure(fig, path)
    plt.close(fig)
    return out


__all__ = ["plot_samples_2d", "plot_decision_surface", "plot_losses", "mode_collapse_figure", "cgan_figure",
           "translation_figure", "pix2pix_figure", "cyclegan_figure", "save"]



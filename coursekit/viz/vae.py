"""Plots of the VAE lecture (slides: 变分自编码器): gradient estimators, reconstructions, the β trade-off and the
latent explorer's picture. The numbers come from :mod:`coursekit.vae` and :mod:`coursekit.vae_experiments`;
this file only draws them. Every function takes ``lang`` ("zh" or "en") and returns its matplotlib Figure
(``managed=False``: a free-standing Figure for PNGs, as the widgets use); ``draw_*`` functions fill a given figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from .._checks import check_choice, check_tensor
from .core import image_grid, pick_label
from .diffusion_plots import new_figure

_LABELS = {
    "estimates": {"zh": "单样本梯度估计 ∂/∂μ₁ 的分布", "en": "one-sample estimates of ∂/∂μ₁"},
    "variance": {"zh": "梯度估计的方差（对数坐标）", "en": "variance of the estimates (log scale)"},
    "reparam": {"zh": "重参数化", "en": "reparameterised"},
    "score": {"zh": "分数函数 (REINFORCE)", "en": "score function (REINFORCE)"},
    "score_b": {"zh": "分数函数 + 基线", "en": "score function + baseline"},
    "count": {"zh": "次数", "en": "count"},
    "originals": {"zh": "原图 x", "en": "data x"},
    "recon": {"zh": "重建 E[x | z]，z ~ q(z | x)", "en": "reconstruction E[x | z], z ~ q(z | x)"},
    "prior": {"zh": "先验采样 z ~ p(z)", "en": "samples z ~ p(z)"},
    "means": {"zh": "解码器均值 E[x | z]，z ~ p(z)（打分的是它）", "en": "decoder means E[x | z], z ~ p(z) (scored)"},
    "draws": {"zh": "真正的样本 x ~ p_θ(x | z)，同样的 z", "en": "true draws x ~ p_θ(x | z), the same z"},
    "posterior": {"zh": "测试数字 {i}：后验 p(z | x)", "en": "test digit {i}: posterior p(z | x)"},
    "q_enc": {"zh": "编码器 q_φ(z | x)（2σ）", "en": "encoder q_φ(z | x) (2σ)"},
    "q_best": {"zh": "最优高斯 q*（2σ）", "en": "best Gaussian q* (2σ)"},
    "beta_title": {"zh": "β = {beta:g}：重建项 {recon:.1f}，KL {kl:.2f} nats",
                   "en": "β = {beta:g}: reconstruction {recon:.1f}, KL {kl:.2f} nats"},
    "beta_axis": {"zh": "KL 项的权重 β", "en": "weight β of the KL term"},
    "kl": {"zh": "KL(q(z | x) ‖ p(z))", "en": "KL(q(z | x) ‖ p(z))"},
    "neg_recon": {"zh": "−E_q[log p(x | z)]（重建误差）", "en": "−E_q[log p(x | z)] (reconstruction)"},
    "grid": {"zh": "隐空间网格（红圈：当前 z）", "en": "latent grid (red circle: the current z)"},
    "decoded": {"zh": "解码 E[x | z]，z = ({a:+.2f}, {b:+.2f})", "en": "decoded E[x | z], z = ({a:+.2f}, {b:+.2f})"},
    "z": {"zh": "隐变量 z{j}", "en": "latent z{j}"},
    "loss": {"zh": "训练损失 −ELBO / D（nats）", "en": "training loss −ELBO / D (nats)"},
    "step": {"zh": "训练步数", "en": "training step"},
}


def _label(key: str, lang: str, **fields: object) -> str:
    return pick_label(_LABELS, key, lang, **fields)


def _images(ax, images: Tensor, title: str, nrow: int) -> None:
    ax.imshow(image_grid(images.detach().float().cpu(), nrow=nrow), cmap="gray", vmin=0, vmax=1,
              interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)


# ---------------------------------------------------------------------------------------------------------
# Gradient estimators
# ---------------------------------------------------------------------------------------------------------

def plot_gradient_variance(estimates: Mapping[str, Tensor], lang: str = "en", managed: bool = True):
    """``estimates``: {"reparam" | "score" | "score_b": (n, d) one-sample gradient estimates} (e.g. of ∇_μ).
    Left: the distribution of the first coordinate's estimates; right: each coordinate's variance, log scale."""
    _label("variance", lang)
    if not estimates:
        raise ValueError("estimates must hold at least one estimator's samples")
    for key, value in estimates.items():
        check_choice("estimates key", key, ("reparam", "score", "score_b"))
        check_tensor(f"estimates[{key!r}]", value, ndim=2)
    colors = {"reparam": "#1f77b4", "score": "#d62728", "score_b": "#ff7f0e"}
    fig = new_figure((9.5, 3.4), managed)
    ax_hist, ax_var = fig.subplots(1, 2)
    first = {k: v[:, 0].detach().cpu().numpy() for k, v in estimates.items()}
    lo, hi = np.percentile(np.concatenate(list(first.values())), [1, 99])
    for key, values in first.items():
        ax_hist.hist(np.clip(values, lo, hi), bins=60, range=(lo, hi), alpha=0.55, color=colors[key],
                     label=_label(key, lang))
    ax_hist.set_title(_label("estimates", lang), fontsize=10)
    ax_hist.set_ylabel(_label("count", lang))
    ax_hist.legend(fontsize=8)
    d = next(iter(estimates.values())).shape[1]
    width = 0.8 / len(estimates)
    for i, (key, value) in enumerate(estimates.items()):
        ax_var.bar(np.arange(d) + i * width, value.var(dim=0).cpu().numpy(), width=width, color=colors[key],
                   label=_label(key, lang))
    ax_var.set_yscale("log")
    ax_var.set_xticks(np.arange(d) + 0.4 - width / 2, [f"μ{'₁₂₃₄₅₆₇₈₉'[j]}" if j < 9 else f"μ{j + 1}"
                                                       for j in range(d)])
    ax_var.set_title(_label("variance", lang), fontsize=10)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------------------
# Training curve, reconstructions and samples
# ---------------------------------------------------------------------------------------------------------

def plot_training_curve(losses: Sequence[float], lang: str = "en", managed: bool = True):
    """The per-step loss (−ELBO per dimension, nats) and its moving average."""
    _label("loss", lang)
    values = np.asarray(list(losses), dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise ValueError("losses must be a non-empty sequence of numbers")
    fig = new_figure((6.5, 3.0), managed)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(values, color="#9ecae1", lw=0.8)
    k = max(1, min(50, values.size // 10))
    if values.size >= k:
        smooth = np.convolve(values, np.ones(k) / k, mode="valid")
        ax.plot(np.arange(k - 1, values.size), smooth, color="#d62728", lw=1.5)
    ax.set_xlabel(_label("step", lang))
    ax.set_ylabel(_label("loss", lang))
    fig.tight_layout()
    return fig


def plot_reconstructions(x: Tensor, recon: Tensor, samples: Tensor | None = None, lang: str = "en",
                         managed: bool = True, draws: Tensor | None = None):
    """Data x above their reconstructions (same order), and optionally samples from the prior beside them: the
    decoder means E[x | z] (``samples``) and, when ``draws`` is given, true draws x ~ p_θ(x | z) of the same z
    below them (``VAE.sample(mean=False)`` with the same generator seed)."""
    _label("recon", lang)
    check_tensor("x", x, ndim=4)
    check_tensor("recon", recon, ndim=4)
    if x.shape != recon.shape:
        raise ValueError(f"recon must have the shape of x {tuple(x.shape)}, got {tuple(recon.shape)}")
    if draws is not None:
        check_tensor("draws", draws, ndim=4)
        if samples is None or draws.shape != samples.shape:
            raise ValueError(f"draws must have the shape of samples {None if samples is None else tuple(samples.shape)}"
                             f", got {tuple(draws.shape)}")
    n = x.shape[0]
    cols = 2 if samples is not None else 1
    fig = new_figure((4.2 * cols, 2.6 if draws is None else 3.0), managed)
    ax_rec = fig.add_subplot(1, cols, 1)
    both = torch.cat([x.detach().cpu(), recon.detach().cpu()])
    _images(ax_rec, both, f"{_label('originals', lang)} / {_label('recon', lang)}", nrow=n)
    if samples is not None:
        check_tensor("samples", samples, ndim=4)
        nrow = min(n, samples.shape[0])
        if draws is None:
            _images(fig.add_subplot(1, cols, 2), samples, _label("prior", lang), nrow=nrow)
        else:
            right = fig.add_gridspec(2, 2)[:, 1].subgridspec(2, 1, hspace=0.35)
            _images(fig.add_subplot(right[0]), samples[:nrow], _label("means", lang), nrow=nrow)
            _images(fig.add_subplot(right[1]), draws[:nrow], _label("draws", lang), nrow=nrow)
    return fig


# ---------------------------------------------------------------------------------------------------------
# β-VAEs
# ---------------------------------------------------------------------------------------------------------

def draw_beta_panel(fig, runs: Sequence, index: int, x_show: Tensor, lang: str = "en", n_samples: int = 24) -> None:
    """One β of a :func:`coursekit.vae_experiments.beta_sweep`: reconstructions of ``x_show``, samples from
    the prior (a fixed seed, so only β changes them) and the two ELBO terms of every β (the current one marked)."""
    _label("beta_title", lang, beta=1.0, recon=0.0, kl=0.0)
    if not 0 <= index < len(runs):
        raise ValueError(f"index must be in 0..{len(runs) - 1}, got {index!r}")
    run = runs[index]
    model = run.model
    with torch.no_grad():
        mu, logvar = model.encode(x_show)
        z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=torch.Generator().manual_seed(0))
        recon = model.decode_images(z)
        samples = model.sample(n_samples, generator=torch.Generator().manual_seed(1))
    grid = fig.add_gridspec(2, 2, width_ratios=[1.25, 1.0], hspace=0.45, wspace=0.25)
    _images(fig.add_subplot(grid[0, 0]), torch.cat([x_show, recon]),
            f"{_label('originals', lang)} / {_label('recon', lang)}", nrow=x_show.shape[0])
    _images(fig.add_subplot(grid[1, 0]), samples, _label("prior", lang), nrow=max(1, n_samples // 2))
    ax = fig.add_subplot(grid[:, 1])
    betas = [r.beta for r in runs]
    ax.plot(betas, [r.kl for r in runs], "s-", color="#d62728", label=_label("kl", lang))
    ax.set_ylim(bottom=0)
    ax.set_ylabel(_label("kl", lang) + " (nats)", color="#d62728")
    right = ax.twinx()
    right.plot(betas, [-r.recon for r in runs], "o-", color="#1f77b4", label=_label("neg_recon", lang))
    right.set_ylabel(_label("neg_recon", lang) + " (nats)", color="#1f77b4")
    ax.axvline(run.beta, color="#555555", ls="--", lw=1)
    ax.set_xscale("log", base=2)
    ax.set_xlabel(_label("beta_axis", lang))
    fig.suptitle(_label("beta_title", lang, beta=run.beta, recon=run.recon, kl=run.kl), fontsize=11)


def plot_beta_sweep(runs: Sequence, x_show: Tensor, lang: str = "en", managed: bool = True):
    """Every β of a sweep in one static figure: per row, reconstructions of ``x_show`` and prior samples."""
    _label("prior", lang)
    if not runs:
        raise ValueError("runs must not be empty")
    fig = new_figure((8.5, 1.25 * len(runs) + 0.4), managed)
    axes = fig.subplots(len(runs), 2, squeeze=False)
    for row, run in zip(axes, runs):
        with torch.no_grad():
            mu, logvar = run.model.encode(x_show)
            z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=torch.Generator().manual_seed(0))
            recon = run.model.decode_images(z)
            samples = run.model.sample(x_show.shape[0], generator=torch.Generator().manual_seed(1))
        _images(row[0], recon, _label("beta_title", lang, beta=run.beta, recon=run.recon, kl=run.kl),
                nrow=x_show.shape[0])
        _images(row[1], samples, _label("prior", lang), nrow=x_show.shape[0])
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------------------
# The latent explorer's picture
# ---------------------------------------------------------------------------------------------------------

def draw_latent_explorer(fig, grid_images: Tensor, span: float, z: tuple[float, float], decoded: Tensor,
                         points: Tensor | None = None, labels: Tensor | None = None, lang: str = "en") -> None:
    """Left: the decoder's latent grid (``grid_images`` from :func:`coursekit.vae.latent_grid`, n² images over
    [−span, span]²) with the test digits' encoder means and the current z marked; right: the decoded digit."""
    _label("grid", lang)
    check_tensor("grid_images", grid_images, ndim=4)
    n = int(round(grid_images.shape[0] ** 0.5))
    if n * n != grid_images.shape[0]:
        raise ValueError(f"grid_images must hold n² images, got {grid_images.shape[0]}")
    check_tensor("decoded", decoded, ndim=4)
    ax_grid, ax_digit = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.5, 1.0]})
    ax_grid.imshow(image_grid(grid_images.detach().cpu(), nrow=n), cmap="gray", vmin=0, vmax=1,
                   interpolation="nearest", extent=(-span, span, -span, span))
    if points is not None:
        pts = points.detach().cpu()
        colors = labels.cpu().numpy() if labels is not None else "#2ca02c"
        ax_grid.scatter(pts[:, 0], pts[:, 1], c=colors, cmap="tab10", vmin=-0.5, vmax=9.5, s=5, alpha=0.5)
    ax_grid.plot([z[0]], [z[1]], "o", ms=11, mfc="none", mec="#d62728", mew=2.5)
    ax_grid.set_xlim(-span, span)
    ax_grid.set_ylim(-span, span)
    ax_grid.set_xlabel(_label("z", lang, j="₁"))
    ax_grid.set_ylabel(_label("z", lang, j="₂"))
    ax_grid.set_title(_label("grid", lang), fontsize=10)
    ax_digit.imshow(image_grid(decoded[:1].detach().cpu(), nrow=1, pad=0), cmap="gray", vmin=0, vmax=1,
                    interpolation="nearest")
    ax_digit.set_axis_off()
    ax_digit.set_title(_label("decoded", lang, a=z[0], b=z[1]), fontsize=10)


# ---------------------------------------------------------------------------------------------------------
# The posterior of a 2-D VAE, beside the encoder's q and the best Gaussian
# ---------------------------------------------------------------------------------------------------------

def _ellipse(ax, mu: Tensor, logvar: Tensor, color: str, label: str, ls: str = "-") -> None:
    from matplotlib.patches import Ellipse

    sigma = torch.exp(0.5 * logvar).tolist()
    ax.add_patch(Ellipse((float(mu[0]), float(mu[1])), 4 * sigma[0], 4 * sigma[1], fill=False, color=color,
                         lw=1.8, ls=ls, label=label))                     # axis-aligned: q is a diagonal Gaussian


def plot_posteriors(quad, mu_best: Tensor, logvar_best: Tensor, rows: Sequence[int] = (0, 1, 2), lang: str = "en",
                    managed: bool = True):
    """For a few images of a :class:`coursekit.vae_experiments.Quadrature`: the true posterior p_θ(z | x) on the
    grid (shaded), the encoder's q_φ(z | x) and the best diagonal Gaussian q* (``mu_best``/``logvar_best``, one
    row per image of ``rows``, e.g. from ``vae_experiments.best_gaussian``), each as its 2σ ellipse."""
    _label("posterior", lang, i=0)
    rows = list(rows)
    if not rows or not all(isinstance(i, int) and 0 <= i < quad.log_joint.shape[0] for i in rows):
        raise ValueError(f"rows must be image indices in 0..{quad.log_joint.shape[0] - 1}, got {rows!r}")
    check_tensor("mu_best", mu_best, ndim=2)
    check_tensor("logvar_best", logvar_best, ndim=2)
    if mu_best.shape != (len(rows), 2) or logvar_best.shape != (len(rows), 2):
        raise ValueError(f"mu_best and logvar_best must have shape ({len(rows)}, 2) (one row per image of rows), "
                         f"got {tuple(mu_best.shape)} and {tuple(logvar_best.shape)}")
    n = int(round(quad.z.shape[0] ** 0.5))
    posterior = quad.posterior()
    fig = new_figure((3.2 * len(rows), 3.3), managed)
    axes = fig.subplots(1, len(rows), squeeze=False)[0]
    for k, (ax, i) in enumerate(zip(axes, rows)):
        density = posterior[i].reshape(n, n).T.numpy()                  # rows: z₂, columns: z₁ (grid is 'ij')
        ax.imshow(density, origin="lower", extent=(-quad.span, quad.span, -quad.span, quad.span), cmap="Greys",
                  interpolation="nearest")
        _ellipse(ax, quad.mu[i], quad.logvar[i], "#d62728", _label("q_enc", lang))
        _ellipse(ax, mu_best[k], logvar_best[k], "#1f77b4", _label("q_best", lang), ls="--")
        centre = quad.z[posterior[i].argmax()]
        reach = 5 * float(torch.exp(0.5 * torch.cat([quad.logvar[i], logvar_best[k]])).max())
        ax.set_xlim(float(centre[0]) - reach, float(centre[0]) + reach)
        ax.set_ylim(float(centre[1]) - reach, float(centre[1]) + reach)
        ax.set_xlabel(_label("z", lang, j="₁"))
        ax.set_ylabel(_label("z", lang, j="₂"))
        ax.set_title(_label("posterior", lang, i=i), fontsize=9)
    axes[0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig

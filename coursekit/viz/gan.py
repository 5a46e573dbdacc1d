"""Pictures for the GAN unit: 2-D samples with the ring's modes, D's decision surface, loss curves,
side-by-side translations (pix2pix L1-only vs L1 + PatchGAN, CycleGAN) and cGAN class grids."""

from __future__ import annotations

from pathlib import Path

from torch import Tensor

from .core import image_grid, save_figure, setup_fonts


def _plt():
    import sys

    import matplotlib

    if "ipykernel" not in sys.modules:          # scripts and the CLI draw off-screen; a notebook keeps inline
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
           "translation_figure", "pix2pix_figure", "cyclegan_figure", "save", "gan_label", "plot_optimal_discriminator",
           "plot_generator_losses", "plot_divergence_fits", "plot_gradient_norms", "plot_mode_histograms",
           "plot_mode_collapse", "plot_snapshots", "draw_live", "plot_loss_curves"]




# ---------------------------------------------------------------------------------------------------------
# Unit 05 (lecture notebooks 05a/05b and the live panel): every label in both languages
# ---------------------------------------------------------------------------------------------------------

_LABELS = {
    "p_data": {"zh": "p_data（真实数据）", "en": "p_data (data)"},
    "p_g": {"zh": "p_g（生成器）", "en": "p_g (generator)"},
    "density": {"zh": "密度", "en": "density"},
    "d_star": {"zh": "D* = p_data / (p_data + p_g)", "en": "D* = p_data / (p_data + p_g)"},
    "d_learned": {"zh": "训练得到的 D", "en": "learned D"},
    "d_title": {"zh": "最优判别器：公式与训练结果", "en": "the optimal discriminator: formula and trained D"},
    "shift": {"zh": "p_g 的均值 μ_g（p_data 的均值为 0）", "en": "mean μ_g of p_g (p_data has mean 0)"},
    "v_star": {"zh": "V(D*, G)（数值积分）", "en": "V(D*, G) (numerical integral)"},
    "v_jsd": {"zh": "−log 4 + 2·JSD(p_data ‖ p_g)", "en": "−log 4 + 2·JSD(p_data ‖ p_g)"},
    "v_title": {"zh": "V(D*, G) 与 JS 散度", "en": "V(D*, G) and the Jensen–Shannon divergence"},
    "fit_title": {"zh": "用一个高斯 p_g = N(μ, s²) 拟合两个模式：各散度的最优解",
                  "en": "one Gaussian p_g = N(μ, s²) fitted to two modes: the best fit of each divergence"},
    "fit_forward_kl": {"zh": "前向 KL(p_data‖p_g)（最大似然）：μ = {mu:.2f}, s = {s:.2f}",
                       "en": "forward KL(p_data‖p_g) (maximum likelihood): μ = {mu:.2f}, s = {s:.2f}"},
    "fit_jsd": {"zh": "JSD（极大极小损失，D = D*）：μ = {mu:.2f}, s = {s:.2f}",
                "en": "JSD (minimax loss, D = D*): μ = {mu:.2f}, s = {s:.2f}"},
    "fit_ns": {"zh": "KL(p_g‖p_data) − 2 JSD（非饱和损失）：μ = {mu:.2f}, s = {s:.2f}",
               "en": "KL(p_g‖p_data) − 2 JSD (non-saturating loss): μ = {mu:.2f}, s = {s:.2f}"},
    "w1": {"zh": "W₁(p_data, p_g)（右轴，WGAN）", "en": "W₁(p_data, p_g) (right axis, WGAN)"},
    "w1_axis": {"zh": "Wasserstein-1 距离", "en": "Wasserstein-1 distance"},
    "d_fake_axis": {"zh": "D(G(z))", "en": "D(G(z))"},
    "loss_sat": {"zh": "饱和：log(1 − D(G(z)))（最小化）", "en": "saturating: log(1 − D(G(z))) (minimised)"},
    "loss_ns": {"zh": "非饱和：−log D(G(z))（最小化）", "en": "non-saturating: −log D(G(z)) (minimised)"},
    "loss_title": {"zh": "生成器的两种损失", "en": "the generator's two losses"},
    "grad_title": {"zh": "|∂L_G/∂ℓ|（ℓ 为 D 的 logit）", "en": "|∂L_G/∂ℓ| (ℓ: D's logit)"},
    "reject": {"zh": "D 拒绝假样本", "en": "D rejects the fakes"},
    "g_step": {"zh": "生成器步数", "en": "generator step"},
    "grad_norm": {"zh": "‖∇θ_g L_G‖（对数坐标）", "en": "‖∇θ_g L_G‖ (log scale)"},
    "d_fake_mean": {"zh": "平均 D(G(z))", "en": "mean D(G(z))"},
    "kind_saturating": {"zh": "饱和损失", "en": "saturating"},
    "kind_non_saturating": {"zh": "非饱和损失", "en": "non-saturating"},
    "kind_least_squares": {"zh": "最小二乘 (LSGAN)", "en": "least squares (LSGAN)"},
    "data": {"zh": "数据 (ring8)", "en": "data (ring8)"},
    "modes": {"zh": "{modes}/{n_modes} 个模式，高质量 {hq:.1f}%",
              "en": "{modes}/{n_modes} modes, {hq:.1f}% high quality"},
    "plain": {"zh": "普通 GAN：{m}", "en": "plain GAN: {m}"},
    "remedy": {"zh": "{name}：{m}", "en": "{name}: {m}"},
    "snapshot": {"zh": "第 {step} 步", "en": "step {step}"},
    "even_share": {"zh": "均匀分配：12.5 %", "en": "even spread: 12.5 %"},
    "mode_index": {"zh": "最近的模式（编号 0–7）", "en": "nearest mode (index 0–7)"},
    "share_nearest": {"zh": "样本占比 (%)", "en": "share of samples (%)"},
    "surface": {"zh": "D(x) 与样本（第 {step} 步）", "en": "D(x) and samples (step {step})"},
    "losses": {"zh": "损失", "en": "losses"},
    "d_loss": {"zh": "D 的损失 −V（交叉熵）", "en": "D's loss −V (cross-entropy)"},
    "d_loss_ls": {"zh": "D 的损失（最小二乘）", "en": "D's loss (least squares)"},
    "log4": {"zh": "log 4：均衡点处 D 的损失", "en": "log 4: D's loss at the equilibrium"},
    "g_loss": {"zh": "G 的损失", "en": "G's loss"},
    "g_loss_saturating": {"zh": "G 的损失 log(1 − D(G(z)))", "en": "G's loss log(1 − D(G(z)))"},
    "g_loss_non_saturating": {"zh": "G 的损失 −log D(G(z))", "en": "G's loss −log D(G(z))"},
    "g_loss_least_squares": {"zh": "G 的损失（最小二乘）", "en": "G's loss (least squares)"},
    "grad_panel": {"zh": "G 的梯度范数与平均 D(G(z))", "en": "G's gradient norm and mean D(G(z))"},
    "grad_norm_short": {"zh": "‖∇θ_g L_G‖（左轴，对数）", "en": "‖∇θ_g L_G‖ (left, log scale)"},
    "untrained": {"zh": "尚未训练", "en": "not trained yet"},
    "plain_losses": {"zh": "普通 GAN 的损失：一直振荡", "en": "the plain GAN's losses: they keep oscillating"},
    "dcgan": {"zh": "DCGAN 的 G(z)，FD 与基准之比 {ratio:.1f}（n = {n}）",
              "en": "DCGAN G(z), FD / reference {ratio:.1f} (n = {n})"},
}


def gan_label(key: str, lang: str, **fields: object) -> str:
    """The unit-05 label ``key`` in ``lang`` ("zh" or "en")."""
    from .._checks import check_choice
    from ..i18n import LANGS

    check_choice("lang", lang, LANGS)
    return _LABELS[key][lang].format(**fields)


def _figure(figsize: tuple[float, float], managed: bool):
    setup_fonts()
    if managed:
        plt = _plt()
        return plt.figure(figsize=figsize)
    from matplotlib.figure import Figure

    return Figure(figsize=figsize)


def _np(x):
    import numpy as np

    return np.asarray(x.detach().float().cpu()) if isinstance(x, Tensor) else np.asarray(x, dtype=float)


def plot_optimal_discriminator(x: Tensor, p_data: Tensor, p_g: Tensor, d_star: Tensor, d_learned: Tensor,
                               shifts=None, v_star=None, v_jsd=None, lang: str = "en", managed: bool = True,
                               w1=None):
    """Left: the two densities, D* and the trained D on a 1-D grid. Right (optional): V(D*, G) against the
    mean of p_g, beside −log 4 + 2 JSD, with the equilibrium value −log 4; with ``w1`` also the Wasserstein-1
    distance on a second axis (it keeps its slope where V(D*, G) goes flat: WGAN's point)."""
    import math

    gan_label("d_title", lang)
    right = shifts is not None
    fig = _figure((11 if right else 6, 3.6), managed)
    axes = fig.subplots(1, 2 if right else 1)
    ax = axes[0] if right else axes
    xs = _np(x)
    ax.fill_between(xs, _np(p_data), color="0.6", alpha=0.4, label=gan_label("p_data", lang))
    ax.fill_between(xs, _np(p_g), color="tab:orange", alpha=0.3, label=gan_label("p_g", lang))
    ax.set_ylabel(gan_label("density", lang), fontsize=9)
    twin = ax.twinx()
    twin.plot(xs, _np(d_star), "k-", lw=2, label=gan_label("d_star", lang))
    twin.plot(xs, _np(d_learned), "--", color="tab:blue", lw=2, label=gan_label("d_learned", lang))
    twin.set_ylim(-0.02, 1.02)
    twin.set_ylabel("D(x)", fontsize=9)
    lines = ax.get_legend_handles_labels()
    lines2 = twin.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=7, loc="upper left")
    ax.set_title(gan_label("d_title", lang), fontsize=10)
    if right:
        ax2 = axes[1]
        ax2.plot(_np(shifts), _np(v_star), "o", color="tab:blue", ms=4, label=gan_label("v_star", lang))
        ax2.plot(_np(shifts), _np(v_jsd), "-", color="k", lw=1, label=gan_label("v_jsd", lang))
        ax2.axhline(-math.log(4), color="tab:red", ls=":", lw=1)
        ax2.text(float(_np(shifts)[0]), -math.log(4) + 0.03, "−log 4", color="tab:red", fontsize=8)
        ax2.set_xlabel(gan_label("shift", lang), fontsize=9)
        ax2.set_title(gan_label("v_title", lang), fontsize=10)
        ax2.grid(alpha=0.3)
        handles, names = ax2.get_legend_handles_labels()
        if w1 is not None:
            twin2 = ax2.twinx()
            twin2.plot(_np(shifts), _np(w1), "--", color="tab:green", lw=1.5, label=gan_label("w1", lang))
            twin2.set_ylabel(gan_label("w1_axis", lang), fontsize=9, color="tab:green")
            twin2.tick_params(labelsize=8, colors="tab:green")
            more = twin2.get_legend_handles_labels()
            handles, names = handles + more[0], names + more[1]
        ax2.legend(handles, names, fontsize=8, loc="upper center")
    fig.tight_layout()
    return fig


def plot_divergence_fits(x: Tensor, p_data: Tensor, fits: dict, lang: str = "en", managed: bool = True):
    """p_data on a 1-D grid and, for each divergence in ``fits`` ("forward_kl", "jsd", "ns" → (μ, s)), the
    Gaussian N(μ, s²) that minimises it: mass covering (forward KL) beside mode seeking (the non-saturating loss)."""
    from ..gan.theory import gaussian_density

    gan_label("fit_title", lang)
    fig = _figure((8, 3.4), managed)
    ax = fig.subplots()
    xs = _np(x)
    ax.fill_between(xs, _np(p_data), color="0.6", alpha=0.5, label=gan_label("p_data", lang))
    styles = {"forward_kl": ("tab:blue", "-"), "jsd": ("tab:green", "--"), "ns": ("tab:red", "-")}
    for name, (mu, s) in fits.items():
        colour, ls = styles.get(name, ("k", ":"))
        ax.plot(xs, _np(gaussian_density(x, mu, s)), color=colour, ls=ls, lw=2,
                label=gan_label(f"fit_{name}", lang, mu=mu, s=s))
    ax.set_ylabel(gan_label("density", lang), fontsize=9)
    ax.set_title(gan_label("fit_title", lang), fontsize=10)
    ax.legend(fontsize=7.5, loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_generator_losses(d_fake: Tensor, losses: dict, grads: dict, lang: str = "en", managed: bool = True):
    """The slides' figure, recomputed: each generator loss against D(G(z)) (left) and the size of its gradient
    with respect to D's logit (right, log scale). ``losses``/``grads`` map "saturating"/"non_saturating" to
    values on the ``d_fake`` grid."""
    gan_label("loss_title", lang)
    fig = _figure((10, 3.6), managed)
    ax, ax2 = fig.subplots(1, 2)
    colors = {"saturating": "tab:red", "non_saturating": "tab:blue"}
    names = {"saturating": "loss_sat", "non_saturating": "loss_ns"}
    d = _np(d_fake)
    for kind in ("saturating", "non_saturating"):
        ax.plot(d, _np(losses[kind]), color=colors[kind], lw=2, label=gan_label(names[kind], lang))
        ax2.semilogy(d, abs(_np(grads[kind])), color=colors[kind], lw=2, label=gan_label(f"kind_{kind}", lang))
    for a in (ax, ax2):
        a.axvspan(0, 0.1, color="0.85", zorder=0)
        a.set_xlabel(gan_label("d_fake_axis", lang), fontsize=9)
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    ax.text(0.01, 0.05, gan_label("reject", lang), transform=ax.transAxes, fontsize=8)
    ax.set_title(gan_label("loss_title", lang), fontsize=10)
    ax2.set_title(gan_label("grad_title", lang), fontsize=10)
    fig.tight_layout()
    return fig


def plot_gradient_norms(probes: dict, lang: str = "en", managed: bool = True):
    """‖∇θ_g L_G‖ per generator step (log scale) and the mean D(G(z)), one line per loss: ``probes`` maps a kind
    ("saturating", …) to a :class:`coursekit.gan.probes.GradientProbe` (or anything with steps, grad_norms,
    d_fake)."""
    gan_label("grad_norm", lang)
    fig = _figure((10, 3.4), managed)
    ax, ax2 = fig.subplots(1, 2)
    colors = {"saturating": "tab:red", "non_saturating": "tab:blue", "least_squares": "tab:green"}
    for kind, probe in probes.items():
        name = gan_label(f"kind_{kind}", lang) if f"kind_{kind}" in _LABELS else kind
        ax.semilogy(probe.steps, probe.grad_norms, color=colors.get(kind), lw=1, label=name)
        ax2.plot(probe.steps, probe.d_fake, color=colors.get(kind), lw=1, label=name)
    ax.set_title(gan_label("grad_norm", lang), fontsize=10)
    ax2.set_title(gan_label("d_fake_mean", lang), fontsize=10)
    ax2.set_ylim(0, 1)
    for a in (ax, ax2):
        a.set_xlabel(gan_label("g_step", lang), fontsize=9)
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _modes_text(m: dict, lang: str) -> str:
    return gan_label("modes", lang, modes=m["modes"], n_modes=m["n_modes"], hq=m["high_quality"])


def plot_mode_collapse(result: dict, lang: str = "en", managed: bool = True):
    """``coursekit.gan.demos.mode_collapse_demo``'s result: data, the plain GAN and the remedy, with the VEEGAN
    numbers (modes covered, % high quality) in the titles."""
    fig = _figure((12, 4), managed)
    axes = fig.subplots(1, 3)
    plot_samples_2d(result["data"][:0], result["data"], ax=axes[0], title=gan_label("data", lang))
    plot_samples_2d(result["plain_samples"], result["data"], ax=axes[1],
                    title=gan_label("plain", lang, m=_modes_text(result["plain"], lang)))
    plot_samples_2d(result["remedy_samples"], result["data"], ax=axes[2],
                    title=gan_label("remedy", lang, name=result["remedy_name"],
                                    m=_modes_text(result["remedy"], lang)))
    fig.tight_layout()
    return fig


def plot_mode_histograms(shares: dict, lang: str = "en", managed: bool = True):
    """The nearest-mode histogram of each run: ``shares`` maps a run's name to the share of its samples nearest
    to each mode centre (a length-8 sequence summing to 1). Even spreading is 1/8 per mode (dotted line); mode
    collapse puts nearly everything on one bar, however far from the centre the samples are."""
    import numpy as np

    fig = _figure((4.2 * len(shares), 2.9), managed)
    axes = fig.subplots(1, len(shares), sharey=True)
    axes = [axes] if len(shares) == 1 else list(axes)
    for ax, (name, values) in zip(axes, shares.items()):
        v = 100 * np.asarray(_np(values), dtype=float)
        ax.bar(np.arange(len(v)), v, color="tab:orange", edgecolor="k", lw=0.5)
        ax.axhline(100 / len(v), color="0.3", ls=":", lw=1, label=gan_label("even_share", lang))
        ax.set_xticks(np.arange(len(v)))
        ax.set_xlabel(gan_label("mode_index", lang), fontsize=9)
        ax.set_title(name, fontsize=9)
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3, axis="y")
    axes[0].set_ylabel(gan_label("share_nearest", lang), fontsize=9)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_snapshots(snapshots: list, data: Tensor | None = None, lang: str = "en", managed: bool = True):
    """Samples of one run at several generator steps: ``snapshots`` is a list of (step, samples (N, 2))."""
    fig = _figure((2.6 * len(snapshots), 2.8), managed)
    axes = fig.subplots(1, len(snapshots))
    axes = [axes] if len(snapshots) == 1 else list(axes)
    for ax, (step, samples) in zip(axes, snapshots):
        plot_samples_2d(samples, data, ax=ax, title=gan_label("snapshot", lang, step=step))
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def draw_live(fig, surface, samples: Tensor, data: Tensor, history: dict, steps: int, lang: str = "en",
              lim: float = 3.0, kind: str = "non_saturating") -> None:
    """The live panel's picture on ``fig``: D's decision surface with data and samples, both losses, and G's
    gradient norm beside the mean D(G(z)). ``surface`` is (xs, ys, probs) from ``decision_surface``;
    ``history`` has d_loss, g_loss, grad_norm (and d_fake) lists; ``kind`` is G's loss, which decides what D's
    loss is (−V, or the least-squares loss)."""
    import math

    ax, ax_loss, ax_grad = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.15, 1.0, 1.0], "wspace": 0.55})
    xs, ys, probs = surface
    mesh = ax.pcolormesh(_np(xs), _np(ys), _np(probs), cmap="RdBu_r", vmin=0, vmax=1, shading="auto")
    fig.colorbar(mesh, ax=ax, fraction=0.046, label="D(x)")
    d, s = _np(data[:1500]), _np(samples)
    ax.scatter(d[:, 0], d[:, 1], s=2, c="0.35", alpha=0.35, linewidths=0)
    ax.scatter(s[:, 0], s[:, 1], s=2, c="tab:orange", alpha=0.7, linewidths=0)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(gan_label("surface", lang, step=steps), fontsize=9)
    n = len(history["d_loss"])
    d_label = gan_label("d_loss_ls" if kind == "least_squares" else "d_loss", lang)
    if n:
        steps_axis = range(1, n + 1)
        ax_loss.plot(steps_axis, history["d_loss"], lw=0.8, label=d_label)
        ax_loss.plot(steps_axis, history["g_loss"], lw=0.8, label=gan_label(f"g_loss_{kind}", lang))
        if kind != "least_squares":
            ax_loss.axhline(math.log(4), color="0.4", ls=":", lw=0.8, label=gan_label("log4", lang))
        ax_loss.legend(fontsize=6.5)
        ax_grad.semilogy(steps_axis, [max(g, 1e-12) for g in history["grad_norm"]], lw=0.8, color="tab:green",
                         label=gan_label("grad_norm_short", lang))
        if history.get("d_fake"):
            twin = ax_grad.twinx()
            twin.plot(steps_axis, history["d_fake"], lw=0.8, color="tab:purple", alpha=0.8,
                      label=gan_label("d_fake_mean", lang))
            twin.set_ylim(0, 1)
            twin.tick_params(labelsize=7, colors="tab:purple")
            lines = ax_grad.get_legend_handles_labels()
            lines2 = twin.get_legend_handles_labels()
            ax_grad.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=6.5, loc="upper left")
    else:
        for a in (ax_loss, ax_grad):
            a.text(0.5, 0.5, gan_label("untrained", lang), ha="center", va="center", transform=a.transAxes)
    ax_loss.set_title(gan_label("losses", lang), fontsize=9)
    ax_grad.set_title(gan_label("grad_panel", lang), fontsize=9)
    for a in (ax_loss, ax_grad):
        a.set_xlabel(gan_label("g_step", lang), fontsize=8)
        a.tick_params(labelsize=7)
        a.grid(alpha=0.3)


def plot_loss_curves(history, lang: str = "en", title: str | None = None, managed: bool = True):
    """D's loss (−V) and G's loss per generator step of a ``GANHistory``, labelled in ``lang``."""
    fig = _figure((6, 2.8), managed)
    ax = fig.subplots()
    ax.plot(history.d_losses, lw=0.7, label=gan_label("d_loss", lang))
    ax.plot(history.g_losses, lw=0.7, label=gan_label("g_loss", lang))
    ax.set_xlabel(gan_label("g_step", lang), fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax.set_title(title or gan_label("losses", lang), fontsize=10)
    fig.tight_layout()
    return fig

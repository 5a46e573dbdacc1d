"""Unit 05's new code: the 1-D theory of the minimax game (D*, V, JSD), the gradient probe, the resumable 2-D GAN
behind the live panel, the panel itself and the unit's plots."""

from __future__ import annotations

import math

import pytest
import torch

from coursekit import gan
from coursekit.gan import probes, theory
from coursekit.gan.live import LiveGAN

GRID = torch.linspace(-12.0, 12.0, 2401, dtype=torch.float64)
DX = float(GRID[1] - GRID[0])


# --- theory ------------------------------------------------------------------------------------------------

def test_gaussian_density_integrates_to_one():
    assert abs(float(theory.gaussian_density(GRID, 1.0, 0.5).sum()) * DX - 1.0) < 1e-6
    with pytest.raises(ValueError, match="std"):
        theory.gaussian_density(GRID, 0.0, 0.0)


@pytest.mark.parametrize("mu", [-6.0, -1.0, 0.0, 0.5, 3.0, 6.0])
def test_value_at_d_star_is_minus_log4_plus_twice_jsd(mu):
    p, q = theory.gaussian_density(GRID, 0.0, 1.0), theory.gaussian_density(GRID, mu, 1.0)
    d_star = gan.optimal_discriminator(p, q)
    v = theory.value_of(d_star, p, q, DX)
    assert math.isfinite(v)
    assert abs(v - (-math.log(4) + 2 * theory.jensen_shannon(p, q, DX))) < 1e-6


def test_d_star_maximises_v_and_equilibrium_is_minus_log4():
    p, q = theory.gaussian_density(GRID, 0.0, 1.0), theory.gaussian_density(GRID, 1.5, 0.7)
    d_star = gan.optimal_discriminator(p, q)
    best = theory.value_of(d_star, p, q, DX)
    for eps in (0.05, -0.05):
        assert theory.value_of((d_star + eps * torch.sin(GRID)).clamp(0, 1), p, q, DX) < best
    half = torch.full_like(GRID, 0.5)
    assert abs(theory.value_of(half, p, p, DX) + math.log(4)) < 1e-6            # p_g = p_data, D ≡ ½
    assert abs(theory.value_of(gan.optimal_discriminator(p, p), p, p, DX) + math.log(4)) < 1e-6


def test_jsd_bounds_and_kl():
    p = theory.gaussian_density(GRID, -8.0, 0.3)
    q = theory.gaussian_density(GRID, 8.0, 0.3)
    assert theory.jensen_shannon(p, p, DX) < 1e-12
    assert abs(theory.jensen_shannon(p, q, DX) - math.log(2)) < 1e-6             # disjoint supports
    zero = torch.zeros_like(GRID)
    zero[0] = 1.0
    assert theory.kl_divergence(p + 1e-3, zero, DX) == math.inf


def test_value_of_logits_matches_value_of_and_stays_finite():
    p, q = theory.gaussian_density(GRID, 0.0, 1.0), theory.gaussian_density(GRID, 2.0, 0.7)
    logits = torch.sin(GRID) * 3
    assert abs(theory.value_of_logits(logits, p, q, DX) - theory.value_of(torch.sigmoid(logits), p, q, DX)) < 1e-9
    huge = torch.full_like(GRID, 60.0)                                            # σ(60) = 1 in float64
    assert math.isfinite(theory.value_of_logits(huge, p, q, DX))


def test_theory_rejects_bad_input():
    p = theory.gaussian_density(GRID, 0.0, 1.0)
    with pytest.raises(ValueError, match="p_data"):
        theory.value_of(torch.full_like(p, 0.5), -p, p, DX)
    with pytest.raises(ValueError, match="dx"):
        theory.value_of(torch.full_like(p, 0.5), p, p, 0.0)
    with pytest.raises(ValueError, match="shape"):
        theory.value_of(torch.full((3,), 0.5, dtype=torch.float64), p, p, DX)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        theory.value_of(torch.full_like(p, 1.5), p, p, DX)
    with pytest.raises(ValueError, match="steps"):
        theory.fit_discriminator(gan.MLPDiscriminator(in_dim=1), torch.randn, torch.randn, steps=0)


def test_fit_discriminator_approaches_d_star():
    torch.manual_seed(0)
    D = gan.MLPDiscriminator(in_dim=1, hidden=32, depth=2)
    theory.fit_discriminator(D, lambda n: torch.randn(n, 1), lambda n: 2.0 + 0.7 * torch.randn(n, 1), steps=400,
                             lr=3e-3)
    x = torch.linspace(-2.0, 3.5, 111, dtype=torch.float64)
    d_star = gan.optimal_discriminator(theory.gaussian_density(x, 0.0, 1.0), theory.gaussian_density(x, 2.0, 0.7))
    with torch.no_grad():
        learned = torch.sigmoid(D(x.float()[:, None])).double()
    assert float((learned - d_star).abs().max()) < 0.1


def _two_modes(x):
    return 0.5 * theory.gaussian_density(x, -2.0, 0.5) + 0.5 * theory.gaussian_density(x, 2.0, 0.5)


@pytest.mark.parametrize("mu,s", [(0.5, 1.0), (1.5, 0.7), (-1.0, 1.2), (0.3, 0.4)])
def test_nonsaturating_gradient_is_the_gradient_of_reverse_kl_minus_2jsd(mu, s):
    """Arjovsky & Bottou (2017), Thm 2.5: with D = D* of the current G held fixed, the non-saturating loss
    E_pg[−log D*] has the gradient of KL(p_g ‖ p_data) − 2 JSD, and the saturating E_pg log(1 − D*) that of 2 JSD.
    Checked on a fresh two-mode p_data, with the gradient in μ taken by central differences on both sides."""
    x = torch.linspace(-10.0, 10.0, 2001, dtype=torch.float64)       # wide: p_g must not leak off the grid
    dx, h = float(x[1] - x[0]), 1e-4
    p = _two_modes(x)
    q0 = theory.gaussian_density(x, mu, s)
    d_star, one_minus = gan.optimal_discriminator(p, q0), gan.optimal_discriminator(q0, p)

    def slope(f):
        return (f(theory.gaussian_density(x, mu + h, s)) - f(theory.gaussian_density(x, mu - h, s))) / (2 * h)

    ns = slope(lambda q: float((q * -torch.log(d_star)).sum() * dx))
    sat = slope(lambda q: float((q * torch.log(one_minus)).sum() * dx))
    assert ns == pytest.approx(slope(lambda q: theory.nonsaturating_divergence(p, q, dx)), abs=1e-6)
    assert sat == pytest.approx(slope(lambda q: 2 * theory.jensen_shannon(p, q, dx)), abs=1e-6)
    assert abs(ns) > 1e-3                                                 # a real slope, not 0 = 0


def test_nonsaturating_divergence_values_and_mode_seeking():
    x = torch.linspace(-7.0, 7.0, 1401, dtype=torch.float64)
    dx = float(x[1] - x[0])
    p = _two_modes(x)
    assert abs(theory.nonsaturating_divergence(p, p, dx)) < 1e-9                       # 0 at p_g = p_data
    q = theory.gaussian_density(x, 1.0, 1.3)
    expected = theory.kl_divergence(q, p, dx) - 2 * theory.jensen_shannon(p, q, dx)
    assert theory.nonsaturating_divergence(p, q, dx) == pytest.approx(expected)
    on_one_mode = theory.gaussian_density(x, 2.0, 0.5)
    covering = theory.gaussian_density(x, 0.0, 2.06)                                    # moment-matched
    # mode seeking vs mass covering: each divergence prefers the other fit
    assert theory.nonsaturating_divergence(p, on_one_mode, dx) < theory.nonsaturating_divergence(p, covering, dx)
    assert theory.kl_divergence(p, covering, dx) < theory.kl_divergence(p, on_one_mode, dx)


@pytest.mark.parametrize("mu", [-5.0, -0.7, 0.0, 2.0, 6.0])
def test_wasserstein_1d_of_a_shift_is_the_shift(mu):
    p, q = theory.gaussian_density(GRID, 0.0, 1.0), theory.gaussian_density(GRID, mu, 1.0)
    assert theory.wasserstein_1d(p, q, DX) == pytest.approx(abs(mu), abs=1e-3)
    wide = theory.gaussian_density(GRID, 0.0, 2.0)                      # same mean, other spread: W₁ = (2 − 1)·√(2/π)
    assert theory.wasserstein_1d(p, wide, DX) == pytest.approx(math.sqrt(2 / math.pi), abs=1e-3)
    with pytest.raises(ValueError, match="same grid"):
        theory.wasserstein_1d(p, q[:10], DX)


# --- probes ------------------------------------------------------------------------------------------------

def test_logit_gradients_are_autograd_of_generator_loss():
    ell = torch.linspace(-8.0, 8.0, 33)
    closed = probes.logit_gradients(ell)
    for kind in ("saturating", "non_saturating"):
        l = ell.clone().requires_grad_(True)
        (gan.generator_loss(l, kind) * len(l)).backward()
        torch.testing.assert_close(l.grad, closed[kind])
    d = torch.sigmoid(ell)
    torch.testing.assert_close(closed["saturating"] / closed["non_saturating"], d / (1 - d))


def test_gradient_probe_records_every_step():
    torch.manual_seed(0)
    G, D = gan.MLPGenerator(latent_dim=4, hidden=16, depth=1), gan.MLPDiscriminator(hidden=16, depth=1, pack=2)
    probe = probes.GradientProbe(n=15, every=2)
    with pytest.raises(ValueError, match="recorded nothing"):
        probe.summary()
    gan.train_gan(G, D, torch.randn(256, 2), steps=6, batch_size=32, callback=probe, callback_every=1,
                  progress=False, device="cpu")
    assert probe.steps == [1, 2, 3, 4, 5, 6] and len(probe.grad_norms) == 6 and len(probe.d_fake) == 6
    assert all(g > 0 for g in probe.grad_norms) and all(0 < d < 1 for d in probe.d_fake)
    assert probe.d_fake[1] == probe.d_fake[0]                          # thinned: the last value repeated
    with pytest.raises(ValueError, match="every"):
        probes.GradientProbe(every=0)


@pytest.mark.slow
def test_saturating_loss_stalls_when_d_is_ahead():
    """The notebook's measurement: with D ahead (k = 5, lr_d 5e-3) the saturating loss gives G a gradient
    100× smaller early on than the non-saturating one (measured 0.013 vs 4.1 at seed 0)."""
    data = torch.cat([torch.randn(4000, 2) * 0.05 + torch.tensor([2.0, 0.0]),
                      torch.randn(4000, 2) * 0.05 - torch.tensor([2.0, 0.0])])
    early = {}
    for kind in ("saturating", "non_saturating"):
        torch.manual_seed(0)
        G, D = gan.MLPGenerator(latent_dim=16, hidden=64, depth=2), gan.MLPDiscriminator(hidden=64, depth=2)
        probe = probes.GradientProbe(every=5)
        gan.train_gan(G, D, data, steps=60, k=5, batch_size=128, lr_g=1e-3, lr_d=5e-3, kind=kind, progress=False,
                      callback=probe, callback_every=1, device="cpu")
        early[kind] = probe.summary(first=50)
    assert early["saturating"]["early_d_fake"] < 0.2
    assert early["non_saturating"]["early_grad_norm"] > 20 * early["saturating"]["early_grad_norm"]


# --- the live GAN --------------------------------------------------------------------------------------------

def _params(module):
    return [p.detach().clone() for p in module.parameters()]


def test_live_gan_steps_and_structure():
    live = LiveGAN(k=3, n_data=2000, hidden=16)
    calls = {"D": 0}
    live.D.register_forward_hook(lambda *_: calls.__setitem__("D", calls["D"] + 1))
    before_g = _params(live.G)
    live.train(2)
    assert calls["D"] == 2 * (3 * 2 + 1)               # per G step: k × (real, fake) + one for G's loss
    assert live.steps == 2 and all(len(v) == 2 for v in live.history.values())
    assert set(live.history) == {"d_loss", "g_loss", "grad_norm", "d_fake"}
    assert all(0.0 < d < 1.0 for d in live.history["d_fake"])
    assert any(not torch.equal(a, b) for a, b in zip(before_g, live.G.parameters()))
    # G's step leaves D alone: with D's learning rate at its smallest, only the D steps move D
    live.set(k=1)
    d_before = _params(live.D)
    live.opt_d.step = lambda *a, **k: None             # D steps switched off: D must not move at all
    live.train(1)
    assert all(torch.equal(a, b) for a, b in zip(d_before, live.D.parameters()))


def test_live_gan_settings():
    live = LiveGAN(n_data=1000, hidden=16)
    live.train(1)
    assert live.set(kind="saturating", lr_g=0.01) is False and live.steps == 1
    assert live.opt_g.param_groups[0]["lr"] == 0.01
    assert live.set(pack=2) is True and live.steps == 0 and live.D.pack == 2
    assert live.report()["n_modes"] == 8 and live.samples(10).shape == (10, 2)
    assert live.set(data="moons") and live.report() is None
    xs, ys, probs = live.surface(n=7)
    assert probs.shape == (7, 7)
    for bad in (dict(kind="wgan"), dict(k=0), dict(lr_d=-1.0), dict(pack=3), dict(data="mnist"), dict(foo=1)):
        with pytest.raises(ValueError):
            live.set(**bad)
    with pytest.raises(ValueError, match="steps"):
        live.train(0)


# --- the panel and the plots -------------------------------------------------------------------------------

def test_gan_panel_trains_and_follows_its_controls():
    from coursekit.widgets import GANPanel

    panel = GANPanel(lang="zh", chunk=2, chunks=2, warmup=2)
    assert panel.live.steps == 2 and "第 2 步" in panel.status.value
    first = panel.image.value
    panel.train_button.click()                       # what the browser test does: Train → 2 × 2 steps
    assert panel.live.steps == 6 and panel.image.value != first
    panel.kind.value = "least_squares"
    panel.k.value = 2
    assert panel.live.settings["kind"] == "least_squares" and panel.live.settings["k"] == 2
    assert "均衡点为 log 4" in panel.legend.value and "最小二乘时" in panel.legend.value
    assert panel.notice.value == ""
    panel.pack.value = 4
    assert panel.live.steps == 0 and panel.live.D.pack == 4
    assert "已换打包数 m" in panel.notice.value and "第 0 步" in panel.notice.value   # the reset is said, not silent
    labels = [label for label, _ in panel.data.options]
    assert labels[0].startswith("圆环上的 8 个高斯")
    assert all(any("\u4e00" <= c <= "\u9fff" for c in label) for label in labels)
    panel.data.value = "moons"
    assert "已换数据" in panel.notice.value and "模式" not in panel.status.value
    panel.train_button.click()
    assert panel.notice.value == "" and panel.live.steps == 4
    bundle = panel._repr_mimebundle_()
    assert "image/png" in bundle and "application/vnd.jupyter.widget-view+json" in bundle
    panel.reset_button.click()
    assert panel.live.steps == 0 and "已重置" in panel.notice.value
    with pytest.raises(ValueError, match="lang"):
        GANPanel(lang="fr")
    with pytest.raises(ValueError, match="warmup"):
        GANPanel(warmup=-1)


def test_gan_panel_english_labels():
    from coursekit.widgets import GANPanel

    panel = GANPanel(lang="en", chunk=1, chunks=1, warmup=1)
    assert [label for label, _ in panel.data.options][1] == "25 Gaussians on a 5×5 grid (grid25)"
    assert "high-quality samples" in panel.status.value and "within 3σ" in panel.legend.value
    assert "D(G(z))" in panel.status.value and "step 0" in panel.pack.tooltip


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_unit05_plots(lang):
    from coursekit.viz import gan as VG

    x = torch.linspace(-3, 3, 50, dtype=torch.float64)
    p, q = theory.gaussian_density(x, 0, 1), theory.gaussian_density(x, 1, 1)
    d = gan.optimal_discriminator(p, q)
    figs = [VG.plot_optimal_discriminator(x, p, q, d, d, torch.arange(3.0), [0, 1, 2], [0, 1, 2], lang=lang,
                                          managed=False)]
    ell = torch.linspace(-3, 3, 20)
    g = probes.logit_gradients(ell)
    figs.append(VG.plot_generator_losses(torch.sigmoid(ell), {"saturating": ell, "non_saturating": ell}, g,
                                         lang=lang, managed=False))
    probe = probes.GradientProbe()
    probe.steps, probe.grad_norms, probe.d_fake = [1, 2], [0.1, 0.2], [0.3, 0.4]
    figs.append(VG.plot_gradient_norms({"saturating": probe}, lang=lang, managed=False))
    figs.append(VG.plot_snapshots([(1, torch.randn(5, 2)), (2, torch.randn(5, 2))], lang=lang, managed=False))
    history = gan.GANHistory(d_losses=[1.0, 0.9], g_losses=[0.7, 0.8])
    figs.append(VG.plot_loss_curves(history, lang=lang, managed=False))
    m = {"modes": 1, "n_modes": 8, "high_quality": 3.0}
    figs.append(VG.plot_mode_collapse({"data": torch.randn(9, 2), "plain_samples": torch.randn(9, 2),
                                       "remedy_samples": torch.randn(9, 2), "plain": m, "remedy": m,
                                       "remedy_name": "PacGAN"}, lang=lang, managed=False))
    figs.append(VG.plot_divergence_fits(x, p, {"forward_kl": (0.0, 2.0), "ns": (2.0, 0.5)}, lang=lang, managed=False))
    figs.append(VG.plot_mode_histograms({"a": torch.full((8,), 0.125), "b": torch.eye(8)[3]}, lang=lang,
                                        managed=False))
    figs.append(VG.plot_optimal_discriminator(x, p, q, d, d, torch.arange(3.0), [0, 1, 2], [0, 1, 2], lang=lang,
                                              managed=False, w1=[1.0, 0.0, 1.0]))
    assert len(figs[-1].axes) == 4                                   # D panel + twin, V panel + the W₁ twin
    assert all(len(f.axes) >= 1 for f in figs)
    title = figs[0].axes[0].get_title()
    assert ("最优判别器" in title) == (lang == "zh")
    with pytest.raises(ValueError, match="lang"):
        VG.gan_label("losses", "fr")


# --- the DCGAN of 05b ----------------------------------------------------------------------------------------

def test_dcgan_discriminator_batch_norm_follows_the_paper():
    """DCGAN: BatchNorm in D after every strided conv, not on the input layer; the default D has none."""
    from torch import nn

    plain = gan.DCGANDiscriminator(image_size=8, ndf=16)
    paper = gan.DCGANDiscriminator(image_size=8, ndf=16, batch_norm=True)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in plain.modules())
    layers = list(paper.body)
    norms = [i for i, m in enumerate(layers) if isinstance(m, nn.BatchNorm2d)]
    assert len(norms) == 2 and all(isinstance(layers[i - 1], nn.Conv2d) and layers[i - 1].stride == (2, 2)
                                   for i in norms)
    assert isinstance(layers[1], nn.LeakyReLU)                       # the input conv goes straight to LeakyReLU
    assert all(layers[i - 1].bias is None for i in norms)            # BatchNorm's shift replaces the conv bias
    # the parameters the BatchNorms add (γ, β per channel) minus the two dropped conv biases
    assert gan.count_parameters(paper) - gan.count_parameters(plain) == 2 * 32 + 2 * 64 - 32 - 64
    assert paper(torch.randn(5, 1, 8, 8)).shape == (5,)
    assert paper.config["batch_norm"] is True


def test_pretrained_dcgan_is_checked_and_loads(tmp_path):
    from coursekit.gan import demos

    G = demos.pretrained_dcgan()
    assert not G.training and G.config["latent_dim"] == 32
    x = gan.generate(G, 6, seed=1)
    assert x.shape == (6, 1, 8, 8) and float(x.abs().max()) <= 1.0
    assert G.train_info["steps"] == demos.DCGAN_STEPS and G.train_info["seed"] == 0
    raw = bytearray(demos.DCGAN_FILE.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    bad = tmp_path / "tampered.pt"
    bad.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="SHA-256"):
        demos.pretrained_dcgan(path=bad)
    other = tmp_path / "other.pt"
    torch.save({"kind": "something else"}, other)
    with pytest.raises(ValueError, match="not a DCGAN checkpoint"):
        demos.pretrained_dcgan(path=other, sha256=None)
    with pytest.raises(ValueError, match="not a file"):
        demos.pretrained_dcgan(path=tmp_path / "missing.pt")
    saved = demos.save_dcgan(gan.DCGANGenerator(**demos.DCGAN_G), tmp_path / "g.pt", steps=1)
    assert demos.pretrained_dcgan(path=saved, sha256=None).train_info == {"steps": 1}

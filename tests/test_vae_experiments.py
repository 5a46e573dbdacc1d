"""Unit 03's code above coursekit.vae: the two gradient estimators (unbiased, very different variances), the ELBO's
terms, β-VAEs, log p(x) by quadrature for a 2-D latent, the VAE plots and the two widgets (no browser)."""

from __future__ import annotations

import base64
import math

import pytest
import torch

from coursekit import vae_experiments as E
from coursekit.data import load_digits
from coursekit.vae import VAE, gaussian_kl

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _square(z: torch.Tensor) -> torch.Tensor:
    return (z ** 2).sum(dim=1)


def test_both_estimators_are_unbiased_and_reparam_has_less_variance():
    """E[z²] = μ² + σ² per dimension: ∇_μ = 2μ and ∇_{log σ²} = σ²."""
    mu, logvar = torch.tensor([0.8, -0.3]), torch.tensor([math.log(0.5), 0.2])
    n = 200_000
    rep = E.gradient_samples(_square, mu, logvar, n, "reparam", generator=torch.Generator().manual_seed(0))
    score = E.gradient_samples(_square, mu, logvar, n, "score", generator=torch.Generator().manual_seed(1))
    for g_mu, g_lv in (rep, score):
        assert g_mu.shape == (n, 2) and g_lv.shape == (n, 2)
        assert torch.allclose(g_mu.mean(0), 2 * mu, atol=0.03), g_mu.mean(0)
        assert torch.allclose(g_lv.mean(0), logvar.exp(), atol=0.03), g_lv.mean(0)
    assert bool((score[0].var(0) > 2 * rep[0].var(0)).all())
    # a constant shift of f changes nothing for the trick; it inflates REINFORCE unless the baseline absorbs it
    shifted = lambda z: _square(z) + 100.0                                  # noqa: E731
    rep_shift = E.gradient_samples(shifted, mu, logvar, 2000, "reparam", generator=torch.Generator().manual_seed(2))
    rep_base = E.gradient_samples(_square, mu, logvar, 2000, "reparam", generator=torch.Generator().manual_seed(2))
    assert torch.allclose(rep_shift[0], rep_base[0])
    s_shift = E.gradient_samples(shifted, mu, logvar, 2000, "score", generator=torch.Generator().manual_seed(3))
    s_base = E.gradient_samples(shifted, mu, logvar, 2000, "score", baseline=100.0,
                                generator=torch.Generator().manual_seed(3))
    s_plain = E.gradient_samples(_square, mu, logvar, 2000, "score", generator=torch.Generator().manual_seed(3))
    assert float(s_shift[0].var(0).mean()) > 100 * float(s_plain[0].var(0).mean())
    assert torch.allclose(s_base[0], s_plain[0], atol=1e-4)


def test_gradient_samples_bad_inputs():
    mu, logvar = torch.zeros(2), torch.zeros(2)
    with pytest.raises(ValueError, match="estimator"):
        E.gradient_samples(_square, mu, logvar, 10, "pathwise")
    with pytest.raises(ValueError, match="n must"):
        E.gradient_samples(_square, mu, logvar, 0)
    with pytest.raises(ValueError, match="mu and logvar"):
        E.gradient_samples(_square, mu, torch.zeros(3), 10)
    with pytest.raises(ValueError, match="f must map"):
        E.gradient_samples(lambda z: z, mu, logvar, 10)
    with pytest.raises(ValueError, match="baseline"):
        E.gradient_samples(_square, mu, logvar, 10, "score", baseline=float("nan"))


def test_elbo_terms_add_up_and_the_uniform_decoder():
    torch.manual_seed(0)
    model = VAE(latent_dim=2, hidden=16)
    x = load_digits("test")[0][:40]
    terms = E.elbo_terms(model, x, samples=2, generator=torch.Generator().manual_seed(0))
    assert terms["elbo"] == pytest.approx(terms["recon"] - terms["kl"])
    with torch.no_grad():
        assert terms["kl"] == pytest.approx(float(gaussian_kl(*model.encode(x)).mean()), rel=1e-5)
        model.decoder[-1].weight.zero_()
        model.decoder[-1].bias.zero_()
    assert E.elbo_terms(model, x)["recon"] == pytest.approx(-64 * math.log(17), rel=1e-5)
    assert model.training                                  # the mode is restored
    with pytest.raises(ValueError, match="model"):
        E.elbo_terms(torch.nn.Linear(2, 2), x)
    with pytest.raises(ValueError, match="samples"):
        E.elbo_terms(model, x, samples=0)


def test_beta_sweep_trades_kl_for_reconstruction():
    x_train, x_test = load_digits("train")[0], load_digits("test")[0][:100]
    runs = E.beta_sweep(x_train, x_test, betas=(0.25, 8.0), steps=120, hidden=32, batch_size=64, lr=5e-3)
    assert [r.beta for r in runs] == [0.25, 8.0]
    low, high = runs
    assert low.kl > high.kl and high.kl < 0.1                     # a heavy KL weight collapses q(z | x) onto p(z)
    assert low.recon > high.recon
    assert all(isinstance(r.model, VAE) and not r.model.training for r in runs)
    with pytest.raises(ValueError, match="betas"):
        E.beta_sweep(x_train, x_test, betas=())
    with pytest.raises(ValueError, match="betas"):
        E.beta_sweep(x_train, x_test, betas=(-1.0,))


def test_quadrature_log_px_bounds_the_elbo_and_matches_iwae():
    x_train = load_digits("train")[0]
    torch.manual_seed(0)
    model = VAE(latent_dim=2, hidden=32)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for i in range(150):                                        # a little training: an informative q(z | x)
        loss = model.loss(x_train[(i * 64) % 1400:(i * 64) % 1400 + 64])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    xs = load_digits("test")[0][:3]
    out = E.quadrature_bounds(model, xs)
    assert set(out) == {"log_px", "elbo", "gap", "mass_q"} and out["log_px"].shape == (3,)
    assert torch.allclose(out["mass_q"], torch.ones(3), atol=1e-3)
    assert bool((out["elbo"] < out["log_px"]).all()) and bool((out["gap"] > 0).all())
    assert torch.allclose(out["gap"], out["log_px"] - out["elbo"], atol=1e-3)
    with torch.no_grad():
        log_w = model.log_weights(xs, k=5000, generator=torch.Generator().manual_seed(0))
        iwae = torch.logsumexp(log_w, 1) - math.log(5000)
        mc_elbo = log_w.mean(1)
    assert torch.allclose(iwae, out["log_px"], atol=0.1), (iwae, out["log_px"])
    assert torch.allclose(mc_elbo, out["elbo"], atol=0.3), (mc_elbo, out["elbo"])
    # a wider, finer grid gives the same numbers: the default grid covers the posterior
    wide = E.quadrature_bounds(model, xs, n=241, width=16.0)
    assert torch.allclose(wide["log_px"], out["log_px"], atol=1e-3)
    with pytest.raises(ValueError, match="latent_dim = 2"):
        E.quadrature_bounds(VAE(latent_dim=3, hidden=8), xs)
    with pytest.raises(ValueError, match="n must"):
        E.quadrature_bounds(model, xs, n=2)


# --- plots and widgets ------------------------------------------------------------------------------------

def _png(widget) -> bytes:
    return bytes(widget.image.value)


def test_vae_plots_in_both_languages():
    import matplotlib

    matplotlib.use("Agg")
    from coursekit.viz import vae as VP
    from coursekit.viz.diffusion_plots import fig_to_png

    torch.manual_seed(0)
    est = {"reparam": torch.randn(100, 2), "score": 30 * torch.randn(100, 2), "score_b": 3 * torch.randn(100, 2)}
    x = load_digits("test")[0][:6]
    figs = [VP.plot_gradient_variance(est, lang, managed=False) for lang in ("zh", "en")]
    figs += [VP.plot_training_curve([3.0, 2.0, 1.5, 1.4] * 20, "zh", managed=False),
             VP.plot_reconstructions(x, x.flip(0), x, "en", managed=False)]
    runs = E.beta_sweep(load_digits("train")[0][:256], x, betas=(0.5, 1.0), steps=5, hidden=8)
    figs.append(VP.plot_beta_sweep(runs, x, "zh", managed=False))
    for fig in figs:
        assert fig_to_png(fig).startswith(PNG_MAGIC)
    assert "方差" in figs[0].axes[1].get_title()
    with pytest.raises(ValueError, match="lang"):
        VP.plot_training_curve([1.0], "fr")
    with pytest.raises(ValueError, match="recon must have the shape"):
        VP.plot_reconstructions(x, x[:2])
    with pytest.raises(ValueError, match="estimates key"):
        VP.plot_gradient_variance({"pathwise": torch.randn(5, 2)})


def test_latent_explorer_redraws_when_z_moves():
    from coursekit.widgets.vae import LatentExplorer

    torch.manual_seed(0)
    model = VAE(latent_dim=2, hidden=16)
    x, y = load_digits("test")
    w = LatentExplorer(model, x=x[:50], labels=y[:50], lang="zh", span=2.0, n=5)
    first = _png(w)
    assert first.startswith(PNG_MAGIC)
    w.sliders[0].value = 1.5
    assert _png(w) != first
    assert torch.allclose(w.decoded(), model.decode_images(torch.tensor([[1.5, 0.0]])))
    bundle = w._repr_mimebundle_()
    assert base64.b64decode(bundle["image/png"]).startswith(PNG_MAGIC)
    assert "application/vnd.jupyter.widget-view+json" in bundle
    with pytest.raises(ValueError, match="latent_dim = 2"):
        LatentExplorer(VAE(latent_dim=3, hidden=8))
    with pytest.raises(ValueError, match="z must"):
        LatentExplorer(model, z=(5.0, 0.0), span=2.0)
    with pytest.raises(ValueError, match="labels must"):
        LatentExplorer(model, x=x[:5], labels=y[:4])


def test_beta_explorer_switches_trained_models_without_training():
    from coursekit.widgets.vae import BetaExplorer

    x_train, x_test = load_digits("train")[0][:256], load_digits("test")[0][:8]
    runs = E.beta_sweep(x_train, x_test, betas=(0.5, 1.0, 2.0), steps=5, hidden=8)
    w = BetaExplorer(runs, x_test, lang="en", beta=1.0)
    assert w.index() == 1
    first = _png(w)
    w.slider.value = 2.0
    assert w.index() == 2 and _png(w) != first
    w.slider.value = 1.0
    assert _png(w) == first                                       # frames are cached, models never retrained
    assert base64.b64decode(w._repr_mimebundle_()["image/png"]).startswith(PNG_MAGIC)
    with pytest.raises(ValueError, match="2\\^k"):
        BetaExplorer(E.beta_sweep(x_train, x_test, betas=(0.5, 3.0), steps=2, hidden=8), x_test)
    with pytest.raises(ValueError, match="runs"):
        BetaExplorer([], x_test)

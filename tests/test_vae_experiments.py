"""Unit 03's code above coursekit.vae: the two gradient estimators (unbiased, very different variances), the ELBO's
terms, β-VAEs, log p(x) by quadrature for a 2-D latent, the VAE plots and the two widgets (no browser)."""

from __future__ import annotations

import base64
import math

import pytest
import torch

from coursekit import vae_experiments as E
from coursekit.data import load_digits
from coursekit.vae import VAE, categorical_log_prob, gaussian_kl, gaussian_log_prob

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


def _trained_2d_vae(steps: int = 150) -> VAE:
    x_train = load_digits("train")[0]
    torch.manual_seed(0)
    model = VAE(latent_dim=2, hidden=32)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for i in range(steps):                                      # a little training: an informative q(z | x)
        loss = model.loss(x_train[(i * 64) % 1400:(i * 64) % 1400 + 64])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


@pytest.fixture(scope="module")
def trained_2d():
    return _trained_2d_vae()


def test_quadrature_log_px_bounds_the_elbo_and_matches_iwae(trained_2d):
    model = trained_2d
    xs = load_digits("test")[0][:3]
    out = E.quadrature_bounds(model, xs)
    assert set(out) == {"log_px", "elbo", "gap", "mass_q", "edge_mass"} and out["log_px"].shape == (3,)
    assert torch.allclose(out["mass_q"], torch.ones(3), atol=1e-3)            # the grid resolves q
    assert float(out["edge_mass"].max()) < 1e-4        # and holds the posterior (the prior itself has 4e-6 there)
    assert bool((out["elbo"] < out["log_px"]).all()) and bool((out["gap"] > 0).all())
    # independent estimates: importance sampling with the encoder (IWAE, K = 5000) and Monte Carlo ELBO
    with torch.no_grad():
        log_w = model.log_weights(xs, k=5000, generator=torch.Generator().manual_seed(0))
        iwae = torch.logsumexp(log_w, 1) - math.log(5000)
        mc_elbo = log_w.mean(1)
    assert torch.allclose(iwae, out["log_px"], atol=0.1), (iwae, out["log_px"])
    assert torch.allclose(mc_elbo, out["elbo"], atol=0.3), (mc_elbo, out["elbo"])
    # a wider, finer grid gives the same numbers: the default grid covers the posterior and resolves it
    wide = E.quadrature_bounds(model, xs, span=7.0, n=351)
    assert torch.allclose(wide["log_px"], out["log_px"], atol=1e-3)
    assert torch.allclose(wide["elbo"], out["elbo"], atol=1e-3)
    with pytest.raises(ValueError, match="latent_dim = 2"):
        E.quadrature_bounds(VAE(latent_dim=3, hidden=8), xs)
    with pytest.raises(ValueError, match="n must"):
        E.quadrature_bounds(model, xs, n=2)
    with pytest.raises(ValueError, match="span must"):
        E.quadrature(model, xs, span=0.0)


def test_quadrature_one_decoder_pass_for_all_images_equals_one_image_at_a_time(trained_2d):
    """The one-hot product computes log p(x | z) of every image at once; categorical_log_prob, image by image,
    on the same grid is the reference."""
    model = trained_2d
    xs = load_digits("test")[0][5:9]
    quad = E.quadrature(model, xs, span=4.0, n=41)
    axis = torch.linspace(-4.0, 4.0, 41)
    z = torch.cartesian_prod(axis, axis)
    with torch.no_grad():
        logits = model.decode(z)
        for i in range(len(xs)):
            reference = categorical_log_prob(logits, xs[i:i + 1].expand(len(z), -1, -1, -1)) + gaussian_log_prob(z)
            assert torch.allclose(quad.log_joint[i], reference, atol=1e-3)
    assert torch.allclose(quad.z, z)


def test_a_decoder_that_ignores_z_has_the_prior_as_posterior_and_no_gap():
    """Exact oracle: with the decoder's last layer zeroed, p(x | z) = 17^−64 for every z, so p(z | x) = p(z),
    log p(x) = −64 log 17, the best Gaussian is N(0, I) and the approximation gap is 0."""
    torch.manual_seed(1)
    model = VAE(latent_dim=2, hidden=16).eval()
    with torch.no_grad():
        model.decoder[-1].weight.zero_()
        model.decoder[-1].bias.zero_()
    xs = load_digits("test")[0][:4]
    quad = E.quadrature(model, xs, n=101)                     # spacing 0.1: plenty for a posterior of width 1
    assert torch.allclose(quad.log_px(), torch.full((4,), -64 * math.log(17)), atol=1e-4)
    gaps = E.inference_gaps(quad, steps=300, lr=0.05)
    assert torch.allclose(gaps["mu"], torch.zeros(4, 2), atol=0.02), gaps["mu"]
    assert torch.allclose(gaps["logvar"], torch.zeros(4, 2), atol=0.02), gaps["logvar"]
    assert float(gaps["approximation"].abs().max()) < 1e-3
    # the encoder's q is not N(0, I): its whole gap is amortisation, and equals KL(q ‖ p(z)) in closed form
    assert torch.allclose(gaps["amortisation"], gaussian_kl(quad.mu, quad.logvar), atol=1e-3)


def test_the_best_gaussian_beats_the_encoder_and_is_a_local_optimum(trained_2d):
    model = trained_2d
    xs = load_digits("test")[0][:4]
    quad = E.quadrature(model, xs)
    gaps = E.inference_gaps(quad)
    assert set(gaps) == {"log_px", "elbo", "elbo_best", "approximation", "amortisation", "mu", "logvar"}
    assert bool((gaps["elbo_best"] >= gaps["elbo"] - 1e-4).all())
    assert bool((gaps["elbo_best"] < gaps["log_px"]).all())
    assert torch.allclose(gaps["approximation"] + gaps["amortisation"], gaps["log_px"] - gaps["elbo"], atol=1e-4)
    # a local optimum: every small move of μ* or log σ*² lowers the ELBO
    for which in ("mu", "logvar"):
        for d in range(2):
            for step in (-0.05, 0.05):
                mu, logvar = gaps["mu"].clone(), gaps["logvar"].clone()
                (mu if which == "mu" else logvar)[:, d] += step
                assert bool((quad.elbo(mu, logvar) < gaps["elbo_best"] + 1e-4).all()), (which, d, step)
    # ELBO(q*) by Monte Carlo, sampling q* and decoding (no grid)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for i in range(len(xs)):
            z = gaps["mu"][i] + torch.exp(0.5 * gaps["logvar"][i]) * torch.randn(20000, 2, generator=g)
            log_joint = categorical_log_prob(model.decode(z), xs[i:i + 1].expand(len(z), -1, -1, -1)) \
                + gaussian_log_prob(z)
            mc = float((log_joint - gaussian_log_prob(z, gaps["mu"][i], gaps["logvar"][i])).mean())
            assert mc == pytest.approx(float(gaps["elbo_best"][i]), abs=0.3)
    # the per-image support used for speed keeps all but a negligible share of each posterior
    near = quad.support()
    assert near.z.ndim == 3 and near.z.shape[0] == 4 and near.z.shape[1] <= quad.z.shape[0]
    assert torch.allclose(torch.logsumexp(near.log_joint, 1), torch.logsumexp(quad.log_joint, 1), atol=1e-4)
    with pytest.raises(ValueError, match="steps"):
        E.best_gaussian(quad, steps=0)


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
    figs.append(VP.plot_reconstructions(x, x.flip(0), x, "zh", managed=False, draws=x.flip(0)))
    model = VAE(latent_dim=2, hidden=8).eval()
    quad = E.quadrature(model, x[:3], n=31)
    figs.append(VP.plot_posteriors(quad, quad.mu[:2], quad.logvar[:2], rows=(0, 2), lang="zh", managed=False))
    for fig in figs:
        assert fig_to_png(fig).startswith(PNG_MAGIC)
    assert "方差" in figs[0].axes[1].get_title()
    with pytest.raises(ValueError, match="lang"):
        VP.plot_training_curve([1.0], "fr")
    with pytest.raises(ValueError, match="recon must have the shape"):
        VP.plot_reconstructions(x, x[:2])
    with pytest.raises(ValueError, match="estimates key"):
        VP.plot_gradient_variance({"pathwise": torch.randn(5, 2)})
    with pytest.raises(ValueError, match="draws must have the shape"):
        VP.plot_reconstructions(x, x, x, draws=x[:2])
    with pytest.raises(ValueError, match="rows must"):
        VP.plot_posteriors(quad, quad.mu[:1], quad.logvar[:1], rows=(7,))
    with pytest.raises(ValueError, match="mu_best and logvar_best"):
        VP.plot_posteriors(quad, quad.mu[:1], quad.logvar[:1], rows=(0, 1))
    assert "后验" in figs[-1].axes[0].get_title() and "真正的样本" in figs[-2].axes[2].get_title()


def test_latent_explorer_redraws_when_z_moves():
    from coursekit.widgets.vae import LatentExplorer

    torch.manual_seed(0)
    model = VAE(latent_dim=2, hidden=16)
    x, y = load_digits("test")
    w = LatentExplorer(model, x=x[:50], labels=y[:50], lang="zh", span=2.0, n=5)
    assert w.sliders[0].description == "隐变量 z₁" and "解码器" in w.sliders[0].tooltip   # glossary: 隐变量
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
    assert "never retrains" in w.slider.tooltip and "0.5 … 2" in w.slider.tooltip
    assert "不重新训练" in BetaExplorer(runs, x_test, lang="zh").slider.tooltip
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

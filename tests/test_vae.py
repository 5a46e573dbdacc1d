"""VAE / cVAE: the closed-form KL against Monte Carlo, the reparameterisation gradient, ELBO ≤ IWAE ≤ log p(x)
(with log p(x) computed by quadrature for a 1-D latent), latent views, bad inputs."""

from __future__ import annotations

import math

import pytest
import torch

from coursekit.data import load_digits
from coursekit.vae import (
    CVAE,
    VAE,
    build,
    categorical_log_prob,
    elbo,
    gaussian_kl,
    gaussian_log_prob,
    latent_grid,
    reparameterize,
    traversal,
)


def _gaussians(batch: int = 4, dim: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, dim, generator=g), torch.randn(batch, dim, generator=g) * 0.7


def test_closed_form_kl_matches_monte_carlo():
    mu, logvar = _gaussians()
    g = torch.Generator().manual_seed(1)
    n = 200_000
    z = mu[:, None] + torch.exp(0.5 * logvar)[:, None] * torch.randn(4, n, 3, generator=g)
    log_q = gaussian_log_prob(z, mu[:, None], logvar[:, None])
    mc = (log_q - gaussian_log_prob(z)).mean(dim=1)               # E_q[log q(z) − log p(z)]
    exact = gaussian_kl(mu, logvar)
    assert exact.shape == (4,)
    assert torch.allclose(mc, exact, rtol=0.02, atol=0.02), (mc, exact)
    # the general form with a non-standard prior, checked the same way
    pm, plv = _gaussians(seed=2)
    mc2 = (log_q - gaussian_log_prob(z, pm[:, None], plv[:, None])).mean(dim=1)
    assert torch.allclose(mc2, gaussian_kl(mu, logvar, pm, plv), rtol=0.02, atol=0.03)


def test_kl_is_zero_only_at_the_prior():
    zeros = torch.zeros(2, 5)
    assert torch.allclose(gaussian_kl(zeros, zeros), torch.zeros(2))
    mu, logvar = _gaussians()
    assert bool((gaussian_kl(mu, logvar) > 0).all())
    assert torch.allclose(gaussian_kl(mu, logvar, mu, logvar), torch.zeros(4), atol=1e-6)


def test_reparameterisation_gradient():
    mu, logvar = _gaussians()
    mu.requires_grad_(True)
    logvar.requires_grad_(True)
    eps = torch.randn(4, 3, generator=torch.Generator().manual_seed(3))
    z = reparameterize(mu, logvar, noise=eps)
    assert torch.allclose(z, mu + torch.exp(0.5 * logvar) * eps)
    z.sum().backward()
    assert torch.allclose(mu.grad, torch.ones_like(mu))                                  # ∂z/∂μ = 1
    assert torch.allclose(logvar.grad, 0.5 * torch.exp(0.5 * logvar.detach()) * eps)    # ∂z/∂logσ² = ½σε


def test_reparameterised_gradient_of_an_expectation():
    """∇_μ E[z²] = 2μ and ∇_logσ² E[z²] = σ² (E[z²] = μ² + σ²), estimated through the trick."""
    mu = torch.tensor([[0.7]], requires_grad=True)
    logvar = torch.tensor([[math.log(0.5)]], requires_grad=True)
    g = torch.Generator().manual_seed(4)
    z = reparameterize(mu.expand(100_000, 1), logvar.expand(100_000, 1), generator=g)
    z.pow(2).mean().backward()
    assert mu.grad.item() == pytest.approx(1.4, abs=0.02)
    assert logvar.grad.item() == pytest.approx(0.5, abs=0.02)


def test_elbo_function():
    mu, logvar = _gaussians()
    rec = torch.tensor([-10.0, -20.0, -30.0, -40.0])
    assert torch.allclose(elbo(rec, mu, logvar), rec - gaussian_kl(mu, logvar))
    assert torch.allclose(elbo(rec, mu, logvar, beta=0.0), rec)


def _quadrature_log_px(model: VAE, x: torch.Tensor) -> torch.Tensor:
    """log p(x) = log ∫ p(x | z) N(z; 0, 1) dz for a 1-D latent, by the trapezoid rule on [−10, 10]."""
    zs = torch.linspace(-10, 10, 4001)
    with torch.no_grad():
        logits = model.decode(zs[:, None])                                 # (Z, L, 1, 8, 8)
        out = []
        for xi in x:
            log_joint = categorical_log_prob(logits, xi.expand(len(zs), *xi.shape)) + gaussian_log_prob(zs[:, None])
            out.append(torch.logsumexp(log_joint, 0) + math.log(float(zs[1] - zs[0])))
    return torch.stack(out)


def _train(model, x, y=None, steps=60, seed=0):
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for i in range(steps):
        idx = torch.arange(i * 64, i * 64 + 64) % len(x)
        loss = model.loss(x[idx], None if y is None else y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


@pytest.mark.slow
def test_elbo_below_iwae_below_log_likelihood():
    x, _ = load_digits("train")
    torch.manual_seed(0)
    model = _train(VAE(latent_dim=1, hidden=64), x, steps=300)      # long enough that q(z|x) is informative
    xs = load_digits("test")[0][:6]
    log_px = _quadrature_log_px(model, xs)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        log_w = model.log_weights(xs, k=2000, generator=g)               # (6, 2000)
        elbo_est = log_w.mean(dim=1)                                       # average of 2000 one-sample ELBOs
        iwae = {k: (torch.logsumexp(log_w[:, :k], 1) - math.log(k)) for k in (1, 10, 100, 2000)}
        exact_elbo = model.elbo(xs, generator=g)                           # one sample, closed-form KL
    # same samples: log mean w ≥ mean log w (Jensen), so IWAE_K ≥ the ELBO estimate, deterministically
    assert bool((iwae[2000] >= elbo_est).all())
    # both are lower bounds on log p(x); with many samples IWAE approaches it
    assert bool((elbo_est <= log_px + 1e-3).all()), (elbo_est, log_px)
    assert bool((iwae[2000] <= log_px + 0.05).all()), (iwae[2000], log_px)
    assert torch.allclose(iwae[2000], log_px, atol=0.1), (iwae[2000], log_px)
    assert float((log_px - elbo_est).mean()) > float((log_px - iwae[2000]).mean())
    # the one-sample ELBO with the analytic KL has the same mean as the importance-weight version
    assert float(exact_elbo.mean()) == pytest.approx(float(elbo_est.mean()), rel=0.1)


def test_iwae_is_monotone_in_k_on_average():
    torch.manual_seed(0)
    model = VAE(latent_dim=4, hidden=32).eval()
    xs = load_digits("test")[0][:20]
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        means = [float(torch.stack([model.iwae(xs, k=k, generator=g) for _ in range(20)]).mean()) for k in (1, 5, 50)]
    assert means[0] < means[1] < means[2], means


@pytest.mark.slow
def test_cvae_both_priors_train_and_sample_the_asked_class():
    x, y = load_digits("train")
    for prior in ("standard", "conditional"):
        torch.manual_seed(0)
        model = CVAE(latent_dim=4, hidden=64, prior=prior)
        before = model.bits_per_dim(x[:200], y[:200])
        _train(model, x, y, steps=60)
        after = model.bits_per_dim(x[:200], y[:200], generator=torch.Generator().manual_seed(0))
        assert after < before - 1.0, (prior, before, after)
        labels = torch.arange(10)
        s1 = model.sample(y=labels, generator=torch.Generator().manual_seed(2))
        s2 = model.sample(y=labels, generator=torch.Generator().manual_seed(2))
        assert s1.shape == (10, 1, 8, 8) and torch.equal(s1, s2)
        assert float(s1.min()) >= -1.0 and float(s1.max()) <= 1.0
    # the learned prior depends on the label; the standard one does not
    mu, logvar = model.prior(3, torch.tensor([0, 1, 2]))
    assert not torch.allclose(mu[0], mu[1])
    assert torch.equal(CVAE(prior="standard").prior(2, torch.tensor([0, 1]))[0], torch.zeros(2, 16))


def test_uniform_decoder_gives_log2_levels_bits():
    torch.manual_seed(0)
    model = VAE(latent_dim=2, hidden=16)
    with torch.no_grad():
        model.decoder[-1].weight.zero_()
        model.decoder[-1].bias.zero_()
        model.encoder[-1].weight.zero_()
        model.encoder[-1].bias.zero_()                   # q(z|x) = N(0, I) = p(z): KL = 0
    x = load_digits("test")[0][:30]
    assert model.bits_per_dim(x) == pytest.approx(math.log2(17), abs=1e-5)
    assert model.bits_per_dim(x, k=16) == pytest.approx(math.log2(17), abs=1e-5)


def test_latent_views_and_build():
    torch.manual_seed(0)
    model = CVAE(latent_dim=2, hidden=16)
    grid = latent_grid(model, n=5, y=3)
    assert grid.shape == (25, 1, 8, 8)
    vae = VAE(latent_dim=3, hidden=16)
    trav = traversal(vae, torch.zeros(2, 3), n_steps=4)
    assert trav.shape == (2, 3, 4, 1, 8, 8)
    # row j only varies dimension j: different dims give different images, the sweep's middle is shared
    assert not torch.allclose(trav[0, 0], trav[0, 1])
    rebuilt = build(model.config)
    assert isinstance(rebuilt, CVAE) and rebuilt.config == model.config


def test_bad_inputs():
    mu, logvar = _gaussians()
    with pytest.raises(ValueError, match="logvar must have the shape of mu"):
        reparameterize(mu, logvar[:, :2])
    with pytest.raises(ValueError, match="noise must have the shape"):
        reparameterize(mu, logvar, noise=torch.randn(4, 2))
    with pytest.raises(ValueError, match="mu must have 2"):
        gaussian_kl(mu[0], logvar[0])
    with pytest.raises(ValueError, match="prior_mu must have the shape"):
        gaussian_kl(mu, logvar, torch.zeros(4, 2), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="log_px_given_z must have shape"):
        elbo(torch.zeros(3), mu, logvar)
    model = VAE(latent_dim=2, hidden=16)
    with pytest.raises(ValueError, match="latent_dim=2"):
        model.decode(torch.zeros(5, 3))                   # latent dimension mismatch
    with pytest.raises(ValueError, match="latent_dim=2"):
        traversal(model, torch.zeros(1, 4))
    with pytest.raises(ValueError, match="x must have shape"):
        model.encode(torch.zeros(5, 1, 16, 16))
    with pytest.raises(ValueError, match="x must have 4"):
        model.encode(torch.zeros(5, 64))
    with pytest.raises(ValueError, match="without num_classes"):
        model.encode(torch.zeros(2, 1, 8, 8), torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="latent_dim"):
        VAE(latent_dim=0)
    with pytest.raises(ValueError, match="prior"):
        CVAE(prior="gaussian")
    with pytest.raises(ValueError, match="needs num_classes"):
        VAE(prior="conditional")
    cvae = CVAE(latent_dim=2, hidden=16)
    with pytest.raises(ValueError, match="required"):
        cvae.encode(torch.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match="y must be in"):
        cvae.sample(y=torch.tensor([0, 10]))
    with pytest.raises(ValueError, match="k must be"):
        cvae.iwae(torch.zeros(2, 1, 8, 8), torch.tensor([0, 1]), k=0)
    with pytest.raises(ValueError, match="dims"):
        latent_grid(VAE(latent_dim=1, hidden=8))


def test_latent_views_restore_the_mode_and_check_labels():
    model = CVAE(latent_dim=2, hidden=16, prior="standard").train()
    latent_grid(model, n=3, y=1)
    traversal(model, torch.zeros(2, 2), n_steps=3, y=torch.tensor([4, 5]))
    assert model.training                                   # the views do not leave the model in eval mode
    with pytest.raises(ValueError, match="required"):
        latent_grid(model, n=3)                             # a cVAE's grid needs its class
    with pytest.raises(ValueError, match="y must be an integer tensor of shape"):
        traversal(model, torch.zeros(2, 2), y=torch.tensor([1]))
    with pytest.raises(ValueError, match="n_steps"):
        traversal(model, torch.zeros(2, 2), n_steps=0, y=torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="span"):
        latent_grid(model, n=3, y=1, span=0.0)
    # the grid really sweeps z: with a 2-D latent and standard prior, the corners decode differently
    torch.manual_seed(0)
    vae = VAE(latent_dim=2, hidden=16)
    grid = latent_grid(vae, n=3, span=2.0)
    expected = vae.decode_images(torch.tensor([[-2.0, 2.0], [2.0, -2.0]]))   # top-left, bottom-right
    assert torch.allclose(grid[0], expected[0], atol=1e-6) and torch.allclose(grid[8], expected[1], atol=1e-6)


def test_latent_plots_smoke():
    """The viz functions draw the three latent views (Agg backend, no display) in both languages."""
    import matplotlib

    matplotlib.use("Agg")
    from coursekit.viz.diffusion_plots import fig_to_png
    from coursekit.viz.latent import plot_latent_grid, plot_latent_scatter, plot_traversal

    torch.manual_seed(0)
    x, y = load_digits("test")
    vae, cvae = VAE(latent_dim=2, hidden=16), CVAE(latent_dim=3, hidden=16)
    figs = [plot_latent_grid(vae, n=4, managed=False),
            plot_latent_grid(cvae, n=4, dims=(0, 2), y=7, lang="zh", managed=False),
            plot_traversal(vae, n_steps=5, managed=False),
            plot_traversal(cvae, torch.zeros(3), n_steps=5, y=2, lang="zh", managed=False),
            plot_latent_scatter(vae, x[:50], y[:50], managed=False),
            plot_latent_scatter(cvae, x[:50], y[:50], dims=(1, 2), lang="zh", managed=False)]
    for fig in figs:
        assert fig_to_png(fig).startswith(b"\x89PNG")
    # 1-based z₁, z₂, … as in the formulas; the glossary's 隐变量 / 隐空间 for "latent"
    assert figs[0].axes[0].get_xlabel() == "latent z₁" and "隐空间" in figs[1].axes[0].get_title()
    assert figs[1].axes[0].get_ylabel() == "隐变量 z₃"
    assert len(figs[2].axes[0].get_yticks()) == 2 and len(figs[3].axes[0].get_yticks()) == 3
    assert [t.get_text() for t in figs[2].axes[0].get_yticklabels()] == ["z₁", "z₂"]
    noted = plot_traversal(vae, n_steps=5, notes=["KL 1.50", "KL 0.00"], lang="zh", managed=False)
    assert [t.get_text() for t in noted.axes[0].get_yticklabels()] == ["z₁  KL 1.50", "z₂  KL 0.00"]
    assert len(noted.axes[0].get_xticks()) == 5 and "取值" in noted.axes[0].get_xlabel()
    with pytest.raises(ValueError, match="notes must be 2 strings"):
        plot_traversal(vae, notes=["only one"])
    with pytest.raises(ValueError, match="model must be"):
        plot_latent_grid(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="lang"):
        plot_latent_grid(vae, lang="fr")
    with pytest.raises(ValueError, match="labels must be"):
        plot_latent_scatter(vae, x[:5], y[:4])
    with pytest.raises(ValueError, match="z must be one code"):
        plot_traversal(vae, torch.zeros(2, 2))
    with pytest.raises(ValueError, match="dims"):
        plot_latent_scatter(vae, x[:5], y[:5], dims=(0, 0))


def test_more_bad_inputs_name_the_argument():
    for kwargs, name in [({"hidden": 0}, "hidden"), ({"image_size": 0}, "image_size"), ({"levels": 1}, "levels"),
                         ({"latent_dim": 2.0}, "latent_dim")]:
        with pytest.raises(ValueError, match=name):
            VAE(**kwargs)
    with pytest.raises(ValueError, match="num_classes"):
        CVAE(num_classes=0)
    cvae = CVAE(latent_dim=2, hidden=16)
    with pytest.raises(ValueError, match="y must be an integer tensor of class labels"):
        cvae.sample(y=[0, 1])
    with pytest.raises(ValueError, match=r"y must be an integer tensor of shape \(2,\)"):
        cvae.encode(torch.zeros(2, 1, 8, 8), torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="latent_dim=2"):
        cvae.decode(torch.zeros(2, 5), torch.tensor([0, 1]))          # latent dimension mismatch, conditional
    with pytest.raises(ValueError, match="z must have 2"):
        cvae.decode(torch.zeros(2), torch.tensor([0, 1]))


def test_same_code_path_on_every_device(device):
    """ELBO, IWAE, sampling and the latent views run on the device given (CUDA when present); the
    deterministic parts agree with the CPU."""
    torch.manual_seed(0)
    cpu = CVAE(latent_dim=2, hidden=16)
    model = CVAE(latent_dim=2, hidden=16).to(device)
    model.load_state_dict(cpu.state_dict())
    x, y = load_digits("test")
    x, y = x[:8].to(device), y[:8].to(device)
    g = torch.Generator(device=device).manual_seed(0)
    assert model.elbo(x, y, generator=g).shape == (8,) and model.iwae(x, y, k=4, generator=g).device == x.device
    mu, logvar = model.encode(x, y)
    mu_cpu, logvar_cpu = cpu.encode(x.cpu(), y.cpu())
    assert torch.allclose(mu.cpu(), mu_cpu, atol=1e-5) and torch.allclose(logvar.cpu(), logvar_cpu, atol=1e-5)
    assert model.sample(y=torch.arange(3), generator=g).device == x.device
    assert latent_grid(model, n=2, y=1).device == x.device
    trav = traversal(model, torch.zeros(1, 2, device=device), n_steps=3, y=torch.tensor([5]))   # y moved to z's device
    assert trav.shape == (1, 2, 3, 1, 8, 8) and trav.device == x.device

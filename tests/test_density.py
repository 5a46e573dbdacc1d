"""coursekit.density: maximum-likelihood histograms and Gaussian mixtures (EM), their exact log-densities and
samplers, and KL(p_data ‖ p_θ) on a set whose density is known."""

from __future__ import annotations

import math

import pytest
import torch

from coursekit import data
from coursekit import density as DN


@pytest.fixture(scope="module")
def ring():
    return data.sample_2d("ring8", 600, seed=0, std=0.25), data.sample_2d("ring8", 3000, seed=1, std=0.25)


def test_histogram_is_the_mle_and_integrates_to_one(ring):
    x, _ = ring
    h = DN.fit_histogram(x, bins=12, lim=4.5)
    assert abs(float(h.probs.sum()) - 1) < 1e-6
    i, j, inside = h.cells(x)
    assert bool(inside.all())
    assert abs(float(h.probs[i[0], j[0]]) - float(((i == i[0]) & (j == j[0])).float().mean())) < 1e-6   # count / N
    # the density integrates to 1 over the box: Σ_cells p · area
    grid = torch.linspace(-4.5 + 0.375 / 2, 4.5 - 0.375 / 2, 24)
    pts = torch.cartesian_prod(grid, grid)
    assert abs(float(h.log_prob(pts).exp().sum()) * 0.375 ** 2 - 1) < 1e-4
    assert float(h.log_prob(torch.tensor([[10.0, 0.0]]))) == -math.inf          # outside the box


def test_histogram_overfits_visibly(ring):
    x, held_out = ring
    fine = DN.fit_histogram(x, bins=80)
    assert DN.average_log_likelihood(fine, held_out) == -math.inf             # an empty cell meets a test point
    smoothed = [DN.average_log_likelihood(DN.fit_histogram(x, b, alpha=0.01), held_out) for b in (4, 20, 80)]
    assert smoothed[1] > smoothed[0] and smoothed[1] > smoothed[2]            # under-fit, about right, over-fit
    train = [DN.average_log_likelihood(DN.fit_histogram(x, b), x) for b in (4, 20, 80)]
    assert train == sorted(train)                                             # the training likelihood only rises


def test_em_never_lowers_the_training_likelihood_and_finds_the_ring(ring):
    x, held_out = ring
    model, history = DN.fit_gmm(x, 8, seed=0)
    assert all(b >= a - 1e-9 for a, b in zip(history, history[1:]))
    assert abs(float(model.weights.sum()) - 1) < 1e-9 and model.k == 8
    kl = {k: DN.kl_to_data(DN.fit_gmm(x, k, seed=0)[0], "ring8", held_out, std=0.25) for k in (1, 8, 40)}
    assert kl[8] < 0.15 < kl[1] and kl[8] < kl[40]                            # capacity: too little, right, too much
    assert kl[8] >= -0.05                                                     # a KL is ≥ 0 up to Monte Carlo noise


def test_gmm_log_prob_matches_torch_distributions():
    g = torch.Generator().manual_seed(3)
    a = torch.randn(3, 2, 2, generator=g)
    model = DN.GaussianMixture(torch.tensor([0.2, 0.3, 0.5]), torch.randn(3, 2, generator=g),
                               a @ a.transpose(1, 2) + 0.1 * torch.eye(2))
    x = torch.randn(50, 2, generator=g)
    mix = torch.distributions.MixtureSameFamily(torch.distributions.Categorical(model.weights),
                                                torch.distributions.MultivariateNormal(model.means, model.covs))
    assert torch.allclose(model.log_prob(x), mix.log_prob(x), atol=1e-4)


def test_samplers_follow_their_models(ring):
    x, _ = ring
    model, _ = DN.fit_gmm(x, 8, seed=0)
    s = model.sample(4000, generator=0)
    assert s.shape == (4000, 2) and torch.equal(s, model.sample(4000, generator=0))
    assert abs(DN.average_log_likelihood(model, s) - DN.average_log_likelihood(model, x)) < 0.15
    h = DN.fit_histogram(x, 10)
    hs = h.sample(4000, generator=1)
    i, j, inside = h.cells(hs)
    assert bool(inside.all()) and bool((h.probs[i, j] > 0).all())             # never in an empty cell


def test_bad_arguments_raise_value_errors():
    x = torch.randn(10, 2)
    for call, word in ((lambda: DN.fit_histogram(x, 0), "bins"), (lambda: DN.fit_histogram(x, 5, alpha=-1), "alpha"),
                       (lambda: DN.fit_gmm(x, 0), "k"), (lambda: DN.fit_gmm(x, 11), "k"),
                       (lambda: DN.fit_gmm(torch.randn(10), 2), "x"),
                       (lambda: DN.fit_histogram(torch.randn(5, 3), 4), "x"),
                       (lambda: DN.data_log_prob("moons", x), "name"), (lambda: DN.fit_gmm(x, 2, reg=0), "reg")):
        with pytest.raises(ValueError, match=word):
            call()


def test_em_matches_scikit_learn_from_the_same_start():
    """An independent oracle: scikit-learn's GaussianMixture started at init_gmm's parameters (same reg on the
    diagonal) reaches the same parameters after the same number of EM iterations, on fresh random data."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture as SkMixture

    seed = int(torch.randint(0, 10_000, (1,)))
    g = torch.Generator().manual_seed(seed)
    x = torch.cat([torch.randn(150, 2, generator=g) * 0.4 + torch.tensor([2.0, 0.0]),
                   torch.randn(100, 2, generator=g) @ torch.tensor([[1.0, 0.6], [0.0, 0.5]]) - 1.0])
    start = DN.init_gmm(x, 3, seed=seed, reg=1e-3)
    ours, _ = DN.fit_gmm(x, 3, iters=15, seed=seed, reg=1e-3, tol=0.0)
    sk = SkMixture(3, covariance_type="full", reg_covar=1e-3, max_iter=15, tol=0.0, random_state=0,
                   weights_init=start.weights.numpy(), means_init=start.means.numpy(),
                   precisions_init=torch.linalg.inv(start.covs).numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk.fit(x.double().numpy())
    assert torch.allclose(ours.means, torch.from_numpy(sk.means_), atol=1e-6), seed
    assert torch.allclose(ours.covs, torch.from_numpy(sk.covariances_), atol=1e-6), seed
    assert torch.allclose(ours.weights, torch.from_numpy(sk.weights_), atol=1e-6), seed


def test_em_step_is_one_iteration_of_fit_gmm_and_responsibilities_are_the_posterior(ring):
    x, _ = ring
    start = DN.init_gmm(x, 5, seed=3)
    one = DN.em_step(start, x)
    fitted, history = DN.fit_gmm(x, 5, iters=1, seed=3, tol=0.0)
    assert torch.equal(one.means, fitted.means) and torch.equal(one.covs, fitted.covs)
    assert history[1] >= history[0]
    r = DN.responsibilities(one, x)
    assert torch.allclose(r.sum(1), torch.ones(len(x), dtype=r.dtype))
    joint = one.component_log_probs(x)                       # log π_k N(x; μ_k, Σ_k)
    elbo = (r * (joint - r.clamp_min(1e-300).log())).sum(1)
    assert torch.allclose(elbo, one.log_prob(x).double(), atol=1e-4)   # q = exact posterior: the bound is tight
    with pytest.raises(ValueError, match="k"):
        DN.init_gmm(x[:3], 4)

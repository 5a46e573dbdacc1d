"""The forward process q: the Markov step, the closed form, the posterior, x̂_0, and that chain and closed form
agree in distribution (slides: 前向扩散过程)."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

from coursekit import diffusion as D
from coursekit.data import sample_2d

F64 = torch.float64


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------------------------------------------------
# Exact formulas with given noise
# ---------------------------------------------------------------------------------------------------------

def test_forward_step_and_q_sample_are_the_slide_formulas():
    s = D.make_schedule("linear", T=100, beta_end=0.2, dtype=F64)
    g = _gen(0)
    x = torch.randn(4, 3, 2, generator=g, dtype=F64)
    eps = torch.randn(4, 3, 2, generator=g, dtype=F64)
    t = torch.tensor([1, 7, 50, 100])
    beta = torch.linspace(1e-4, 0.2, 100, dtype=F64)
    alpha_bar = torch.cumprod(1 - beta, 0)
    for i, ti in enumerate(t.tolist()):
        b, ab = float(beta[ti - 1]), float(alpha_bar[ti - 1])
        torch.testing.assert_close(D.forward_step(s, x, t, eps)[i], math.sqrt(1 - b) * x[i] + math.sqrt(b) * eps[i])
        torch.testing.assert_close(D.q_sample(s, x, t, eps)[i], math.sqrt(ab) * x[i] + math.sqrt(1 - ab) * eps[i])


def test_int_t_and_0d_tensor_t_broadcast_like_a_full_tensor():
    s = D.make_schedule("linear", T=50)
    x0, eps = torch.randn(5, 2, generator=_gen(1)), torch.randn(5, 2, generator=_gen(2))
    full = D.q_sample(s, x0, torch.full((5,), 13), eps)
    assert torch.equal(D.q_sample(s, x0, 13, eps), full)
    assert torch.equal(D.q_sample(s, x0, torch.tensor(13), eps), full)
    assert torch.equal(D.q_sample(s, x0, torch.full((5,), 13, dtype=torch.int32), eps), full)


def test_float32_inputs_stay_float32(device):
    s = D.make_schedule("cosine", T=20).to(device)
    x0 = torch.randn(3, 1, 4, 4, device=device)
    out = D.q_sample(s, x0, 5, torch.randn_like(x0))
    assert out.dtype == torch.float32 and out.device.type == device.type and out.shape == x0.shape
    assert D.forward_step(s, x0, 5, torch.randn_like(x0)).dtype == torch.float32


def test_predict_x0_inverts_q_sample_exactly():
    g = _gen(3)
    for name in D.SCHEDULES:
        s = D.make_schedule(name, T=1000, dtype=F64)
        x0 = torch.randn(8, 1, 4, 4, generator=g, dtype=F64)
        eps = torch.randn(8, 1, 4, 4, generator=g, dtype=F64)
        t = torch.tensor([1, 2, 10, 100, 500, 900, 990, 1000 if name != "cosine" else 950])
        x_t = D.q_sample(s, x0, t, eps)
        # the error of the inversion grows like 1/√ᾱ_t; float64 keeps it far below 1e-8 even where ᾱ_t ≈ 1e-5
        torch.testing.assert_close(D.predict_x0(s, x_t, t, eps), x0, rtol=0, atol=1e-8)


def test_q_posterior_is_the_product_of_the_two_gaussians():
    """Hand derivation: q(x_{t−1} | x_t, x_0) ∝ N(x_t; √α_t x_{t−1}, β_t) · N(x_{t−1}; √ᾱ_{t−1} x_0, 1 − ᾱ_{t−1}),
    so its precision is α_t/β_t + 1/(1 − ᾱ_{t−1}) and its mean is
    variance · (√α_t x_t/β_t + √ᾱ_{t−1} x_0/(1 − ᾱ_{t−1}))."""
    s = D.make_schedule("quadratic", T=200, dtype=F64)
    g = _gen(4)
    x0 = torch.randn(6, 3, generator=g, dtype=F64)
    x_t = torch.randn(6, 3, generator=g, dtype=F64)
    betas = s.betas.tolist()
    for t in (2, 3, 17, 100, 199, 200):
        alpha_bar_prev = math.prod(1 - b for b in betas[:t - 1])
        beta, alpha = betas[t - 1], 1 - betas[t - 1]
        var = 1.0 / (alpha / beta + 1.0 / (1.0 - alpha_bar_prev))
        mean = var * (math.sqrt(alpha) * x_t / beta + math.sqrt(alpha_bar_prev) * x0 / (1 - alpha_bar_prev))
        mu, sigma_sq = D.q_posterior(s, x0, x_t, t)
        torch.testing.assert_close(mu, mean, rtol=1e-9, atol=1e-12)
        assert sigma_sq.shape == (6, 1)
        torch.testing.assert_close(sigma_sq, torch.full((6, 1), var, dtype=F64), rtol=1e-9, atol=0)
    # t = 1: ᾱ_0 = 1, the posterior collapses onto x_0
    mu, sigma_sq = D.q_posterior(s, x0, x_t, 1)
    torch.testing.assert_close(mu, x0, rtol=0, atol=1e-12)
    assert bool((sigma_sq == 0).all())


def test_q_posterior_mean_of_predicted_x0_is_algorithm_2_mean():
    """μ̃_t(x̂_0(x_t, ε), x_t) equals the ε form of Algorithm 2, line 4 (the identity DDPM's eq. 11 relies on)."""
    s = D.make_schedule("cosine", T=100, dtype=F64)
    g = _gen(5)
    x_t = torch.randn(7, 2, generator=g, dtype=F64)
    eps = torch.randn(7, 2, generator=g, dtype=F64)
    t = torch.tensor([2, 5, 20, 50, 80, 99, 100])
    mu, _ = D.q_posterior(s, D.predict_x0(s, x_t, t, eps), x_t, t)
    torch.testing.assert_close(mu, D.p_sample_step(s, x_t, t, eps, torch.zeros_like(x_t)), rtol=1e-9, atol=1e-9)


# ---------------------------------------------------------------------------------------------------------
# Distributions: q(x_t | x_0) moments, and the chain against the closed form
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["linear", "cosine"])
def test_q_sample_moments_match_closed_form(name):
    s = D.make_schedule(name, T=1000, dtype=F64)
    n = 100_000
    x0 = torch.tensor([[1.5, -0.7, 0.0]], dtype=F64).expand(n, 3)
    g = _gen(6)
    for t in (1, 50, 300, 700, 1000):
        x_t = D.q_sample(s, x0, t, torch.randn(n, 3, generator=g, dtype=F64))
        ab = float(s.alpha_bars[t - 1])
        sd = math.sqrt(1 - ab)
        # mean within 5 standard errors, variance within 5 standard errors of a Gaussian variance estimate
        torch.testing.assert_close(x_t.mean(0), math.sqrt(ab) * x0[0], rtol=0, atol=5 * sd / math.sqrt(n))
        torch.testing.assert_close(x_t.var(0), torch.full((3,), 1 - ab, dtype=F64), rtol=5 * math.sqrt(2 / n), atol=0)
        corr = torch.corrcoef(x_t.T)
        assert float((corr - torch.eye(3, dtype=F64)).abs().max()) < 5 / math.sqrt(n)   # isotropic: (1 − ᾱ_t) I


def test_forward_chain_is_repeated_forward_step():
    s = D.make_schedule("linear", T=20, beta_end=0.3)
    x0 = torch.randn(5, 2, generator=_gen(7))
    chain = D.forward_chain(s, x0, generator=_gen(8))
    assert chain.shape == (21, 5, 2) and torch.equal(chain[0], x0)
    g, x = _gen(8), x0
    for t in range(1, 21):
        x = D.forward_step(s, x, t, torch.randn(5, 2, generator=g))
        assert torch.equal(chain[t], x)


def test_markov_chain_and_closed_form_agree_in_distribution():
    """x_t from t Markov steps and x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε have the same law given x_0 (two-sample KS on a
    1-D projection, plus moments of the standardised residual) at several t."""
    T, n = 50, 4000
    s = D.make_schedule("linear", T=T, beta_start=1e-3, beta_end=0.2, dtype=F64)
    x0 = sample_2d("ring8", n, seed=1).double()
    chain = D.forward_chain(s, x0, generator=_gen(9))
    u = torch.tensor([0.6, 0.8], dtype=F64)                                # a fixed unit direction
    g = _gen(10)
    closed = {}
    for t in (1, 3, 10, 25, 50):
        closed[t] = D.q_sample(s, x0, t, torch.randn(n, 2, generator=g, dtype=F64))
        p = stats.ks_2samp((chain[t] @ u).numpy(), (closed[t] @ u).numpy()).pvalue
        assert p > 1e-3, (t, p)
        ab = float(s.alpha_bars[t - 1])
        z = (chain[t] - math.sqrt(ab) * x0) / math.sqrt(1 - ab)          # should be N(0, I), independent of x_0
        assert float(z.mean(0).abs().max()) < 5 / math.sqrt(n)
        torch.testing.assert_close(z.var(0), torch.ones(2, dtype=F64), rtol=5 * math.sqrt(2 / n), atol=0)
        assert stats.kstest((z @ u).numpy(), "norm").pvalue > 1e-3
    # the test has power: a chain with the classic slip β_t ε for √β_t ε is rejected at t = 25
    x, g = x0, _gen(11)
    for t in range(1, 26):
        beta = float(s.betas[t - 1])
        x = math.sqrt(1 - beta) * x + beta * torch.randn(n, 2, generator=g, dtype=F64)
    assert stats.ks_2samp((x @ u).numpy(), (closed[25] @ u).numpy()).pvalue < 1e-6


# ---------------------------------------------------------------------------------------------------------
# Bad input: ValueError naming the argument
# ---------------------------------------------------------------------------------------------------------

S = D.make_schedule("linear", T=10)
X = torch.randn(3, 2)
N = torch.randn(3, 2)


@pytest.mark.parametrize("t", [0, 11, -1, 2.0, True, torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0, 1, 2]),
                               torch.tensor([1, 2, 11]), torch.tensor([1, 2]), torch.tensor([[1], [2], [3]]),
                               torch.tensor([True, True, True]), [1, 2, 3], "3", None])
@pytest.mark.parametrize("fn", ["q_sample", "forward_step", "predict_x0"])
def test_bad_t(fn, t):
    with pytest.raises(ValueError, match=r"^t must"):
        getattr(D, fn)(S, X, t, N)


def test_bad_t_message_says_what_was_expected():
    with pytest.raises(ValueError, match=r"t must be in 1\.\.T = 1\.\.10 .*got 0"):
        D.q_sample(S, X, 0, N)
    with pytest.raises(ValueError, match=r"t must be in 1\.\.T = 1\.\.10 .*values in 1\.\.11"):
        D.q_sample(S, X, torch.tensor([1, 5, 11]), N)
    with pytest.raises(ValueError, match=r"t must have shape \(3,\)"):
        D.q_sample(S, X, torch.tensor([1, 5]), N)
    with pytest.raises(ValueError, match=r"t must be an integer tensor"):
        D.q_sample(S, X, torch.tensor([1.0, 5.0, 2.0]), N)


@pytest.mark.parametrize("fn,x_name,noise_name", [("q_sample", "x0", "noise"), ("forward_step", "x_prev", "noise"),
                                                  ("predict_x0", "x_t", "eps")])
def test_bad_tensors(fn, x_name, noise_name):
    f = getattr(D, fn)
    cases = [
        ((X, 2, torch.randn(3, 3)), f"{noise_name} must have the shape of {x_name}"),
        ((X, 2, torch.randn(2, 2)), f"{noise_name} must have the shape of {x_name}"),
        ((X, 2, N.double()), f"{noise_name} must have the dtype of {x_name}"),
        ((X, 2, torch.empty(3, 2, device="meta")), f"{noise_name} must be on the device of {x_name}"),
        ((X, 2, N.numpy()), f"{noise_name} must be a torch.Tensor"),
        ((X, 2, torch.tensor([[0.0, 1.0], [float("nan"), 0.0], [0.0, 0.0]])), f"{noise_name} contains NaN"),
        ((X, 2, torch.full((3, 2), float("inf"))), f"{noise_name} contains NaN or infinite"),
        ((torch.tensor([[0.0, float("-inf")]] * 3), 2, N), f"{x_name} contains NaN or infinite"),
        ((torch.ones(3, 2, dtype=torch.long), 2, N), f"{x_name} must be a floating-point tensor"),
        ((torch.tensor(1.0), 2, torch.tensor(1.0)), f"{x_name} must have at least 1 dimensions"),
        ((X.numpy(), 2, N), f"{x_name} must be a torch.Tensor"),
        ((torch.empty(3, 2, device="meta"), 2, torch.empty(3, 2, device="meta")), f"{x_name} is on meta"),
    ]
    for args, message in cases:
        with pytest.raises(ValueError, match=message):
            f(S, *args)


def test_bad_q_posterior_inputs():
    with pytest.raises(ValueError, match="x0 must have the shape of x_t"):
        D.q_posterior(S, torch.randn(3, 3), X, 2)
    with pytest.raises(ValueError, match="x_t contains NaN"):
        D.q_posterior(S, X, torch.full((3, 2), float("nan")), 2)
    with pytest.raises(ValueError, match="t must be in 1..T"):
        D.q_posterior(S, X, N, 11)


def test_forward_on_another_device_than_the_schedule(device):
    """A schedule on one device with data on another is refused with a hint, not a device error from inside."""
    other = torch.device("meta") if device.type == "cpu" else torch.device("cpu")
    s = D.make_schedule("linear", T=10).to(device)
    x = torch.zeros(3, 2, device=other)
    with pytest.raises(ValueError, match=r"x0 is on .* but the schedule is on .*use s\.to"):
        D.q_sample(s, x, 2, torch.zeros_like(x))

"""Training objectives (slides: 训练过程): DDPM Algorithm 1 (L_simple) and Algorithm 1.2 (regress x_{t−1} from x_t)."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats
from torch import nn

from coursekit import diffusion as D
from coursekit.nets import MLPDenoiser, UNet

F64 = torch.float64


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


class Recorder(nn.Module):
    """ε_θ that records what it was called with and returns a learnable tensor ``out`` (zeros), so the gradient
    of the loss with respect to ``out`` reveals the regression target."""

    def __init__(self, shape, dtype=torch.float32):
        super().__init__()
        self.out = nn.Parameter(torch.zeros(shape, dtype=dtype))
        self.inputs = []

    def forward(self, x, t, y=None):
        self.inputs.append((x.detach().clone(), t.clone(), None if y is None else y.clone()))
        return self.out + 0 * x


def _target(model: Recorder, loss: torch.Tensor) -> torch.Tensor:
    """For loss = mean((out − target)²) with out = 0: target = −∂loss/∂out · numel / 2."""
    (grad,) = torch.autograd.grad(loss, model.out)
    return -grad * model.out.numel() / 2


# ---------------------------------------------------------------------------------------------------------
# L_simple
# ---------------------------------------------------------------------------------------------------------

def test_ddpm_loss_is_the_hand_computation():
    s = D.make_schedule("linear", T=100, beta_end=0.2, dtype=F64)
    g = _gen(0)
    model = MLPDenoiser(dim=3, hidden=16, depth=1).double()
    x0 = torch.randn(5, 3, generator=g, dtype=F64)
    noise = torch.randn(5, 3, generator=g, dtype=F64)
    t = torch.tensor([1, 10, 50, 99, 100])
    ab = torch.cumprod(1 - torch.linspace(1e-4, 0.2, 100, dtype=F64), 0)[t - 1][:, None]
    x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * noise
    expected = ((noise - model(x_t, t)) ** 2).sum() / noise.numel()        # ‖ε − ε_θ(x_t, t)‖² / dim, batch mean
    loss = D.ddpm_loss(model, s, x0, t=t, noise=noise)
    assert loss.ndim == 0
    torch.testing.assert_close(loss.double(), expected, rtol=1e-6, atol=0)
    # an int t is broadcast
    torch.testing.assert_close(D.ddpm_loss(model, s, x0, t=7, noise=noise),
                               D.ddpm_loss(model, s, x0, t=torch.full((5,), 7), noise=noise))


def test_ddpm_loss_draws_t_uniformly_and_standard_normal_noise():
    T = 20
    s = D.make_schedule("linear", T=T, beta_end=0.5, dtype=F64)
    model = Recorder((4000, 1), dtype=F64)
    x0 = torch.zeros(4000, 1, dtype=F64)                       # then x_t = √(1 − ᾱ_t) ε
    loss = D.ddpm_loss(model, s, x0, generator=_gen(1))
    x_t, t, _ = model.inputs[0]
    assert t.dtype == torch.long and int(t.min()) == 1 and int(t.max()) == T
    counts = torch.bincount(t, minlength=T + 1)[1:].numpy()
    assert stats.chisquare(counts).pvalue > 1e-3                 # t ~ U{1, …, T}
    eps = (x_t / s.sqrt_one_minus_alpha_bars[t - 1][:, None]).flatten().numpy()
    assert stats.kstest(eps, "norm").pvalue > 1e-3               # ε ~ N(0, I)
    torch.testing.assert_close(_target(model, loss).flatten().double(), torch.from_numpy(eps), rtol=1e-5, atol=1e-5)
    # the same generator seed gives the same loss
    m1, m2 = MLPDenoiser(hidden=8, depth=1), MLPDenoiser(hidden=8, depth=1)
    m2.load_state_dict(m1.state_dict())
    x0 = torch.randn(16, 2, generator=_gen(2))
    assert torch.equal(D.ddpm_loss(m1, s.to(dtype=torch.float32), x0, generator=_gen(3)),
                       D.ddpm_loss(m2, s.to(dtype=torch.float32), x0, generator=_gen(3)))


def test_ddpm_loss_labels_and_label_dropout():
    s = D.make_schedule("linear", T=10)
    x0 = torch.randn(1000, 2, generator=_gen(4))
    y = torch.randint(0, 10, (1000,), generator=_gen(5))
    model = Recorder((1000, 2))
    D.ddpm_loss(model, s, x0, y=y, generator=_gen(6))
    assert torch.equal(model.inputs[-1][2], y)                     # p_uncond = 0: labels untouched
    D.ddpm_loss(model, s, x0, y=y, p_uncond=1.0, generator=_gen(6))
    assert bool((model.inputs[-1][2] == D.NULL_LABEL).all())
    D.ddpm_loss(model, s, x0, y=y, p_uncond=0.25, generator=_gen(6))
    dropped = model.inputs[-1][2] == D.NULL_LABEL
    assert 0.2 < float(dropped.float().mean()) < 0.3
    assert torch.equal(model.inputs[-1][2][~dropped], y[~dropped])
    D.ddpm_loss(model, s, x0, generator=_gen(6))
    assert model.inputs[-1][2] is None                             # unconditional: model(x_t, t)


# ---------------------------------------------------------------------------------------------------------
# Min-SNR-γ weighting (Hang et al. 2023): w_t = min(SNR_t, γ) / SNR_t, SNR_t = ᾱ_t / (1 − ᾱ_t)
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("gamma", [0.5, 5.0, 20.0])
def test_min_snr_loss_is_the_hand_computation(gamma):
    T = 100
    s = D.make_schedule("linear", T=T, beta_end=0.2, dtype=F64)
    g = _gen(int(gamma * 10))
    x0 = torch.randn(7, 1, 3, 3, generator=g, dtype=F64)
    noise = torch.randn(7, 1, 3, 3, generator=g, dtype=F64)
    t = torch.cat([torch.tensor([1, T]), torch.randint(1, T + 1, (5,), generator=g)])
    model = Recorder((7, 1, 3, 3), dtype=F64)
    with torch.no_grad():
        model.out.copy_(torch.randn(7, 1, 3, 3, generator=g, dtype=F64))    # a fixed, arbitrary ε_θ
    betas = torch.linspace(1e-4, 0.2, T, dtype=F64)
    weights, terms = [], []
    for i in range(7):                                                       # one example at a time, by hand
        ab = float(torch.prod(1 - betas[: int(t[i])]))                       # ᾱ_t = ∏_{s ≤ t} (1 − β_s)
        snr = ab / (1 - ab)
        weights.append(min(snr, gamma) / snr)
        terms.append(float(((noise[i] - model.out[i].detach()) ** 2).mean()))        # ‖ε − ε_θ‖² / dim(x)
    expected = sum(w * e for w, e in zip(weights, terms)) / 7
    assert min(weights) < 1 and max(weights) == 1                           # both branches of the min are used
    loss = D.ddpm_loss(model, s, x0, t=t, noise=noise, weighting="min_snr", gamma=gamma)
    assert loss.ndim == 0
    assert math.isclose(loss.item(), expected, rel_tol=1e-5)
    # the default is L_simple, and min-SNR with γ ≥ every SNR_t is L_simple too
    simple = float(((noise - model.out.detach()) ** 2).mean())
    assert math.isclose(D.ddpm_loss(model, s, x0, t=t, noise=noise).item(), simple, rel_tol=1e-5)
    big = float(s.snr.max()) * 2
    assert math.isclose(D.ddpm_loss(model, s, x0, t=t, noise=noise, weighting="min_snr", gamma=big).item(),
                        simple, rel_tol=1e-5)


def test_min_snr_loss_at_a_near_zero_snr_and_bad_options():
    s = D.schedule_from_betas(torch.tensor([0.1, 0.5, 1 - 1e-12], dtype=F64))  # SNR_3 ≈ 5e-13: w_3 = 1
    model = Recorder((3, 2))
    x0, noise = torch.randn(3, 2, generator=_gen(1)), torch.randn(3, 2, generator=_gen(2))
    loss = D.ddpm_loss(model, s, x0, t=torch.tensor([3, 3, 3]), noise=noise, weighting="min_snr")
    torch.testing.assert_close(loss, (noise ** 2).mean())
    for kwargs, message in [(dict(weighting="snr"), "weighting must be one of"),
                            (dict(weighting="min_snr", gamma=0.0), "gamma must be a finite number > 0"),
                            (dict(weighting="min_snr", gamma=float("nan")), "gamma must be a finite number > 0"),
                            (dict(weighting="min_snr", gamma=-1), "gamma must be a finite number > 0")]:
        with pytest.raises(ValueError, match=message):
            D.ddpm_loss(model, s, x0, **kwargs)


def test_a_recipe_selects_the_weighting_and_survives_a_checkpoint_round_trip():
    import dataclasses

    from coursekit.recipes import Recipe, recipe

    assert recipe("ring8").loss == {}                                        # a recipe's default: L_simple
    assert recipe("digits-cond").loss == {"weighting": "min_snr", "gamma": 5.0}   # the digits recipes: min-SNR
    weighted = recipe("digits")
    assert weighted.loss == {"weighting": "min_snr", "gamma": 10.0} and weighted.prediction == "x0"
    assert recipe("digits-cond").prediction == "eps"
    plain = dataclasses.replace(weighted, loss={})
    s = weighted.build_schedule()
    x0 = torch.randn(16, 1, 8, 8, generator=_gen(3))
    model = Recorder((16, 1, 8, 8))
    with torch.no_grad():
        model.out.copy_(torch.randn(16, 1, 8, 8, generator=_gen(4)))
    torch.manual_seed(5)
    ours = weighted.loss_fn(s)(model, x0)
    torch.manual_seed(5)
    direct = D.ddpm_loss(model, s, x0, weighting="min_snr", gamma=10.0, prediction="x0")
    torch.manual_seed(5)
    unweighted = plain.loss_fn(s)(model, x0)
    assert torch.equal(ours, direct) and not torch.equal(ours, unweighted)
    assert Recipe(**dataclasses.asdict(weighted)) == weighted                # what `coursekit ddpm` saves and reads


# ---------------------------------------------------------------------------------------------------------
# The variational bound's own weights (weighting="vlb"): DDPM eq. 12, λ_t = β_t² / (2 σ_t² α_t (1 − ᾱ_t))
# ---------------------------------------------------------------------------------------------------------

def test_vlb_weights_are_ddpms_lambda():
    s = D.make_schedule("linear", T=50, beta_start=1e-3, beta_end=0.3, dtype=F64)
    betas = torch.linspace(1e-3, 0.3, 50, dtype=F64)
    alpha_bars = torch.cumprod(1 - betas, 0)
    sigma_sq = betas                                                          # σ_t² = β_t
    expected = betas ** 2 / (2 * sigma_sq * (1 - betas) * (1 - alpha_bars))
    torch.testing.assert_close(D.vlb_weights(s), expected)
    assert float(D.vlb_weights(s)[0]) == pytest.approx(1 / (2 * (1 - 1e-3)))  # t = 1: 1 − ᾱ_1 = β_1
    assert D.vlb_weights(s).argmax() == 0                                     # largest at small t


@pytest.mark.parametrize("prediction", ["eps", "x0"])
def test_vlb_loss_times_dim_is_the_bounds_kl_term_minus_its_constant(prediction):
    """For each t ≥ 2 and the same ε: D · loss + C_t = KL(q(x_{t−1}|x_t, x_0) ‖ p_θ(x_{t−1}|x_t)) with σ_t² = β_t,
    the term L_{t−1} of the bound, computed independently from the two Gaussians (μ̃_t, β̃_t) and (μ_θ, β_t)."""
    T, shape = 40, (6, 1, 2, 3)
    s = D.make_schedule("linear", T=T, beta_start=1e-3, beta_end=0.3, dtype=F64)
    g = _gen(11 if prediction == "eps" else 12)
    x0 = torch.randn(shape, generator=g, dtype=F64)
    noise = torch.randn(shape, generator=g, dtype=F64)
    t = torch.tensor([2, 5, 11, 20, 33, T])
    model = Recorder(shape, dtype=F64)
    with torch.no_grad():
        model.out.copy_(torch.randn(shape, generator=g, dtype=F64))          # a fixed, arbitrary output
    loss = D.ddpm_loss(model, s, x0, t=t, noise=noise, weighting="vlb", prediction=prediction)
    dim = x0[0].numel()
    x_t = D.q_sample(s, x0, t, noise)
    mu_tilde, beta_tilde = D.q_posterior(s, x0, x_t, t)
    out = model.out.detach()
    x0_hat = out if prediction == "x0" else D.predict_x0(s, x_t, t, out)
    mu_theta, _ = D.q_posterior(s, x0_hat, x_t, t)                           # μ_θ = μ̃_t(x̂_0, x_t)
    sigma_sq = s.betas[t - 1].reshape(-1, 1, 1, 1)
    kl = 0.5 * (torch.log(sigma_sq / beta_tilde) + (beta_tilde + (mu_tilde - mu_theta) ** 2) / sigma_sq - 1)
    kl = kl.flatten(1).sum(1)
    const = 0.5 * dim * (beta_tilde / sigma_sq - 1 - torch.log(beta_tilde / sigma_sq)).flatten(1)[:, 0]
    assert math.isclose(loss.item() * dim, float((kl - const).mean()), rel_tol=1e-5)   # the loss is float32
    assert float(const.min()) > 0                                             # C_t > 0 unless β̃_t = σ_t²


@pytest.mark.parametrize("weighting, prediction", [("vlb", "eps"), ("vlb", "x0"), ("min_snr", "eps")])
def test_importance_sampled_t_has_the_same_expectation(weighting, prediction):
    """t_sampling="importance" draws t ∝ w_t and weighs every draw by mean(w): its expectation over t equals the
    uniform-t loss's, computed exactly as the average over all t of w_t · m_t (m_t: this model's error at t)."""
    T, shape = 30, (4, 3)
    s = D.make_schedule("linear", T=T, beta_start=1e-3, beta_end=0.3, dtype=F64)
    g = _gen(21)
    x0 = torch.randn(shape, generator=g, dtype=F64)
    noise = torch.randn(shape, generator=g, dtype=F64)
    model = Recorder(shape, dtype=F64)
    with torch.no_grad():
        model.out.copy_(torch.randn(shape, generator=g, dtype=F64))
    w = D.loss_weights(s, weighting, 5.0, prediction)
    per_t = torch.stack([D.ddpm_loss(model, s, x0, t=t, noise=noise, weighting="simple", prediction=prediction)
                         for t in range(1, T + 1)]).detach().double()          # m_t
    exact = float((w * per_t).mean())                                          # E_{t ~ U}[w_t m_t]
    uniform = float(torch.stack([D.ddpm_loss(model, s, x0, t=t, noise=noise, weighting=weighting,
                                             prediction=prediction) for t in range(1, T + 1)]).detach().mean())
    assert math.isclose(uniform, exact, rel_tol=1e-5)
    # the importance-sampled loss of one draw is mean(w) · m_t for the drawn t; over many draws of t its mean → exact
    draws = [D.ddpm_loss(model, s, x0, noise=noise, weighting=weighting, prediction=prediction,
                         t_sampling="importance", generator=_gen(100 + i)).item() for i in range(400)]
    assert math.isclose(sum(draws) / len(draws), exact, rel_tol=0.05)
    # and its t follow p_t ∝ w_t (χ² against the expected counts)
    model.inputs.clear()
    for i in range(300):
        D.ddpm_loss(model, s, x0, noise=noise, weighting=weighting, prediction=prediction, t_sampling="importance",
                    generator=_gen(1000 + i))
    counts = torch.bincount(torch.cat([t for _, t, _ in model.inputs]) - 1, minlength=T).double()
    expected = (w / w.sum()) * counts.sum()
    keep = expected >= 5
    chi2 = float((((counts - expected) ** 2) / expected)[keep].sum())
    assert stats.chi2.sf(chi2, int(keep.sum()) - 1) > 1e-3


def test_importance_sampling_refuses_a_given_t():
    s = D.make_schedule("linear", T=20, beta_end=0.2)
    model = MLPDenoiser(dim=2, hidden=8, depth=1)
    x0 = torch.randn(4, 2, generator=_gen(5))
    with pytest.raises(ValueError, match="t_sampling='importance' draws t itself"):
        D.ddpm_loss(model, s, x0, t=3, weighting="vlb", t_sampling="importance")
    with pytest.raises(ValueError, match="t_sampling must be one of"):
        D.ddpm_loss(model, s, x0, t_sampling="stratified")


def test_vlb_weighting_trains_and_is_refused_with_a_typo():
    s = D.make_schedule("linear", T=20, beta_end=0.2)
    model = MLPDenoiser(dim=2, hidden=16, depth=1)
    x0 = torch.randn(32, 2, generator=_gen(3))
    loss = D.ddpm_loss(model, s, x0, weighting="vlb", generator=_gen(4))
    loss.backward()
    assert loss.item() > 0 and all(p.grad is not None for p in model.parameters())
    with pytest.raises(ValueError, match="weighting must be one of 'simple', 'min_snr', 'vlb'"):
        D.ddpm_loss(model, s, x0, weighting="elbo")


def test_drop_labels():
    y = torch.arange(10).repeat(100)
    assert torch.equal(D.drop_labels(y, 0.0), y)
    assert bool((D.drop_labels(y, 1.0) == D.NULL_LABEL).all())
    a, b = D.drop_labels(y, 0.5, _gen(0)), D.drop_labels(y, 0.5, _gen(0))
    assert torch.equal(a, b) and 0.4 < float((a == -1).float().mean()) < 0.6
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match="p_uncond"):
            D.drop_labels(y, p)


@pytest.mark.parametrize("loss_fn", [D.ddpm_loss, D.sequence_loss])
def test_gradients_flow_to_every_parameter(loss_fn):
    s = D.make_schedule("linear", T=50)
    for model, x0, y in [(MLPDenoiser(hidden=16, depth=2, num_classes=3), torch.randn(32, 2, generator=_gen(1)),
                          torch.arange(32) % 3),
                         (UNet(base_channels=8, num_classes=3), torch.randn(8, 1, 8, 8, generator=_gen(2)),
                          torch.arange(8) % 3)]:
        loss = loss_fn(model, s, x0, y=y, generator=_gen(3))
        assert loss.ndim == 0 and bool(torch.isfinite(loss))
        loss.backward()
        for name, p in model.named_parameters():
            assert p.grad is not None, name
            assert bool(torch.isfinite(p.grad).all()), name
            if name != "label_emb.table.weight":               # the null-token row gets no gradient without dropout
                assert float(p.grad.abs().sum()) > 0, name


# ---------------------------------------------------------------------------------------------------------
# Algorithm 1.2: pairs (x_t, x_{t−1}) distributed as the chain
# ---------------------------------------------------------------------------------------------------------

def _pairs(s, x0, t, seed):
    model = Recorder(x0.shape)
    loss = D.sequence_loss(model, s, x0, t=t, generator=_gen(seed))
    x_t, t_seen, _ = model.inputs[0]
    return x_t, _target(model, loss), t_seen, loss


def test_sequence_loss_pairs_are_distributed_as_the_chain():
    T, n = 30, 12000   # below torch's 32768-element grain: single-threaded, no thread thrash on a busy CI
    s = D.make_schedule("linear", T=T, beta_start=1e-3, beta_end=0.3)
    x0 = torch.tensor([[1.0, -2.0]]).repeat(n, 1)
    chain = D.forward_chain(s, x0, generator=_gen(10))
    u = torch.tensor([0.8, -0.6])
    for t in (2, 5, 30):
        x_t, x_prev, t_seen, _ = _pairs(s, x0, t, seed=t)
        assert bool((t_seen == t).all())
        ab_prev, beta = float(s.alpha_bars[t - 2]), float(s.betas[t - 1])
        # x_{t−1} ~ q(x_{t−1} | x_0) and x_t − √α_t x_{t−1} ~ N(0, β_t) independent of x_{t−1}
        torch.testing.assert_close(x_prev.mean(0), math.sqrt(ab_prev) * x0[0], rtol=0,
                                   atol=5 * math.sqrt((1 - ab_prev) / n))
        torch.testing.assert_close(x_prev.var(0), torch.full((2,), 1 - ab_prev), rtol=5 * math.sqrt(2 / n), atol=0)
        step = x_t - math.sqrt(1 - beta) * x_prev
        torch.testing.assert_close(step.var(0), torch.full((2,), beta), rtol=5 * math.sqrt(2 / n), atol=1e-6)
        assert float(step.mean(0).abs().max()) < 5 * math.sqrt(beta / n)
        assert abs(float(torch.corrcoef(torch.stack([step[:, 0], x_prev[:, 0]]))[0, 1])) < 5 / math.sqrt(n)
        # the same joint law as (x_{t−1}, x_t) from the simulated chain: KS on projections
        for ours, theirs in [(x_prev @ u, chain[t - 1] @ u), (x_t @ u, chain[t] @ u),
                             ((x_t - x_prev) @ u, (chain[t] - chain[t - 1]) @ u)]:
            assert stats.ks_2samp(ours.numpy(), theirs.numpy()).pvalue > 1e-3


def test_sequence_loss_at_t1_regresses_x0_and_is_the_mse():
    s = D.make_schedule("linear", T=10)
    x0 = torch.randn(64, 2, generator=_gen(11))
    x_t, x_prev, _, loss = _pairs(s, x0, 1, seed=0)
    torch.testing.assert_close(x_prev, x0)                                   # x_{t−1} = x_0 at t = 1
    torch.testing.assert_close(loss, (x_prev ** 2).mean())                  # L = mean ‖f − x_{t−1}‖² with f = 0
    beta = float(s.betas[0])
    z = (x_t - math.sqrt(1 - beta) * x0) / math.sqrt(beta)
    assert float(z.abs().max()) < 6 and 0.5 < float(z.std()) < 1.5
    # random t: all of 1..T appear, mixed in one batch
    _, _, t_seen, _ = _pairs(s, torch.randn(2000, 2), None, seed=1)
    assert set(t_seen.tolist()) == set(range(1, 11))


# ---------------------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("loss_fn", [D.ddpm_loss, D.sequence_loss])
def test_objectives_bad_input(loss_fn):
    s = D.make_schedule("linear", T=10)
    model = MLPDenoiser(hidden=8, depth=1, num_classes=10)
    x0 = torch.randn(4, 2)
    cases = [
        (dict(t=0), "t must be in 1..T"),
        (dict(t=11), "t must be in 1..T"),
        (dict(t=-1), "t must be in 1..T"),
        (dict(t=2.5), "t must be an int"),
        (dict(t=torch.tensor([1.0, 2.0, 3.0, 4.0])), "t must be an integer tensor"),
        (dict(t=torch.tensor([1, 2, 3])), r"t must have shape \(4,\)"),
        (dict(y=torch.tensor([1, 2, 3])), r"y must be an integer tensor of shape \(4,\)"),
        (dict(y=torch.zeros(4)), r"y must be an integer tensor of shape \(4,\)"),
        (dict(x0=torch.randn(4)), "x0 must have at least 2 dimensions"),
        (dict(x0=torch.full((4, 2), float("nan"))), "x0 contains NaN"),
        (dict(x0=torch.ones(4, 2, dtype=torch.long)), "x0 must be a floating-point"),
    ]
    if loss_fn is D.ddpm_loss:
        cases += [
            (dict(noise=torch.randn(4, 3)), "noise must have the shape of x0"),
            (dict(noise=torch.randn(4, 2, dtype=F64)), "noise must have the dtype of x0"),
            (dict(noise=torch.full((4, 2), float("inf"))), "noise contains NaN or infinite"),
            (dict(y=torch.arange(4), p_uncond=1.5), "p_uncond must be in"),
        ]
    for change, message in cases:
        kwargs = dict(x0=x0) | change
        with pytest.raises(ValueError, match=message):
            loss_fn(model, s, **kwargs)


def test_ddpm_loss_refuses_a_model_with_the_wrong_output_shape():
    class Wrong(nn.Module):
        def forward(self, x, t):
            return x[:, :1]

    with pytest.raises(ValueError, match="model output must have the shape of x0"):
        D.ddpm_loss(Wrong(), D.make_schedule("linear", T=10), torch.randn(4, 2))


@pytest.mark.parametrize("weighting", ["simple", "min_snr"])
def test_x0_prediction_loss_is_the_hand_computation(weighting):
    """prediction="x0": ‖x_0 − x̂_0‖² / dim(x), weighted by min(SNR_t, γ) under min-SNR (Hang et al.)."""
    betas = torch.linspace(0.02, 0.4, 12, dtype=F64)
    s = D.schedule_from_betas(betas)
    model = Recorder((7, 2, 3))
    with torch.no_grad():
        model.out.copy_(torch.randn(7, 2, 3, generator=_gen(11)))
    x0, noise = torch.randn(7, 2, 3, generator=_gen(12)), torch.randn(7, 2, 3, generator=_gen(13))
    t = torch.tensor([1, 2, 4, 6, 8, 10, 12])
    gamma = 2.0
    expected = 0.0
    for i in range(7):
        ab = float(torch.prod(1 - betas[: int(t[i])]))
        w = min(ab / (1 - ab), gamma) if weighting == "min_snr" else 1.0
        expected += w * float(((x0[i] - model.out[i].detach()) ** 2).mean()) / 7
    loss = D.ddpm_loss(model, s, x0, t=t, noise=noise, weighting=weighting, gamma=gamma, prediction="x0")
    assert math.isclose(loss.item(), expected, rel_tol=1e-5)
    x_t = model.inputs[0][0]                                                 # the model saw x_t, not x_0
    torch.testing.assert_close(x_t, D.q_sample(s, x0, t, noise).to(x_t.dtype))
    with pytest.raises(ValueError, match="prediction must be one of 'eps', 'x0'"):
        D.ddpm_loss(model, s, x0, prediction="v")


def test_a_recipe_draws_with_its_own_prediction():
    """Recipe.draw runs Algorithm 2 for what the network predicts: an x0 recipe steps to μ̃_t(x̂_0, x_t)."""
    import dataclasses

    from coursekit.recipes import recipe, scaled_linear

    r = recipe("digits").with_changes(schedule=scaled_linear(20), model={"hidden": 16, "depth": 1})
    torch.manual_seed(0)
    model = r.build_model().eval()
    x, _ = r.draw(model, r.build_schedule(), 6, seed=4)
    s = r.build_schedule()
    as_x0 = D.sample(model, s, (6, 1, 8, 8), generator=_gen(4), prediction="x0")
    as_eps = D.sample(model, s, (6, 1, 8, 8), generator=_gen(4), prediction="eps")
    assert torch.equal(x, as_x0) and not torch.allclose(x, as_eps)
    eps_r = dataclasses.replace(r, prediction="eps")
    assert torch.equal(eps_r.draw(model, s, 6, seed=4)[0], as_eps)

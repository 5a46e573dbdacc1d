"""Algorithm 2 (slides: 去噪扩散概率模型, 采样过程): one step by hand, the whole loop against a loop of
p_sample_step, trajectories, reproducibility, classifier-free guidance, Algorithm 1.2 sampling, bad input.

(The cross-check of one step against diffusers' DDPMScheduler is in test_oracle_diffusers.py.)
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from coursekit import diffusion as D
from coursekit.nets import MLPDenoiser, UNet

F64 = torch.float64


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


class ToyEps(nn.Module):
    """A deterministic, elementwise ε_θ(x_t, t[, y]) that depends on x, t and the label (−1 = no label)."""

    def __init__(self, T: int):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(0.8))
        self.T = T
        self.calls = 0

    def forward(self, x, t, y=None):
        self.calls += 1
        shape = (-1, *([1] * (x.ndim - 1)))
        out = torch.tanh(self.a * x + (t.to(x.dtype) / self.T).reshape(shape))
        if y is not None:
            out = out + 0.3 * (y.to(x.dtype) + 1).reshape(shape)
        return out


def reference_loop(eps_fn, s, shape, variance, seed, update=None):
    """Algorithm 2 written out with p_sample_step, drawing x_T and then each z from one generator in the same
    order as D.sample (x_T first, then z after each model call, none at t = 1)."""
    g = _gen(seed)
    x = torch.randn(shape, generator=g)
    for t in range(s.T, 0, -1):
        out = eps_fn(x, torch.full((shape[0],), t))
        z = torch.randn(shape, generator=g) if t > 1 else None
        x = (update or D.p_sample_step)(s, x, t, out, z, variance=variance)
    return x


# ---------------------------------------------------------------------------------------------------------
# One step (line 4)
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("variance", D.VARIANCES)
def test_p_sample_step_is_line_4_by_hand(variance):
    s = D.make_schedule("linear", T=100, beta_end=0.2, dtype=F64)
    g = _gen(0)
    x_t, eps, z = (torch.randn(3, 2, 4, generator=g, dtype=F64) for _ in range(3))
    beta = torch.linspace(1e-4, 0.2, 100, dtype=F64).tolist()
    for t in (2, 10, 100):
        alpha = 1 - beta[t - 1]
        alpha_bar = math.prod(1 - b for b in beta[:t])
        alpha_bar_prev = alpha_bar / alpha
        sigma_sq = beta[t - 1] if variance == "beta" else (1 - alpha_bar_prev) / (1 - alpha_bar) * beta[t - 1]
        expected = (x_t - (1 - alpha) / math.sqrt(1 - alpha_bar) * eps) / math.sqrt(alpha) + math.sqrt(sigma_sq) * z
        torch.testing.assert_close(D.p_sample_step(s, x_t, t, eps, z, variance=variance), expected)


@pytest.mark.parametrize("variance", D.VARIANCES)
def test_p_sample_step_at_t1_ignores_noise(variance):
    s = D.make_schedule("cosine", T=50)
    g = _gen(1)
    x_t, eps = torch.randn(4, 2, generator=g), torch.randn(4, 2, generator=g)
    clean = D.p_sample_step(s, x_t, 1, eps, None, variance=variance)
    assert torch.equal(D.p_sample_step(s, x_t, 1, eps, torch.full_like(x_t, 1e6), variance=variance), clean)
    assert torch.equal(D.p_sample_step(s, x_t, torch.ones(4, dtype=torch.long), eps, None, variance=variance), clean)
    # z = 0 at t = 1: the mean only, the same for both variance choices
    assert torch.equal(D.p_sample_step(s, x_t, 1, eps, None, variance="beta"),
                       D.p_sample_step(s, x_t, 1, eps, None, variance="beta_tilde"))
    # in a mixed batch the t = 1 example ignores its noise and the others use theirs
    t = torch.tensor([1, 2, 1, 30])
    noise = torch.randn(4, 2, generator=g)
    mixed = D.p_sample_step(s, x_t, t, eps, noise, variance=variance)
    assert torch.equal(mixed[[0, 2]], clean[[0, 2]])
    no_noise = D.p_sample_step(s, x_t, t, eps, torch.zeros_like(noise), variance=variance)
    sigma_sq = (s.betas if variance == "beta" else s.posterior_variance)[t[[1, 3]] - 1]
    torch.testing.assert_close(mixed[[1, 3]] - no_noise[[1, 3]], sigma_sq.sqrt()[:, None] * noise[[1, 3]])


def test_p_sample_step_bad_input():
    s = D.make_schedule("linear", T=10)
    x, eps, z = torch.randn(3, 2), torch.randn(3, 2), torch.randn(3, 2)
    cases = [
        (dict(noise=None, t=2), "noise must be a tensor"),
        (dict(noise=None, t=torch.tensor([1, 1, 2])), "noise must be a tensor"),
        (dict(t=0), "t must be in 1..T"),
        (dict(t=11), "t must be in 1..T"),
        (dict(t=-3), "t must be in 1..T"),
        (dict(t=1.0), "t must be an int"),
        (dict(t=torch.tensor([1, 2])), r"t must have shape \(3,\)"),
        (dict(variance="fixed_large"), "variance must be one of 'beta', 'beta_tilde'"),
        (dict(eps=torch.randn(3, 3)), "eps must have the shape of x_t"),
        (dict(eps=eps.double()), "eps must have the dtype of x_t"),
        (dict(eps=torch.empty(3, 2, device="meta")), "eps must be on the device of x_t"),
        (dict(noise=torch.randn(2, 2)), "noise must have the shape of x_t"),
        (dict(noise=z.half()), "noise must have the dtype of x_t"),
        (dict(noise=torch.empty(3, 2, device="meta")), "noise must be on the device of x_t"),
        (dict(noise=torch.full((3, 2), float("nan"))), "noise contains NaN"),
        (dict(eps=torch.full((3, 2), float("inf"))), "eps contains NaN or infinite"),
        (dict(x_t=torch.full((3, 2), float("nan"))), "x_t contains NaN"),
        (dict(x_t=torch.ones(3, 2, dtype=torch.long)), "x_t must be a floating-point"),
    ]
    for change, message in cases:
        kwargs = dict(x_t=x, t=2, eps=eps, noise=z, variance="beta") | change
        with pytest.raises(ValueError, match=message):
            D.p_sample_step(s, **kwargs)


# ---------------------------------------------------------------------------------------------------------
# The whole loop
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("variance", D.VARIANCES)
def test_sample_is_a_loop_of_p_sample_step(variance):
    s = D.make_schedule("linear", T=30, beta_end=0.3)
    model = ToyEps(30)
    with torch.no_grad():
        expected = reference_loop(model, s, (6, 2), variance, seed=3)
    got = D.sample(model, s, (6, 2), variance=variance, generator=_gen(3))
    assert model.calls == 2 * 30                   # one forward pass per step, no extra work
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_sample_is_reproducible_with_a_seeded_generator():
    s = D.make_schedule("cosine", T=25)
    model = ToyEps(25)
    a = D.sample(model, s, (4, 1, 2, 2), generator=_gen(5))
    b = D.sample(model, s, (4, 1, 2, 2), generator=_gen(5))
    c = D.sample(model, s, (4, 1, 2, 2), generator=_gen(6))
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    assert a.shape == (4, 1, 2, 2) and a.dtype == torch.float32


def test_sample_trajectory():
    T = 20
    s = D.make_schedule("linear", T=T, beta_end=0.4)
    model = ToyEps(T)
    x, traj = D.sample(model, s, (3, 2), generator=_gen(7), trajectory_every=6)
    assert traj.steps == [20, 18, 12, 6, 1]                     # T, every multiple of 6, and 1, descending
    for name in ("x_t", "x0_pred", "eps_pred", "added_noise"):
        assert getattr(traj, name).shape == (5, 3, 2), name
    assert torch.equal(traj.x0, x)
    assert torch.equal(D.sample(model, s, (3, 2), generator=_gen(7)), x)    # recording changes nothing
    assert torch.equal(traj.x_t[0], torch.randn(3, 2, generator=_gen(7)))   # x_T ~ N(0, I), the first draw
    for i, t in enumerate(traj.steps):
        t_vec = torch.full((3,), t)
        torch.testing.assert_close(traj.eps_pred[i], model(traj.x_t[i], t_vec).detach())
        torch.testing.assert_close(traj.x0_pred[i], D.predict_x0(s, traj.x_t[i], t, traj.eps_pred[i]))
    assert torch.equal(traj.added_noise[-1], torch.zeros(3, 2))             # z = 0 at t = 1
    assert float(traj.added_noise[0].abs().sum()) > 0

    # every step recorded: each record follows from the previous one by line 4 with the recorded σ_t z
    x, traj = D.sample(model, s, (3, 2), variance="beta_tilde", generator=_gen(8), trajectory_every=1)
    assert traj.steps == list(range(T, 0, -1))
    for i, t in enumerate(traj.steps):
        nxt = D.p_sample_step(s, traj.x_t[i], t, traj.eps_pred[i], torch.zeros(3, 2)) + traj.added_noise[i]
        torch.testing.assert_close(nxt, traj.x_t[i + 1] if i + 1 < T else x, rtol=1e-5, atol=1e-5)
        if t > 1:   # σ_t z has the β̃_t scale: σ_t z / σ_t is the standard normal draw of step t
            sigma = float(s.posterior_variance[t - 1].sqrt())
            assert float((traj.added_noise[i] / sigma).abs().max()) < 6


@pytest.mark.parametrize("every", [0, -1, 1.5, "2"])
def test_sample_bad_trajectory_every(every):
    with pytest.raises(ValueError, match="trajectory_every"):
        D.sample(ToyEps(5), D.make_schedule("linear", T=5), (2, 2), trajectory_every=every)


def test_guidance_scale_one_is_plain_conditional_and_zero_is_unconditional():
    T = 15
    s = D.make_schedule("linear", T=T, beta_end=0.5)
    model = ToyEps(T)
    y = torch.tensor([0, 3, 7, 9])
    with torch.no_grad():
        conditional = reference_loop(lambda x, t: model(x, t, y), s, (4, 2), "beta", seed=9)
        unconditional = reference_loop(lambda x, t: model(x, t, torch.full_like(y, D.NULL_LABEL)), s, (4, 2),
                                       "beta", seed=9)
        w = 3.0
        guided = reference_loop(lambda x, t: model(x, t, torch.full_like(y, -1))
                                + w * (model(x, t, y) - model(x, t, torch.full_like(y, -1))), s, (4, 2), "beta", seed=9)
    torch.testing.assert_close(D.sample(model, s, (4, 2), y=y, guidance_scale=1.0, generator=_gen(9)), conditional,
                               rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(D.sample(model, s, (4, 2), y=y, guidance_scale=0.0, generator=_gen(9)), unconditional,
                               rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(D.sample(model, s, (4, 2), y=y, guidance_scale=w, generator=_gen(9)), guided,
                               rtol=1e-4, atol=1e-4)
    assert not torch.allclose(conditional, unconditional)


def test_prediction_x_prev_samples_algorithm_1_2_models():
    """A model trained with Algorithm 1.2 predicts x_{t−1} itself: x_{t−1} = f_θ(x_t, t) + σ_t z."""
    T = 12
    s = D.make_schedule("linear", T=T, beta_end=0.5)

    class Shrink(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.tensor(0.9))

        def forward(self, x, t):
            return self.w * x + 0.01 * t[:, None].float()

    def update(s, x, t, out, z, variance):
        sigma = float((s.betas if variance == "beta" else s.posterior_variance)[t - 1].sqrt())
        return out if z is None else out + sigma * z

    model = Shrink()
    for variance in D.VARIANCES:
        with torch.no_grad():
            expected = reference_loop(model, s, (5, 2), variance, seed=10, update=update)
        got = D.sample(model, s, (5, 2), variance=variance, prediction="x_prev", generator=_gen(10))
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_clip_denoised_steps_with_the_posterior_mean_of_clipped_x0():
    T = 10
    s = D.make_schedule("linear", T=T, beta_end=0.5)
    model = ToyEps(T)

    def update(s, x, t, eps, z, variance):
        x0_hat = D.predict_x0(s, x, t, eps).clamp(-1, 1)
        mean, _ = D.q_posterior(s, x0_hat, x, t)
        sigma = float(s.betas[t - 1].sqrt())
        return mean if z is None else mean + sigma * z

    with torch.no_grad():
        expected = reference_loop(model, s, (64, 2), "beta", seed=11, update=update)
        plain = reference_loop(model, s, (64, 2), "beta", seed=11)
    got = D.sample(model, s, (64, 2), clip_denoised=True, generator=_gen(11))
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(got, plain)                 # clipping happened (the test would notice if it didn't)


@pytest.mark.parametrize("conditional", [False, True])
def test_sample_with_the_real_denoisers(conditional, device):
    s = D.make_schedule("linear", T=8, beta_end=0.5)
    unet = UNet(base_channels=8, channel_mults=(1, 2), num_classes=10 if conditional else None).to(device)
    mlp = MLPDenoiser(hidden=16, depth=1, num_classes=10 if conditional else None).to(device)
    unet.train()
    y = torch.arange(4, device=device) if conditional else None
    gen = torch.Generator(device=device).manual_seed(0)
    x = D.sample(unet, s, (4, 1, 8, 8), y=y, guidance_scale=2.0 if conditional else 1.0, generator=gen)
    assert x.shape == (4, 1, 8, 8) and x.device.type == device.type and bool(torch.isfinite(x).all())
    assert unet.training                                    # the caller's mode is restored
    x, traj = D.sample(mlp, s, (4, 2), y=y, generator=gen, trajectory_every=4)
    assert x.shape == (4, 2) and traj.steps == [8, 4, 1] and traj.x_t.shape == (3, 4, 2)


def test_sample_bad_input():
    s = D.make_schedule("linear", T=5)
    model = ToyEps(5)
    cases = [
        (dict(variance="large"), "variance must be one of"),
        (dict(prediction="v"), "prediction must be one of 'eps', 'x0', 'x_prev'"),
        (dict(shape=()), "shape must be a non-empty"),
        (dict(shape=(0, 2)), "shape must be a non-empty sequence of positive sizes"),
        (dict(y=torch.tensor([0.0, 1.0])), r"y must be an integer tensor of shape \(2,\)"),
        (dict(y=torch.tensor([0, 1, 2])), r"y must be an integer tensor of shape \(2,\)"),
        (dict(y=[0, 1]), "y must be an integer tensor"),
    ]
    for change, message in cases:
        kwargs = dict(shape=(2, 2)) | change
        with pytest.raises(ValueError, match=message):
            D.sample(model, s, **kwargs)


class X0FromEps(nn.Module):
    """The x̂_0 an ε-model implies, x̂_0 = (x_t − √(1 − ᾱ_t) ε_θ) / √ᾱ_t: an x_0-predicting model whose
    samples must be the ε-model's own (the same Algorithm 2, other output)."""

    def __init__(self, eps_model: nn.Module, s: D.Schedule):
        super().__init__()
        self.eps_model, self.s = eps_model, s

    def forward(self, x, t, y=None):
        shape = (-1, *([1] * (x.ndim - 1)))
        a = self.s.alpha_bars[t - 1].to(x.dtype).reshape(shape)
        return (x - (1 - a).sqrt() * self.eps_model(x, t, y)) / a.sqrt()


@pytest.mark.parametrize("variance", D.VARIANCES)
def test_prediction_x0_samples_as_the_eps_model_it_is_made_from(variance):
    s = D.make_schedule("linear", T=40, beta_end=0.3)
    eps_model = ToyEps(40)
    y = torch.tensor([0, 1, 2, 1, 0, 2])
    ours = D.sample(X0FromEps(eps_model, s), s, (6, 3), variance=variance, generator=_gen(8), y=y,
                    guidance_scale=2.0, prediction="x0", trajectory_every=10)
    theirs = D.sample(eps_model, s, (6, 3), variance=variance, generator=_gen(8), y=y, guidance_scale=2.0,
                      trajectory_every=10)
    torch.testing.assert_close(ours[0], theirs[0], rtol=1e-4, atol=1e-4)
    for field in ("x_t", "x0_pred", "eps_pred", "added_noise"):      # the trajectory records the same ε and x̂_0
        # (ε recovered from x̂_0 divides by √(1 − ᾱ_1) = √β_1 at t = 1: float32 rounding grows 30-fold there)
        torch.testing.assert_close(getattr(ours[1], field), getattr(theirs[1], field), rtol=2e-3, atol=2e-3)

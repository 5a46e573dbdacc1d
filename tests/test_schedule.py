"""Noise schedules: the slide identities between β, α, ᾱ, β̃, the μ̃ coefficients and SNR, and bad input.

(The cross-check against diffusers' DDPMScheduler is in test_oracle_diffusers.py.)
"""

from __future__ import annotations

import math

import pytest
import torch

from coursekit import diffusion as D

F64 = torch.float64


@pytest.mark.parametrize("name", D.SCHEDULES)
def test_every_field_has_length_T_and_obeys_the_slide_identities(name):
    T = 300
    s = D.make_schedule(name, T=T, dtype=F64)
    assert s.T == T and s.name == name and s.dtype == F64
    for field in ("betas", "alphas", "alpha_bars", "alpha_bars_prev", "sqrt_alpha_bars", "sqrt_one_minus_alpha_bars",
                  "posterior_variance", "posterior_mean_coef_x0", "posterior_mean_coef_xt", "snr"):
        value = getattr(s, field)
        assert value.shape == (T,), field
        assert value.dtype == F64, field
        assert bool(torch.isfinite(value).all()), field
    b = s.betas.numpy()
    assert ((b > 0) & (b < 1)).all()
    # hand-rolled in plain Python, entry [t − 1] is step t
    alpha_bar = 1.0
    for t in range(1, T + 1):
        beta = float(b[t - 1])
        alpha_bar_prev, alpha_bar = alpha_bar, alpha_bar * (1.0 - beta)
        assert math.isclose(s.alphas[t - 1], 1.0 - beta, rel_tol=1e-14)
        assert math.isclose(s.alpha_bars[t - 1], alpha_bar, rel_tol=1e-11)
        assert math.isclose(s.alpha_bars_prev[t - 1], alpha_bar_prev, rel_tol=1e-11)
        assert math.isclose(s.sqrt_alpha_bars[t - 1], math.sqrt(alpha_bar), rel_tol=1e-11)
        assert math.isclose(s.sqrt_one_minus_alpha_bars[t - 1], math.sqrt(1 - alpha_bar), rel_tol=1e-11)
        assert math.isclose(s.posterior_variance[t - 1], (1 - alpha_bar_prev) / (1 - alpha_bar) * beta,
                            rel_tol=1e-9, abs_tol=1e-300)
        assert math.isclose(s.posterior_mean_coef_x0[t - 1], math.sqrt(alpha_bar_prev) * beta / (1 - alpha_bar),
                            rel_tol=1e-9)
        assert math.isclose(s.posterior_mean_coef_xt[t - 1],
                            math.sqrt(1 - beta) * (1 - alpha_bar_prev) / (1 - alpha_bar), rel_tol=1e-9)
        assert math.isclose(s.snr[t - 1], alpha_bar / (1 - alpha_bar), rel_tol=1e-9)
    torch.testing.assert_close(s.log_snr, torch.log(s.snr))
    # ᾱ decreases strictly, β̃_1 = 0 and 0 < β̃_t ≤ β_t afterwards
    assert bool((s.alpha_bars[1:] < s.alpha_bars[:-1]).all())
    assert s.posterior_variance[0] == 0
    assert bool((s.posterior_variance[1:] > 0).all()) and bool((s.posterior_variance <= s.betas).all())


def test_linear_is_ddpm():
    s = D.make_schedule("linear", T=1000, dtype=F64)
    assert math.isclose(s.betas[0], 1e-4) and math.isclose(s.betas[-1], 0.02)
    diffs = s.betas.diff()
    torch.testing.assert_close(diffs, torch.full_like(diffs, (0.02 - 1e-4) / 999))
    assert float(s.alpha_bars[-1]) < 1e-4          # x_T is (almost) pure noise


def test_quadratic_has_equally_spaced_sqrt_beta():
    s = D.make_schedule("quadratic", T=100, beta_start=1e-3, beta_end=0.05, dtype=F64)
    roots = s.betas.sqrt()
    assert math.isclose(roots[0], 1e-3**0.5) and math.isclose(roots[-1], 0.05**0.5)
    torch.testing.assert_close(roots.diff(), torch.full((99,), (0.05**0.5 - 1e-3**0.5) / 99, dtype=F64))


def test_sigmoid_stays_between_start_and_end_and_is_symmetric():
    s = D.make_schedule("sigmoid", T=101, beta_start=1e-4, beta_end=0.03, dtype=F64)
    assert bool((s.betas > 1e-4).all()) and bool((s.betas < 0.03).all())
    assert bool((s.betas.diff() > 0).all())
    torch.testing.assert_close(s.betas + s.betas.flip(0), torch.full((101,), 1e-4 + 0.03, dtype=F64))


def test_cosine_follows_nichol_dhariwal_and_clips_beta():
    T, off = 1000, 0.008
    s = D.make_schedule("cosine", T=T, dtype=F64)

    def f(t):
        return math.cos((t / T + off) / (1 + off) * math.pi / 2) ** 2

    for t in (1, 10, 500, 900):
        assert math.isclose(s.alpha_bars[t - 1], f(t) / f(0), rel_tol=1e-9)
    assert float(s.betas.max()) == pytest.approx(0.999)           # the last step is clipped
    clipped = D.make_schedule("cosine", T=T, max_beta=0.5, dtype=F64)
    assert float(clipped.betas.max()) == pytest.approx(0.5)
    assert bool((clipped.betas <= 0.5).all())


@pytest.mark.parametrize("name", D.SCHEDULES)
def test_float32_schedule_is_the_float64_one_rounded_once(name):
    s64 = D.make_schedule(name, T=500, dtype=F64)
    s32 = D.make_schedule(name, T=500)
    assert s32.dtype == torch.float32
    for field in ("alpha_bars", "posterior_variance", "sqrt_one_minus_alpha_bars", "posterior_mean_coef_xt"):
        assert torch.equal(getattr(s32, field), getattr(s64, field).float()), field
    assert torch.equal(s64.to(dtype=torch.float32).alpha_bars, s32.alpha_bars)
    assert s32.to("cpu").alpha_bars is not None and s32.to("cpu").device == torch.device("cpu")


def test_schedule_to_device(device):
    s = D.make_schedule("linear", T=10).to(device)
    assert s.device.type == device.type
    assert s.alpha_bars.device.type == device.type and s.snr.device.type == device.type


def test_schedule_from_betas_and_at():
    betas = torch.tensor([0.1, 0.2, 0.3], dtype=F64)
    s = D.schedule_from_betas(betas, dtype=F64)
    assert s.name == "custom" and s.T == 3
    torch.testing.assert_close(s.alpha_bars, torch.tensor([0.9, 0.72, 0.504], dtype=F64))
    torch.testing.assert_close(s.posterior_variance, torch.tensor([0.0, 0.1 / 0.28 * 0.2, 0.28 / 0.496 * 0.3],
                                                                  dtype=F64))
    at = s.at(s.betas, torch.tensor([3, 1]), ndim=4)
    assert at.shape == (2, 1, 1, 1) and at.flatten().tolist() == [0.3, 0.1]
    assert s.at(s.betas, 2, ndim=2).shape == (1, 1)
    with pytest.raises(ValueError, match="t"):
        s.at(s.betas, 4, ndim=2)


# ---------------------------------------------------------------------------------------------------------
# Bad input: a ValueError naming the argument
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("T", [0, -5, 2.5, True, "10", None])
def test_bad_T(T):
    with pytest.raises(ValueError, match=r"\bT\b"):
        D.make_schedule("linear", T=T)


@pytest.mark.parametrize("name", ["Linear", "cos", "", "scaled_linear"])
def test_unknown_schedule_name(name):
    with pytest.raises(ValueError, match="name must be one of"):
        D.make_schedule(name)


@pytest.mark.parametrize("kwargs", [dict(beta_start=0.0), dict(beta_start=-1e-4), dict(beta_end=1.0),
                                    dict(beta_start=0.03, beta_end=0.02), dict(beta_end=float("nan"))])
def test_bad_beta_range(kwargs):
    with pytest.raises(ValueError, match="beta_start and beta_end"):
        D.make_schedule("linear", T=10, **kwargs)


@pytest.mark.parametrize("max_beta", [0.0, 1.0, 1.5])
def test_bad_max_beta(max_beta):
    with pytest.raises(ValueError, match="max_beta"):
        D.make_schedule("cosine", T=10, max_beta=max_beta)


@pytest.mark.parametrize("betas", [torch.tensor([]), torch.ones(2, 2) * 0.1, torch.tensor([0.1, 0.0]),
                                   torch.tensor([0.1, 1.0]), torch.tensor([0.1, float("nan")])])
def test_bad_betas(betas):
    with pytest.raises(ValueError, match="betas"):
        D.schedule_from_betas(betas)

"""Cross-checks against an independent oracle: diffusers' ``DDPMScheduler`` (used only here, as a test oracle).

Index convention: diffusers counts timesteps 0..T−1, the slides 1..T, so diffusers' index = our t − 1.
Schedule names: ours "linear", "quadratic", "cosine", "sigmoid" are diffusers' "linear", "scaled_linear",
"squaredcos_cap_v2", "sigmoid".

diffusers builds its β in float32. To compare in float64 the scheduler is also built with its module's
``torch.float32`` pointing at float64 (and float64 as the default dtype), so diffusers' own recipe, its own
ᾱ = cumprod(1 − β), its ``_get_variance`` and its ``step`` all run in float64.
"""

from __future__ import annotations

import contextlib

import pytest
import torch

from coursekit import diffusion as D

scheduling_ddpm = pytest.importorskip("diffusers.schedulers.scheduling_ddpm")
DDPMScheduler = scheduling_ddpm.DDPMScheduler

NAMES = [("linear", "linear"), ("quadratic", "scaled_linear"), ("cosine", "squaredcos_cap_v2"),
         ("sigmoid", "sigmoid")]
VARIANCES = [("beta", "fixed_large"), ("beta_tilde", "fixed_small")]
F64 = torch.float64


class _TorchWithFloat64:
    """Stands in for the ``torch`` module inside diffusers' scheduler module: float32 means float64."""

    float32 = torch.float64

    def __getattr__(self, name):
        return getattr(torch, name)


@contextlib.contextmanager
def _float64_diffusers(monkeypatch):
    old = torch.get_default_dtype()
    with monkeypatch.context() as m:
        m.setattr(scheduling_ddpm, "torch", _TorchWithFloat64())
        torch.set_default_dtype(F64)
        try:
            yield
        finally:
            torch.set_default_dtype(old)


def oracle(monkeypatch, schedule: str, T: int, variance_type: str = "fixed_large",
           prediction_type: str = "epsilon", float64: bool = True) -> DDPMScheduler:
    kwargs = dict(num_train_timesteps=T, beta_schedule=schedule, clip_sample=False, variance_type=variance_type,
                  prediction_type=prediction_type)
    if not float64:
        return DDPMScheduler(**kwargs)
    with _float64_diffusers(monkeypatch):
        sched = DDPMScheduler(**kwargs)
    assert sched.betas.dtype == F64 and sched.alphas_cumprod.dtype == F64 and sched.one.dtype == F64
    return sched


# ---------------------------------------------------------------------------------------------------------
# Schedules: β, ᾱ, β̃
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("ours,theirs", NAMES)
@pytest.mark.parametrize("T", [1000, 37])
def test_betas_match_diffusers_float32_recipe(monkeypatch, ours, theirs, T):
    """diffusers' stock (float32) β equal ours rounded to float32."""
    s = D.make_schedule(ours, T=T, dtype=F64)
    sched = oracle(monkeypatch, theirs, T, float64=False)
    assert sched.betas.dtype == torch.float32
    torch.testing.assert_close(s.betas.float(), sched.betas, rtol=2e-6, atol=1e-9)


@pytest.mark.parametrize("ours,theirs", NAMES)
@pytest.mark.parametrize("T", [1000, 37])
def test_schedule_matches_diffusers_in_float64(monkeypatch, ours, theirs, T):
    s = D.make_schedule(ours, T=T, dtype=F64)
    fixed_small = oracle(monkeypatch, theirs, T, "fixed_small")
    fixed_large = oracle(monkeypatch, theirs, T, "fixed_large")
    tight = dict(rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(s.betas, fixed_small.betas, **tight)
    torch.testing.assert_close(s.alphas, fixed_small.alphas, **tight)
    torch.testing.assert_close(s.alpha_bars, fixed_small.alphas_cumprod, **tight)
    # β̃_t = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) β_t: diffusers' fixed_small variance at index t − 1 (it clamps at 1e-20;
    # β̃_1 = 0 exactly)
    small = torch.stack([fixed_small._get_variance(t - 1) for t in range(1, T + 1)])
    assert s.posterior_variance[0] == 0.0
    torch.testing.assert_close(s.posterior_variance[1:], small[1:], rtol=1e-10, atol=1e-15)
    assert float(small[0]) <= 1e-20
    # fixed_large: σ_t² = β_t (diffusers derives it as 1 − ᾱ_t / ᾱ_{t−1})
    large = torch.stack([fixed_large._get_variance(t - 1) for t in range(1, T + 1)])
    torch.testing.assert_close(s.betas, large, rtol=1e-9, atol=1e-15)


# ---------------------------------------------------------------------------------------------------------
# Posterior mean μ̃_t and one Algorithm 2 step
# ---------------------------------------------------------------------------------------------------------

def _steps(T: int) -> list[int]:
    return sorted({1, 2, 3, T // 2, T - 1, T})


def _diffusers_step(sched: DDPMScheduler, model_output, t: int, x_t, seed: int):
    """diffusers' step at index t − 1 with a seeded generator; also returns the z it drew (None at t = 1)."""
    out = sched.step(model_output, t - 1, x_t, generator=torch.Generator().manual_seed(seed))
    z = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(seed), dtype=x_t.dtype) if t > 1 else None
    return out.prev_sample, out.pred_original_sample, z


@pytest.mark.parametrize("ours,theirs", NAMES)
def test_posterior_mean_matches_diffusers(monkeypatch, ours, theirs):
    """q_posterior's μ̃_t(x_0, x_t) and β̃_t against diffusers' step with prediction_type="sample" (x̂_0 = x_0),
    its own noise term σ_t z removed."""
    T = 200
    s = D.make_schedule(ours, T=T, dtype=F64)
    sched = oracle(monkeypatch, theirs, T, "fixed_small", prediction_type="sample")
    g = torch.Generator().manual_seed(11)
    for k, t in enumerate(_steps(T)):
        x0 = torch.randn(5, 3, 4, generator=g, dtype=F64)
        x_t = torch.randn(5, 3, 4, generator=g, dtype=F64) * 2.0
        prev, x0_pred, z = _diffusers_step(sched, x0, t, x_t, seed=100 + k)
        assert torch.equal(x0_pred, x0)
        noise_term = 0.0 if z is None else sched._get_variance(t - 1) ** 0.5 * z
        mean, var = D.q_posterior(s, x0, x_t, t)
        torch.testing.assert_close(mean, prev - noise_term, rtol=1e-10, atol=1e-12)
        if t > 1:
            torch.testing.assert_close(var.reshape(-1)[0], sched._get_variance(t - 1), rtol=1e-10, atol=0.0)


@pytest.mark.parametrize("ours,theirs", NAMES)
@pytest.mark.parametrize("variance,variance_type", VARIANCES)
def test_p_sample_step_matches_diffusers(monkeypatch, ours, theirs, variance, variance_type):
    """Algorithm 2, line 4 (ε form) equals diffusers' step (x̂_0 form, ε-prediction, unclipped) with the same ε
    and the same z, for both σ_t² choices, including t = 1 where no noise is added."""
    T = 1000
    s = D.make_schedule(ours, T=T, dtype=F64)
    sched = oracle(monkeypatch, theirs, T, variance_type)
    g = torch.Generator().manual_seed(7)
    for k, t in enumerate(_steps(T)):
        x_t = torch.randn(4, 1, 8, 8, generator=g, dtype=F64)
        eps = torch.randn(4, 1, 8, 8, generator=g, dtype=F64)
        prev, x0_pred, z = _diffusers_step(sched, eps, t, x_t, seed=1000 + k)
        noise = z if z is not None else torch.randn(x_t.shape, generator=g, dtype=F64)   # ignored at t = 1
        ours_prev = D.p_sample_step(s, x_t, t, eps, noise, variance=variance)
        torch.testing.assert_close(ours_prev, prev, rtol=1e-9, atol=1e-10)
        torch.testing.assert_close(D.predict_x0(s, x_t, t, eps), x0_pred, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("variance,variance_type", VARIANCES)
def test_p_sample_step_with_mixed_t_matches_diffusers(monkeypatch, variance, variance_type):
    """A batch whose examples sit at different t equals diffusers stepping each example at its own index."""
    T = 100
    s = D.make_schedule("linear", T=T, beta_end=0.2, dtype=F64)
    with _float64_diffusers(monkeypatch):
        sched = DDPMScheduler(num_train_timesteps=T, beta_end=0.2, clip_sample=False, variance_type=variance_type)
    g = torch.Generator().manual_seed(3)
    t = torch.tensor([1, 2, 50, 99, 100, 1])
    x_t = torch.randn(6, 2, generator=g, dtype=F64)
    eps = torch.randn(6, 2, generator=g, dtype=F64)
    noise = torch.randn(6, 2, generator=g, dtype=F64)
    expected = []
    for i, ti in enumerate(t.tolist()):
        prev = sched.step(eps[i:i + 1], ti - 1, x_t[i:i + 1], generator=torch.Generator().manual_seed(5)).prev_sample
        if ti > 1:   # swap diffusers' own z for ours
            z = torch.randn((1, 2), generator=torch.Generator().manual_seed(5), dtype=F64)
            prev = prev + sched._get_variance(ti - 1) ** 0.5 * (noise[i:i + 1] - z)
        expected.append(prev)
    ours = D.p_sample_step(s, x_t, t, eps, noise, variance=variance)
    torch.testing.assert_close(ours, torch.cat(expected), rtol=1e-9, atol=1e-10)


def test_q_sample_matches_diffusers_add_noise(monkeypatch):
    T = 1000
    s = D.make_schedule("cosine", T=T, dtype=F64)
    sched = oracle(monkeypatch, "squaredcos_cap_v2", T)
    g = torch.Generator().manual_seed(2)
    x0 = torch.randn(6, 3, generator=g, dtype=F64)
    noise = torch.randn(6, 3, generator=g, dtype=F64)
    t = torch.tensor([1, 2, 10, 500, 999, 1000])
    torch.testing.assert_close(D.q_sample(s, x0, t, noise), sched.add_noise(x0, noise, t - 1), rtol=1e-12, atol=1e-12)

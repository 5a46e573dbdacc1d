"""DDIM (coursekit.diffusion.ddim) against an independent oracle, diffusers' ``DDIMScheduler`` and
``DDIMInverseScheduler`` (test oracles only), on fresh random inputs, and against closed forms.

Index convention: diffusers counts timesteps 0..T−1, the slides 1..T (diffusers' index = our t − 1); its
``final_alpha_cumprod`` with ``set_alpha_to_one=True`` is our ᾱ_0 = 1 (t' = 0). As in tests/test_oracle_diffusers.py,
the schedulers are built with their module's ``torch.float32`` meaning float64, so the comparison is in float64.
"""

from __future__ import annotations

import contextlib
import math

import pytest
import torch
from torch import nn

from coursekit import diffusion as D
from coursekit import nets
from coursekit.diffusion import ddim

scheduling_ddim = pytest.importorskip("diffusers.schedulers.scheduling_ddim")
scheduling_ddim_inverse = pytest.importorskip("diffusers.schedulers.scheduling_ddim_inverse")
DDIMScheduler = scheduling_ddim.DDIMScheduler
DDIMInverseScheduler = scheduling_ddim_inverse.DDIMInverseScheduler
F64 = torch.float64
NAMES = [("linear", "linear"), ("cosine", "squaredcos_cap_v2")]


class _TorchWithFloat64:
    float32 = torch.float64

    def __getattr__(self, name):
        return getattr(torch, name)


@contextlib.contextmanager
def _float64(monkeypatch, module):
    old = torch.get_default_dtype()
    with monkeypatch.context() as m:
        m.setattr(module, "torch", _TorchWithFloat64())
        torch.set_default_dtype(F64)
        try:
            yield
        finally:
            torch.set_default_dtype(old)


def oracle(monkeypatch, schedule: str, T: int, cls=DDIMScheduler, **kwargs):
    module = scheduling_ddim if cls is DDIMScheduler else scheduling_ddim_inverse
    options = dict(num_train_timesteps=T, beta_schedule=schedule, clip_sample=False, set_alpha_to_one=True,
                   prediction_type="epsilon")
    options.update(kwargs)
    with _float64(monkeypatch, module):
        sched = cls(**options)
    assert sched.alphas_cumprod.dtype == F64
    return sched


def _ours_prev(tau_prev: int) -> int:
    """diffusers' previous index (negative: the final ᾱ = 1) as our t' (0 for x_0)."""
    return tau_prev + 1 if tau_prev >= 0 else 0


class ToyEps(nn.Module):
    """A fixed, non-linear ε(x, t) with no parameters to train: enough to tell a wrong coefficient or a wrong t."""

    def __init__(self, T: int):
        super().__init__()
        self.T = T
        self.anchor = nn.Parameter(torch.zeros(1, dtype=F64), requires_grad=False)   # gives the model a device
        self.calls: list[list[int]] = []

    def forward(self, x, t, y=None):
        self.calls.append(t.tolist())
        tt = (t.to(x.dtype) / self.T).reshape(-1, *([1] * (x.ndim - 1)))
        return torch.tanh(0.7 * x) * (0.5 + tt) + 0.3 * torch.sin(3 * tt + x.flip(-1))


# ---------------------------------------------------------------------------------------------------------
# the subsequence
# ---------------------------------------------------------------------------------------------------------

def test_timesteps_are_an_even_subsequence_from_T():
    assert ddim.ddim_timesteps(250, 25) == list(range(250, 0, -10))
    assert ddim.ddim_timesteps(10, 10) == list(range(10, 0, -1))
    assert ddim.ddim_timesteps(250, 1) == [250]
    for T, S in ((250, 100), (1000, 3), (97, 13), (250, 7)):
        ts = ddim.ddim_timesteps(T, S)
        assert len(ts) == S and ts[0] == T and all(a > b >= 1 for a, b in zip(ts, ts[1:]))


@pytest.mark.parametrize("T,S", [(1000, 50), (250, 25), (250, 100), (250, 7), (97, 13), (1000, 3)])
def test_timesteps_equal_diffusers_trailing_spacing(monkeypatch, T, S):
    sched = oracle(monkeypatch, "linear", T, timestep_spacing="trailing")
    sched.set_timesteps(S)
    assert ddim.ddim_timesteps(T, S) == [int(t) + 1 for t in sched.timesteps]


@pytest.mark.parametrize("bad", [dict(T=10, steps=11), dict(T=10, steps=0), dict(T=10, steps=2.0),
                                 dict(T=0, steps=1)])
def test_timesteps_reject_bad_input(bad):
    with pytest.raises(ValueError, match="steps|T"):
        ddim.ddim_timesteps(**bad)


# ---------------------------------------------------------------------------------------------------------
# one step against diffusers
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("ours,theirs", NAMES)
@pytest.mark.parametrize("eta", [0.0, 1.0, 0.37])
@pytest.mark.parametrize("T,S", [(1000, 50), (250, 25)])
def test_step_matches_diffusers(monkeypatch, ours, theirs, eta, T, S):
    """Every step of diffusers' (leading) subsequence, fresh x_t, ε and z each time, both η."""
    s = D.make_schedule(ours, T=T, dtype=F64)
    sched = oracle(monkeypatch, theirs, T)
    sched.set_timesteps(S)
    gap = T // S
    g = torch.Generator().manual_seed(17)
    for tau in sched.timesteps.tolist():
        x_t = torch.randn(3, 1, 4, 4, generator=g, dtype=F64) * 1.5
        eps = torch.randn(3, 1, 4, 4, generator=g, dtype=F64)
        z = torch.randn(3, 1, 4, 4, generator=g, dtype=F64)
        out = sched.step(eps, tau, x_t, eta=eta, variance_noise=z)
        t, t_prev = tau + 1, _ours_prev(tau - gap)
        torch.testing.assert_close(ddim.ddim_step(s, x_t, t, t_prev, eps, eta, z), out.prev_sample,
                                   rtol=1e-10, atol=1e-10)
        sigma = ddim.ddim_sigma(s, t, t_prev, eta)
        assert sigma == pytest.approx(eta * float(sched._get_variance(tau, tau - gap)) ** 0.5, rel=1e-10, abs=1e-14)


def test_step_with_clipping_matches_diffusers_clipped_model_output(monkeypatch):
    """clip_denoised: x̂_0 clipped to [−1, 1] and ε re-derived from it (diffusers' use_clipped_model_output)."""
    T, S = 250, 10
    s = D.make_schedule("linear", T=T, dtype=F64)
    sched = oracle(monkeypatch, "linear", T, clip_sample=True, clip_sample_range=1.0)
    sched.set_timesteps(S)
    g = torch.Generator().manual_seed(5)
    for eta in (0.0, 1.0):
        for tau in sched.timesteps.tolist():
            x_t, eps, z = (torch.randn(4, 6, generator=g, dtype=F64) * 2 for _ in range(3))
            out = sched.step(eps, tau, x_t, eta=eta, variance_noise=z, use_clipped_model_output=True)
            ours = ddim.ddim_step(s, x_t, tau + 1, _ours_prev(tau - T // S), eps, eta, z, clip_denoised=True)
            torch.testing.assert_close(ours, out.prev_sample, rtol=1e-10, atol=1e-10)


def test_sigma_at_eta_1_is_the_posterior_variance_of_one_step():
    """η = 1 and t' = t − 1: σ_t² = β̃_t (so each step is Algorithm 2 with the small variance)."""
    s = D.make_schedule("linear", T=100, dtype=F64)
    for t in (2, 3, 50, 100):
        assert ddim.ddim_sigma(s, t, t - 1, 1.0) ** 2 == pytest.approx(float(s.posterior_variance[t - 1]), rel=1e-10)
    assert ddim.ddim_sigma(s, 1, 0, 1.0) == 0.0
    assert ddim.ddim_sigma(s, 50, 10, 0.0) == 0.0


# ---------------------------------------------------------------------------------------------------------
# the whole loop
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_sampling_loop_matches_diffusers_loop(monkeypatch, eta):
    """The loop of ddim_sample on diffusers' timesteps, from the same x_T with the same z: the same x_0; the model
    is called at every τ once, in descending order."""
    T, S = 1000, 20
    s = D.make_schedule("linear", T=T, dtype=F64)
    sched = oracle(monkeypatch, "linear", T)
    sched.set_timesteps(S)
    taus = sched.timesteps.tolist()
    model = ToyEps(T)
    g = torch.Generator().manual_seed(3)
    x_T = torch.randn(5, 2, 3, generator=g, dtype=F64)
    zs = [torch.randn(5, 2, 3, generator=g, dtype=F64) for _ in taus]
    x = x_T
    for k, tau in enumerate(taus):
        eps = model(x, torch.full((5,), tau + 1))
        noise = zs[k] if tau - T // S >= 0 else torch.zeros_like(x)            # no noise onto x_0
        x = sched.step(eps, tau, x, eta=eta, variance_noise=noise).prev_sample
    model.calls.clear()
    ours = _run_with_noises(model, s, x_T, [t + 1 for t in taus], eta, zs)
    torch.testing.assert_close(ours, x, rtol=1e-9, atol=1e-10)
    assert [c[0] for c in model.calls] == [t + 1 for t in taus]
    assert all(len(set(c)) == 1 for c in model.calls)


def _run_with_noises(model, s, x_T, timesteps, eta, zs):
    """ddim_sample's loop with ddim_step, but z taken from ``zs`` (the same loop the function runs)."""
    x = x_T
    ts = list(timesteps)
    for k, (t, t_prev) in enumerate(zip(ts, [*ts[1:], 0])):
        eps = model(x, torch.full((x.shape[0],), t))
        x = ddim.ddim_step(s, x, t, t_prev, eps, eta, zs[k] if t_prev > 0 else None)
    return x


def test_ddim_sample_draws_x_T_then_one_z_per_noisy_step():
    """ddim_sample with a generator equals the hand loop fed the generator's draws in that order."""
    T = 60
    s = D.make_schedule("linear", T=T, beta_end=0.2, dtype=F64)
    model = ToyEps(T)
    ts = ddim.ddim_timesteps(T, 12)
    torch.set_default_dtype(F64)
    try:
        x = ddim.ddim_sample(model, s, (4, 3), timesteps=ts, eta=0.8, generator=torch.Generator().manual_seed(9))
        g = torch.Generator().manual_seed(9)
        x_T = torch.randn(4, 3, generator=g)
        zs = [torch.randn(4, 3, generator=g) for _ in ts[1:]] + [None]
        expected = _run_with_noises(model, s, x_T, ts, 0.8, zs)
    finally:
        torch.set_default_dtype(torch.float32)
    torch.testing.assert_close(x, expected, rtol=1e-12, atol=1e-12)


def test_every_step_with_eta_1_is_algorithm_2_with_beta_tilde():
    """S = T, η = 1: draw for draw the samples of diffusion.sample(variance="beta_tilde") (same generator)."""
    torch.manual_seed(0)
    model = nets.MLPDenoiser(dim=2, hidden=32, depth=2)
    s = D.make_schedule("linear", T=40, beta_end=0.3)
    ours = ddim.ddim_sample(model, s, (64, 2), steps=40, eta=1.0, generator=torch.Generator().manual_seed(4))
    alg2 = D.sample(model, s, (64, 2), variance="beta_tilde", generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(ours, alg2, rtol=1e-4, atol=1e-5)
    ddim0 = ddim.ddim_sample(model, s, (64, 2), steps=40, eta=0.0, generator=torch.Generator().manual_seed(4))
    assert float((ddim0 - alg2).abs().max()) > 0.1                  # η = 0 is another sampler


def test_deterministic_sampling_converges_to_the_exact_map_for_gaussian_data():
    """Data N(μ, s²I) has the exact ε*(x_t, t) = √(1 − ᾱ_t)(x_t − √ᾱ_t μ)/(ᾱ_t s² + 1 − ᾱ_t); DDIM's ODE then
    carries x_T to μ + s (x_T − √ᾱ_T μ)/√(ᾱ_T s² + 1 − ᾱ_T). The error shrinks about linearly in the step size."""
    T, mu, sd = 1000, 0.8, 0.3
    s = D.make_schedule("cosine", T=T, dtype=F64)

    class ExactEps(nn.Module):
        def __init__(self):
            super().__init__()
            self.anchor = nn.Parameter(torch.zeros(1, dtype=F64), requires_grad=False)

        def forward(self, x, t, y=None):
            a = s.alpha_bars[t - 1].reshape(-1, 1)
            return (1 - a).sqrt() * (x - a.sqrt() * mu) / (a * sd**2 + 1 - a)

    x_T = torch.randn(200, 2, generator=torch.Generator().manual_seed(1), dtype=F64)
    a_T = float(s.alpha_bars[-1])
    exact = mu + sd * (x_T - math.sqrt(a_T) * mu) / math.sqrt(a_T * sd**2 + 1 - a_T)
    errors = [float((ddim.ddim_sample(ExactEps(), s, (200, 2), steps=S, x_T=x_T) - exact).abs().max())
              for S in (25, 50, 100)]
    assert errors[2] < 0.03                                           # first order: halves with the step
    assert 1.5 < errors[0] / errors[1] < 3 and 1.5 < errors[1] / errors[2] < 3, errors


def test_x0_prediction_samples_like_the_eps_model_it_implies():
    T = 50
    s = D.make_schedule("linear", T=T, beta_end=0.2, dtype=F64)
    toy = ToyEps(T)

    class X0Model(nn.Module):          # x̂_0 of the toy ε-model: (x − √(1 − ᾱ) ε)/√ᾱ
        def __init__(self):
            super().__init__()
            self.anchor = nn.Parameter(torch.zeros(1, dtype=F64), requires_grad=False)

        def forward(self, x, t, y=None):
            a = s.alpha_bars[t - 1].reshape(-1, 1)
            return (x - (1 - a).sqrt() * toy(x, t)) / a.sqrt()

    x_T = torch.randn(7, 3, generator=torch.Generator().manual_seed(2), dtype=F64)
    a = ddim.ddim_sample(toy, s, (7, 3), steps=10, x_T=x_T)
    b = ddim.ddim_sample(X0Model(), s, (7, 3), steps=10, x_T=x_T, prediction="x0")
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_guidance_mixes_conditional_and_unconditional_eps():
    """w = 3: each step uses ε_∅ + 3 (ε_y − ε_∅), checked against the hand loop; w = 1 is the plain conditional."""
    torch.manual_seed(1)
    model = nets.MLPDenoiser(dim=3, hidden=16, depth=1, num_classes=4)
    s = D.make_schedule("linear", T=30, beta_end=0.3)
    y = torch.tensor([0, 1, 2, 3, 1])
    x_T = torch.randn(5, 3, generator=torch.Generator().manual_seed(6))
    got = ddim.ddim_sample(model, s, (5, 3), steps=6, x_T=x_T, y=y, guidance_scale=3.0)
    x = x_T
    ts = ddim.ddim_timesteps(30, 6)
    with torch.no_grad():
        for t, t_prev in zip(ts, [*ts[1:], 0]):
            tt = torch.full((5,), t)
            e_y, e_0 = model(x, tt, y), model(x, tt, torch.full_like(y, D.NULL_LABEL))
            x = ddim.ddim_step(s, x, t, t_prev, e_0 + 3.0 * (e_y - e_0))
    torch.testing.assert_close(got, x, rtol=1e-5, atol=1e-5)
    plain = ddim.ddim_sample(model, s, (5, 3), steps=6, x_T=x_T, y=y, guidance_scale=1.0)
    assert float((plain - got).abs().max()) > 1e-3
    with pytest.raises(ValueError, match="guidance_scale"):
        ddim.ddim_sample(model, s, (5, 3), steps=6, guidance_scale=2.0)


def test_trajectory_holds_every_state():
    T = 40
    s = D.make_schedule("linear", T=T, beta_end=0.3, dtype=F64)
    model = ToyEps(T)
    x_T = torch.randn(3, 2, dtype=F64)
    x0, states = ddim.ddim_sample(model, s, (3, 2), steps=8, x_T=x_T, trajectory=True)
    assert states.shape == (9, 3, 2)
    assert torch.equal(states[0], x_T) and torch.equal(states[-1], x0)


# ---------------------------------------------------------------------------------------------------------
# inversion
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("ours,theirs", NAMES)
def test_inversion_step_matches_diffusers_inverse_scheduler(monkeypatch, ours, theirs):
    """Each step of diffusers' DDIMInverseScheduler (from index τ − T/S, or ᾱ = 1 before the first, up to τ)."""
    T, S = 1000, 25
    s = D.make_schedule(ours, T=T, dtype=F64)
    sched = oracle(monkeypatch, theirs, T, cls=DDIMInverseScheduler)
    sched.set_timesteps(S)
    g = torch.Generator().manual_seed(8)
    for tau in sched.timesteps.tolist():
        x, eps = torch.randn(2, 5, generator=g, dtype=F64), torch.randn(2, 5, generator=g, dtype=F64)
        expected = sched.step(eps, tau, x).prev_sample
        ours_next = ddim.ddim_inversion_step(s, x, _ours_prev(tau - T // S), tau + 1, eps)
        torch.testing.assert_close(ours_next, expected, rtol=1e-10, atol=1e-10)


def test_inversion_is_exact_when_eps_does_not_depend_on_x():
    """With ε(x, t) = c_t the stand-in ε_θ(x_t', t) = ε_θ(x_t, t) is exact: x_0 → x_T → x_0 to rounding."""
    T = 100
    s = D.make_schedule("linear", T=T, beta_end=0.1, dtype=F64)

    class Constant(nn.Module):
        def __init__(self):
            super().__init__()
            self.anchor = nn.Parameter(torch.zeros(1, dtype=F64), requires_grad=False)

        def forward(self, x, t, y=None):
            return torch.sin(t.to(F64)).reshape(-1, 1).expand_as(x) * torch.linspace(-1, 1, x.shape[1], dtype=F64)

    x0 = torch.randn(6, 4, dtype=F64, generator=torch.Generator().manual_seed(0))
    x_T = ddim.ddim_invert(Constant(), s, x0, steps=20)
    back = ddim.ddim_sample(Constant(), s, (6, 4), steps=20, x_T=x_T)
    torch.testing.assert_close(back, x0, rtol=1e-9, atol=1e-9)


def test_round_trip_error_shrinks_with_the_number_of_steps():
    """Gaussian data with the exact ε*: x_0 → x_T → x_0 comes back closer as the steps get finer, and x_T is
    the standardised x_0 (what the exact ODE gives)."""
    T, mu, sd = 1000, -0.5, 0.4
    s = D.make_schedule("linear", T=T, dtype=F64)

    class ExactEps(nn.Module):
        def __init__(self):
            super().__init__()
            self.anchor = nn.Parameter(torch.zeros(1, dtype=F64), requires_grad=False)

        def forward(self, x, t, y=None):
            a = s.alpha_bars[t - 1].reshape(-1, 1)
            return (1 - a).sqrt() * (x - a.sqrt() * mu) / (a * sd**2 + 1 - a)

    x0 = mu + sd * torch.randn(100, 2, dtype=F64, generator=torch.Generator().manual_seed(4))
    errors = []
    for S in (20, 100, 500):
        x_T = ddim.ddim_invert(ExactEps(), s, x0, steps=S)
        errors.append(float((ddim.ddim_sample(ExactEps(), s, (100, 2), steps=S, x_T=x_T) - x0).abs().max()))
    assert errors[0] > 2 * errors[1] > 4 * errors[2] and errors[2] < 0.02, errors     # first order in the step
    a_T = float(s.alpha_bars[-1])
    x_T = ddim.ddim_invert(ExactEps(), s, x0, steps=500)
    standardised = (math.sqrt(a_T) * mu) + math.sqrt(a_T * sd**2 + 1 - a_T) * (x0 - mu) / sd
    assert float((x_T - standardised).abs().max()) < 0.01


def test_inversion_calls_the_model_up_the_subsequence():
    T = 50
    s = D.make_schedule("linear", T=T, beta_end=0.2, dtype=F64)
    model = ToyEps(T)
    _, states = ddim.ddim_invert(model, s, torch.randn(2, 3, dtype=F64), steps=5, trajectory=True)
    assert [c[0] for c in model.calls] == [10, 20, 30, 40, 50] and states.shape == (6, 2, 3)


# ---------------------------------------------------------------------------------------------------------
# errors name the argument
# ---------------------------------------------------------------------------------------------------------

def test_bad_arguments_are_named():
    s = D.make_schedule("linear", T=20, beta_end=0.3)
    x, eps = torch.zeros(2, 3), torch.zeros(2, 3)
    cases = [
        (lambda: ddim.ddim_step(s, x, 10, 10, eps), "t_prev"),
        (lambda: ddim.ddim_step(s, x, 21, 3, eps), "t must be in 1..T"),
        (lambda: ddim.ddim_step(s, x, 10, 5, eps, eta=1.5), "eta"),
        (lambda: ddim.ddim_step(s, x, 10, 5, eps, eta=0.5), "noise"),
        (lambda: ddim.ddim_step(s, x, 10, 5, torch.zeros(2, 4)), "eps"),
        (lambda: ddim.ddim_sample(ToyEps(20), s, (2, 3), steps=21), "steps"),
        (lambda: ddim.ddim_sample(ToyEps(20), s, (2, 3), timesteps=[5, 10]), "timesteps"),
        (lambda: ddim.ddim_sample(ToyEps(20), s, (2, 3), steps=5, x_T=torch.zeros(3, 3)), "x_T"),
        (lambda: ddim.ddim_sample(ToyEps(20), s, (2, 3), steps=5, prediction="x_prev"), "prediction"),
    ]
    for call, name in cases:
        with pytest.raises(ValueError, match=name):
            call()
    assert ddim.ddim_step(s, x, 10, 0, eps, eta=1.0) is not None      # σ = 0 on the last step: no noise needed


# ---------------------------------------------------------------------------------------------------------
# the command line: coursekit ddpm sample --sampler ddim --steps S --eta η
# ---------------------------------------------------------------------------------------------------------

def test_cli_samples_a_checkpoint_with_ddim(tmp_path, capsys, monkeypatch):
    """The CLI's DDIM samples are ddim_sample's on the checkpoint's model (same seed: x_T, then one z a step), the
    three files are written, the denoising strip is titled DDIM (not Algorithm 2), and the DDIM options are one-line
    errors (exit 2) before any sampling."""
    from coursekit.cli import main
    from coursekit.cli.ddpm import load_run
    from coursekit.viz import diffusion as vizd

    titles: list[str] = []
    plot = vizd.plot_denoising_strip

    def plot_and_record(*args, **kwargs):
        fig = plot(*args, **kwargs)
        titles.append(fig.get_suptitle())
        return fig

    monkeypatch.setattr(vizd, "plot_denoising_strip", plot_and_record)

    assert main(["ddpm", "train", "--data", "ring8", "--steps", "30", "--T", "20", "--out", str(tmp_path)]) == 0
    ckpt = str(tmp_path / "checkpoint.pt")
    capsys.readouterr()
    out = tmp_path / "ddim"
    assert main(["ddpm", "sample", "--checkpoint", ckpt, "--sampler", "ddim", "--steps", "5", "--eta", "0.5",
                 "--n", "64", "--seed", "7", "--out", str(out)]) == 0
    assert "DDIM: 64 samples, 5 network calls (T = 20), eta = 0.5" in capsys.readouterr().out
    assert {p.name for p in out.iterdir()} >= {"samples.pt", "samples.png", "denoising.png"}
    assert titles == ["DDIM, 5 network calls, η = 0.5: x_T → x_0"], titles
    model, r, _ = load_run(ckpt)
    s = r.build_schedule("cpu")
    expected = D.ddim_sample(model, s, (64, 2), steps=5, eta=0.5, generator=torch.Generator().manual_seed(7))
    assert torch.equal(torch.load(out / "samples.pt")["samples"], expected)

    for argv, says in ((["--steps", "5"], "--steps: only with --sampler ddim"),
                       (["--sampler", "ddim", "--steps", "21"], "--steps: expected at most the model's T = 20"),
                       (["--sampler", "ddim", "--eta", "1.5"], "--eta: expected a number in [0, 1]")):
        assert main(["ddpm", "sample", "--checkpoint", ckpt, "--out", str(tmp_path / "bad"), *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and says in err[0], err
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").iterdir())

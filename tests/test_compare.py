"""The comparison table (quick budgets) and DDPM's variational bound in bits/dim."""

from __future__ import annotations

import math

import pytest
import torch

from coursekit import diffusion as D
from coursekit.compare import FAMILIES, Budget, compare, format_table
from coursekit.data import load_digits
from coursekit.metrics import frechet_reference

# --------------------------------------------------------------------------------------------------------
# DDPM's variational bound
# --------------------------------------------------------------------------------------------------------


def test_discretised_gaussian_is_a_distribution_over_the_levels():
    levels = torch.linspace(-1, 1, 17).view(17, 1).expand(17, 6)
    g = torch.Generator().manual_seed(0)
    means = torch.randn(1, 6, generator=g).expand(17, 6) * 1.5
    for std in (1e-3, 0.05, 0.3, 3.0):
        p = D.discretized_gaussian_log_likelihood(levels, means, std).exp().sum(0)
        assert torch.allclose(p, torch.ones(6, dtype=p.dtype), atol=1e-6), (std, p)
    # a sharp Gaussian on a level gives it (almost) all the mass; far tails stay finite
    logp = D.discretized_gaussian_log_likelihood(torch.tensor([0.0, 0.0]), torch.tensor([0.0, 0.9]), 0.01)
    assert float(logp[0]) > -1e-6 and math.isfinite(float(logp[1])) and float(logp[1]) < -100


class _Oracle(torch.nn.Module):
    """The exact ε for a data set of ONE image: ε = (x_t − √ᾱ_t x_0) / √(1 − ᾱ_t)."""

    def __init__(self, s, x0):
        super().__init__()
        self.s, self.x0 = s, x0

    def forward(self, x_t, t):
        a = self.s.alpha_bars[t - 1].view(-1, 1, 1, 1)
        return (x_t - a.sqrt() * self.x0) / (1 - a).sqrt()


def test_bound_of_the_oracle_is_the_prior_term():
    """With the true ε and σ_t² = β̃_t, every L_{t−1} (t ≥ 2) vanishes and L_0 ≈ 0: L = L_T."""
    s = D.make_schedule("linear", T=100, beta_end=0.2)
    x0 = load_digits("test")[0][:1]
    bound = D.variational_bound(_Oracle(s, x0), s, x0, variance="beta_tilde",
                                generator=torch.Generator().manual_seed(0))
    assert bound.steps.shape == (1, 100)
    assert float(bound.steps[:, 1:].abs().max()) < 1e-4
    assert float(bound.decoder) < 1e-4
    a_T = float(s.alpha_bars[-1])
    prior = 0.5 * float((a_T * x0.double() ** 2 + (1 - a_T) - math.log(1 - a_T) - 1).sum())
    assert float(bound.prior) == pytest.approx(prior, rel=1e-6)
    assert float(bound.total) == pytest.approx(prior, abs=1e-3)
    # with σ_t² = β_t the same oracle pays for the variance mismatch: a larger bound
    bigger = D.variational_bound(_Oracle(s, x0), s, x0, variance="beta", generator=torch.Generator().manual_seed(0))
    assert float(bigger.total) > float(bound.total) + 1.0


def test_bound_of_a_wrong_model_is_larger_and_in_bits():
    torch.manual_seed(0)
    s = D.make_schedule("linear", T=30, beta_end=0.3)
    x0, y = load_digits("test")[0][:8], load_digits("test")[1][:8]

    class Zero(torch.nn.Module):
        def forward(self, x_t, t, y=None):
            return torch.zeros_like(x_t)

    bound = D.variational_bound(Zero(), s, x0, y=y, batch_size=3, generator=torch.Generator().manual_seed(0))
    assert bound.bits_per_dim.shape == (8,)
    assert bool((bound.bits_per_dim > 0).all())
    assert torch.allclose(bound.bits_per_dim, bound.total / (64 * math.log(2)))
    oracle = D.variational_bound(_Oracle(s, x0[:1]), s, x0[:1], generator=torch.Generator().manual_seed(0))
    assert float(oracle.bits_per_dim[0]) < float(bound.bits_per_dim[0])


def test_bound_bad_inputs():
    s = D.make_schedule("linear", T=5, beta_end=0.5)
    net = torch.nn.Identity()
    with pytest.raises(ValueError, match="variance"):
        D.variational_bound(net, s, torch.zeros(2, 1, 8, 8), variance="large")
    with pytest.raises(ValueError, match="y must be"):
        D.variational_bound(net, s, torch.zeros(2, 1, 8, 8), y=torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="x0 must"):
        D.variational_bound(net, s, torch.zeros(2))


# --------------------------------------------------------------------------------------------------------
# The comparison
# --------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quick_rows():
    return compare(quick=True, seed=0)


@pytest.mark.slow
def test_quick_compare_fills_every_row(quick_rows):
    assert [r.family for r in quick_rows] == list(FAMILIES)
    by = {r.family: r for r in quick_rows}
    for r in quick_rows:
        if r.skipped:
            assert r.family == "gan" and "skipped" in r.note
            continue
        assert r.steps == 15 and r.train_seconds > 0 and r.sample_ms_per_image > 0
        assert r.fd is not None and r.fd > 0 and r.fd_ratio == pytest.approx(r.fd / frechet_reference(40))
        assert r.fd_ref == pytest.approx(frechet_reference(40)) and 0 <= r.near_copy_rate <= 1
        assert 0 <= r.confidence <= 1
        assert (r.accuracy is not None) == r.conditional
        assert r.samples.shape == (40, 1, 8, 8)
    # likelihoods only where defined; every one is a positive number of bits per dimension
    assert by["pixelcnn"].nll_kind == "exact" and by["pixelcnn"].bound_bpd is None
    assert by["vae"].bound_kind == "ELBO" and by["vae"].nll_bpd <= by["vae"].bound_bpd + 0.05
    assert by["ddpm"].bound_kind == "VLB" and by["ddpm"].nll_bpd is None and by["ddpm"].bound_bpd > 0
    # the DDPM row is the course's recipe (its network and a 20-step version of its schedule), not a copy
    from coursekit.compare import DDPM_QUICK_T, DDPM_RECIPE
    from coursekit.recipes import recipe

    assert f"recipe {DDPM_RECIPE}" in by["ddpm"].model and f"T = {DDPM_QUICK_T}" in by["ddpm"].model
    assert recipe(DDPM_RECIPE).model["kind"] in ("mlp", "unet")
    # an (almost) untrained categorical model sits near the uniform model's log2(17) bits
    assert abs(by["pixelcnn"].nll_bpd - math.log2(17)) < 0.5
    if not by["gan"].skipped:
        assert by["gan"].nll_bpd is None and by["gan"].bound_bpd is None


@pytest.mark.slow
def test_table_has_a_line_per_family(quick_rows):
    table = format_table(quick_rows)
    lines = table.splitlines()
    assert lines[0].startswith("| model |") and len([x for x in lines if x.startswith("| ")]) == 1 + len(FAMILIES)
    assert "(exact)" in table and "(ELBO)" in table and "(VLB)" in table and "n = 40: " in table
    # every likelihood says what it conditions on: p(x|y) on the conditional rows, p(x) on the others
    by = {r.family: line for r, line in zip(quick_rows, [x for x in lines if x.startswith("| ")][1:])}
    assert "p(x\\|y) " in by["pixelcnn"] and "p(x\\|y) ≤" in by["ddpm"] and "p(x) ≤" in by["vae"]   # | escaped
    assert all(line.count(" | ") == lines[0].count(" | ") for line in lines if line.startswith("| "))
    plain = format_table(quick_rows, markdown=False)
    assert "PixelCNN" in plain and "|" not in plain.splitlines()[1].replace("p(z|y)", "").replace("p(x|y)", "")


@pytest.mark.slow
def test_compare_is_reproducible_with_a_seed():
    """Same seed: the same training, samples and likelihoods for every family with a likelihood; another
    seed: different numbers (so the equality is not vacuous)."""
    names = ["pixelcnn", "vae", "ddpm"]
    budgets = {name: Budget(steps=4) for name in names}
    a = compare(quick=True, seed=3, only=",".join(names), budgets=budgets, n_samples=10)
    b = compare(quick=True, seed=3, only=names, budgets=budgets, n_samples=10)
    c = compare(quick=True, seed=4, only=names, budgets=budgets, n_samples=10)
    for ra, rb, rc in zip(a, b, c):
        assert (ra.fd, ra.bound_bpd, ra.nll_bpd) == (rb.fd, rb.bound_bpd, rb.nll_bpd), ra.family
        assert torch.equal(ra.samples, rb.samples), ra.family
        assert ra.samples.shape == (10, 1, 8, 8) and ra.steps == 4
        assert not torch.equal(ra.samples, rc.samples), ra.family
        assert (ra.nll_bpd, ra.bound_bpd) != (rc.nll_bpd, rc.bound_bpd), ra.family


def test_compare_bad_arguments():
    with pytest.raises(ValueError, match="only"):
        compare(quick=True, only="flow")
    with pytest.raises(ValueError, match="budgets"):
        compare(quick=True, only="vae", budgets={"vae": 10})
    with pytest.raises(ValueError, match="n_samples"):
        compare(quick=True, only="vae", n_samples=3)


@pytest.mark.slow
def test_cli(capsys, tmp_path):
    from coursekit.cli import main

    assert main(["compare", "--quick", "--only", "vae,cvae", "--seed", "1", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "cVAE" in printed and (tmp_path / "compare.md").read_text(encoding="utf-8").strip() == printed.strip()
    assert {"compare.json", "vae.png", "cvae.png"} <= {p.name for p in tmp_path.iterdir()}
    assert main(["compare", "--quick", "--only", "flow"]) == 2          # one line on stderr (tests/test_cli.py)


def test_bound_of_an_x0_model_is_the_bound_of_the_eps_model_it_implies():
    """variational_bound(prediction="x0") uses μ_θ = μ̃_t(x̂_0, x_t): fed the x̂_0 an ε-model implies, it must
    give that ε-model's bound term by term (same draws of x_t)."""

    class Eps(torch.nn.Module):
        def forward(self, x_t, t):
            return 0.5 * torch.tanh(x_t) + 0.01 * t.view(-1, 1, 1, 1)

    class X0(torch.nn.Module):
        def __init__(self, s):
            super().__init__()
            self.s, self.eps = s, Eps()

        def forward(self, x_t, t):
            a = self.s.alpha_bars[t - 1].view(-1, 1, 1, 1).float()
            return (x_t - (1 - a).sqrt() * self.eps(x_t, t)) / a.sqrt()

    s = D.make_schedule("linear", T=50, beta_end=0.2)
    x0 = load_digits("test")[0][:3]
    ours = D.variational_bound(X0(s), s, x0, prediction="x0", generator=torch.Generator().manual_seed(1))
    theirs = D.variational_bound(Eps(), s, x0, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(ours.steps, theirs.steps, rtol=1e-3, atol=1e-3)

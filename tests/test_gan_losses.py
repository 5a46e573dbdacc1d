"""The GAN objectives as the slides write them: V(D, G), the D and G losses, the optimal discriminator,
vanishing gradients of the saturating loss, and the pix2pix / CycleGAN terms."""

from __future__ import annotations

import math

import pytest
import torch

from coursekit import gan
from coursekit.gan import (
    cycle_loss,
    discriminator_loss,
    generator_loss,
    identity_loss,
    minimax_value,
    optimal_discriminator,
    pix2pix_generator_loss,
)


def test_value_is_minus_log4_when_D_is_one_half(device):
    half = torch.zeros(64, device=device)                  # logit 0 ⇔ D ≡ ½
    assert minimax_value(half, half).item() == pytest.approx(-math.log(4.0), abs=1e-6)
    assert discriminator_loss(half, half).item() == pytest.approx(math.log(4.0), abs=1e-6)
    assert generator_loss(half, "saturating").item() == pytest.approx(math.log(0.5), abs=1e-6)
    assert generator_loss(half, "non_saturating").item() == pytest.approx(math.log(2.0), abs=1e-6)


def test_losses_match_the_formulas_with_probabilities(device):
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(100, generator=g).to(device) * 3, torch.randn(100, generator=g).to(device) * 3
    d_real, d_fake = torch.sigmoid(real.double()), torch.sigmoid(fake.double())
    v = (d_real.log().mean() + (1 - d_fake).log().mean()).item()       # E log D(x) + E log(1 − D(G(z)))
    assert minimax_value(real, fake).item() == pytest.approx(v, rel=1e-5)
    assert discriminator_loss(real, fake).item() == pytest.approx(-v, rel=1e-5)
    assert generator_loss(fake, "saturating").item() == pytest.approx((1 - d_fake).log().mean().item(), rel=1e-5)
    assert generator_loss(fake, "non_saturating").item() == pytest.approx(-d_fake.log().mean().item(), rel=1e-5)
    assert generator_loss(fake, "least_squares").item() == pytest.approx(((fake - 1) ** 2).mean().item(), rel=1e-5)
    ls = 0.5 * (((real - 1) ** 2).mean() + (fake ** 2).mean())
    assert discriminator_loss(real, fake, "least_squares").item() == pytest.approx(ls.item(), rel=1e-5)


def test_losses_are_finite_for_extreme_logits(device):
    big = torch.tensor([-200.0, 200.0], device=device, requires_grad=True)
    for loss in (minimax_value(big, big), discriminator_loss(big, big), generator_loss(big, "saturating"),
                 generator_loss(big, "non_saturating")):
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(big.grad).all()
        big.grad = None
    # −log D(G(z)) for a logit of −200 is 200, not inf
    assert generator_loss(torch.tensor([-200.0], device=device)).item() == pytest.approx(200.0)


def test_saturating_gradient_vanishes_where_D_rejects_the_fakes(device):
    """梯度消失: with D(G(z)) → 0, ∂/∂θ_g log(1 − D(G(z))) → 0 but ∂/∂θ_g (−log D(G(z))) does not."""
    torch.manual_seed(0)
    G = torch.nn.Linear(4, 2).to(device)
    w = torch.tensor([[3.0, 3.0]], device=device)
    z = torch.randn(256, 4, device=device)

    def grad(kind: str) -> tuple[float, float]:
        G.zero_grad()
        logits = (G(z) @ w.T).squeeze(1) - 12.0             # a confident D: D(G(z)) ≈ e^−12
        generator_loss(logits, kind).backward()
        return G.weight.grad.norm().item(), torch.sigmoid(logits).mean().item()

    g_sat, d_fake = grad("saturating")
    g_ns, _ = grad("non_saturating")
    assert d_fake < 1e-3
    ratio = g_sat / g_ns
    assert ratio < 1e-3                                    # ≈ D/(1 − D): the measured vanishing factor
    assert g_ns > 0.1                                      # the non-saturating gradient stays O(1)
    # per example, ∂L_sat/∂ℓ = −σ(ℓ) and ∂L_ns/∂ℓ = −σ(−ℓ): the ratio is exactly e^ℓ = D/(1 − D)
    ell = torch.tensor([-8.0], device=device, requires_grad=True)
    (ds,) = torch.autograd.grad(generator_loss(ell, "saturating"), ell)
    (dn,) = torch.autograd.grad(generator_loss(ell, "non_saturating"), ell)
    assert (ds / dn).item() == pytest.approx(math.exp(-8.0), rel=1e-4)


def _normal_pdf(x: torch.Tensor, mu: float, sigma: float) -> torch.Tensor:
    return torch.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))


@pytest.mark.slow
def test_trained_discriminator_recovers_the_optimal_discriminator():
    """D*(x) = p_data/(p_data + p_g): train D alone (G fixed) on 1-D Gaussians and compare pointwise."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    real = torch.randn(20000, 1, generator=g)                      # p_data = N(0, 1)
    fake = 1.5 + 0.7 * torch.randn(20000, 1, generator=g)          # p_g   = N(1.5, 0.7²)
    D = gan.MLPDiscriminator(in_dim=1, hidden=32, depth=2)
    opt = torch.optim.Adam(D.parameters(), lr=1e-2)
    for _ in range(400):
        idx = torch.randint(0, 20000, (1024,), generator=g)
        loss = discriminator_loss(D(real[idx]), D(fake[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    x = torch.linspace(-1.5, 2.5, 41)
    expected = optimal_discriminator(_normal_pdf(x, 0, 1), _normal_pdf(x, 1.5, 0.7))
    with torch.no_grad():
        learned = torch.sigmoid(D(x[:, None]))
    assert (learned - expected).abs().max().item() < 0.06
    # …and the analytic D* is a maximiser of V: nudging it in either direction lowers V pointwise
    p, q = _normal_pdf(x, 0, 1), _normal_pdf(x, 1.5, 0.7)
    value = lambda d: p * d.log() + q * (1 - d).log()  # noqa: E731
    for eps in (0.02, -0.02):
        assert bool((value(expected) >= value((expected + eps).clamp(1e-4, 1 - 1e-4))).all())


def test_pix2pix_generator_loss_is_cgan_plus_lambda_l1(device):
    torch.manual_seed(0)
    logits = torch.randn(4, 1, 6, 6, device=device)
    fake, target = torch.rand(4, 3, 16, 16, device=device), torch.rand(4, 3, 16, 16, device=device)
    l1 = (fake - target).abs().mean()
    expected = generator_loss(logits) + 100.0 * l1                       # λ = 100 by default
    assert pix2pix_generator_loss(logits, fake, target).item() == pytest.approx(expected.item(), rel=1e-6)
    assert pix2pix_generator_loss(logits, fake, target, lambda_l1=0).item() == pytest.approx(
        generator_loss(logits).item(), rel=1e-6)
    with pytest.raises(ValueError, match="target"):
        pix2pix_generator_loss(logits, fake, target[:, :1])


def test_cycle_and_identity_losses(device):
    torch.manual_seed(0)
    x, rx, y, ry = (torch.randn(2, 1, 8, 8, device=device) for _ in range(4))
    by_hand = 10.0 * ((x - rx).abs().mean() + (y - ry).abs().mean())    # λ (‖x − F(G(x))‖₁ + ‖y − G(F(y))‖₁)
    assert cycle_loss(x, rx, y, ry).item() == pytest.approx(by_hand.item(), rel=1e-6)
    assert cycle_loss(x, rx, lambda_cycle=1.0).item() == pytest.approx((x - rx).abs().mean().item(), rel=1e-6)
    assert cycle_loss(x, x, y, y).item() == 0.0
    assert identity_loss(y, ry).item() == pytest.approx(5.0 * (y - ry).abs().mean().item(), rel=1e-6)
    with pytest.raises(ValueError, match="real_y"):
        cycle_loss(x, rx, y)


def test_bad_input_names_the_argument():
    z = torch.zeros(3)
    with pytest.raises(ValueError, match="kind"):
        generator_loss(z, kind="wasserstein")
    with pytest.raises(ValueError, match="kind"):
        discriminator_loss(z, z, kind="hinge")
    with pytest.raises(ValueError, match="real_logits"):
        minimax_value([0.0], z)
    with pytest.raises(ValueError, match="fake_logits"):
        discriminator_loss(z, torch.tensor([float("nan")]))
    with pytest.raises(ValueError, match="fake_logits"):
        generator_loss(torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="p_data"):
        optimal_discriminator(-torch.ones(2), torch.ones(2))

"""GAN objectives exactly as the slides write them (生成对抗网络), all computed from logits.

The discriminator outputs a logit ℓ; D(x) = σ(ℓ). Every log-probability is taken with ``logsigmoid`` so that
no loss ever evaluates log(0):

    log D(x)       = log σ(ℓ)  = logsigmoid(ℓ)
    log(1 − D(x))  = log σ(−ℓ) = logsigmoid(−ℓ)         (because 1 − σ(ℓ) = σ(−ℓ))

Minimax objective (Minmax 目标函数):
    min_G max_D V(D, G) = E_{x∼p_data} log D(x) + E_{z∼p(z)} log(1 − D(G(z)))
Discriminator (梯度上升 on V): minimise −V.
Generator, saturating (梯度下降):      min_G E log(1 − D(G(z)))          — 梯度消失 when D(G(z)) → 0
Generator, non-saturating (目标函数替换): max_G E log D(G(z))              — strong gradient exactly there
Least squares (LSGAN, the CycleGAN reference): D: ½E(D(x) − 1)² + ½E D(G(z))², G: E(D(G(z)) − 1)²
(here "D" is the raw output ℓ, no sigmoid).

Conditional models (cGAN, pix2pix, CycleGAN) use the same losses: the condition goes into the networks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .._checks import check_choice, check_real, check_tensor

GENERATOR_KINDS = ("non_saturating", "saturating", "least_squares")
DISCRIMINATOR_KINDS = ("minimax", "non_saturating", "saturating", "least_squares")


def _logits(name: str, x: object) -> Tensor:
    check_tensor(name, x, min_ndim=1)
    if x.numel() == 0:
        raise ValueError(f"{name} must not be empty")
    return x.float()      # losses in float32 even under bfloat16 autocast


def minimax_value(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """V(D, G) = E log D(x) + E log(1 − D(G(z))), from the logits D gives real and generated samples.

    V = −log 4 ≈ −1.386 when D ≡ ½ (logits 0): the value of the game at the Nash equilibrium p_g = p_data.
    """
    real, fake = _logits("real_logits", real_logits), _logits("fake_logits", fake_logits)
    return F.logsigmoid(real).mean() + F.logsigmoid(-fake).mean()    # E log D(x) + E log(1 − D(G(z)))


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor, kind: str = "minimax") -> Tensor:
    """The loss D minimises. "minimax" (also accepted: "non_saturating", "saturating", which share it):
    −V(D, G), i.e. gradient ascent on V, the binary cross-entropy of "real" vs "fake".
    "least_squares": ½ E (ℓ(x) − 1)² + ½ E ℓ(G(z))² (LSGAN, as the CycleGAN reference computes it)."""
    check_choice("kind", kind, DISCRIMINATOR_KINDS)
    real, fake = _logits("real_logits", real_logits), _logits("fake_logits", fake_logits)
    if kind == "least_squares":
        return 0.5 * ((real - 1.0).pow(2).mean() + fake.pow(2).mean())
    return -minimax_value(real, fake)                                 # max_D V  ⇔  min_D −V


def generator_loss(fake_logits: Tensor, kind: str = "non_saturating") -> Tensor:
    """The loss G minimises, from the logits D gives G(z).

    - "saturating":     E log(1 − D(G(z)))      (the slide's min_G; its gradient vanishes as D(G(z)) → 0)
    - "non_saturating": −E log D(G(z))          (the slide's 目标函数替换: max_G E log D(G(z)))
    - "least_squares":  E (ℓ(G(z)) − 1)²        (LSGAN)
    """
    check_choice("kind", kind, GENERATOR_KINDS)
    fake = _logits("fake_logits", fake_logits)
    if kind == "saturating":
        return F.logsigmoid(-fake).mean()          # log(1 − D(G(z))) = log σ(−ℓ)
    if kind == "non_saturating":
        return -F.logsigmoid(fake).mean()          # −log D(G(z)) = softplus(−ℓ)
    return (fake - 1.0).pow(2).mean()


def optimal_discriminator(p_data: Tensor, p_g: Tensor) -> Tensor:
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)), the discriminator that maximises V for a fixed G."""
    check_tensor("p_data", p_data)
    check_tensor("p_g", p_g)
    if bool((p_data < 0).any()) or bool((p_g < 0).any()):
        raise ValueError("p_data and p_g must be densities (non-negative)")
    return p_data / (p_data + p_g).clamp_min(torch.finfo(p_data.dtype).tiny)


def l1_loss(prediction: Tensor, target: Tensor) -> Tensor:
    """‖prediction − target‖₁, averaged over every pixel (the reference's nn.L1Loss)."""
    check_tensor("prediction", prediction)
    check_tensor("target", target)
    if prediction.shape != target.shape:
        raise ValueError(f"target must have the shape of prediction {tuple(prediction.shape)}, "
                         f"got {tuple(target.shape)}")
    return (prediction.float() - target.float()).abs().mean()


def pix2pix_generator_loss(fake_logits: Tensor, fake: Tensor, target: Tensor, lambda_l1: float = 100.0,
                           kind: str = "non_saturating") -> Tensor:
    """pix2pix's generator objective: the cGAN term on D(x, G(x)) + λ ‖G(x) − y‖₁ (λ = 100 by default).

    ``fake_logits`` are D's (patch) logits for the pair (x, G(x)); averaging them is the slide's PatchGAN
    d(x, y) = 1/(NM) Σ_ij d_patch(x[i:i+k, j:j+k], y[i:i+k, j:j+k]). ``lambda_l1 = 0`` is the plain cGAN;
    use :func:`l1_loss` alone for the L1-only baseline.
    """
    lambda_l1 = check_real("lambda_l1", lambda_l1, minimum=0.0)
    return generator_loss(fake_logits, kind) + lambda_l1 * l1_loss(fake, target)


def cycle_loss(real_x: Tensor, reconstructed_x: Tensor, real_y: Tensor | None = None,
               reconstructed_y: Tensor | None = None, lambda_cycle: float = 10.0) -> Tensor:
    """Cycle consistency λ (‖x − F(G(x))‖₁ + ‖y − G(F(y))‖₁), λ = 10 as in CycleGAN.

    ``reconstructed_x`` is F(G(x)) and ``reconstructed_y`` is G(F(y)); give only the x pair for one direction.
    """
    if lambda_cycle < 0:
        raise ValueError(f"lambda_cycle must be >= 0, got {lambda_cycle}")
    if (real_y is None) != (reconstructed_y is None):
        raise ValueError("give real_y and reconstructed_y together (or neither)")
    loss = l1_loss(reconstructed_x, real_x)                       # ‖x − F(G(x))‖₁
    if real_y is not None:
        loss = loss + l1_loss(reconstructed_y, real_y)            # + ‖y − G(F(y))‖₁
    return lambda_cycle * loss


def identity_loss(real: Tensor, mapped: Tensor, lambda_cycle: float = 10.0, lambda_identity: float = 0.5
                  ) -> Tensor:
    """CycleGAN's identity term λ_cyc·λ_id ‖G(y) − y‖₁: a real y of the target domain should pass through G
    unchanged (the reference weights it 0.5 × λ_cyc). ``mapped`` is G(y) (or F(x) for the other direction)."""
    if lambda_cycle < 0 or lambda_identity < 0:
        raise ValueError(f"lambda_cycle and lambda_identity must be >= 0, got {lambda_cycle}, {lambda_identity}")
    return lambda_cycle * lambda_identity * l1_loss(mapped, real)

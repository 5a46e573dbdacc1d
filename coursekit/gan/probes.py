"""Measuring the generator's learning signal during training (梯度消失 of the saturating loss, made visible).

    probe = GradientProbe()
    gan.train_gan(G, D, data, kind="saturating", callback=probe, callback_every=1)
    probe.grad_norms      # ‖∇_θg L_G‖₂ after every generator step
    probe.d_fake          # mean D(G(z)) on a fixed batch of z: how firmly D rejects the fakes

Why the two losses differ (ℓ = D's logit for G(z), D(G(z)) = σ(ℓ)):
    saturating      ∂/∂ℓ log(1 − σ(ℓ)) = −σ(ℓ)       → 0 as D(G(z)) → 0   (D rejects the fakes: no signal)
    non-saturating  ∂/∂ℓ −log σ(ℓ)     = −(1 − σ(ℓ)) → −1                 (the strongest signal exactly there)
The ratio of the two is D(G(z)) / (1 − D(G(z))); everything between ℓ and θ_g is shared by both losses.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .training import gradient_norm, latent_dim_of


def logit_gradients(fake_logits: Tensor) -> dict[str, Tensor]:
    """The closed forms of ∂L_G/∂ℓ per sample: {"saturating": −σ(ℓ), "non_saturating": −(1 − σ(ℓ))}."""
    d = torch.sigmoid(fake_logits)
    return {"saturating": -d, "non_saturating": -(1 - d)}


class GradientProbe:
    """A ``train_gan`` callback: after each generator step, ‖∇_θg‖₂ of G's last loss, and D(G(z)) on a fixed z.

    Use ``callback_every=1`` to record every step (``every`` thins the D(G(z)) forward pass, which costs a
    little; the gradient norm is read from the gradients already there and costs nothing).
    """

    def __init__(self, n: int = 256, seed: int = 0, every: int = 1):
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive int, got {every!r}")
        self.n, self.seed, self.every = n, seed, every
        self.steps: list[int] = []
        self.grad_norms: list[float] = []
        self.d_fake: list[float] = []
        self._z: Tensor | None = None

    def __call__(self, step: int, history, G: nn.Module, D: nn.Module) -> None:
        self.steps.append(int(step))
        self.grad_norms.append(gradient_norm(G))          # the gradient of the G step that just ran
        if (len(self.steps) - 1) % self.every == 0:
            device = next(G.parameters()).device
            if self._z is None or self._z.device != device:
                g = torch.Generator().manual_seed(self.seed)
                self._z = torch.randn(self.n, latent_dim_of(G), generator=g).to(device)
            with torch.no_grad():
                x = G(self._z)
                pack = getattr(D, "pack", 1)
                x = x[: x.shape[0] // pack * pack]
                self.d_fake.append(float(torch.sigmoid(D(x).float()).mean()))
        else:
            self.d_fake.append(self.d_fake[-1])

    def summary(self, first: int = 100) -> dict[str, float]:
        """Median ‖∇_θg‖ and mean D(G(z)) over the first ``first`` steps, and the median over all steps."""
        if not self.grad_norms:
            raise ValueError("the probe has recorded nothing yet (pass it to train_gan as callback)")
        early = torch.tensor(self.grad_norms[:first])
        return {"early_grad_norm": float(early.median()), "grad_norm": float(torch.tensor(self.grad_norms).median()),
                "early_d_fake": float(torch.tensor(self.d_fake[:first]).mean())}

"""Classifier guidance (Dhariwal & Nichol 2021), the method classifier-free guidance replaced (notebook 06b).

Bayes' rule splits the score of the class-conditional distribution of x_t into an unconditional score and a
classifier's gradient, ∇ log p(x_t | y) = ∇ log p(x_t) + ∇ log p(y | x_t). Dhariwal & Nichol take the first from
an unconditional denoiser ε_θ(x_t, t) and the second from a separate classifier p_φ(y | x_t, t) trained on noisy
images x_t (a classifier of clean digits knows nothing about x_t at large t), and scale it by s. Their Algorithm 1
(ancestral sampling) shifts the mean of each step of DDPM's Algorithm 2:

    x_{t−1} ~ N(μ_θ(x_t, t) + s Σ_t ∇_{x_t} log p_φ(y | x_t, t), Σ_t),   Σ_t = σ_t² I

with μ_θ(x_t, t) = 1/√α_t (x_t − (1 − α_t)/√(1 − ᾱ_t) ε_θ(x_t, t)), line 4 of Algorithm 2. Classifier-free
guidance (:func:`coursekit.diffusion.sample` with ``guidance_scale``) needs no second network: the implicit
classifier's gradient is −(ε_θ(x_t, t, y) − ε_θ(x_t, t, ∅)) / √(1 − ᾱ_t).

    from coursekit import diffusion as D
    from coursekit.diffusion import guidance as G
    clf = G.NoisyClassifier()
    train.fit(clf, lambda m, x0, y: G.noisy_classifier_loss(m, s, x0, y), (x, y), steps=1500)
    images = G.classifier_guided_sample(model, clf, s, y, scale=2.0, model_label=D.NULL_LABEL)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._checks import check_real, check_tensor
from .schedule import Schedule

__all__ = ["NoisyClassifier", "noisy_classifier_loss", "classifier_log_prob_gradient", "classifier_guided_sample"]


class NoisyClassifier(nn.Module):
    """p_φ(y | x_t, t) for 8×8 images: an MLP on the flattened noisy image with the time step added to every
    residual block (as :class:`coursekit.nets.MLPDenoiser` adds it), ending in ``num_classes`` logits."""

    def __init__(self, image_shape: tuple[int, int, int] = (1, 8, 8), num_classes: int = 10, hidden: int = 128,
                 depth: int = 2, time_dim: int = 64):
        super().__init__()
        from ..nets import SinusoidalTimeEmbedding

        if len(image_shape) != 3 or min(image_shape) < 1:
            raise ValueError(f"image_shape must be (C, H, W) with positive sizes, got {image_shape}")
        for name, value in (("num_classes", num_classes), ("hidden", hidden), ("depth", depth),
                            ("time_dim", time_dim)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.image_shape = tuple(int(d) for d in image_shape)
        self.num_classes = num_classes
        dim = math.prod(self.image_shape)
        self.time_mlp = nn.Sequential(SinusoidalTimeEmbedding(time_dim), nn.Linear(time_dim, hidden), nn.SiLU(),
                                      nn.Linear(hidden, hidden))
        self.inp = nn.Linear(dim, hidden)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
            for _ in range(depth))
        self.out = nn.Sequential(nn.SiLU(), nn.Linear(hidden, num_classes))

    def forward(self, x_t: Tensor, t: Tensor) -> Tensor:
        """Logits of p_φ(y | x_t, t), shape (batch, num_classes); t is a long tensor (batch,) in 1..T."""
        if x_t.ndim != 4 or tuple(x_t.shape[1:]) != self.image_shape:
            raise ValueError(f"x_t must have shape (batch, {', '.join(map(str, self.image_shape))}), "
                             f"got {tuple(x_t.shape)}")
        emb = self.time_mlp(t)
        h = self.inp(x_t.flatten(1))
        for block in self.blocks:
            h = h + block(h + emb)
        return self.out(h)


def noisy_classifier_loss(classifier: nn.Module, s: Schedule, x0: Tensor, y: Tensor,
                          generator: torch.Generator | None = None) -> Tensor:
    """Cross-entropy −log p_φ(y | x_t, t) averaged over the batch, at t ~ U{1, …, T} and
    x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε (the forward process in one step, as in Algorithm 1): the classifier learns
    to name the digit at every noise level the sampler will ask it about."""
    check_tensor("x0", x0, min_ndim=2)
    if not isinstance(y, Tensor) or y.shape != (x0.shape[0],) or y.is_floating_point():
        raise ValueError(f"y must be an integer tensor of shape ({x0.shape[0]},), got {getattr(y, 'shape', y)}")
    n = x0.shape[0]
    t = torch.randint(1, s.T + 1, (n,), device=x0.device, generator=generator)
    noise = torch.randn(x0.shape, device=x0.device, generator=generator)
    shape = (-1, *([1] * (x0.ndim - 1)))
    alpha_bar = s.to(x0.device).alpha_bars[t - 1].reshape(shape).to(x0.dtype)
    x_t = alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise
    return F.cross_entropy(classifier(x_t, t), y)


def classifier_log_prob_gradient(classifier: nn.Module, x_t: Tensor, t: Tensor, y: Tensor) -> Tensor:
    """∇_{x_t} log p_φ(y | x_t, t), one gradient per example (the examples do not interact, so the gradient of
    the sum over the batch is each example's own)."""
    with torch.enable_grad():
        x = x_t.detach().requires_grad_(True)
        log_p = classifier(x, t).log_softmax(dim=1).gather(1, y[:, None]).sum()
        (grad,) = torch.autograd.grad(log_p, x)
    return grad


def classifier_guided_sample(model: nn.Module, classifier: nn.Module, s: Schedule, y: Tensor, scale: float,
                             generator: torch.Generator | None = None, *, model_label: int | Tensor | None = None,
                             variance: str = "beta") -> Tensor:
    """Dhariwal & Nichol's Algorithm 1 (classifier guidance) for len(y) images of ``classifier.image_shape``.

    From x_T ~ N(0, I), for t = T, …, 1: x_{t−1} = μ_θ(x_t, t) + s σ_t² ∇ log p_φ(y | x_t, t) + σ_t z (z = 0 at
    t = 1), with μ_θ line 4 of DDPM's Algorithm 2. ``model`` is an unconditional ε_θ(x_t, t) (``model_label``
    None); a network trained for classifier-free guidance serves as one when called with the null label
    (``model_label=NULL_LABEL``), or as the conditional ε_θ(x_t, t, y) with ``model_label=y`` (a label tensor:
    Dhariwal & Nichol also guide conditional models).
    ``scale`` s = 0 is plain unconditional sampling; ``variance`` "beta" (σ_t² = β_t) or "beta_tilde" (β̃_t).
    The random numbers are drawn in the order of :func:`coursekit.diffusion.sample`: x_T, then one z per step.
    """
    from .sampling import _sigma_squared

    scale = check_real("scale", scale)
    if not isinstance(y, Tensor) or y.ndim != 1 or y.is_floating_point():
        raise ValueError(f"y must be an integer tensor of shape (batch,), got {getattr(y, 'shape', y)}")
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    y = y.to(device)
    n = y.shape[0]
    shape = (n, *classifier.image_shape)
    sigma_sq = _sigma_squared(s, variance).double().tolist()
    alphas = s.alphas.double().tolist()
    sqrt_one_minus_alpha_bars = s.sqrt_one_minus_alpha_bars.double().tolist()
    if isinstance(model_label, Tensor):
        if model_label.shape != y.shape or model_label.is_floating_point():
            raise ValueError(f"model_label must be an int or an integer tensor shaped like y {tuple(y.shape)}, "
                             f"got {tuple(model_label.shape)}")
        model_y = model_label.to(device)
    else:
        model_y = None if model_label is None else torch.full_like(y, int(model_label))
    was = model.training, classifier.training
    model.eval()
    classifier.eval()
    try:
        x = torch.randn(shape, generator=generator, device=device)                # x_T ~ N(0, I)
        t_in = torch.empty(n, dtype=torch.long, device=device)
        for t in range(s.T, 0, -1):
            i = t - 1
            t_in.fill_(t)
            with torch.no_grad():
                eps = model(x, t_in) if model_y is None else model(x, t_in, model_y)
            mean = (x - (1 - alphas[i]) / sqrt_one_minus_alpha_bars[i] * eps) / math.sqrt(alphas[i])   # μ_θ
            if scale != 0:
                mean = mean + scale * sigma_sq[i] * classifier_log_prob_gradient(classifier, x, t_in, y)
            if t > 1:
                x = mean + math.sqrt(sigma_sq[i]) * torch.randn(shape, generator=generator, device=device)
            else:
                x = mean
        return x.detach()
    finally:
        model.train(was[0])
        classifier.train(was[1])

"""Variational autoencoders (slides: 变分自编码器, 条件变分自编码器 cVAE).

Likelihood model (slide):      p_θ(x) = ∫ p_θ(x | z) p(z) dz,                p(z) = N(0, I)
Encoder (inference network):   q_φ(z | x) = N(μ_φ(x), diag σ²_φ(x))
Evidence lower bound:          log p_θ(x) ≥ ELBO = E_{q_φ(z|x)}[log p_θ(x | z)] − KL(q_φ(z | x) ‖ p(z))
Reparameterisation:            z = μ + σ ⊙ ε,  ε ~ N(0, I)   (gradients flow to μ and σ)
cVAE, both priors of the slide (the slide's condition is x and its output y; in this package the image is
x and the class label y, as everywhere else in coursekit):
    p_θ(x | y) = ∫ p_θ(x | z, y) p(z) dz            (prior="standard")
    p_θ(x | y) = ∫ p_θ(x | z, y) p_ψ(z | y) dz      (prior="conditional": a learned prior network)

The decoder is a categorical over the digits' 17 grey levels per pixel (not a Gaussian), so the ELBO is a
bound on a discrete log-likelihood and −ELBO / (D ln 2) is comparable, in bits/dim, with PixelCNN's exact
number and DDPM's variational bound. For evaluation the importance-weighted bound (IWAE, Burda et al. 2016)

    log p_θ(x) ≥ L_K = E[log (1/K) Σ_k p_θ(x, z_k) / q_φ(z_k | x)],   z_k ~ q_φ(z | x),

is tighter: ELBO = L_1 ≤ L_K ≤ L_{K+1} ≤ log p_θ(x).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._checks import check_choice, check_count_and_labels, check_in_range, check_int, check_tensor
from .autoregressive import DIGIT_LEVELS, from_levels, to_levels

LOG_2PI = math.log(2.0 * math.pi)
PRIORS = ("standard", "conditional")


# ---------------------------------------------------------------------------------------------------------
# The pieces of the ELBO, as functions
# ---------------------------------------------------------------------------------------------------------

def _check_pair(mu: object, logvar: object) -> None:
    check_tensor("mu", mu, ndim=2)
    check_tensor("logvar", logvar, ndim=2)
    if mu.shape != logvar.shape:
        raise ValueError(f"logvar must have the shape of mu {tuple(mu.shape)}, got {tuple(logvar.shape)}")


def reparameterize(mu: Tensor, logvar: Tensor, noise: Tensor | None = None,
                   generator: torch.Generator | None = None) -> Tensor:
    """z = μ + σ ⊙ ε with σ = exp(½ log σ²) and ε ~ N(0, I) (drawn unless ``noise`` is given).

    mu and logvar have shape (batch, latent_dim). Sampling is a differentiable function of (μ, σ) for a
    fixed ε, which is the whole point of the trick: ∂z/∂μ = 1, ∂z/∂σ = ε.
    """
    _check_pair(mu, logvar)
    if noise is None:
        noise = torch.randn(mu.shape, device=mu.device, dtype=mu.dtype, generator=generator)   # ε ~ N(0, I)
    else:
        check_tensor("noise", noise)
        if noise.shape != mu.shape:
            raise ValueError(f"noise must have the shape of mu {tuple(mu.shape)}, got {tuple(noise.shape)}")
    return mu + torch.exp(0.5 * logvar) * noise                     # z = μ + σ ⊙ ε


def gaussian_kl(mu: Tensor, logvar: Tensor, prior_mu: Tensor | None = None,
                prior_logvar: Tensor | None = None) -> Tensor:
    """KL(N(μ, σ²) ‖ N(μ_p, σ_p²)) in closed form, per example (summed over latent dimensions).

    With the default prior N(0, I):  KL = ½ Σ_j (μ_j² + σ_j² − log σ_j² − 1).
    In general:  KL = ½ Σ_j (log σ_p² − log σ² + (σ² + (μ − μ_p)²) / σ_p² − 1).
    """
    _check_pair(mu, logvar)
    if prior_mu is None and prior_logvar is None:
        return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0).sum(dim=1)
    prior_mu = torch.zeros_like(mu) if prior_mu is None else prior_mu
    prior_logvar = torch.zeros_like(logvar) if prior_logvar is None else prior_logvar
    for name, value in (("prior_mu", prior_mu), ("prior_logvar", prior_logvar)):
        check_tensor(name, value, ndim=2)
        if value.shape != mu.shape:
            raise ValueError(f"{name} must have the shape of mu {tuple(mu.shape)}, got {tuple(value.shape)}")
    return 0.5 * (prior_logvar - logvar + (logvar.exp() + (mu - prior_mu).pow(2)) / prior_logvar.exp()
                  - 1.0).sum(dim=1)


def gaussian_log_prob(z: Tensor, mu: Tensor | None = None, logvar: Tensor | None = None) -> Tensor:
    """log N(z; μ, diag σ²) summed over the last dimension (default N(0, I)); z may carry extra leading dims."""
    mu = torch.zeros_like(z) if mu is None else mu
    logvar = torch.zeros_like(z) if logvar is None else logvar
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) / logvar.exp()).sum(dim=-1)


def categorical_log_prob(logits: Tensor, x: Tensor, levels: int = DIGIT_LEVELS) -> Tensor:
    """log p_θ(x | z) of the categorical decoder, per example: Σ_i log softmax(logits_i)[level(x_i)].

    logits: (batch, levels, *image_shape); x: (batch, *image_shape) images in [-1, 1].
    """
    check_in_range("x", check_tensor("x", x, min_ndim=2))
    check_tensor("logits", logits, min_ndim=3, finite=False)
    if logits.shape[1] != levels or logits.shape[2:] != x.shape[1:] or logits.shape[0] != x.shape[0]:
        raise ValueError(f"logits must have shape (batch, levels={levels}, *x.shape[1:]) = "
                         f"{(x.shape[0], levels, *x.shape[1:])}, got {tuple(logits.shape)}")
    return -F.cross_entropy(logits, to_levels(x, levels), reduction="none").flatten(1).sum(1)


def elbo(log_px_given_z: Tensor, mu: Tensor, logvar: Tensor, prior_mu: Tensor | None = None,
         prior_logvar: Tensor | None = None, beta: float = 1.0) -> Tensor:
    """ELBO = log p_θ(x | z) − β · KL(q_φ(z | x) ‖ p(z)), per example (β = 1 is the true bound).

    ``log_px_given_z`` (batch,) is the reconstruction term for z drawn by :func:`reparameterize` (a one-sample
    Monte Carlo estimate of E_q[log p(x | z)]); the KL term is exact (:func:`gaussian_kl`).
    """
    check_tensor("log_px_given_z", log_px_given_z, ndim=1)
    if log_px_given_z.shape[0] != mu.shape[0]:
        raise ValueError(f"log_px_given_z must have shape ({mu.shape[0]},) (one value per example), "
                         f"got {tuple(log_px_given_z.shape)}")
    return log_px_given_z - beta * gaussian_kl(mu, logvar, prior_mu, prior_logvar)


# ---------------------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------------------

def _mlp(d_in: int, hidden: int, d_out: int, depth: int = 2) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(d_in if i == 0 else hidden, hidden), nn.SiLU()]
    return nn.Sequential(*layers, nn.Linear(hidden, d_out))


class VAE(nn.Module):
    """A VAE for (batch, 1, H, W) images in [-1, 1] with MLP encoder/decoder and a categorical decoder.

    ``latent_dim=2`` gives the 2-D latent space the latent-grid view draws. ``levels=2`` is the binarised
    (Bernoulli-like) decoder. The ``num_classes``/``prior`` arguments exist for :class:`CVAE`.
    """

    def __init__(self, latent_dim: int = 16, levels: int = DIGIT_LEVELS, hidden: int = 256, image_size: int = 8,
                 num_classes: int | None = None, prior: str = "standard"):
        super().__init__()
        if not isinstance(latent_dim, int) or isinstance(latent_dim, bool) or latent_dim < 1:
            raise ValueError(f"latent_dim must be a positive int, got {latent_dim!r}")
        if not isinstance(levels, int) or levels < 2:
            raise ValueError(f"levels must be an int >= 2, got {levels!r}")
        for name, value in (("hidden", hidden), ("image_size", image_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        check_choice("prior", prior, PRIORS)
        if prior == "conditional" and not num_classes:
            raise ValueError("prior='conditional' needs num_classes (the prior network p(z | y) reads the label)")
        self.config = dict(kind=type(self).__name__.lower(), latent_dim=latent_dim, levels=levels, hidden=hidden,
                           image_size=image_size, num_classes=num_classes, prior=prior)
        self.latent_dim, self.levels, self.image_size = latent_dim, levels, image_size
        self.num_classes, self.prior_kind = num_classes, prior
        self.dims = image_size * image_size
        n_cond = num_classes or 0
        self.encoder = _mlp(self.dims + n_cond, hidden, 2 * latent_dim)             # q_φ(z | x[, y])
        self.decoder = _mlp(latent_dim + n_cond, hidden, self.dims * levels)        # p_θ(x | z[, y])
        self.prior_net = _mlp(n_cond, hidden // 2, 2 * latent_dim, depth=1) if prior == "conditional" else None

    # -- checks --------------------------------------------------------------------------------------------
    def _check_x(self, x: Tensor) -> None:
        check_tensor("x", x, ndim=4)
        if tuple(x.shape[1:]) != (1, self.image_size, self.image_size):
            raise ValueError(f"x must have shape (batch, 1, {self.image_size}, {self.image_size}), "
                             f"got {tuple(x.shape)}")
        check_in_range("x", x)

    def _check_y(self, y: Tensor | None, batch: int) -> None:
        if self.num_classes is None:
            if y is not None:
                raise ValueError("y was given but the model was built without num_classes")
            return
        if y is None:
            raise ValueError(f"y (class labels in 0..{self.num_classes - 1}) is required: the model is conditional")
        if not isinstance(y, Tensor) or y.is_floating_point() or y.shape != (batch,):
            raise ValueError(f"y must be an integer tensor of shape ({batch},), got {getattr(y, 'shape', y)}")
        if batch and (int(y.min()) < 0 or int(y.max()) >= self.num_classes):
            raise ValueError(f"y must be in 0..{self.num_classes - 1}, got values in {int(y.min())}..{int(y.max())}")

    def _check_z(self, z: Tensor) -> None:
        check_tensor("z", z, ndim=2)
        if z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (batch, latent_dim={self.latent_dim}), got {tuple(z.shape)}")

    def _with_label(self, h: Tensor, y: Tensor | None) -> Tensor:
        if self.num_classes is None:
            return h
        return torch.cat([h, F.one_hot(y, self.num_classes).to(h.dtype)], dim=1)

    # -- the three networks --------------------------------------------------------------------------------
    def encode(self, x: Tensor, y: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """q_φ(z | x[, y]) = N(μ, diag σ²): returns (μ, log σ²), each (batch, latent_dim)."""
        self._check_x(x)
        self._check_y(y, x.shape[0])
        mu, logvar = self.encoder(self._with_label(x.flatten(1), y)).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)          # keeps σ² in a range where exp() cannot overflow

    def decode(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """Logits of p_θ(x | z[, y]): shape (batch, levels, 1, H, W)."""
        self._check_z(z)
        self._check_y(y, z.shape[0])
        logits = self.decoder(self._with_label(z, y))
        return logits.view(-1, self.levels, 1, self.image_size, self.image_size)

    def prior(self, batch: int, y: Tensor | None = None, device: torch.device | None = None
              ) -> tuple[Tensor, Tensor]:
        """(μ_p, log σ_p²) of the prior: N(0, I), or the learned p_ψ(z | y) when prior='conditional'."""
        if self.prior_net is None:
            device = device if device is not None else next(self.parameters()).device
            zeros = torch.zeros(batch, self.latent_dim, device=device)
            return zeros, zeros
        self._check_y(y, batch)
        mu, logvar = self.prior_net(F.one_hot(y, self.num_classes).float()).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)

    def decoder_mean(self, logits: Tensor) -> Tensor:
        """E[x | z] under the categorical decoder, Σ_k p_k · x(k): a smooth image in [-1, 1]."""
        values = from_levels(torch.arange(self.levels, device=logits.device), self.levels)
        return (logits.softmax(dim=1) * values.view(1, -1, 1, 1, 1)).sum(dim=1)

    # -- objectives ----------------------------------------------------------------------------------------
    def elbo(self, x: Tensor, y: Tensor | None = None, *, beta: float = 1.0,
             generator: torch.Generator | None = None) -> Tensor:
        """One-sample ELBO per example, in nats: log p_θ(x | z) − β KL(q_φ(z | x[, y]) ‖ p(z[| y]))."""
        mu, logvar = self.encode(x, y)
        z = reparameterize(mu, logvar, generator=generator)               # z = μ + σ ⊙ ε
        log_px_z = categorical_log_prob(self.decode(z, y), x, self.levels)
        prior_mu, prior_logvar = self.prior(x.shape[0], y, x.device) if self.prior_net is not None else (None, None)
        return elbo(log_px_z, mu, logvar, prior_mu, prior_logvar, beta)

    def loss(self, x: Tensor, y: Tensor | None = None, beta: float = 1.0) -> Tensor:
        """Training loss: −ELBO per dimension (nats), averaged over the batch."""
        return -self.elbo(x, y, beta=beta).mean() / self.dims

    def log_weights(self, x: Tensor, y: Tensor | None = None, k: int = 64,
                    generator: torch.Generator | None = None) -> Tensor:
        """log w_k = log p_θ(x | z_k) + log p(z_k) − log q_φ(z_k | x), z_k ~ q_φ: shape (batch, k)."""
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive int, got {k!r}")
        mu, logvar = self.encode(x, y)
        prior_mu, prior_logvar = self.prior(x.shape[0], y, x.device)
        batch = x.shape[0]
        eps = torch.randn(batch, k, self.latent_dim, device=x.device, generator=generator)
        z = mu[:, None] + torch.exp(0.5 * logvar)[:, None] * eps                     # (batch, k, latent)
        x_rep = x[:, None].expand(batch, k, *x.shape[1:]).reshape(batch * k, *x.shape[1:])
        y_rep = None if y is None else y[:, None].expand(batch, k).reshape(-1)
        log_px_z = categorical_log_prob(self.decode(z.reshape(batch * k, -1), y_rep), x_rep, self.levels)
        log_pz = gaussian_log_prob(z, prior_mu[:, None], prior_logvar[:, None])
        log_qz = gaussian_log_prob(z, mu[:, None], logvar[:, None])
        return log_px_z.view(batch, k) + log_pz - log_qz

    def iwae(self, x: Tensor, y: Tensor | None = None, k: int = 64,
             generator: torch.Generator | None = None) -> Tensor:
        """Importance-weighted bound L_K = log (1/K) Σ_k w_k per example (nats); K = 1 is the ELBO."""
        return torch.logsumexp(self.log_weights(x, y, k, generator), dim=1) - math.log(k)

    @torch.no_grad()
    def bits_per_dim(self, x: Tensor, y: Tensor | None = None, *, k: int = 1, batch_size: int = 256,
                     generator: torch.Generator | None = None) -> float:
        """Upper bound on −log₂ p_θ(x[| y]) / D averaged over examples: −L_K/(D ln 2); k = 1 is the ELBO."""
        check_int("batch_size", batch_size)
        check_int("k", k)
        was = self.training
        self.eval()
        try:
            total = 0.0
            for i in range(0, x.shape[0], batch_size):
                yb = None if y is None else y[i:i + batch_size]
                total += float(self.iwae(x[i:i + batch_size], yb, k, generator).sum())
        finally:
            self.train(was)
        return -total / (x.shape[0] * self.dims * math.log(2.0))

    # -- generation ----------------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int | None = None, y: Tensor | None = None, *, generator: torch.Generator | None = None,
               mean: bool = True) -> Tensor:
        """z ~ p(z[| y]), then x from p_θ(x | z[, y]): the decoder mean E[x | z] (``mean=True``, the usual picture:
        a blurred average, not a sample of the model) or the true draw x ~ p_θ(x | z), every pixel from its
        categorical (``mean=False``: independent pixels look noisy). Say which one a metric scores: on the digits
        the two differ by a factor of about two in FD / reference (lecture 03 §8)."""
        device = next(self.parameters()).device
        n, y = check_count_and_labels(n, y, device)
        self._check_y(y, n)
        was = self.training
        self.eval()
        try:
            prior_mu, prior_logvar = self.prior(n, y, device)
            z = reparameterize(prior_mu, prior_logvar, generator=generator)       # z ~ p(z[| y])
            return self.decode_images(z, y, mean=mean, generator=generator)
        finally:
            self.train(was)

    @torch.no_grad()
    def decode_images(self, z: Tensor, y: Tensor | None = None, *, mean: bool = True,
                      generator: torch.Generator | None = None) -> Tensor:
        """Images in [-1, 1] for latent codes z (the decoder mean, or one categorical draw per pixel)."""
        logits = self.decode(z, y)
        if mean:
            return self.decoder_mean(logits)
        probs = logits.movedim(1, -1).reshape(-1, self.levels).softmax(dim=1)
        k = torch.multinomial(probs, 1, generator=generator).view(z.shape[0], 1, self.image_size, self.image_size)
        return from_levels(k, self.levels)


class CVAE(VAE):
    """Conditional VAE p_θ(x | y) with either prior the slide shows: ``prior="standard"`` (p(z) = N(0, I))
    or ``prior="conditional"`` (a learned prior network p_ψ(z | y) = N(μ_ψ(y), diag σ²_ψ(y)))."""

    def __init__(self, num_classes: int = 10, latent_dim: int = 16, levels: int = DIGIT_LEVELS, hidden: int = 256,
                 image_size: int = 8, prior: str = "conditional"):
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
        super().__init__(latent_dim=latent_dim, levels=levels, hidden=hidden, image_size=image_size,
                         num_classes=num_classes, prior=prior)


def build(config: dict) -> VAE:
    """Rebuild a VAE/CVAE from its ``.config`` (for :func:`coursekit.train.load_checkpoint`'s ``build``)."""
    config = dict(config)
    kind = config.pop("kind", None)
    if kind == "vae":
        return VAE(**config)
    if kind == "cvae":
        return CVAE(**config)
    raise ValueError(f"config['kind'] must be 'vae' or 'cvae', got {kind!r}")


# ---------------------------------------------------------------------------------------------------------
# Latent-space views (the numbers; coursekit.viz.latent draws them)
# ---------------------------------------------------------------------------------------------------------

def _decode_eval(model: VAE, z: Tensor, y: Tensor | None) -> Tensor:
    """Decoder means in eval mode, leaving the model in the mode it was in."""
    was = model.training
    model.eval()
    try:
        return model.decode_images(z, y)
    finally:
        model.train(was)


def _check_span(span: float) -> None:
    if not isinstance(span, (int, float)) or not span > 0:
        raise ValueError(f"span must be a positive number, got {span!r}")


@torch.no_grad()
def latent_grid(model: VAE, n: int = 15, span: float = 2.5, dims: tuple[int, int] = (0, 1),
                y: int | None = None) -> Tensor:
    """Decoder means on an n × n grid of z over [−span, span]² in latent ``dims`` (others 0): (n², 1, H, W),
    row-major with z[dims[1]] decreasing down the rows (so 'up' is positive, as on a plot)."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    _check_span(span)
    if len(dims) != 2 or not all(0 <= d < model.latent_dim for d in dims) or dims[0] == dims[1]:
        raise ValueError(f"dims must be two different latent dimensions in 0..{model.latent_dim - 1}, got {dims}")
    device = next(model.parameters()).device
    values = torch.linspace(-span, span, n, device=device)
    z = torch.zeros(n * n, model.latent_dim, device=device)
    rows, cols = torch.meshgrid(values.flip(0), values, indexing="ij")
    z[:, dims[0]], z[:, dims[1]] = cols.reshape(-1), rows.reshape(-1)
    labels = None if y is None else torch.full((n * n,), int(y), dtype=torch.long, device=device)
    model._check_y(labels, n * n)                              # y given exactly when the model is conditional
    if labels is not None and model.prior_net is not None:
        prior_mu, prior_logvar = model.prior(n * n, labels, device)
        z = prior_mu + torch.exp(0.5 * prior_logvar) * z      # the grid in units of the conditional prior
    return _decode_eval(model, z, labels)


@torch.no_grad()
def traversal(model: VAE, z: Tensor, n_steps: int = 9, span: float = 3.0, y: Tensor | None = None) -> Tensor:
    """Vary one latent dimension at a time around the code(s) z (batch, latent_dim):
    images of shape (batch, latent_dim, n_steps, 1, H, W), z_j swept over [−span, span]."""
    model._check_z(z)
    if not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive int, got {n_steps!r}")
    _check_span(span)
    batch, d = z.shape
    if isinstance(y, Tensor):
        y = y.to(z.device)
    model._check_y(y, batch)
    values = torch.linspace(-span, span, n_steps, device=z.device)
    codes = z[:, None, None, :].repeat(1, d, n_steps, 1)                     # (batch, d, steps, d)
    idx = torch.arange(d, device=z.device)
    codes[:, idx, :, idx] = values                                          # sweep dimension j in row j
    labels = None if y is None else y[:, None, None].expand(batch, d, n_steps).reshape(-1)
    images = _decode_eval(model, codes.reshape(-1, d), labels)
    return images.view(batch, d, n_steps, *images.shape[1:])

"""Density estimation by maximum likelihood on small data sets (slides: 生成式模型概论, the overview lecture).

Two explicit models whose likelihood is exact and whose sampling is easy, small enough to fit in well under a
second, so a student can see what "a generative model" means before any network:

- :class:`Histogram`: a grid of cells over a box; maximum likelihood sets each cell's mass to its share of the
  data, p(x) = (n_cell / N) / area. A cell with no data gets probability 0, so one held-out point there makes the
  held-out log-likelihood −∞: over-fitting in its purest form. ``alpha`` adds a pseudo-count to every cell
  (α = 0 is exact maximum likelihood).
- :class:`GaussianMixture`: p(x) = Σ_k π_k N(x; μ_k, Σ_k), fitted by EM (each iteration never lowers the
  training likelihood).

Both are fitted by maximising the average log-likelihood (1/N) Σ_n log p_θ(x_n), which is the same as minimising
KL(p_data ‖ p_θ) = E_{p_data}[log p_data(x)] − E_{p_data}[log p_θ(x)]: the first term does not depend on θ.
:func:`kl_to_data` estimates this KL when p_data is known (the 2-D Gaussian-mixture sets of ``coursekit.data``).
Algorithms only: plots live in ``coursekit.viz.overview``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ._checks import check_tensor
from .data import toy_modes


def _check_points(name: str, x: object, dim: int | None = None) -> Tensor:
    check_tensor(name, x, ndim=2)
    if dim is not None and x.shape[1] != dim:
        raise ValueError(f"{name} must have shape (N, {dim}), got {tuple(x.shape)}")
    if x.shape[0] < 1:
        raise ValueError(f"{name} must hold at least one point")
    return x


def _check_int(name: str, value: object, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def _generator(seed: int | torch.Generator | None) -> torch.Generator:
    if isinstance(seed, torch.Generator):
        return seed
    return torch.Generator().manual_seed(0 if seed is None else int(seed))


def average_log_likelihood(model, x: Tensor) -> float:
    """(1/N) Σ_n log p_θ(x_n) in nats (−inf if some point has probability 0)."""
    return float(model.log_prob(x).double().mean())


# ---------------------------------------------------------------------------------------------------------
# Histogram
# ---------------------------------------------------------------------------------------------------------

@dataclass
class Histogram:
    """A 2-D histogram density on the box [−lim, lim]²: ``probs[i, j]`` is the mass of cell (i, j) (x along i,
    y along j); the density inside a cell is its mass divided by its area, and 0 outside the box."""

    probs: Tensor          # (bins, bins), sums to 1
    lim: float

    @property
    def bins(self) -> int:
        return self.probs.shape[0]

    @property
    def cell_area(self) -> float:
        return (2 * self.lim / self.bins) ** 2

    def cells(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(i, j, inside) of each point: its cell and whether it lies in the box."""
        _check_points("x", x, 2)
        u = (x + self.lim) / (2 * self.lim) * self.bins
        inside = ((u >= 0) & (u < self.bins)).all(dim=1)
        u = u.clamp(0, self.bins - 1).long()
        return u[:, 0], u[:, 1], inside

    def log_prob(self, x: Tensor) -> Tensor:
        """log p(x) = log(mass of x's cell / cell area); −inf outside the box or in an empty cell."""
        i, j, inside = self.cells(x)
        log_p = (self.probs[i, j] / self.cell_area).log()
        return torch.where(inside, log_p, torch.full_like(log_p, -math.inf))

    def sample(self, n: int, generator: torch.Generator | int | None = None) -> Tensor:
        """Pick a cell with probability equal to its mass, then a uniform point inside it."""
        _check_int("n", n, 1)
        g = _generator(generator)
        flat = torch.multinomial(self.probs.flatten(), n, replacement=True, generator=g)
        i, j = flat // self.bins, flat % self.bins
        width = 2 * self.lim / self.bins
        corner = torch.stack([i, j], dim=1).float() * width - self.lim
        return corner + torch.rand(n, 2, generator=g) * width


def fit_histogram(x: Tensor, bins: int, lim: float = 4.5, alpha: float = 0.0) -> Histogram:
    """Maximum likelihood: mass(cell) = (count(cell) + α) / (N + α·bins²). α = 0 is the exact MLE."""
    _check_points("x", x, 2)
    _check_int("bins", bins, 1)
    if not lim > 0:
        raise ValueError(f"lim must be positive, got {lim}")
    if not alpha >= 0:
        raise ValueError(f"alpha must be >= 0, got {alpha}")
    h = Histogram(torch.zeros(bins, bins), float(lim))
    i, j, inside = h.cells(x.float())
    counts = torch.zeros(bins * bins)
    counts.index_add_(0, (i * bins + j)[inside], torch.ones(int(inside.sum())))
    counts = counts + alpha
    h.probs = (counts / counts.sum()).view(bins, bins)
    return h


# ---------------------------------------------------------------------------------------------------------
# Gaussian mixture (EM)
# ---------------------------------------------------------------------------------------------------------

@dataclass
class GaussianMixture:
    """p(x) = Σ_k π_k N(x; μ_k, Σ_k) with full covariances."""

    weights: Tensor        # (K,) π_k, sums to 1
    means: Tensor          # (K, d) μ_k
    covs: Tensor           # (K, d, d) Σ_k

    @property
    def k(self) -> int:
        return self.weights.shape[0]

    def component_log_probs(self, x: Tensor) -> Tensor:
        """(N, K): log π_k + log N(x_n; μ_k, Σ_k)."""
        _check_points("x", x, self.means.shape[1])
        x = x.double()
        d = x.shape[1]
        chol = torch.linalg.cholesky(self.covs.double())                       # Σ_k = L_k L_kᵀ
        diff = (x[:, None, :] - self.means.double()[None]).unsqueeze(-1)         # (N, K, d, 1)
        z = torch.linalg.solve_triangular(chol[None].expand(x.shape[0], -1, -1, -1), diff, upper=False)
        maha = z.squeeze(-1).pow(2).sum(-1)                                      # (x − μ)ᵀ Σ⁻¹ (x − μ)
        log_det = 2 * chol.diagonal(dim1=-2, dim2=-1).log().sum(-1)              # log |Σ_k|
        log_norm = -0.5 * (d * math.log(2 * math.pi) + log_det[None] + maha)
        return self.weights.double().log()[None] + log_norm

    def log_prob(self, x: Tensor) -> Tensor:
        """log p(x) = logsumexp_k (log π_k + log N(x; μ_k, Σ_k)), shape (N,)."""
        return torch.logsumexp(self.component_log_probs(x), dim=1).float()

    def sample(self, n: int, generator: torch.Generator | int | None = None) -> Tensor:
        """k ~ Cat(π), then x = μ_k + L_k ε with ε ~ N(0, I) (ancestral sampling)."""
        _check_int("n", n, 1)
        g = _generator(generator)
        comp = torch.multinomial(self.weights.float(), n, replacement=True, generator=g)
        chol = torch.linalg.cholesky(self.covs.double()).float()
        eps = torch.randn(n, self.means.shape[1], 1, generator=g)
        return self.means.float()[comp] + (chol[comp] @ eps).squeeze(-1)


def init_gmm(x: Tensor, k: int, seed: int | torch.Generator | None = 0, reg: float = 1e-3) -> GaussianMixture:
    """The starting point of :func:`fit_gmm`: π_k = 1/K, μ_k at K distinct data points chosen at random
    (``seed``), Σ_k = the data's covariance (+ reg·I) for every k."""
    _check_points("x", x)
    _check_int("k", k, 1)
    x = x.double()
    n, d = x.shape
    if k > n:
        raise ValueError(f"k must be at most the number of points ({n}), got {k}")
    g = _generator(seed)
    eye = torch.eye(d, dtype=torch.float64)
    cov = torch.cov(x.T).reshape(d, d) + reg * eye if n > 1 else eye
    return GaussianMixture(torch.full((k,), 1.0 / k, dtype=torch.float64),
                           x[torch.randperm(n, generator=g)[:k]].clone(), cov.expand(k, d, d).clone())


def responsibilities(model: GaussianMixture, x: Tensor) -> Tensor:
    """E-step: r_nk = π_k N(x_n; μ_k, Σ_k) / Σ_j π_j N(x_n; μ_j, Σ_j) = p_θ(z_n = k | x_n), shape (N, K).

    This is the exact posterior of the component z given x: the q(z | x) for which the ELBO equals log p(x)."""
    logp = model.component_log_probs(x)
    return (logp - torch.logsumexp(logp, dim=1, keepdim=True)).exp()


def em_step(model: GaussianMixture, x: Tensor, reg: float = 1e-3) -> GaussianMixture:
    """One EM iteration: the E-step (:func:`responsibilities`), then the M-step, which maximises the ELBO
    Σ_n Σ_k r_nk [log π_k + log N(x_n; μ_k, Σ_k)] + H(r) over θ in closed form:

    N_k = Σ_n r_nk, π_k = N_k / N, μ_k = Σ_n r_nk x_n / N_k, Σ_k = Σ_n r_nk (x_n − μ_k)(x_n − μ_k)ᵀ / N_k + reg·I
    (reg keeps a component from collapsing onto one point, where the likelihood would be +∞)."""
    x = x.double()
    n, d = x.shape
    r = responsibilities(model, x)                                             # E-step
    nk = r.sum(0) + 1e-12                                                      # M-step
    means = (r.T @ x) / nk[:, None]
    diff = x[:, None, :] - means[None]                                         # (N, K, d)
    covs = torch.einsum("nk,nki,nkj->kij", r, diff, diff) / nk[:, None, None] + reg * torch.eye(d, dtype=x.dtype)
    return GaussianMixture(nk / n, means, covs)


def fit_gmm(x: Tensor, k: int, iters: int = 100, seed: int | None = 0, reg: float = 1e-3,
            tol: float = 1e-6) -> tuple[GaussianMixture, list[float]]:
    """Fit a K-component mixture by EM; returns (model, training average log-likelihood before each iteration
    and after the last one).

    Starts at :func:`init_gmm` and repeats :func:`em_step` (E-step: responsibilities r_nk; M-step: π, μ, Σ in
    closed form) ``iters`` times, or until the average log-likelihood moves by less than ``tol``. Each
    iteration never lowers the training likelihood (exactly so for reg → 0; with reg > 0 it is the penalised
    likelihood that never falls, and the course's fits show no decrease).
    """
    _check_points("x", x)
    _check_int("k", k, 1)
    _check_int("iters", iters, 1)
    if not reg > 0:
        raise ValueError(f"reg must be positive (it keeps covariances invertible), got {reg}")
    x = x.double()
    model = init_gmm(x, k, seed, reg)
    history: list[float] = []
    for _ in range(iters):
        history.append(float(torch.logsumexp(model.component_log_probs(x), dim=1).mean()))
        model = em_step(model, x, reg)
        if len(history) > 1 and abs(history[-1] - history[-2]) < tol:
            break
    history.append(average_log_likelihood(model, x))
    return model, history


# ---------------------------------------------------------------------------------------------------------
# KL(p_data ‖ p_θ) when p_data is known
# ---------------------------------------------------------------------------------------------------------

def data_log_prob(name: str, x: Tensor, std: float | None = None) -> Tensor:
    """log p_data(x) for the 2-D sets that are Gaussian mixtures ("ring8", "grid25"; equal weights, σ = std or
    the set's own), as ``coursekit.data.sample_2d(name, n, std=std)`` draws them."""
    modes = toy_modes(name)
    if modes is None:
        raise ValueError(f"name must be a 2-D set with a known density ('ring8' or 'grid25'), got {name!r}")
    centres, sigma = modes
    sigma = sigma if std is None else std
    k = len(centres)
    model = GaussianMixture(torch.full((k,), 1.0 / k), centres, (sigma ** 2) * torch.eye(2).expand(k, 2, 2))
    return model.log_prob(x)


def kl_to_data(model, name: str, x_data: Tensor, std: float | None = None) -> float:
    """Monte Carlo estimate of KL(p_data ‖ p_θ) = E_{x ~ p_data}[log p_data(x) − log p_θ(x)] in nats, on points
    ``x_data`` drawn from p_data (held out from training, for an honest number)."""
    return float((data_log_prob(name, x_data, std).double() - model.log_prob(x_data).double()).mean())

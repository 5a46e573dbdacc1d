"""Honest quality measures for generated samples (never downloaded: the classifier trains here, once).

Digits: a small CNN trained on the digits train split gives (a) the class accuracy/confidence of generated
images and (b) a Fréchet distance between feature statistics (the FID recipe, with this classifier in place
of Inception), reported beside the floor FD(real test, real train).
2-D sets: modes covered and % high-quality samples (VEEGAN protocol: within 3σ of a mode), and the
sliced Wasserstein distance to fresh data.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._checks import check_tensor
from .data import load_digits, resize_images, sample_2d, toy_modes

CLASSIFIER_VERSION = 2      # 2: trained on the corrected 1,437-image train split


class DigitClassifier(nn.Module):
    """A small CNN for 8×8 digits in [-1, 1]; ``features`` is the 128-d layer the Fréchet distance uses."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2), nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.Flatten(),
            nn.Linear(64 * 16, 128), nn.ReLU())
        self.head = nn.Linear(128, 10)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def cache_dir() -> Path:
    """Where the metric classifier is cached: $COURSEKIT_CACHE, else $XDG_CACHE_HOME/coursekit, else
    ~/.cache/coursekit."""
    root = os.environ.get("COURSEKIT_CACHE")
    if root:
        return Path(root)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "coursekit"


def _train_classifier(epochs: int = 30, seed: int = 0) -> DigitClassifier:
    """Deterministic training on the train split with light shift augmentation (a few seconds on CPU)."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    x, y = load_digits("train")
    model = DigitClassifier()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), 64):
            idx = perm[i:i + 64]
            xb = x[idx]
            shift = torch.randint(-1, 2, (2,), generator=g).tolist()
            xb = torch.roll(xb, shifts=shift, dims=(2, 3))
            loss = F.cross_entropy(model(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


@lru_cache(maxsize=1)
def digit_classifier() -> DigitClassifier:
    """The metric classifier, trained on first use and cached on disk (CPU, eval mode, no grad)."""
    path = cache_dir() / f"digit_classifier_v{CLASSIFIER_VERSION}.pt"
    model = DigitClassifier()
    if path.exists():
        try:
            model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            return model.eval().requires_grad_(False)
        except (RuntimeError, OSError, EOFError):
            pass   # a corrupt cache file: train again
    with torch.random.fork_rng(), torch.enable_grad():     # first use may come from inside torch.no_grad()
        model = _train_classifier()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        torch.save(model.state_dict(), tmp)
        tmp.replace(path)
    except OSError:
        pass       # a read-only cache is fine: the classifier is retrained next session
    return model.eval().requires_grad_(False)


def _prepare(images: Tensor) -> Tensor:
    check_tensor("images", images, ndim=4)
    if images.shape[1] != 1:
        raise ValueError(f"images must have 1 channel, got shape {tuple(images.shape)}")
    return resize_images(images.detach().float().cpu().clamp(-1, 1), 8)


@torch.no_grad()
def classify(images: Tensor) -> tuple[Tensor, Tensor]:
    """Predicted class and its probability for images (N, 1, H, W) in [-1, 1] (resized to 8×8)."""
    probs = digit_classifier()(_prepare(images)).softmax(dim=1)
    confidence, label = probs.max(dim=1)
    return label, confidence


def class_accuracy(images: Tensor, labels: Tensor) -> tuple[float, float]:
    """(fraction classified as the asked label, mean probability the classifier gives that label)."""
    if labels.shape != (images.shape[0],):
        raise ValueError(f"labels must have shape ({images.shape[0]},), got {tuple(labels.shape)}")
    with torch.no_grad():
        probs = digit_classifier()(_prepare(images)).softmax(dim=1)
    labels = labels.cpu().long()
    accuracy = float((probs.argmax(1) == labels).float().mean())
    confidence = float(probs[torch.arange(len(labels)), labels].mean())
    return accuracy, confidence


@torch.no_grad()
def digit_features(images: Tensor) -> np.ndarray:
    return digit_classifier().features(_prepare(images)).double().numpy()


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix (eigenvalues clipped at 0)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(values.clip(min=0))) @ vectors.T


def frechet_distance_from_features(a: np.ndarray, b: np.ndarray) -> float:
    """‖μ_a − μ_b‖² + Tr(Σ_a) + Tr(Σ_b) − 2 Tr((Σ_a^{1/2} Σ_b Σ_a^{1/2})^{1/2}), the Fréchet distance of two
    Gaussians (the symmetric form: stable for the rank-deficient covariances of a few hundred samples)."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root_a = _sqrt_psd(cov_a)
    cross = np.trace(_sqrt_psd(root_a @ cov_b @ root_a))
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * cross)


def frechet_distance(images: Tensor, reference: Tensor | None = None) -> float:
    """Fréchet distance between images and ``reference`` (default: the digits train split)."""
    if reference is None:
        reference = load_digits("train")[0]
    return frechet_distance_from_features(digit_features(images), digit_features(reference))


@lru_cache(maxsize=1)
def frechet_floor() -> float:
    """FD(real test split, real train split): the best a generator can hope to score (360 samples)."""
    return frechet_distance(load_digits("test")[0])


def digit_report(images: Tensor, labels: Tensor | None = None) -> dict[str, float]:
    """Every digits metric in one dict: fd, fd_floor, fd_ratio, and accuracy/confidence when labels given
    (else the mean classifier confidence)."""
    fd, floor = frechet_distance(images), frechet_floor()
    report = {"fd": fd, "fd_floor": floor, "fd_ratio": fd / floor}
    if labels is not None:
        report["accuracy"], report["confidence"] = class_accuracy(images, labels)
    else:
        report["confidence"] = float(classify(images)[1].mean())
    return report


# ---------------------------------------------------------------------------------------------------------
# 2-D sets
# ---------------------------------------------------------------------------------------------------------

def mode_coverage(samples: Tensor, name: str = "ring8", n_sigma: float = 3.0, min_count: int | None = None
                  ) -> dict[str, float]:
    """VEEGAN protocol: a sample is high quality when within ``n_sigma``·σ of its nearest mode; a mode is
    covered when at least ``min_count`` high-quality samples fall on it (default: 1 % of an even share,
    at least 1). Returns modes (covered count), n_modes and high_quality (%)."""
    check_tensor("samples", samples, ndim=2)
    modes = toy_modes(name)
    if modes is None:
        raise ValueError(f"name must be a set with modes ('ring8' or 'grid25'), got {name!r}")
    centres, sigma = modes
    x = samples.detach().float().cpu()
    dist, nearest = torch.cdist(x, centres).min(dim=1)
    good = dist <= n_sigma * sigma
    counts = torch.bincount(nearest[good], minlength=len(centres))
    if min_count is None:
        min_count = max(1, int(0.01 * len(x) / len(centres)))
    return {"modes": int((counts >= min_count).sum()), "n_modes": len(centres),
            "high_quality": 100.0 * float(good.float().mean())}


def sliced_wasserstein(a: Tensor, b: Tensor, n_projections: int = 256, seed: int = 0) -> float:
    """Sliced Wasserstein-1 distance between two point clouds (N, d) of equal size (random projections)."""
    check_tensor("a", a, ndim=2)
    check_tensor("b", b, ndim=2)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    g = torch.Generator().manual_seed(seed)
    dirs = torch.randn(a.shape[1], n_projections, generator=g)
    dirs = dirs / dirs.norm(dim=0, keepdim=True)
    pa = (a.detach().float().cpu() @ dirs).sort(dim=0).values
    pb = (b.detach().float().cpu() @ dirs).sort(dim=0).values
    return float((pa - pb).abs().mean())


def toy_report(samples: Tensor, name: str, seed: int = 12345) -> dict[str, float]:
    """Sliced Wasserstein to fresh data (and its floor: fresh data vs fresh data), plus mode coverage."""
    n = samples.shape[0]
    ref, ref2 = sample_2d(name, n, seed=seed), sample_2d(name, n, seed=seed + 1)
    report = {"swd": sliced_wasserstein(samples, ref), "swd_floor": sliced_wasserstein(ref2, ref)}
    if toy_modes(name) is not None:
        report.update(mode_coverage(samples, name))
    return report

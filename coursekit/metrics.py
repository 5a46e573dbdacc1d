"""Honest quality measures for generated samples, with one fixed metric classifier shipped in the package.

Digits: a small CNN trained on the digits train split (the 评测分类器, metric classifier) gives (a) the class
accuracy/confidence of generated images and (b) a Fréchet distance (FD) between feature statistics (the FID
recipe, with this classifier in place of Inception). Its weights are one fixed artefact
(``coursekit/assets/digits_classifier.pt``, made by ``scripts/make_metric_classifier.py`` on one CPU thread
with a fixed seed, SHA-256 checked on every load), so figures are comparable between machines and runs.

How the course reads FD (:func:`digit_report`):

- against the **test split**, digits no model in the course is trained on: against the train split, a model
  that copies its training digits would look better than one that generalises;
- divided by the **reference at the same sample size** (:func:`frechet_reference`, the glossary's 真实数据基准):
  FD is biased upward at small n (real digits score 37 at n = 100 and 9.5 at n = 500), so FD / reference = 1
  means "as good as the same number of real digits", and ratios at different n do not compare;
- beside the **share of near copies** of training digits (:func:`memorisation_report`), which FD cannot see;
- beside **KID** (:func:`kernel_distance`), an unbiased kernel distance whose expectation does not move with n.

2-D sets: modes covered and % high-quality samples (VEEGAN protocol: within 3σ of a mode), and the
sliced Wasserstein distance to fresh data.
"""

from __future__ import annotations

import hashlib
import io
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ._checks import check_tensor
from .data import load_digits, resize_images, sample_2d, toy_modes

CLASSIFIER_FILE = Path(__file__).resolve().parent / "assets" / "digits_classifier.pt"
CLASSIFIER_SHA256 = "33b9d3eec6eafc93ea9b827158c3175f823d22da9287a0e02b818aad10a82eef"
FULL_REFERENCE = 5.4863             # frechet_reference(1437): FD(whole train split, test split), pinned by tests
REFERENCE_SUBSETS = 10              # real-data subsets behind each FD / KID reference
REFERENCE_SEED = 20261207           # which subsets: fixed, so every machine has the same references
KID_FEATURE_SCALE = 4.66            # the train features' standard deviation (to 3 digits), a fixed constant
TEST_ACCURACY = 355 / 360            # the classifier's accuracy on the 360 test digits (pinned likewise)


class DigitClassifier(nn.Module):
    """A small CNN for 8×8 digits in [-1, 1]; ``features`` is the 64-d layer the Fréchet distance uses."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.Flatten(),
            nn.Linear(32 * 16, 64), nn.ReLU())
        self.head = nn.Linear(64, 10)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def load_classifier(path: str | Path = CLASSIFIER_FILE, sha256: str | None = CLASSIFIER_SHA256) -> DigitClassifier:
    """The classifier stored at ``path`` (float16 weights → a float32 CPU model in eval mode, no grad).

    Raises RuntimeError when the file is missing or its SHA-256 differs from ``sha256`` (None skips the check):
    FD figures measured with other weights would not be comparable with the course's.
    """
    path = Path(path)
    if not path.is_file():
        raise RuntimeError(f"the metric classifier's weights are missing: {path} (reinstall coursekit, or run "
                           "scripts/make_metric_classifier.py)")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if sha256 is not None and digest != sha256:
        raise RuntimeError(f"the metric classifier's weights {path} have SHA-256 {digest}, expected {sha256}: "
                           "the file was changed or damaged, so FD figures would not be comparable; reinstall "
                           "coursekit or restore the file from git")
    state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    model = DigitClassifier()
    model.load_state_dict({k: v.float() for k, v in state.items()})
    return model.eval().requires_grad_(False)


@lru_cache(maxsize=1)
def digit_classifier() -> DigitClassifier:
    """The course's metric classifier (the shipped weights, checksum-verified once per process)."""
    return load_classifier()


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
    """Fréchet distance between images and ``reference`` (default: the 360 digits of the test split, which no
    model in the course is trained on)."""
    if reference is None:
        return frechet_distance_from_features(digit_features(images), _split_features("test"))
    return frechet_distance_from_features(digit_features(images), digit_features(reference))


@lru_cache(maxsize=2)
def _split_features(split: str) -> np.ndarray:
    """The metric classifier's features of a whole split (computed once per process)."""
    return digit_features(load_digits(split)[0])


def _reference_subsets(n: int) -> list[np.ndarray]:
    """``REFERENCE_SUBSETS`` fixed random subsets of ``n`` real train digits' features (the same on every
    machine: a seeded numpy generator)."""
    train = _split_features("train")
    if not 2 <= n <= len(train):
        raise ValueError(f"n must be between 2 and {len(train)} (the train split's size), got {n}")
    rng = np.random.default_rng(REFERENCE_SEED)
    return [train[rng.choice(len(train), n, replace=False)] for _ in range(REFERENCE_SUBSETS)]


@lru_cache(maxsize=64)
def frechet_reference(n: int) -> float:
    """The FD reference at sample size ``n`` ("floor", 真实数据基准): the median over ``REFERENCE_SUBSETS`` fixed
    subsets of FD(n real train digits, test split).

    FD is biased upward at small n (a covariance estimated from few samples looks different from the
    reference's), so a generator's FD only means something beside real data measured the same way: 37 at
    n = 100, 9.5 at n = 500, 5.5 at n = 1437. ``fd / frechet_reference(n)`` = 1 is as good as real digits."""
    test = _split_features("test")
    return float(np.median([frechet_distance_from_features(a, test) for a in _reference_subsets(n)]))


def kernel_distance_from_features(a: np.ndarray, b: np.ndarray) -> float:
    """The unbiased estimate of MMD² with the cubic kernel k(x, y) = (x·y / d + 1)³ (the KID recipe), ×1000.

    Unlike FD it has no bias with the sample size: its expectation is the same at every n (so it can be
    compared across n, at the price of more noise at small n), and 0 when both sets come from one distribution
    (an estimate can then be slightly negative). Features are divided by one fixed scale first
    (``KID_FEATURE_SCALE``, the train features' standard deviation) so that x·y / d is of order 1."""
    a, b = a / KID_FEATURE_SCALE, b / KID_FEATURE_SCALE
    d, m, n = a.shape[1], len(a), len(b)
    if m < 2 or n < 2:
        raise ValueError(f"the kernel distance needs at least 2 samples on each side, got {m} and {n}")
    k_aa, k_bb, k_ab = ((a @ a.T / d + 1) ** 3, (b @ b.T / d + 1) ** 3, (a @ b.T / d + 1) ** 3)
    within_a = (k_aa.sum() - np.trace(k_aa)) / (m * (m - 1))          # the diagonal k(x, x) is left out:
    within_b = (k_bb.sum() - np.trace(k_bb)) / (n * (n - 1))          # that is what makes it unbiased
    return float(1000 * (within_a + within_b - 2 * k_ab.mean()))


def kernel_distance(images: Tensor, reference: Tensor | None = None) -> float:
    """KID (×1000) between images and ``reference`` (default: the test split), in the metric classifier's
    feature space; see :func:`kernel_distance_from_features`."""
    ref = _split_features("test") if reference is None else digit_features(reference)
    return kernel_distance_from_features(digit_features(images), ref)


@lru_cache(maxsize=64)
def kernel_reference(n: int) -> float:
    """KID (×1000) of real train digits against the test split at sample size ``n`` (median over the same fixed
    subsets as :func:`frechet_reference`): what real data scores. Unbiased, so its expectation does not move with
    n, but its noise does: −25 to −27 at n = 500 to 1000, between −33 and +6 at n = 50 to 200 (a median of 10
    subsets). It sits below 0 because the estimate's within-test term is one fixed draw of 360 digits."""
    test = _split_features("test")
    return float(np.median([kernel_distance_from_features(a, test) for a in _reference_subsets(n)]))


def digit_report(images: Tensor, labels: Tensor | None = None) -> dict[str, float]:
    """Every digits metric in one dict, each against data the model never saw (the test split):

    - ``n``: the sample size (at most the train split's 1,437: the largest real reference there is);
    - ``fd``, ``fd_ref`` (:func:`frechet_reference` at the same n) and ``fd_ratio`` = fd / fd_ref (1 = as good
      as real digits; ratios at different n do not compare, so the course reports n = 500 wherever it can);
    - ``kid`` and ``kid_ref``: the unbiased kernel distance (×1000) of the samples and of real digits;
    - ``near_copy_rate``: the share of near copies of training digits (see :func:`memorisation_report`): FD
      cannot tell copying from generalising, so it stands beside every FD;
    - ``accuracy`` and ``confidence`` of the metric classifier when ``labels`` are given (else the mean
      confidence)."""
    check_tensor("images", images, ndim=4)
    n = len(images)
    if n > len(load_digits("train")[0]):
        raise ValueError(f"images: at most {len(load_digits('train')[0])} samples (the largest real reference), "
                         f"got {n}")
    features = digit_features(images)
    test = _split_features("test")
    fd, fd_ref = frechet_distance_from_features(features, test), frechet_reference(n)
    report = {"n": n, "fd": fd, "fd_ref": fd_ref, "fd_ratio": fd / fd_ref,
              "kid": kernel_distance_from_features(features, test), "kid_ref": kernel_reference(n),
              "near_copy_rate": memorisation_report(_prepare(images))["near_copy_rate"]}
    if labels is not None:
        report["accuracy"], report["confidence"] = class_accuracy(images, labels)
    else:
        report["confidence"] = float(classify(images)[1].mean())
    return report


def _nearest_train_distance(images: Tensor) -> Tensor:
    """Euclidean pixel distance from each image to its nearest digit of the train split."""
    train = load_digits("train")[0].flatten(1).double()
    return torch.cdist(images.detach().cpu().flatten(1).double(), train).min(dim=1).values


@lru_cache(maxsize=1)
def _test_distances() -> Tensor:
    """Each unseen test digit's distance to its nearest train digit (computed once)."""
    return _nearest_train_distance(load_digits("test")[0])


def copy_threshold() -> float:
    """The 5th percentile of the test digits' distances to their nearest train digit: a real digit the model
    never saw is this close to a train digit only 5 % of the time."""
    return float(_test_distances().quantile(0.05))


def memorisation_report(images: Tensor) -> dict[str, float]:
    """How close samples sit to the training digits, beside the unseen test digits (the FD against the train
    split cannot tell a model that copies its training set from one that generalises):

    - ``near_copy_rate``: fraction of samples closer to a train digit than ``copy_threshold()`` (unseen real
      digits: 0.05 by construction; a model that only replays its training set: 1.0);
    - ``nn_median``: median distance to the nearest train digit (test digits: ``nn_median_test``).
    """
    check_tensor("images", images, min_ndim=2)
    if images[0].numel() != 64:
        raise ValueError(f"images must be 8×8 digits (64 values each), got shape {tuple(images.shape)}")
    d = _nearest_train_distance(images.reshape(-1, 64))
    return {"near_copy_rate": float((d < copy_threshold()).double().mean()), "nn_median": float(d.median()),
            "nn_median_test": float(_test_distances().median())}


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

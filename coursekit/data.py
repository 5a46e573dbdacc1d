"""Datasets that work offline: scikit-learn's bundled digits and synthetic 2-D sets.

Images are float32 tensors of shape (N, 1, H, W) scaled to [-1, 1] (the range DDPM assumes for x_0);
labels are long tensors of shape (N,). 2-D sets are float32 tensors of shape (N, 2).

MNIST and Fashion-MNIST go through torchvision for online use; nothing here downloads unless asked to
(``download=True``), and nothing downloads at import.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ._checks import check_choice

SPLIT_SEED = 0          # the train/test split never changes: graded results depend on it
TEST_FRACTION = 0.2


# ---------------------------------------------------------------------------------------------------------
# Handwritten digits (scikit-learn ships them: 1,797 images of 8×8 pixels, 16 grey levels)
# ---------------------------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _digits_numpy() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits as _sk_load_digits

    bunch = _sk_load_digits()
    images = bunch.images.astype(np.float32) / 16.0 * 2.0 - 1.0      # 0..16 → [-1, 1]
    return images, bunch.target.astype(np.int64)


def _split_indices(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A stratified split with a fixed seed: TEST_FRACTION of every class goes to the test set.

    The test set has ⌈TEST_FRACTION · N⌉ images (360 of 1,797, as scikit-learn's train_test_split); the
    per-class counts are TEST_FRACTION of each class rounded by largest remainder so that they add up to it
    (rounding each class on its own gave 359).
    """
    rng = np.random.default_rng(SPLIT_SEED)
    classes = np.unique(labels)
    exact = np.array([(labels == c).sum() for c in classes]) * TEST_FRACTION
    n_tests = np.floor(exact).astype(int)
    missing = math.ceil(round(TEST_FRACTION * len(labels), 9)) - int(n_tests.sum())
    n_tests[np.argsort(-(exact - n_tests), kind="stable")[:missing]] += 1
    train, test = [], []
    for c, n_test in zip(classes, n_tests):
        idx = rng.permutation(np.flatnonzero(labels == c))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def resize_images(x: Tensor, size: int) -> Tensor:
    """Bilinear up/down-sampling of (N, C, H, W) images to size × size, clamped back to [-1, 1]."""
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).clamp_(-1.0, 1.0)


def load_digits(split: str = "train", size: int = 8, device: str | torch.device | None = None
                ) -> tuple[Tensor, Tensor]:
    """scikit-learn's digits as (images (N, 1, size, size) in [-1, 1], labels (N,)).

    ``split`` is "train" (1,437 images), "test" (360) or "all"; the split is stratified and fixed.
    ``size`` > 8 upsamples bilinearly (16 or 32 suit a U-Net with two down-samplings).
    """
    check_choice("split", split, ("train", "test", "all"))
    if not isinstance(size, int) or size < 4:
        raise ValueError(f"size must be an int >= 4, got {size!r}")
    images, labels = _digits_numpy()
    if split != "all":
        train_idx, test_idx = _split_indices(labels)
        idx = train_idx if split == "train" else test_idx
        images, labels = images[idx], labels[idx]
    x = resize_images(torch.from_numpy(images).unsqueeze(1), size)
    y = torch.from_numpy(labels)
    return x.to(device), y.to(device)


def to_unit_range(x: Tensor) -> Tensor:
    """Map images from the model range [-1, 1] to [0, 1] for display and for the metrics classifier."""
    return ((x + 1.0) / 2.0).clamp(0.0, 1.0)


# ---------------------------------------------------------------------------------------------------------
# Synthetic 2-D sets
# ---------------------------------------------------------------------------------------------------------

TOY_2D = ("ring8", "grid25", "moons", "swissroll", "checkerboard")


def toy_modes(name: str) -> tuple[Tensor, float] | None:
    """Centres and standard deviation of the Gaussian mixtures (None for the sets without modes).

    As in the VEEGAN protocol: a ring of 8 Gaussians of radius 2 and σ = 0.02, and a 5×5 grid at
    {-4, -2, 0, 2, 4}² with σ = 0.05.
    """
    check_choice("name", name, TOY_2D)
    if name == "ring8":
        angles = torch.arange(8, dtype=torch.float32) * (2 * math.pi / 8)
        return torch.stack([2.0 * torch.cos(angles), 2.0 * torch.sin(angles)], dim=1), 0.02
    if name == "grid25":
        g = torch.arange(-4.0, 5.0, 2.0)
        return torch.cartesian_prod(g, g), 0.05
    return None


def _as_generator(seed: int | torch.Generator | None) -> torch.Generator:
    if isinstance(seed, torch.Generator):
        return seed
    g = torch.Generator()
    g.manual_seed(0 if seed is None else int(seed))
    return g


def sample_2d(name: str, n: int, seed: int | torch.Generator | None = 0, std: float | None = None,
              with_labels: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """n points of a 2-D set, reproducible from ``seed`` (an int or a torch.Generator).

    Names: "ring8" (8 Gaussians on a ring), "grid25" (5×5 grid of Gaussians), "moons", "swissroll",
    "checkerboard". All are scaled to roughly [-4, 4]². ``with_labels`` also returns the mode (or moon)
    index of each point, for conditional models.
    """
    check_choice("name", name, TOY_2D)
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    g = _as_generator(seed)
    labels = torch.zeros(n, dtype=torch.long)
    modes = toy_modes(name)
    if modes is not None:
        centres, sigma = modes
        labels = torch.randint(len(centres), (n,), generator=g)
        x = centres[labels] + (sigma if std is None else std) * torch.randn(n, 2, generator=g)
    elif name == "moons":
        labels = torch.randint(2, (n,), generator=g)
        angle = torch.rand(n, generator=g) * math.pi
        upper = torch.stack([torch.cos(angle), torch.sin(angle)], 1)
        lower = torch.stack([1.0 - torch.cos(angle), 0.5 - torch.sin(angle)], 1)
        x = torch.where(labels[:, None] == 0, upper, lower)
        x = (x - torch.tensor([0.5, 0.25])) * 2.0 + (0.1 if std is None else std) * torch.randn(n, 2, generator=g)
    elif name == "swissroll":
        u = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=g))
        x = torch.stack([u * torch.cos(u), u * torch.sin(u)], 1) / 3.5
        x = x + (0.1 if std is None else std) * torch.randn(n, 2, generator=g)
    else:  # checkerboard: 8 squares of side 1 in [-2, 2]², alternating
        x1 = torch.rand(n, generator=g) * 4 - 2
        x2 = torch.rand(n, generator=g) + torch.randint(2, (n,), generator=g).float() * 2 - 2
        x2 = x2 + (torch.floor(x1) % 2)
        x = torch.stack([x1, x2], 1) * 2.0
    return (x, labels) if with_labels else x


# ---------------------------------------------------------------------------------------------------------
# MNIST / Fashion-MNIST through torchvision (online use; tests read a tiny local IDX fixture)
# ---------------------------------------------------------------------------------------------------------

def load_mnist(root: str | Path, split: str = "train", fashion: bool = False, size: int = 28,
               download: bool = False, limit: int | None = None) -> tuple[Tensor, Tensor]:
    """MNIST (or Fashion-MNIST) as (images (N, 1, size, size) in [-1, 1], labels (N,)).

    Reads torchvision's layout ``root/MNIST/raw/*-idx?-ubyte``; set ``download=True`` to fetch it once
    (needs the internet, never done by default).
    """
    check_choice("split", split, ("train", "test"))
    from torchvision import datasets

    cls = datasets.FashionMNIST if fashion else datasets.MNIST
    try:
        ds = cls(root=str(root), train=(split == "train"), download=download)
    except RuntimeError as err:
        raise FileNotFoundError(
            f"{cls.__name__} not found under {root!r}; pass download=True (needs the internet) "
            f"or copy the IDX files to {Path(root) / cls.__name__ / 'raw'}") from err
    images, labels = ds.data, ds.targets
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    x = images.float().div(255.0).mul(2.0).sub(1.0).unsqueeze(1)
    return resize_images(x, size), labels.long()

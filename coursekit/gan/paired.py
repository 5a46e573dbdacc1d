"""Translation data made from the bundled digits (offline, no new dependencies): paired sets for pix2pix and
unpaired domains for CycleGAN.

Grey-level morphology on the upsampled digits, with max-pooling as the structuring-element operation:
    dilation  δ(x) = max over a 3×3 neighbourhood       (strokes grow: "thick")
    erosion   ε(x) = −δ(−x)                             (strokes shrink: "thin")
    edges     δ(x) − ε(x)                               (the morphological gradient: outlines only)
Tasks (x → y):
    "edges2digits"  outline → digit (fill the strokes)
    "thin2thick"    eroded digit → dilated digit
    "thick2thin"    the reverse
    "inpaint"       digit with its lower half blanked → digit (ambiguous: L1 alone averages the options)
All images are (N, 1, size, size) in [-1, 1] with the digits' fixed train/test split, so pairs are held out.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .._checks import check_choice, check_tensor
from ..data import load_digits

TASKS = ("edges2digits", "thin2thick", "thick2thin", "inpaint")


def dilate(x: Tensor, radius: int = 1) -> Tensor:
    """Grey-level dilation with a (2r+1)×(2r+1) square: each pixel takes the max of its neighbourhood."""
    check_tensor("x", x, ndim=4)
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    return x if radius == 0 else F.max_pool2d(x, 2 * radius + 1, stride=1, padding=radius)


def erode(x: Tensor, radius: int = 1) -> Tensor:
    """Grey-level erosion ε(x) = −δ(−x): each pixel takes the min of its neighbourhood."""
    return -dilate(-x, radius)


def edges(x: Tensor, radius: int = 1) -> Tensor:
    """Morphological gradient δ(x) − ε(x), rescaled from [0, 2] to [-1, 1]: bright outlines on black."""
    return (dilate(x, radius) - erode(x, radius)) - 1.0


def _translate(task: str, digits: Tensor, radius: int) -> tuple[Tensor, Tensor]:
    if task == "edges2digits":
        return edges(digits, radius), digits
    if task == "thin2thick":
        return erode(digits, radius), dilate(digits, radius)
    if task == "thick2thin":
        return dilate(digits, radius), erode(digits, radius)
    masked = digits.clone()                                   # inpaint: blank (−1) the lower half
    masked[..., digits.shape[-2] // 2:, :] = -1.0
    return masked, digits


def make_pairs(task: str = "edges2digits", split: str = "train", size: int = 16, radius: int | None = None
               ) -> tuple[Tensor, Tensor, Tensor]:
    """Paired data (x, y, labels) for pix2pix: x the input image, y its target, labels the digit classes
    (for the metric classifier). ``radius`` of the morphology defaults to size // 16 (1 pixel at 16×16)."""
    check_choice("task", task, TASKS)
    if size not in (16, 32):
        raise ValueError(f"size must be 16 or 32 (a U-Net with 4 or 5 halvings), got {size!r}")
    radius = max(1, size // 16) if radius is None else radius
    digits, labels = load_digits(split, size=size)
    x, y = _translate(task, digits, radius)
    return x.contiguous(), y.contiguous(), labels


def make_unpaired(task: str = "thin2thick", split: str = "train", size: int = 16, radius: int | None = None,
                  seed: int = 0) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Unpaired domains (X, Y, labels_X, labels_Y) for CycleGAN: X holds the inputs of one random half of the
    split and Y the targets of the *other* half, so no image of X has its counterpart in Y."""
    x, y, labels = make_pairs(task, split, size, radius)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    a, b = perm[: len(x) // 2], perm[len(x) // 2:]
    return x[a], y[b], labels[a], labels[b]

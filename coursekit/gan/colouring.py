"""A colouring task for pix2pix with several right answers per input (made from the bundled digits, offline).

x: a grey digit (1 channel). y: the same digit with its strokes painted in one of three colours, chosen at
random per example and independent of x (yellow, cyan, magenta: each is "two channels on, one off").
So p(y | x) has three modes, and the per-pixel losses behave as the pix2pix paper says for colourisation:

- L1 (‖G(x) − y‖₁) is minimised by the per-channel **median**: each channel of a stroke is on in 2 of 3
  colours, so the median is (1, 1, 1): **white strokes**, a colour no target has (the grey, washed-out look);
- the cGAN term rewards outputs D cannot tell from real coloured digits, so G(x) must pick *a* colour.

:func:`saturation` measures it: (max − min over the channels) / 2, averaged over the stroke pixels; a target
has 1, a white or grey stroke 0. :func:`palette_share` counts the outputs whose mean stroke colour is closer
to one of the three colours than to white. :func:`colour_spread` measures the spread of the outputs: the
entropy of their colours (log₂ 3 ≈ 1.58 bits for the targets, 0 when every output has the same colour), and,
given the digit labels, the entropy left within each digit, H(colour | digit): a model of p(y | x) keeps it
near log₂ 3, a generator that picks one colour per input shape drives it towards 0.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._checks import check_tensor
from ..data import load_digits

PALETTE = torch.tensor([[1.0, 1.0, -1.0],      # yellow   (red + green)
                        [-1.0, 1.0, 1.0],      # cyan     (green + blue)
                        [1.0, -1.0, 1.0]])     # magenta  (red + blue)
PALETTE_NAMES = ("yellow", "cyan", "magenta")
WHITE = torch.ones(3)


def paint(grey: Tensor, colour: Tensor) -> Tensor:
    """Colour the strokes of grey images (N, 1, H, W) in [-1, 1]: a pixel of brightness a = (g + 1)/2 becomes
    −1 + a·(c + 1) per channel, so the background stays black and a full stroke takes the colour c (N, 3)."""
    check_tensor("grey", grey, ndim=4)
    check_tensor("colour", colour, ndim=2)
    a = (grey + 1.0) / 2.0
    return -1.0 + a * (colour[:, :, None, None] + 1.0)


def make_colouring(split: str = "train", size: int = 32, seed: int = 0) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(x grey (N, 1, size, size), y coloured (N, 3, size, size), digit labels (N,), colour index (N,)).

    The colour of each example is drawn uniformly from :data:`PALETTE` with ``seed`` (independent of x)."""
    if size not in (16, 32):
        raise ValueError(f"size must be 16 or 32 (a U-Net with 4 or 5 halvings), got {size!r}")
    grey, labels = load_digits(split, size=size)
    g = torch.Generator().manual_seed(seed + (0 if split == "train" else 1))
    colour_index = torch.randint(0, len(PALETTE), (len(grey),), generator=g)
    return grey.contiguous(), paint(grey, PALETTE[colour_index]).contiguous(), labels, colour_index


def stroke_mask(images: Tensor, threshold: float = 0.0) -> Tensor:
    """Stroke pixels (N, 1, H, W): the brightest channel above ``threshold`` (the background is −1)."""
    check_tensor("images", images, ndim=4)
    return images.amax(dim=1, keepdim=True) > threshold


def saturation(images: Tensor, mask: Tensor | None = None) -> float:
    """Mean (max − min over RGB) / 2 over stroke pixels: 1 for a palette colour, 0 for white or grey."""
    check_tensor("images", images, ndim=4)
    if images.shape[1] != 3:
        raise ValueError(f"images must have 3 channels (RGB), got {images.shape[1]}")
    mask = stroke_mask(images) if mask is None else mask
    spread = (images.amax(dim=1, keepdim=True) - images.amin(dim=1, keepdim=True)) / 2.0
    return float(spread[mask].mean()) if bool(mask.any()) else 0.0


def mean_stroke_colour(images: Tensor, mask: Tensor) -> Tensor:
    """The average RGB over each image's stroke pixels: (N, 3)."""
    m = mask.float()
    return (images * m).sum(dim=(2, 3)) / m.sum(dim=(2, 3)).clamp_min(1.0)


def palette_share(images: Tensor, mask: Tensor) -> float:
    """Fraction of images whose mean stroke colour is nearer to a palette colour than to white."""
    colours = mean_stroke_colour(images, mask)
    to_palette = torch.cdist(colours, PALETTE).min(dim=1).values
    to_white = (colours - WHITE).norm(dim=1)
    return float((to_palette < to_white).float().mean())


COLOURS = torch.cat([PALETTE, WHITE[None]])    # what an output's mean stroke colour is binned to
COLOUR_NAMES = PALETTE_NAMES + ("white",)


def colour_shares(images: Tensor, mask: Tensor | None = None) -> Tensor:
    """Share of the images whose mean stroke colour is nearest to yellow, cyan, magenta, white: (4,), sum 1."""
    check_tensor("images", images, ndim=4)
    mask = stroke_mask(images) if mask is None else mask
    nearest = torch.cdist(mean_stroke_colour(images, mask), COLOURS).argmin(dim=1)
    return torch.bincount(nearest, minlength=len(COLOURS)).float() / len(images)


def entropy_bits(p: Tensor) -> float:
    """H(p) = −Σ_c p_c log₂ p_c in bits, with 0 · log 0 = 0."""
    p = p[p > 0]
    return max(0.0, float(-(p * p.log2()).sum()))      # max: no "−0.0" when one colour has p = 1


def colour_spread(images: Tensor, mask: Tensor | None = None, groups: Tensor | None = None) -> float:
    """The spread of the outputs' colours, in bits: H(colour) = −Σ_c p_c log₂ p_c over :func:`colour_shares`;
    log₂ 3 ≈ 1.58 when the three colours are equally common (the targets), 0 when every output has one colour
    (all white, as L1's median gives, or all yellow).

    With ``groups`` (N,), e.g. the digit labels: H(colour | group) = Σ_g p(g) H(colour within g), the spread
    left for similar inputs. The targets' colour is independent of x, so theirs stays near log₂ 3; a generator
    that gives each digit its own single colour has H(colour) > 0 but H(colour | digit) = 0."""
    check_tensor("images", images, ndim=4)
    mask = stroke_mask(images) if mask is None else mask
    if groups is None:
        return entropy_bits(colour_shares(images, mask))
    if groups.shape != (len(images),):
        raise ValueError(f"groups must have shape ({len(images)},), got {tuple(groups.shape)}")
    spread = 0.0
    for g in groups.unique():
        chosen = groups == g
        spread += float(chosen.float().mean()) * entropy_bits(colour_shares(images[chosen], mask[chosen]))
    return spread


def to_grey(images: Tensor) -> Tensor:
    """The brightest channel as a grey image (N, 1, H, W): the digit's shape, whatever its colour (for the
    digit classifier)."""
    return images.amax(dim=1, keepdim=True)


def make_unpaired_colour(split: str = "train", size: int = 16, seed: int = 0
                         ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Unpaired domains for CycleGAN, each digit painted in a random palette colour:
    X = thin (eroded) coloured digits, Y = thick (dilated) coloured digits, from disjoint halves of the split.

    The right translation G: X → Y thickens the strokes **and keeps the colour**. A colour swap (yellow → cyan,
    undone by F) is just as good for the adversarial and cycle terms: D_Y accepts every palette colour and the
    cycle is still closed. Only the identity term G(y) ≈ y ties the colour down.
    Returns (X, Y, colour index of X, digit labels of X)."""
    from .paired import dilate, erode

    grey, labels = load_digits(split, size=size)
    g = torch.Generator().manual_seed(seed + (0 if split == "train" else 1))
    perm = torch.randperm(len(grey), generator=g)
    a, b = perm[: len(grey) // 2], perm[len(grey) // 2:]
    colour = torch.randint(0, len(PALETTE), (len(grey),), generator=g)
    radius = max(1, size // 16)
    X = paint(erode(grey[a], radius), PALETTE[colour[a]])
    Y = paint(dilate(grey[b], radius), PALETTE[colour[b]])
    return X.contiguous(), Y.contiguous(), colour[a], labels[a]


def colour_index(images: Tensor, mask: Tensor | None = None) -> Tensor:
    """The palette colour nearest to each image's mean stroke colour: (N,) indices into :data:`PALETTE`."""
    mask = stroke_mask(images) if mask is None else mask
    return torch.cdist(mean_stroke_colour(images, mask), PALETTE).argmin(dim=1)

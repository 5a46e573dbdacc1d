"""Autoregressive generative models (slides: 自回归生成模型, PixelRNN/PixelCNN, 条件自回归模型).

An image of D = H·W pixels is a sequence in raster order (row by row, left to right), and its likelihood is
a product of one-dimensional conditionals, each a categorical over the intensity levels:

    p_θ(x) = ∏_{i=1}^{D} p_θ(x_i | x_1, …, x_{i−1})

and, with a condition (here the class label y; the slide writes the condition as x and the output as y),

    p_θ(x | y) = ∏_{i=1}^{D} p_θ(x_i | x_1, …, x_{i−1}, y)                       (条件自回归模型)

PixelCNN computes all D conditionals in ONE pass by masking its convolutions so that the output at pixel i
never sees pixels ≥ i: the first layer uses a type-A mask (excludes the centre pixel itself), later layers
a type-B mask (includes the centre, which by then only carries information about pixels < i).
Training is exact maximum likelihood (cross-entropy per pixel); sampling is sequential, pixel by pixel.
For colour images the order continues inside a pixel, R → G → B: :func:`channel_mask` (``MaskedConv2d(...,
colours=3)``) masks the centre tap across channel groups as well (the course's digits are grey and do not need it).

The digits have 17 grey levels (0..16, mapped to [-1, 1] by ``coursekit.data``), so the output at each
pixel is a 17-way categorical and −log₂ p(x) / D is an exact number of bits per dimension.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._checks import check_choice, check_count_and_labels, check_in_range, check_int, check_tensor

DIGIT_LEVELS = 17          # scikit-learn's digits: intensities 0..16
MASK_TYPES = ("A", "B")


# ---------------------------------------------------------------------------------------------------------
# Discretisation: images in [-1, 1] ↔ integer levels 0..L−1
# ---------------------------------------------------------------------------------------------------------

def to_levels(x: Tensor, levels: int = DIGIT_LEVELS) -> Tensor:
    """Images in [-1, 1] → integer levels k ∈ {0, …, L−1} (nearest level; exact for the digits' grid)."""
    check_tensor("x", x)
    return ((x.clamp(-1.0, 1.0) + 1.0) / 2.0 * (levels - 1)).round().long()


def from_levels(k: Tensor, levels: int = DIGIT_LEVELS) -> Tensor:
    """Integer levels k ∈ {0, …, L−1} → images in [-1, 1]: x = 2k/(L−1) − 1."""
    return k.float() / (levels - 1) * 2.0 - 1.0


def bits_per_dim(nll_nats: Tensor, dims: int) -> Tensor:
    """Negative log-likelihood in nats per example → bits per dimension: −log₂ p(x) / D."""
    check_int("dims", dims)
    return nll_nats / (dims * math.log(2.0))


# ---------------------------------------------------------------------------------------------------------
# Masked convolution (掩码卷积, type A / type B)
# ---------------------------------------------------------------------------------------------------------

def causal_mask(kernel_size: int, mask_type: str = "A") -> Tensor:
    """The (k, k) 0/1 mask of a raster-order masked convolution.

    Rows above the centre are kept, the centre row is kept left of the centre; the centre itself is kept
    only for type B. Type A: output i sees inputs < i. Type B: output i sees inputs ≤ i.
    """
    check_choice("mask_type", mask_type, MASK_TYPES)
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be an odd positive int (the mask needs a centre), got {kernel_size!r}")
    mask = torch.ones(kernel_size, kernel_size)
    c = kernel_size // 2
    mask[c, c + (mask_type == "B"):] = 0.0       # the centre (type A) and everything right of it
    mask[c + 1:, :] = 0.0                          # every row below the centre
    return mask


def channel_mask(kernel_size: int, mask_type: str, in_channels: int, out_channels: int, colours: int = 3) -> Tensor:
    """The (out, in, k, k) mask of a masked convolution on colour images (van den Oord et al. 2016, PixelRNN §3.4).

    The order runs over pixels in raster order and, inside a pixel, over the colours R → G → B. Channels are split
    into ``colours`` equal groups in order (channel c of n belongs to group ⌊colours·c / n⌋). Off the centre every
    channel pair gets the spatial :func:`causal_mask`; at the centre, output group g sees input group h only when
    h < g (type A: R sees nothing of its own pixel, G sees R, B sees R and G) or h ≤ g (type B).
    """
    check_choice("mask_type", mask_type, MASK_TYPES)
    _check_int("colours", colours)
    for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
        _check_int(name, value)
        if value % colours:
            raise ValueError(f"{name} must be a multiple of colours ({colours}), got {value}")
    mask = causal_mask(kernel_size, "A").expand(out_channels, in_channels, kernel_size, kernel_size).clone()
    group_in = torch.arange(in_channels) * colours // in_channels
    group_out = torch.arange(out_channels) * colours // out_channels
    if mask_type == "A":
        sees = group_in[None, :] < group_out[:, None]
    else:
        sees = group_in[None, :] <= group_out[:, None]
    c = kernel_size // 2
    mask[:, :, c, c] = sees.float()
    return mask


class MaskedConv2d(nn.Conv2d):
    """A 'same'-padded convolution whose kernel is multiplied by a causal mask at every call.

    With ``colours=1`` (grey images) the mask is spatial: all channels at a pixel are one unit. With
    ``colours=3`` the channels form R, G, B groups and the centre tap is masked across them as well
    (:func:`channel_mask`), so that G is predicted from R and B from R and G. Applying the mask in ``forward``
    (instead of zeroing the weights once) keeps the masked entries at zero whatever the optimiser does.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, mask_type: str = "A",
                 bias: bool = True, colours: int = 1):
        check_choice("mask_type", mask_type, MASK_TYPES)
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not isinstance(kernel_size, int) or isinstance(kernel_size, bool) or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be an odd positive int (the mask needs a centre), got {kernel_size!r}")
        _check_int("colours", colours)
        if mask_type == "A" and kernel_size == 1 and colours == 1:
            raise ValueError("kernel_size must be >= 3 for mask_type 'A' (a 1×1 type-A kernel sees nothing)")
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=bias)
        self.mask_type, self.colours = mask_type, colours
        mask = (causal_mask(kernel_size, mask_type)[None, None] if colours == 1
                else channel_mask(kernel_size, mask_type, in_channels, out_channels, colours))
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"x must have shape (batch, {self.in_channels}, H, W), got {tuple(x.shape)}")
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", mask_type={self.mask_type!r}" + (
            f", colours={self.colours}" if self.colours > 1 else "")


def _check_int(name: str, value: object, minimum: int = 1) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


class _ResidualMaskedBlock(nn.Module):
    """ReLU → 1×1 (h → h/2) → ReLU → masked k×k type B → ReLU → 1×1 (h/2 → h), plus the input (van den
    Oord et al. 2016's residual block). 1×1 convolutions are causal: they mix channels at one pixel."""

    def __init__(self, hidden: int, kernel_size: int, cond_dim: int | None):
        super().__init__()
        half = max(hidden // 2, 1)
        self.reduce = nn.Conv2d(hidden, half, 1)
        self.masked = MaskedConv2d(half, half, kernel_size, "B")
        self.expand = nn.Conv2d(half, hidden, 1)
        self.cond = nn.Linear(cond_dim, half) if cond_dim else None

    def forward(self, h: Tensor, c: Tensor | None) -> Tensor:
        u = self.reduce(F.relu(h))
        if self.cond is not None and c is not None:
            u = u + self.cond(c)[:, :, None, None]      # the class enters every block as a per-channel bias
        u = self.expand(F.relu(self.masked(F.relu(u))))
        return h + u


class PixelCNN(nn.Module):
    """PixelCNN over L intensity levels: p_θ(x[, | y]) = ∏_i Cat(x_i; softmax(logits_i(x_<i[, y]))).

    ``levels=17`` models the digits' grey levels exactly; ``levels=2`` is the binarised PixelCNN.
    ``num_classes`` makes it class-conditional (the slides' conditional AR model). Inputs are images in
    [-1, 1] of shape (batch, 1, H, W); ``forward`` returns logits of shape (batch, levels, H, W).
    """

    def __init__(self, levels: int = DIGIT_LEVELS, hidden: int = 64, n_blocks: int = 5, kernel_size: int = 5,
                 block_kernel_size: int = 3, num_classes: int | None = None, image_size: int = 8):
        super().__init__()
        _check_int("levels", levels, 2)
        for name, value in (("hidden", hidden), ("image_size", image_size)):
            _check_int(name, value)
        _check_int("n_blocks", n_blocks, 0)
        for name, value in (("kernel_size", kernel_size), ("block_kernel_size", block_kernel_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1 or value % 2 == 0:
                raise ValueError(f"{name} must be an odd positive int (the mask needs a centre), got {value!r}")
        if kernel_size < 3:
            raise ValueError(f"kernel_size must be >= 3 (the first, type-A layer), got {kernel_size}")
        if num_classes is not None and (not isinstance(num_classes, int) or isinstance(num_classes, bool)
                                        or num_classes < 1):
            raise ValueError(f"num_classes must be a positive int or None, got {num_classes!r}")
        self.config = dict(kind="pixelcnn", levels=levels, hidden=hidden, n_blocks=n_blocks,
                           kernel_size=kernel_size, block_kernel_size=block_kernel_size,
                           num_classes=num_classes, image_size=image_size)
        self.levels, self.num_classes, self.image_size = levels, num_classes, image_size
        cond_dim = hidden if num_classes else None
        self.label_emb = nn.Embedding(num_classes, hidden) if num_classes else None
        self.inp = MaskedConv2d(1, hidden, kernel_size, "A")          # the only type-A layer: hides x_i itself
        self.inp_cond = nn.Linear(hidden, hidden) if num_classes else None
        self.blocks = nn.ModuleList(_ResidualMaskedBlock(hidden, block_kernel_size, cond_dim)
                                    for _ in range(n_blocks))
        self.out = nn.Sequential(nn.ReLU(), nn.Conv2d(hidden, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, levels, 1))

    # -- checks --------------------------------------------------------------------------------------------
    def _check_x(self, x: Tensor) -> None:
        check_tensor("x", x, ndim=4)
        if x.shape[1] != 1:
            raise ValueError(f"x must have 1 channel (grey images in [-1, 1]), got shape {tuple(x.shape)}")

    def _check_y(self, y: Tensor | None, batch: int) -> None:
        if self.num_classes is None:
            if y is not None:
                raise ValueError("y was given but the PixelCNN was built without num_classes")
            return
        if y is None:
            raise ValueError(f"y (class labels in 0..{self.num_classes - 1}) is required: the model is conditional")
        if not isinstance(y, Tensor) or y.is_floating_point() or y.shape != (batch,):
            raise ValueError(f"y must be an integer tensor of shape ({batch},), got {getattr(y, 'shape', y)}")
        if batch and (int(y.min()) < 0 or int(y.max()) >= self.num_classes):
            raise ValueError(f"y must be in 0..{self.num_classes - 1}, got values in {int(y.min())}..{int(y.max())}")

    # -- the model -----------------------------------------------------------------------------------------
    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Logits of p_θ(x_i | x_<i[, y]) for every pixel at once: shape (batch, levels, H, W).

        x is used as given (digits already lie on the 17-level grid); only the targets in :meth:`nll` are
        quantised, so gradients with respect to x exist (the causality test uses them).
        """
        self._check_x(x)
        self._check_y(y, x.shape[0])
        c = self.label_emb(y) if self.label_emb is not None else None
        h = self.inp(x)
        if c is not None:
            h = h + self.inp_cond(c)[:, :, None, None]
        for block in self.blocks:
            h = block(h, c)
        return self.out(h)

    def nll(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Exact −log p_θ(x[| y]) in nats per example: −Σ_i log p_θ(x_i | x_<i[, y])."""
        check_in_range("x", check_tensor("x", x))
        logits = self(x, y)
        target = to_levels(x, self.levels)[:, 0]                         # (batch, H, W) integer levels
        return F.cross_entropy(logits, target, reduction="none").flatten(1).sum(1)

    def loss(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Training loss: mean negative log-likelihood per dimension (nats), i.e. the per-pixel cross-entropy."""
        return self.nll(x, y).mean() / x[0].numel()

    @torch.no_grad()
    def bits_per_dim(self, x: Tensor, y: Tensor | None = None, batch_size: int = 512) -> float:
        """Exact −log₂ p_θ(x[| y]) / D averaged over the examples (evaluation, e.g. on the test split)."""
        check_int("batch_size", batch_size)
        was = self.training
        self.eval()
        try:
            total = 0.0
            for i in range(0, x.shape[0], batch_size):
                total += float(self.nll(x[i:i + batch_size], None if y is None else y[i:i + batch_size]).sum())
        finally:
            self.train(was)
        return total / (x.shape[0] * x[0].numel() * math.log(2.0))

    @torch.no_grad()
    def sample(self, n: int | None = None, y: Tensor | None = None, *, generator: torch.Generator | None = None,
               temperature: float = 1.0, device: str | torch.device | None = None,
               callback: Callable[[int, int, Tensor, Tensor], None] | None = None) -> Tensor:
        """Pixel-by-pixel sampling in raster order: x_i ~ p_θ(x_i | x_<i[, y]), D forward passes.

        Give ``n`` (unconditional) or ``y`` (one image per label). Returns images in [-1, 1] of shape
        (n, 1, H, W). The generator must live on the model's device (a CPU generator for a CPU model).
        ``callback(r, c, x, probs)``, if given, is called after each pixel with its row and column, the images
        so far and the (n, levels) probabilities it was drawn from (e.g. to record frames for a player).
        """
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        device = torch.device(device) if device is not None else next(self.parameters()).device
        n, y = check_count_and_labels(n, y, device)
        self._check_y(y, n)
        was = self.training
        self.eval()
        H = W = self.image_size
        x = torch.full((n, 1, H, W), -1.0, device=device)      # unseen pixels are never read (masks)
        try:
            for r in range(H):
                for c in range(W):
                    logits = self(x, y)[:, :, r, c] / temperature
                    k = torch.multinomial(logits.softmax(dim=1), 1, generator=generator)[:, 0]
                    x[:, 0, r, c] = from_levels(k, self.levels)     # x_i ~ p(x_i | x_<i)
                    if callback is not None:
                        callback(r, c, x, logits.softmax(dim=1))
        finally:
            self.train(was)
        return x


def _device_of(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def receptive_field(model: nn.Module, shape: tuple[int, int, int, int], index: tuple[int, int],
                    y: Tensor | None = None) -> Tensor:
    """Which input pixels the output at ``index`` = (row, col) depends on: |∂ out[:, :, r, c] / ∂ x| > 0.

    ``model`` maps (batch, C, H, W) to (batch, C', H, W) (a MaskedConv2d, a stack of them or a PixelCNN's
    ``forward``); returns a (H, W) bool tensor. Used to prove causality by gradients.
    """
    x = torch.randn(shape, device=_device_of(model), requires_grad=True)
    out = model(x) if y is None else model(x, y)
    r, c = index
    out[:, :, r, c].sum().backward()
    return x.grad.abs().sum(dim=(0, 1)) > 0


def dependency_matrix(model: nn.Module, in_channels: int = 1, size: int = 8, y: Tensor | None = None) -> Tensor:
    """All receptive fields at once: M[i, j] = True when output pixel i depends on input pixel j (raster
    indices, D × D). Causality of type A means M is strictly lower-triangular. One backward pass: copy i of a
    batch of D inputs only feeds output pixel i (the model must treat examples independently: no BatchNorm)."""
    D = size * size
    device = _device_of(model)
    x = torch.randn(D, in_channels, size, size, device=device, requires_grad=True)
    labels = None if y is None else y.to(device).reshape(1).expand(D)
    out = model(x) if labels is None else model(x, labels)
    idx = torch.arange(D, device=device)
    out.flatten(2)[idx, :, idx].sum().backward()                  # output pixel i of copy i
    return x.grad.abs().sum(dim=1).flatten(1) > 0

"""PatchGAN discriminators as in the pix2pix reference implementation (Isola et al. 2017).

Slide: d_φ(x, y) = 1/(NM) Σ_i Σ_j d_φ^patch(x[i:i+k, j:j+k], y[i:i+k, j:j+k]).
The network is fully convolutional: each of its N×M output logits sees only a k×k patch of the input (its
receptive field, 感受野). Read exactly, the slide's sums run i = 0..N and j = 0..M, (N + 1)(M + 1) terms over
1/(NM), with a patch at every pixel; the network's N×M patches are **strided**: logit (i, j) sees rows
s·i − p … s·i − p + k − 1 with s = 2^n_layers, p = 3s − 1 and k = 9s − 2 (:func:`patch_span`), so neighbouring
patches overlap and the outer ones reach into the zero padding. Training averages the per-patch losses over the
N×M logits (the reference's mean-reduced BCE or MSE on the grid: each patch is judged real or fake on its own),
i.e. the mean of the patches' log-likelihoods, not the log of their mean d.

Layout (n_layers = 3, the reference "basic" D): five 4×4 convolutions
    C64 (stride 2, no norm) → C128 (s2) → C256 (s2) → C512 (s1) → 1 channel (s1),
all with padding 1 and LeakyReLU(0.2); channels double up to 8·ndf. A 256×256 input gives a 30×30 grid of
logits, each seeing a 70×70 patch. The paper compares 1×1, 16×16, 70×70 and 286×286 patches: n_layers = 1, 3
and 5 here (n_layers = 2 and 4 give 34 and 142, not in that comparison); the 1×1 "PixelGAN" is a separate
network of 1×1 convolutions, :class:`PixelDiscriminator` (n_layers = 0 is no PatchGAN: the recursion would give 7).
"""

from __future__ import annotations

from torch import Tensor, nn

from .._checks import check_choice
from .nets import init_weights

NORMS = ("batch", "instance", "none")


def norm_layer(norm: str, channels: int) -> nn.Module:
    """BatchNorm (pix2pix) or InstanceNorm without affine parameters (CycleGAN), as the reference builds them."""
    check_choice("norm", norm, NORMS)
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    return nn.Identity()


def uses_bias(norm: str) -> bool:
    """The reference drops a conv's bias when BatchNorm follows (its shift makes the bias redundant)."""
    return norm != "batch"


def _check_layers(n_layers: object) -> int:
    if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 1:
        raise ValueError(f"n_layers must be an int >= 1 (number of stride-2 convolutions), got {n_layers!r}")
    return n_layers


def patch_receptive_field(n_layers: int = 3) -> int:
    """Side k of the k×k input patch one output logit of :class:`PatchDiscriminator` sees.

    Walk back from one output pixel: a 4×4 conv with stride s maps a field of r pixels to (r − 1)·s + 4.
    Two stride-1 convs (1 → 4 → 7), then n_layers stride-2 ones: 16, 34, 70, 142, 286.
    """
    n_layers = _check_layers(n_layers)
    r = 1
    for stride in [1, 1] + [2] * n_layers:        # from the output back to the input
        r = (r - 1) * stride + 4
    return r


def patch_output_size(image_size: int, n_layers: int = 3) -> int:
    """Side of the grid of logits for a square input: ⌊(H + 2·1 − 4)/s⌋ + 1 per conv (256 → 30 for n = 3)."""
    n_layers = _check_layers(n_layers)
    if not isinstance(image_size, int) or image_size < 1:
        raise ValueError(f"image_size must be a positive int, got {image_size!r}")
    h = image_size
    for stride in [2] * n_layers + [1, 1]:
        h = (h + 2 - 4) // stride + 1
        if h < 1:
            raise ValueError(f"image_size {image_size} is too small for n_layers = {n_layers}")
    return h


def patch_stride(n_layers: int = 3) -> int:
    """How far apart the patches of neighbouring logits are: the product of the strides, 2^n_layers."""
    return 2 ** _check_layers(n_layers)


def patch_span(n_layers: int, index: int) -> tuple[int, int]:
    """The input rows [first, last] that output row ``index`` of a :class:`PatchDiscriminator` sees (columns
    alike). Walk back through the 4×4 convolutions with padding 1: output row i of a conv with stride s reads
    input rows i·s − 1 … i·s − 1 + 3. Rows below 0 or past the image are the zero padding.

    first = s·index − p and last = first + k − 1, with s = :func:`patch_stride` and k = :func:`patch_receptive_field`
    (p = 3s − 1: 23 for n_layers = 3, so logit 0 sees rows −23 … 46 and logit 1 rows −15 … 54)."""
    n_layers = _check_layers(n_layers)
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise ValueError(f"index must be an int >= 0, got {index!r}")
    first = last = index
    for stride in [1, 1] + [2] * n_layers:        # from the last conv back to the first
        first, last = first * stride - 1, last * stride - 1 + 3
    return first, last


class PatchDiscriminator(nn.Module):
    """The pix2pix / CycleGAN "NLayerDiscriminator": logits of shape (batch, 1, N, M), one per patch.

    ``in_channels`` counts every input plane: pix2pix's conditional D sees cat(x, y), i.e. 3 + 3 = 6 channels.
    ``norm``: "batch" (pix2pix), "instance" (CycleGAN) or "none".
    """

    def __init__(self, in_channels: int, ndf: int = 64, n_layers: int = 3, norm: str = "batch"):
        super().__init__()
        _check_layers(n_layers)
        check_choice("norm", norm, NORMS)
        if not isinstance(in_channels, int) or in_channels < 1:
            raise ValueError(f"in_channels must be a positive int, got {in_channels!r}")
        if not isinstance(ndf, int) or ndf < 1:
            raise ValueError(f"ndf must be a positive int, got {ndf!r}")
        self.config = dict(kind="patch_discriminator", in_channels=in_channels, ndf=ndf, n_layers=n_layers,
                           norm=norm)
        self.n_layers = n_layers
        bias = uses_bias(norm)
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]   # no norm
        width = ndf
        for n in range(1, n_layers + 1):
            out = ndf * min(2 ** n, 8)
            stride = 2 if n < n_layers else 1         # the last of these keeps the resolution
            layers += [nn.Conv2d(width, out, 4, stride, 1, bias=bias), norm_layer(norm, out), nn.LeakyReLU(0.2, True)]
            width = out
        layers.append(nn.Conv2d(width, 1, 4, 1, 1))  # one logit per patch
        self.model = nn.Sequential(*layers)
        init_weights(self)

    @property
    def receptive_field(self) -> int:
        return patch_receptive_field(self.n_layers)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.config["in_channels"]:
            raise ValueError(f"x must have shape (batch, {self.config['in_channels']}, H, W), got {tuple(x.shape)}")
        return self.model(x)


class PixelDiscriminator(nn.Module):
    """The 1×1 "PixelGAN": 1×1 convolutions only, so each logit judges one pixel (colour, not structure)."""

    def __init__(self, in_channels: int, ndf: int = 64, norm: str = "batch"):
        super().__init__()
        check_choice("norm", norm, NORMS)
        self.config = dict(kind="pixel_discriminator", in_channels=in_channels, ndf=ndf, norm=norm)
        bias = uses_bias(norm)
        self.model = nn.Sequential(
            nn.Conv2d(in_channels, ndf, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf * 2, 1, bias=bias), norm_layer(norm, ndf * 2), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 2, 1, 1, bias=bias))
        init_weights(self)

    receptive_field = 1

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.config["in_channels"]:
            raise ValueError(f"x must have shape (batch, {self.config['in_channels']}, H, W), got {tuple(x.shape)}")
        return self.model(x)


def image_discriminator(in_channels: int, image_size: int, ndf: int = 64, norm: str = "batch"
                        ) -> PatchDiscriminator:
    """The whole-image ("ImageGAN") variant: the smallest PatchGAN whose patch covers the whole image
    (n_layers = 5, 286×286, for the paper's 256×256 images)."""
    if not isinstance(image_size, int) or image_size < 1:
        raise ValueError(f"image_size must be a positive int, got {image_size!r}")
    n = 1
    while patch_receptive_field(n) < image_size:
        n += 1
    return PatchDiscriminator(in_channels, ndf=ndf, n_layers=n, norm=norm)

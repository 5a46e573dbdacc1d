"""PatchGAN discriminators as in the pix2pix reference implementation (Isola et al. 2017).

Slide: d_φ(x, y) = 1/(NM) Σ_i Σ_j d_φ^patch(x[i:i+k, j:j+k], y[i:i+k, j:j+k]).
The network is fully convolutional: each of its N×M output logits sees only a k×k patch of the input (its
receptive field, 感受野), so averaging the per-patch losses is exactly the slide's 1/(NM) Σ.

Layout (n_layers = 3, the reference "basic" D): five 4×4 convolutions
    C64 (stride 2, no norm) → C128 (s2) → C256 (s2) → C512 (s1) → 1 channel (s1),
all with padding 1 and LeakyReLU(0.2); channels double up to 8·ndf. A 256×256 input gives a 30×30 grid of
logits, each seeing a 70×70 patch. n_layers = 1 gives the 16×16 PatchGAN, n_layers = 5 the 286×286
"ImageGAN" of the paper's comparison; :class:`PixelDiscriminator` is its 1×1 "PixelGAN".
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

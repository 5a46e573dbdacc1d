"""pix2pix (图像翻译, Isola et al. 2017): a U-Net generator, a conditional PatchGAN and the L1 + cGAN objective.

Slide: argmin_G max_D E_{x,y}[log D(x, y) + log(1 − D(x, G(x)))] + λ ‖G(x) − y‖₁   (λ = 100)
(the slide writes d for the probability of "fake"; here D(x, y) is the probability that y is the real
translation of x, the convention of the paper and of :mod:`coursekit.gan.losses`).

The conditional D sees the pair: PatchDiscriminator(in_channels = C_x + C_y) on cat(x, y). The L1 term alone
already gets the low frequencies right but averages the plausible outputs into a blur; the PatchGAN term
penalises blur patch by patch (the slide's claim, measured by :func:`coursekit.gan.demos.pix2pix_demo`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from .._checks import check_choice, check_tensor
from ..train import batches, get_device, seed_everything
from .losses import discriminator_loss, l1_loss, pix2pix_generator_loss
from .nets import init_weights
from .patchgan import NORMS, PatchDiscriminator, norm_layer, uses_bias
from .training import GANHistory, alternate, linear_decay, make_optimizer, set_lr


class UNetBlock(nn.Module):
    """One level of the U-Net: down (conv 4×4 s2) → the inner levels → up (transposed conv 4×4 s2), and the
    skip connection cat(x, up(...)) that hands the fine detail of x straight to the decoder.

    Built from the innermost level outwards, as the reference does; ``outer``/``inner`` are channel counts.
    ``skip=False`` drops the skip connection: the plain encoder–decoder the pix2pix paper compares against
    (everything must pass through the bottleneck).
    """

    def __init__(self, outer: int, inner: int, in_channels: int | None = None, submodule: nn.Module | None = None,
                 outermost: bool = False, innermost: bool = False, norm: str = "batch", dropout: bool = False,
                 skip: bool = True):
        super().__init__()
        self.outermost, self.skip = outermost, skip
        up_in = inner * 2 if skip and not innermost else inner     # the level below returns cat(x, up) or up
        in_channels = outer if in_channels is None else in_channels
        bias = uses_bias(norm)
        down_conv = nn.Conv2d(in_channels, inner, 4, 2, 1, bias=bias)
        if outermost:      # image → features … features → image (tanh), no norm at either end
            down = [down_conv]
            up = [nn.ReLU(True), nn.ConvTranspose2d(up_in, outer, 4, 2, 1), nn.Tanh()]
        elif innermost:    # the bottleneck: no skip below it, hence inner (not 2·inner) channels come back up
            down = [nn.LeakyReLU(0.2, True), down_conv]
            up = [nn.ReLU(True), nn.ConvTranspose2d(inner, outer, 4, 2, 1, bias=bias), norm_layer(norm, outer)]
        else:
            down = [nn.LeakyReLU(0.2, True), down_conv, norm_layer(norm, inner)]
            up = [nn.ReLU(True), nn.ConvTranspose2d(up_in, outer, 4, 2, 1, bias=bias), norm_layer(norm, outer)]
            if dropout:
                up.append(nn.Dropout(0.5))   # pix2pix's only source of noise z (no explicit z input)
        middle = [] if submodule is None else [submodule]
        self.model = nn.Sequential(*down, *middle, *up)

    def forward(self, x: Tensor) -> Tensor:
        if self.outermost or not self.skip:
            return self.model(x)
        return torch.cat([x, self.model(x)], dim=1)      # the skip connection


class UNetGenerator(nn.Module):
    """The pix2pix U-Net generator G(x): ``num_downs`` halvings, so the image side must be divisible by
    2^num_downs (num_downs = 8 for 256×256: "unet_256"; 7 for 128×128; 4 for 16×16 digits).

    Channels ngf, 2ngf, 4ngf, then 8ngf for every deeper level; BatchNorm and dropout 0.5 in the three
    8ngf levels just above the bottleneck's neighbours, as in the reference (``dropout=True`` is pix2pix's
    default; CycleGAN runs without). ``skips=False`` is the same network without its skip connections: the
    plain encoder–decoder of the paper's comparison.
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 3, num_downs: int = 8, ngf: int = 64,
                 norm: str = "batch", dropout: bool = True, skips: bool = True):
        super().__init__()
        check_choice("norm", norm, NORMS)
        if not isinstance(num_downs, int) or num_downs < 2:
            raise ValueError(f"num_downs must be an int >= 2, got {num_downs!r}")
        if ngf < 1 or in_channels < 1 or out_channels < 1:
            raise ValueError("ngf, in_channels and out_channels must be positive")
        self.config = dict(kind="unet_generator", in_channels=in_channels, out_channels=out_channels,
                           num_downs=num_downs, ngf=ngf, norm=norm, dropout=dropout, skips=skips)
        self.num_downs = num_downs
        # channel widths from the top level down: ngf, 2ngf, 4ngf, 8ngf, 8ngf, …
        widths = [ngf * min(2 ** i, 8) for i in range(num_downs)]
        block = UNetBlock(widths[-2], widths[-1], innermost=True, norm=norm, skip=skips)   # bottleneck (1×1 at 256)
        for j in range(num_downs - 2, 0, -1):      # levels between the bottleneck and the outermost
            # dropout only in the extra 8ngf levels (num_downs − 5 of them), as in the reference
            block = UNetBlock(widths[j - 1], widths[j], submodule=block, norm=norm, dropout=dropout and j >= 4,
                              skip=skips)
        self.model = UNetBlock(out_channels, widths[0], in_channels=in_channels, submodule=block, outermost=True,
                               norm=norm, skip=skips)
        init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.config["in_channels"]:
            raise ValueError(f"x must have shape (batch, {self.config['in_channels']}, H, W), got {tuple(x.shape)}")
        side = 2 ** self.num_downs
        if x.shape[2] % side or x.shape[3] % side:
            raise ValueError(f"x's height and width must be divisible by 2^num_downs = {side}, got {tuple(x.shape)}")
        return self.model(x)


# ---------------------------------------------------------------------------------------------------------
# The objective, one step at a time
# ---------------------------------------------------------------------------------------------------------

def conditional_pair(x: Tensor, y: Tensor) -> Tensor:
    """The conditional D's input cat(x, y) along channels: D judges whether y is a translation *of x*."""
    check_tensor("x", x, ndim=4)
    check_tensor("y", y, ndim=4)
    if x.shape[0] != y.shape[0] or x.shape[2:] != y.shape[2:]:
        raise ValueError(f"x and y must share batch and image size, got {tuple(x.shape)} and {tuple(y.shape)}")
    return torch.cat([x, y], dim=1)


def pix2pix_discriminator_loss(D: nn.Module, x: Tensor, y: Tensor, fake_y: Tensor) -> Tensor:
    """D's loss on real pairs (x, y) and generated pairs (x, G(x)), halved as the reference does so D learns
    more slowly than G."""
    real_logits = D(conditional_pair(x, y))
    fake_logits = D(conditional_pair(x, fake_y.detach()))
    return 0.5 * discriminator_loss(real_logits, fake_logits)


@dataclass
class Pix2PixLosses:
    total: Tensor
    adversarial: Tensor
    l1: Tensor
    extras: dict = field(default_factory=dict)


def pix2pix_losses(D: nn.Module | None, x: Tensor, y: Tensor, fake_y: Tensor, lambda_l1: float = 100.0
                   ) -> Pix2PixLosses:
    """G's objective split into its terms; ``D=None`` gives the L1-only baseline (no adversarial term)."""
    l1 = l1_loss(fake_y, y)
    if D is None:
        zero = l1.new_zeros(())
        return Pix2PixLosses(total=l1, adversarial=zero, l1=l1)
    logits = D(conditional_pair(x, fake_y))
    total = pix2pix_generator_loss(logits, fake_y, y, lambda_l1=lambda_l1)     # cGAN + λ‖G(x) − y‖₁
    return Pix2PixLosses(total=total, adversarial=total - lambda_l1 * l1, l1=l1)


def build_pix2pix(in_channels: int = 3, out_channels: int = 3, config: str = "full", image_size: int = 256,
                  ) -> tuple[UNetGenerator, PatchDiscriminator]:
    """(G, D) pairs: "full" is the reference (unet_256, ngf = ndf = 64, BatchNorm, dropout, 70×70 PatchGAN on
    the 6-channel pair); "teaching" is a small U-Net and a 2-layer PatchGAN for 16×16 or 32×32 digits."""
    check_choice("config", config, ("full", "teaching"))
    if config == "full":
        num_downs = max(2, (image_size.bit_length() - 1))            # 256 → 8
        return (UNetGenerator(in_channels, out_channels, num_downs=num_downs, ngf=64, norm="batch", dropout=True),
                PatchDiscriminator(in_channels + out_channels, ndf=64, n_layers=3, norm="batch"))
    num_downs = max(2, image_size.bit_length() - 1)                  # 16 → 4, 32 → 5
    return (UNetGenerator(in_channels, out_channels, num_downs=num_downs, ngf=32, norm="batch", dropout=False),
            PatchDiscriminator(in_channels + out_channels, ndf=32, n_layers=2, norm="batch"))


def train_pix2pix(G: nn.Module, D: nn.Module | None, x: Tensor, y: Tensor, *, steps: int | None = 2000,
                  seconds: float | None = None, k: int = 1, batch_size: int = 32, lr: float = 2e-4,
                  betas: tuple[float, float] = (0.5, 0.999), lambda_l1: float = 100.0, lr_decay: bool = True,
                  seed: int = 0, device: str | torch.device | None = None, amp: bool = False,
                  progress: bool | None = None, callback=None, callback_every: int = 100) -> GANHistory:
    """Train pix2pix on pairs (x, y) by alternating D and G steps on the same batch (as the reference does).

    As in the reference's ``optimize_parameters``, G runs **once** per iteration: fake = G(x) is computed in
    train mode, D's step sees fake.detach() and G's step back-propagates through the same tensor, so D and G
    judge the same dropout mask and BatchNorm's running statistics move once (with ``k`` > 1 each D step
    draws its own batch, and G's step reuses the last one's fake).

    ``D=None`` trains the L1-only baseline (G minimises ‖G(x) − y‖₁ alone). ``history.extras`` holds the
    "l1" and "adversarial" terms of every G step. ``callback(step, history, G, D)``.
    """
    check_tensor("x", x, ndim=4)
    check_tensor("y", y, ndim=4)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must hold the same number of pairs, got {x.shape[0]} and {y.shape[0]}")
    device = get_device(device)
    generator = seed_everything(seed)
    G.to(device).train()
    opt_g = make_optimizer(G, lr, betas)
    opt_d = None
    if D is not None:
        D.to(device).train()
        opt_d = make_optimizer(D, lr, betas)
    stream = batches(x.to(device), y.to(device), batch_size=batch_size, generator=generator)
    use_amp = amp and device.type == "cuda"
    batch: list[Tensor] = []
    history = GANHistory()

    def d_step(done: float) -> float:
        if lr_decay:
            set_lr(opt_g, lr * linear_decay(done))
        batch[:] = next(stream)
        xb, yb = batch
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            fake = G(xb)                       # the iteration's one forward pass of G: fake = G(x)
        batch.append(fake)
        if D is None:
            return 0.0
        set_lr(opt_d, lr * (linear_decay(done) if lr_decay else 1.0))
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            loss = pix2pix_discriminator_loss(D, xb, yb, fake)     # detaches fake: D's step leaves G alone
        opt_d.zero_grad(set_to_none=True)
        loss.backward()
        opt_d.step()
        return float(loss.detach())

    def g_step(done: float) -> float:
        xb, yb, fake = batch                   # the same fake D just judged (no second call of G)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            terms = pix2pix_losses(D, xb, yb, fake, lambda_l1)
        opt_g.zero_grad(set_to_none=True)
        terms.total.backward()
        opt_g.step()
        history.log(l1=float(terms.l1.detach()), adversarial=float(terms.adversarial.detach()))
        return float(terms.total.detach())

    def cb(step: int, history: GANHistory) -> None:
        if callback is not None:
            callback(step, history, G, D)

    alternate(d_step, g_step, steps=steps, seconds=seconds, k=k if D is not None else 1, progress=progress,
              callback=cb, callback_every=callback_every, desc="pix2pix", history=history)
    G.eval()
    if D is not None:
        D.eval()
    return history


@torch.no_grad()
def translate(G: nn.Module, x: Tensor, batch_size: int = 256, dropout: bool = False, seed: int | None = None
              ) -> Tensor:
    """G(x) with BatchNorm's running statistics, returned on the CPU.

    ``dropout=False`` (the default) is the usual evaluation mode: G is a deterministic function of x.
    ``dropout=True`` keeps every ``nn.Dropout`` of G switched on, as Isola et al. do at test time: dropout is
    pix2pix's only noise z, so G(x, z) then differs from call to call (``seed`` fixes the draw). The paper also
    normalises with the test batch's own statistics; here BatchNorm keeps its running statistics either way.
    A G without dropout layers (the course's small U-Nets: the reference puts dropout only in the 8·ngf levels
    next to the bottleneck, which a U-Net needs 6 or more levels to have) gives the same output both ways.
    """
    check_tensor("x", x, ndim=4)
    device = next(G.parameters()).device
    was_training = G.training
    G.eval()
    if dropout:
        for module in G.modules():
            if isinstance(module, nn.Dropout):
                module.train()                     # z ~ dropout masks, as during training
    try:
        cuda = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda, enabled=seed is not None):      # leave the global RNG alone
            if seed is not None:
                torch.manual_seed(seed)
            out = torch.cat([G(x[i:i + batch_size].to(device)).float().cpu() for i in range(0, len(x), batch_size)])
    finally:
        G.train(was_training)
    return out


def dropout_layers(G: nn.Module) -> int:
    """How many ``nn.Dropout`` layers G has: pix2pix's noise z enters only through them."""
    return sum(isinstance(m, nn.Dropout) for m in G.modules())

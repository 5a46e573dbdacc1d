"""CycleGAN (非成对图像翻译, Zhu et al. 2017): two generators G: X → Y and F: Y → X, two discriminators, cycle
consistency (循环一致性), the identity term and the pool of past fakes.

Slide: argmin_{G,F} max_{D_X,D_Y}  L_GAN(G, D_Y) + L_GAN(F, D_X)
                                   + λ (‖x − F(G(x))‖₁ + ‖y − G(F(y))‖₁)            (λ = 10)
plus, in the reference, the identity term 0.5 λ (‖G(y) − y‖₁ + ‖F(x) − x‖₁) and least-squares GAN losses.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .._checks import check_choice, check_tensor
from ..train import batches, get_device, seed_everything
from .losses import cycle_loss, discriminator_loss, generator_loss, identity_loss
from .nets import init_weights
from .patchgan import NORMS, PatchDiscriminator, norm_layer, uses_bias
from .training import GANHistory, alternate, linear_decay, make_optimizer, set_lr


class ResnetBlock(nn.Module):
    """x + [pad, conv 3×3, norm, ReLU, (dropout), pad, conv 3×3, norm](x): a residual block that keeps the size."""

    def __init__(self, dim: int, norm: str = "instance", dropout: bool = False, padding: str = "reflect"):
        super().__init__()
        check_choice("padding", padding, ("reflect", "replicate", "zero"))
        bias = uses_bias(norm)

        def conv() -> list[nn.Module]:
            if padding == "zero":
                return [nn.Conv2d(dim, dim, 3, padding=1, bias=bias)]
            pad = nn.ReflectionPad2d(1) if padding == "reflect" else nn.ReplicationPad2d(1)
            return [pad, nn.Conv2d(dim, dim, 3, bias=bias)]

        layers = [*conv(), norm_layer(norm, dim), nn.ReLU(True)]
        if dropout:
            layers.append(nn.Dropout(0.5))
        layers += [*conv(), norm_layer(norm, dim)]
        self.block = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.block(x)


class ResnetGenerator(nn.Module):
    """The CycleGAN generator (after Johnson et al.'s style-transfer net): c7s1-ngf, two stride-2 convs
    (d2ngf, d4ngf), ``n_blocks`` residual blocks at 4ngf (9 for 256×256, 6 for 128×128), two transposed
    convs back up, c7s1-out with tanh. Reflection padding avoids border artefacts. Image sides must be
    divisible by 4.
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 3, ngf: int = 64, n_blocks: int = 9,
                 norm: str = "instance", dropout: bool = False, padding: str = "reflect"):
        super().__init__()
        check_choice("norm", norm, NORMS)
        if not isinstance(n_blocks, int) or n_blocks < 0:
            raise ValueError(f"n_blocks must be an int >= 0, got {n_blocks!r}")
        if ngf < 1 or in_channels < 1 or out_channels < 1:
            raise ValueError("ngf, in_channels and out_channels must be positive")
        self.config = dict(kind="resnet_generator", in_channels=in_channels, out_channels=out_channels, ngf=ngf,
                           n_blocks=n_blocks, norm=norm, dropout=dropout, padding=padding)
        bias = uses_bias(norm)
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, 7, bias=bias),
                                   norm_layer(norm, ngf), nn.ReLU(True)]
        for mult in (1, 2):                                          # down: ngf → 2ngf → 4ngf
            layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=bias),
                       norm_layer(norm, ngf * mult * 2), nn.ReLU(True)]
        layers += [ResnetBlock(ngf * 4, norm, dropout, padding) for _ in range(n_blocks)]
        for mult in (4, 2):                                          # up: 4ngf → 2ngf → ngf
            layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1, output_padding=1,
                                          bias=bias),
                       norm_layer(norm, ngf * mult // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.config["in_channels"]:
            raise ValueError(f"x must have shape (batch, {self.config['in_channels']}, H, W), got {tuple(x.shape)}")
        if x.shape[2] % 4 or x.shape[3] % 4 or min(x.shape[2:]) < 8:
            raise ValueError(f"x's height and width must be multiples of 4 and >= 8, got {tuple(x.shape)}")
        return self.model(x)


class ImagePool:
    """A buffer of up to ``size`` past generated images (Shrivastava et al. 2017), so D is trained against
    the generator's history rather than only its latest output (less oscillation).

    ``query(images)`` returns a batch of the same shape: while the pool is filling, each image is stored and
    returned as is; once full, each image is returned as is with probability ½, otherwise it replaces a
    random stored image and the stored one is returned instead. ``size = 0`` turns the pool off.
    """

    def __init__(self, size: int = 50, seed: int | None = 0):
        if not isinstance(size, int) or size < 0:
            raise ValueError(f"size must be an int >= 0, got {size!r}")
        self.size = size
        self.images: list[Tensor] = []
        self._rng = random.Random(seed)

    def __len__(self) -> int:
        return len(self.images)

    @torch.no_grad()
    def query(self, images: Tensor) -> Tensor:
        check_tensor("images", images, min_ndim=1)
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:          # filling: keep it and return it
                self.images.append(image.clone())
                out.append(image)
            elif self._rng.random() > 0.5:            # swap: return an old fake, keep the new one
                i = self._rng.randrange(self.size)
                out.append(self.images[i].clone())
                self.images[i] = image.clone()
            else:
                out.append(image)
        return torch.cat(out, dim=0)

    __call__ = query


@dataclass
class CycleGAN:
    """The four networks: G: X → Y, F: Y → X, D_X (judges X), D_Y (judges Y)."""
    G: nn.Module
    F: nn.Module
    D_X: nn.Module
    D_Y: nn.Module

    def modules(self) -> list[nn.Module]:
        return [self.G, self.F, self.D_X, self.D_Y]

    def to(self, device: torch.device | str) -> CycleGAN:
        for m in self.modules():
            m.to(device)
        return self

    def train(self, mode: bool = True) -> CycleGAN:
        for m in self.modules():
            m.train(mode)
        return self


def build_cyclegan(in_channels: int = 3, out_channels: int | None = None, config: str = "full") -> CycleGAN:
    """"full": the reference (resnet_9blocks, ngf = ndf = 64, InstanceNorm, 70×70 PatchGAN, no dropout);
    "teaching": ngf = 16 with 3 residual blocks and a 2-layer PatchGAN, for 16×16 or 32×32 digits."""
    check_choice("config", config, ("full", "teaching"))
    out_channels = in_channels if out_channels is None else out_channels
    if config == "full":
        g = dict(ngf=64, n_blocks=9, norm="instance")
        d = dict(ndf=64, n_layers=3, norm="instance")
    else:
        g = dict(ngf=16, n_blocks=3, norm="instance")
        d = dict(ndf=32, n_layers=2, norm="instance")
    return CycleGAN(G=ResnetGenerator(in_channels, out_channels, **g),
                    F=ResnetGenerator(out_channels, in_channels, **g),
                    D_X=PatchDiscriminator(in_channels, **d), D_Y=PatchDiscriminator(out_channels, **d))


def cyclegan_generator_losses(model: CycleGAN, x: Tensor, y: Tensor, lambda_cycle: float = 10.0,
                              lambda_identity: float = 0.5, kind: str = "least_squares", cycle: bool = True
                              ) -> tuple[Tensor, dict[str, Tensor]]:
    """The generators' objective for one batch; returns (total, terms) where terms also holds the fakes
    (fake_y = G(x), fake_x = F(y)) that the discriminator step needs.

    Ablations: ``cycle=False`` drops the cycle term but keeps the identity term at its weight
    λ_cyc·λ_id (``lambda_cycle=0`` would silence both); ``lambda_identity=0`` drops the identity term."""
    check_tensor("x", x, ndim=4)
    check_tensor("y", y, ndim=4)
    if lambda_identity > 0 and x.shape[1] != y.shape[1]:
        raise ValueError("the identity term needs domains with the same number of channels; "
                         "pass lambda_identity=0")
    fake_y, fake_x = model.G(x), model.F(y)                            # G(x), F(y)
    adv = generator_loss(model.D_Y(fake_y), kind) + generator_loss(model.D_X(fake_x), kind)
    cyc = x.new_zeros(())
    if cycle:
        cyc = cycle_loss(x, model.F(fake_y), y, model.G(fake_x), lambda_cycle)   # λ(‖x − F(G(x))‖₁ + ‖y − G(F(y))‖₁)
    idt = x.new_zeros(())
    if lambda_identity > 0:
        idt = identity_loss(y, model.G(y), lambda_cycle, lambda_identity) + \
            identity_loss(x, model.F(x), lambda_cycle, lambda_identity)            # G(y) ≈ y, F(x) ≈ x
    total = adv + cyc + idt
    return total, {"adversarial": adv.detach(), "cycle": cyc.detach(), "identity": idt.detach(),
                   "fake_y": fake_y.detach(), "fake_x": fake_x.detach()}


def cyclegan_discriminator_loss(D: nn.Module, real: Tensor, fake: Tensor, kind: str = "least_squares") -> Tensor:
    """One discriminator's loss on real images and (pooled) fakes: (loss_real + loss_fake) / 2 as in the
    reference (the least-squares loss of :func:`discriminator_loss` already carries the ½)."""
    loss = discriminator_loss(D(real), D(fake.detach()), kind)
    return loss if kind == "least_squares" else 0.5 * loss


def train_cyclegan(model: CycleGAN, x: Tensor, y: Tensor, *, steps: int | None = 2000, seconds: float | None = None,
                   k: int = 1, batch_size: int = 16, lr: float = 2e-4, betas: tuple[float, float] = (0.5, 0.999),
                   lambda_cycle: float = 10.0, lambda_identity: float = 0.5, kind: str = "least_squares",
                   cycle: bool = True, pool_size: int = 50, lr_decay: bool = True, seed: int = 0,
                   device: str | torch.device | None = None, amp: bool = False, progress: bool | None = None,
                   callback=None, callback_every: int = 100) -> GANHistory:
    """Train CycleGAN on unpaired domains x (N_x, …) and y (N_y, …), as the reference: one step of G and F on
    their joint objective, then D_X and D_Y on real images vs fakes drawn from two :class:`ImagePool`.

    (The D steps here come first within each iteration, on the fakes of the previous G step, so that
    :func:`alternate` can run k of them; the first iteration's D step sees fresh fakes.)
    ``history.extras`` logs the adversarial, cycle and identity terms. ``callback(step, history, model)``.
    ``cycle=False`` / ``lambda_identity=0`` are the ablations (see :func:`cyclegan_generator_losses`).
    """
    check_tensor("x", x, ndim=4)
    check_tensor("y", y, ndim=4)
    device = get_device(device)
    generator = seed_everything(seed)
    model.to(device).train()
    opt_g = make_optimizer(_Joint(model.G, model.F), lr, betas)
    opt_d = make_optimizer(_Joint(model.D_X, model.D_Y), lr, betas)
    stream_x = batches(x.to(device), batch_size=batch_size, generator=generator)
    stream_y = batches(y.to(device), batch_size=batch_size, generator=generator)
    pool_x, pool_y = ImagePool(pool_size, seed), ImagePool(pool_size, seed + 1)
    use_amp = amp and device.type == "cuda"
    state: dict[str, Tensor] = {}
    history = GANHistory()

    def d_step(done: float) -> float:
        scale = linear_decay(done) if lr_decay else 1.0
        set_lr(opt_g, lr * scale)
        set_lr(opt_d, lr * scale)
        state["x"], state["y"] = next(stream_x)[0], next(stream_y)[0]
        if "fake_x" not in state:
            with torch.no_grad():
                state["fake_y"], state["fake_x"] = model.G(state["x"]), model.F(state["y"])
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            loss = cyclegan_discriminator_loss(model.D_Y, state["y"], pool_y.query(state["fake_y"]), kind) + \
                cyclegan_discriminator_loss(model.D_X, state["x"], pool_x.query(state["fake_x"]), kind)
        opt_d.zero_grad(set_to_none=True)
        loss.backward()
        opt_d.step()
        return float(loss.detach())

    def g_step(done: float) -> float:
        for D in (model.D_X, model.D_Y):
            D.requires_grad_(False)            # G's step must not move the discriminators
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            total, terms = cyclegan_generator_losses(model, state["x"], state["y"], lambda_cycle, lambda_identity,
                                                     kind, cycle)
        opt_g.zero_grad(set_to_none=True)
        total.backward()
        opt_g.step()
        for D in (model.D_X, model.D_Y):
            D.requires_grad_(True)
        state["fake_y"], state["fake_x"] = terms["fake_y"], terms["fake_x"]
        history.log(adversarial=float(terms["adversarial"]), cycle=float(terms["cycle"]),
                    identity=float(terms["identity"]))
        return float(total.detach())

    def cb(step: int, hist: GANHistory) -> None:
        if callback is not None:
            callback(step, hist, model)

    alternate(d_step, g_step, steps=steps, seconds=seconds, k=k, progress=progress, callback=cb,
              callback_every=callback_every, desc="CycleGAN", history=history)
    model.train(False)
    return history


class _Joint(nn.Module):
    """Two networks seen as one parameter list (one Adam for G and F, one for D_X and D_Y, as the reference)."""

    def __init__(self, a: nn.Module, b: nn.Module):
        super().__init__()
        self.a, self.b = a, b

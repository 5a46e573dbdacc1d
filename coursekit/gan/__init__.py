"""Generative adversarial networks as the slides build them (生成对抗网络, 条件生成式模型).

    from coursekit import gan
    V = gan.minimax_value(D(x), D(G(z)))                   # E log D(x) + E log(1 − D(G(z)))
    loss_D = gan.discriminator_loss(D(x), D(G(z)))          # gradient ascent on V
    loss_G = gan.generator_loss(D(G(z)))                    # non-saturating: −E log D(G(z))

Modules: ``losses`` (V, D/G losses, pix2pix and CycleGAN terms), ``nets`` (MLP and DCGAN nets, conditional,
PacGAN / minibatch-std), ``patchgan`` (PatchGAN, PixelGAN, ImageGAN, receptive field), ``pix2pix`` (U-Net,
objective, training), ``cyclegan`` (ResNet generator, ImagePool, objective, training), ``training``
(alternating optimisation), ``paired`` (translation data made from the digits), ``demos`` (each
demonstration as one function returning numbers and tensors, and ``pretrained_dcgan()``, notebook 05b's shipped DCGAN
generator); unit 05's ``theory`` (D*, V(D*, G), the JSD, the non-saturating loss's divergence KL(p_g ‖ p_data) − 2 JSD
and WGAN's W₁ on 1-D grids), ``probes`` (G's gradient norm during training) and ``live`` (the resumable 2-D GAN of the
live panel).
"""

from .cyclegan import (
    CycleGAN,
    ImagePool,
    ResnetBlock,
    ResnetGenerator,
    build_cyclegan,
    cyclegan_discriminator_loss,
    cyclegan_generator_losses,
    train_cyclegan,
)
from .losses import (
    DISCRIMINATOR_KINDS,
    GENERATOR_KINDS,
    cycle_loss,
    discriminator_loss,
    generator_loss,
    identity_loss,
    l1_loss,
    minimax_value,
    optimal_discriminator,
    pix2pix_generator_loss,
)
from .nets import (
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    count_parameters,
    init_weights,
)
from .paired import TASKS, dilate, edges, erode, make_pairs, make_unpaired
from .patchgan import (
    PatchDiscriminator,
    PixelDiscriminator,
    image_discriminator,
    patch_output_size,
    patch_receptive_field,
    patch_span,
    patch_stride,
)
from .pix2pix import (
    UNetGenerator,
    build_pix2pix,
    conditional_pair,
    dropout_layers,
    pix2pix_discriminator_loss,
    pix2pix_losses,
    train_pix2pix,
    translate,
)
from .training import GANHistory, GANResult, alternate, decision_surface, generate, train_gan

__all__ = [
    "minimax_value", "discriminator_loss", "generator_loss", "optimal_discriminator", "l1_loss",
    "pix2pix_generator_loss", "cycle_loss", "identity_loss", "GENERATOR_KINDS", "DISCRIMINATOR_KINDS",
    "MLPGenerator", "MLPDiscriminator", "DCGANGenerator", "DCGANDiscriminator", "count_parameters", "init_weights",
    "PatchDiscriminator", "PixelDiscriminator", "image_discriminator", "patch_receptive_field", "patch_output_size",
    "patch_span", "patch_stride",
    "UNetGenerator", "build_pix2pix", "conditional_pair", "pix2pix_discriminator_loss", "pix2pix_losses",
    "train_pix2pix", "translate", "dropout_layers",
    "ResnetGenerator", "ResnetBlock", "ImagePool", "CycleGAN", "build_cyclegan", "cyclegan_generator_losses",
    "cyclegan_discriminator_loss", "train_cyclegan",
    "GANHistory", "GANResult", "alternate", "train_gan", "generate", "decision_surface",
    "TASKS", "make_pairs", "make_unpaired", "dilate", "erode", "edges",
]

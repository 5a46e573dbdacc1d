"""Unit 06 (conditional generative models): the PatchGAN patch drawn by the widget is the one the network
really sees, the widgets render and react, the plain encoder–decoder and the CycleGAN ablation switches."""

import pytest
import torch

from coursekit import gan
from coursekit.viz import conditional as V
from coursekit.widgets.conditional import GuidanceExplorer, PatchGANExplorer, patchgan_demo_image


@pytest.mark.parametrize("n_layers", [1, 2, 3])
def test_patch_span_is_the_field_the_gradient_finds(n_layers):
    """Back-propagate from one logit: the input pixels with a non-zero gradient are exactly patch_span's rows."""
    torch.manual_seed(0)
    D = gan.PatchDiscriminator(1, ndf=4, n_layers=n_layers, norm="none").eval()
    for m in D.modules():
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.constant_(m.weight, 0.05)     # all-positive weights: no gradient cancels by chance
    for m in D.modules():
        if isinstance(m, torch.nn.LeakyReLU):
            m.negative_slope = 1.0                      # linear: every path counts
    size = 96
    x = torch.rand(1, 1, size, size, requires_grad=True)
    out = D(x)
    i = out.shape[-1] // 2
    out[0, 0, i, i].backward()
    rows = (x.grad[0, 0].abs().sum(1) > 0).nonzero().flatten()
    first, last = V.patch_span(n_layers, i)
    assert (int(rows.min()), int(rows.max())) == (max(first, 0), min(last, size - 1))
    assert last - first + 1 == gan.patch_receptive_field(n_layers)


def test_patchgan_explorer_fields_and_picture_change():
    image = patchgan_demo_image(256)
    w = PatchGANExplorer(image, n_layers=1)
    fields = []
    for n in range(6):
        w.layers.value = n
        fields.append(w.receptive_field())
    assert fields == [1, 16, 34, 70, 142, 286]
    before = w.image.value
    w.position.value = 0.0
    assert w.image.value != before
    assert "image/png" in w._repr_mimebundle_()
    with pytest.raises(ValueError, match="n_layers"):
        PatchGANExplorer(image, n_layers=7)


def test_guidance_explorer_moves_and_checks_its_input():
    samples = {w: torch.rand(20, 1, 8, 8) * 2 - 1 for w in (0.0, 1.0, 3.0)}
    acc = {0.0: 0.1, 1.0: 0.8, 3.0: 1.0}
    fd = {0.0: 30.0, 1.0: 5.0, 3.0: 8.0}
    w = GuidanceExplorer(samples, acc, fd, lang="zh")
    assert w.w == 1.0
    before = w.image.value
    w.slider.value = 3.0
    assert w.image.value != before
    with pytest.raises(ValueError, match="fd_ratio"):
        GuidanceExplorer(samples, acc, {0.0: 1.0}, lang="en")
    with pytest.raises(ValueError, match="lang"):
        GuidanceExplorer(samples, acc, fd, lang="fr")


def test_every_label_in_both_languages():
    assert set(V.LABELS["zh"]) == set(V.LABELS["en"])


def test_plain_encoder_decoder_has_no_skips():
    x = torch.randn(2, 1, 32, 32)
    unet = gan.UNetGenerator(1, 1, num_downs=5, ngf=8, dropout=False)
    plain = gan.UNetGenerator(1, 1, num_downs=5, ngf=8, dropout=False, skips=False)
    assert unet(x).shape == plain(x).shape == x.shape
    assert gan.count_parameters(plain) < gan.count_parameters(unet)
    # without skips the output depends on the input only through the 1×1 bottleneck
    plain.eval()
    x.requires_grad_(True)
    plain(x)[0, 0, 0, 0].backward()
    assert x.grad[0].abs().sum() > 0


def test_cyclegan_ablation_switches():
    torch.manual_seed(0)
    m = gan.build_cyclegan(1, 1, "teaching")
    x, y = torch.rand(2, 1, 16, 16) * 2 - 1, torch.rand(2, 1, 16, 16) * 2 - 1
    _, full = gan.cyclegan_generator_losses(m, x, y)
    _, no_cycle = gan.cyclegan_generator_losses(m, x, y, cycle=False)
    _, no_idt = gan.cyclegan_generator_losses(m, x, y, lambda_identity=0)
    assert float(no_cycle["cycle"]) == 0 and float(no_cycle["identity"]) == pytest.approx(float(full["identity"]))
    assert float(no_idt["identity"]) == 0 and float(no_idt["cycle"]) == pytest.approx(float(full["cycle"]))


def test_colouring_task_has_three_modes_and_a_white_median():
    from coursekit.gan import colouring as C

    x, y, labels, colour = C.make_colouring("test", size=16)
    assert x.shape == (360, 1, 16, 16) and y.shape == (360, 3, 16, 16) and labels.shape == colour.shape == (360,)
    assert set(colour.tolist()) == {0, 1, 2}
    mask = C.stroke_mask(y)
    assert C.palette_share(y, mask) == 1.0 and C.saturation(y, mask) > 0.5
    assert torch.equal(C.colour_index(y, mask), colour)
    # the per-channel median of the three colours is white: the L1 optimum is a colour no target has
    median = C.PALETTE.median(dim=0).values
    assert torch.equal(median, C.WHITE)
    white = C.paint(x, C.WHITE.expand(len(x), 3))
    assert C.saturation(white, mask) == 0.0 and C.palette_share(white, mask) == 0.0
    assert torch.equal(C.to_grey(y), x.clamp(min=-1))          # the brightness keeps the digit
    with pytest.raises(ValueError, match="size"):
        C.make_colouring(size=20)


def test_unpaired_colour_domains_are_disjoint_and_thin_vs_thick():
    from coursekit.gan import colouring as C

    X, Y, colour, digits = C.make_unpaired_colour("train", size=16)
    assert len(X) + len(Y) == 1437 and len(colour) == len(digits) == len(X)
    assert C.stroke_mask(X).float().mean() < C.stroke_mask(Y).float().mean()     # thin vs thick
    assert torch.equal(C.colour_index(X), colour)

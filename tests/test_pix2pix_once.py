"""pix2pix runs its generator once per iteration, as the reference's optimize_parameters does: D's step and
G's step judge the same fake (same dropout mask), and BatchNorm's running statistics move once.
Also: translate(dropout=True) runs G as Isola et al. do at test time (dropout, their only z, on); where the
reference puts dropout; the PatchGAN's strided patches (patch_span, patch_stride)."""

import pytest
import torch

from coursekit import gan


def _pairs(n: int = 8, size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, size, size, generator=g) * 2 - 1
    return x, x.flip(-1)


def _count_calls(module: torch.nn.Module, log: list) -> None:
    module.register_forward_hook(lambda m, inputs, output: log.append(output.detach().clone()))


@pytest.mark.parametrize("with_d", [True, False])
def test_generator_runs_once_per_iteration(with_d):
    x, y = _pairs()
    G, D = gan.build_pix2pix(1, 1, "teaching", 16)
    calls: list = []
    _count_calls(G, calls)
    history = gan.train_pix2pix(G, D if with_d else None, x, y, steps=3, batch_size=4, device="cpu",
                                progress=False)
    assert history.steps == 3
    assert len(calls) == 3                                 # one forward pass of G per iteration, not two
    bn = next(m for m in G.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert int(bn.num_batches_tracked) == 3                # BatchNorm's statistics moved once per iteration


def test_k_discriminator_steps_one_generator_call_each():
    x, y = _pairs()
    G, D = gan.build_pix2pix(1, 1, "teaching", 16)
    calls: list = []
    _count_calls(G, calls)
    gan.train_pix2pix(G, D, x, y, steps=2, k=2, batch_size=4, device="cpu", progress=False)
    assert len(calls) == 4                                 # k D steps each need a fake; G's step reuses the last


def test_d_and_g_judge_the_same_fake_with_dropout():
    """With dropout on (pix2pix's noise z), D's fake pair and G's fake pair must be the same tensor."""
    x, y = _pairs(size=64)
    G = gan.UNetGenerator(1, 1, num_downs=6, ngf=4, dropout=True)   # dropout needs 6 levels
    assert any(isinstance(m, torch.nn.Dropout) for m in G.modules())
    D = gan.PatchDiscriminator(2, ndf=8, n_layers=1)
    seen: list = []
    D.register_forward_hook(lambda m, inputs, output: seen.append(inputs[0][:, 1:].detach().clone()))
    gan.train_pix2pix(G, D, x, y, steps=1, batch_size=4, device="cpu", progress=False)
    real_pair, d_fake, g_fake = seen                       # D(x, y), D(x, fake) in D's step, D(x, fake) in G's
    assert torch.equal(d_fake, g_fake)
    assert not torch.equal(real_pair, d_fake)


def test_translate_keeps_dropout_on_only_when_asked():
    """Isola et al. keep dropout (their only z) on at test time: translate(dropout=True) draws a new mask each call
    (seed fixes it) while BatchNorm keeps its running statistics; the default is a deterministic G(x)."""
    x, _ = _pairs(n=4, size=64)
    G = gan.UNetGenerator(1, 1, num_downs=6, ngf=4, dropout=True)
    assert gan.dropout_layers(G) == 1
    G.train()
    bn = next(m for m in G.modules() if isinstance(m, torch.nn.BatchNorm2d))
    before = bn.running_mean.clone()
    off = gan.translate(G, x)
    assert torch.equal(off, gan.translate(G, x))                                  # eval mode: deterministic
    a, b = gan.translate(G, x, dropout=True, seed=1), gan.translate(G, x, dropout=True, seed=2)
    assert not torch.equal(a, b) and torch.equal(a, gan.translate(G, x, dropout=True, seed=1))
    assert not torch.equal(a, off)
    assert torch.equal(bn.running_mean, before)                                   # running statistics untouched
    assert G.training and all(m.training for m in G.modules())                    # the caller's mode comes back
    # the same by hand: eval mode with the Dropout modules alone switched to train mode
    G.eval()
    for m in G.modules():
        if isinstance(m, torch.nn.Dropout):
            m.train()
    torch.manual_seed(1)
    with torch.no_grad():
        assert torch.equal(G(x), a)


def test_dropout_sits_where_the_reference_puts_it():
    """The reference adds num_downs − 5 dropout levels (8·ngf wide, next to the bottleneck): 3 in unet_256, none
    in the course's 4- and 5-level U-Nets (so their G(x) has no noise z at all)."""
    counts = {n: gan.dropout_layers(gan.UNetGenerator(1, 1, num_downs=n, ngf=2, dropout=True)) for n in (4, 5, 6, 8)}
    assert counts == {4: 0, 5: 0, 6: 1, 8: 3}
    assert gan.dropout_layers(gan.UNetGenerator(1, 1, num_downs=8, ngf=2, dropout=False)) == 0
    x = torch.rand(2, 1, 32, 32)
    small = gan.UNetGenerator(1, 3, num_downs=5, ngf=4, dropout=True)
    assert torch.equal(gan.translate(small, x, dropout=True, seed=0), gan.translate(small, x))


@pytest.mark.parametrize("n_layers", [1, 2, 3, 4, 5])
def test_patch_span_strides_and_field(n_layers):
    """Neighbouring logits' patches are 2^n apart, k = 9s − 2 wide and start at s·i − (3s − 1); the output grid is
    as large as patch_output_size says, and n_layers = 0 is refused (the PixelGAN is another network)."""
    s, k = gan.patch_stride(n_layers), gan.patch_receptive_field(n_layers)
    assert s == 2 ** n_layers and k == 9 * s - 2
    for i in range(4):
        first, last = gan.patch_span(n_layers, i)
        assert (first, last) == (s * i - (3 * s - 1), s * i - (3 * s - 1) + k - 1)
    logits = gan.PatchDiscriminator(1, ndf=2, n_layers=n_layers)(torch.zeros(1, 1, 256, 256))
    assert logits.shape[-1] == gan.patch_output_size(256, n_layers)
    with pytest.raises(ValueError, match="n_layers"):
        gan.PatchDiscriminator(1, n_layers=0)
    with pytest.raises(ValueError, match="index"):
        gan.patch_span(n_layers, -1)

"""pix2pix runs its generator once per iteration, as the reference's optimize_parameters does: D's step and
G's step judge the same fake (same dropout mask), and BatchNorm's running statistics move once."""

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

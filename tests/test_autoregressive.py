"""PixelCNN: causality proved by gradients, exact likelihood, sampling, bad inputs."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from coursekit.autoregressive import (
    DIGIT_LEVELS,
    MaskedConv2d,
    PixelCNN,
    bits_per_dim,
    causal_mask,
    channel_mask,
    dependency_matrix,
    from_levels,
    receptive_field,
    to_levels,
)
from coursekit.data import load_digits

H = W = 8


def _allowed(r: int, c: int, include_centre: bool) -> torch.Tensor:
    """Pixels strictly before (r, c) in raster order (plus (r, c) itself when include_centre)."""
    index = torch.arange(H * W).view(H, W)
    i = r * W + c
    return index <= i if include_centre else index < i


@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_single_layer_sees_only_the_past(mask_type):
    torch.manual_seed(0)
    layer = MaskedConv2d(1, 4, 5, mask_type=mask_type)
    with torch.no_grad():
        layer.weight.fill_(1.0)        # every unmasked tap non-zero, so "no gradient" means "masked"
    for r, c in [(0, 0), (3, 4), (7, 7), (4, 0)]:
        seen = receptive_field(layer, (1, 1, H, W), (r, c))
        allowed = _allowed(r, c, include_centre=mask_type == "B")
        assert not bool((seen & ~allowed).any()), f"type {mask_type} output at {(r, c)} sees the future"
        assert bool(seen[r, c]) == (mask_type == "B"), "the centre is seen exactly for type B"
        if (r, c) != (0, 0):
            assert seen.any()


def test_stack_of_layers_is_causal_and_grows():
    torch.manual_seed(0)
    stack = nn.Sequential(MaskedConv2d(1, 8, 3, "A"), nn.ReLU(), MaskedConv2d(8, 8, 3, "B"), nn.ReLU(),
                          MaskedConv2d(8, 8, 3, "B"), nn.ReLU(), MaskedConv2d(8, 1, 3, "B"))
    M = dependency_matrix(stack)                                    # M[i, j]: output i depends on input j
    assert not bool(torch.triu(M).any()), "some output depends on a pixel at or after its own position"
    # a type-B stack after a type-A layer never sees the centre, but the field grows with depth
    assert int(M[4 * W + 4].sum()) > int(dependency_matrix(stack[0])[4 * W + 4].sum())
    # the matrix agrees with the one-pixel gradient probe
    assert torch.equal(M[3 * W + 5].view(H, W), receptive_field(stack, (1, 1, H, W), (3, 5)))


def test_a_type_b_first_layer_would_leak_the_centre():
    """The check can fail: a stack that starts with type B sees x_i (what type A exists to prevent)."""
    leaky = nn.Sequential(MaskedConv2d(1, 4, 3, "B"), nn.ReLU(), MaskedConv2d(4, 1, 3, "B"))
    with torch.no_grad():
        for m in leaky:
            if isinstance(m, MaskedConv2d):
                m.weight.fill_(0.5)
                m.bias.fill_(1.0)
    assert bool(receptive_field(leaky, (1, 1, H, W), (3, 3))[3, 3])


@pytest.mark.parametrize("conditional", [False, True])
def test_pixelcnn_is_causal(conditional):
    torch.manual_seed(0)
    model = PixelCNN(hidden=16, n_blocks=3, num_classes=10 if conditional else None)
    M = dependency_matrix(model, y=torch.tensor(3) if conditional else None)
    assert not bool(torch.triu(M).any()), "PixelCNN output i must depend only on pixels < i"
    assert not M[0].any()                     # p(x_1) depends on no pixel
    assert int(M[-1].sum()) > 20              # the last pixel sees much of the image


def test_mask_shapes():
    a, b = causal_mask(3, "A"), causal_mask(3, "B")
    assert a.tolist() == [[1, 1, 1], [1, 0, 0], [0, 0, 0]]
    assert b.tolist() == [[1, 1, 1], [1, 1, 0], [0, 0, 0]]
    layer = MaskedConv2d(2, 3, 3, "A")
    with torch.no_grad():
        layer.weight.normal_()
    # the mask is applied in forward, so even weights the optimiser sets in masked taps do nothing
    x = torch.randn(1, 2, H, W)
    y1 = layer(x)
    with torch.no_grad():
        layer.weight[:, :, 2, :] = 100.0
    assert torch.allclose(layer(x), y1)


def test_uniform_model_has_log2_levels_bits():
    """Zero the last layer: every conditional is uniform over L levels, so bits/dim = log2 L exactly."""
    x, y = load_digits("test")
    for levels in (DIGIT_LEVELS, 2):
        model = PixelCNN(levels=levels, hidden=8, n_blocks=1, num_classes=10)
        with torch.no_grad():
            model.out[-1].weight.zero_()
            model.out[-1].bias.zero_()
        assert model.bits_per_dim(x[:50], y[:50]) == pytest.approx(math.log2(levels), abs=1e-5)
    assert float(bits_per_dim(torch.tensor([64 * math.log(17.0)]), 64)) == pytest.approx(math.log2(17))


def test_levels_round_trip():
    x, _ = load_digits("train")
    k = to_levels(x)
    assert int(k.min()) == 0 and int(k.max()) == 16
    assert torch.allclose(from_levels(k), x, atol=1e-6)


@pytest.mark.slow
def test_training_lowers_nll_and_sampling_is_reproducible():
    torch.manual_seed(0)
    x, y = load_digits("train")
    model = PixelCNN(hidden=16, n_blocks=2, num_classes=10)
    before = model.bits_per_dim(x[:200], y[:200])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for i in range(40):
        idx = torch.arange(i * 32, i * 32 + 32) % len(x)
        loss = model.loss(x[idx], y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = model.bits_per_dim(x[:200], y[:200])
    assert after < before - 0.5, (before, after)
    labels = torch.arange(10)
    s1 = model.sample(y=labels, generator=torch.Generator().manual_seed(1))
    s2 = model.sample(y=labels, generator=torch.Generator().manual_seed(1))
    assert s1.shape == (10, 1, H, W) and torch.equal(s1, s2)
    assert set(to_levels(s1).unique().tolist()) <= set(range(DIGIT_LEVELS))
    assert torch.allclose(from_levels(to_levels(s1)), s1)


def test_nll_equals_sum_of_sequential_conditionals():
    """The one-pass likelihood is the product of the conditionals computed pixel by pixel."""
    torch.manual_seed(0)
    model = PixelCNN(hidden=8, n_blocks=1).eval()
    x = load_digits("test")[0][:3]
    target = to_levels(x)[:, 0]
    total = torch.zeros(3)
    with torch.no_grad():
        partial = torch.full_like(x, -1.0)
        for r in range(H):
            for c in range(W):
                logp = model(partial)[:, :, r, c].log_softmax(1)          # only x_<i is filled in
                total -= logp[torch.arange(3), target[:, r, c]]
                partial[:, 0, r, c] = x[:, 0, r, c]
        assert torch.allclose(model.nll(x), total, atol=1e-4)


def test_bad_inputs():
    with pytest.raises(ValueError, match="mask_type"):
        MaskedConv2d(1, 4, 3, mask_type="C")
    with pytest.raises(ValueError, match="kernel_size"):
        MaskedConv2d(1, 4, 4)
    with pytest.raises(ValueError, match="kernel_size"):
        MaskedConv2d(1, 4, 1, "A")
    with pytest.raises(ValueError, match="in_channels"):
        MaskedConv2d(0, 4, 3)
    with pytest.raises(ValueError, match="x must have shape"):
        MaskedConv2d(2, 4, 3)(torch.randn(1, 1, 8, 8))
    model = PixelCNN(hidden=8, n_blocks=1, num_classes=10)
    with pytest.raises(ValueError, match="x must have 4"):
        model(torch.randn(2, 8, 8), torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="1 channel"):
        model(torch.randn(2, 3, 8, 8), torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="y .*required"):
        model(torch.randn(2, 1, 8, 8))
    with pytest.raises(ValueError, match="y must be in"):
        model(torch.randn(2, 1, 8, 8), torch.tensor([1, 10]))
    with pytest.raises(ValueError, match="y must be an integer"):
        model(torch.randn(2, 1, 8, 8), torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="without num_classes"):
        PixelCNN(hidden=8, n_blocks=1)(torch.randn(2, 1, 8, 8), torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="levels"):
        PixelCNN(levels=1)
    with pytest.raises(ValueError, match="n must"):
        PixelCNN(hidden=8, n_blocks=1).sample(0)
    with pytest.raises(ValueError, match="temperature"):
        PixelCNN(hidden=8, n_blocks=1).sample(2, temperature=0.0)


# --------------------------------------------------------------------------------------------------------
# The joint distribution: normalised, and what pixel-by-pixel sampling draws from
# --------------------------------------------------------------------------------------------------------

def _all_images(levels: int, size: int) -> torch.Tensor:
    """Every image of size × size pixels over ``levels`` grey levels, as (levels^(size²), 1, size, size)."""
    d = size * size
    codes = torch.arange(levels ** d)
    digits = torch.stack([(codes // levels ** (d - 1 - i)) % levels for i in range(d)], dim=1)
    return from_levels(digits, levels).view(-1, 1, size, size)


def _sharp_model(levels: int, size: int, num_classes: int | None = None, seed: int = 0) -> PixelCNN:
    """A small random PixelCNN with large weights, so the conditionals are far from uniform and depend
    strongly on the pixels before them (a sampler that ignored them would be easy to tell apart)."""
    torch.manual_seed(seed)
    model = PixelCNN(levels=levels, hidden=8, n_blocks=1, kernel_size=3, image_size=size, num_classes=num_classes)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)
    return model.eval()


def test_exact_likelihood_sums_to_one_over_all_images():
    """Σ_x p_θ(x) = 1 over all 3^4 images of 2×2 pixels (and for every class of a conditional model):
    the product of the one-pass conditionals is a normalised joint distribution."""
    x = _all_images(3, 2)
    model = _sharp_model(3, 2)
    with torch.no_grad():
        p = (-model.nll(x).double()).exp()
    assert float(p.sum()) == pytest.approx(1.0, abs=1e-5)
    assert float(p.max()) > 5 * float(p.min())                    # far from uniform: the check has teeth
    cond = _sharp_model(3, 2, num_classes=4)
    for label in range(4):
        with torch.no_grad():
            pc = (-cond.nll(x, torch.full((len(x),), label)).double()).exp()
        assert float(pc.sum()) == pytest.approx(1.0, abs=1e-5)


def test_pixel_by_pixel_sampling_draws_from_the_joint():
    """Frequencies of 20,000 samples of 2×2 binary images against p_θ(x) from ``nll`` (Pearson χ², 15
    degrees of freedom; 37.7 is the 0.1 % critical value). The same samples are far from the product of the
    pixel marginals, so a sampler that drew pixels independently would fail."""
    model = _sharp_model(2, 2, seed=1)
    x = _all_images(2, 2)
    with torch.no_grad():
        p = (-model.nll(x).double()).exp()
    n = 20_000
    samples = model.sample(n, generator=torch.Generator().manual_seed(0))
    bits = to_levels(samples, 2).flatten(1)                                   # (n, 4) in {0, 1}
    index = (bits * torch.tensor([8, 4, 2, 1])).sum(1)                        # raster order, as _all_images
    counts = torch.bincount(index, minlength=16).double()
    chi2 = float(((counts - n * p) ** 2 / (n * p)).sum())
    assert chi2 < 37.7, (chi2, counts, n * p)
    # the joint is not the product of its marginals: the model's pixels are dependent
    marg = to_levels(x, 2).flatten(1).double()
    on = (p[:, None] * marg).sum(0)                                           # P(x_i = 1)
    independent = (marg * on + (1 - marg) * (1 - on)).prod(1)
    chi2_indep = float(((counts - n * independent) ** 2 / (n * independent)).sum())
    assert chi2_indep > 10 * 37.7, chi2_indep


# --------------------------------------------------------------------------------------------------------
# Conditional AR: p(x | y) = ∏ p(x_i | x_<i, y) — the condition matters
# --------------------------------------------------------------------------------------------------------

def test_condition_reaches_every_pixel():
    """Changing y changes the conditional at every pixel, the first one (which sees no pixel) included."""
    torch.manual_seed(0)
    model = PixelCNN(hidden=16, n_blocks=2, num_classes=10).eval()
    x = load_digits("test")[0][:4]
    with torch.no_grad():
        a = model(x, torch.tensor([0, 1, 2, 3])).log_softmax(1)
        b = model(x, torch.tensor([5, 6, 7, 8])).log_softmax(1)
    changed = (a - b).abs().amax(dim=1) > 1e-4                                   # (4, H, W)
    assert bool(changed.all())


@pytest.mark.slow
def test_trained_conditional_pixelcnn_uses_the_label():
    """After a short training the true label explains the test digits better than a wrong one:
    −log₂ p(x | y_true)/D < −log₂ p(x | y_wrong)/D, and the model's own class posterior
    p(y | x) ∝ p(x | y) picks the right class for most test digits."""
    torch.manual_seed(0)
    x, y = load_digits("train")
    model = PixelCNN(hidden=32, n_blocks=2, num_classes=10)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(150):
        idx = torch.randint(0, len(x), (64,), generator=g)
        loss = model.loss(x[idx], y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    xt, yt = load_digits("test")
    xt, yt = xt[:100], yt[:100]
    right = model.bits_per_dim(xt, yt)
    wrong = model.bits_per_dim(xt, (yt + 1 + torch.arange(100) % 9) % 10)
    assert right < wrong - 0.05, (right, wrong)
    model.eval()
    with torch.no_grad():
        nll = torch.stack([model.nll(xt, torch.full((100,), c)) for c in range(10)], dim=1)   # (100, 10)
    accuracy = float((nll.argmin(1) == yt).float().mean())
    assert accuracy > 0.5, accuracy                                           # chance is 0.1


def test_bad_constructor_arguments_name_the_argument():
    for kwargs, name in [({"hidden": 0}, "hidden"), ({"n_blocks": -1}, "n_blocks"), ({"kernel_size": 4}, "kernel_size"),
                         ({"kernel_size": 1}, "kernel_size"), ({"block_kernel_size": 2}, "block_kernel_size"),
                         ({"image_size": 0}, "image_size"), ({"num_classes": 0}, "num_classes"),
                         ({"levels": 2.5}, "levels")]:
        with pytest.raises(ValueError, match=name):
            PixelCNN(**kwargs)
    model = PixelCNN(hidden=8, n_blocks=0, num_classes=3, image_size=4)
    with pytest.raises(ValueError, match="y must be an integer tensor of class labels"):
        model.sample(y=[0, 1])
    with pytest.raises(ValueError, match=r"n \(3\) must equal"):
        model.sample(3, y=torch.tensor([0, 1]))
    assert model.sample(y=torch.tensor([0, 2]), generator=torch.Generator().manual_seed(0)).shape == (2, 1, 4, 4)


def test_same_code_path_on_every_device(device):
    """Likelihood, causality probe and sampling run on the device given (CUDA when present) and agree with
    the CPU numbers."""
    torch.manual_seed(0)
    cpu = PixelCNN(hidden=8, n_blocks=1, num_classes=10).eval()
    model = PixelCNN(hidden=8, n_blocks=1, num_classes=10).to(device).eval()
    model.load_state_dict(cpu.state_dict())
    x, y = load_digits("test")
    x, y = x[:16], y[:16]
    assert model.bits_per_dim(x.to(device), y.to(device)) == pytest.approx(cpu.bits_per_dim(x, y), rel=1e-4)
    assert not bool(torch.triu(dependency_matrix(model, y=torch.tensor(2))).any())
    samples = model.sample(y=torch.arange(4), generator=torch.Generator(device=device).manual_seed(0))
    assert samples.device.type == device.type and samples.shape == (4, 1, H, W)


def _colour_order_allowed(i: int, g: int, size: int, inclusive: bool) -> torch.Tensor:
    """(3, size·size) bool: the inputs (colour h, pixel j) that output colour g at pixel i may read in the
    raster × R→G→B order: every colour of an earlier pixel, and colours h < g (h ≤ g if inclusive) of pixel i."""
    j = torch.arange(size * size)[None, :].expand(3, -1)
    h = torch.arange(3)[:, None].expand(-1, size * size)
    same = (h <= g) if inclusive else (h < g)
    return (j < i) | ((j == i) & same)


@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_colour_masks_follow_the_rgb_order_by_gradients(mask_type):
    """A stack of RGB-masked layers (first A or B, then B), random weights: output colour g at pixel i depends on
    no input outside the raster × R→G→B past (checked by gradients, every output), and does depend on the
    earlier colours of its own pixel (the centre taps that the channel mask keeps)."""
    size, hidden = 5, 6
    g = torch.Generator().manual_seed(int(torch.randint(0, 10_000, (1,))))
    stack = nn.Sequential(MaskedConv2d(3, hidden, 3, mask_type, colours=3), nn.Tanh(),
                          MaskedConv2d(hidden, hidden, 3, "B", colours=3), nn.Tanh(),
                          MaskedConv2d(hidden, 3, 1, "B", colours=3))
    with torch.no_grad():
        for p in stack.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    x = torch.randn(1, 3, size, size, generator=g, requires_grad=True)
    out = stack(x)
    for i in range(size * size):
        r, c = divmod(i, size)
        for colour in range(3):
            grad, = torch.autograd.grad(out[0, colour, r, c], x, retain_graph=True)
            seen = grad[0].flatten(1) != 0                                   # (3, size·size)
            allowed = _colour_order_allowed(i, colour, size, inclusive=mask_type == "B")
            assert not bool((seen & ~allowed).any()), (mask_type, i, colour)
            own = seen[:, i]
            assert own[:colour].all(), (mask_type, i, colour)                # earlier colours of its own pixel
            assert bool(own[colour]) == (mask_type == "B"), (mask_type, i, colour)


def test_channel_mask_groups_and_bad_arguments():
    m = channel_mask(3, "A", 3, 6)
    assert m.shape == (6, 3, 3, 3)
    assert torch.equal(m[:, :, 0], torch.ones(6, 3, 3)) and torch.equal(m[:, :, 2], torch.zeros(6, 3, 3))
    centre = m[:, :, 1, 1]
    assert torch.equal(centre, torch.tensor([[0, 0, 0], [0, 0, 0], [1, 0, 0], [1, 0, 0], [1, 1, 0], [1, 1, 0.]]))
    assert torch.equal(channel_mask(3, "B", 3, 3)[:, :, 1, 1], torch.tril(torch.ones(3, 3)))
    assert torch.equal(channel_mask(5, "B", 1, 1, colours=1)[0, 0], causal_mask(5, "B"))
    for call, word in ((lambda: channel_mask(3, "A", 4, 6), "in_channels"),
                       (lambda: channel_mask(3, "A", 3, 5), "out_channels"),
                       (lambda: channel_mask(3, "C", 3, 3), "mask_type"),
                       (lambda: MaskedConv2d(3, 3, 3, "A", colours=0), "colours"),
                       (lambda: MaskedConv2d(1, 1, 1, "A"), "kernel_size")):
        with pytest.raises(ValueError, match=word):
            call()
    assert "colours=3" in repr(MaskedConv2d(3, 3, 1, "A", colours=3))        # a 1×1 type A is meaningful in colour

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


# ---------------------------------------------------------------------------------------------------------
# 06b: classifier guidance (coursekit.diffusion.guidance) and the guidance explorer's near copies and snapping
# ---------------------------------------------------------------------------------------------------------

class _LinearClassifier(torch.nn.Module):
    """logits = W x + b, whatever t: ∇_x log softmax(W x + b)_y = W_y − Σ_k p_k W_k in closed form (the oracle)."""

    image_shape = (1, 2, 2)

    def __init__(self, generator):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(3, 4, generator=generator))
        self.bias = torch.nn.Parameter(torch.randn(3, generator=generator))

    def forward(self, x, t):
        return x.flatten(1) @ self.weight.T + self.bias

    def gradient(self, x, y):
        with torch.no_grad():
            p = self(x, None).softmax(dim=1)
            return (self.weight[y] - p @ self.weight).view_as(x)


class _LinearDenoiser(torch.nn.Module):
    """ε(x_t, t[, y]) = a·x_t + c_y (c_∅ = 0): a model whose every output the test can write down."""

    def __init__(self, generator):
        super().__init__()
        self.a = torch.nn.Parameter(torch.randn((), generator=generator) * 0.3)
        self.c = torch.nn.Parameter(torch.randn(3, 4, generator=generator) * 0.3)
        self.calls = []

    def forward(self, x, t, y=None):
        self.calls.append(None if y is None else y.clone())
        if y is None:
            shift = torch.zeros_like(x.flatten(1))
        else:
            shift = torch.where((y >= 0)[:, None], self.c[y.clamp(min=0)], 0.0)
        return self.a * x + shift.view_as(x)


def _classifier_guidance_oracle(model, classifier, s, y, scale, generator, model_label):
    """Dhariwal & Nichol's Algorithm 1 in float64 with the classifier's closed-form gradient."""
    x = torch.randn((len(y), *classifier.image_shape), generator=generator).double()
    for t in range(s.T, 0, -1):
        label = None if model_label is None else torch.full_like(y, model_label)
        with torch.no_grad():
            eps = model(x.float(), torch.full((len(y),), t), label).double()
        alpha, alpha_bar, beta = (float(v[t - 1]) for v in (s.alphas, s.alpha_bars, s.betas))
        mean = (x - beta / (1 - alpha_bar) ** 0.5 * eps) / alpha ** 0.5
        mean = mean + scale * beta * classifier.gradient(x.float(), y).double()
        x = mean + beta ** 0.5 * torch.randn(x.shape, generator=generator).double() if t > 1 else mean
    return x


@pytest.mark.parametrize("model_label", [None, -1])
def test_classifier_guided_sample_is_algorithm_1_of_dhariwal_and_nichol(model_label):
    from coursekit import diffusion as D
    from coursekit.diffusion import guidance as G

    g = torch.Generator().manual_seed(11)
    s = D.make_schedule("linear", T=6, beta_start=0.05, beta_end=0.3)
    model, classifier = _LinearDenoiser(g), _LinearClassifier(g)
    y = torch.randint(0, 3, (7,), generator=g)
    for scale in (0.0, 1.5, 6.0):
        got = G.classifier_guided_sample(model, classifier, s, y, scale, torch.Generator().manual_seed(5),
                                         model_label=model_label)
        want = _classifier_guidance_oracle(model, classifier, s, y, scale, torch.Generator().manual_seed(5),
                                           model_label)
        assert got.shape == (7, 1, 2, 2)
        assert torch.allclose(got.double(), want, atol=1e-5), (scale, float((got.double() - want).abs().max()))
    # every step asked the model once, with the null label or with none at all
    assert all((c is None) if model_label is None else bool((c == -1).all()) for c in model.calls)
    # the guidance moves the samples towards the asked class: the classifier's own probability of y rises
    with torch.no_grad():
        p = {sc: float(classifier(G.classifier_guided_sample(model, classifier, s, y, sc,
                                                             torch.Generator().manual_seed(5), model_label=model_label),
                                  None).softmax(1)[range(7), y].mean())
             for sc in (0.0, 20.0)}
    assert p[20.0] > p[0.0]


def test_classifier_guidance_at_scale_0_is_plain_sampling_and_takes_the_label_tensor():
    from coursekit import diffusion as D
    from coursekit.diffusion import guidance as G

    g = torch.Generator().manual_seed(3)
    s = D.make_schedule("linear", T=8, beta_start=0.02, beta_end=0.2)
    model, classifier = _LinearDenoiser(g), _LinearClassifier(g)
    y = torch.tensor([0, 1, 2, 1])
    ours = G.classifier_guided_sample(model, classifier, s, y, 0.0, torch.Generator().manual_seed(2), model_label=y)
    plain = D.sample(model, s, (4, 1, 2, 2), generator=torch.Generator().manual_seed(2), y=y)
    assert torch.allclose(ours, plain, atol=1e-5)
    null = G.classifier_guided_sample(model, classifier, s, y, 0.0, torch.Generator().manual_seed(2),
                                      model_label=D.NULL_LABEL)
    unconditional = D.sample(model, s, (4, 1, 2, 2), generator=torch.Generator().manual_seed(2),
                             y=torch.full_like(y, D.NULL_LABEL))
    assert torch.allclose(null, unconditional, atol=1e-5)
    with pytest.raises(ValueError, match="model_label"):
        G.classifier_guided_sample(model, classifier, s, y, 1.0, model_label=torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="scale"):
        G.classifier_guided_sample(model, classifier, s, y, float("nan"))
    with pytest.raises(ValueError, match="y must be"):
        G.classifier_guided_sample(model, classifier, s, y.float(), 1.0)


def test_classifier_log_prob_gradient_matches_the_closed_form():
    from coursekit.diffusion import guidance as G

    g = torch.Generator().manual_seed(8)
    classifier = _LinearClassifier(g)
    x, y = torch.randn(5, 1, 2, 2, generator=g), torch.randint(0, 3, (5,), generator=g)
    got = G.classifier_log_prob_gradient(classifier, x, torch.ones(5, dtype=torch.long), y)
    assert torch.allclose(got, classifier.gradient(x, y), atol=1e-6)
    assert not x.requires_grad and got.shape == x.shape


def test_noisy_classifier_loss_is_the_cross_entropy_at_a_forward_sample():
    import torch.nn.functional as F

    from coursekit import diffusion as D
    from coursekit.diffusion import guidance as G

    s = D.make_schedule("linear", T=50, beta_start=1e-3, beta_end=0.2)
    clf = G.NoisyClassifier(hidden=16, depth=1, time_dim=8)
    x0, y = torch.rand(6, 1, 8, 8) * 2 - 1, torch.randint(0, 10, (6,))
    got = G.noisy_classifier_loss(clf, s, x0, y, torch.Generator().manual_seed(4))
    g = torch.Generator().manual_seed(4)                       # the oracle: the same draws, written out
    t = torch.randint(1, s.T + 1, (6,), generator=g)
    noise = torch.randn(x0.shape, generator=g)
    a = s.alpha_bars[t - 1].view(-1, 1, 1, 1)
    want = F.cross_entropy(clf(a.sqrt() * x0 + (1 - a).sqrt() * noise, t), y)
    assert torch.allclose(got, want)
    assert clf(x0, t).shape == (6, 10)
    with pytest.raises(ValueError, match="x_t must have shape"):
        clf(torch.zeros(2, 64), t[:2])
    with pytest.raises(ValueError, match="y must be"):
        G.noisy_classifier_loss(clf, s, x0, y[:3])
    with pytest.raises(ValueError, match="hidden"):
        G.NoisyClassifier(hidden=0)


def test_a_trained_noisy_classifier_steers_the_sampler():
    """Train the noisy classifier briefly on two digits and guide an untrained-but-harmless denoiser (ε = 0 gives
    pure noise shrinking towards 0): with a large scale the samples' class follows the asked label."""
    from coursekit import data, train
    from coursekit import diffusion as D
    from coursekit.diffusion import guidance as G

    x, y = data.load_digits("train")
    keep = y < 2
    s = D.make_schedule("linear", T=20, beta_start=0.01, beta_end=0.3)
    train.seed_everything(0)
    clf = train.fit(G.NoisyClassifier(hidden=32, depth=1), lambda m, x0, y: G.noisy_classifier_loss(m, s, x0, y),
                    (x[keep], y[keep]), steps=150, batch_size=64, lr=3e-3, seed=0, progress=False).model.eval()

    class Zero(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.p = torch.nn.Parameter(torch.zeros(()))

        def forward(self, x, t, y=None):
            return torch.zeros_like(x)

    asked = torch.tensor([0, 1] * 20)
    images = G.classifier_guided_sample(Zero(), clf, s, asked, 30.0, torch.Generator().manual_seed(0))
    with torch.no_grad():
        read = clf(images, torch.ones(40, dtype=torch.long)).argmax(1)
    assert float((read == asked).float().mean()) > 0.9


def test_guidance_explorer_snaps_to_measured_w_and_draws_near_copies():
    samples = {w: torch.rand(20, 1, 8, 8) * 2 - 1 for w in (0.0, 1.0, 3.0)}
    acc = {0.0: 0.1, 1.0: 0.8, 3.0: 1.0}
    fd = {0.0: 30.0, 1.0: 5.0, 3.0: 8.0}
    near = {0.0: 0.0, 1.0: 0.01, 3.0: 0.02}
    w = GuidanceExplorer(samples, acc, fd, lang="zh", w=3.0, near_copies=near)
    assert w.slider.value == 3.0 and "引导系数" in w.slider.tooltip and "滑块" in w.hint.value
    before = w.image.value
    w.slider.value = 2.0                     # between 1 and 3: snaps to the nearest measured w (3 is as near: min)
    assert w.slider.value in (1.0, 3.0) and w.w == w.slider.value
    w.slider.value = 0.2
    assert w.slider.value == 0.0 and w.image.value != before
    en = GuidanceExplorer(samples, acc, fd, lang="en", near_copies=near)
    assert "guidance scale" in en.slider.tooltip and en.w == 1.0
    with pytest.raises(ValueError, match="near_copies"):
        GuidanceExplorer(samples, acc, fd, near_copies={0.0: 0.0})


def test_guidance_curve_draws_near_copies_beside_accuracy_and_fd():
    from matplotlib.ticker import FuncFormatter

    fig = V.plot_guidance_curve([0, 1, 2], [0.1, 0.9, 1.0], [10.0, 2.0, 3.0], lang="zh",
                                near_copies=[0.0, 0.01, 0.02], n=500, managed=False)
    left = fig.axes[0]
    assert len(left.lines) == 2 and "500" in left.get_title()
    assert "近似复制" in [t.get_text() for t in left.get_legend().get_texts()][1]
    right = fig.axes[1]                                  # FD on a log axis, ticks written as plain numbers
    assert right.get_yscale() == "log" and isinstance(right.yaxis.get_major_formatter(), FuncFormatter)
    assert right.yaxis.get_major_formatter()(10.0, 0) == "10"
    plain = V.plot_guidance_curve([0, 1], [0.1, 0.9], [10.0, 2.0], managed=False)
    assert len(plain.axes[0].lines) == 1

"""Unit 02's widgets and plots: the receptive field explorer (fields measured by gradients, the blind spot), the
sampling player fed by PixelCNN.sample's callback, and the plots in both languages."""

from __future__ import annotations

import pytest
import torch

from coursekit import autoregressive as AR
from coursekit.viz import autoregressive as VA
from coursekit.widgets import ReceptiveFieldExplorer, SamplingPlayer
from coursekit.widgets.autoregressive import masked_stack


def test_masked_stack_field_has_a_blind_spot_that_depth_does_not_remove():
    size, pixel = 11, (5, 5)
    index = torch.arange(size * size).view(size, size)
    earlier = index < pixel[0] * size + pixel[1]
    previous = 0
    for layers in (1, 2, 4, 8):
        field = AR.receptive_field(masked_stack(layers, 3), (1, 1, size, size), pixel)
        assert not bool((field & ~earlier).any()), "a type-A-first stack sees only earlier pixels"
        assert int(field.sum()) > previous                        # the field grows with depth …
        previous = int(field.sum())
        assert not bool(field[pixel[0] - 1, pixel[1] + 2])        # … but (r − 1, c + 2) is never reached
    assert bool(field[pixel[0] - 1, pixel[1] + 1]) and bool(field[0, 0])


def test_a_type_b_first_layer_sees_the_pixel_itself():
    field = AR.receptive_field(masked_stack(2, 3, first="B"), (1, 1, 7, 7), (3, 3))
    assert bool(field[3, 3])


def test_classify_field_categories():
    field = AR.receptive_field(masked_stack(2, 3), (1, 1, 7, 7), (3, 3))
    codes = VA.classify_field(field, (3, 3), reach=2)
    assert codes[3, 3] == VA.SELF and codes[2, 3] == VA.SEEN and codes[6, 6] == VA.LATER
    assert codes[2, 6] == VA.FAR                                  # earlier, 3 columns away: out of reach of 2 layers
    assert codes[2, 5] == VA.BLIND                                # earlier, within reach, never seen
    with pytest.raises(ValueError, match="index"):
        VA.classify_field(field, (9, 0), 2)


def test_explorer_reacts_to_every_control():
    ex = ReceptiveFieldExplorer(size=9, layers=2, pixel=(4, 4), lang="zh")
    before = ex.image.value
    assert before[:4] == b"\x89PNG" and "盲点" in ex.caption.value
    seen = ex.counts["seen"]
    ex.layers.value = 5
    assert ex.image.value != before and ex.counts["seen"] > seen and ex.counts["blind"] > 0
    ex.first.value = "B"
    assert ex.counts["leak"] and "作弊" in ex.caption.value
    for control, value in ((ex.kernel, 5), (ex.row, 2), (ex.col, 7)):
        png = ex.image.value
        control.value = value
        assert ex.image.value != png
    bundle = ex._repr_mimebundle_()
    assert "image/png" in bundle


@pytest.mark.parametrize("kwargs", [dict(size=2), dict(layers=0), dict(kernel_size=4), dict(pixel=(11, 0)),
                                    dict(first="C"), dict(lang="fr")])
def test_explorer_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        ReceptiveFieldExplorer(**kwargs)


def test_sampling_callback_records_raster_order_and_the_player_replays_it():
    torch.manual_seed(0)
    model = AR.PixelCNN(hidden=8, n_blocks=1, image_size=4)
    frames, probs, order = [], [], []

    def record(r, c, x, p):
        order.append((r, c))
        frames.append(x.clone())
        probs.append(p.clone())

    out = model.sample(3, generator=torch.Generator().manual_seed(0), callback=record)
    again = model.sample(3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, again), "the callback does not change the samples"
    assert order == [(r, c) for r in range(4) for c in range(4)]
    assert torch.equal(frames[-1], out) and torch.allclose(torch.stack(probs).sum(-1), torch.ones(16, 3))
    player = SamplingPlayer(torch.stack(frames), torch.stack(probs), lang="en")
    last = player.image.value
    assert (player.slider.min, player.slider.max, player.slider.value) == (1, 16, 16)  # steps 1..D (4×4) as the title
    player.slider.value = 3                                   # step 3 draws pixel i = 3, (r, c) = (0, 2)
    assert player.image.value != last and "(0, 2)" in player.caption.value and "i = 3" in player.caption.value
    assert "停止" in SamplingPlayer(torch.stack(frames), torch.stack(probs), lang="zh").play.tooltip
    assert player._static_png()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="frames"):
        SamplingPlayer(torch.stack(frames)[:5], torch.stack(probs)[:5])


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_plots_in_both_languages(lang):
    VA.plot_raster_order(8, (3, 4), lang=lang, managed=False)
    VA.plot_masks({"A": AR.causal_mask(5, "A"), "B": AR.causal_mask(5, "B")}, lang=lang, managed=False)
    field = AR.receptive_field(masked_stack(3), (1, 1, 8, 8), (4, 4))
    VA.plot_receptive_fields([field, field], (4, 4), [3, 3], ["a", "b"], lang=lang, managed=False)
    VA.plot_timings(["PixelRNN", "PixelCNN"], [10.0, 5.0], [100.0, 200.0], lang=lang, managed=False)
    for key, both in VA._LABELS.items():
        assert set(both) == {"zh", "en"}, key
    with pytest.raises(ValueError):
        VA.plot_raster_order(8, (9, 9), lang=lang)

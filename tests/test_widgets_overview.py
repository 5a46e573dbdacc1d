"""Unit 01's density explorer and plots: every control changes the picture and the numbers, held-out −∞ for a fine
maximum-likelihood histogram, bad arguments raise ValueError; the plots work in both languages."""

from __future__ import annotations

import math

import pytest
import torch

from coursekit import data
from coursekit import density as DN
from coursekit.viz import overview as VO
from coursekit.widgets import DensityExplorer


def test_explorer_fits_and_every_control_changes_the_picture():
    ex = DensityExplorer(dataset="ring8", model="gmm", capacity=8, n_train=300, lang="zh")
    assert ex.image.value[:4] == b"\x89PNG" and "留出集" in ex.caption.value
    assert math.isfinite(ex.test_ll) and ex.test_ll < ex.train_ll + 0.5
    caps, train_ll, test_ll = ex.curve()
    assert train_ll[-1] > train_ll[0]                             # more capacity: a better training fit
    assert max(test_ll) > test_ll[-1]                             # … but the held-out curve turns down
    assert ex.smooth.disabled                                     # smoothing belongs to the histogram
    for control, value in ((ex.capacity, 2), (ex.n_train, 1000), (ex.dataset, "moons"), (ex.model, "histogram"),
                           (ex.smooth, True)):
        before = ex.image.value
        control.value = value
        assert ex.image.value != before, control.description
    assert ex.capacity.max == 64 and not ex.smooth.disabled
    ex.smooth.value = False
    ex.capacity.value = 60
    assert ex.test_ll == -math.inf and "−∞" in ex.caption.value  # a fine ML histogram: empty cells held out
    assert "image/png" in ex._repr_mimebundle_()


@pytest.mark.parametrize("kwargs", [dict(dataset="spiral"), dict(model="flow"), dict(capacity=0),
                                    dict(capacity=40), dict(n_train=10), dict(lang="de")])
def test_explorer_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        DensityExplorer(**kwargs)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_plots_in_both_languages(lang):
    x = data.sample_2d("ring8", 300, seed=0, std=0.25)
    model, _ = DN.fit_gmm(x, 4, iters=20)
    VO.plot_fit(model, x, x, model.sample(100, generator=0), lang=lang, managed=False)
    VO.plot_fit(DN.fit_histogram(x, 30), x, x, x, lang=lang, managed=False)       # −∞ cells draw fine
    for key, both in VO._LABELS.items():
        assert set(both) == {"zh", "en"}, key

    class Row:                                                   # what plot_families reads of a compare.Row
        model, samples, nll_bpd, nll_kind, bound_bpd = "PixelCNN (x)", torch.zeros(20, 1, 8, 8), 1.9, "exact", None
        fd_ratio, accuracy, sample_cpu_ms_per_image, conditional, near_copy_rate = 3.0, 0.9, 12.0, True, 0.05

    VO.plot_families([Row()], reference=torch.zeros(20, 1, 8, 8), lang=lang, managed=False)


def _best(curve: tuple) -> tuple[int, float]:
    caps, _, test_ll = curve
    i = max(range(len(caps)), key=lambda j: test_ll[j])
    return caps[i], test_ll[i]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_what_the_notebook_says_to_try_holds_on_three_seeds(seed):
    """Unit 01 §3's three "try" statements, on the explorer itself (seeds 0–2, as the text says)."""
    ex = DensityExplorer(dataset="ring8", model="histogram", capacity=8, n_train=500, lang="en", seed=seed)
    caps, _, raw = ex.curve()
    assert all((v == -math.inf) == (c >= 8) for c, v in zip(caps, raw))      # (1) −∞ from 8 cells per axis on
    ex.smooth.value = True
    best_cells, _ = _best(ex.curve())
    smooth = ex.curve()[2]
    assert 16 <= best_cells <= 32 and smooth[-1] < max(smooth) and smooth[0] < max(smooth)   # rises, then falls

    ex.smooth.value = False
    ex.model.value = "gmm"
    held_out_at_32 = {}
    for n in (500, 100):
        ex.n_train.value = n
        held_out_at_32[n] = ex.curve()[2][-1]
    assert held_out_at_32[100] < held_out_at_32[500] - 2                     # (2) 100 points: a steep fall past K*

    ex.dataset.value = "checkerboard"
    for n, histogram_wins in ((500, False), (4000, True)):                   # (3) the histogram wins with more data
        ex.n_train.value = n
        ex.model.value = "gmm"
        _, gmm_best = _best(ex.curve())
        ex.model.value = "histogram"
        ex.smooth.value = True
        _, hist_best = _best(ex.curve())
        ex.smooth.value = False
        assert (hist_best > gmm_best) == histogram_wins, (n, hist_best, gmm_best)


def test_data_choices_and_tooltips_speak_the_edition():
    zh = DensityExplorer(lang="zh")
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in label) for label, _ in zh.dataset.options)
    for control in (zh.dataset, zh.model, zh.capacity, zh.n_train, zh.smooth):
        assert any("\u4e00" <= ch <= "\u9fff" for ch in control.tooltip), control.description
    en = DensityExplorer(lang="en")
    assert [v for _, v in en.dataset.options] == ["ring8", "moons", "swissroll", "checkerboard", "grid25"]

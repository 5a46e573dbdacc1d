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
        fd_ratio, accuracy, sample_cpu_ms_per_image, conditional = 3.0, 0.9, 12.0, True

    VO.plot_families([Row()], reference=torch.zeros(20, 1, 8, 8), lang=lang, managed=False)

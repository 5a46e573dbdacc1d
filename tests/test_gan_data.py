"""Translation data made from the digits: morphology against a naive oracle, held-out pairs, unpaired domains."""

from __future__ import annotations

import pytest
import torch

from coursekit.gan import dilate, edges, erode, make_pairs, make_unpaired


def _naive_dilate(x: torch.Tensor, r: int) -> torch.Tensor:
    """max over the (2r+1)² neighbourhood inside the image, pixel by pixel."""
    out = torch.empty_like(x)
    h, w = x.shape[-2:]
    for i in range(h):
        for j in range(w):
            patch = x[..., max(0, i - r):i + r + 1, max(0, j - r):j + r + 1]
            out[..., i, j] = patch.amax(dim=(-2, -1))
    return out


@pytest.mark.parametrize("radius", [1, 2])
def test_morphology_matches_naive_loops(radius):
    x = torch.rand(2, 1, 9, 7, generator=torch.Generator().manual_seed(radius)) * 2 - 1
    assert torch.equal(dilate(x, radius), _naive_dilate(x, radius))
    assert torch.equal(erode(x, radius), -_naive_dilate(-x, radius))               # ε(x) = −δ(−x)
    assert torch.equal(edges(x, radius), _naive_dilate(x, radius) + _naive_dilate(-x, radius) - 1)
    assert bool((erode(x, radius) <= x).all() and (x <= dilate(x, radius)).all())


@pytest.mark.parametrize("task", ["edges2digits", "thin2thick", "thick2thin", "inpaint"])
def test_pairs_are_held_out_and_not_identity(task):
    x, y, labels = make_pairs(task, "train", 16)
    xt, yt, lt = make_pairs(task, "test", 16)
    assert x.shape == y.shape == (1437, 1, 16, 16) and xt.shape == (360, 1, 16, 16)
    assert labels.shape == (1437,) and lt.shape == (360,)
    assert x.min() >= -1 and x.max() <= 1 and y.min() >= -1 and y.max() <= 1
    assert (x - y).abs().mean() > 0.05                                             # a real mapping
    if task == "thin2thick":
        assert bool((x <= y).all())                                                # ε(d) ≤ δ(d)


def test_unpaired_domains_share_no_image():
    x, y, lx, ly = make_unpaired("thin2thick", "train", 16, seed=3)
    px, py, _ = make_pairs("thin2thick", "train", 16)
    assert len(x) + len(y) == len(px)
    # X's counterparts in the paired set are not in Y: match every x to its row of the paired set
    row_of = {px[i].numpy().tobytes(): i for i in range(len(px))}
    rows_x = {row_of[v.numpy().tobytes()] for v in x}
    rows_y = {i for i in range(len(py)) if any(torch.equal(py[i], v) for v in y[:50])}
    assert rows_x.isdisjoint(rows_y) and len(rows_y) >= 50 - 5                     # (a few digits repeat)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="task"):
        make_pairs("colorize")
    with pytest.raises(ValueError, match="size"):
        make_pairs("inpaint", size=24)
    with pytest.raises(ValueError, match="radius"):
        dilate(torch.zeros(1, 1, 4, 4), -1)
    with pytest.raises(ValueError, match="x"):
        dilate(torch.zeros(4, 4))

"""The spread-of-outputs measure of the colouring task (coursekit.gan.colouring.colour_spread), against entropies
computed by hand from the known colours of each example."""

import math
from collections import Counter

import pytest
import torch

from coursekit.gan import colouring as C


def entropy_by_hand(items) -> float:
    counts = Counter(items)
    n = sum(counts.values())
    return -sum(c / n * math.log2(c / n) for c in counts.values())


@pytest.fixture(scope="module")
def task():
    return C.make_colouring("test", size=16)


def test_targets_spread_is_the_entropy_of_their_drawn_colours(task):
    x, y, labels, colour = task
    assert C.colour_spread(y) == pytest.approx(entropy_by_hand(colour.tolist()), abs=1e-6)
    assert 1.55 < C.colour_spread(y) <= math.log2(3) + 1e-9        # three colours, about a third each
    assert torch.allclose(C.colour_shares(y)[:3], torch.bincount(colour, minlength=3).float() / len(y))
    assert float(C.colour_shares(y)[3]) == 0.0                    # no target is white
    # the colour is drawn independently of the digit: the spread within each digit is still about log₂ 3
    by_hand = sum((labels == d).float().mean().item() * entropy_by_hand(colour[labels == d].tolist())
                  for d in range(10))
    assert C.colour_spread(y, groups=labels) == pytest.approx(by_hand, abs=1e-6)
    assert C.colour_spread(y, groups=labels) > 1.4


def test_one_colour_for_all_has_no_spread(task):
    x, y, labels, _ = task
    mask = C.stroke_mask(y)
    for colour in (C.WHITE, C.PALETTE[0]):             # L1's white median, or always yellow
        same = C.paint(x, colour.expand(len(x), 3))
        assert C.colour_spread(same, mask) == 0.0
        assert C.colour_spread(same, mask, groups=labels) == 0.0
    assert torch.equal(C.colour_shares(C.paint(x, C.WHITE.expand(len(x), 3)), mask), torch.tensor([0, 0, 0, 1.0]))


def test_a_colour_per_digit_spreads_overall_but_not_within_a_digit(task):
    x, y, labels, _ = task
    per_digit = C.paint(x, C.PALETTE[labels % 3])             # digit d always gets colour d mod 3
    overall = C.colour_spread(per_digit)
    assert overall == pytest.approx(entropy_by_hand((labels % 3).tolist()), abs=1e-6) and overall > 1.5
    assert C.colour_spread(per_digit, groups=labels) == 0.0


def test_equal_thirds_give_log2_3_and_bad_groups_are_refused():
    grey = torch.ones(6, 1, 4, 4)
    images = C.paint(grey, C.PALETTE[torch.tensor([0, 1, 2, 0, 1, 2])])
    assert C.colour_spread(images) == pytest.approx(math.log2(3), abs=1e-6)
    halves = C.paint(grey, torch.cat([C.PALETTE[:1].expand(3, 3), C.WHITE.expand(3, 3)]))
    assert C.colour_spread(halves) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="groups"):
        C.colour_spread(images, groups=torch.zeros(5))

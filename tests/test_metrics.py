"""The metric classifier is one fixed artefact: shipped weights, checksum-verified, the same references
everywhere; FD is read against unseen digits, at the sample size of its reference, beside KID and near copies.

Every FD / reference figure of the course (README, docs, notebooks, benches) is measured in its feature space,
so a test pins FD(whole train split, test split) and the classifier's test accuracy, computed in fresh processes
with one and with two torch threads (the classifier the package used to train on first use gave 7.11 with one
thread and 6.17 with two).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from coursekit import metrics
from coursekit.data import load_digits, sample_2d

PINNED_FLOOR = 5.4863
PINNED_ACCURACY = 355 / 360

_PROBE = """
import json, sys, torch
torch.set_num_threads(int(sys.argv[1]))
from coursekit import metrics
from coursekit.data import load_digits
x, y = load_digits("test")
print(json.dumps({"threads": torch.get_num_threads(), "floor": metrics.frechet_reference(1437),
                  "accuracy": metrics.class_accuracy(x, y)[0]}))
"""


def test_shipped_weights_match_their_checksum():
    data = metrics.CLASSIFIER_FILE.read_bytes()
    assert hashlib.sha256(data).hexdigest() == metrics.CLASSIFIER_SHA256
    assert len(data) < 200_000                                   # small enough to ship in the package


@pytest.mark.parametrize("threads", [1, 2])
def test_floor_and_accuracy_are_pinned_whatever_the_thread_count(threads, repo):
    out = subprocess.run([sys.executable, "-c", _PROBE, str(threads)], capture_output=True, text=True, cwd=repo,
                         timeout=120, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["threads"] == threads
    assert got["floor"] == pytest.approx(PINNED_FLOOR, abs=1e-3)
    assert got["accuracy"] == pytest.approx(PINNED_ACCURACY, abs=1e-6)


def test_module_constants_state_the_pinned_values():
    assert metrics.FULL_REFERENCE == pytest.approx(PINNED_FLOOR, abs=1e-4)
    assert metrics.TEST_ACCURACY == pytest.approx(PINNED_ACCURACY)
    assert metrics.frechet_reference(1437) == pytest.approx(PINNED_FLOOR, abs=1e-3)


def test_a_changed_or_missing_weights_file_is_refused(tmp_path):
    data = bytearray(metrics.CLASSIFIER_FILE.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad = tmp_path / "digits_classifier.pt"
    bad.write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match="SHA-256"):
        metrics.load_classifier(bad)
    with pytest.raises(RuntimeError, match="missing"):
        metrics.load_classifier(tmp_path / "absent.pt")


@pytest.mark.slow
def test_the_script_that_made_the_weights_runs(tmp_path, repo):
    out = tmp_path / "clf.pt"
    run = subprocess.run([sys.executable, str(repo / "scripts" / "make_metric_classifier.py"), "--epochs", "1",
                          "--out", str(out)], capture_output=True, text=True, cwd=repo, timeout=120, check=True)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert digest in run.stdout
    model = metrics.load_classifier(out, sha256=digest)
    x, y = load_digits("test")
    assert float((model(x).argmax(1) == y).float().mean()) > 0.5          # one epoch already learns something


def test_fd_separates_real_from_damaged_digits():
    test, labels = load_digits("test")
    assert metrics.frechet_distance(test) == pytest.approx(0.0, abs=1e-3)      # the reference against itself
    train = load_digits("train")[0]
    blurred = F.avg_pool2d(train, 3, stride=1, padding=1)
    assert metrics.frechet_distance(blurred) > 20 * metrics.frechet_reference(len(blurred))
    report = metrics.digit_report(test, labels)
    assert report["fd_ratio"] == pytest.approx(0.0, abs=1e-6) and report["n"] == 360
    assert report["accuracy"] == pytest.approx(PINNED_ACCURACY)


def _random_train(n: int, seed: int) -> torch.Tensor:
    train = load_digits("train")[0]
    return train[torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:n]]


@pytest.mark.parametrize("n", [100, 500])
def test_real_digits_score_about_one_at_any_sample_size(n):
    """FD / reference is about 1 for real digits at the reference's own n, although FD itself is 4× larger at
    n = 100 than at n = 500: the reference carries the sample-size bias."""
    ratios = [metrics.digit_report(_random_train(n, seed))["fd_ratio"] for seed in range(5)]
    assert 0.6 < sorted(ratios)[2] < 1.5, ratios
    assert metrics.frechet_reference(100) > 3 * metrics.frechet_reference(500) > 3 * metrics.FULL_REFERENCE


def test_the_reference_is_the_median_of_fixed_real_subsets():
    test = metrics._split_features("test")
    values = [metrics.frechet_distance_from_features(a, test) for a in metrics._reference_subsets(200)]
    assert len(values) == metrics.REFERENCE_SUBSETS
    assert metrics.frechet_reference(200) == pytest.approx(sorted(values)[4] / 2 + sorted(values)[5] / 2)
    with pytest.raises(ValueError, match="n must be between"):
        metrics.frechet_reference(5000)


def test_memorisation_lowers_no_fd_ratio_below_real_data_and_shows_beside_it():
    """A model that replays its training digits scores like real data (about 1), never better, and the report
    says 100 % near copies beside it (against the train split it would have scored ≈ 40 % lower)."""
    copies = metrics.digit_report(_random_train(500, 7))
    assert copies["fd_ratio"] > 0.6 and copies["near_copy_rate"] == 1.0
    assert metrics.frechet_distance(_random_train(500, 7), load_digits("train")[0]) < 0.7 * copies["fd"]


def test_kid_against_a_by_hand_oracle_and_without_bias_in_n():
    """The unbiased MMD² with the cubic kernel, computed by loops on fresh random features, and its sample-size
    behaviour on real digits: KID of n = 100 and n = 1000 real digits agree within their noise, FD does not."""
    import numpy as np

    rng = np.random.default_rng(int(torch.randint(0, 2**31, ()).item()))
    a, b = rng.normal(size=(7, 5)) * 4, rng.normal(size=(9, 5)) * 4 + 1
    k = lambda x, y: ((x / metrics.KID_FEATURE_SCALE) @ (y / metrics.KID_FEATURE_SCALE) / 5 + 1) ** 3  # noqa: E731
    aa = sum(k(a[i], a[j]) for i in range(7) for j in range(7) if i != j) / (7 * 6)
    bb = sum(k(b[i], b[j]) for i in range(9) for j in range(9) if i != j) / (9 * 8)
    ab = sum(k(a[i], b[j]) for i in range(7) for j in range(9)) / (7 * 9)
    assert metrics.kernel_distance_from_features(a, b) == pytest.approx(1000 * (aa + bb - 2 * ab), rel=1e-9)
    small, large = metrics.kernel_reference(100), metrics.kernel_reference(1000)
    assert abs(small - large) < 40 and metrics.frechet_reference(100) > 5 * metrics.frechet_reference(1000)
    blurred = F.avg_pool2d(_random_train(500, 3), 3, stride=1, padding=1)
    assert metrics.kernel_distance(blurred) > 10 * abs(metrics.kernel_reference(500)) + 100


def test_bad_inputs_name_the_argument():
    x = load_digits("test")[0][:5]
    with pytest.raises(ValueError, match="labels"):
        metrics.class_accuracy(x, torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="images"):
        metrics.classify(torch.zeros(5, 8, 8))
    with pytest.raises(ValueError, match="name"):
        metrics.mode_coverage(torch.zeros(5, 2), "moons")


def test_two_d_metrics_on_real_data():
    ring = sample_2d("ring8", 2000, seed=3)
    cover = metrics.mode_coverage(ring, "ring8")
    assert cover["modes"] == 8 and cover["high_quality"] > 95
    report = metrics.toy_report(ring, "ring8")
    assert report["swd"] < 3 * report["swd_floor"] + 0.02


def test_memorisation_report_tells_copies_from_unseen_digits():
    from coursekit.data import load_digits

    train, test = load_digits("train")[0], load_digits("test")[0]
    unseen = metrics.memorisation_report(test)               # the threshold is these digits' 5th percentile
    assert 0.04 <= unseen["near_copy_rate"] <= 0.06
    assert unseen["nn_median"] == unseen["nn_median_test"] > 1.0
    copies = metrics.memorisation_report(train[:200])         # a model that replays its training set
    assert copies["near_copy_rate"] == 1.0 and copies["nn_median"] == 0.0
    noisy = metrics.memorisation_report((train[:200] + 0.5 * torch.randn(200, 1, 8, 8)).clamp(-1, 1))
    assert noisy["near_copy_rate"] < 0.5                     # pixel noise of σ = 0.5 is no copy any more
    with pytest.raises(ValueError, match="images must be 8×8 digits"):
        metrics.memorisation_report(torch.zeros(3, 1, 4, 4))

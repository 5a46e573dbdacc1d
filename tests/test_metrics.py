"""The metric classifier is one fixed artefact: shipped weights, checksum-verified, the same floor everywhere.

Every FD / floor figure of the course (README, docs, notebooks, benches) is measured in its feature space, so a
test pins the floor FD(real test, real train) and the classifier's test accuracy, computed in fresh processes
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
print(json.dumps({"threads": torch.get_num_threads(), "floor": metrics.frechet_floor(),
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
    assert metrics.FLOOR == pytest.approx(PINNED_FLOOR, abs=1e-4)
    assert metrics.TEST_ACCURACY == pytest.approx(PINNED_ACCURACY)
    assert metrics.frechet_floor() == pytest.approx(PINNED_FLOOR, abs=1e-3)


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
    x = load_digits("train")[0]
    assert metrics.frechet_distance(x) == pytest.approx(0.0, abs=1e-3)     # the reference against itself
    floor = metrics.frechet_floor()
    blurred = F.avg_pool2d(x, 3, stride=1, padding=1)
    assert metrics.frechet_distance(blurred) > 20 * floor
    report = metrics.digit_report(load_digits("test")[0], load_digits("test")[1])
    assert report["fd_ratio"] == pytest.approx(1.0)
    assert report["accuracy"] == pytest.approx(PINNED_ACCURACY)


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

"""Offline data: scikit-learn's digits (fixed stratified split), the synthetic 2-D sets, and MNIST/Fashion-MNIST
read from a tiny IDX fixture this file writes itself (nothing downloads)."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
import torch

from coursekit import data

# ---------------------------------------------------------------------------------------------------------
# Digits
# ---------------------------------------------------------------------------------------------------------


def test_digits_shapes_dtypes_and_range():
    for split, n in [("train", 1437), ("test", 360), ("all", 1797)]:
        x, y = data.load_digits(split)
        assert x.shape == (n, 1, 8, 8) and x.dtype == torch.float32, split
        assert y.shape == (n,) and y.dtype == torch.long, split
        assert float(x.min()) == -1.0 and float(x.max()) == 1.0, split      # grey levels 0..16 → [-1, 1]
        assert set(y.tolist()) == set(range(10)), split
    # 17 grey levels, equally spaced
    levels = torch.unique(data.load_digits("all")[0])
    torch.testing.assert_close(levels, torch.linspace(-1, 1, 17))


def test_digits_are_sklearn_digits_rescaled():
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    x, y = data.load_digits("all")
    torch.testing.assert_close(x[:, 0], torch.from_numpy(bunch.images / 8.0 - 1.0).float())
    assert torch.equal(y, torch.from_numpy(bunch.target).long())
    train_idx, test_idx = data._split_indices(bunch.target)
    xt, yt = data.load_digits("test")
    assert torch.equal(xt, x[test_idx]) and torch.equal(yt, y[test_idx])


def test_digits_split_is_deterministic_disjoint_complete_and_stratified():
    labels = data.load_digits("all")[1].numpy()
    train_idx, test_idx = data._split_indices(labels)
    again = data._split_indices(labels)
    assert np.array_equal(train_idx, again[0]) and np.array_equal(test_idx, again[1])
    assert len(train_idx) == 1437 and len(test_idx) == 360
    assert len(np.intersect1d(train_idx, test_idx)) == 0
    assert np.array_equal(np.sort(np.concatenate([train_idx, test_idx])), np.arange(1797))
    for c in range(10):
        n_c = int((labels == c).sum())
        assert abs(int((labels[test_idx] == c).sum()) - 0.2 * n_c) < 1, c     # 20 % of every class
    a, b = data.load_digits("train"), data.load_digits("train")
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    # no test image sits in the train split (the digits set has no exact duplicates across the split)
    train, test = data.load_digits("train")[0].flatten(1), data.load_digits("test")[0].flatten(1)
    assert float(torch.cdist(test, train).min()) > 0


def test_digits_upsampling():
    x8, y8 = data.load_digits("test")
    x16, y16 = data.load_digits("test", size=16)
    x32, _ = data.load_digits("test", size=32)
    assert x16.shape == (360, 1, 16, 16) and x32.shape == (360, 1, 32, 32)
    assert torch.equal(y16, y8)
    assert float(x16.min()) >= -1.0 and float(x16.max()) <= 1.0
    assert float(x32.min()) >= -1.0 and float(x32.max()) <= 1.0
    # bilinear upsampling keeps the picture: averaging back down gives the 8×8 image up to smoothing
    down = torch.nn.functional.avg_pool2d(x16, 2)
    assert float(torch.corrcoef(torch.stack([down.flatten(), x8.flatten()]))[0, 1]) > 0.95
    assert float((down - x8).abs().mean()) < 0.2
    assert torch.equal(data.resize_images(x8, 8), x8)


def test_digits_device(device):
    x, y = data.load_digits("test", device=device)
    assert x.device.type == device.type and y.device.type == device.type


@pytest.mark.parametrize("kwargs,message", [(dict(split="val"), "split must be one of"),
                                            (dict(size=3), "size must be an int >= 4"),
                                            (dict(size=16.0), "size must be an int"),
                                            (dict(size="16"), "size must be an int")])
def test_digits_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.load_digits(**kwargs)


def test_to_unit_range():
    x = torch.tensor([-1.5, -1.0, 0.0, 1.0, 2.0])
    assert data.to_unit_range(x).tolist() == [0.0, 0.0, 0.5, 1.0, 1.0]


# ---------------------------------------------------------------------------------------------------------
# 2-D sets
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", data.TOY_2D)
def test_toy_sets_shapes_and_seeding(name):
    x = data.sample_2d(name, 500, seed=3)
    assert x.shape == (500, 2) and x.dtype == torch.float32
    assert bool(torch.isfinite(x).all())
    assert float(x.abs().max()) < 6.0                                        # roughly [-4, 4]²
    assert torch.equal(x, data.sample_2d(name, 500, seed=3))
    assert torch.equal(x, data.sample_2d(name, 500, seed=torch.Generator().manual_seed(3)))
    assert not torch.equal(x, data.sample_2d(name, 500, seed=4))
    xl, labels = data.sample_2d(name, 500, seed=3, with_labels=True)
    assert torch.equal(xl, x) and labels.shape == (500,) and labels.dtype == torch.long
    assert float(x.std(0).min()) > 0.5                                       # spread out, not collapsed


@pytest.mark.parametrize("name,n_modes,radius_or_step,sigma", [("ring8", 8, 2.0, 0.02), ("grid25", 25, 2.0, 0.05)])
def test_gaussian_mixtures_have_distinct_modes(name, n_modes, radius_or_step, sigma):
    centres, s = data.toy_modes(name)
    assert centres.shape == (n_modes, 2) and s == sigma
    gaps = torch.cdist(centres, centres) + 1e9 * torch.eye(n_modes)
    assert float(gaps.min()) > 1.0                                           # modes are far apart …
    x, labels = data.sample_2d(name, 8000, seed=0, with_labels=True)
    assert set(labels.tolist()) == set(range(n_modes))                       # … all used …
    counts = torch.bincount(labels, minlength=n_modes).float()
    assert float(counts.min()) > 0.7 * 8000 / n_modes                        # … about evenly
    dist = (x - centres[labels]).norm(dim=1)
    assert float(dist.max()) < 6 * sigma                                     # each point sits on its own mode
    assert torch.equal(torch.cdist(x, centres).argmin(1), labels)
    torch.testing.assert_close((x - centres[labels]).std(0), torch.full((2,), sigma), rtol=0.05, atol=0)
    if name == "ring8":
        torch.testing.assert_close(centres.norm(dim=1), torch.full((8,), 2.0))
        angles = torch.atan2(centres[:, 1], centres[:, 0]).remainder(2 * math.pi)
        torch.testing.assert_close(angles.sort().values, torch.arange(8) * (math.pi / 4), rtol=0, atol=1e-6)
    else:
        assert sorted(set(centres.flatten().tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    wide = data.sample_2d(name, 2000, seed=0, std=0.3)
    assert 0.25 < float((wide - centres[torch.cdist(wide, centres).argmin(1)]).std()) < 0.35


def test_moons_swissroll_checkerboard_geometry():
    assert data.toy_modes("moons") is None and data.toy_modes("swissroll") is None
    x, labels = data.sample_2d("moons", 4000, seed=1, with_labels=True)
    assert set(labels.tolist()) == {0, 1}
    assert float(x[labels == 0, 1].mean()) > float(x[labels == 1, 1].mean())   # upper and lower moon
    r = data.sample_2d("swissroll", 4000, seed=1, std=0.0).norm(dim=1)
    assert 1.5 * math.pi / 3.5 - 1e-4 <= float(r.min()) and float(r.max()) <= 4.5 * math.pi / 3.5 + 1e-4
    c = data.sample_2d("checkerboard", 4000, seed=1) / 2.0
    assert float(c.abs().max()) <= 2.0
    assert bool(((torch.floor(c[:, 0]) + torch.floor(c[:, 1])) % 2 == 0).all())   # only the "black" squares
    quadrants = torch.floor(c).long() + 2
    assert len({tuple(q) for q in quadrants.tolist()}) == 8                        # all 8 squares are used


@pytest.mark.parametrize("kwargs,message", [(dict(name="ring"), "name must be one of"),
                                            (dict(n=0), "n must be a positive int"),
                                            (dict(n=2.5), "n must be a positive int")])
def test_toy_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.sample_2d(**(dict(name="ring8", n=10) | kwargs))
    with pytest.raises(ValueError, match="name must be one of"):
        data.toy_modes("moon")


# ---------------------------------------------------------------------------------------------------------
# MNIST / Fashion-MNIST from a tiny IDX fixture (torchvision's raw layout; nothing downloads)
# ---------------------------------------------------------------------------------------------------------

def _write_idx(root, folder: str, split: str, images: np.ndarray, labels: np.ndarray) -> None:
    raw = root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    prefix = "train" if split == "train" else "t10k"
    n, rows, cols = images.shape
    (raw / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">iiii", 2051, n, rows, cols)
                                                      + images.astype(np.uint8).tobytes())
    (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">ii", 2049, n) + labels.astype(np.uint8).tobytes())


@pytest.fixture
def idx_root(tmp_path, monkeypatch):
    """Both MNIST and FashionMNIST raw folders with 6 train and 4 test images; downloading fails the test."""
    import torchvision.datasets.mnist as tv_mnist

    def no_download(*args, **kwargs):
        raise AssertionError("a test tried to download")

    monkeypatch.setattr(tv_mnist, "download_and_extract_archive", no_download)
    monkeypatch.setattr(tv_mnist, "download_url", no_download, raising=False)
    rng = np.random.default_rng(0)
    fixture = {}
    for folder in ("MNIST", "FashionMNIST"):
        for split, n in (("train", 6), ("test", 4)):
            images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
            images[0, 0, 0], images[0, 0, 1] = 0, 255
            labels = rng.integers(0, 10, size=n, dtype=np.uint8)
            _write_idx(tmp_path, folder, split, images, labels)
            fixture[folder, split] = images, labels
    return tmp_path, fixture


@pytest.mark.parametrize("fashion", [False, True])
@pytest.mark.parametrize("split", ["train", "test"])
def test_load_mnist_reads_idx_fixture(idx_root, fashion, split):
    root, fixture = idx_root
    images, labels = fixture["FashionMNIST" if fashion else "MNIST", split]
    x, y = data.load_mnist(root, split=split, fashion=fashion)
    assert x.shape == (len(images), 1, 28, 28) and x.dtype == torch.float32
    assert y.dtype == torch.long and y.tolist() == labels.tolist()
    torch.testing.assert_close(x[:, 0], torch.from_numpy(images / 255.0 * 2.0 - 1.0).float())
    assert float(x[0, 0, 0, 0]) == -1.0 and float(x[0, 0, 0, 1]) == 1.0
    x32, _ = data.load_mnist(root, split=split, fashion=fashion, size=32, limit=2)
    assert x32.shape == (2, 1, 32, 32) and float(x32.abs().max()) <= 1.0


def test_load_mnist_and_fashion_are_different_files(idx_root):
    root, _ = idx_root
    assert not torch.equal(data.load_mnist(root)[0], data.load_mnist(root, fashion=True)[0])


@pytest.mark.parametrize("fashion,name", [(False, "MNIST"), (True, "FashionMNIST")])
def test_load_mnist_missing_files_is_a_clear_error(tmp_path, fashion, name):
    with pytest.raises(FileNotFoundError, match=rf"{name} not found .*download=True.*{name}/raw"):
        data.load_mnist(tmp_path / "nothing-here", fashion=fashion)


def test_load_mnist_bad_split(tmp_path):
    with pytest.raises(ValueError, match="split must be one of 'train', 'test'"):
        data.load_mnist(tmp_path, split="all")

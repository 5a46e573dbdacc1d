"""Denoisers (time embedding, MLP, U-Net) and the shared training utilities (device, seeding, EMA, fit,
checkpoints)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from coursekit import diffusion as D
from coursekit import nets, train
from coursekit.data import sample_2d

# ---------------------------------------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------------------------------------


def test_sinusoidal_time_embedding_formula():
    emb = nets.SinusoidalTimeEmbedding(8)
    t = torch.tensor([1, 10, 1000])
    out = emb(t)
    assert out.shape == (3, 8)
    for i, ti in enumerate(t.tolist()):
        for k in range(4):
            w = 10000.0 ** (-k / 4)
            assert math.isclose(out[i, k], math.sin(ti * w), abs_tol=1e-4)
            assert math.isclose(out[i, 4 + k], math.cos(ti * w), abs_tol=1e-4)
    assert not torch.allclose(emb(torch.tensor([5])), emb(torch.tensor([6])))
    with pytest.raises(ValueError, match="dim must be even"):
        nets.SinusoidalTimeEmbedding(7)


@pytest.mark.parametrize("kwargs,shape", [(dict(), (3, 1, 8, 8)), (dict(channel_mults=(1, 2, 2)), (2, 1, 16, 16)),
                                          (dict(in_channels=3, base_channels=16), (2, 3, 8, 8)),
                                          (dict(channel_mults=(1,)), (2, 1, 5, 7))])
def test_unet_shapes(kwargs, shape, device):
    torch.manual_seed(0)
    model = nets.UNet(**kwargs).to(device)
    x = torch.randn(shape, device=device)
    t = torch.randint(1, 1001, (shape[0],), device=device)
    out = model(x, t)
    assert out.shape == x.shape and out.device.type == device.type and bool(torch.isfinite(out).all())
    assert model.config["kind"] == "unet"


@pytest.mark.parametrize("make,shape", [(lambda nc: nets.UNet(base_channels=8, num_classes=nc), (4, 1, 8, 8)),
                                        (lambda nc: nets.MLPDenoiser(dim=3, hidden=16, depth=2, num_classes=nc),
                                         (4, 3))])
def test_conditional_denoisers_and_the_null_label(make, shape):
    torch.manual_seed(0)
    model = make(10)
    with torch.no_grad():       # make the label embedding matter at init (the U-Net zero-inits nothing, but be sure)
        model.label_emb.table.weight.normal_(0, 1)
    x, t = torch.randn(shape), torch.tensor([1, 5, 50, 500])
    y = torch.tensor([0, 3, 9, 4])
    out = model(x, t, y)
    assert out.shape == x.shape
    null = torch.full((4,), -1)
    assert torch.equal(model(x, t, null), model(x, t))                   # y = None means the null label −1
    assert not torch.allclose(out, model(x, t, null))                    # the label changes the prediction
    assert not torch.allclose(model(x, t, torch.tensor([1, 3, 9, 4]))[0], out[0])
    torch.testing.assert_close(model(x, t, torch.tensor([1, 3, 9, 4]))[1:], out[1:])   # examples are independent
    with pytest.raises(ValueError, match=r"y must be in 0\.\.9 or -1"):
        model(x, t, torch.tensor([0, 3, 10, 4]))
    with pytest.raises(ValueError, match=r"y must be in 0\.\.9 or -1"):
        model(x, t, torch.tensor([0, 3, -2, 4]))
    with pytest.raises(ValueError, match="y must be integer labels"):
        model(x, t, y.float())
    with pytest.raises(ValueError, match=r"y must have shape \(4,\)"):
        model(x, t, y[:3])


def test_unconditional_denoisers_refuse_labels_and_bad_shapes():
    unet, mlp = nets.UNet(base_channels=8), nets.MLPDenoiser(dim=2, hidden=8, depth=1)
    t = torch.tensor([1, 2])
    cases = [
        (lambda: unet(torch.randn(2, 1, 8, 8), t, torch.tensor([0, 1])), "built without num_classes"),
        (lambda: mlp(torch.randn(2, 2), t, torch.tensor([0, 1])), "built without num_classes"),
        (lambda: unet(torch.randn(2, 8, 8), t), r"x must have shape \(batch, 1, H, W\)"),
        (lambda: unet(torch.randn(2, 3, 8, 8), t), r"x must have shape \(batch, 1, H, W\)"),
        (lambda: unet(torch.randn(2, 1, 7, 8), t), "divisible by 2"),
        (lambda: unet(torch.randn(2, 1, 8, 8), torch.tensor([1, 2, 3])), r"t must have shape \(2,\)"),
        (lambda: unet(torch.randn(2, 1, 8, 8), torch.tensor(1)), r"t must have shape \(2,\)"),
        (lambda: mlp(torch.randn(2, 3), t), r"x must have shape \(batch, 2\)"),
        (lambda: mlp(torch.randn(2), t), r"x must have shape \(batch, 2\)"),
        (lambda: mlp(torch.randn(2, 2), torch.tensor([[1], [2]])), r"t must have shape \(2,\)"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()


def test_build_rebuilds_from_config():
    for model in (nets.UNet(base_channels=8, channel_mults=(1, 2, 2), num_classes=3),
                  nets.MLPDenoiser(dim=4, hidden=24, depth=2, time_dim=16)):
        rebuilt = nets.build(model.config)
        assert type(rebuilt) is type(model) and rebuilt.config == model.config
        assert [p.shape for p in rebuilt.parameters()] == [p.shape for p in model.parameters()]
    with pytest.raises(ValueError, match="config\\['kind'\\] must be 'mlp' or 'unet'"):
        nets.build({"kind": "resnet"})


def test_default_unet_is_small():
    n = sum(p.numel() for p in nets.UNet().parameters())
    assert 0.1e6 < n < 1e6


# ---------------------------------------------------------------------------------------------------------
# Device, seeding, progress
# ---------------------------------------------------------------------------------------------------------

def test_get_device_honours_argument_and_environment(monkeypatch):
    monkeypatch.delenv("COURSEKIT_DEVICE", raising=False)
    assert train.get_device() == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    monkeypatch.setenv("COURSEKIT_DEVICE", "cpu")
    assert train.get_device() == torch.device("cpu")
    assert train.get_device("meta") == torch.device("meta")              # an explicit device wins
    monkeypatch.setenv("COURSEKIT_DEVICE", "meta")
    assert train.get_device() == torch.device("meta")


def test_progress_enabled(monkeypatch):
    monkeypatch.setenv("COURSEKIT_PROGRESS", "0")
    assert train.progress_enabled(None) is False and train.progress_enabled(True) is True
    monkeypatch.setenv("COURSEKIT_PROGRESS", "1")
    assert train.progress_enabled(None) is True and train.progress_enabled(False) is False


def test_seed_everything_reproduces_every_generator():
    def draw(g):
        return random.random(), float(np.random.rand()), float(torch.rand(1)), float(torch.rand(1, generator=g))

    a = draw(train.seed_everything(123))
    b = draw(train.seed_everything(123))
    c = draw(train.seed_everything(124))
    assert a == b
    assert all(x != y for x, y in zip(a, c))


# ---------------------------------------------------------------------------------------------------------
# EMA
# ---------------------------------------------------------------------------------------------------------

def test_ema_math_on_a_tiny_model():
    model = nn.Sequential(nn.Linear(1, 1, bias=False), nn.BatchNorm1d(1))
    with torch.no_grad():
        model[0].weight.fill_(1.0)
    ema = train.EMA(model, decay=0.5)
    assert ema.model is not model and not ema.model.training
    assert all(not p.requires_grad for p in ema.model.parameters())
    expected = 1.0
    for n, w in enumerate([3.0, -1.0, 2.0, 2.0, 10.0], start=1):
        with torch.no_grad():
            model[0].weight.fill_(w)
            model[1].running_mean.fill_(w)
        ema.update(model)
        d = min(0.5, (1 + n) / (10 + n))            # warm-up: d = (1 + n)/(10 + n) until it reaches the decay
        expected = d * expected + (1 - d) * w        # θ_ema ← d θ_ema + (1 − d) θ
        assert math.isclose(float(ema.model[0].weight), expected, rel_tol=1e-6), n
        assert float(ema.model[1].running_mean) == w  # buffers are copied, not averaged
    assert float(model[0].weight.detach()) == 10.0    # the live model is untouched
    ema0 = train.EMA(model, decay=0.0)
    with torch.no_grad():
        model[0].weight.fill_(-4.0)
    ema0.update(model)
    assert float(ema0.model[0].weight) == -4.0        # d = 0: a plain copy
    for decay in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="decay must be in"):
            train.EMA(model, decay)


def test_ema_long_run_approaches_decay():
    model = nn.Linear(1, 1, bias=False)
    ema = train.EMA(model, decay=0.9)
    with torch.no_grad():
        model.weight.fill_(5.0)
    for _ in range(200):
        ema.update(model)
    assert math.isclose(float(ema.model.weight), 5.0, rel_tol=1e-6)


# ---------------------------------------------------------------------------------------------------------
# batches and fit
# ---------------------------------------------------------------------------------------------------------

def test_batches_cover_every_example_each_epoch():
    x, y = torch.arange(10).float(), torch.arange(10) * 2
    stream = train.batches(x, y, batch_size=5, generator=torch.Generator().manual_seed(0))
    seen = []
    for _ in range(2):
        xb, yb = next(stream)
        assert xb.shape == (5,) and torch.equal(yb, xb.long() * 2)
        seen += xb.tolist()
    assert sorted(seen) == list(range(10))
    assert next(train.batches(x, batch_size=100))[0].shape == (10,)   # batch_size capped at the data size
    with pytest.raises(ValueError, match="same first dimension"):
        next(train.batches(x, y[:5], batch_size=2))


def _regression_data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 1, generator=g)
    return x, 3.0 * x + 1.0


def _mse(model, x, y):
    return F.mse_loss(model(x), y)


def test_fit_decreases_the_loss_on_a_trivial_problem():
    torch.manual_seed(0)
    model = nn.Linear(1, 1)
    calls = []
    result = train.fit(model, _mse, _regression_data(), steps=150, batch_size=32, lr=0.05, warmup=5, ema_decay=0.9,
                       device="cpu", progress=False, callback=lambda step, loss, m: calls.append((step, m)),
                       callback_every=50)
    assert result.steps == 150 and len(result.losses) == 150 and result.seconds > 0
    assert np.mean(result.losses[-10:]) < 0.01 * np.mean(result.losses[:10])
    assert result.raw_model is model and result.model is not model        # the EMA copy is returned
    assert [s for s, _ in calls] == [50, 100, 150] and calls[-1][1] is result.model
    for m in (result.model, result.raw_model):
        torch.testing.assert_close(m.weight.detach(), torch.tensor([[3.0]]), rtol=0, atol=0.05)
        torch.testing.assert_close(m.bias.detach(), torch.tensor([1.0]), rtol=0, atol=0.05)
    assert not result.model.training and not model.training


def test_fit_trains_a_ddpm_on_ring8():
    s = D.make_schedule("linear", T=50, beta_end=0.4)
    torch.manual_seed(0)
    model = nets.MLPDenoiser(hidden=64, depth=2)
    data = sample_2d("ring8", 2048, seed=0)
    result = train.fit(model, lambda m, x0: D.ddpm_loss(m, s, x0), data, steps=150, batch_size=256, lr=3e-3,
                       ema_decay=None, progress=False, device="cpu")
    assert result.model is model
    assert np.mean(result.losses[-20:]) < 0.8 * np.mean(result.losses[:5])


def test_fit_is_reproducible_with_a_seed():
    def run(seed):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1))
        res = train.fit(model, _mse, _regression_data(), steps=20, batch_size=16, seed=seed, progress=False,
                        device="cpu")
        return res.losses, [p.detach().clone() for p in res.model.parameters()]

    (la, pa), (lb, pb), (lc, _) = run(1), run(1), run(2)
    assert la == lb and all(torch.equal(a, b) for a, b in zip(pa, pb))
    assert la != lc


def test_fit_stops_on_seconds():
    result = train.fit(nn.Linear(1, 1), _mse, _regression_data(), steps=None, seconds=0.3, progress=False,
                       device="cpu")
    assert result.steps >= 1 and 0.3 <= result.seconds < 10


@pytest.mark.parametrize("kwargs,message", [(dict(steps=None, seconds=None), "give steps, seconds or both"),
                                            (dict(steps=0), "steps must be a positive int"),
                                            (dict(steps=-5), "steps must be a positive int"),
                                            (dict(steps=2.5), "steps must be a positive int"),
                                            (dict(steps=None, seconds=0), "seconds must be a positive number"),
                                            (dict(steps=10, seconds=-1.0), "seconds must be a positive number"),
                                            (dict(lr_schedule="step"), "lr_schedule must be 'cosine' or 'constant'")])
def test_fit_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        train.fit(nn.Linear(1, 1), _mse, _regression_data(), progress=False, device="cpu", **kwargs)


# ---------------------------------------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [lambda: nets.UNet(base_channels=8, channel_mults=(1, 2), num_classes=10),
                                  lambda: nets.MLPDenoiser(dim=2, hidden=32, depth=2, num_classes=8)])
def test_checkpoint_round_trip_gives_identical_outputs(tmp_path, make):
    torch.manual_seed(0)
    model = make().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))             # not the init a fresh build would give
    extra = {"schedule": "linear", "T": 1000, "steps": 123, "labels": [1, 2]}
    path = train.save_checkpoint(tmp_path / "sub" / "model.pt", model, **extra)
    assert path.exists()
    loaded, loaded_extra = train.load_checkpoint(path, device="cpu")
    assert loaded_extra == extra and type(loaded) is type(model) and not loaded.training
    assert loaded.config == model.config
    shape = (3, 1, 8, 8) if isinstance(model, nets.UNet) else (3, 2)
    x, t, y = torch.randn(shape), torch.tensor([1, 500, 1000]), torch.tensor([0, -1, 7])
    with torch.no_grad():
        assert torch.equal(loaded(x, t, y), model(x, t, y))
    fresh = make()
    with torch.no_grad():
        assert not torch.equal(fresh(x, t, y), model(x, t, y))


def test_checkpoint_needs_a_config(tmp_path):
    with pytest.raises(ValueError, match="model has no .config"):
        train.save_checkpoint(tmp_path / "m.pt", nn.Linear(1, 1))

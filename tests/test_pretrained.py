"""The diffusion models shipped with the package (coursekit.diffusion.pretrained): notebook 04b loads the four digits
models (unit 07 samples the ε-model unchanged), notebook 04a Algorithm 1.2's ring model. Each file is SHA-256 checked,
rebuilds the network its record names, samples what it should, and was trained with the settings ``train_pretrained``
uses (so the script can remake it)."""

from __future__ import annotations

import hashlib

import pytest
import torch

from coursekit import diffusion as D
from coursekit import metrics

NAMES = list(D.PRETRAINED)


def test_the_four_models_and_their_settings():
    assert NAMES == ["digits-eps", "digits-vlb", "digits-x0", "digits-cond", "ring8-x_prev"]
    eps, vlb, x0, cond, ring = (D.PRETRAINED[n] for n in NAMES)
    # Table 2 and exercise 4 compare like with like: the same network and steps, only the loss differs
    assert eps.hidden == vlb.hidden == x0.hidden and eps.steps == vlb.steps == x0.steps == cond.steps
    assert eps.loss == {} and vlb.loss == {"weighting": "vlb", "t_sampling": "importance"} and x0.prediction == "x0"
    assert cond.num_classes == 10 and cond.loss["p_uncond"] == 0.1
    # 04a: Algorithm 1.2 with notebook 04a's FIT (batch 256, EMA 0.995, clipping 1) and its STEPS = 3000
    assert ring.data == "ring8" and ring.prediction == "x_prev" and ring.steps == 3000
    assert (ring.fit["batch_size"], ring.fit["ema_decay"], ring.fit["grad_clip"]) == (256, 0.995, 1.0)
    s = D.digits_schedule()
    assert s.T == 250 and float(s.betas[0]) == pytest.approx(4e-4) and float(s.betas[-1]) == pytest.approx(0.08)


@pytest.mark.parametrize("name", NAMES)
def test_each_shipped_file_matches_its_checksum_and_record(name):
    spec = D.PRETRAINED[name]
    data = spec.file.read_bytes()
    assert hashlib.sha256(data).hexdigest() == spec.sha256, f"{spec.file.name}: rerun scripts/make_ddpm_digits.py"
    assert len(data) < 400 * 1024                                      # a few hundred KB at most
    model, s = D.pretrained(name, device="cpu")
    info = D.pretrained_info(name)
    assert not model.training and s.T == 250
    assert model.config["hidden"] == spec.hidden and model.config["num_classes"] == spec.num_classes
    assert info["name"] == name and info["steps"] == spec.steps and info["seed"] == 0
    assert info["loss"] == spec.loss and info["prediction"] == spec.prediction
    assert len(info["loss_curve"]) == spec.steps // info["loss_every"]
    x = torch.randn((5, 2) if spec.data == "ring8" else (5, 1, 8, 8), generator=torch.Generator().manual_seed(1))
    t = torch.tensor([1, 60, 125, 200, 250])
    y = torch.arange(5) if spec.num_classes else None
    out = model(x, t) if y is None else model(x, t, y)
    assert out.shape == x.shape and torch.isfinite(out).all()


@pytest.mark.parametrize("name", ["digits-eps", "digits-cond"])
def test_the_shipped_models_draw_recognisable_digits(name):
    model, s = D.pretrained(name, device="cpu")
    y = torch.arange(50) % 10 if name == "digits-cond" else None
    x = D.sample(model, s, (50, 1, 8, 8), generator=torch.Generator().manual_seed(3), y=y,
                 guidance_scale=2.0 if y is not None else 1.0)
    _, confidence = metrics.classify(x)
    assert float(confidence.mean()) > 0.8                              # noise or a broken file scores ~0.3
    if y is not None:
        accuracy, _ = metrics.class_accuracy(x, y)
        assert accuracy > 0.9                                          # guided at w = 2: the asked digit


def test_the_shipped_algorithm_1_2_model_draws_near_the_ring():
    model, s = D.pretrained("ring8-x_prev", device="cpu")
    x = D.sample(model, s, (1000, 2), generator=torch.Generator().manual_seed(4), prediction="x_prev")
    radius = x.norm(dim=1)
    assert 1.7 < float(radius.median()) < 2.3                          # the ring has radius 2 (noise: about 1.4)
    assert float(x.mean(0).norm()) < 0.3


def test_a_damaged_or_foreign_file_is_refused(tmp_path):
    spec = D.PRETRAINED["digits-eps"]
    damaged = tmp_path / "damaged.pt"
    data = bytearray(spec.file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="damaged.pt.*SHA-256"):
        D.load_pretrained(damaged, sha256=spec.sha256)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(ValueError, match="not a digits diffusion model"):
        D.load_pretrained(foreign)
    with pytest.raises(ValueError, match="not a file"):
        D.load_pretrained(tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="name must be one of"):
        D.pretrained("digits-unet")


def test_training_again_is_reproducible_and_round_trips(tmp_path):
    """A few steps of ``train_pretrained`` twice with one seed give the same weights; save → load keeps them (to
    float16 precision) and the record; the loss options are the shipped model's."""
    first, s = D.train_pretrained("digits-vlb", seed=5, steps=12, device="cpu", progress=False)
    second, _ = D.train_pretrained("digits-vlb", seed=5, steps=12, device="cpu", progress=False)
    for a, b in zip(first.model.parameters(), second.model.parameters()):
        assert torch.equal(a, b)
    path = D.save_pretrained(first, "digits-vlb", tmp_path / "m.pt", seed=5)
    model, info = D.load_pretrained(path)
    for a, b in zip(model.parameters(), first.model.parameters()):
        torch.testing.assert_close(a, b, atol=2e-3, rtol=1e-3)
    assert info["seed"] == 5 and info["steps"] == 12 and info["loss"] == D.PRETRAINED["digits-vlb"].loss
    x0 = torch.rand(8, 1, 8, 8) * 2 - 1
    torch.manual_seed(7)
    shipped = D.loss_function("digits-vlb", s)(model, x0)             # draws t and ε from the global generator
    torch.manual_seed(7)
    assert torch.equal(shipped, D.ddpm_loss(model, s, x0, weighting="vlb", t_sampling="importance"))
    torch.manual_seed(7)
    assert not torch.equal(shipped, D.ddpm_loss(model, s, x0))        # L_simple is another loss

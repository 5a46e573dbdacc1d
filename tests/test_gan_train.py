"""Alternating optimisation, AMP on CPU, short trainings that must learn something, the demonstrations, their
pictures and the ``coursekit gan`` commands (with tiny budgets: the real numbers are in docs/gan.md)."""

from __future__ import annotations

import json

import pytest
import torch

from coursekit import gan
from coursekit.data import sample_2d, toy_modes
from coursekit.gan import demos


def test_alternate_runs_k_discriminator_steps_per_generator_step():
    calls: list[str] = []
    seen: list[int] = []

    def d_step(done: float) -> float:
        calls.append("D")
        return 1.0

    def g_step(done: float) -> float:
        calls.append("G")
        return 2.0

    history = gan.alternate(d_step, g_step, steps=4, k=3, progress=False, callback_every=2,
                            callback=lambda step, h: seen.append(step))
    assert "".join(calls) == "DDDG" * 4
    assert history.steps == 4 and history.d_losses == [1.0] * 4 and history.g_losses == [2.0] * 4
    assert seen == [2, 4]
    with pytest.raises(ValueError, match="k"):
        gan.alternate(d_step, g_step, steps=1, k=0)
    with pytest.raises(ValueError, match="steps"):
        gan.alternate(d_step, g_step, steps=None, seconds=None)


def _params(*modules: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for m in modules for p in m.parameters()]


def test_amp_is_a_no_op_on_cpu():
    """amp=True asks for bfloat16 autocast on CUDA only: on the CPU the runs are bit-identical."""
    data, labels = torch.randn(64, 2), torch.arange(64) % 2
    x, y = torch.rand(8, 1, 16, 16) * 2 - 1, torch.rand(8, 1, 16, 16) * 2 - 1
    runs = []
    for amp in (False, True):
        torch.manual_seed(0)
        G, D = gan.MLPGenerator(latent_dim=4, hidden=8, num_classes=2), gan.MLPDiscriminator(hidden=8, num_classes=2)
        gan.train_gan(G, D, data, labels=labels, steps=3, batch_size=16, amp=amp, device="cpu", progress=False)
        torch.manual_seed(0)
        PG, PD = gan.build_pix2pix(1, 1, "teaching", 16)
        gan.train_pix2pix(PG, PD, x, y, steps=2, batch_size=4, amp=amp, device="cpu", progress=False)
        torch.manual_seed(0)
        cyc = gan.build_cyclegan(1, 1, "teaching")
        gan.train_cyclegan(cyc, x, y, steps=2, batch_size=4, amp=amp, device="cpu", progress=False)
        runs.append(_params(G, D, PG, PD, *cyc.modules()))
    assert all(torch.equal(a, b) for a, b in zip(*runs))
    assert not torch.equal(runs[0][0], gan.MLPGenerator(latent_dim=4, hidden=8, num_classes=2).net[0].weight)


def test_training_runs_on_every_device(device):
    torch.manual_seed(0)
    G, D = gan.MLPGenerator(latent_dim=4, hidden=8), gan.MLPDiscriminator(hidden=8)
    result = gan.train_gan(G, D, torch.randn(64, 2), steps=3, batch_size=16, device=device, amp=True,
                           progress=False)
    assert len(result.history.g_losses) == 3 and next(G.parameters()).device.type == device.type
    assert gan.generate(G, 5).shape == (5, 2)
    xs, ys, probs = gan.decision_surface(D, n=7)
    assert probs.shape == (7, 7) and bool(((probs >= 0) & (probs <= 1)).all())
    x = torch.rand(4, 1, 16, 16) * 2 - 1
    PG, PD = gan.build_pix2pix(1, 1, "teaching", 16)
    history = gan.train_pix2pix(PG, PD, x, x, steps=2, batch_size=4, device=device, amp=True, progress=False)
    assert set(history.extras) == {"l1", "adversarial"} and gan.translate(PG, x).device.type == "cpu"
    cyc = gan.build_cyclegan(1, 1, "teaching")
    history = gan.train_cyclegan(cyc, x, -x, steps=2, batch_size=4, device=device, amp=True, progress=False)
    assert set(history.extras) == {"adversarial", "cycle", "identity"}


def test_train_gan_bad_input():
    G, D = gan.MLPGenerator(latent_dim=4, hidden=8), gan.MLPDiscriminator(hidden=8, pack=4)
    with pytest.raises(ValueError, match="batch_size"):
        gan.train_gan(G, D, torch.randn(64, 2), steps=1, batch_size=6)
    with pytest.raises(ValueError, match="kind"):
        gan.train_gan(G, D, torch.randn(64, 2), steps=1, kind="wasserstein")
    with pytest.raises(ValueError, match="labels"):
        gan.train_gan(G, D, torch.randn(64, 2), labels=torch.zeros(3, dtype=torch.long), steps=1)
    with pytest.raises(ValueError, match="x and y"):
        gan.train_pix2pix(*gan.build_pix2pix(1, 1, "teaching", 16), torch.zeros(4, 1, 16, 16),
                          torch.zeros(3, 1, 16, 16), steps=1)


# ---------------------------------------------------------------------------------------------------------
# Short trainings that must learn
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_gan_learns_a_gaussian():
    """p_data = N((1.5, −1), 0.3²I): after a short alternating optimisation G's samples have its mean and spread."""
    torch.manual_seed(0)
    data = torch.tensor([1.5, -1.0]) + 0.3 * torch.randn(4096, 2, generator=torch.Generator().manual_seed(1))
    G, D = gan.MLPGenerator(latent_dim=4, hidden=32, depth=2), gan.MLPDiscriminator(hidden=32, depth=2)
    gan.train_gan(G, D, data, steps=1500, batch_size=128, lr_g=5e-4, lr_d=5e-4, lr_decay=True, seed=0,
                  device="cpu", progress=False)
    s = gan.generate(G, 2000, seed=2)
    # a GAN oscillates around the equilibrium: bounds loose enough for that, tight against "not learned"
    # (an untrained G puts its samples near 0 with a spread of a few hundredths)
    assert (s.mean(0) - torch.tensor([1.5, -1.0])).abs().max() < 0.25
    assert bool(((s.std(0) > 0.1) & (s.std(0) < 0.6)).all())


@pytest.mark.slow
def test_cgan_puts_each_label_on_its_mode():
    """ring8 with the mode index as the label: G(z, y) must land near centre y (the condition is used)."""
    data, labels = sample_2d("ring8", 8192, seed=0, with_labels=True)
    centres, _ = toy_modes("ring8")
    torch.manual_seed(0)
    G = gan.MLPGenerator(latent_dim=8, hidden=64, depth=2, num_classes=8)
    D = gan.MLPDiscriminator(hidden=64, depth=2, num_classes=8)
    gan.train_gan(G, D, data, labels=labels, steps=600, batch_size=128, lr_g=1e-3, lr_d=1e-3, seed=0,
                  device="cpu", progress=False)
    asked = torch.arange(8).repeat_interleave(100)
    s = gan.generate(G, 800, asked, seed=1)
    nearest = torch.cdist(s, centres).argmin(1)
    assert float((nearest == asked).float().mean()) > 0.9


@pytest.mark.slow
def test_pix2pix_l1_beats_the_identity_on_held_out_pairs():
    x, y, _ = gan.make_pairs("thin2thick", "train", 16)
    xt, yt, _ = gan.make_pairs("thin2thick", "test", 16)
    torch.manual_seed(0)
    G, _ = gan.build_pix2pix(1, 1, "teaching", 16)
    gan.train_pix2pix(G, None, x, y, steps=150, batch_size=32, seed=0, device="cpu", progress=False)
    assert float((gan.translate(G, xt) - yt).abs().mean()) < 0.5 * float((xt - yt).abs().mean())


# ---------------------------------------------------------------------------------------------------------
# Demonstrations and commands, tiny budgets
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_demos_and_their_commands(tmp_path):
    from coursekit.cli import main

    for argv, png, keys in [
        (["mode-collapse", "--steps", "5"], "mode_collapse.png", {"plain", "remedy", "remedy_name"}),
        (["cgan", "--steps", "5"], "cgan.png", {"accuracy", "confidence"}),
        (["pix2pix", "--steps", "3", "--task", "edges2digits"], "pix2pix_edges2digits.png", {"l1_only", "l1_gan"}),
        (["cyclegan", "--steps", "3"], "cyclegan_thin2thick.png", {"l1", "identity_l1", "cycle_l1", "accuracy"}),
    ]:
        metrics_file = tmp_path / f"{png}.json"
        assert main(["gan", *argv, "--out", str(tmp_path), "--json", str(metrics_file), "--no-progress",
                     "--device", "cpu"]) == 0
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        metrics = json.loads(metrics_file.read_text())
        assert keys <= set(metrics), argv


@pytest.mark.slow
def test_demo_results_hold_what_the_pictures_need():
    r = demos.mode_collapse_demo(steps=3, n_samples=100, device="cpu", progress=False)
    assert r["plain_samples"].shape == r["remedy_samples"].shape == (100, 2)
    assert {"modes", "n_modes", "high_quality"} <= set(r["plain"]) and r["plain"]["n_modes"] == 8
    r = demos.cgan_demo(steps=3, per_class=2, device="cpu", progress=False)
    assert r["samples"].shape == (20, 1, 8, 8) and r["labels"].tolist() == sorted(list(range(10)) * 2)
    assert 0.0 <= r["accuracy"] <= 1.0
    with pytest.raises(ValueError, match="remedy"):
        demos.mode_collapse_demo(remedy="dropout")


@pytest.mark.slow
def test_live_plot_helpers_draw(tmp_path):
    """What a notebook's callback draws: samples over the ring, D's decision surface, the loss curves."""
    from coursekit.viz import gan as viz

    torch.manual_seed(0)
    G, D = gan.MLPGenerator(latent_dim=4, hidden=8), gan.MLPDiscriminator(hidden=8, pack=2)
    frames: list[int] = []

    def callback(step, history, G, D):
        frames.append(step)
        fig = viz.plot_decision_surface(D, n=20, samples=gan.generate(G, 50), data=sample_2d("ring8", 50)).figure
        viz.save(fig, tmp_path / f"surface_{step}.png")

    result = gan.train_gan(G, D, sample_2d("ring8", 512), steps=4, batch_size=32, callback=callback,
                           callback_every=2, device="cpu", progress=False)
    assert frames == [2, 4] and (tmp_path / "surface_4.png").stat().st_size > 1000
    path = viz.save(viz.plot_losses(result.history).figure, tmp_path / "losses.png")
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_total_variation_by_hand():
    stripes = torch.tensor([[0.0, 1.0], [0.0, 1.0]]).reshape(1, 1, 2, 2)      # |1 − 0| across, 0 down
    assert demos.total_variation(stripes) == pytest.approx(1.0)
    x = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    blurred = torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
    assert demos.total_variation(blurred) < 0.6 * demos.total_variation(x)

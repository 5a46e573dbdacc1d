"""Each demonstration of the GAN unit as one function: it trains, measures and returns numbers and tensors
(no plotting, no files: ``coursekit.viz.gan`` draws the results, ``coursekit gan …`` saves them).

    mode_collapse_demo()   8-Gaussian ring, VEEGAN protocol: plain GAN vs PacGAN (模式丢失 and a remedy)
    pretrained_dcgan()     notebook 05b's DCGAN generator on the digits, trained once and shipped (SHA-256 checked)
    cgan_demo()            class-conditional DCGAN on the digits, scored by the metrics classifier
    pix2pix_demo()         held-out pairs: L1 only vs L1 + PatchGAN (L1 and classifier accuracy)
    cyclegan_demo()        unpaired thin ↔ thick digits

The defaults reproduce the numbers in docs/gan.md in minutes on 2 CPU cores; tests call them with tiny
budgets (``steps=``) to check they run.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .._checks import check_choice
from ..checkpoints import float_state, half_state, load_record, save_record
from ..data import load_digits, sample_2d
from ..metrics import class_accuracy, mode_coverage
from ..train import get_device, seed_everything
from .cyclegan import build_cyclegan, train_cyclegan
from .nets import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from .paired import make_pairs, make_unpaired
from .pix2pix import build_pix2pix, train_pix2pix, translate
from .training import generate, train_gan

REMEDIES = ("pacgan", "minibatch_std", "instance_noise")

# The 2-D set-up of the VEEGAN / unrolled-GAN experiments: z of 256 dimensions, a 2-hidden-layer G and a
# 1-hidden-layer D, Adam(1e-3, β₁ = 0.5) for both, batch 256, the learning rates decayed linearly to 0 over
# the second half (so the last samples are sharp). Without a remedy this GAN sits on one mode at a time.
RING_G = dict(latent_dim=256, hidden=128, depth=2)
RING_D = dict(hidden=128, depth=1)
RING_LR = dict(lr_g=1e-3, lr_d=1e-3)


def _ring_run(remedy: str | None, steps: int, seed: int, n_samples: int, device, progress, callback, pack: int
              ) -> dict:
    data = sample_2d("ring8", 50_000, seed=seed)
    seed_everything(seed)
    G = MLPGenerator(out_dim=2, **RING_G)
    D = MLPDiscriminator(in_dim=2, pack=pack if remedy == "pacgan" else 1,
                         minibatch_std=remedy == "minibatch_std", **RING_D)
    result = train_gan(G, D, data, steps=steps, batch_size=256, **RING_LR, lr_decay=True,
                       instance_noise=0.5 if remedy == "instance_noise" else 0.0, seed=seed, device=device,
                       progress=progress, callback=callback)
    samples = generate(G, n_samples, seed=seed + 1)
    return {"metrics": mode_coverage(samples, "ring8"), "samples": samples, "G": G, "D": D,
            "history": result.history}


def mode_collapse_demo(steps: int = 12000, remedy: str = "pacgan", pack: int = 2, seed: int = 0,
                       n_samples: int = 2500, device: str | torch.device | None = None,
                       progress: bool | None = None, callback=None) -> dict:
    """Train the same GAN twice on ring8, without and with a remedy, and score 2,500 samples each with the
    VEEGAN protocol (modes covered; % high quality = within 3σ of a mode).

    Returns {"plain", "remedy"} metrics dicts, their "plain_samples"/"remedy_samples", "data" (2,500 real
    points), "remedy_name", and the trained networks under "plain_G", "plain_D", "remedy_G", "remedy_D".
    """
    check_choice("remedy", remedy, REMEDIES)
    device = get_device(device)
    plain = _ring_run(None, steps, seed, n_samples, device, progress, callback, pack)
    fixed = _ring_run(remedy, steps, seed, n_samples, device, progress, callback, pack)
    name = {"pacgan": f"PacGAN (m = {pack})", "minibatch_std": "minibatch std",
            "instance_noise": "instance noise"}[remedy]
    return {"plain": plain["metrics"], "remedy": fixed["metrics"], "remedy_name": name,
            "plain_samples": plain["samples"], "remedy_samples": fixed["samples"],
            "data": sample_2d("ring8", n_samples, seed=seed + 2),
            "plain_G": plain["G"], "plain_D": plain["D"], "remedy_G": fixed["G"], "remedy_D": fixed["D"],
            "plain_history": plain["history"], "remedy_history": fixed["history"]}


# Notebook 05b's DCGAN on the 8×8 digits: the DCGAN guidelines (BatchNorm in G and D), learning rate 2e-3 for
# both (the paper's 2e-4 is too slow for 4,000 steps of such small nets), batch 64, non-saturating loss.
DCGAN_G = dict(latent_dim=32, image_size=8, ngf=16)
DCGAN_D = dict(image_size=8, ndf=16, batch_norm=True)
DCGAN_TRAIN = dict(batch_size=64, lr_g=2e-3, lr_d=2e-3)
DCGAN_STEPS = 4000
DCGAN_FILE = Path(__file__).resolve().parent.parent / "assets" / "gan_dcgan_digits.pt"
DCGAN_SHA256 = "3154e911aca7b6bbce553aa826ff94fecb08700de138622d63715238d6345cfc"
DCGAN_KIND = "coursekit-dcgan-digits"


def train_dcgan(steps: int = DCGAN_STEPS, seed: int = 0, device: str | torch.device | None = None,
                progress: bool | None = None):
    """Notebook 05b's DCGAN (``DCGAN_G``, ``DCGAN_D``, ``DCGAN_TRAIN``) trained on the train split of the digits;
    returns the :class:`GANResult`. What ``scripts/make_gan_digits.py`` runs to make the shipped generator."""
    x, _ = load_digits("train")
    seed_everything(seed)
    G = DCGANGenerator(**DCGAN_G)
    D = DCGANDiscriminator(**DCGAN_D)
    return train_gan(G, D, x, steps=steps, **DCGAN_TRAIN, seed=seed, device=device, progress=progress)


def save_dcgan(G: DCGANGenerator, path: str | Path, **train_info: object) -> Path:
    """Write G (config, float16 weights and buffers, ``train_info``) to ``path`` atomically."""
    return save_record(path, {"kind": DCGAN_KIND, "config": dict(G.config), "state_dict": half_state(G),
                              "train_info": train_info})


def pretrained_dcgan(device: str | torch.device | None = None, path: str | Path = DCGAN_FILE,
                     sha256: str | None = DCGAN_SHA256) -> DCGANGenerator:
    """The DCGAN generator shipped with the package (``assets/gan_dcgan_digits.pt``: ``train_dcgan()`` with seed 0,
    ``DCGAN_STEPS`` steps, made by ``scripts/make_gan_digits.py``), in eval mode. The file's SHA-256 is checked
    (``sha256=None`` skips the check): a changed or damaged file raises a ValueError naming it."""
    payload = load_record(path, DCGAN_KIND, "a DCGAN checkpoint written by demos.save_dcgan", sha256 or None,
                          missing="make it with scripts/make_gan_digits.py")
    config = dict(payload["config"])
    config.pop("kind", None)
    G = DCGANGenerator(**config)
    G.load_state_dict(float_state(payload["state_dict"]))
    G.train_info = payload.get("train_info", {})
    return G.to(get_device(device)).eval()


def cgan_demo(steps: int = 3000, seed: int = 0, per_class: int = 100, device: str | torch.device | None = None,
              progress: bool | None = None, callback=None) -> dict:
    """A class-conditional DCGAN on the 8×8 digits (y into both G and D), then ``per_class`` samples of every
    digit scored by the metrics classifier. Returns accuracy, confidence, samples (10·per_class images
    ordered digit-major: row c of a 10-column grid … use ``grid`` for a 10×10 picture), labels, G, D, history."""
    x, y = load_digits("train")
    seed_everything(seed)
    G = DCGANGenerator(latent_dim=32, image_size=8, ngf=32, num_classes=10)
    D = DCGANDiscriminator(image_size=8, ndf=32, num_classes=10)
    result = train_gan(G, D, x, labels=y, steps=steps, batch_size=64, lr_g=2e-4, lr_d=2e-4, seed=seed,
                       device=device, progress=progress, callback=callback)
    labels = torch.arange(10).repeat_interleave(per_class)
    samples = generate(G, len(labels), labels, seed=seed + 1)
    accuracy, confidence = class_accuracy(samples, labels)
    grid_idx = (torch.arange(10)[:, None] * per_class + torch.arange(min(10, per_class))[None, :]).reshape(-1)
    return {"accuracy": accuracy, "confidence": confidence, "samples": samples, "labels": labels,
            "grid": samples[grid_idx], "G": G, "D": D, "history": result.history, "steps": result.history.steps,
            "seconds": result.history.seconds}


def total_variation(images: torch.Tensor) -> float:
    """Mean |difference| between neighbouring pixels (horizontal and vertical): a blur lowers it, so
    TV(G(x)) / TV(y) < 1 measures how much of the target's sharpness an output lost."""
    dy = (images[..., 1:, :] - images[..., :-1, :]).abs().mean()
    dx = (images[..., :, 1:] - images[..., :, :-1]).abs().mean()
    return float(dx + dy)


def pix2pix_demo(task: str = "inpaint", steps: int = 1500, size: int = 16, lambda_l1: float = 100.0, seed: int = 0,
                 n_show: int = 12, device: str | torch.device | None = None, progress: bool | None = None) -> dict:
    """pix2pix on digit pairs: the same U-Net trained with L1 only and with L1 + PatchGAN (λ = 100), scored on
    the held-out test pairs by mean |G(x) − y|, by the metrics classifier's accuracy on G(x) and by the
    sharpness TV(G(x)) / TV(y) (:func:`total_variation`; 1 = as sharp as the targets, < 1 = blurred)."""
    x, y, _ = make_pairs(task, "train", size)
    xt, yt, lt = make_pairs(task, "test", size)
    out: dict = {"task": task, "inputs": xt[:n_show], "targets": yt[:n_show]}
    target_acc, _ = class_accuracy(yt, lt)
    out["target_accuracy"] = target_acc
    for key, adversarial in (("l1_only", False), ("l1_gan", True)):
        seed_everything(seed)
        G, D = build_pix2pix(x.shape[1], y.shape[1], "teaching", size)
        history = train_pix2pix(G, D if adversarial else None, x, y, steps=steps, lambda_l1=lambda_l1, seed=seed,
                                device=device, progress=progress)
        fake = translate(G, xt)
        accuracy, confidence = class_accuracy(fake, lt)
        out[key] = {"l1": float((fake - yt).abs().mean()), "accuracy": accuracy, "confidence": confidence,
                    "sharpness": total_variation(fake) / total_variation(yt), "seconds": history.seconds}
        out["outputs_l1" if not adversarial else "outputs_gan"] = fake[:n_show]
        out[f"G_{key}"] = G
        out[f"history_{key}"] = history
    return out


def cyclegan_demo(task: str = "thin2thick", steps: int = 1500, size: int = 16, seed: int = 0, n_show: int = 12,
                  device: str | torch.device | None = None, progress: bool | None = None) -> dict:
    """CycleGAN on unpaired digit domains (X: inputs of one half of the train split, Y: targets of the other).
    Scored on the held-out test pairs (never seen, and never paired in training): L1 of G(x) to the true y,
    the classifier's accuracy on G(x) (the digit must survive), and the cycle error |F(G(x)) − x|."""
    x, y, _, _ = make_unpaired(task, "train", size, seed=seed)
    xt, yt, lt = make_pairs(task, "test", size)
    seed_everything(seed)
    model = build_cyclegan(x.shape[1], y.shape[1], "teaching")
    history = train_cyclegan(model, x, y, steps=steps, seed=seed, device=device, progress=progress)
    fake = translate(model.G, xt)
    rec = translate(model.F, fake)
    accuracy, _ = class_accuracy(fake, lt)
    return {"task": task, "l1": float((fake - yt).abs().mean()), "identity_l1": float((xt - yt).abs().mean()),
            "accuracy": accuracy, "cycle_l1": float((rec - xt).abs().mean()),
            "inputs": xt[:n_show], "translated": fake[:n_show], "reconstructed": rec[:n_show],
            "targets": yt[:n_show], "model": model, "history": history, "seconds": history.seconds}

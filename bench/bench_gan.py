"""Training speed of the GAN unit: iterations (k = 1 discriminator step + 1 generator step) per second for the
teaching and the full-size (pix2pix / CycleGAN reference) configurations, on the CPU and on CUDA when present.

    .venv/bin/python bench/bench_gan.py                 # every row, CPU (+ CUDA)
    .venv/bin/python bench/bench_gan.py --quick         # teaching rows only
    .venv/bin/python bench/bench_gan.py --threads 2

Each row runs the real training function (train_gan / train_pix2pix / train_cyclegan) once to warm up, then
times ``--steps`` iterations (fewer for the 256×256 rows). Ratios are against the peer measured in the same
run: "vs teaching" compares a full-size row to the teaching row of the same model on the same device, "vs CPU"
a CUDA row to its CPU row. Random tensors stand in for the data (speed does not depend on it).
"""

from __future__ import annotations

import argparse

import torch

from coursekit import gan


def _gan_mlp(device: torch.device, steps: int) -> float:
    G, D = gan.MLPGenerator(latent_dim=256, hidden=128, depth=2), gan.MLPDiscriminator(hidden=128, depth=1, pack=2)
    data = torch.randn(4096, 2)
    gan.train_gan(G, D, data, steps=1, batch_size=256, device=device, progress=False)
    return gan.train_gan(G, D, data, steps=steps, batch_size=256, device=device, progress=False).history.seconds


def _cgan_dcgan(device: torch.device, steps: int) -> float:
    G = gan.DCGANGenerator(latent_dim=32, image_size=8, ngf=32, num_classes=10)
    D = gan.DCGANDiscriminator(image_size=8, ndf=32, num_classes=10)
    x, y = torch.rand(1024, 1, 8, 8) * 2 - 1, torch.arange(1024) % 10
    gan.train_gan(G, D, x, labels=y, steps=1, batch_size=64, device=device, progress=False)
    return gan.train_gan(G, D, x, labels=y, steps=steps, batch_size=64, device=device, progress=False).history.seconds


def _pix2pix(config: str, channels: int, size: int, batch: int):
    def run(device: torch.device, steps: int) -> float:
        G, D = gan.build_pix2pix(channels, channels, config, size)
        x = torch.rand(max(batch, 4), channels, size, size) * 2 - 1
        gan.train_pix2pix(G, D, x, -x, steps=1, batch_size=batch, device=device, progress=False)
        return gan.train_pix2pix(G, D, x, -x, steps=steps, batch_size=batch, device=device, progress=False).seconds
    return run


def _cyclegan(config: str, channels: int, size: int, batch: int):
    def run(device: torch.device, steps: int) -> float:
        model = gan.build_cyclegan(channels, channels, config)
        x = torch.rand(max(batch, 4), channels, size, size) * 2 - 1
        gan.train_cyclegan(model, x, -x, steps=1, batch_size=batch, device=device, progress=False)
        return gan.train_cyclegan(model, x, -x, steps=steps, batch_size=batch, device=device, progress=False).seconds
    return run


# (model, config, what, runner, step divisor for the big rows)
ROWS = [
    ("GAN ring8 (PacGAN2)", "teaching", "MLP, batch 256", _gan_mlp, 1),
    ("cGAN digits", "teaching", "DCGAN 8×8, batch 64", _cgan_dcgan, 1),
    ("pix2pix", "teaching", "U-Net 16×16, batch 32", _pix2pix("teaching", 1, 16, 32), 1),
    ("pix2pix", "full", "unet_256 + 70×70 D, 256×256, batch 1", _pix2pix("full", 3, 256, 1), 10),
    ("CycleGAN", "teaching", "ResNet-3 16×16, batch 16", _cyclegan("teaching", 1, 16, 16), 1),
    ("CycleGAN", "full", "resnet_9blocks + 70×70 D, 256×256, batch 1", _cyclegan("full", 3, 256, 1), 10),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="timed iterations per teaching row (default 30)")
    parser.add_argument("--quick", action="store_true", help="teaching rows only")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
          + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""))
    header = (f"{'model':<20} {'config':<9} {'device':<6} {'it/s':>8} {'s/it':>8} {'vs teaching':>12} {'vs CPU':>8}"
              "  setting")
    print(header)
    print("-" * len(header))
    rate: dict[tuple[str, str, str], float] = {}
    for model, config, what, run, divisor in ROWS:
        if args.quick and config == "full":
            continue
        for device in devices:
            steps = max(2, args.steps // divisor)
            seconds = run(device, steps)        # each step reads its loss back (float()): CUDA is synchronised
            it_s = steps / seconds
            rate[(model, config, device.type)] = it_s
            teach = rate.get((model, "teaching", device.type))
            vs_teach = f"{it_s / teach:.3g}×" if config == "full" and teach else ""
            cpu = rate.get((model, config, "cpu"))
            vs_cpu = f"{it_s / cpu:.3g}×" if device.type != "cpu" and cpu else ""
            print(f"{model:<20} {config:<9} {device.type:<6} {it_s:8.2f} {1 / it_s:8.3f} {vs_teach:>12} {vs_cpu:>8}  "
                  f"{what}", flush=True)


if __name__ == "__main__":
    main()

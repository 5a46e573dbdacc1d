"""Make the DCGAN generator shipped in coursekit/assets (notebook 05b, section 3).

    python scripts/make_gan_digits.py                   # seed 0, 4,000 steps, into coursekit/assets/gan_dcgan_digits.pt
    python scripts/make_gan_digits.py --out /tmp/g.pt --seed 1

Trains ``coursekit.gan.demos.train_dcgan`` (the DCGAN of ``demos.DCGAN_G`` / ``DCGAN_D`` / ``DCGAN_TRAIN`` on the
train split of the digits, ``demos.DCGAN_STEPS`` steps) on one CPU thread and saves G in float16 with its
training record. Prints the file's size, its SHA-256 (paste it into ``demos.DCGAN_SHA256``, which every load
checks) and the metrics of 500 samples (FD / reference against the test split, near copies). On another
machine or torch version the bytes may differ in the last digits of the weights, not in what G does.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from coursekit import gan, metrics  # noqa: E402
from coursekit.gan import demos  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=demos.DCGAN_FILE, help="the .pt file (default: the asset)")
    parser.add_argument("--seed", type=int, default=0, help="the seed of the shipped generator (default 0)")
    parser.add_argument("--steps", type=int, default=demos.DCGAN_STEPS,
                        help=f"generator steps (default {demos.DCGAN_STEPS})")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be a positive int, got {args.steps}")
    if args.out.exists() and args.out.is_dir():
        parser.error(f"--out must be a file path, got the folder {str(args.out)!r}")
    torch.set_num_threads(1)                        # the shipped file: one thread, one order of float operations
    start = time.process_time()
    result = demos.train_dcgan(steps=args.steps, seed=args.seed, device="cpu", progress=False)
    seconds = time.process_time() - start
    path = demos.save_dcgan(result.G, args.out, seed=args.seed, steps=args.steps, cpu_seconds=round(seconds, 1),
                            torch=str(torch.__version__), **demos.DCGAN_TRAIN)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    G = demos.pretrained_dcgan(path=path, sha256=digest)
    report = metrics.digit_report(gan.generate(G, 500, seed=1))
    print(f"{path}: {path.stat().st_size:,} bytes, SHA-256 {digest}")
    print(f"trained {args.steps} steps with seed {args.seed} in {seconds:.0f} CPU-s; 500 samples: FD / reference "
          f"{report['fd_ratio']:.2f}, near copies {100 * report['near_copy_rate']:.1f} %, "
          f"confidence {report['confidence']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

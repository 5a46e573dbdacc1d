"""Make the diffusion models shipped in coursekit/assets (notebooks 04a and 04b; unit 07 samples the ε-model).

    python scripts/make_ddpm_digits.py                  # all of them, seed 0, into coursekit/assets/
    python scripts/make_ddpm_digits.py --only digits-eps --out /tmp/models

Each model is trained by ``coursekit.diffusion.train_pretrained`` (the settings in ``diffusion.PRETRAINED``) on one
CPU thread with seed 0, and saved with its EMA weights in float16 and its loss curve. The script prints each
file's size and SHA-256: paste the SHA-256 into ``PRETRAINED`` (coursekit/diffusion/pretrained.py), which checks it
on every load. On another machine or torch version the bytes may differ (float rounding); the models then differ
in the last digits, not in what they do.
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

from coursekit import diffusion as D  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(D.PRETRAINED),
                        help=f"comma-separated names among {', '.join(D.PRETRAINED)} (default: all)")
    parser.add_argument("--out", type=Path, default=D.ASSETS,
                        help="folder for the .pt files (default: coursekit/assets)")
    parser.add_argument("--seed", type=int, default=0, help="the seed of the shipped models (default 0)")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in D.PRETRAINED]
    if unknown or not names:
        parser.error(f"--only: expected names among {', '.join(D.PRETRAINED)}, got {args.only!r}")
    torch.set_num_threads(1)                        # the shipped files: one thread, one order of float operations
    for name in names:
        start = time.process_time()
        result, _ = D.train_pretrained(name, seed=args.seed, device="cpu", progress=False)
        path = D.save_pretrained(result, name, args.out / D.PRETRAINED[name].file.name, seed=args.seed)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        print(f"{name}: {result.steps} steps in {time.process_time() - start:.0f} CPU-s, "
              f"{path.stat().st_size / 1024:.0f} KiB, sha256 {digest}  ({path})", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

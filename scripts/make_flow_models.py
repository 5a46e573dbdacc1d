"""Make the models of notebook 07 shipped in coursekit/assets (``coursekit.flow.pretrained(name)``).

    python scripts/make_flow_models.py                  # all three, seed 0, into coursekit/assets/
    python scripts/make_flow_models.py --only ring8-flow --out /tmp/models --seed 1

- ``digits-flow``: the network (a residual MLP, hidden 128, depth 3), the optimiser settings and the 8,000 steps of
  ``diffusion.pretrained("digits-eps")`` (scripts/make_ddpm_digits.py), with the flow-matching loss;
- ``ring8-flow`` and ``ring8-eps``: notebook 04a's network and settings on the ring of 8 Gaussians (3,000 steps),
  with the flow-matching loss and with DDPM's L_simple (T = 250).

Each is trained by ``coursekit.flow.train_pretrained`` on one CPU thread with seed 0 and saved with its EMA weights in
float16 and its loss curve. The script prints each file's size and SHA-256: paste the SHA-256 into
``flow.PRETRAINED`` (coursekit/flow.py), which checks it on every load. On another machine or torch version the bytes
may differ (float rounding); the models then differ in the last digits, not in what they do.
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

from coursekit import flow  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(flow.PRETRAINED),
                        help=f"comma-separated names among {', '.join(flow.PRETRAINED)} (default: all)")
    parser.add_argument("--out", type=Path, default=flow.ASSETS,
                        help="folder for the .pt files (default: coursekit/assets)")
    parser.add_argument("--seed", type=int, default=0, help="the seed of the shipped models (default 0)")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in flow.PRETRAINED]
    if unknown or not names:
        parser.error(f"--only: expected names among {', '.join(flow.PRETRAINED)}, got {args.only!r}")
    torch.set_num_threads(1)                        # the shipped files: one thread, one order of float operations
    for name in names:
        start = time.process_time()
        result = flow.train_pretrained(name, seed=args.seed, device="cpu", progress=False)
        path = flow.save_pretrained(result, name, args.out / flow.PRETRAINED[name].file.name, seed=args.seed)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        print(f"{name}: {result.steps} steps in {time.process_time() - start:.0f} CPU-s, "
              f"{path.stat().st_size / 1024:.0f} KiB, sha256 {digest}  ({path})", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Train the digits metric classifier once and write the weights file the package ships.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/make_metric_classifier.py          # → coursekit/assets/
    .venv/bin/python scripts/make_metric_classifier.py --out /tmp/clf.pt --epochs 1   # a quick check

Every FD / floor figure of the course is measured in this classifier's feature space, so it is one fixed
artefact (as FID's Inception weights are): trained here, on the digits train split, on one CPU thread with a
fixed seed, stored as float16, and checked against ``coursekit.metrics.CLASSIFIER_SHA256`` on every load.
Retraining on another machine may give different bits (CPU kernels differ); that is why the weights are
shipped instead of trained on first use (one torch thread gave a floor of 7.11, two threads 6.17, for the
classifier the package used to train on first use). After retraining on purpose, paste the printed SHA-256
into ``coursekit/metrics.py`` and re-measure every FD figure in the docs.
"""

from __future__ import annotations

import argparse
import hashlib
import io
from pathlib import Path

import torch
import torch.nn.functional as F

from coursekit.data import load_digits
from coursekit.metrics import CLASSIFIER_FILE, DigitClassifier

SEED = 0
EPOCHS = 40
BATCH = 64
LR = 3e-3


def random_shift(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image moved by −1, 0 or +1 pixel in each direction (background −1 fills the border)."""
    n, _, h, w = x.shape
    padded = F.pad(x, (1, 1, 1, 1), value=-1.0)
    dy, dx = torch.randint(0, 3, (2, n), generator=generator)
    out = torch.empty_like(x)
    for oy in range(3):
        for ox in range(3):
            idx = ((dy == oy) & (dx == ox)).nonzero().flatten()
            out[idx] = padded[idx, :, oy:oy + h, ox:ox + w]
    return out


def train(epochs: int = EPOCHS, seed: int = SEED) -> DigitClassifier:
    """Adam with a cosine learning rate, shift augmentation; deterministic for a seed on one thread."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    x, y = load_digits("train")
    model = DigitClassifier()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    total = epochs * ((len(x) + BATCH - 1) // BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=total, pct_start=0.1)
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), BATCH):
            idx = perm[i:i + BATCH]
            loss = F.cross_entropy(model(random_shift(x[idx], g)), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return model.eval()


def to_bytes(model: DigitClassifier) -> bytes:
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=CLASSIFIER_FILE)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    model = train(args.epochs, args.seed)
    x, y = load_digits("test")
    with torch.no_grad():
        accuracy = float((model(x).argmax(1) == y).float().mean())
    data = to_bytes(model)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    print(f"wrote {args.out} ({len(data)} bytes), test accuracy {accuracy:.4f} (float32 weights)")
    print(f"CLASSIFIER_SHA256 = \"{digest}\"")
    return digest


if __name__ == "__main__":
    main()

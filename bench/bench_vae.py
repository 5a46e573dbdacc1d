"""The numbers unit 03 (VAE) quotes that its own notebook does not print, over seeds.

    python bench/bench_vae.py                 # seeds 0 1 2: both tables
    python bench/bench_vae.py --seeds 0 1 2 3 4 --only pixelcnn

1. ``pixelcnn``: unit 02's unconditional PixelCNN at that notebook's defaults (hidden 32, 3 blocks, 500 steps,
   batch 64, lr 5e-3, no EMA), exact −log₂ p(x) / 64 on the test split. Unit 03 sets its VAE's bound beside it:
   the same data, the same 17-level likelihood, the same (absent) condition. (docs/compare.md's PixelCNN row is
   class-conditional, −log₂ p(x | y) / 64: another quantity.)
2. ``gaps``: unit 03's 2-D VAE at the notebook's defaults (the notebook's own training loop: 600 Adam steps,
   batch 128, lr 3e-3, hidden 128, seeds as the notebook derives them), on every test digit: the exact
   −log₂ p(x) / 64 by quadrature and the gap log p(x) − ELBO split into its approximation and amortisation
   parts (the notebook shows six digits; this is the whole split, too slow for the notebook's budget).

Prints one table per part (per seed, median, min–max). One torch thread, CPU; the numbers are seeded step
counts, not wall-clock budgets.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from coursekit import autoregressive, data, train  # noqa: E402
from coursekit import vae as V  # noqa: E402
from coursekit import vae_experiments as E  # noqa: E402

LN2 = math.log(2.0)


def pixelcnn_bits(seed: int) -> float:
    """Unit 02's default unconditional PixelCNN, trained with ``seed``: exact test bits/dim of p(x)."""
    x_train, x_test = data.load_digits("train")[0], data.load_digits("test")[0]
    train.seed_everything(seed)
    model = autoregressive.PixelCNN(hidden=32, n_blocks=3)
    result = train.fit(model, lambda m, x: m.loss(x), x_train, steps=500, batch_size=64, lr=5e-3, ema_decay=None,
                       seed=seed, progress=False)
    return result.model.bits_per_dim(x_test)


def notebook_vae(seed: int) -> V.VAE:
    """The 2-D VAE of notebook 03 §6, trained as that cell trains it (its by-hand loop, its seeds)."""
    x_train = data.load_digits("train")[0]
    torch.manual_seed(seed)
    model = V.VAE(latent_dim=2, hidden=128)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    g_batch = torch.Generator().manual_seed(1000 * seed + 1)
    g_eps = torch.Generator().manual_seed(1000 * seed + 2)
    for _ in range(600):
        x = x_train[torch.randint(0, len(x_train), (128,), generator=g_batch)]
        mu, logvar = model.encode(x)
        z = V.reparameterize(mu, logvar, noise=torch.randn(mu.shape, generator=g_eps))
        loss = -V.elbo(V.categorical_log_prob(model.decode(z), x), mu, logvar).mean() / 64
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model.eval()


def gap_row(seed: int) -> dict[str, float]:
    x_test = data.load_digits("test")[0]
    quad = E.quadrature(notebook_vae(seed), x_test)
    gaps = E.inference_gaps(quad)
    total = gaps["log_px"] - gaps["elbo"]
    return {"exact bits/dim": float(-quad.log_px().mean() / (64 * LN2)),
            "gap (nats)": float(total.mean()), "approximation": float(gaps["approximation"].mean()),
            "amortisation": float(gaps["amortisation"].mean()),
            "amortisation share %": float(100 * gaps["amortisation"].sum() / total.sum())}


def table(title: str, seeds: list[int], rows: dict[str, list[float]]) -> None:
    print(f"\n{title}: seeds {' '.join(map(str, seeds))}, one torch thread, CPU")
    print(f"{'quantity':<24} {'per seed':<30} {'median':>8} {'min–max':>16}")
    for name, values in rows.items():
        per = " ".join(f"{v:.4g}" for v in values)
        print(f"{name:<24} {per:<30} {statistics.median(values):>8.4g} {min(values):>7.4g}–{max(values):<8.4g}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (default: 0 1 2)")
    parser.add_argument("--only", choices=("pixelcnn", "gaps"), help="one of the two tables")
    args = parser.parse_args(argv)
    if len(args.seeds) < 3:
        parser.error(f"--seeds: a quoted range needs at least three seeds, got {len(args.seeds)}")
    torch.set_num_threads(1)
    if args.only in (None, "pixelcnn"):
        start = time.process_time()
        bits = [pixelcnn_bits(s) for s in args.seeds]
        table("unit 02's unconditional PixelCNN (hidden 32, 3 blocks, 500 steps): test −log₂ p(x)/64, exact",
              args.seeds, {"bits/dim": bits})
        print(f"({time.process_time() - start:.0f} CPU-s)")
    if args.only in (None, "gaps"):
        start = time.process_time()
        rows = [gap_row(s) for s in args.seeds]
        table("notebook 03's 2-D VAE, whole test split (360 digits), 251×251 grid over [−5, 5]²", args.seeds,
              {k: [r[k] for r in rows] for k in rows[0]})
        print(f"({time.process_time() - start:.0f} CPU-s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

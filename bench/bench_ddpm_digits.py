"""The digits diffusion models of notebook 04b over training seeds: the table behind the ranges its text quotes.

    python bench/bench_ddpm_digits.py                          # the four shipped models, seeds 0 1 2
    python bench/bench_ddpm_digits.py --seeds 0 1 2 --save coursekit/assets   # also write seed 0's models there
    python bench/bench_ddpm_digits.py --likelihood             # + unconditional PixelCNN and VAE, same data

The notebook loads one trained copy of each model (seed 0, ``coursekit.diffusion.pretrained``); its own runs over
``COURSEKIT_SEED`` (bench/bench_claims.py 04b) vary only the sampling. This script trains every model again per seed
with exactly the shipped settings (``diffusion.train_pretrained``) and measures what the text says about them, so
the quoted ranges cover the training seed as well:

- digits-eps / digits-vlb / digits-x0: FD / reference at n = 500 against the test split, near copies, and the
  variational bound in bits/dim on the 360 test digits (DDPM Table 2: L_simple against L);
- digits-eps with σ_t² = β̃_t (exercise 2) and where its bound's nats go (L_0, t = 2…10, t = 11…T);
- digits-cond at guidance w = 0, 0.5, 1, 1.5, 2, 3, 4, 6: share recognised as the asked digit, FD / reference,
  near copies (section 4, exercise 1);
- a conditional model trained without label dropout for 1,500 steps, at w = 0 and 4 (exercise 3);
- ``--likelihood``: the bits/dim of an unconditional PixelCNN (exact) and VAE (IWAE-500 and ELBO) on the same
  test digits, with ``coursekit compare``'s budgets (1,500 and 1,000 steps).

One torch thread; sample seeds fixed per training seed; prints per-seed values, the median and the range.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from coursekit import diffusion as D  # noqa: E402
from coursekit import metrics, train  # noqa: E402
from coursekit.data import load_digits  # noqa: E402
from coursekit.diffusion.pretrained import FIT  # noqa: E402

N = 500
DIGITS = [name for name, spec in D.PRETRAINED.items() if spec.data == "digits"]
WS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)
EX3_STEPS = 1500


def report(x: torch.Tensor, labels: torch.Tensor | None = None) -> dict:
    r = metrics.digit_report(x.cpu(), None if labels is None else labels.cpu())
    return {"fd_ratio": r["fd_ratio"], "copies": 100 * r["near_copy_rate"],
            **({"accuracy": 100 * r["accuracy"]} if labels is not None else {})}


def bench_seed(seed: int, save: Path | None, names: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    x_test, _ = load_digits("test")
    s = D.digits_schedule()
    models = {}
    for name in names:
        start = time.process_time()
        result, _ = D.train_pretrained(name, seed=seed, device="cpu", progress=False)
        models[name] = result.model
        print(f"  seed {seed}: trained {name} ({result.steps} steps, {time.process_time() - start:.0f} CPU-s)",
              flush=True)
        if save is not None and seed == 0:
            D.save_pretrained(result, name, save / D.PRETRAINED[name].file.name, seed=seed)
    for name in [n for n in ("digits-eps", "digits-vlb", "digits-x0") if n in models]:
        spec = D.PRETRAINED[name]
        x = D.sample(models[name], s, (N, 1, 8, 8), generator=torch.Generator().manual_seed(1000 + seed),
                     prediction=spec.prediction)
        for key, value in report(x).items():
            out[f"{name}/{key}"] = value
        bound = D.variational_bound(models[name], s, x_test, generator=torch.Generator().manual_seed(seed),
                                    prediction=spec.prediction)
        out[f"{name}/bpd"] = float(bound.bits_per_dim.mean())
        if name == "digits-eps":
            per_t = bound.steps.mean(0)
            out["digits-eps/L0_nats"] = float(per_t[0])
            out["digits-eps/t2-10_nats"] = float(per_t[1:10].sum())
            out["digits-eps/t11-T_nats"] = float(per_t[10:].sum())
    if "digits-eps" in models:
        x = D.sample(models["digits-eps"], s, (N, 1, 8, 8), variance="beta_tilde",
                     generator=torch.Generator().manual_seed(1000 + seed))
        for key, value in report(x).items():
            out[f"digits-eps beta_tilde/{key}"] = value
    if "digits-cond" not in models:
        return out
    y = torch.arange(N) % 10
    for w in WS:
        x = D.sample(models["digits-cond"], s, (N, 1, 8, 8), y=y, guidance_scale=w,
                     generator=torch.Generator().manual_seed(1000 + seed))
        for key, value in report(x, y).items():
            out[f"cond w={w:g}/{key}"] = value
    x_train, y_train = load_digits("train")
    train.seed_everything(seed)
    net = D.new_denoiser("digits-cond")
    no_drop = train.fit(net, lambda m, x0, yy: D.ddpm_loss(m, s, x0, y=yy, p_uncond=0.0, weighting="min_snr",
                                                           gamma=5.0),
                        (x_train, y_train), steps=EX3_STEPS, seed=seed, progress=False, **FIT)
    for w in (0.0, 4.0):
        x = D.sample(no_drop.model, s, (N, 1, 8, 8), y=y, guidance_scale=w,
                     generator=torch.Generator().manual_seed(1000 + seed))
        for key, value in report(x, y).items():
            out[f"no dropout w={w:g}/{key}"] = value
    return out


def bench_likelihood(seed: int) -> dict[str, float]:
    """Unconditional PixelCNN (exact) and VAE (IWAE-500, ELBO) bits/dim on the test digits, compare's budgets."""
    from coursekit import compare
    from coursekit.autoregressive import PixelCNN

    x_train, _ = load_digits("train")
    x_test, _ = load_digits("test")
    budget = compare.FULL_BUDGETS["pixelcnn"]
    train.seed_everything(seed)
    model = PixelCNN(hidden=64, n_blocks=5)                    # compare's PixelCNN without the class label
    result = train.fit(model, lambda m, x: m.loss(x), x_train, steps=budget.steps, batch_size=budget.batch_size,
                       lr=budget.lr, ema_decay=None, seed=seed, progress=False)
    out = {"pixelcnn/bpd": float(result.model.bits_per_dim(x_test))}
    rows = compare.compare(only=["vae"], seed=seed, progress=False)
    vae = next(r for r in rows if r.family == "vae")
    out["vae/iwae_bpd"], out["vae/elbo_bpd"] = float(vae.nll_bpd), float(vae.bound_bpd)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--save", type=Path, default=None, help="write seed 0's models into this folder")
    parser.add_argument("--likelihood", action="store_true", help="also the unconditional PixelCNN and VAE")
    parser.add_argument("--only-likelihood", action="store_true", help="only the PixelCNN and VAE rows")
    parser.add_argument("--only", default=",".join(DIGITS), help=f"models among {', '.join(DIGITS)} (default: all)")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    if not names or any(n not in DIGITS for n in names):
        parser.error(f"--only: expected names among {', '.join(DIGITS)}, got {args.only!r}")
    torch.set_num_threads(1)
    rows: dict[str, list[float]] = {}
    for seed in args.seeds:
        start = time.process_time()
        values = {} if args.only_likelihood else bench_seed(seed, args.save, names)
        if args.likelihood or args.only_likelihood:
            values.update(bench_likelihood(seed))
        print(f"seed {seed} done in {time.process_time() - start:.0f} CPU-s", flush=True)
        for key, value in values.items():
            rows.setdefault(key, []).append(value)
    print(f"\nnotebook 04b's models, training seeds {' '.join(map(str, args.seeds))}, n = {N}, CPU, one torch thread")
    print(f"{'quantity':<34} {'per seed':<30} {'median':>9} {'min–max':>17}")
    for key, values in rows.items():
        per = " ".join(f"{v:.4g}" for v in values)
        print(f"{key:<34} {per:<30} {statistics.median(values):>9.4g} {min(values):>8.4g}–{max(values):<8.4g}")
    return 0 if all(math.isfinite(v) for vs in rows.values() for v in vs) else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""DDPM quality levers at equal optimiser steps on the embedded digits (issue 18): one table, every variant and seed.

Each row trains a fresh model with a recipe (``digits-cond`` or ``digits``) changed by one lever, for a fixed number
of optimiser steps (not seconds: on a shared machine only steps and CPU seconds mean anything), samples ``--n``
images with Algorithm 2 (sampling seed = training seed + 1, the recipe's guidance w) and scores them with
coursekit.metrics (FD / floor in the shipped metric classifier's feature space; for conditional recipes the % of
samples classified as the asked digit). Training CPU seconds are process CPU time (one torch thread by default).

Variants (``--variants``, comma-separated):
- ``simple``: the recipe with L_simple (ε-prediction, DDPM Algorithm 1; the digits recipes now weight by min-SNR, γ = 5
  conditional, γ = 10 unconditional);
- ``minsnr<γ>`` (e.g. ``minsnr5``, ``minsnr1``, ``minsnr20``): ddpm_loss(weighting="min_snr", gamma=γ), each
  example weighted by w_t = min(SNR_t, γ) / SNR_t, SNR_t = ᾱ_t / (1 − ᾱ_t) (Hang et al. 2023), via ``Recipe.loss``;
- ``v``: v-prediction, target v = √ᾱ_t ε − √(1 − ᾱ_t) x_0; Algorithm 2 gets ε = √ᾱ_t v + √(1 − ᾱ_t) x_t;
- ``shift``: each training digit moved by −1, 0 or +1 pixel in each direction (border filled with −1).
``v`` and ``shift`` live only here (they lost at 4,000 steps, see docs/ddpm-cli.md); the min-SNR option is the
package's own.

    python bench/bench_levers.py --recipe digits-cond --steps 12957 --seeds 0,1,2 --variants simple,minsnr5
    python bench/bench_levers.py --recipe digits --steps 15846 --variants simple,minsnr1,minsnr5,minsnr20
    python bench/bench_levers.py --recipe digits --steps 4000 --seeds 0,1 --variants simple,minsnr5,v,shift

Prints one line per finished row (and appends it to ``--jsonl`` if given), then the table and the median and range
of FD / floor per variant. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from coursekit import diffusion as D
from coursekit import metrics
from coursekit.recipes import Recipe, recipe
from coursekit.train import fit, seed_everything


class VToEps(nn.Module):
    """Turns a v-predicting network into the ε_θ that Algorithm 2 expects: ε = √ᾱ_t v + √(1 − ᾱ_t) x_t."""

    def __init__(self, net: nn.Module, s: D.Schedule):
        super().__init__()
        self.net, self.s = net, s

    def forward(self, x_t: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        v = self.net(x_t, t) if y is None else self.net(x_t, t, y)
        return self.s.at(self.s.sqrt_alpha_bars, t, x_t.ndim) * v + self.s.at(
            self.s.sqrt_one_minus_alpha_bars, t, x_t.ndim) * x_t


def v_loss(model: nn.Module, s: D.Schedule, x0: Tensor, y: Tensor | None = None, p_uncond: float = 0.0) -> Tensor:
    """‖v − v_θ(x_t, t)‖² averaged, v = √ᾱ_t ε − √(1 − ᾱ_t) x_0 (t ~ U{1..T}, ε ~ N(0, I))."""
    t = torch.randint(1, s.T + 1, (x0.shape[0],), device=x0.device)
    eps = torch.randn_like(x0)
    a, b = s.at(s.sqrt_alpha_bars, t, x0.ndim), s.at(s.sqrt_one_minus_alpha_bars, t, x0.ndim)
    x_t = a * x0 + b * eps                                           # √ᾱ_t x_0 + √(1 − ᾱ_t) ε
    pred = model(x_t, t) if y is None else model(x_t, t, D.drop_labels(y, p_uncond))
    return F.mse_loss(pred, a * eps - b * x0)


def shift(x0: Tensor) -> Tensor:
    """Each image moved by (dy, dx) ∈ {−1, 0, 1}², the border filled with the background −1."""
    n, h, w = x0.shape[0], x0.shape[-2], x0.shape[-1]
    padded = F.pad(x0, (1, 1, 1, 1), value=-1.0)
    dy, dx = torch.randint(0, 3, (n,)), torch.randint(0, 3, (n,))
    rows = (dy[:, None] + torch.arange(h))[:, :, None].expand(n, h, w)
    cols = (dx[:, None] + torch.arange(w))[:, None, :].expand(n, h, w)
    return padded[torch.arange(n)[:, None, None], 0, rows, cols].unsqueeze(1)


def train_variant(r: Recipe, variant: str, steps: int, seed: int) -> tuple[nn.Module, D.Schedule, int]:
    """(ε_θ ready for Algorithm 2, schedule, optimiser steps) for one variant of recipe r."""
    if variant == "simple" or variant.startswith("minsnr"):
        loss = {} if variant == "simple" else {"weighting": "min_snr", "gamma": float(variant[len("minsnr"):])}
        result, s = replace(r, loss=loss).train(steps=steps, seconds=None, seed=seed, progress=False)
        return result.model, s, result.steps
    r = replace(r, loss={})                                          # v and shift: on top of L_simple
    s = r.build_schedule()
    base = r.loss_fn(s)
    if variant == "v":
        loss = ((lambda m, x0, y: v_loss(m, s, x0, y, r.p_uncond)) if r.conditional
                else (lambda m, x0: v_loss(m, s, x0)))
    elif variant == "shift":
        loss = (lambda m, x0, y: base(m, shift(x0), y)) if r.conditional else (lambda m, x0: base(m, shift(x0)))
    else:
        raise ValueError(f"unknown variant {variant!r} (simple, minsnr<γ>, v, shift)")
    seed_everything(seed)                                            # as Recipe.train: the seed fixes the weights
    model = r.build_model()
    result = fit(model, loss, r.training_data(), seed=seed, progress=False, **{**r.fit, "steps": steps,
                                                                                "seconds": None})
    return (VToEps(result.model, s) if variant == "v" else result.model), s, result.steps


def run(r: Recipe, variant: str, steps: int, seed: int, n: int) -> dict:
    load = os.getloadavg()[0]
    cpu, wall = time.process_time(), time.perf_counter()
    model, s, done = train_variant(r, variant, steps, seed)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    model.eval()
    with torch.no_grad():
        x, asked = r.draw(model, s, n, seed=seed + 1)
    rep = metrics.digit_report(x.clamp(-1, 1), asked)
    return dict(recipe=r.name, variant=variant, seed=seed, steps=done, cpu_s=round(cpu, 1), wall_s=round(wall, 1),
                load=round(load, 1), n=n, fd=rep["fd"], fd_ratio=rep["fd_ratio"],
                accuracy=rep.get("accuracy"))


def _line(row: dict) -> str:
    acc = "" if row["accuracy"] is None else f"{100 * row['accuracy']:6.1f}"
    return (f"{row['recipe']:<12} {row['variant']:<9} {row['seed']:>4} {row['steps']:>6} {row['cpu_s']:>7.1f} "
            f"{row['steps'] / max(row['cpu_s'], 1e-9):>9.0f} {row['load']:>5.1f} {row['fd']:>7.2f} "
            f"{row['fd_ratio']:>8.2f} {acc:>6}")


HEAD = (f"{'recipe':<12} {'variant':<9} {'seed':>4} {'steps':>6} {'CPU s':>7} {'steps/CPU-s':>9} {'load':>5} "
        f"{'FD':>7} {'FD/floor':>8} {'asked%':>6}")


def summary(rows: list[dict]) -> None:
    print(f"\n{'variant':<9} {'seeds':>5} {'FD/floor median':>15} {'min–max':>13} {'asked % min':>11}")
    for variant in dict.fromkeys(r["variant"] for r in rows):
        mine = [r for r in rows if r["variant"] == variant]
        ratios = [r["fd_ratio"] for r in mine]
        accs = [r["accuracy"] for r in mine if r["accuracy"] is not None]
        print(f"{variant:<9} {len(mine):>5} {statistics.median(ratios):>15.2f} "
              f"{min(ratios):>6.2f}–{max(ratios):<6.2f} {format(100 * min(accs), '.1f') if accs else '—':>11}")


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipe", choices=("digits-cond", "digits"), default="digits-cond")
    p.add_argument("--steps", type=int, default=None,
                   help="optimiser steps per row (default: 12,957 conditional, 15,846 unconditional: the "
                        "quiet-core 30 s demo's and 60 s train's step counts)")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated training seeds (default 0,1,2)")
    p.add_argument("--variants", default="simple,minsnr5", help="comma-separated (default simple,minsnr5)")
    p.add_argument("--n", type=int, default=None,
                   help="samples scored per row (default: 500 conditional as `coursekit ddpm demo`, 1000 "
                        "unconditional as `coursekit ddpm sample`)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--jsonl", default=None, help="also append each finished row to this file as a JSON line")
    args = p.parse_args(argv)
    r = recipe(args.recipe)
    steps = args.steps or (12957 if r.conditional else 15846)
    n = args.n or (500 if r.conditional else 1000)
    seeds = [int(v) for v in args.seeds.split(",")]
    variants = args.variants.split(",")
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), {os.cpu_count()} CPUs, recipe {r.name}, "
          f"{steps} steps, n = {n}, guidance w = {r.sample.get('guidance_scale')}, seeds {seeds}, "
          f"FD floor {metrics.frechet_floor():.3f}", flush=True)
    r.training_data()                               # load the data once, outside the first row's CPU clock
    print(HEAD, flush=True)
    rows = []
    for seed in seeds:                              # seed-major: an interrupted run still pairs the variants
        for variant in variants:
            row = run(r, variant, steps, seed, n)
            rows.append(row)
            print(_line(row), flush=True)
            if args.jsonl:
                with open(args.jsonl, "a") as f:
                    f.write(json.dumps(row) + "\n")
    summary(rows)
    return rows


if __name__ == "__main__":
    main()

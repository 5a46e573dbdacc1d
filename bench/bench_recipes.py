"""Every recipe at its default number of optimiser steps, run as ``coursekit ddpm demo`` runs it: the figures
``coursekit.recipes`` and docs/ddpm-cli.md quote (issue 28: numbers that reproduce; issue 31: the corrected metric).

Each row is ``coursekit ddpm demo --recipe NAME --seed S --n 500`` in this process (the CLI's own train and sample
functions, one torch thread, AdamW's fused kernel as the CLI uses it): train for the recipe's ``fit["steps"]``, draw
n samples with Algorithm 2 (sampling seed S + 1) and score them with ``metrics.digit_report`` — FD against the unseen
test split divided by ``frechet_reference(n)`` (the FD of n real digits: 1 = as good as real data), KID ×1000, the
share of near copies of training digits (unseen real digits: 0.05) and, for conditional recipes, the share
classified as the asked digit — or, for a 2-D set, ``metrics.toy_report`` (modes covered, % high quality, sliced
Wasserstein). ``fd_ratio_novel`` is the FD / reference of the samples that are not near copies, at their own n (what
the model makes up, without the copies that FD counts as real digits). Times are process CPU seconds
(``time.process_time``, one thread): on a shared machine the wall clock means nothing, and a quiet core runs about as
many steps per wall second as here per CPU-second.

    python bench/bench_recipes.py                                  # digits-cond and digits, seeds 0, 1, 2
    python bench/bench_recipes.py --recipes digits --variants recipe,eps   # digits: x̂_0 (the recipe) vs ε
    python bench/bench_recipes.py --recipes ring8,moons --seeds 0,1,2
    python bench/bench_recipes.py --recipes digits-cond --steps 12000      # another number of steps

Variants (``--variants``): ``recipe`` (as it is), ``eps`` / ``x0`` (the network predicts ε / x̂_0, the loss
weighting kept), ``foreach`` (train.fit's default AdamW kernel instead of the CLI's fused one). Prints one line per
run, then the median and range per recipe and variant; ``--jsonl`` also appends each run as a JSON line.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from coursekit.cli import build_parser, set_threads
from coursekit.cli import ddpm as cli
from coursekit.recipes import RECIPES, Recipe, recipe

VARIANTS = ("recipe", "eps", "x0", "foreach")
DIGIT_KEYS = ("fd_ratio", "kid", "near_copy_rate", "accuracy", "fd_ratio_novel")
TOY_KEYS = ("modes", "high_quality", "swd")


def variant_of(r: Recipe, variant: str) -> Recipe:
    if variant in ("eps", "x0"):
        return replace(r, prediction=variant)
    if variant in ("recipe", "foreach"):
        return r
    raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")


def run(name: str, variant: str, seed: int, n: int, steps: int | None) -> dict:
    """One ``coursekit ddpm demo`` run (the CLI's code path, its printed tables swallowed)."""
    argv = ["ddpm", "demo", "--recipe", name, "--seed", str(seed), "--n", str(n)]
    r = variant_of(recipe(name), variant)
    fit_before = dict(cli.CLI_FIT)
    with tempfile.TemporaryDirectory() as out, contextlib.redirect_stdout(io.StringIO()):
        args = build_parser().parse_args([*argv, *(["--steps", str(steps)] if steps else []), "--out", out])
        threads = set_threads(1)
        if variant == "foreach":
            cli.CLI_FIT.clear()
        try:
            cpu = time.process_time()
            path = cli.train_command(args, r)
            train_cpu = time.process_time() - cpu
            model, r, info = cli.load_run(path)
            cpu = time.process_time()
            report = cli._sample(argparse.Namespace(n=n, seed=seed + 1, guidance=None), model, r, info, Path(out))
            sample_cpu = time.process_time() - cpu
            if r.data == "digits":
                report.update(novel_report(torch.load(Path(out) / "samples.pt")["samples"].clamp(-1, 1)))
        finally:
            cli.CLI_FIT.clear()
            cli.CLI_FIT.update(fit_before)
            torch.set_num_threads(threads)
    return dict(recipe=name, variant=variant, seed=seed, n=n, steps=info["steps"], train_cpu_s=round(train_cpu, 1),
                sample_cpu_s=round(sample_cpu, 1), load=round(os.getloadavg()[0], 1),
                **{k: float(v) for k, v in report.items() if k != "n"})


def novel_report(samples: torch.Tensor) -> dict[str, float]:
    """FD / reference of the samples that are NOT near copies of a training digit (farther from every train digit
    than ``metrics.copy_threshold()``), at their own n: how good what the model makes up is. A near copy is a real
    digit, so FD (against any real digits) counts copying as quality; this figure does not."""
    from coursekit import metrics
    from coursekit.data import load_digits

    train = load_digits("train")[0].flatten(1).double()
    nearest = torch.cdist(samples.flatten(1).double(), train).min(dim=1).values
    novel = samples[nearest >= metrics.copy_threshold()]
    if len(novel) < 10:
        return {"n_novel": float(len(novel))}
    fd = metrics.frechet_distance(novel)
    return {"n_novel": float(len(novel)), "fd_ratio_novel": fd / metrics.frechet_reference(len(novel))}


def _fmt(row: dict, key: str) -> str:
    value = row.get(key)
    if value is None:
        return "—"
    if key in ("near_copy_rate", "accuracy"):
        return f"{100 * value:.1f} %"
    return f"{value:.3f}" if key != "modes" else f"{value:.0f}"


def line(row: dict) -> str:
    keys = TOY_KEYS if "swd" in row else DIGIT_KEYS
    metrics = "  ".join(f"{k} {_fmt(row, k)}" for k in keys)
    return (f"{row['recipe']:<16} {row['variant']:<8} seed {row['seed']}  {row['steps']:>6} steps  "
            f"train {row['train_cpu_s']:>6.1f} CPU-s  sample+metrics {row['sample_cpu_s']:>5.1f} CPU-s  "
            f"load {row['load']:>4.1f}  {metrics}")


def summary(rows: list[dict]) -> None:
    print(f"\n{'recipe':<16} {'variant':<8} {'seeds':>5} {'steps':>6} {'train CPU-s':>11}  median (range) per figure")
    for key in dict.fromkeys((r["recipe"], r["variant"]) for r in rows):
        mine = [r for r in rows if (r["recipe"], r["variant"]) == key]
        keys = TOY_KEYS if "swd" in mine[0] else DIGIT_KEYS
        cells = []
        for k in keys:
            values = [r[k] for r in mine if r.get(k) is not None]
            if values:
                lo, mid, hi = min(values), statistics.median(values), max(values)
                cells.append(f"{k} {_fmt({k: mid}, k)} ({_fmt({k: lo}, k)}–{_fmt({k: hi}, k)})")
        cpu = statistics.median(r["train_cpu_s"] for r in mine)
        print(f"{key[0]:<16} {key[1]:<8} {len(mine):>5} {mine[0]['steps']:>6} {cpu:>11.1f}  " + "; ".join(cells))


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipes", default="digits-cond,digits", help=f"comma-separated among {','.join(RECIPES)}")
    p.add_argument("--variants", default="recipe", help=f"comma-separated among {','.join(VARIANTS)}")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated training seeds (sampling: seed + 1)")
    p.add_argument("--n", type=int, default=500, help="samples scored per run (default 500, as the demo)")
    p.add_argument("--steps", type=int, default=None, help="optimiser steps (default: each recipe's own)")
    p.add_argument("--jsonl", default=None, help="also append each run to this file as a JSON line")
    args = p.parse_args(argv)
    names, variants = args.recipes.split(","), args.variants.split(",")
    for name in names:
        recipe(name)                                    # an unknown name fails here, before any training
    for v in variants:
        variant_of(recipe(names[0]), v)
    seeds = [int(v) for v in args.seeds.split(",")]
    print(f"torch {torch.__version__}, 1 thread, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
          f"n = {args.n}; times are process CPU seconds", flush=True)
    rows = []
    for name in names:
        for seed in seeds:
            for variant in variants:
                row = run(name, variant, seed, args.n, args.steps)
                rows.append(row)
                print(line(row), flush=True)
                if args.jsonl:
                    with open(args.jsonl, "a") as f:
                        f.write(json.dumps(row) + "\n")
    summary(rows)
    return rows


if __name__ == "__main__":
    sys.exit(main() and 0)

"""DDPM quality levers at equal optimiser steps on the embedded digits (issue 18): one table, every variant and seed.

Each row trains a fresh model with a recipe (``digits-cond`` or ``digits``) changed by one lever, for a fixed number
of optimiser steps (not seconds: on a shared machine only steps and CPU seconds mean anything), samples ``--n``
images with Algorithm 2 (sampling seed = training seed + 1, the recipe's guidance w) and scores them with
``metrics.digit_report`` (the FD against the unseen test split divided by ``frechet_reference(n)``, the FD of n real
digits, so 1 is as good as real data; KID ×1000; the share of near copies of training digits; for conditional
recipes the % of samples classified as the asked digit). Training CPU seconds are process CPU time (one torch thread
by default).

Variants (``--variants``, comma-separated):
- ``simple``: the recipe with L_simple (DDPM Algorithm 1 for ε; the digits recipes now weight by min-SNR, γ = 5
  conditional, γ = 10 unconditional);
- ``minsnr<γ>`` (e.g. ``minsnr5``, ``minsnr1``, ``minsnr20``): ddpm_loss(weighting="min_snr", gamma=γ), each
  example's ε-error weighted by w_t = min(SNR_t, γ) / SNR_t, SNR_t = ᾱ_t / (1 − ᾱ_t) (Hang et al. 2023), via
  ``Recipe.loss``;
- a prefix ``eps:`` or ``x0:`` (e.g. ``eps:minsnr10``, ``x0:minsnr10``, ``x0:simple``) sets what the network
  predicts (``Recipe.prediction``: ε, or x_0 with ddpm_loss(prediction="x0") and Algorithm 2 stepping to
  μ̃_t(x̂_0, x_t)); without a prefix the recipe's own (``digits``: x0, ``digits-cond``: eps);
- ``v``: v-prediction, target v = √ᾱ_t ε − √(1 − ᾱ_t) x_0; Algorithm 2 gets ε = √ᾱ_t v + √(1 − ᾱ_t) x_t;
- ``shift``: each training digit moved by −1, 0 or +1 pixel in each direction (border filled with −1).
- ``recipe``: the recipe as it is;
- ``centre``: the recipe's loss on per-pixel centred data, (x − μ) / σ with μ the per-pixel train mean and σ the
  overall std, samples mapped back by x σ + μ (the slides' x_0 in [−1, 1] becomes this centred x_0);
- ``cosine``: the recipe with the cosine β schedule (Nichol & Dhariwal 2021) of the same T;
- ``T<n>`` (e.g. ``T100``): the recipe with a chain of n steps, β scaled by 1000/n (``recipes.scaled_linear``).
``v``, ``shift`` and ``centre`` live only here (v and shift lost at 4,000 steps, centring gained too little to
change the slides' data space, see docs/ddpm-cli.md); min-SNR and x0 are the package's own options.

    python bench/bench_levers.py --recipe digits-cond --seeds 0,1,2 --variants simple,minsnr5
    python bench/bench_levers.py --recipe digits --variants eps:simple,eps:minsnr1,eps:minsnr5,eps:minsnr20
    python bench/bench_levers.py --recipe digits --steps 4000 --seeds 0,1 --variants eps:simple,eps:minsnr5,v,shift
    python bench/bench_levers.py --recipe digits --variants eps:minsnr10,x0:minsnr10,x0:minsnr5,x0:simple
    python bench/bench_levers.py --recipe digits-cond --variants recipe,T100,cosine --resample 2
    python bench/bench_levers.py --recipe digits-cond --variants centre,x0:minsnr5,x0:minsnr10
    python bench/bench_levers.py --recipe digits-cond --variants recipe --seeds 0 --steps 40000
(``digits`` predicts x̂_0 since 2026-11-30: the ε rows of the earlier tables need the ``eps:`` prefix.)

Budgets default to each recipe's own number of steps (``recipe.fit["steps"]``) and n = 500 samples (the course's one
sample size for FD). Prints one line per finished row (and appends it to ``--jsonl`` if given), then the median and
range of FD / reference per variant. Beside it, the near-copy rate (% of samples closer to a training digit than 95 %
of unseen test digits are; real unseen digits: 5 %): FD cannot tell a model that replays its training digits from
one that generalises, this column can. (Until 2026-12 this bench scored FD against the train split divided by a
fixed floor; the tables in docs/ddpm-cli.md say which metric each used.) Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from coursekit import diffusion as D
from coursekit import metrics
from coursekit.recipes import Recipe, recipe, scaled_linear
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


def centred(x: Tensor) -> tuple[Tensor, Tensor, float]:
    """Per-pixel centring: ((x − μ) / σ, μ, σ) with μ the per-pixel mean of x and σ its overall std."""
    mu, sigma = x.mean(0, keepdim=True), float(x.std())
    return (x - mu) / sigma, mu, sigma


def train_variant(r: Recipe, variant: str, steps: int, seed: int
                  ) -> tuple[nn.Module, D.Schedule, int, Callable[[Tensor], Tensor]]:
    """(the network for Algorithm 2, schedule, optimiser steps, the map from sampled x to pixel space) for one
    variant of recipe r (r.prediction says what the network predicts)."""
    keep = lambda x: x                                               # noqa: E731 (samples are pixels already)
    if variant in ("recipe", "simple", "cosine") or variant.startswith(("T", "minsnr")):
        if variant == "simple" or variant.startswith("minsnr"):
            r = replace(r, loss={} if variant == "simple" else {"weighting": "min_snr",
                                                                "gamma": float(variant[len("minsnr"):])})
        elif variant == "cosine":
            r = replace(r, schedule={"name": "cosine", "T": r.schedule["T"]})
        elif variant.startswith("T"):
            r = replace(r, schedule=scaled_linear(int(variant[1:])))
        result, s = r.train(steps=steps, seconds=None, seed=seed, progress=False)
        return result.model, s, result.steps, keep
    s = r.build_schedule()
    data, post = r.training_data(), keep
    if variant == "centre":                                          # the recipe's loss on centred pixels
        x, mu, sigma = centred(data[0])
        data, post = (x, *data[1:]), (lambda out: out * sigma + mu)
        loss = r.loss_fn(s)
    else:
        r = replace(r, loss={})                                      # v and shift: on top of L_simple
        base = r.loss_fn(s)
        if variant == "v":
            loss = ((lambda m, x0, y: v_loss(m, s, x0, y, r.p_uncond)) if r.conditional
                    else (lambda m, x0: v_loss(m, s, x0)))
        elif variant == "shift":
            loss = (lambda m, x0, y: base(m, shift(x0), y)) if r.conditional else (lambda m, x0: base(m, shift(x0)))
        else:
            raise ValueError(f"unknown variant {variant!r} (recipe, simple, minsnr<γ>, v, shift, centre, cosine, "
                             f"T<steps>)")
    seed_everything(seed)                                            # as Recipe.train: the seed fixes the weights
    model = r.build_model()
    result = fit(model, loss, data, seed=seed, progress=False, **{**r.fit, "steps": steps, "seconds": None})
    return (VToEps(result.model, s) if variant == "v" else result.model), s, result.steps, post


def split_prediction(r: Recipe, variant: str) -> tuple[Recipe, str]:
    """``x0:minsnr10`` → (r with prediction "x0", "minsnr10"); no prefix keeps the recipe's prediction."""
    prefix, sep, rest = variant.partition(":")
    if not sep:
        return r, variant
    if prefix not in ("eps", "x0"):
        raise ValueError(f"variant prefix must be eps: or x0:, got {variant!r}")
    return replace(r, prediction=prefix), rest


def run(r: Recipe, variant: str, steps: int, seed: int, n: int, resample: int = 0) -> dict:
    load = os.getloadavg()[0]
    cpu, wall = time.process_time(), time.perf_counter()
    rv, base_variant = split_prediction(r, variant)
    if base_variant in ("v", "shift"):                              # both are built on the ε form
        if ":" in variant and rv.prediction != "eps":
            raise ValueError(f"{variant!r}: v and shift are ε-prediction variants")
        rv = replace(rv, prediction="eps")
    model, s, done, post = train_variant(rv, base_variant, steps, seed)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    model.eval()
    with torch.no_grad():
        x, asked = rv.draw(model, s, n, seed=seed + 1)
    x = post(x).clamp(-1, 1)
    rep = metrics.digit_report(x, asked)
    again = []                                     # the same model, other sampling seeds: the protocol's own noise
    for k in range(resample):
        with torch.no_grad():
            xk, asked_k = rv.draw(model, s, n, seed=seed + 2 + k)
        again.append(round(metrics.digit_report(post(xk).clamp(-1, 1), asked_k)["fd_ratio"], 3))
    return dict(recipe=r.name, variant=variant, seed=seed, steps=done, cpu_s=round(cpu, 1), wall_s=round(wall, 1),
                load=round(load, 1), n=n, fd=rep["fd"], fd_ratio=rep["fd_ratio"], kid=rep["kid"],
                near_copy_rate=rep["near_copy_rate"], accuracy=rep.get("accuracy"), resampled=again)


def _line(row: dict) -> str:
    acc = "" if row["accuracy"] is None else f"{100 * row['accuracy']:6.1f}"
    return (f"{row['recipe']:<12} {row['variant']:<14} {row['seed']:>4} {row['steps']:>6} {row['cpu_s']:>7.1f} "
            f"{row['steps'] / max(row['cpu_s'], 1e-9):>9.0f} {row['load']:>5.1f} {row['fd']:>7.2f} "
            f"{row['fd_ratio']:>7.3f} {row['kid']:>7.2f} {100 * row['near_copy_rate']:>7.1f} {acc:>6}")


HEAD = (f"{'recipe':<12} {'variant':<14} {'seed':>4} {'steps':>6} {'CPU s':>7} {'steps/CPU-s':>9} {'load':>5} "
        f"{'FD':>7} {'FD/ref':>7} {'KID':>7} {'copies%':>7} {'asked%':>6}")


def summary(rows: list[dict]) -> None:
    print(f"\n{'variant':<14} {'seeds':>5} {'FD/ref median':>13} {'min–max':>13} {'KID med':>8} "
          f"{'copies %':>8} {'asked % min':>11}")
    for variant in dict.fromkeys(r["variant"] for r in rows):
        mine = [r for r in rows if r["variant"] == variant]
        ratios = [r["fd_ratio"] for r in mine]
        accs = [r["accuracy"] for r in mine if r["accuracy"] is not None]
        print(f"{variant:<14} {len(mine):>5} {statistics.median(ratios):>13.3f} "
              f"{min(ratios):>6.3f}–{max(ratios):<6.3f} {statistics.median(r['kid'] for r in mine):>8.2f} "
              f"{100 * statistics.median(r['near_copy_rate'] for r in mine):>8.1f} "
              f"{format(100 * min(accs), '.1f') if accs else '—':>11}")


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipe", choices=("digits-cond", "digits"), default="digits-cond")
    p.add_argument("--steps", type=int, default=None,
                   help="optimiser steps per row (default: the recipe's own, recipe.fit['steps'])")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated training seeds (default 0,1,2)")
    p.add_argument("--variants", default="simple,minsnr5", help="comma-separated (default simple,minsnr5)")
    p.add_argument("--n", type=int, default=None,
                   help="samples scored per row (default: 500, as `coursekit ddpm demo` and `ddpm sample`)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--resample", type=int, default=0,
                   help="also draw K more sample sets from each trained model (sampling seeds seed + 2 …) and print "
                        "their FD / reference: how much of a row's spread is the n-sample estimate itself")
    p.add_argument("--jsonl", default=None, help="also append each finished row to this file as a JSON line")
    args = p.parse_args(argv)
    r = recipe(args.recipe)
    steps = args.steps or r.fit["steps"]
    n = args.n or 500
    seeds = [int(v) for v in args.seeds.split(",")]
    variants = args.variants.split(",")
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), {os.cpu_count()} CPUs, recipe {r.name}, "
          f"{steps} steps, n = {n}, guidance w = {r.sample.get('guidance_scale')}, seeds {seeds}, "
          f"FD reference at n = {n}: {metrics.frechet_reference(n):.3f}", flush=True)
    r.training_data()                               # load the data once, outside the first row's CPU clock
    print(HEAD, flush=True)
    rows = []
    for seed in seeds:                              # seed-major: an interrupted run still pairs the variants
        for variant in variants:
            row = run(r, variant, steps, seed, n, args.resample)
            rows.append(row)
            print(_line(row), flush=True)
            if row["resampled"]:
                print(f"{'':<12} {'':<14} resampled FD / reference (sampling seeds {seed + 2}…): {row['resampled']}",
                      flush=True)
            if args.jsonl:
                with open(args.jsonl, "a") as f:
                    f.write(json.dumps(row) + "\n")
    summary(rows)
    return rows


if __name__ == "__main__":
    main()

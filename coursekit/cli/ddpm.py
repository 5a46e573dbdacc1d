"""coursekit ddpm train|sample|demo: the course's main job (DDPM on the embedded digits or a 2-D set).

    coursekit ddpm train --data digits --out runs/ddpm        # the recipe's 10,000 optimiser steps
    coursekit ddpm sample --checkpoint runs/ddpm/checkpoint.pt --n 500
    coursekit ddpm sample --sampler ddim --steps 25 --eta 0   # DDIM (unit 07): 25 network calls instead of T
    coursekit ddpm demo                      # both in one go: 6,000 steps, about half a minute on one core
    coursekit ddpm demo --seconds 60         # a time budget instead (what it reaches depends on the machine)

train runs Algorithm 1 with a named recipe (coursekit.recipes) for the recipe's number of optimiser steps (seeded:
the same model on every machine with one thread; --steps N for another number, --seconds S for a wall-clock budget)
and saves weights + recipe (schedule included) to checkpoint.pt in --out; sample runs Algorithm 2, writes
samples.png, denoising.png (x_t at several t of the trajectory) and samples.pt (the samples and their asked labels)
to --out, and prints the metrics (coursekit.metrics). Every value is checked before training starts; files are replaced
only when the run succeeds (Ctrl-C keeps the previous checkpoint and pictures).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import torch

from ..data import TOY_2D, load_digits
from . import (
    UsageError,
    add_device_options,
    add_out_option,
    add_seed_option,
    at_least,
    check_out_dir,
    files_only,
    nonnegative_float,
    positive_float,
    positive_int,
    staged_outputs,
)

DATA_CHOICES = ("digits", *TOY_2D)
CHECKPOINT = "checkpoint.pt"
MIN_SAMPLES = 2                      # the Fréchet distance needs a covariance
# What the CLI adds to a recipe's train.fit settings: AdamW's fused kernel, the same update up to float rounding and
# 1.13-1.22× the steps per CPU-second (bench/bench_step_rate.py). Recipe.train() alone keeps train.fit's default, so the
# runs of `coursekit compare` and notebook 01 (which train the digits-cond recipe too) stay as they were measured.
CLI_FIT = dict(fused=True)


# ---------------------------------------------------------------------------------------------------------
# printing
# ---------------------------------------------------------------------------------------------------------

def format_table(title: str, rows: list[tuple[str, object]]) -> str:
    """A two-column text table (floats get 4 significant digits)."""
    def fmt(v: object) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    cells = [(str(k), fmt(v)) for k, v in rows]
    width = max([len(k) for k, _ in cells] + [len(title) - 3, 6])
    vwidth = max([len(v) for _, v in cells] + [5])
    line = "+" + "-" * (width + 2) + "+" + "-" * (vwidth + 2) + "+"
    out = [line, f"| {title:<{width + vwidth + 3}} |", line]
    out += [f"| {k:<{width}} | {v:>{vwidth}} |" for k, v in cells]
    out.append(line)
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------------------
# checks (all before any work)
# ---------------------------------------------------------------------------------------------------------

def _choose_recipe(args: argparse.Namespace):
    """The recipe the options ask for; contradictory options are a UsageError."""
    from ..recipes import recipe, recipe_for, scaled_linear

    conditional = args.conditional
    if args.recipe:
        r = recipe(args.recipe)
        if args.data is not None and args.data != r.data:
            raise UsageError(f"--data: recipe {r.name!r} trains on {r.data!r}, got --data {args.data}")
        if conditional is not None and conditional != r.conditional:
            flag = "--conditional" if conditional else "--no-conditional"
            raise UsageError(f"{flag}: recipe {r.name!r} is {'' if r.conditional else 'un'}conditional")
    else:
        data = args.data or "digits"
        if conditional is None:         # default: conditional digits for the demo, unconditional otherwise
            conditional = args.conditional_default and data == "digits"
        if conditional and data != "digits":
            raise UsageError(f"--conditional: only the digits have class labels, got --data {data}")
        r = recipe_for(data, conditional)
    if args.T is not None:
        schedule = scaled_linear(args.T) if r.schedule.get("name") == "linear" else {**r.schedule, "T": args.T}
        r = dataclasses.replace(r, schedule=schedule)
    return r


def _check_guidance(guidance: float | None, r) -> None:
    if guidance is not None and not r.conditional:
        raise UsageError(f"--guidance: classifier-free guidance needs a conditional model, but recipe {r.name!r} "
                         f"is unconditional (train with --conditional on digits)")


def _eta(text: str) -> float:
    """``--eta``: DDIM's η, a number in [0, 1] (0 deterministic, 1 Algorithm 2's stochasticity)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return value


def _check_sampler(args: argparse.Namespace, r) -> None:
    """--steps and --eta belong to --sampler ddim; --steps at most the model's T; DDIM needs an ε- or x̂_0-model."""
    if getattr(args, "sampler", "ddpm") != "ddim":
        for option, value in (("--steps", getattr(args, "steps", None)), ("--eta", getattr(args, "eta", None))):
            if value is not None:
                raise UsageError(f"{option}: only with --sampler ddim (Algorithm 2 takes all T steps)")
        return
    T = r.schedule["T"]
    if args.steps is not None and args.steps > T:
        raise UsageError(f"--steps: expected at most the model's T = {T} network calls, got {args.steps}")
    if r.prediction not in ("eps", "x0"):
        raise UsageError(f"--sampler: DDIM needs a model that predicts eps or x0, recipe {r.name!r} predicts "
                         f"{r.prediction!r}")


def _budget(args: argparse.Namespace, r) -> tuple[int | None, float | None]:
    """(steps, seconds): --steps and/or --seconds when given (both: whichever comes first), else the recipe's
    number of steps."""
    if args.steps is None and args.seconds is None:
        return r.fit["steps"], r.fit.get("seconds")
    return args.steps, args.seconds


def describe_budget(steps: int | None, seconds: float | None) -> str:
    parts = ([f"{steps:,} optimiser steps"] if steps else []) + ([f"{seconds:g} s"] if seconds else [])
    return " or ".join(parts) + (", whichever comes first" if len(parts) == 2 else "")


# ---------------------------------------------------------------------------------------------------------
# the three commands
# ---------------------------------------------------------------------------------------------------------

def train_command(args: argparse.Namespace, r=None) -> Path:
    """Train with the chosen recipe and save ``<out>/checkpoint.pt`` (atomically); returns its path."""
    from ..train import save_checkpoint

    if r is None:
        r = _choose_recipe(args)
        check_out_dir(args.out)
    steps, seconds = _budget(args, r)
    print(f"[ddpm] recipe {r.name!r}: {r.description}")
    print(f"[ddpm] training for {describe_budget(steps, seconds)} (seed {args.seed}) ...", flush=True)
    # a progress bar only on a terminal (a log file would get one line per refresh)
    progress = None if sys.stderr.isatty() else False
    cpu = time.process_time()
    result, s = r.train(seconds=seconds, steps=steps, seed=args.seed, device=args.device, progress=progress,
                        **CLI_FIT)
    cpu = time.process_time() - cpu
    losses = result.losses[-100:]
    info = dict(steps=result.steps, seconds=result.seconds, cpu_seconds=cpu,
                final_loss=sum(losses) / max(len(losses), 1))
    path = save_checkpoint(Path(args.out) / CHECKPOINT, result.model, recipe=dataclasses.asdict(r), train=info)
    n_params = sum(p.numel() for p in result.model.parameters())
    print(format_table("training", [
        ("recipe", r.name), ("data", r.data), ("conditional", r.conditional),
        ("schedule", f"{r.schedule['name']} T={s.T}"), ("model", f"{r.model['kind']} ({n_params:,} params)"),
        ("device", str(s.device)), ("optimiser steps", result.steps), ("wall time (s)", result.seconds),
        ("process CPU time (s)", cpu), ("steps / s", result.steps / max(result.seconds, 1e-9)),
        ("loss (last 100)", info["final_loss"]),
        ("checkpoint", str(path))]))
    return path


def load_run(checkpoint: str | Path, device: str | None = None):
    """(model, recipe, training info) from a checkpoint written by ``coursekit ddpm train``; anything else
    (missing, empty, truncated, another kind of file) is a UsageError naming --checkpoint."""
    from ..recipes import Recipe
    from ..train import load_checkpoint

    path = Path(checkpoint)
    if not path.is_file():
        raise UsageError(f"--checkpoint: expected a file written by 'coursekit ddpm train', got {str(path)!r}"
                         f"{' (a folder)' if path.is_dir() else ' (no such file)'}")
    try:
        model, extra = load_checkpoint(path, device=device)
    except ValueError as err:
        raise UsageError(f"--checkpoint: {err}") from None
    if not isinstance(extra.get("recipe"), dict):
        raise UsageError(f"--checkpoint: {str(path)!r} has no recipe (was it written by 'coursekit ddpm train'?)")
    try:
        r = Recipe(**extra["recipe"])
    except TypeError as err:
        raise UsageError(f"--checkpoint: {str(path)!r} holds a recipe this version cannot read ({err})") from None
    return model, r, extra.get("train", {})


def sample_command(args: argparse.Namespace) -> dict[str, float]:
    """Sample from a checkpoint, write the PNGs and samples.pt (all or none), print and return the metrics."""
    model, r, info = load_run(args.checkpoint, args.device)
    _check_guidance(args.guidance, r)
    _check_sampler(args, r)
    out = check_out_dir(args.out if args.out else Path(args.checkpoint).parent)
    return _sample(args, model, r, info, out)


def _sample(args: argparse.Namespace, model, r, info: dict, out: Path) -> dict[str, float]:
    from .. import metrics, viz
    from ..viz import diffusion as vizd

    device = next(model.parameters()).device
    s = r.build_schedule(device)
    overrides = {} if args.guidance is None else {"guidance_scale": args.guidance}
    start = time.perf_counter()
    if getattr(args, "sampler", "ddpm") == "ddim":
        x, labels, trajectory = _draw_ddim(model, r, s, args, overrides)
    else:
        print(f"[ddpm] Algorithm 2: {args.n} samples, T = {s.T} steps ...", flush=True)
        x, labels, trajectory = r.draw(model, s, args.n, seed=args.seed, trajectory_every=max(1, s.T // 20),
                                       **overrides)
    sample_seconds = time.perf_counter() - start
    x = x.cpu()
    if not bool(torch.isfinite(x).all()):
        raise RuntimeError("the samples contain NaN or infinite values (a diverged model or guidance scale); "
                           "nothing was written")
    with staged_outputs(out) as stage:
        torch.save({"samples": x, "labels": labels, "seed": args.seed}, stage("samples.pt"))
        start = time.perf_counter()
        if r.data == "digits":
            x = x.clamp(-1, 1)
            report = metrics.digit_report(x[:len(load_digits("train")[0])], None if labels is None else
                                          labels[:len(load_digits("train")[0])])
            viz.save_image_grid(stage("samples.png"), x[:100], nrow=10 if r.conditional else None, scale=6,
                                title="columns: asked digit 0–9" if r.conditional else None)
        else:
            from ..data import sample_2d

            report = metrics.toy_report(x, r.data)
            vizd.save_scatter(stage("samples.png"), x, reference=sample_2d(r.data, len(x), seed=12345),
                              title=f"DDPM samples, {r.data}")
        metric_seconds = time.perf_counter() - start
        vizd.save_denoising_strip(stage("denoising.png"), trajectory, columns=9, rows=6,
                                  title=getattr(trajectory, "title", None))     # DDIM names itself
    grid, strip = out / "samples.png", out / "denoising.png"

    names = {"accuracy": "class accuracy (asked digit)", "confidence": "classifier confidence",
             "n": "samples scored (at most the 1,437 real train digits)",
             "fd": "Fréchet distance (FD) to the unseen test digits",
             "fd_ref": "FD reference (as many real digits)", "fd_ratio": "FD / reference (1 = real data)",
             "kid": "KID ×1000 (unbiased)", "kid_ref": "KID ×1000 of real digits",
             "near_copy_rate": "near copies of train digits (unseen digits: 0.05)",
             "swd": "sliced Wasserstein", "swd_floor": "SWD floor (data vs data)",
             "modes": "modes covered", "n_modes": "modes in the data", "high_quality": "high-quality samples (%)"}
    rows = [(names.get(k, k), v) for k, v in report.items()]
    if "guidance_scale" in {**r.sample, **overrides} and r.conditional:
        rows.insert(0, ("guidance scale w", float({**r.sample, **overrides}["guidance_scale"])))
    rows = [("recipe", r.name), ("samples", args.n), *rows]
    if info:
        rows += [("training steps", info.get("steps")), ("training time (s)", float(info.get("seconds", 0.0)))]
    rows += [("sampling time (s)", sample_seconds), ("metrics time (s)", metric_seconds),
             ("samples PNG", str(grid)), ("denoising strip PNG", str(strip))]
    print(format_table("samples and metrics", rows))
    return report


def _draw_ddim(model, r, s, args: argparse.Namespace, overrides: dict):
    """DDIM (coursekit.diffusion.ddim_sample) on --steps network calls with --eta, the recipe's labels and guidance:
    (samples, labels, what the denoising strip shows: the states x_τ from x_T down to x_0)."""
    from types import SimpleNamespace

    from .. import diffusion as D

    steps = args.steps if args.steps is not None else 50
    eta = args.eta if args.eta is not None else 0.0
    print(f"[ddpm] DDIM: {args.n} samples, {steps} network calls (T = {s.T}), eta = {eta:g} ...", flush=True)
    settings = {**r.sample, **overrides}
    labels = r.labels_for(args.n)
    device = next(model.parameters()).device
    g = torch.Generator(device=device).manual_seed(args.seed)
    x, states = D.ddim_sample(model, s, (args.n, *r.data_shape()), steps=steps, eta=eta, generator=g,
                              y=None if labels is None else labels.to(device),
                              guidance_scale=float(settings.get("guidance_scale", 1.0)), prediction=r.prediction,
                              clip_denoised=bool(settings.get("clip_denoised", False)), trajectory=True)
    strip = SimpleNamespace(steps=D.ddim_timesteps(s.T, steps), x_t=states[:-1].cpu(), x0=x.cpu(),
                            title=f"DDIM, {steps} network calls, η = {eta:g}: x_T → x_0")
    return x, labels, strip


def demo_command(args: argparse.Namespace) -> dict[str, float]:
    start = time.perf_counter()
    r = _choose_recipe(args)                     # every check before the training starts
    _check_guidance(args.guidance, r)
    out = check_out_dir(args.out)
    path = train_command(args, r)
    model, r, info = load_run(path, args.device)
    report = _sample(argparse.Namespace(n=args.n, seed=args.seed + 1, guidance=args.guidance), model, r, info, out)
    print(f"[ddpm] demo finished in {time.perf_counter() - start:.1f} s; pictures in {args.out}/")
    return report


# ---------------------------------------------------------------------------------------------------------
# argparse
# ---------------------------------------------------------------------------------------------------------

def _training_options(p: argparse.ArgumentParser, conditional_default: bool, out_default: str) -> None:
    from ..recipes import RECIPES

    p.add_argument("--data", default=None, choices=DATA_CHOICES,
                   help="embedded 8×8 digits or a 2-D set (default: digits, or the recipe's)")
    p.add_argument("--conditional", action=argparse.BooleanOptionalAction, default=None,
                   help="class-conditional digits with classifier-free guidance (default: "
                        f"{'on for digits' if conditional_default else 'off'}, or the recipe's)")
    p.set_defaults(conditional_default=conditional_default)
    p.add_argument("--recipe", default=None, choices=tuple(RECIPES),
                   help="a named recipe from coursekit.recipes (default: the one for --data and --conditional)")
    p.add_argument("--steps", type=positive_int, default=None,
                   help="training budget in optimiser steps (default: the recipe's: "
                        + ", ".join(f"{name} {r.fit['steps']:,}" for name, r in RECIPES.items() if r.data == "digits")
                        + "; a 2-D set " + f"{RECIPES['ring8'].fit['steps']:,}"
                        + "; seeded, so the same model on every machine with one thread)")
    p.add_argument("--seconds", type=positive_float, default=None,
                   help="a wall-clock budget in seconds instead (default: none; with --steps, whichever comes "
                        "first): what it reaches depends on the machine")
    p.add_argument("--T", type=at_least(2), default=None,
                   help="number of diffusion steps, β rescaled to keep ᾱ_T near 0 (default: the recipe's)")
    add_out_option(p, out_default, "checkpoint.pt" + (", samples.pt, samples.png and denoising.png"
                                                       if out_default.endswith("demo") else ""))
    add_seed_option(p, 0)
    add_device_options(p)


def _sampling_options(p: argparse.ArgumentParser, n_default: int) -> None:
    p.add_argument("--n", type=at_least(MIN_SAMPLES, "the FD needs a covariance"), default=n_default,
                   help="number of samples for the metrics")
    p.add_argument("--guidance", type=nonnegative_float, default=None,
                   help="classifier-free guidance scale w >= 0, conditional models only (default: the recipe's)")


def register(subparsers) -> None:
    parser = subparsers.add_parser("ddpm", help="DDPM: train, sample, or a short demo", description=__doc__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("train", help="train a DDPM and save a checkpoint",
                       description="Train a DDPM (Algorithm 1) with a recipe and save --out/checkpoint.pt.")
    _training_options(p, conditional_default=False, out_default="runs/ddpm")
    p.set_defaults(func=files_only(train_command))

    p = sub.add_parser("sample", help="sample a checkpoint, write PNGs and print metrics",
                       description="Sample a checkpoint (Algorithm 2), write samples.pt, samples.png and "
                                   "denoising.png, print the metrics.")
    p.add_argument("--checkpoint", metavar="FILE", default=f"runs/ddpm/{CHECKPOINT}",
                   help="a checkpoint written by coursekit ddpm train")
    _sampling_options(p, 500)
    p.add_argument("--sampler", choices=("ddpm", "ddim"), default="ddpm",
                   help="ddpm: Algorithm 2, T network calls (default); ddim: DDIM (unit 07) on --steps calls")
    p.add_argument("--steps", type=positive_int, default=None,
                   help="--sampler ddim only: network calls, at most T (default 50)")
    p.add_argument("--eta", type=_eta, default=None,
                   help="--sampler ddim only: η in [0, 1], 0 deterministic, 1 Algorithm 2's noise (default 0)")
    p.add_argument("--out", metavar="FOLDER", default=None,
                   help="output folder for samples.pt, samples.png and denoising.png (default: the "
                        "checkpoint's folder)")
    add_seed_option(p, 1, "sampling")
    add_device_options(p)
    p.set_defaults(func=files_only(sample_command))

    p = sub.add_parser("demo", help="train then sample: 6,000 steps, about half a minute on one CPU core",
                       description="Train then sample in one go (the recipe's optimiser steps; digits-cond: 6,000, "
                                   "about half a minute on one CPU core).")
    _training_options(p, conditional_default=True, out_default="runs/ddpm-demo")
    _sampling_options(p, 500)
    p.set_defaults(func=files_only(demo_command))

"""``coursekit ddpm train|sample|demo``: the course's main job (DDPM on the embedded digits or a 2-D set).

    coursekit ddpm train --data digits --conditional --seconds 30 --out runs/ddpm
    coursekit ddpm sample --checkpoint runs/ddpm/checkpoint.pt --n 1000
    coursekit ddpm demo                      # both in one go, about a minute on a 2-core CPU

``train`` runs Algorithm 1 with a named recipe (coursekit.recipes) and saves weights + recipe (schedule
included) to ``checkpoint.pt``; ``sample`` runs Algorithm 2, writes ``samples.png`` and ``denoising.png``
(x_t at several t of the trajectory) and ``samples.pt`` (the samples and their asked labels), and prints the
metrics (coursekit.metrics).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import torch

from ..data import TOY_2D
from . import set_threads

DATA_CHOICES = ("digits", *TOY_2D)
CHECKPOINT = "checkpoint.pt"


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
# the three commands
# ---------------------------------------------------------------------------------------------------------

def _choose_recipe(args: argparse.Namespace):
    from ..recipes import recipe, recipe_for, scaled_linear

    conditional = args.conditional
    if conditional is None:             # default: conditional digits for the demo, unconditional otherwise
        conditional = args.conditional_default and args.data == "digits"
    r = recipe(args.recipe) if args.recipe else recipe_for(args.data, conditional)
    if args.T is not None:
        if args.T < 2:
            raise ValueError(f"--T must be at least 2, got {args.T}")
        schedule = scaled_linear(args.T) if r.schedule.get("name") == "linear" else {**r.schedule, "T": args.T}
        r = dataclasses.replace(r, schedule=schedule)
    return r


def train_command(args: argparse.Namespace) -> Path:
    """Train with the chosen recipe and save ``<out>/checkpoint.pt``; returns its path."""
    from ..train import save_checkpoint

    r = _choose_recipe(args)
    seconds = args.seconds if args.seconds is not None else (None if args.steps else r.fit["seconds"])
    if seconds is not None and seconds <= 0:
        raise ValueError(f"--seconds must be positive, got {seconds}")
    if args.steps is not None and args.steps < 1:
        raise ValueError(f"--steps must be positive, got {args.steps}")
    print(f"[ddpm] recipe {r.name!r}: {r.description}")
    print(f"[ddpm] training for {f'{seconds:g} s' if seconds else ''}"
          f"{' / ' if seconds and args.steps else ''}{f'{args.steps} steps' if args.steps else ''} ...", flush=True)
    # a progress bar only on a terminal (a log file would get one line per refresh)
    progress = None if sys.stderr.isatty() else False
    result, s = r.train(seconds=seconds, steps=args.steps, seed=args.seed, device=args.device, progress=progress)
    losses = result.losses[-100:]
    info = dict(steps=result.steps, seconds=result.seconds, final_loss=sum(losses) / max(len(losses), 1))
    path = save_checkpoint(Path(args.out) / CHECKPOINT, result.model, recipe=dataclasses.asdict(r), train=info)
    n_params = sum(p.numel() for p in result.model.parameters())
    print(format_table("training", [
        ("recipe", r.name), ("data", r.data), ("conditional", r.conditional),
        ("schedule", f"{r.schedule['name']} T={s.T}"), ("model", f"{r.model['kind']} ({n_params:,} params)"),
        ("device", str(s.device)), ("optimiser steps", result.steps), ("wall time (s)", result.seconds),
        ("steps / s", result.steps / max(result.seconds, 1e-9)), ("loss (last 100)", info["final_loss"]),
        ("checkpoint", str(path))]))
    return path


def load_run(checkpoint: str | Path, device: str | None = None):
    """(model, recipe, training info) from a checkpoint written by ``coursekit ddpm train``."""
    from ..recipes import Recipe
    from ..train import load_checkpoint

    path = Path(checkpoint)
    if not path.is_file():
        raise ValueError(f"checkpoint must be a file written by 'coursekit ddpm train', got {str(path)!r}")
    model, extra = load_checkpoint(path, device=device)
    if "recipe" not in extra:
        raise ValueError(f"checkpoint {str(path)!r} has no recipe (was it written by 'coursekit ddpm train'?)")
    return model, Recipe(**extra["recipe"]), extra.get("train", {})


def sample_command(args: argparse.Namespace) -> dict[str, float]:
    """Sample from a checkpoint, write the PNGs, print and return the metrics."""
    from .. import metrics, viz
    from ..viz import diffusion as vizd

    if args.n < 1:
        raise ValueError(f"--n must be positive, got {args.n}")
    model, r, info = load_run(args.checkpoint, args.device)
    device = next(model.parameters()).device
    s = r.build_schedule(device)
    out = Path(args.out) if args.out else Path(args.checkpoint).parent
    out.mkdir(parents=True, exist_ok=True)
    overrides = {} if args.guidance is None else {"guidance_scale": args.guidance}
    print(f"[ddpm] Algorithm 2: {args.n} samples, T = {s.T} steps ...", flush=True)
    start = time.perf_counter()
    x, labels, trajectory = r.draw(model, s, args.n, seed=args.seed, trajectory_every=max(1, s.T // 20),
                                   **overrides)
    sample_seconds = time.perf_counter() - start
    x = x.cpu()
    torch.save({"samples": x, "labels": labels, "seed": args.seed}, out / "samples.pt")

    start = time.perf_counter()
    if r.data == "digits":
        x = x.clamp(-1, 1)
        report = metrics.digit_report(x, labels)
        shown = x[:100]
        grid = viz.save_image_grid(out / "samples.png", shown, nrow=10 if r.conditional else None,
                                   scale=6, title="columns: asked digit 0–9" if r.conditional else None)
    else:
        report = metrics.toy_report(x, r.data)
        from ..data import sample_2d

        grid = vizd.save_scatter(out / "samples.png", x, reference=sample_2d(r.data, len(x), seed=12345),
                                 title=f"DDPM samples, {r.data}")
    metric_seconds = time.perf_counter() - start
    strip = vizd.save_denoising_strip(out / "denoising.png", trajectory, columns=9, rows=6)

    names = {"accuracy": "class accuracy (asked digit)", "confidence": "classifier confidence",
             "fd": "Fréchet distance (FD)", "fd_floor": "FD floor (real test vs train)",
             "fd_ratio": "FD / floor", "swd": "sliced Wasserstein", "swd_floor": "SWD floor (data vs data)",
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


def demo_command(args: argparse.Namespace) -> dict[str, float]:
    start = time.perf_counter()
    path = train_command(args)
    report = sample_command(argparse.Namespace(checkpoint=path, n=args.n, out=args.out, seed=args.seed + 1,
                                               guidance=args.guidance, device=args.device,
                                               threads=args.threads))
    print(f"[ddpm] demo finished in {time.perf_counter() - start:.1f} s; pictures in {args.out}/")
    return report


# ---------------------------------------------------------------------------------------------------------
# argparse
# ---------------------------------------------------------------------------------------------------------

def _run(command):
    def run(args: argparse.Namespace) -> int:
        import matplotlib

        matplotlib.use("Agg")                   # files only: works without a display
        threads = torch.get_num_threads()
        try:
            set_threads(args.threads)
            command(args)
        except ValueError as err:
            print(f"coursekit ddpm: error: {err}")
            return 2
        finally:
            torch.set_num_threads(threads)      # main() may be called in-process (tests, notebooks)
        return 0
    return run


def _training_options(p: argparse.ArgumentParser, conditional_default: bool, out_default: str) -> None:
    p.add_argument("--data", default="digits", choices=DATA_CHOICES,
                   help="embedded 8×8 digits (default) or a 2-D set")
    p.add_argument("--conditional", action=argparse.BooleanOptionalAction, default=None,
                   help="class-conditional digits with classifier-free guidance (default: "
                        f"{'on for digits' if conditional_default else 'off'})")
    p.set_defaults(conditional_default=conditional_default)
    p.add_argument("--recipe", default=None, help="a named recipe from coursekit.recipes (overrides --data)")
    p.add_argument("--seconds", type=float, default=None, help="training budget in seconds (default: recipe's)")
    p.add_argument("--steps", type=int, default=None, help="training budget in optimiser steps")
    p.add_argument("--T", type=int, default=None, help="override the number of diffusion steps (β rescaled)")
    p.add_argument("--out", default=out_default, help=f"output folder (default {out_default})")
    p.add_argument("--seed", type=int, default=0)
    _common_options(p)


def _common_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--threads", type=int, default=1,
                   help="CPU threads for torch (default 1: these denoisers are too small for intra-op threads "
                        "to pay, and on a busy machine two threads were measured 100x slower than one)")


def register(subparsers) -> None:
    parser = subparsers.add_parser("ddpm", help="DDPM: train, sample, or a one-minute demo",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a DDPM and save a checkpoint")
    _training_options(p, conditional_default=False, out_default="runs/ddpm")
    p.set_defaults(func=_run(train_command))

    p = sub.add_parser("sample", help="sample a checkpoint, write PNGs and print metrics")
    p.add_argument("--checkpoint", default=f"runs/ddpm/{CHECKPOINT}")
    p.add_argument("--n", type=int, default=1000, help="number of samples for the metrics (default 1000)")
    p.add_argument("--out", default=None, help="output folder (default: the checkpoint's)")
    p.add_argument("--guidance", type=float, default=None, help="classifier-free guidance scale w")
    p.add_argument("--seed", type=int, default=1)
    _common_options(p)
    p.set_defaults(func=_run(sample_command))

    p = sub.add_parser("demo", help="train then sample, about a minute on a 2-core CPU")
    _training_options(p, conditional_default=True, out_default="runs/ddpm-demo")
    p.add_argument("--n", type=int, default=500, help="number of samples for the metrics (default 500)")
    p.add_argument("--guidance", type=float, default=None, help="classifier-free guidance scale w")
    p.set_defaults(func=_run(demo_command))

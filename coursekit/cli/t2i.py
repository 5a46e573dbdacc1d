"""coursekit t2i train|sample: text to image at toy scale (coursekit.text2image).

    coursekit t2i train --out runs/t2i                       # 5,000 steps, the shipped model's (≈ 1 CPU-min)
    coursekit t2i sample --prompt "一个粗的七" --prompt "a thin 3 slanted to the right"
    coursekit t2i sample --checkpoint runs/t2i/checkpoint.pt --prompt "八" --guidance 5

train runs DDPM's Algorithm 1 on captioned digits (text encoder and denoiser together) and saves
checkpoint.pt in --out; sample draws --n images per prompt with classifier-free guidance, writes samples.png
(one row per prompt, the prompt as its title, Chinese glyphs rendered) and samples.pt, and prints what the
metric classifier reads for each prompt. Without --checkpoint, sample uses the model shipped with the package.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import torch

from . import (
    UsageError,
    add_device_options,
    add_out_option,
    add_seed_option,
    check_out_dir,
    files_only,
    nonnegative_float,
    positive_float,
    positive_int,
    staged_outputs,
)
from .ddpm import describe_budget, format_table

CHECKPOINT = "checkpoint.pt"
PRETRAINED = "pretrained"
DEFAULT_STEPS = 5000                 # what the shipped model (text2image.ASSET) was trained for: seed 0 remakes it


def train_command(args: argparse.Namespace) -> Path:
    from .. import text2image as T

    out = check_out_dir(args.out)
    steps = DEFAULT_STEPS if args.steps is None and args.seconds is None else args.steps
    budget = describe_budget(steps, args.seconds)
    print(f"[t2i] training the text encoder and the denoiser for {budget} (seed {args.seed}) ...", flush=True)
    model = T.train(seconds=args.seconds, steps=steps, seed=args.seed, device=args.device,
                    progress=None if sys.stderr.isatty() else False)
    with staged_outputs(out) as stage:
        T.save(model, stage(CHECKPOINT))
    info = model.train_info
    print(format_table("training", [
        ("parameters", f"{sum(p.numel() for p in model.parameters()):,}"), ("vocabulary", len(model.encoder.vocab)),
        ("device", info["device"]), ("optimiser steps", info["steps"]), ("wall time (s)", float(info["seconds"])),
        ("process CPU time (s)", float(info["cpu_seconds"])), ("loss (last 100)", info["final_loss"]),
        ("checkpoint", str(out / CHECKPOINT))]))
    return out / CHECKPOINT


def load_model(checkpoint: str, device: str | None = None):
    """The shipped model ("pretrained") or a file written by ``coursekit t2i train``; else a UsageError."""
    from .. import text2image as T

    path = T.ASSET if checkpoint == PRETRAINED else Path(checkpoint)
    if not path.is_file():
        raise UsageError(f"--checkpoint: expected 'pretrained' or a file written by 'coursekit t2i train', got "
                         f"{str(path)!r}{' (a folder)' if path.is_dir() else ' (no such file)'}")
    try:
        return T.pretrained(device) if checkpoint == PRETRAINED else T.load(path, device=device)
    except ValueError as err:
        raise UsageError(f"--checkpoint: {err}") from None


def sample_command(args: argparse.Namespace) -> list[dict]:
    from .. import metrics
    from .. import text2image as T
    from ..viz import setup_fonts
    from ..viz.text2image import save_prompt_grid

    if not args.prompt:
        raise UsageError("--prompt: expected at least one prompt, e.g. --prompt \"一个粗的七\" (see coursekit t2i "
                         "sample --help)")
    prompts = list(args.prompt)
    model = load_model(args.checkpoint, args.device)
    out = check_out_dir(args.out)
    print(f"[t2i] {args.n} samples for each of {len(prompts)} prompt(s), guidance w = {args.guidance:g} ...",
          flush=True)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:                # a long prompt: one line, not a trace
        warnings.simplefilter("always")
        images = T.generate(model, prompts, n_per_prompt=args.n, guidance_scale=args.guidance, seed=args.seed).cpu()
    for w in caught:
        print(f"coursekit t2i: warning: --prompt: {w.message}", file=sys.stderr)
    seconds = time.perf_counter() - start
    label, _ = metrics.classify(images)
    readings = [torch.bincount(label[i * args.n:(i + 1) * args.n], minlength=10) for i in range(len(prompts))]
    setup_fonts()
    with staged_outputs(out) as stage:
        torch.save({"samples": images, "prompts": prompts, "guidance_scale": args.guidance, "seed": args.seed},
                   stage("samples.pt"))
        save_prompt_grid(stage("samples.png"), images, prompts, readings)
    rows, report = [], []
    for prompt, counts in zip(prompts, readings):
        top = int(counts.argmax())
        rows.append((prompt or "(empty prompt: unconditional)", f"read as {top}: {int(counts[top])}/{args.n}"))
        report.append({"prompt": prompt, "counts": counts.tolist()})
    rows += [("sampling time (s)", seconds), ("samples PNG", str(out / "samples.png"))]
    print(format_table("what the metric classifier reads", rows))
    return report


def register(subparsers) -> None:
    parser = subparsers.add_parser("t2i", help="text to image: train a prompt → digit model, sample prompts",
                                   description=__doc__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("train", help="train the text encoder and denoiser, save a checkpoint",
                       description="Train coursekit.text2image (Algorithm 1 on captioned digits) and save "
                                   "--out/checkpoint.pt.")
    p.add_argument("--steps", type=positive_int, default=None,
                   help=f"training budget in optimiser steps (default: {DEFAULT_STEPS:,}, the shipped model's; "
                        "seeded, so the same model on every machine)")
    p.add_argument("--seconds", type=positive_float, default=None,
                   help="a wall-clock budget in seconds instead (default: none; with --steps, whichever comes "
                        "first): what it reaches depends on the machine")
    add_out_option(p, "runs/t2i", "checkpoint.pt")
    add_seed_option(p, 0)
    add_device_options(p)
    p.set_defaults(func=files_only(train_command))

    p = sub.add_parser("sample", help="draw images for prompts, write a PNG grid titled with the prompts",
                       description="Draw --n images for each --prompt (Algorithm 2 with classifier-free guidance), "
                                   "write samples.png and samples.pt, print the classifier's reading.")
    p.add_argument("--prompt", action="append", default=None, metavar="TEXT",
                   help="a prompt in Chinese or English, repeat for several; \"\" is the unconditional model "
                        "(required, no default)")
    p.add_argument("--checkpoint", metavar="FILE", default=PRETRAINED,
                   help="a checkpoint written by coursekit t2i train, or 'pretrained' (the model shipped with "
                        "the package)")
    p.add_argument("--n", type=positive_int, default=8, help="images per prompt")
    p.add_argument("--guidance", type=nonnegative_float, default=3.0,
                   help="classifier-free guidance scale w (0: unconditional, 1: no guidance)")
    add_out_option(p, "runs/t2i", "samples.png and samples.pt")
    add_seed_option(p, 0, "sampling")
    add_device_options(p)
    p.set_defaults(func=files_only(sample_command))

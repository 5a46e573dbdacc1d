"""Text to image at toy scale (coursekit.text2image), measured: what the model understood, and at what cost.

    .venv/bin/python bench/bench_t2i.py                         # train 5,000 steps (seed 0), measure
    .venv/bin/python bench/bench_t2i.py --seconds 180           # a wall-clock budget instead (machine-dependent)
    .venv/bin/python bench/bench_t2i.py --checkpoint pretrained --compare   # measure the shipped model only
    .venv/bin/python bench/bench_t2i.py --asset                 # also write coursekit/assets/t2i_digits.pt

Prints (1) training: optimiser steps, wall and process CPU seconds, the load average; (2) on the held-out
phrasings (captions.HELD_OUT, never seen in training), per language and guidance scale, the share of samples
the metric classifier reads as the asked digit; (3) for ink, slant and size, per digit, the measured attribute
of samples asked "thick" vs "thin" (left/right, big/small) and on how many digits the two sides are in order;
(4) sample quality with the course's corrected metric (``metrics.digit_report``): n = 500 samples against the
unseen test split, FD / reference (the reference is FD of 500 real train digits vs the test split), KID and the
share of near copies of training digits beside it, for the empty prompt (unconditional) and for the digit-only
prompts "0"…"9" (50 each); (5) with ``--compare``, the shipped label-conditioned DDPM ``digits-cond`` of unit 04b
(``diffusion.pretrained``), scored alike at the same n and w.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import time

import torch

from coursekit import metrics
from coursekit import text2image as T
from coursekit.text2image import evaluate as E


def _cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def _row(*cells) -> str:
    return " | ".join(f"{c:.3g}" if isinstance(c, float) else str(c) for c in cells)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=None, help="a wall-clock budget in seconds instead of steps")
    p.add_argument("--steps", type=int, default=5000, help="training budget in optimiser steps (default 5,000: "
                   "the shipped model's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--checkpoint", default=None, help="measure this file ('pretrained': the shipped model)")
    p.add_argument("--asset", action="store_true", help="write the trained model to coursekit/assets (float16)")
    p.add_argument("--compare", action="store_true", help="also score the shipped digits-cond DDPM alike")
    p.add_argument("--n", type=int, default=4, help="samples per held-out prompt (4 prompts per digit)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    print(f"# bench_t2i: threads {args.threads}, load average before {os.getloadavg()[0]:.1f}")
    if args.checkpoint:
        model = T.pretrained() if args.checkpoint == "pretrained" else T.load(args.checkpoint)
    else:
        steps = None if args.seconds is not None else args.steps
        model = T.train(seconds=args.seconds, steps=steps, seed=args.seed, progress=False)
    info = model.train_info
    print("\n## training\nsteps | wall s | CPU s | CPU ms/step | loss (last 100) | load average now")
    print(_row(info.get("steps"), info.get("seconds"), info.get("cpu_seconds"),
               1000 * info.get("cpu_seconds", 0) / max(1, info.get("steps", 1)), info.get("final_loss"),
               f"{os.getloadavg()[0]:.1f}"))
    if args.asset:
        model.train_info = {**info, "made_by": "bench/bench_t2i.py --asset"}
        T.save(model, T.ASSET, half=True)
        print(f"wrote {T.ASSET} ({T.ASSET.stat().st_size:,} bytes), SHA-256 "
              f"{hashlib.sha256(T.ASSET.read_bytes()).hexdigest()}")

    print("\n## the asked digit on held-out phrasings (metric classifier)\nlanguage | w | samples | accuracy | "
          "confidence | example prompts")
    for w in (1.0, 3.0, 5.0):
        for lang in ("zh", "en"):
            r = E.digit_accuracy(model, lang, per_digit=4, n_per_prompt=args.n, guidance_scale=w, seed=args.seed)
            print(_row(lang, w, r["samples"], r["accuracy"], r["confidence"], " / ".join(r["examples"])))

    print("\n## style words: the measured attribute, asked high vs low (w = 3, 16 samples per prompt)")
    print("attribute | language | prompts | digits in order (of 10) | high − low per digit 0..9")
    for attribute in ("ink", "slant", "size"):
        for lang in ("zh", "en"):
            r = E.style_contrast(model, attribute, lang, n_per_prompt=16, seed=args.seed)
            diffs = " ".join(f"{h - lo:+.3f}" for h, lo in zip(r["high"], r["low"]))
            print(_row(attribute, lang, " vs ".join(r["prompts"]), r["wins"], diffs))

    print("\n## sample quality (metrics.digit_report: n = 500 vs the unseen test split, w = 3 for prompts)")
    print("samples | n | FD | FD reference | FD / reference | KID×1000 (real digits) | near copies | asked digit")
    start, c0 = time.perf_counter(), _cpu()
    uncond = T.generate(model, [""], n_per_prompt=N_QUALITY, guidance_scale=1.0, seed=args.seed)
    words = [str(d) for d in range(10)]
    cond = T.generate(model, words, n_per_prompt=N_QUALITY // 10, guidance_scale=3.0, seed=args.seed)
    labels = torch.arange(10).repeat_interleave(N_QUALITY // 10)
    _quality_row("empty prompt (unconditional, w = 1)", metrics.digit_report(uncond))
    _quality_row("prompts '0'..'9', w = 3", metrics.digit_report(cond, labels))
    print(f"(sampling and metrics: {time.perf_counter() - start:.1f} s wall, {_cpu() - c0:.1f} s CPU)")

    if args.compare:
        from coursekit import diffusion as D

        net, s = D.pretrained("digits-cond")
        info = D.pretrained_info("digits-cond")
        g = torch.Generator().manual_seed(args.seed)
        x = D.sample(net, s, (N_QUALITY, 1, 8, 8), generator=g, y=labels, guidance_scale=3.0).clamp(-1, 1)
        print("\n## the shipped label-conditioned DDPM (diffusion.pretrained('digits-cond'), "
              f"{info.get('steps')} steps)")
        _quality_row("labels 0..9, w = 3", metrics.digit_report(x, labels))


N_QUALITY = 500          # the course's sample size for FD (its reference is measured at the same n)


def _quality_row(name: str, r: dict) -> None:
    print(_row(name, r["n"], r["fd"], r["fd_ref"], r["fd_ratio"], f"{r['kid']:.1f} ({r['kid_ref']:.1f})",
               f"{100 * r['near_copy_rate']:.1f} %", f"{100 * r['accuracy']:.1f} %" if "accuracy" in r else "-"))


if __name__ == "__main__":
    main()

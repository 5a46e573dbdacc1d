"""Text to image at toy scale (coursekit.text2image), measured: what the model understood, and at what cost.

    .venv/bin/python bench/bench_t2i.py                         # train with the defaults (180 s), measure
    .venv/bin/python bench/bench_t2i.py --steps 20000           # a step budget instead (reproducible)
    .venv/bin/python bench/bench_t2i.py --checkpoint pretrained # measure the shipped model only
    .venv/bin/python bench/bench_t2i.py --steps 20000 --asset   # also write coursekit/assets/t2i_digits.pt

Prints (1) training: optimiser steps, wall and process CPU seconds, the load average; (2) on the held-out
phrasings (captions.HELD_OUT, never seen in training), per language and guidance scale, the share of samples
the metric classifier reads as the asked digit; (3) for ink, slant and size, per digit, the measured attribute
of samples asked "thick" vs "thin" (left/right, big/small) and on how many digits the two sides are in order;
(4) FD / floor of the unconditional samples (the empty prompt) and of the digit-only prompts; (5) with
``--compare``, the label-conditioned DDPM recipe ``digits-cond`` trained for the same wall time, scored alike.
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
    p.add_argument("--seconds", type=float, default=180.0, help="training budget in wall seconds (default 180)")
    p.add_argument("--steps", type=int, default=None, help="training budget in steps (default: the time decides)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--checkpoint", default=None, help="measure this file ('pretrained': the shipped model)")
    p.add_argument("--asset", action="store_true", help="write the trained model to coursekit/assets (float16)")
    p.add_argument("--compare", action="store_true", help="also train digits-cond for the same wall time")
    p.add_argument("--n", type=int, default=4, help="samples per held-out prompt (4 prompts per digit)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    print(f"# bench_t2i: threads {args.threads}, load average before {os.getloadavg()[0]:.1f}")
    if args.checkpoint:
        model = T.pretrained() if args.checkpoint == "pretrained" else T.load(args.checkpoint)
    else:
        seconds = None if args.steps and args.seconds == 180.0 else args.seconds
        model = T.train(seconds=seconds, steps=args.steps, seed=args.seed, progress=False)
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

    print("\n## Fréchet distance (metric classifier features), 360 samples each, w = 3")
    start, c0 = time.perf_counter(), _cpu()
    uncond = T.generate(model, [""], n_per_prompt=360, guidance_scale=1.0, seed=args.seed)
    words = [str(d) for d in range(10)]
    cond = T.generate(model, words, n_per_prompt=36, guidance_scale=3.0, seed=args.seed)
    labels = torch.arange(10).repeat_interleave(36)
    ru, rc = metrics.digit_report(uncond), metrics.digit_report(cond, labels)
    print("samples | FD / floor | accuracy")
    print(_row("empty prompt (unconditional)", ru["fd_ratio"], "-"))
    print(_row("prompts '0'..'9'", rc["fd_ratio"], rc["accuracy"]))
    print(f"(sampling and metrics: {time.perf_counter() - start:.1f} s wall, {_cpu() - c0:.1f} s CPU)")

    if args.compare and not args.checkpoint:
        from coursekit.recipes import recipe

        r = recipe("digits-cond")
        c0 = _cpu()
        result, s = r.train(seconds=float(info["seconds"]), seed=args.seed, progress=False)
        cpu = _cpu() - c0
        x, y = r.draw(result.model, s, 360, seed=args.seed, guidance_scale=3.0)
        rep = metrics.digit_report(x.clamp(-1, 1), y)
        print("\n## label-conditioned DDPM (recipe digits-cond) on the same wall clock\nsteps | CPU s | "
              "FD / floor (labels, w = 3) | accuracy")
        print(_row(result.steps, cpu, rep["fd_ratio"], rep["accuracy"]))


if __name__ == "__main__":
    main()

"""coursekit gan mode-collapse|cgan|pix2pix|cyclegan: run a demonstration, print its metrics, save a PNG
and the metrics as JSON in --out.

    coursekit gan mode-collapse --out artifacts/gan        # ring8: plain GAN vs PacGAN, VEEGAN numbers
    coursekit gan cgan --steps 3000                        # digits cGAN, classifier accuracy
    coursekit gan pix2pix --task inpaint                   # L1 only vs L1 + PatchGAN on held-out pairs
    coursekit gan cyclegan --task thin2thick               # unpaired thin ↔ thick

Every value is checked before training starts; the files of a run are written together when it succeeds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from . import (
    UsageError,
    add_device_options,
    add_out_option,
    add_seed_option,
    check_out_dir,
    check_out_file,
    nonnegative_float,
    positive_int,
    staged_outputs,
)

DEFAULT_OUT = "artifacts/gan"
RING_BATCH = 256            # the batch of coursekit.gan.demos' ring8 runs: PacGAN's pack must divide it
PACK_DEFAULT = 2


def _common(p: argparse.ArgumentParser, steps: int) -> None:
    p.add_argument("--steps", type=positive_int, default=steps, help="generator steps")
    add_seed_option(p, 0)
    add_device_options(p)
    add_out_option(p, DEFAULT_OUT, "the PNG and the metrics JSON")
    p.add_argument("--json", metavar="FILE", default=None,
                   help="also write the metrics to this JSON file (default: only the one in --out)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def register(subparsers) -> None:
    parser = subparsers.add_parser("gan", help="GAN demonstrations: mode collapse, cGAN, pix2pix, CycleGAN",
                                   description=__doc__)
    sub = parser.add_subparsers(dest="demo", metavar="COMMAND", required=True)
    from ..gan.demos import REMEDIES
    from ..gan.paired import TASKS

    p = sub.add_parser("mode-collapse", help="ring8: plain GAN vs a remedy (VEEGAN protocol)",
                       description="Train the same GAN on the 8-Gaussian ring without and with a remedy; "
                                   "modes covered and % high-quality samples of each.")
    _common(p, 12000)
    p.add_argument("--remedy", choices=REMEDIES, default="pacgan", help="the remedy compared with the plain GAN")
    p.add_argument("--pack", type=positive_int, default=None,
                   help=f"PacGAN's m, samples D judges jointly, a divisor of the batch {RING_BATCH} "
                        f"(default: {PACK_DEFAULT}; only with --remedy pacgan)")
    p.set_defaults(func=_mode_collapse)

    p = sub.add_parser("cgan", help="class-conditional GAN on the digits",
                       description="A class-conditional DCGAN on the 8×8 digits, scored by the metrics classifier.")
    _common(p, 3000)
    p.set_defaults(func=_cgan)

    p = sub.add_parser("pix2pix", help="pix2pix on digit pairs: L1 only vs L1 + PatchGAN",
                       description="pix2pix on digit pairs: the same U-Net with L1 only and with L1 + PatchGAN, "
                                   "scored on held-out pairs.")
    _common(p, 1500)
    p.add_argument("--task", choices=TASKS, default="inpaint", help="which digit pairs")
    p.add_argument("--size", type=int, choices=(16, 32), default=16, help="image size in pixels")
    p.add_argument("--lambda-l1", type=nonnegative_float, default=100.0, help="λ, the weight of the L1 term")
    p.set_defaults(func=_pix2pix)

    p = sub.add_parser("cyclegan", help="CycleGAN on unpaired digit domains",
                       description="CycleGAN on unpaired digit domains, scored on held-out pairs.")
    _common(p, 1500)
    p.add_argument("--task", choices=TASKS, default="thin2thick", help="which digit domains")
    p.add_argument("--size", type=int, choices=(16, 32), default=16, help="image size in pixels")
    p.set_defaults(func=_cyclegan)


def _setup(args) -> tuple[Path, bool | None]:
    """Checks shared by the four demonstrations, before any training."""
    out = check_out_dir(args.out)
    if args.json:
        check_out_file(args.json, "--json")
    import matplotlib

    matplotlib.use("Agg")
    return out, (False if args.no_progress else None)


def _report(args, out: Path, name: str, metrics: dict, figure, png: str) -> int:
    from ..viz import gan as viz

    with staged_outputs(out) as stage:
        viz.save(figure, stage(png))
        stage_json = stage(f"{Path(png).stem}.json")
        stage_json.write_text(json.dumps(metrics, indent=2, ensure_ascii=False), encoding="utf-8")
        if args.json:
            with staged_outputs(Path(args.json).parent) as extra:
                extra(Path(args.json).name).write_text(json.dumps(metrics, indent=2, ensure_ascii=False),
                                                       encoding="utf-8")
    print(f"{name}: " + json.dumps(metrics, ensure_ascii=False))
    for path in (out / png, out / f"{Path(png).stem}.json", *([Path(args.json)] if args.json else [])):
        print(f"wrote {path}")
    return 0


def _round(d: dict) -> dict:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in d.items()}


def _mode_collapse(args) -> int:
    if args.pack is not None and args.remedy != "pacgan":
        raise UsageError(f"--pack: only used by --remedy pacgan, got --remedy {args.remedy}")
    pack = PACK_DEFAULT if args.pack is None else args.pack
    if RING_BATCH % pack:
        divisors = ", ".join(str(d) for d in range(1, RING_BATCH + 1) if RING_BATCH % d == 0)
        raise UsageError(f"--pack: expected a divisor of the batch {RING_BATCH} ({divisors}), got {pack}")
    from ..gan.demos import mode_collapse_demo
    from ..viz import gan as viz

    out, progress = _setup(args)
    r = mode_collapse_demo(steps=args.steps, remedy=args.remedy, pack=pack, seed=args.seed,
                           device=args.device, progress=progress)
    metrics = {"plain": _round(r["plain"]), "remedy": _round(r["remedy"]), "remedy_name": r["remedy_name"],
               "steps": args.steps, "seed": args.seed}
    return _report(args, out, "mode-collapse", metrics, viz.mode_collapse_figure(r), "mode_collapse.png")


def _cgan(args) -> int:
    from ..gan.demos import cgan_demo
    from ..viz import gan as viz

    out, progress = _setup(args)
    r = cgan_demo(steps=args.steps, seed=args.seed, device=args.device, progress=progress)
    metrics = _round({"accuracy": r["accuracy"], "confidence": r["confidence"], "steps": r["steps"],
                      "seconds": r["seconds"], "seed": args.seed})
    figure = viz.cgan_figure({"samples": r["grid"], "accuracy": r["accuracy"]})
    return _report(args, out, "cgan", metrics, figure, "cgan.png")


def _pix2pix(args) -> int:
    from ..gan.demos import pix2pix_demo
    from ..viz import gan as viz

    out, progress = _setup(args)
    r = pix2pix_demo(task=args.task, steps=args.steps, size=args.size, lambda_l1=args.lambda_l1, seed=args.seed,
                     device=args.device, progress=progress)
    metrics = {"task": args.task, "l1_only": _round(r["l1_only"]), "l1_gan": _round(r["l1_gan"]),
               "target_accuracy": round(r["target_accuracy"], 4), "steps": args.steps, "seed": args.seed}
    return _report(args, out, "pix2pix", metrics, viz.pix2pix_figure(r), f"pix2pix_{args.task}.png")


def _cyclegan(args) -> int:
    from ..gan.demos import cyclegan_demo
    from ..viz import gan as viz

    out, progress = _setup(args)
    r = cyclegan_demo(task=args.task, steps=args.steps, size=args.size, seed=args.seed, device=args.device,
                      progress=progress)
    metrics = _round({k: r[k] for k in ("task", "l1", "identity_l1", "accuracy", "cycle_l1", "seconds")})
    metrics.update(steps=args.steps, seed=args.seed)
    return _report(args, out, "cyclegan", metrics, viz.cyclegan_figure(r), f"cyclegan_{args.task}.png")

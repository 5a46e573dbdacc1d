"""``coursekit gan mode-collapse|cgan|pix2pix|cyclegan``: run a demonstration, print its metrics, save PNGs.

    coursekit gan mode-collapse --out artifacts/gan        # ring8: plain GAN vs PacGAN, VEEGAN numbers
    coursekit gan cgan --steps 3000                        # digits cGAN, classifier accuracy
    coursekit gan pix2pix --task inpaint                   # L1 only vs L1 + PatchGAN on held-out pairs
    coursekit gan cyclegan --task thin2thick               # unpaired thin ↔ thick
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from . import set_threads

DEFAULT_OUT = "artifacts/gan"


def _common(p: argparse.ArgumentParser, steps: int) -> None:
    p.add_argument("--steps", type=int, default=steps, help=f"generator steps (default {steps})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="cpu or cuda (default: CUDA when available)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"folder for the PNGs (default {DEFAULT_OUT})")
    p.add_argument("--json", default=None, help="also write the metrics to this JSON file")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def register(subparsers) -> None:
    parser = subparsers.add_parser("gan", help="GAN demonstrations: mode collapse, cGAN, pix2pix, CycleGAN")
    sub = parser.add_subparsers(dest="demo", required=True)
    from ..gan.demos import REMEDIES
    from ..gan.paired import TASKS

    p = sub.add_parser("mode-collapse", help="ring8: plain GAN vs a remedy (VEEGAN protocol)")
    _common(p, 12000)
    p.add_argument("--remedy", choices=REMEDIES, default="pacgan")
    p.add_argument("--pack", type=int, default=2, help="PacGAN: samples D judges jointly (default 2)")
    p.set_defaults(func=_mode_collapse)

    p = sub.add_parser("cgan", help="class-conditional GAN on the digits")
    _common(p, 3000)
    p.set_defaults(func=_cgan)

    p = sub.add_parser("pix2pix", help="pix2pix on digit pairs: L1 only vs L1 + PatchGAN")
    _common(p, 1500)
    p.add_argument("--task", choices=TASKS, default="inpaint")
    p.add_argument("--size", type=int, choices=(16, 32), default=16)
    p.add_argument("--lambda-l1", type=float, default=100.0)
    p.set_defaults(func=_pix2pix)

    p = sub.add_parser("cyclegan", help="CycleGAN on unpaired digit domains")
    _common(p, 1500)
    p.add_argument("--task", choices=TASKS, default="thin2thick")
    p.add_argument("--size", type=int, choices=(16, 32), default=16)
    p.set_defaults(func=_cyclegan)


def _setup(args) -> tuple[Path, bool | None]:
    set_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    return out, (False if args.no_progress else None)


def _report(args, name: str, metrics: dict, pictures: list[Path]) -> int:
    print(f"{name}: " + json.dumps(metrics, ensure_ascii=False))
    for path in pictures:
        print(f"wrote {path}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(metrics, indent=2, ensure_ascii=False))
    return 0


def _round(d: dict) -> dict:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in d.items()}


def _mode_collapse(args) -> int:
    from ..gan.demos import mode_collapse_demo
    from ..viz import gan as viz

    out, progress = _setup(args)
    r = mode_collapse_demo(steps=args.steps, remedy=args.remedy, pack=args.pack, seed=args.seed,
                           device=args.device, progress=progress)
    path = viz.save(viz.mode_collapse_figure(r), out / "mode_collapse.png")
    metrics = {"plain": _round(r["plain"]), "remedy": _round(r["remedy"]), "remedy_name": r["remedy_name"],
               "steps": args.steps, "seed": args.seed}
    return _report(args, "mode-collapse", metrics, [path])


def _cgan(args) -> int:
    from ..gan.demos import cgan_demo
    from ..viz import gan as viz

    out, progress = _setup(args)
    r = cgan_demo(steps=args.steps, seed=args.seed, device=args.device, progress=progress)
    path = viz.save(viz.cgan_figure({"samples": r["grid"], "accuracy": r["accuracy"]}), out / "cgan.png")
    metrics = _round({"accuracy": r["accuracy"], "confidence": r["confidence"], "steps": r["steps"],
                      "seconds": r["seconds"], "seed": args.seed})
    return _report(args, "cgan", metrics, [path])


def _pix2pix(args) -> int:
    from ..gan.demos import pix2pix_demo
    from ..viz import gan as viz

    out, progress = _setup(args)
    r = pix2pix_demo(task=args.task, steps=args.steps, size=args.size, lambda_l1=args.lambda_l1, seed=args.seed,
                     device=args.device, progress=progress)
    path = viz.save(viz.pix2pix_figure(r), out / f"pix2pix_{args.task}.png")
    metrics = {"task": args.task, "l1_only": _round(r["l1_only"]), "l1_gan": _round(r["l1_gan"]),
               "target_accuracy": round(r["target_accuracy"], 4), "steps": args.steps, "seed": args.seed}
    return _report(args, "pix2pix", metrics, [path])


def _cyclegan(args) -> int:
    from ..gan.demos import cyclegan_demo
    from ..viz import gan as viz

    out, progress = _setup(args)
    r = cyclegan_demo(task=args.task, steps=args.steps, size=args.size, seed=args.seed, device=args.device,
                      progress=progress)
    path = viz.save(viz.cyclegan_figure(r), out / f"cyclegan_{args.task}.png")
    metrics = _round({k: r[k] for k in ("task", "l1", "identity_l1", "accuracy", "cycle_l1", "seconds")})
    metrics.update(steps=args.steps, seed=args.seed)
    return _report(args, "cyclegan", metrics, [path])

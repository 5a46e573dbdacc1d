"""coursekit compare: train every family on the digits with teaching budgets and print one table.

    coursekit compare                             # full budgets: fixed optimiser steps per family (CPU minutes)
    coursekit compare --quick                     # seconds: checks the pipeline, numbers meaningless
    coursekit compare --seconds 20                # and stop each family's training after 20 s of wall clock
    coursekit compare --only vae,cvae --seed 1 --out artifacts/compare

With --out the folder receives compare.md (or compare.txt with --plain), compare.json and one sample grid
per family (<family>.png), written together when the run succeeds.
"""

from __future__ import annotations

import argparse
import json
import sys

from . import (
    UsageError,
    add_device_options,
    add_out_option,
    add_seed_option,
    check_out_dir,
    check_out_file,
    positive_float,
    staged_outputs,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    from ..compare import FAMILIES

    p = subparsers.add_parser("compare", help="train each model family on the digits and print one comparison table",
                              description=__doc__)
    p.add_argument("--quick", action="store_true", help="tiny budgets (for tests; numbers are meaningless)")
    p.add_argument("--seconds", type=positive_float, default=None,
                   help="also stop each family's training after this many seconds of wall clock (default: none, "
                        "each family trains for its fixed, seeded number of optimiser steps)")
    add_seed_option(p, 0, "training, sampling and evaluation")
    p.add_argument("--only", metavar="FAMILIES", default=None,
                   help=f"comma-separated families among {','.join(FAMILIES)} (default: all)")
    add_device_options(p)
    p.add_argument("--plain", action="store_true", help="aligned plain text instead of a Markdown table")
    add_out_option(p, None, "the table, the rows as JSON and the sample grids (default: print only)")
    p.add_argument("--json", metavar="FILE", dest="json_out", default=None,
                   help="also write the rows as JSON to this file (default: none)")
    p.set_defaults(func=run)


def parse_only(text: str | None) -> list[str] | None:
    """``--only``: a non-empty comma-separated list of distinct family names (None: every family)."""
    from ..compare import FAMILIES

    if text is None:
        return None
    names = [name.strip() for name in text.split(",")]
    if not text.strip() or any(not name for name in names):
        raise UsageError(f"--only: expected comma-separated families among {','.join(FAMILIES)}, got {text!r}")
    unknown = [name for name in names if name not in FAMILIES]
    if unknown:
        raise UsageError(f"--only: expected families among {','.join(FAMILIES)}, got {','.join(unknown)}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise UsageError(f"--only: each family at most once, got {','.join(repeated)} twice")
    return names


def run(args: argparse.Namespace) -> int:
    from ..compare import compare, format_table

    only = parse_only(args.only)
    out = check_out_dir(args.out) if args.out else None
    if args.json_out:
        check_out_file(args.json_out, "--json")
    import matplotlib

    matplotlib.use("Agg")
    budgets = None
    if args.seconds is not None:                   # the steps stay; the wall clock may end a family sooner
        from dataclasses import replace

        from ..compare import FULL_BUDGETS, QUICK_BUDGETS

        budgets = {name: replace(b, seconds=args.seconds)
                   for name, b in (QUICK_BUDGETS if args.quick else FULL_BUDGETS).items()}
    rows = compare(quick=args.quick, seed=args.seed, only=only, device=args.device, budgets=budgets,
                   log=lambda line: print(line, file=sys.stderr, flush=True))
    table = format_table(rows, markdown=not args.plain)
    data = json.dumps([r.as_dict() for r in rows], indent=2, ensure_ascii=False)
    if out is not None:
        from ..viz.core import save_image_grid

        with staged_outputs(out) as stage:
            stage("compare.txt" if args.plain else "compare.md").write_text(table + "\n", encoding="utf-8")
            stage("compare.json").write_text(data, encoding="utf-8")
            for r in rows:
                if r.samples is not None:
                    save_image_grid(stage(f"{r.family}.png"), r.samples[:100], nrow=10, title=r.model)
    if args.json_out:
        from pathlib import Path

        with staged_outputs(Path(args.json_out).parent) as stage:
            stage(Path(args.json_out).name).write_text(data, encoding="utf-8")
    print(table)
    return 0

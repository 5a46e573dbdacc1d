"""``coursekit compare``: train every family on the digits with teaching budgets and print one table.

    coursekit compare                 # full budgets (CPU minutes per model)
    coursekit compare --quick         # seconds: checks the pipeline, numbers meaningless
    coursekit compare --only vae,cvae --seed 1 --out table.md
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import set_threads


def register(subparsers: argparse._SubParsersAction) -> None:
    from ..compare import FAMILIES

    p = subparsers.add_parser("compare", help="train each model family on the digits and print one comparison table",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny budgets (for tests; numbers are meaningless)")
    p.add_argument("--seed", type=int, default=0, help="seed for training, sampling and evaluation (default 0)")
    p.add_argument("--only", default=None, help=f"comma-separated families among {', '.join(FAMILIES)}")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available, $COURSEKIT_DEVICE)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--plain", action="store_true", help="aligned plain text instead of a Markdown table")
    p.add_argument("--out", default=None, help="also write the table to this file")
    p.add_argument("--json", dest="json_out", default=None, help="also write the rows as JSON to this file")
    p.add_argument("--samples-dir", default=None, help="save each model's sample grid as a PNG in this folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    from ..compare import compare, format_table

    try:
        set_threads(args.threads)
        rows = compare(quick=args.quick, seed=args.seed, only=args.only, device=args.device,
                       log=lambda line: print(line, file=sys.stderr, flush=True))
    except ValueError as err:
        raise SystemExit(f"coursekit compare: {err}") from err
    table = format_table(rows, markdown=not args.plain)
    print(table)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(table + "\n", encoding="utf-8")
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps([r.as_dict() for r in rows], indent=2, ensure_ascii=False),
                                       encoding="utf-8")
    if args.samples_dir:
        from ..viz.core import save_image_grid

        for r in rows:
            if r.samples is not None:
                save_image_grid(Path(args.samples_dir) / f"{r.family}.png", r.samples[:100], nrow=10, title=r.model)
    return 0

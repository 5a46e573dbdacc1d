"""The ``coursekit`` command. Each unit registers its sub-command from its own file in this folder:

    coursekit ddpm train|sample|demo      (ddpm.py)
    coursekit gan ...                     (gan.py)
    coursekit compare ...                 (compare.py)
"""

from __future__ import annotations

import argparse
import importlib
import sys

UNITS = ("ddpm", "gan", "compare", "grade")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="coursekit", description="Deep generative models course toolkit")
    sub = parser.add_subparsers(dest="unit", required=True)
    for unit in UNITS:
        try:
            module = importlib.import_module(f"{__name__}.{unit}")
        except ModuleNotFoundError as err:
            if err.name == f"{__name__}.{unit}":
                continue          # a unit not written yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

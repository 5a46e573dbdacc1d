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


class UsageError(ValueError):
    """A bad command-line value: ``main`` prints ``coursekit <unit>: error: <message>`` on stderr (one line, no
    traceback) and exits 2. The message names the option and what was expected, e.g.
    ``--steps: expected a positive integer, got 0``."""


def set_threads(threads: int | None) -> int:
    """Give torch ``threads`` CPU threads (None: leave torch's choice); returns the count before, so a command
    run in-process (tests, notebooks) can restore it. Every unit's ``--threads`` option goes through here."""
    import torch

    before = torch.get_num_threads()
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"--threads must be a positive int, got {threads!r}")
        torch.set_num_threads(threads)
    return before


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

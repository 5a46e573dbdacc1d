"""``coursekit grade``: the instructor steps nbgrader has no command for (run in the course root).

    coursekit grade autograde ddpm --workers 4     # `nbgrader autograde ddpm` across cores, same gradebook
    coursekit grade feedback ddpm                  # `nbgrader generate_feedback ddpm` without the hidden tests
    coursekit grade scores ddpm                    # the gradebook as a table (student × graded cell)

Every submission runs in a bubblewrap sandbox (no view of the course, other submissions, the gradebook, the
network). Where that sandbox cannot work, autograde refuses with one line; --unsafe grades without it.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from . import UsageError, positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    from . import HelpFormatter

    p = subparsers.add_parser("grade", help="parallel autograde, feedback without hidden tests, scores",
                              description=__doc__, formatter_class=HelpFormatter)
    steps = p.add_subparsers(dest="step", required=True)
    helps = {"autograde": "autograde every submission in submitted/ across the CPU cores, each in a sandbox",
             "feedback": "write feedback/ with the hidden tests removed",
             "scores": "print the gradebook's scores"}
    for name, text in helps.items():
        sp = steps.add_parser(name, help=text, description=text, formatter_class=HelpFormatter)
        sp.add_argument("assignment", help="assignment name, e.g. ddpm")
        sp.add_argument("--root", default=".", help="course root, where nbgrader_config.py is (default: .)")
        sp.add_argument("--student", action="append", dest="students",
                        help="only this student (repeatable; default: every student)")
        if name == "autograde":
            sp.add_argument("--workers", type=positive_int, default=None,
                            help="processes (default: the number of CPU cores)")
            sp.add_argument("--unsafe", action="store_true",
                            help="run student code without the sandbox where bubblewrap cannot work (it then "
                                 "runs with your rights and can read or change the course)")
        sp.set_defaults(func=run, cmd=name)


def check_course(args: argparse.Namespace) -> Path:
    """The course root of ``args`` after the checks every step needs (one-line UsageError otherwise)."""
    root = Path(args.root)
    if not root.is_dir():
        raise UsageError(f"--root: expected a course folder, got {args.root!r} (no such folder)")
    if not (root / "nbgrader_config.py").is_file():
        where = "the current folder" if args.root == "." else repr(args.root)
        raise UsageError(f"--root: expected a course folder with nbgrader_config.py, got {where} "
                         "(run in the course root or pass --root)")
    if importlib.util.find_spec("nbgrader") is None:
        raise UsageError("nbgrader is not installed (bash scripts/setup.sh installs it into .venv)")
    if args.cmd in ("scores", "feedback") and not (root / "gradebook.db").is_file():
        raise UsageError(f"--root: {str(root)!r} has no gradebook.db yet "
                         f"(run `nbgrader generate_assignment {args.assignment}` and autograde first)")
    return root


def run(args: argparse.Namespace) -> int:
    from ..grading import run as run_step

    check_course(args)
    return run_step(args)

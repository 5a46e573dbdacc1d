"""``coursekit grade``: the instructor steps nbgrader has no command for (run in the course root).

    coursekit grade autograde ddpm --workers 4     # `nbgrader autograde ddpm` across cores, same gradebook
    coursekit grade feedback ddpm                  # `nbgrader generate_feedback ddpm` without the hidden tests
    coursekit grade scores ddpm                    # the gradebook as a table (student × graded cell)
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("grade", help="parallel autograde, feedback without hidden tests, scores",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    steps = p.add_subparsers(dest="step", required=True)
    helps = {"autograde": "autograde every submission in submitted/ across the CPU cores",
             "feedback": "write feedback/ with the hidden tests removed",
             "scores": "print the gradebook's scores"}
    for name, text in helps.items():
        sp = steps.add_parser(name, help=text)
        sp.add_argument("assignment", help="assignment name, e.g. ddpm")
        sp.add_argument("--root", default=".", help="course root, where nbgrader_config.py is (default .)")
        sp.add_argument("--student", action="append", dest="students", help="only this student (repeatable)")
        if name == "autograde":
            sp.add_argument("--workers", type=int, default=None, help="processes (default: CPU cores)")
        sp.set_defaults(func=run, cmd=name)


def run(args: argparse.Namespace) -> int:
    from ..grading import run as run_step

    if getattr(args, "workers", None) is not None and args.workers < 1:
        raise SystemExit("--workers must be >= 1")
    return run_step(args)

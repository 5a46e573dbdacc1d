"""``coursekit grade``: the instructor steps nbgrader has no command for (run in the course root).

    coursekit grade roster canvas-gradebook.csv --lms canvas    # students in (Canvas / Moodle export, or nbgrader's)
    coursekit grade due ddpm "2026-03-01 23:59 +08:00"          # the due date (the late policy: nbgrader_config.py)
    coursekit grade collect ddpm submissions.zip --lms canvas   # an LMS download → submitted/, with time stamps
    coursekit grade autograde ddpm --workers 4     # `nbgrader autograde ddpm` across cores, same gradebook
    coursekit grade scores ddpm                    # the gradebook as a table (written parts: 'waiting' until graded)
    coursekit grade report ddpm                    # reports/ddpm.html + .csv: what the class got wrong
    coursekit grade feedback ddpm                  # feedback/ without the hidden tests, the diagnosis on top
    coursekit grade export ddpm --lms canvas       # reports/ddpm-canvas.csv: every rostered student, LMS layout

Every submission runs in a bubblewrap sandbox (no view of the course, other submissions, the gradebook, the
network). Where that sandbox cannot work, autograde refuses with one line; --unsafe grades without it. Before a
class is graded, the instructor's own solution is graded in the same sandbox: autograde refuses, naming the
cause, unless it gets full autograded marks (`coursekit grade preflight ddpm` runs that check alone).
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from . import UsageError, positive_int

NEEDS_GRADEBOOK = ("scores", "feedback", "report", "export", "collect")
LMS_CHOICES = {"roster": ("canvas", "moodle", "nbgrader"), "collect": ("canvas", "moodle"),
               "export": ("canvas", "moodle")}


def register(subparsers: argparse._SubParsersAction) -> None:
    from ..grading.commands import add_steps
    from . import HelpFormatter

    p = subparsers.add_parser("grade", help="autograde (with a preflight), report, feedback, LMS roster/collect/export",
                              description=__doc__, formatter_class=HelpFormatter)
    steps = p.add_subparsers(dest="step", required=True)
    add_steps(steps, HelpFormatter, positive_int)
    for sp in steps.choices.values():
        sp.set_defaults(func=run)


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
    if args.cmd in LMS_CHOICES and getattr(args, "lms", None) not in LMS_CHOICES[args.cmd]:
        raise UsageError(f"--lms: expected one of {', '.join(LMS_CHOICES[args.cmd])}, got {args.lms!r}")
    for name in ("file", "archive", "notebook", "worksheet"):
        value = getattr(args, name, None)
        if value is not None and not Path(value).is_file():
            option = name if name != "worksheet" else "--worksheet"
            raise UsageError(f"{option}: expected an existing file, got {value!r}")
    if args.cmd in NEEDS_GRADEBOOK and not (root / "gradebook.db").is_file():
        raise UsageError(f"--root: {str(root)!r} has no gradebook.db yet "
                         f"(run `nbgrader generate_assignment {args.assignment}` and autograde first)")
    if getattr(args, "out", None):
        from . import check_out_dir

        check_out_dir(args.out)
    if args.cmd == "due":
        from ..grading.lms import LMSError, parse_time

        try:
            parse_time(args.when, "when")
        except LMSError as err:
            raise UsageError(str(err)) from None
    if args.cmd == "collect":
        from ..grading.lms import LMSError, _zone

        try:
            _zone(args.timezone)
        except LMSError as err:
            raise UsageError(str(err)) from None
    return root


def run(args: argparse.Namespace) -> int:
    from ..grading import run as run_step

    check_course(args)
    return run_step(args)

"""``coursekit grade …`` / ``python -m coursekit.grading …``: the instructor's steps nbgrader has no command for.

    autograde ASSIGNMENT         the class across the CPU cores (after the preflight), scores as nbgrader's
    preflight ASSIGNMENT         grade the solution in the sandbox; exit 1 with the cause unless full marks
    validate NOTEBOOK            a student's notebook run in the sandbox, each test's verdict and hint
    scores ASSIGNMENT            the gradebook as a table; written parts still waiting show "waiting"
    report ASSIGNMENT            the class report: reports/ASSIGNMENT.html and .csv
    feedback ASSIGNMENT          feedback/ without the hidden tests, the diagnosis on top
    roster FILE --lms L          students from an LMS export (canvas, moodle) or nbgrader's roster CSV
    collect ASSIGNMENT ZIP --lms L   a Canvas / Moodle download into submitted/, with time stamps
    due ASSIGNMENT WHEN          the due date ("2026-03-01 23:59 +08:00")
    export ASSIGNMENT --lms L    the grades in the column layout Canvas / Moodle import, every rostered student
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELPS = {
    "autograde": "autograde every submission in submitted/ across the CPU cores, each in a sandbox (the "
                 "instructor's solution first: refuses unless it gets full marks)",
    "feedback": "write feedback/ without the hidden tests, each part's score and diagnosed mistake on top",
    "scores": "print the gradebook's scores (written parts that still wait for hand grading show 'waiting')",
    "report": "write the class report (one self-contained HTML page and a CSV) from the gradebook",
    "preflight": "grade the instructor's solution in the grading sandbox; fail with the cause unless full marks",
    "validate": "run one notebook (a student's submission) in the grading sandbox and print each test's verdict",
    "roster": "import students from an LMS export (Canvas / Moodle gradebook CSV) or nbgrader's roster CSV",
    "collect": "put a Canvas / Moodle 'download all submissions' zip into submitted/, keeping time stamps",
    "due": "set an assignment's due date (with its UTC offset) in the gradebook",
    "export": "write the grades in the layout Canvas or Moodle imports, one row per rostered student",
}


def add_steps(steps: argparse._SubParsersAction, formatter=argparse.HelpFormatter, positive_int=int) -> None:
    """The steps' parsers (shared by ``coursekit grade`` and ``python -m coursekit.grading``)."""
    for name, text in HELPS.items():
        sp = steps.add_parser(name, help=text, description=text, formatter_class=formatter)
        if name == "roster":
            sp.add_argument("file", help="the roster CSV: Canvas's gradebook export, Moodle's gradebook 'plain "
                                         "text' export, or nbgrader's (id,first_name,last_name,email,lms_user_id)")
        elif name == "validate":
            sp.add_argument("notebook", help="the notebook to run, e.g. submitted/alice/ddpm/ddpm.ipynb")
        else:
            sp.add_argument("assignment", help="assignment name, e.g. ddpm")
        if name == "collect":
            sp.add_argument("archive", help="the zip the LMS's 'download all submissions' gave")
        if name == "due":
            sp.add_argument("when", help="due date and time with the UTC offset, e.g. '2026-03-01 23:59 +08:00'")
        sp.add_argument("--root", default=".", help="course root, where nbgrader_config.py is (default: .)")
        if name in ("autograde", "feedback"):
            sp.add_argument("--student", action="append", dest="students",
                            help="only this student (repeatable; default: every student)")
        if name == "autograde":
            sp.add_argument("--workers", type=positive_int, default=None,
                            help="processes (default: the number of CPU cores)")
            sp.add_argument("--unsafe", action="store_true",
                            help="run student code without the sandbox where bubblewrap cannot work (it then "
                                 "runs with your rights and can read or change the course)")
        if name in ("roster", "collect", "export"):
            kinds = "canvas, moodle or nbgrader" if name == "roster" else "canvas or moodle"
            sp.add_argument("--lms", default=None, help=f"the file's layout: {kinds} (required; default: none)")
        if name == "collect":
            sp.add_argument("--timezone", default="+00:00",
                            help="the LMS's UTC offset, for the time stamps stored in the zip (e.g. +08:00)")
            sp.add_argument("--worksheet", default=None,
                            help="Moodle's grading worksheet CSV: participant ids and submission times "
                                 "(default: match by full name, zip time stamps)")
        if name in ("report", "export"):
            sp.add_argument("--out", metavar="FOLDER", default=None,
                            help="output folder (default: reports/ in the course root)")
        if name == "export":
            sp.add_argument("--missing", choices=("zero", "blank"), default="zero",
                            help="a rostered student with no submission: 0, or no grade (blank for Canvas, '-' "
                                 "for Moodle)")
            sp.add_argument("--column", default=None,
                            help="the grade column's header, e.g. Canvas's 'DDPM (12345)' to update that "
                                 "assignment (default: the assignment's name; Moodle: 'Assignment: NAME (Real)')")
        sp.set_defaults(cmd=name)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m coursekit.grading", description=__doc__.split("\n")[0])
    add_steps(p.add_subparsers(dest="cmd", required=True))
    args = p.parse_args(argv)
    try:
        return run(args)
    except (ValueError, RuntimeError) as err:
        print(f"python -m coursekit.grading {args.cmd}: error: {err}", file=sys.stderr)
        return 1


def run_preflight(root: Path, assignment: str, unsafe: bool = False) -> str:
    """The preflight in its own process; see :func:`coursekit.grading.preflight.run_subprocess`."""
    from .preflight import run_subprocess

    return run_subprocess(root, assignment, unsafe)


def run(args) -> int:
    root = Path(args.root)
    if args.cmd == "autograde":
        from . import preflight, sandbox
        from .parallel import autograde_parallel

        sandbox.require(args.unsafe)            # one line and nothing graded where it cannot sandbox
        done = "" if preflight.skipped() else run_preflight(root, args.assignment, args.unsafe)
        table = autograde_parallel(root, args.assignment, args.students, args.workers, unsafe=args.unsafe,
                                   preflight_done=done)
        print_table(table)
        return 0
    if args.cmd == "preflight":
        digest = run_preflight(root, args.assignment)
        print(f"{args.assignment}: the solution gets full autograded marks in the grading sandbox ({digest[:12]})")
        return 0
    if args.cmd == "validate":
        from .validate import validate

        return validate(root, Path(args.notebook))
    if args.cmd == "feedback":
        from .feedback import feedback

        for path in feedback(root, args.assignment, args.students):
            print(path)
        return 0
    if args.cmd == "scores":
        from .execution import scores, written_states

        print_table(scores(root, args.assignment), written_states(root, args.assignment))
        return 0
    if args.cmd == "report":
        from .report import class_report

        for path in class_report(root, args.assignment, args.out):
            print(path)
        return 0
    from . import lms

    if args.cmd == "roster":
        students = lms.import_roster(root, Path(args.file), args.lms)
        print(f"{len(students)} students in the gradebook")
        return 0
    if args.cmd == "collect":
        got = lms.collect(root, args.assignment, Path(args.archive), args.lms, args.timezone,
                          Path(args.worksheet) if args.worksheet else None)
        for c in got.collected:
            print(f"{c.student:24s} {c.timestamp:%Y-%m-%d %H:%M:%S} UTC{'  (LATE in the LMS)' if c.late_marked else ''}"
                  f"  ← {c.file}")
        for entry in got.unmatched:
            print(f"not collected (no rostered student / not the {args.assignment} notebook): {entry}",
                  file=sys.stderr)
        print(f"{len(got.collected)} collected; {len(got.missing)} rostered students without a submission"
              + (f": {', '.join(got.missing[:20])}" if got.missing else ""))
        return 0
    if args.cmd == "due":
        when = lms.set_due_date(root, args.assignment, args.when)
        print(f"{args.assignment} is due {when:%Y-%m-%d %H:%M} UTC")
        return 0
    if args.cmd == "export":
        out = Path(args.out) if args.out else root / "reports"
        out.mkdir(parents=True, exist_ok=True)
        path = lms.export(root, args.assignment, args.lms, out / f"{args.assignment}-{args.lms}.csv", args.missing,
                          args.column)
        print(path)
        return 0
    raise ValueError(f"unknown step {args.cmd!r}")


def print_table(table: dict[str, dict[str, float]], states: dict[str, dict[str, str]] | None = None) -> None:
    """Students × parts; a written part that still waits for hand grading shows 'waiting' (it counts 0 now)."""
    states = states or {}
    columns = sorted({k for row in table.values() for k in row if k != "total"}) + ["total"]
    print("student".ljust(20) + "".join(c[:16].rjust(17) for c in columns))
    waiting = 0
    for student, row in sorted(table.items()):
        cells = []
        for c in columns:
            if states.get(student, {}).get(c) == "waiting":
                cells.append("waiting".rjust(17))
                waiting += 1
            else:
                cells.append(f"{row.get(c, float('nan')):17g}")
        print(student.ljust(20) + "".join(cells))
    if waiting:
        print(f"{waiting} written answer(s) wait for hand grading in Formgrader; until then they count as 0 "
              "(in totals and in any export)")

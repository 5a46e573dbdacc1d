"""``coursekit grade …`` / ``python -m coursekit.grading …``: autograde, feedback, scores."""

from __future__ import annotations

from .execution import scores
from .feedback import feedback
from .parallel import autograde_parallel


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m coursekit.grading", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("autograde", "feedback", "scores"):
        sp = sub.add_parser(name)
        sp.add_argument("assignment")
        sp.add_argument("--root", default=".")
        sp.add_argument("--student", action="append", dest="students")
        if name == "autograde":
            sp.add_argument("--workers", type=int, default=None)
            sp.add_argument("--unsafe", action="store_true", help="grade without the sandbox where it cannot work")
    args = p.parse_args(argv)
    return run(args)


def run(args) -> int:
    if args.cmd == "autograde":
        table = autograde_parallel(args.root, args.assignment, args.students, args.workers,
                                   unsafe=getattr(args, "unsafe", False))
    elif args.cmd == "feedback":
        for path in feedback(args.root, args.assignment, args.students):
            print(path)
        return 0
    else:
        table = scores(args.root, args.assignment)
    print_table(table)
    return 0


def print_table(table: dict[str, dict[str, float]]) -> None:
    columns = sorted({k for row in table.values() for k in row if k != "total"}) + ["total"]
    print("student".ljust(20) + "".join(c[:16].rjust(17) for c in columns))
    for student, row in sorted(table.items()):
        print(student.ljust(20) + "".join(f"{row.get(c, float('nan')):17g}" for c in columns))

"""Feedback without the hidden tests (``nbgrader generate_feedback`` shows them), and the helpers that find
hidden-test text in a notebook."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from .execution import _nbgrader

HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"


def strip_hidden(source: str) -> str:
    """A test cell's source without its hidden block (replaced by one comment line)."""
    pattern = re.compile(rf"^[ \t]*{re.escape(HIDDEN_BEGIN)}.*?^[ \t]*{re.escape(HIDDEN_END)}[^\n]*\n?",
                         re.M | re.S)
    return pattern.sub("# (hidden tests / 隐藏测试)\n", source)


def block_lines(source: str, begin: str = HIDDEN_BEGIN, end: str = HIDDEN_END, min_length: int = 9) -> list[str]:
    """The stripped lines between ``begin`` and ``end`` markers that are at least ``min_length`` long (shorter
    ones, like ``pass``, occur anywhere): what must not appear in a release or in feedback."""
    lines, inside = [], False
    for line in source.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside and len(line.strip()) >= min_length:
            lines.append(line.strip())
    return lines


def hide_tests(nb) -> bool:
    """Remove hidden tests from a notebook in place: test sources, and any output that quotes them
    (tracebacks are cut to their last line). Returns whether anything was hidden."""
    changed = False
    for cell in nb.cells:
        if cell.cell_type != "code" or HIDDEN_BEGIN not in cell.source:
            continue
        hidden = block_lines(cell.source)
        cell.source = strip_hidden(cell.source)
        changed = True
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                evalue = str(out.get("evalue", ""))
                if any(h in evalue for h in hidden):
                    evalue = "(details withheld)"
                out["evalue"] = evalue
                out["traceback"] = [f"{out.get('ename', 'Error')}: {evalue}"]
            elif out.get("output_type") == "stream":
                if any(h in out.get("text", "") for h in hidden):
                    out["text"] = "(output withheld)\n"
    return changed


def feedback(root: str | Path, assignment: str, students: list[str] | None = None) -> list[Path]:
    """``nbgrader generate_feedback`` on copies of the autograded notebooks with the hidden tests removed.

    Writes feedback/<student>/<assignment>/*.html as nbgrader does (scores come from the gradebook).
    """
    import nbformat

    root = Path(root).resolve()
    autograded = root / "autograded"
    students = sorted(students) if students is not None else sorted(
        p.name for p in autograded.iterdir() if (p / assignment).is_dir())
    stage_name = ".feedback_autograded"
    stage = root / stage_name
    shutil.rmtree(stage, ignore_errors=True)
    try:
        for s in students:
            src, dst = autograded / s / assignment, stage / s / assignment
            shutil.copytree(src, dst)
            for path in dst.glob("*.ipynb"):
                nb = nbformat.read(path, as_version=4)
                hide_tests(nb)
                nbformat.write(nb, path)
        # one nbgrader process for every staged student (it reads only the stage)
        _nbgrader(["generate_feedback", assignment, "--force", f"--CourseDirectory.autograded_directory={stage_name}"],
                  cwd=root)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return sorted(p for s in students for p in (root / "feedback" / s / assignment).glob("*.html"))

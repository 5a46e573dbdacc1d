"""Running nbgrader for the instructor, and reading its gradebook."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path


def _nbgrader(args: list[str], cwd: Path, env: dict[str, str] | None = None,
              check: bool = True) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "nbgrader", *args]
    env = dict(os.environ if env is None else env)
    # nbgrader runs `alembic` by name for its database: the interpreter's bin directory must be on PATH
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def _db_url(root: Path) -> str:
    return f"sqlite:///{(Path(root) / 'gradebook.db').resolve()}"


def scores(root: str | Path, assignment: str) -> dict[str, dict[str, float]]:
    """{student: {grade_id: score, "total": score}} read through nbgrader.api.Gradebook (never creates one)."""
    from nbgrader.api import Gradebook

    if not (Path(root) / "gradebook.db").is_file():
        raise ValueError(f"root: {str(root)!r} has no gradebook.db (generate the assignment and autograde first)")

    out: dict[str, dict[str, float]] = {}
    with Gradebook(_db_url(Path(root))) as gb:
        for sub in gb.assignment_submissions(assignment):
            row: dict[str, float] = {}
            for nb in sub.notebooks:
                for grade in nb.grades:
                    row[grade.name] = float(grade.score)
            row["total"] = float(sub.score)
            out[sub.student_id] = row
    return out


def _students(root: Path, assignment: str) -> list[str]:
    submitted = root / "submitted"
    return sorted(p.name for p in submitted.iterdir() if (p / assignment).is_dir()) if submitted.is_dir() else []


def _config_value(root: Path, name: str, default: str) -> str:
    text = (root / "nbgrader_config.py").read_text(encoding="utf-8")
    m = re.search(rf"c\.CourseDirectory\.{name}\s*=\s*[\"']([^\"']+)[\"']", text)
    return m.group(1) if m else default


def written_states(root: str | Path, assignment: str) -> dict[str, dict[str, str]]:
    """{student: {grade_id: "graded" | "waiting" | "blank"}} of the manually graded (written) parts."""
    from nbgrader.api import Gradebook

    from .nbhooks import written_state

    out: dict[str, dict[str, str]] = {}
    with Gradebook(_db_url(Path(root))) as gb:
        for sub in gb.assignment_submissions(assignment):
            for nb in sub.notebooks:
                for grade in nb.grades:
                    if grade.cell.cell_type == "markdown":
                        out.setdefault(sub.student_id, {})[grade.name] = written_state(grade)
    return out

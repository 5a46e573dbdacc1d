"""Feedback that names the mistake and never shows the hidden tests.

``nbgrader generate_feedback`` renders the autograded notebook as it is, hidden tests included (tried on a graded
DDPM class: every hidden-test line of the solution was in the feedback). The course's nbgrader_config.py therefore
runs :class:`coursekit.grading.nbhooks.HideHiddenTests` in ``GenerateFeedback`` — every route (the command line,
Formgrader's buttons, :func:`feedback`) uses it — which

- puts a summary on top: per part the score and, where a test failed, the diagnosed mistake in both languages
  (:mod:`coursekit.grading.diagnosis`), the written parts' state (graded / waiting for the grader);
- removes the hidden tests' code from every test cell, and from a cell that ran hidden tests keeps only the
  output lines its visible code prints verbatim ("visible tests passed") and each error's name with a message a
  student may see (the hint, with a hidden test's shapes and lists masked), never a traceback.

:func:`feedback` then checks every page it wrote for hidden-test lines and refuses (deleting the pages) if a
configuration without the preprocessor let one through.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from . import diagnosis
from .diagnosis import HIDDEN_BEGIN, HIDDEN_END
from .execution import _nbgrader

WITHHELD = "（其余输出含隐藏测试的信息，不予显示 / the rest of this cell's output is withheld: it ran hidden tests）\n"
STATES = {"graded": ("已评分", "graded"), "waiting": ("待人工评分", "waiting for the grader"),
          "blank": ("未作答（0 分）", "not answered (0)")}


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


def _printable(visible_source: str) -> set[str]:
    """Text the visible part of a test cell can print verbatim: its string literals, line by line."""
    out: set[str] = set()
    try:
        tree = ast.parse(visible_source)
    except SyntaxError:
        return out
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.update(line.strip() for line in node.value.splitlines() if line.strip())
    return out


def _visible_lines(text: str, printable: set[str]) -> tuple[str, bool]:
    """``text`` keeping only lines the visible code prints verbatim; and whether anything was dropped."""
    kept, dropped = [], False
    for line in text.splitlines(keepends=True):
        if line.strip() and line.strip() in printable:
            kept.append(line)
        elif line.strip():
            dropped = True
    return "".join(kept), dropped


def hide_tests(nb, found: diagnosis.Diagnosis | None = None) -> bool:
    """Remove the hidden tests from a notebook in place; returns whether anything was hidden.

    In a test cell with hidden tests: the hidden block's source goes; stream output keeps only the lines the
    visible code prints verbatim; images and results go; each error keeps its name and a message a student may
    see (:func:`coursekit.grading.diagnosis.student_message`), never its traceback. ``found``: the notebook's
    diagnosis (computed here if not given, before anything is removed)."""
    found = found if found is not None else diagnosis.diagnose(nb)
    changed = False
    for cell in nb.cells:
        if cell.cell_type != "code" or HIDDEN_BEGIN not in cell.source:
            continue
        changed = True
        gid = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        part = found.parts.get(gid)
        visible = strip_hidden(cell.source)
        printable = _printable(visible)
        outputs, withheld = [], False
        for out in cell.get("outputs", []):
            kind = out.get("output_type")
            if kind == "stream":
                text, dropped = _visible_lines(out.get("text", ""), printable)
                withheld |= dropped
                if text:
                    out["text"] = text
                    outputs.append(out)
            elif kind == "error":
                outputs.append(_safe_error(out, cell.source, part))
            else:
                withheld = True
        if withheld:
            outputs.append({"output_type": "stream", "name": "stdout", "text": WITHHELD})
        cell.outputs = outputs
        cell.source = visible
    return changed


def _safe_error(out: dict, source: str, part: diagnosis.Part | None) -> dict:
    """An error output reduced to its name and a message a student may see."""
    name = out.get("ename", "Error")
    hidden = diagnosis.from_hidden(source, out) or diagnosis.error_line(out) is None
    if part is not None and part.failed:
        shown = diagnosis.Part(**{**part.__dict__, "hidden": part.hidden or hidden})
        zh, en = diagnosis.student_message(shown)
        message = zh if zh == en else f"{en} / {zh}"
    elif not hidden:
        message = diagnosis.first_line(out.get("evalue", ""))
    else:
        message = "(details withheld / 细节不予显示)"
    return {"output_type": "error", "ename": name, "evalue": message, "traceback": [f"{name}: {message}"]}


def _score(value) -> str:
    return "–" if value is None else f"{float(value):g}"


def summary_rows(nb, found: diagnosis.Diagnosis, states: dict[str, str]) -> list[tuple[str, str, str]]:
    """(part, "score / points", what to fix) for every graded cell, in notebook order."""
    rows = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        gid = meta.get("grade_id")
        if not gid:
            continue
        if gid in found.parts:
            part = found.parts[gid]
            if part.failed:
                zh, en = diagnosis.student_message(part)
                note = zh if zh == en else f"{zh} / {en}"
            else:
                note = "✓"
            rows.append((gid, f"{_score(meta.get('score', part.score))} / {_score(part.points)}", note))
        elif diagnosis.is_written(cell):
            zh, en = STATES.get(states.get(gid, ""), ("人工评分", "graded by hand"))
            rows.append((f"{gid}（人工评分 / by hand）", f"{_score(meta.get('score'))} / {_score(meta.get('points'))}",
                         f"{zh} / {en}"))
    return rows


def summary_cell(nb, found: diagnosis.Diagnosis, states: dict[str, str], late_penalty: float = 0):
    """A markdown cell: the per-part table a student reads first."""
    import nbformat

    def esc(text: str) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = ["## 评分反馈 / Feedback", "",
             "每一部分的得分；未通过的部分给出最可能的错误（隐藏测试的代码与输入不显示）。"
             " / The score of each part; where a test failed, the most likely mistake (the hidden tests' code and "
             "inputs are not shown).", "",
             "| 部分 / part | 得分 / score | 诊断 / what to fix |", "|---|---|---|"]
    lines += [f"| {esc(a)} | {esc(b)} | {esc(c)} |" for a, b, c in summary_rows(nb, found, states)]
    if late_penalty:
        lines += ["", f"迟交扣分 / late penalty: −{late_penalty:g}"]
    if any(s == "waiting" for s in states.values()):
        lines += ["", "书面部分尚待人工评分，目前按 0 分计。 / Written parts still wait for the grader and count as 0 "
                      "until graded."]
    cell = nbformat.v4.new_markdown_cell("\n".join(lines))
    cell.metadata["coursekit"] = {"summary": True}
    return cell


def leaked_lines(html: str, hidden: list[str]) -> list[str]:
    """Hidden-test lines found in a rendered page (as text or HTML-escaped)."""
    import html as html_lib

    return [h for h in hidden if h in html or html_lib.escape(h) in html or html_lib.escape(h, quote=False) in html]


def feedback(root: str | Path, assignment: str, students: list[str] | None = None) -> list[Path]:
    """``nbgrader generate_feedback`` (hidden tests removed and the diagnosis on top by nbgrader_config.py's
    ``HideHiddenTests``) for ``students`` (default: every autograded student); writes
    feedback/<student>/<assignment>/*.html. Raises RuntimeError, deleting what it wrote, if any page shows a
    hidden-test line of the source (a configuration without the preprocessor)."""
    import nbformat

    root = Path(root).resolve()
    autograded = root / "autograded"
    students = sorted(students) if students is not None else sorted(
        p.name for p in autograded.iterdir() if (p / assignment).is_dir())
    args = ["generate_feedback", assignment, "--force"]
    if len(students) == 1:
        args += ["--student", students[0]]
    _nbgrader(args, cwd=root)
    hidden = []
    for source in sorted((root / _source_dir(root) / assignment).glob("*.ipynb")):
        hidden += [line for c in nbformat.read(source, as_version=4).cells for line in block_lines(c.source)]
    pages = sorted(p for s in students for p in (root / "feedback" / s / assignment).glob("*.html"))
    bad = {p: leaked_lines(p.read_text(encoding="utf-8"), hidden) for p in pages}
    bad = {p: lines for p, lines in bad.items() if lines}
    if bad:
        for page in pages:
            page.unlink()
        first = next(iter(bad))
        raise RuntimeError(f"feedback for {first.parent.parent.name} shows hidden-test lines "
                           f"({bad[first][0]!r}...): nbgrader_config.py lacks the course's GenerateFeedback "
                           "preprocessor (coursekit.grading.nbhooks.HideHiddenTests); nothing written")
    return pages


def _source_dir(root: Path) -> str:
    from .execution import _config_value

    return _config_value(root, "source_directory", "source")

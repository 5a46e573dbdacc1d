"""What a graded part shows when it fails: its kind, the hint its test printed, where it came from.

The course's tests name the likely mistake in both languages (``expect_close``'s "Likely: …", the bilingual
``assert … , "English / 中文"`` messages of visible and hidden tests). This module reads a graded notebook and,
for every autograded test cell, says

- the **kind** of failure: a wrong answer (an ``AssertionError``), an exception, a timeout, the kernel died, a
  missing cell, or output on stderr (nbgrader zeroes a test cell that writes to stderr);
- the **hint**: the bilingual assertion message (after "Likely: " when there is one), or None when the message
  names no mistake in both languages (a bare ``assert``, an English-only comparison message) — such failures are
  listed as unexplained, with the first line of their error;
- whether it came from the **hidden** part of the test cell (the traceback's line in the cell lies between the
  hidden-test markers): a student is then shown the hint with the hidden inputs' shapes and lists masked, or a
  generic sentence, never the hidden test's code or inputs.

Standard library only: nbgrader_config.py's feedback preprocessor uses it in every nbgrader process.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"

# kind -> (中文, English)
KINDS: dict[str, tuple[str, str]] = {
    "wrong": ("答案错误", "wrong answer"),
    "exception": ("异常", "exception"),
    "timeout": ("超时", "timeout"),
    "kernel": ("内核崩溃", "kernel died"),
    "missing": ("缺少单元格", "missing cell"),
    "stderr": ("写入了 stderr", "output on stderr"),
}
TIMEOUT_ERRORS = ("CellTimeoutError", "KeyboardInterrupt", "TimeoutError")
_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]{2,}")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_CELL_LINE = re.compile(r"(?:Cell In ?\[[^\]]*\]|<ipython-input-[^>]*>), line (\d+)")


@dataclass
class Part:
    """One autograded test cell of one submission."""

    grade_id: str
    score: float | None
    points: float
    kind: str | None = None          # None: full marks (or partial credit without an error)
    hint: str | None = None          # the bilingual diagnosis the test printed
    detail: str = ""                 # first line of the error, for the instructor
    hidden: bool = False             # the failure came from the hidden tests
    answer: str | None = None        # the answer cell it depends on (where a NameError points)
    seconds: float | None = None     # execution time of the test cell

    @property
    def failed(self) -> bool:
        return self.kind is not None


@dataclass
class Diagnosis:
    """Every autograded part of one graded notebook, and the notebook's execution time."""

    parts: dict[str, Part] = field(default_factory=dict)
    seconds: float | None = None     # sum of the cells' execution times (kernel start not included)
    setup_error: str | None = None   # a locked, ungraded cell (the set-up) that raised


def is_bilingual(text: str) -> bool:
    """Chinese and English words in one message: the course's form of a hint."""
    return bool(_CJK.search(text)) and bool(_LATIN.search(text))


def hint_of(message: str) -> str | None:
    """The hint in an assertion message: the text after "Likely: " (expect_close), else the whole message when
    it is bilingual; None when it names no mistake in both languages."""
    text = " ".join(str(message).split())
    if "Likely: " in text:
        text = text.split("Likely: ", 1)[1]
    return text if text and is_bilingual(text) else None


def hint_key(hint: str) -> str:
    """Hints that differ only in numbers (shapes, counts, errors) group together."""
    return re.sub(r"\d+(?:\.\d+)?(?:e[-+]?\d+)?", "#", hint)


def mask_inputs(text: str) -> str:
    """A hidden test's hint as a student may see it: tuples and lists of numbers (the hidden inputs' shapes, the
    steps it used) become "(…)" / "[…]"."""
    text = re.sub(r"\(\s*-?\d+(?:\s*,\s*-?\d+)*\s*,?\s*\)", "(…)", text)
    return re.sub(r"\[[^\[\]]*\d[^\[\]]*\]", "[…]", text)


def first_line(text: str) -> str:
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""


def hidden_lines(source: str) -> list[tuple[int, int]]:
    """1-based (first, last) line numbers of each hidden-test block of a cell's source, markers included."""
    blocks, start = [], None
    for number, line in enumerate(source.splitlines(), 1):
        if HIDDEN_BEGIN in line:
            start = number
        elif HIDDEN_END in line and start is not None:
            blocks.append((start, number))
            start = None
    if start is not None:
        blocks.append((start, len(source.splitlines())))
    return blocks


def error_line(output: dict) -> int | None:
    """The line of the cell where an error output was raised (the outermost frame in the cell), if shown."""
    for entry in output.get("traceback", []) or []:
        m = _CELL_LINE.search(_ANSI.sub("", str(entry)))
        if m:
            return int(m.group(1))
    return None


def from_hidden(source: str, output: dict) -> bool:
    line = error_line(output)
    return line is not None and any(a <= line <= b for a, b in hidden_lines(source))


def _nbgrader(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def is_test(cell: dict) -> bool:
    """An autograded test cell: a graded code cell that is not an answer cell."""
    meta = _nbgrader(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def is_answer(cell: dict) -> bool:
    return cell.get("cell_type") == "code" and bool(_nbgrader(cell).get("solution"))


def is_written(cell: dict) -> bool:
    """A manually graded answer (a written part) or a task cell."""
    meta = _nbgrader(cell)
    return (cell.get("cell_type") == "markdown" and bool(meta.get("grade"))) or bool(meta.get("task"))


def _errors(cell: dict) -> list[dict]:
    return [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def _stderr(cell: dict) -> list[str]:
    return [o.get("text", "") for o in cell.get("outputs", [])
            if o.get("output_type") == "stream" and o.get("name") == "stderr"]


def cell_seconds(cell: dict) -> float | None:
    """Execution time recorded by nbclient in the cell's metadata (busy → idle), if any."""
    from datetime import datetime

    timing = cell.get("metadata", {}).get("execution", {}) or {}
    start = timing.get("iopub.status.busy") or timing.get("iopub.execute_input")
    end = timing.get("iopub.status.idle") or timing.get("shell.execute_reply")
    if not (start and end):
        return None
    try:
        parse = lambda s: datetime.fromisoformat(str(s).replace("Z", "+00:00"))  # noqa: E731
        return max(0.0, (parse(end) - parse(start)).total_seconds())
    except ValueError:
        return None


def _error_kind(error: dict) -> str:
    name = error.get("ename", "")
    if name in TIMEOUT_ERRORS:
        return "timeout"
    if name == "DeadKernelError":
        return "kernel"
    return "wrong" if name == "AssertionError" else "exception"


def _describe(error: dict) -> str:
    if error.get("ename") == "CellTimeoutError":
        return "CellTimeoutError: the cell ran past its time limit"
    value = first_line(error.get("evalue", ""))
    return f"{error.get('ename', 'Error')}: {value}" if value else str(error.get("ename", "Error"))


def answer_cells(nb: dict) -> dict[str, str]:
    """{test grade_id: the answer cell above it} in a notebook's order (use the source notebook's: a student may
    have deleted the answer cell)."""
    out, answer = {}, None
    for cell in nb.get("cells", []):
        if is_answer(cell):
            answer = _nbgrader(cell).get("grade_id")
        elif is_test(cell) and answer:
            out[_nbgrader(cell).get("grade_id", "")] = answer
    return out


def diagnose(nb: dict, submitted_ids: set[str] | None = None, scores: dict[str, float] | None = None,
             points: dict[str, float] | None = None, answer_for: dict[str, str] | None = None) -> Diagnosis:
    """Diagnose every autograded test cell of a graded notebook (nbformat dict or NotebookNode).

    ``submitted_ids``: the grade_ids present in the notebook as the student submitted it (a graded cell the
    student deleted comes back from the source, so only the submission tells it was missing).
    ``scores`` / ``points``: the gradebook's values per grade_id (else from the cell's metadata, else judged from
    the outputs as nbgrader does: an error or stderr scores 0). ``answer_for``: :func:`answer_cells` of the source
    notebook (default: of this one).
    """
    out = Diagnosis()
    answers = [c for c in nb.get("cells", []) if is_answer(c)]
    answer: dict | None = None                 # the latest answer cell above
    total, timed = 0.0, False
    for cell in nb.get("cells", []):
        seconds = cell_seconds(cell) if cell.get("cell_type") == "code" else None
        if seconds is not None:
            total, timed = total + seconds, True
        meta = _nbgrader(cell)
        if cell.get("cell_type") == "code" and meta.get("locked") and not meta.get("grade") and _errors(cell):
            out.setup_error = out.setup_error or f"{meta.get('grade_id', 'set-up')}: {_describe(_errors(cell)[0])}"
        if is_answer(cell):
            answer = cell
            continue
        if not is_test(cell):
            continue
        gid = meta.get("grade_id", "")
        max_points = float((points or {}).get(gid, meta.get("points", 0)) or 0)
        score = (scores or {}).get(gid, meta.get("score"))
        part = Part(gid, None if score is None else float(score), max_points, seconds=seconds,
                    answer=(answer_for or {}).get(gid) or (_nbgrader(answer).get("grade_id") if answer else None))
        _judge(part, cell, answer if answer and _nbgrader(answer).get("grade_id") == part.answer else None,
               submitted_ids, out.setup_error, answers)
        if part.score is None:
            part.score = 0.0 if part.failed else max_points
        out.parts[gid] = part
    out.seconds = total if timed else None
    return out


def _defining(answers: list[dict], error: dict) -> dict | None:
    """The answer cell that defines the name a NameError is about (``def name(`` / ``name =``), if any."""
    m = re.search(r"name '(\w+)' is not defined", str(error.get("evalue", "")))
    if not m:
        return None
    pattern = re.compile(rf"^(?:def\s+{m.group(1)}\s*\(|class\s+{m.group(1)}\b|{m.group(1)}\s*=)", re.M)
    return next((c for c in answers if pattern.search(c.get("source", ""))), None)


def _judge(part: Part, cell: dict, answer: dict | None, submitted_ids: set[str] | None,
           setup_error: str | None, answers: list[dict] = ()) -> None:
    """Fill in ``part``'s kind, hint, detail and origin from the cell's outputs (in place)."""
    errors, stderr = _errors(cell), _stderr(cell)
    if part.score is not None and part.score >= part.points and not errors:
        return
    answer_id = part.answer
    # a deleted test cell comes back from the source and is graded as usual; a deleted answer cell does not
    if submitted_ids is not None and answer_id and answer_id not in submitted_ids:
        part.kind, part.detail = "missing", f"answer cell {answer_id!r} is missing from the submission"
        return
    if errors:
        error = errors[0]
        part.kind, part.detail = _error_kind(error), _describe(error)
        part.hidden = from_hidden(cell.get("source", ""), error)
        if part.kind == "wrong":
            part.hint = hint_of(error.get("evalue", ""))
        elif error.get("ename") == "NameError" and (_defining(answers, error) or answer) is not None \
                and _errors(_defining(answers, error) or answer):
            source = _defining(answers, error) or answer        # the answer cell that failed: its names were
            causes = _errors(source)                            # never defined (this part's, or an earlier one)
            cause = next((e for e in causes if e.get("ename") == "CellTimeoutError"), causes[0])
            part.kind = _error_kind(cause) if _error_kind(cause) != "wrong" else "exception"
            part.answer = _nbgrader(source).get("grade_id", part.answer)
            part.detail = f"answer cell {part.answer!r}: {_describe(cause)}"
            part.hidden = False
        elif error.get("ename") == "NameError" and setup_error:
            part.detail = f"set-up cell failed ({setup_error})"
        return
    if stderr:
        part.kind, part.detail = "stderr", f"stderr: {first_line(stderr[0])}"
        return
    if part.score is not None and part.score < part.points and not cell.get("outputs") \
            and cell_seconds(cell) is None:
        part.kind, part.detail = "kernel", "the cell never ran (the kernel died before it)"


def student_message(part: Part) -> tuple[str, str]:
    """What a student is told about a failed part: (中文, English), never the hidden test's code or inputs."""
    zh_kind, en_kind = KINDS.get(part.kind or "", ("", ""))
    if part.kind == "wrong" and part.hint:
        hint = mask_inputs(part.hint) if part.hidden else part.hint
        return hint, hint                           # hints are bilingual already
    if part.kind == "wrong":
        if part.hidden:
            return ("通过了可见测试，但在隐藏测试的新随机输入上结果不对（没有更具体的提示）",
                    "passes the visible tests but gives wrong results on the hidden tests' fresh random inputs "
                    "(no more specific hint)")
        return f"可见测试未通过：{part.detail}", f"a visible test failed: {part.detail}"
    if part.kind == "missing":
        return "提交中缺少这个单元格（被删除了？）", "this cell is missing from the submission (deleted?)"
    if part.kind == "timeout":
        where = f"（答案单元格 {part.answer}）" if part.detail.startswith("answer cell") else ""
        where_en = f" (answer cell {part.answer})" if part.detail.startswith("answer cell") else ""
        return f"运行超时{where}：死循环，或太慢", f"ran out of time{where_en}: an endless loop, or too slow"
    if part.kind == "kernel":
        return "内核崩溃（进程退出或内存耗尽）", "the kernel died (the process exited or ran out of memory)"
    if part.kind == "stderr":
        return ("测试单元格向 stderr 输出了内容（评分规则：得 0 分）",
                "the test cell wrote to stderr (the rule: it then scores 0)")
    if part.kind == "exception":
        name = part.detail.split(":", 1)[0]
        if part.detail.startswith("answer cell"):
            return f"答案单元格出错：{part.detail}", f"the answer cell raised an error: {part.detail}"
        if "NotImplementedError" in part.detail:
            return "还没有作答（NotImplementedError）", "not answered yet (NotImplementedError)"
        if part.hidden:
            return (f"在隐藏测试的输入上抛出了 {name}", f"raised {name} on the hidden tests' inputs")
        return f"抛出了异常：{part.detail}", f"raised an exception: {part.detail}"
    return zh_kind, en_kind

"""The preprocessors nbgrader_config.py installs in nbgrader's own pipelines, so that every route through nbgrader
(``nbgrader autograde`` / ``generate_feedback`` on the command line, Formgrader's buttons, ``coursekit grade``)
behaves the same:

- :class:`CappedExecute`   (Autograde) nbgrader's ``Execute`` with every kernel in the bubblewrap sandbox and
  outputs capped while they arrive; a submission whose kernel died leaves a one-line record for the report;
- :class:`Preflight`       (Autograde, first sanitising step) refuses to grade an assignment whose own solution
  does not get full autograded marks in the same sandbox (:mod:`coursekit.grading.preflight`);
- :class:`HideHiddenTests` (GenerateFeedback) removes the hidden tests from the feedback — their code, and any
  output that could carry their inputs — and puts a per-part summary with the diagnosed mistake on top.

Imports nbgrader, nbformat and the standard library only (no torch: nbgrader loads this in every process).
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbgrader.preprocessors import Execute, NbGraderPreprocessor

from . import diagnosis, sandbox
from .feedback import hide_tests, summary_cell

# --- outputs capped while they arrive ---------------------------------------------------------------------------

MAX_OUTPUT_CHARS = 20_000          # one output (a stream chunk, a result, a traceback line)
MAX_CELL_CHARS = 100_000           # all the outputs of one cell
CUT = "\n... output cut by the grader ...\n"


def _cut(text: str) -> str:
    return text if len(text) <= MAX_OUTPUT_CHARS else text[:MAX_OUTPUT_CHARS] + CUT


def cap_output(out) -> int:
    """Cut one output's text in place (streams, plain-text results, errors); returns its size in characters."""
    kind = out.get("output_type")
    if kind == "stream":
        out["text"] = _cut(out.get("text", ""))
        return len(out["text"])
    if kind == "error":
        out["evalue"] = _cut(str(out.get("evalue", "")))
        out["traceback"] = [_cut(line) for line in out.get("traceback", [])[:100]]
        return len(out["evalue"]) + sum(len(line) for line in out["traceback"])
    size = 0
    data = out.get("data", {})
    for mime, value in list(data.items()):
        text = value if isinstance(value, str) else "".join(value) if isinstance(value, list) else str(value)
        if len(text) > MAX_OUTPUT_CHARS:                 # an image or HTML that big is not kept at all
            data[mime] = _cut(text) if mime == "text/plain" else None
            if data[mime] is None:
                del data[mime]
        size += min(len(text), MAX_OUTPUT_CHARS)
    if not data:
        data["text/plain"] = CUT
    return size


def _course_root(preprocessor) -> Path | None:
    """The course root of the nbgrader converter running ``preprocessor`` (preprocessor → exporter → converter)."""
    converter = getattr(getattr(preprocessor, "parent", None), "parent", None)
    coursedir = getattr(converter, "coursedir", None)
    return Path(coursedir.root) if coursedir is not None else None


def failure_record(root: Path, assignment: str, student: str) -> Path:
    """Where :class:`CappedExecute` notes a submission nbgrader could not finish (read by the class report)."""
    return Path(root) / ".coursekit" / "failed" / assignment / f"{student}.json"


class CappedExecute(Execute):
    """nbgrader's Execute keeping at most MAX_CELL_CHARS of output per cell, so a runaway print can neither
    fill the grader's memory nor the gradebook. Errors and the first stderr output are always kept (each still
    scores the cell zero, exactly as without the cap). Its kernels start in the sandbox (SandboxKernelManager;
    nbgrader's Execute passes its own kernel manager class as an argument, so config alone cannot change it).
    When nbgrader cannot finish a notebook (the kernel died), it writes .coursekit/failed/<a>/<student>.json in
    the course: nbgrader then keeps no graded notebook, and the report still names the cell and the error."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", sandbox.SandboxKernelManager)
        super().__init__(*args, **kwargs)

    def preprocess(self, nb, resources=None, km=None):
        self._running = None
        try:
            return super().preprocess(nb, resources, km)
        except Exception as err:
            self._record_failure(resources, err)
            raise

    def preprocess_cell(self, cell, resources, index):
        self._running = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or f"cell {index}"
        return super().preprocess_cell(cell, resources, index)

    def _record_failure(self, resources, err: Exception) -> None:
        info = (resources or {}).get("nbgrader", {})
        root = _course_root(self)
        if root is None or not info.get("student") or not info.get("assignment"):
            return
        path = failure_record(root, info["assignment"], info["student"])
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            text = diagnosis.first_line(str(err)) or type(err).__name__
            path.write_text(json.dumps({"cell": getattr(self, "_running", None), "error": type(err).__name__,
                                        "message": text}), encoding="utf-8")
        except OSError:
            pass

    def output(self, outs, msg, display_id, cell_index):
        out = super().output(outs, msg, display_id, cell_index)
        if out is None or not outs or outs[-1] is not out:
            return out
        used = self.__dict__.setdefault("_cell_chars", {})           # characters kept so far, per cell
        size = cap_output(out)
        stderr_kept = any(o.get("name") == "stderr" for o in outs[:-1])
        essential = out.get("output_type") == "error" or (out.get("name") == "stderr" and not stderr_kept)
        if used.get(cell_index, 0) + size > MAX_CELL_CHARS and not essential:
            outs.pop()
            if not (outs and outs[-1].get("text") == CUT):
                outs.append(nbformat.v4.new_output("stream", name="stdout", text=CUT))
            return None
        used[cell_index] = used.get(cell_index, 0) + size
        return out


# --- the preflight, for every entry point into Autograde ----------------------------------------------------------

class Preflight(NbGraderPreprocessor):
    """First sanitising step of Autograde: before the first notebook of an assignment is graded in this process,
    grade the instructor's solution in the same sandbox (:func:`coursekit.grading.preflight.preflight`, cached by
    a digest of everything it depends on) and raise its one-line refusal unless it gets full autograded marks.
    ``nbgrader autograde`` on the command line already ran it while reading nbgrader_config.py (and stopped
    there); this covers Formgrader's autograde button and any other caller of nbgrader's Autograde."""

    def preprocess(self, nb, resources):
        from . import preflight

        info = resources.get("nbgrader", {})
        converter = getattr(self.parent, "parent", None)
        coursedir = getattr(converter, "coursedir", None)
        if coursedir is not None and info.get("assignment") and not preflight.skipped():
            try:
                preflight.preflight(coursedir.root, info["assignment"], config=self.config,
                                    source_directory=coursedir.source_directory)
            except preflight.PreflightFailed as err:   # nbgrader keeps a zero entry: the report says why
                path = failure_record(Path(coursedir.root), info["assignment"], info.get("student", "?"))
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps({"cell": "(preflight)", "error": "PreflightFailed",
                                            "message": str(err)}), encoding="utf-8")
                raise
        return nb, resources


# --- feedback without the hidden tests ----------------------------------------------------------------------------

class HideHiddenTests(NbGraderPreprocessor):
    """GenerateFeedback step (after GetGrades): a summary cell on top with each part's score and, where a test
    failed, the diagnosed mistake in both languages; the hidden tests' code removed and every output of a
    hidden-test cell that could carry their inputs withheld (:func:`coursekit.grading.feedback.hide_tests`).

    nbgrader_config.py installs it in ``c.GenerateFeedback.preprocessors``, so ``nbgrader generate_feedback``,
    Formgrader's "Generate Feedback" buttons (nbgrader's API runs the same converter) and ``coursekit grade
    feedback`` all give feedback without the hidden tests."""

    def preprocess(self, nb, resources):
        info = resources.get("nbgrader", {})
        states = _written_states(info)
        found = diagnosis.diagnose(nb)
        hide_tests(nb, found)
        nb.cells.insert(0, summary_cell(nb, found, states, late_penalty=info.get("late_penalty") or 0))
        return nb, resources


def _written_states(info: dict) -> dict[str, str]:
    """{grade_id: "graded" | "waiting" | "blank"} of the manually graded cells of this submission."""
    if not info.get("db_url"):
        return {}
    from nbgrader.api import Gradebook

    out = {}
    try:
        with Gradebook(info["db_url"]) as gb:
            notebook = gb.find_submission_notebook(info["notebook"], info["assignment"], info["student"])
            for grade in notebook.grades:
                if grade.cell.cell_type == "markdown":
                    out[grade.name] = written_state(grade)
    except Exception:                                   # the summary then says nothing about written parts
        return {}
    return out


def written_state(grade) -> str:
    """A manually graded answer's state in the gradebook: graded, waiting for a grader, or blank (scored 0)."""
    if grade.manual_score is not None:
        return "graded"
    return "waiting" if grade.needs_manual_grade else "blank"

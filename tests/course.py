"""A throw-away copy of the course for the nbgrader tests of every assignment (pipeline, hostile and fairness
suites): generate the release, write submissions, autograde with the real ``nbgrader``, read scores from the
gradebook (never from exit codes).

    root = course.make_course(tmp_path, "pixelcnn")              # solutions/ copied, release generated
    release = course.release(root, "pixelcnn")                    # the student notebook (nbformat)
    nb = course.answer(release, {"mask": "def causal_mask(k, kind):\\n    ..."})   # fill answer cells by grade_id
    course.submit(root, "alice", "pixelcnn", nb)
    course.autograde(root, "pixelcnn")                           # `nbgrader autograde` (sequential)
    course.scores(root, "pixelcnn")["alice"]                     # {grade_id: score, ..., "total": score}
"""

from __future__ import annotations

import copy
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from coursekit import grading

REPO = Path(__file__).resolve().parent.parent
TIMESTAMP = "2026-01-15 12:00:00.000000 UTC"


def load_module(path: Path, name: str):
    """The Python file ``path`` imported as module ``name``, once per process (a fixture module that several test
    modules read, such as tests/fixtures/submissions/ddpm_class.py, keeps one state)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def nbgrader(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``nbgrader ARGS`` in ``root`` with this interpreter's bin folder on PATH (nbgrader calls ``alembic``)."""
    env = dict(os.environ if env is None else env)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, capture_output=True, text=True,
                          env=env)


def make_course(root: Path, assignment: str) -> Path:
    """A course folder with the real nbgrader_config.py, the assignment's source, and its generated release."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    shutil.copytree(REPO / "solutions" / assignment, root / "solutions" / assignment)
    proc = nbgrader(root, "generate_assignment", assignment, "--force")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root


def release(root: Path, assignment: str):
    return nbformat.read(Path(root) / "assignments" / assignment / f"{assignment}.ipynb", as_version=4)


def solution(root: Path, assignment: str):
    return nbformat.read(Path(root) / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)


def cell(nb, grade_id: str):
    """The cell with nbgrader grade_id ``grade_id`` (KeyError if there is none)."""
    for c in nb.cells:
        if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return c
    raise KeyError(grade_id)


def answer(nb, answers: dict[str, str]):
    """A copy of ``nb`` with the answer cells named in ``answers`` (grade_id → source) filled in."""
    nb = copy.deepcopy(nb)
    for grade_id, source in answers.items():
        target = cell(nb, grade_id)
        assert target.metadata["nbgrader"].get("solution"), f"{grade_id} is not an answer cell"
        target.source = source
    return nb


def answered(release_nb, solution_nb):
    """The release with every answer cell copied from the solution notebook (the reference student)."""
    nb = copy.deepcopy(release_nb)
    for c in nb.cells:
        meta = c.metadata.get("nbgrader", {})
        if meta.get("solution"):
            c.source = cell(solution_nb, meta["grade_id"]).source
    return nb


def submit(root: Path, student: str, assignment: str, nb) -> Path:
    dest = Path(root) / "submitted" / student / assignment
    dest.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dest / f"{assignment}.ipynb")
    (dest / "timestamp.txt").write_text(TIMESTAMP)
    return dest


def autograde(root: Path, assignment: str, *args: str,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``nbgrader autograde ASSIGNMENT`` for every submitted student (one after another, as the README says)."""
    return nbgrader(root, "autograde", assignment, "--force", *args, env=env)


def scores(root: Path, assignment: str) -> dict[str, dict[str, float]]:
    """{student: {grade_id: score, "total": score}} from the gradebook."""
    return grading.scores(root, assignment)


def assert_release_is_generated(generated: Path, assignment: str) -> None:
    """The committed release folder equals what ``nbgrader generate_assignment`` just wrote in ``generated``."""
    import json

    fresh = generated / "assignments" / assignment
    committed = REPO / "assignments" / assignment
    assert json.loads((committed / f"{assignment}.ipynb").read_text(encoding="utf-8")) == json.loads(
        (fresh / f"{assignment}.ipynb").read_text(encoding="utf-8")), \
        f"assignments/{assignment} is stale: run `nbgrader generate_assignment {assignment} --force`"
    assert sorted(p.name for p in committed.iterdir()) == sorted(p.name for p in fresh.iterdir())


def release_secrets(source) -> list[str]:
    """The lines (13 characters or more) of the solutions, hidden tests and mark schemes (rubrics) of a source
    notebook that appear nowhere public in it (visible tests, instructions): none of them may reach the release."""
    import re

    secret = []
    for c in source.cells:
        secret += grading.block_lines(c.source, "### BEGIN SOLUTION", "### END SOLUTION", min_length=13)
        secret += grading.block_lines(c.source, min_length=13)
        secret += grading.block_lines(c.source, "### BEGIN MARK SCHEME", "### END MARK SCHEME", min_length=13)
    blocks = r"### BEGIN (SOLUTION|HIDDEN TESTS|MARK SCHEME).*?### END (SOLUTION|HIDDEN TESTS|MARK SCHEME)"
    public = "\n".join(re.sub(blocks, "", c.source, flags=re.S) for c in source.cells
                       if c.cell_type == "code" or not c.metadata.get("nbgrader", {}).get("solution"))
    return [s for s in secret if s not in public]


def leaked(secrets: list[str], release_text: str) -> list[str]:
    """The secret lines found in the release file's text (as JSON strings: sources, outputs and metadata alike)."""
    import json

    return [s for s in (json.dumps(s)[1:-1] for s in secrets) if s in release_text]


def generated_course(assignment: str):
    """A module fixture: a course copy with ``assignment``'s release freshly generated (``make_course``)."""
    import pytest

    @pytest.fixture(scope="module")
    def generated(tmp_path_factory) -> Path:
        return make_course(tmp_path_factory.mktemp(f"gen_{assignment}"), assignment)

    return generated


def assert_release_hides_the_solution(assignment: str, markers: tuple[str, ...], code_answers: int,
                                      min_secrets: int = 30, written_task: str | None = None):
    """The committed release of ``assignment`` holds none of the source's solution or hidden-test lines and none of
    ``markers``, no stored output, ``code_answers`` code answer cells that raise NotImplementedError and one blank
    written answer. Returns (source, release) notebooks for the module's own checks.

    ``written_task``: the grade_id of the written part when it is an nbgrader task cell (the question with its
    rubric between ``### BEGIN MARK SCHEME`` and ``### END MARK SCHEME``, which the release drops) followed by a
    plain "YOUR ANSWER HERE" cell, instead of a manually graded answer cell."""
    source = solution(REPO, assignment)
    text = (REPO / "assignments" / assignment / f"{assignment}.ipynb").read_text(encoding="utf-8")
    secrets = release_secrets(source)
    assert len(secrets) > min_secrets
    found = leaked(secrets, text)
    assert not found, found[:5]
    for marker in ("BEGIN SOLUTION", "HIDDEN TESTS", "no_reference", *markers):
        assert marker not in text, marker
    nb = release(REPO, assignment)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    answers = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    code, written = [c for c in answers if c.cell_type == "code"], [c for c in answers if c.cell_type == "markdown"]
    assert len(code) == code_answers and all("raise NotImplementedError()" in c.source for c in code)
    if written_task is None:
        assert len(written) == 1 and written[0].source.strip() == "YOUR ANSWER HERE"
    else:
        task = cell(nb, written_task)
        assert not written and task.metadata["nbgrader"].get("task") and "MARK SCHEME" not in task.source
        assert "BEGIN MARK SCHEME" in cell(source, written_task).source
        following = nb.cells[nb.cells.index(task) + 1]
        assert following.cell_type == "markdown" and following.source.strip() == "YOUR ANSWER HERE"
    return source, nb


def assert_blank_release_fails_every_test(generated: Path, assignment: str) -> None:
    """``nbgrader validate --invert`` on the release: no test passes before the student writes anything."""
    proc = nbgrader(generated, "validate", "--invert", f"assignments/{assignment}/{assignment}.ipynb")
    assert "Success! The notebook does not pass any tests." in proc.stdout, proc.stdout[-3000:] + proc.stderr[-2000:]


def grading_output(proc: subprocess.CompletedProcess | None) -> str:
    """The end of an ``nbgrader autograde`` run's output, for a failing assertion's message."""
    return (proc.stdout[-2500:] + proc.stderr[-2500:]) if proc is not None else ""


def assert_loses_exactly(student_scores: dict[str, float], parts, broken=(), proc=None) -> None:
    """The fairness classes' rule: 2 points on every part of ``parts`` but those in ``broken``, which score 0."""
    got = {p: student_scores[p] for p in parts}
    assert got == {p: 0.0 if p in broken else 2.0 for p in parts}, (student_scores, grading_output(proc))


def assert_mark_scheme_stays_with_the_instructor(source, release_path: Path, words: tuple[str, ...]) -> None:
    """The written part's rubric and model answer (its mark scheme, with ``words`` and both languages' headings) are in
    the source and not in the release."""
    written = cell(source, "written").source
    scheme = written[written.index("### BEGIN MARK SCHEME"):]
    assert all(word in scheme for word in (*words, "评分标准", "Rubric")), scheme[:200]
    assert scheme[200:260] not in Path(release_path).read_text(encoding="utf-8")


def release_instructions(release) -> list[str]:
    """The release's markdown cells that are not answers: the introduction and each part's instructions."""
    return [c.source for c in release.cells if c.cell_type == "markdown" and
            not c.metadata.get("nbgrader", {}).get("solution") and c.source.strip() != "YOUR ANSWER HERE"]


def assert_each_part_bilingual(texts: list[str]) -> None:
    """Each text has a Chinese paragraph (no English sentence in it) and an English paragraph of some length."""
    for text in texts:
        paragraphs = [p for p in text.split("\n\n") if p.strip()]
        assert any(re.search(r"[\u4e00-\u9fff]{8}", p) and not re.search(r"[A-Za-z]{4} [a-z]+ [a-z]+ [a-z]+", p)
                   for p in paragraphs), text[:80]
        assert any(not re.search(r"[\u4e00-\u9fff]", p) and len(p) > 80 for p in paragraphs), text[:80]


def assert_release_is_locked(release, parts: dict[str, int], experiments: list[str]) -> None:
    """The set-up cell and every test cell locked, each test worth its ``parts`` points, the written part a locked
    task worth 2 graded by hand, and only the ``experiments`` test cells named to get the long timeout
    (nbgrader_config: test_experiment_* / test_train_*)."""
    setup = release.cells[1]
    assert setup.metadata["nbgrader"]["grade_id"] == "setup" and setup.metadata["nbgrader"]["locked"]
    assert "COURSEKIT_PROGRESS" in setup.source and "filterwarnings" in setup.source
    tests = {c.metadata["nbgrader"]["grade_id"]: c for c in release.cells if c.metadata.get("nbgrader", {}).get("grade")
             and c.cell_type == "code"}
    assert {k: c.metadata["nbgrader"]["points"] for k, c in tests.items()} == parts
    assert all(c.metadata["nbgrader"]["locked"] for c in tests.values())
    written = cell(release, "written")
    assert written.cell_type == "markdown" and written.metadata["nbgrader"]["points"] == 2
    assert written.metadata["nbgrader"]["task"] and written.metadata["nbgrader"]["locked"]
    assert [k for k in tests if k.startswith(("test_experiment", "test_train"))] == experiments


def cell_errors(root: Path, student: str, assignment: str) -> dict[str, str]:
    """{grade_id: "ename: evalue"} of the cells that raised in ``student``'s autograded notebook: what the student
    reads in the notebook (and, hints only, in the feedback)."""
    nb = nbformat.read(Path(root) / "autograded" / student / assignment / f"{assignment}.ipynb", as_version=4)
    out = {}
    for c in nb.cells:
        for o in c.get("outputs", []):
            if o.get("output_type") == "error":
                out[c.metadata.get("nbgrader", {}).get("grade_id", "")] = f"{o.get('ename')}: {o.get('evalue')}"
    return out


def assert_rubric_for_the_grader(root: Path, assignment: str, grade_id: str, student: str, points: float) -> None:
    """The written part ``grade_id`` is an nbgrader task worth ``points``: ``student``'s grade waits for the
    instructor, the autograded notebook the grader opens in Formgrader shows the task's rubric (its mark scheme, in
    both languages), and the release does not."""
    from nbgrader.api import Gradebook

    with Gradebook(grading._db_url(Path(root))) as gb:
        grade = gb.find_grade(grade_id, assignment, assignment, student)
        assert grade.max_score == points and grade.needs_manual_grade and grade.auto_score is None
    graded = nbformat.read(Path(root) / "autograded" / student / assignment / f"{assignment}.ipynb", as_version=4)
    task = cell(graded, grade_id)
    assert task.metadata["nbgrader"].get("task"), task.metadata
    assert "BEGIN MARK SCHEME" in task.source and "评分标准" in task.source and "Rubric" in task.source
    released = cell(release(root, assignment), grade_id).source
    assert "MARK SCHEME" not in released and "评分标准" not in released and "Rubric" not in released


RUN_CELLS = r'''
import json, sys
cells = json.load(open(sys.argv[1], encoding="utf-8"))
ns, results, touched = {"__name__": "__main__"}, {}, {}
for grade_id, source in cells:
    before = dict(ns)
    try:
        exec(compile(source, grade_id or "<cell>", "exec"), ns)
        results[grade_id] = "ok"
    except BaseException as err:                     # noqa: BLE001 (a test cell's verdict, whatever it raised)
        results[grade_id] = f"{type(err).__name__}: {err}"
    if grade_id.startswith("test_"):                 # names a test cell bound, rebound or deleted (only _tests may)
        names = {k for k in set(before) | set(ns) if k != "_tests" and not k.startswith("__")
                 and (k not in ns or k not in before or ns[k] is not before[k])}
        touched[grade_id] = sorted(names)
print("\n@@RESULTS@@" + json.dumps({"results": results, "touched": touched}))
'''


def visible_verdicts(assignment: str, edits: list[tuple[str, str, str]] = (), answers: dict[str, str] | None = None,
                     env: dict[str, str] | None = None, timeout: float = 600) -> dict[str, str]:
    """What each test cell of the committed release says when a student's notebook holds the solution's answers
    with ``edits`` ((answer grade_id, old, new), each ``old`` found exactly once) and ``answers`` (grade_id → new
    source) applied: {grade_id: "ok" or "ErrorName: message"}. The cells run top to bottom in a fresh Python
    process, as a kernel would run them (the visible tests only: the release holds no hidden test), with the
    cells' time limits ×10 (a busy machine must not turn a hint into a timeout). Fails when a test cell binds,
    rebinds or deletes any notebook name but ``_tests`` (tests leave a student's names alone)."""
    import json
    import tempfile

    nb = answered(release(REPO, assignment), solution(REPO, assignment))
    for grade_id, old, new in edits:
        target = cell(nb, grade_id)
        assert target.source.count(old) == 1, (grade_id, old)
        target.source = target.source.replace(old, new)
    nb = answer(nb, answers or {})
    cells = [(c.metadata.get("nbgrader", {}).get("grade_id", ""), c.source) for c in nb.cells if c.cell_type == "code"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cells.json"
        path.write_text(json.dumps(cells), encoding="utf-8")
        run_env = {**os.environ, "COURSEKIT_GRADING": "1", "COURSEKIT_TIMEOUT_SCALE": "10", **(env or {})}
        proc = subprocess.run([sys.executable, "-c", RUN_CELLS, str(path)], capture_output=True, text=True,
                              env=run_env, timeout=timeout, cwd=tmp)
    assert "@@RESULTS@@" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
    out = json.loads(proc.stdout.rsplit("@@RESULTS@@", 1)[1])
    touched = {k: v for k, v in out["touched"].items() if v}
    assert not touched, f"test cells rebound names outside _tests (a student's names must survive): {touched}"
    return {k: v for k, v in out["results"].items() if k.startswith("test_")}


def assert_top_states_the_grading_rules(assignment: str, zh_words: tuple[str, ...], en_words: tuple[str, ...]) -> None:
    """The release's first cell states the grading rules in both languages (a "**评分须知。**" paragraph and a
    "**How grading works.**" one): the stderr rule, each cell time limit of nbgrader_config.py, and ``*_words``."""
    import re

    intro = release(REPO, assignment).cells[0].source
    assert "**评分须知。**" in intro and "**How grading works.**" in intro
    zh = intro[intro.index("**评分须知。**"):intro.index("**How grading works.**")]
    en = intro[intro.index("**How grading works.**"):].split("\n\n")[0]
    assert not re.search(r"[\u4e00-\u9fff]", en)
    for text, words, unit in ((zh, ("stderr", "0 分", *zh_words), "秒"), (en, ("stderr", "scores 0", *en_words), "s")):
        for word in words:
            assert word in text, word
        for seconds in cell_time_limits(("test_experiment", "test_unit", "setup")).values():
            assert re.search(rf"\b{seconds} {unit}", text), (seconds, unit)



CONFIG_TIMEOUTS = r'''
import json, sys
from traitlets.config import Config
ns = {"get_config": Config, "__file__": "nbgrader_config.py"}
exec(compile(open("nbgrader_config.py", encoding="utf-8").read(), "nbgrader_config.py", "exec"), ns)
print(json.dumps({g: ns["cell_timeout"]({"metadata": {"nbgrader": {"grade_id": g}}}) for g in sys.argv[1:]}))
'''


def cell_time_limits(grade_ids: tuple[str, ...]) -> dict[str, int]:
    """{grade_id: the seconds nbgrader_config.py gives a cell with that grade_id when grading} (its cell_timeout,
    read in a separate process: the configuration sets environment variables), for the limits a notebook states."""
    import json

    env = {k: v for k, v in os.environ.items() if k != "COURSEKIT_TIMEOUT_SCALE"}
    proc = subprocess.run([sys.executable, "-c", CONFIG_TIMEOUTS, *grade_ids], cwd=REPO, capture_output=True,
                          text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])

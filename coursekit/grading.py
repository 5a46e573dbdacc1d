"""Grading helpers, only where nbgrader has no command of its own.

Inside a graded notebook (hidden tests import these; they hold no solution):

- :func:`assert_close`   compare with float32 tolerances in plain Python (a submission that rebinds
  ``numpy.allclose`` / ``torch.allclose`` / ``torch.testing.assert_close`` cannot change the verdict)
- :func:`private_copy`   this module loaded afresh from its file (what hidden tests compare with)
- :func:`reference`      a coursekit.diffusion function from a fresh private copy of the package, so a
  submission that rebinds ``coursekit.diffusion.*`` cannot change the expected values
- :func:`no_reference`   fails a part whose function only calls the coursekit reference for itself
  (static: names the code reaches; dynamic: the reference is swapped for a counting stub during the call)
- :func:`time_limit`     per-cell guard for training cells (SIGALRM; the kernel survives)

For the instructor (``coursekit grade ...`` or ``python -m coursekit.grading ...``):

- :func:`autograde_parallel`  autograde a class across cores; scores identical to ``nbgrader autograde``
- :func:`feedback`            ``nbgrader generate_feedback`` without the hidden tests
- :func:`scores`              the gradebook as {student: {grade_id: score}}
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import types
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"
PACKAGE_DIR = Path(__file__).resolve().parent

# ---------------------------------------------------------------------------------------------------------
# In the kernel: comparisons, the reference, reference-call detection, time limits
# ---------------------------------------------------------------------------------------------------------


def _flat(value: object, name: str) -> tuple[tuple[int, ...], list[float]]:
    if not isinstance(value, torch.Tensor):
        raise AssertionError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    data = value.detach().to("cpu", torch.float64)
    return tuple(data.shape), data.reshape(-1).tolist()


def max_abs_error(actual: object, expected: torch.Tensor, name: str = "result") -> float:
    """max |actual − expected| computed in plain Python floats; AssertionError on a type or shape mismatch."""
    shape_a, a = _flat(actual, name)
    shape_e, e = _flat(expected, "expected")
    if shape_a != shape_e:
        raise AssertionError(f"{name} has shape {shape_a}, expected {shape_e}")
    worst = 0.0
    for x, y in zip(a, e):
        if x != x or y != y:                        # NaN never matches (NaN != NaN in plain Python)
            return math.inf
        worst = max(worst, abs(x - y))
    return worst


def assert_close(actual: object, expected: torch.Tensor, name: str = "result", atol: float = 1e-5,
                 rtol: float = 1e-4) -> None:
    """AssertionError unless |actual − expected| ≤ atol + rtol·|expected| everywhere (float32 tolerances)."""
    shape_a, a = _flat(actual, name)
    shape_e, e = _flat(expected, "expected")
    if shape_a != shape_e:
        raise AssertionError(f"{name} has shape {shape_a}, expected {shape_e}")
    bad = sum(1 for x, y in zip(a, e) if not abs(x - y) <= atol + rtol * abs(y))   # NaN counts as bad
    if bad:
        raise AssertionError(f"{name}: {bad} of {len(e)} values differ from the expected ones "
                             f"(max error {max_abs_error(actual, expected, name):.3g})")


def check_untampered() -> None:
    """AssertionError unless :func:`assert_close` still tells different tensors apart (a tripwire for
    submissions that patch what it is built on, e.g. ``torch.Tensor.tolist``)."""
    try:
        assert_close(torch.zeros(3), torch.ones(3), name="self-check")
    except AssertionError:
        return
    raise AssertionError("the comparison was tampered with")


def reference(name: str) -> Callable:
    """``coursekit.diffusion.<name>`` loaded from a fresh, private copy of the package source."""
    prefix = "_coursekit_reference"
    for key in [k for k in sys.modules if k == prefix or k.startswith(prefix + ".")]:
        del sys.modules[key]
    root_spec = importlib.util.spec_from_file_location(prefix, PACKAGE_DIR / "__init__.py",
                                                       submodule_search_locations=[str(PACKAGE_DIR)])
    root = importlib.util.module_from_spec(root_spec)
    sys.modules[prefix] = root
    root_spec.loader.exec_module(root)
    module = importlib.import_module(prefix + ".diffusion")
    return getattr(module, name)


def private_copy() -> types.ModuleType:
    """A fresh copy of this module, loaded from its file: hidden tests compare with it, so a submission that
    rebinds ``coursekit.grading.assert_close`` (or anything else here) does not change the verdict."""
    spec = importlib.util.spec_from_file_location("_coursekit_grading_private", Path(__file__).resolve())
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _reference_objects(names: Iterable[str]) -> dict[str, list[tuple[types.ModuleType, object]]]:
    """Every (module, object) binding of coursekit.diffusion.<name> in the loaded coursekit modules."""
    import coursekit.diffusion as D

    found: dict[str, list[tuple[types.ModuleType, object]]] = {}
    for name in names:
        target = getattr(D, name)
        bindings = [(mod, target) for key, mod in list(sys.modules.items())
                    if key.startswith("coursekit.diffusion") and getattr(mod, name, None) is target]
        found[name] = bindings
    return found


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names) | set(code.co_freevars)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def reaches_reference(fn: Callable, names: Iterable[str], _seen: set[int] | None = None,
                      _home: dict | None = None) -> str | None:
    """A description of how ``fn`` reaches coursekit.diffusion.<name> for a name in ``names``, else None.

    Follows the globals its code names (and the helper functions defined beside it), its default
    arguments and its closure; a coursekit module reached together with one of the names counts.
    """
    import coursekit.diffusion as D

    names = set(names)
    targets = {id(getattr(D, n)): n for n in names}
    seen = _seen if _seen is not None else set()
    fn = getattr(fn, "func", fn)                                 # functools.partial
    if id(fn) in seen:
        return None
    seen.add(id(fn))
    if id(fn) in targets:
        return f"it is coursekit.diffusion.{targets[id(fn)]}"
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    home = fn.__globals__ if _home is None else _home
    if fn.__globals__ is not home:                               # library code: not the submission's
        return None
    values = [getattr(fn, "__globals__", {}).get(n) for n in _code_names(code)]
    values += list(fn.__defaults__ or ()) + list((fn.__kwdefaults__ or {}).values())
    values += [c.cell_contents for c in (fn.__closure__ or ()) if _cell_filled(c)]
    used = _code_names(code)
    for value in values:
        if id(value) in targets:
            return f"it calls coursekit.diffusion.{targets[id(value)]}"
        if isinstance(value, types.ModuleType) and value.__name__.split(".")[0] == "coursekit" and used & names:
            return f"it uses {value.__name__}.{sorted(used & names)[0]}"
        if isinstance(value, (types.FunctionType, functools.partial)):
            why = reaches_reference(value, names, seen, home)
            if why:
                return why
    return None


def _cell_filled(cell: types.CellType) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:
        return False
    return True


@contextlib.contextmanager
def no_reference(fn: Callable, *names: str) -> Iterator[None]:
    """Fail (AssertionError) when ``fn`` only calls coursekit.diffusion.<name> for the part it should write.

    Checked twice: statically (:func:`reaches_reference`) before the block, and dynamically: inside the
    block each reference is replaced, wherever coursekit binds it, by a stub that counts calls and then
    defers to the original (so an ``except`` in the submission cannot hide the call).
    """
    why = reaches_reference(fn, names)
    if why:
        raise AssertionError(f"{getattr(fn, '__name__', fn)} must be written, not borrowed from coursekit: {why}")
    calls: list[str] = []
    bindings = _reference_objects(names)

    def stub_for(name: str, original: Callable) -> Callable:
        @functools.wraps(original)
        def stub(*args, **kwargs):
            calls.append(name)
            return original(*args, **kwargs)
        return stub

    for name, pairs in bindings.items():
        for mod, original in pairs:
            setattr(mod, name, stub_for(name, original))
    try:
        yield
    finally:
        for name, pairs in bindings.items():
            for mod, original in pairs:
                setattr(mod, name, original)
    if calls:
        raise AssertionError(f"{getattr(fn, '__name__', fn)} called coursekit.diffusion.{calls[0]}: "
                             "write it yourself")


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise TimeoutError in the block after ``seconds`` (main thread, POSIX; elsewhere a no-op)."""
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    usable = hasattr(signal, "setitimer") and _is_main_thread()
    if not usable:
        yield
        return

    def handler(signum, frame):
        raise TimeoutError(f"this cell ran longer than its {seconds:.0f} s limit")

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _is_main_thread() -> bool:
    import threading
    return threading.current_thread() is threading.main_thread()


def cell_seconds(base: float) -> float:
    """A cell's time budget: ``base`` seconds times COURSEKIT_TIMEOUT_SCALE (the grader sets it; default 1)."""
    return base * float(os.environ.get("COURSEKIT_TIMEOUT_SCALE", "1") or 1)


# ---------------------------------------------------------------------------------------------------------
# For the instructor: gradebook, parallel autograde, feedback without hidden tests
# ---------------------------------------------------------------------------------------------------------


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
    """{student: {grade_id: score, "total": score}} read through nbgrader.api.Gradebook."""
    from nbgrader.api import Gradebook

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


def _grade_batch(root: str, assignment: str, students: list[str], work: str) -> list[tuple[str, Path | None]]:
    """Worker: autograde a few students in a private copy of the course (own gradebook, one nbgrader process,
    a kernel per student as nbgrader does). Returns (student, executed folder or None when nbgrader failed it)."""
    root_p, work_p = Path(root), Path(work)
    work_p.mkdir(parents=True)
    shutil.copy2(root_p / "nbgrader_config.py", work_p / "nbgrader_config.py")
    shutil.copy2(root_p / "gradebook.db", work_p / "gradebook.db")
    source_dir = _config_value(root_p, "source_directory", "source")
    shutil.copytree(root_p / source_dir / assignment, work_p / source_dir / assignment)
    for student in students:
        shutil.copytree(root_p / "submitted" / student / assignment, work_p / "submitted" / student / assignment)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("COURSEKIT_RECORD_EXECUTED", None)
    _nbgrader(["autograde", assignment, "--force"], cwd=work_p, env=env, check=False)
    executed = [(s, work_p / "autograded" / s / assignment) for s in students]
    return [(s, path if path.is_dir() else None) for s, path in executed]


def _config_value(root: Path, name: str, default: str) -> str:
    text = (root / "nbgrader_config.py").read_text(encoding="utf-8")
    m = re.search(rf"c\.CourseDirectory\.{name}\s*=\s*[\"']([^\"']+)[\"']", text)
    return m.group(1) if m else default


def autograde_parallel(root: str | Path, assignment: str, students: list[str] | None = None,
                       workers: int | None = None) -> dict[str, dict[str, float]]:
    """Autograde every submitted student of ``assignment`` across ``workers`` processes.

    Students are executed in small batches by the real ``nbgrader autograde``, each batch in a private
    course copy (its own gradebook copy; a kernel per student). The executed notebooks then go through one
    ``nbgrader autograde`` pass in the main course that skips execution, so the main gradebook is written by
    nbgrader itself with the same preprocessors (identical scores, nothing lost). A student whose private run
    fails (a kernel nbgrader could not recover) is autograded sequentially in the main course, exactly as
    ``nbgrader autograde`` would.
    Returns :func:`scores`.
    """
    root = Path(root).resolve()
    if not (root / "gradebook.db").exists():
        raise ValueError(f"root has no gradebook.db; run `nbgrader generate_assignment {assignment}` first")
    students = sorted(students) if students is not None else _students(root, assignment)
    if not students:
        raise ValueError(f"no submissions of {assignment!r} under {root / 'submitted'}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    workers = workers or max(1, os.cpu_count() or 1)
    staged = root / ".parallel_executed"
    shutil.rmtree(staged, ignore_errors=True)
    failed: list[str] = []
    # a few students per nbgrader process (its start-up is paid once per batch), several batches per worker
    # so that a slow submission does not hold up the others
    size = max(1, math.ceil(len(students) / (4 * workers)))
    batches = [students[i:i + size] for i in range(0, len(students), size)]
    with tempfile.TemporaryDirectory(prefix="coursekit-grade-") as tmp:
        with ThreadPoolExecutor(max_workers=workers) as pool:      # each worker waits on an nbgrader process
            futures = [pool.submit(_grade_batch, str(root), assignment, batch, str(Path(tmp) / f"batch{i}"))
                       for i, batch in enumerate(batches)]
            results = [row for f in futures for row in f.result()]
        for student, executed in results:
            if executed is None:
                failed.append(student)
                continue
            dest = staged / student / assignment
            shutil.copytree(executed, dest)
            stamp = root / "submitted" / student / assignment / "timestamp.txt"
            if stamp.exists():
                shutil.copy2(stamp, dest / "timestamp.txt")
    try:
        done = [s for s in students if s not in failed]
        if done:
            # Record the executed notebooks with nbgrader's own pipeline minus ClearOutput and Execute
            # (nbgrader_config.py reads COURSEKIT_RECORD_EXECUTED): every staged student, one nbgrader process.
            env = dict(os.environ, COURSEKIT_RECORD_EXECUTED="1")
            _nbgrader(["autograde", assignment, "--force", "--CourseDirectory.submitted_directory=.parallel_executed"],
                      cwd=root, env=env, check=False)
        for s in failed:                      # the same path the sequential command takes
            _nbgrader(["autograde", assignment, "--student", s, "--force"], cwd=root, check=False)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return scores(root, assignment)


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
    args = p.parse_args(argv)
    return run(args)


def run(args) -> int:
    if args.cmd == "autograde":
        table = autograde_parallel(args.root, args.assignment, args.students, args.workers)
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


if __name__ == "__main__":
    sys.exit(main())
